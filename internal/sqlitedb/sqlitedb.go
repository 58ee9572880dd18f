// Package sqlitedb opens the embedded SQLite databases taxagg keeps (a
// --state, an outbox) the same way everywhere: the pure-Go driver, one
// connection, a busy timeout, a durable journal, and a schema version
// checked before anything is read.
//
// Durability: every commit is on disk when Commit returns
// (synchronous=FULL). Two journal modes are offered:
//
//   - Rollback (journal_mode=TRUNCATE): best for a few large transactions
//     (a --state commit writes megabytes at once): new pages are written
//     once, into the database, and only the pages a commit changes are
//     copied to the journal first.
//   - WAL: best for many small transactions and readers alongside a
//     writer (an outbox): every page is written twice, once to the log and
//     once when the log is checkpointed.
//
// Either way a process killed at any moment leaves the database as of its
// last commit; the next Open rolls back or replays what it finds.
package sqlitedb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver
)

// Journal is the journal mode.
type Journal uint8

const (
	// Rollback is journal_mode=TRUNCATE with synchronous=FULL.
	Rollback Journal = iota
	// WAL is journal_mode=WAL with synchronous=FULL.
	WAL
)

// Options configure Open.
type Options struct {
	Journal Journal
	// BusyTimeout is how long a statement waits for another process's
	// lock before failing; zero means 10 s.
	BusyTimeout time.Duration
	// Create allows Open to create a missing file; without it a missing
	// file is an error.
	Create bool
	// Name, when set, is the schema the file must hold (or be empty):
	// Open looks before it sets the journal mode, so that opening the
	// wrong kind of file (an outbox as a state, say) is refused with a
	// *VersionError and leaves the file as it was. A file's journal mode
	// is persistent: setting it would convert the other kind's file.
	Name string
	// Hint is added to the message of a *VersionError for a file of
	// another kind (what to do instead).
	Hint string
}

// ErrNotExist is returned (wrapped) by Open for a missing file without
// Options.Create.
var ErrNotExist = errors.New("no such file")

// Open opens the database at path with the pragmas of opt. It holds one
// connection, so that the pragmas apply to every statement and a
// transaction never waits on the process's own lock.
func Open(path string, opt Options) (*sql.DB, error) {
	if !opt.Create {
		if _, err := os.Stat(path); err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("%s: %w", path, ErrNotExist)
			}
			return nil, err
		}
	}
	bt := opt.BusyTimeout
	if bt == 0 {
		bt = 10 * time.Second
	}
	journal := "TRUNCATE"
	if opt.Journal == WAL {
		journal = "WAL"
	}
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", bt.Milliseconds()))
	q.Add("_pragma", "journal_mode("+journal+")")
	q.Add("_pragma", "synchronous(FULL)")
	q.Add("_pragma", "foreign_keys(ON)")
	q.Add("_txlock", "immediate")
	if strings.ContainsRune(path, '?') {
		return nil, fmt.Errorf("%s: a database path may not contain '?'", path)
	}
	if opt.Name != "" {
		if err := probe(path, opt, bt); err != nil {
			return nil, err
		}
	}
	db, err := sql.Open("sqlite", path+"?"+q.Encode())
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	db.SetConnMaxLifetime(0)
	if err := db.Ping(); err != nil {
		db.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return db, nil
}

// probe refuses a file that holds tables but not the schema opt.Name,
// reading it through a connection that sets no journal mode.
func probe(path string, opt Options, bt time.Duration) error {
	if st, err := os.Stat(path); err != nil || st.Size() == 0 {
		return nil // missing (Create) or empty: nothing to refuse
	}
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", bt.Milliseconds()))
	db, err := sql.Open("sqlite", path+"?"+q.Encode())
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	var tables []string
	rows, err := db.Query(`SELECT name FROM sqlite_master WHERE type='table'`)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return fmt.Errorf("%s: %w", path, err)
		}
		tables = append(tables, n)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if len(tables) == 0 {
		return nil
	}
	ve := &VersionError{Path: path, Name: opt.Name, NotOurs: true, Hint: opt.Hint}
	if !slices.Contains(tables, "schema_version") {
		if slices.Contains(tables, "deliver_meta") {
			ve.Other = "taxagg outbox of an earlier development build (deliver_meta)"
		}
		return ve
	}
	names, err := db.Query(`SELECT name FROM schema_version`)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	defer names.Close()
	for names.Next() {
		var n string
		if err := names.Scan(&n); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if n == opt.Name {
			return nil // Schema checks the version
		}
		ve.Other = n
	}
	if err := names.Err(); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return ve
}

// VersionError says that a database holds another schema version than the
// one this program reads.
type VersionError struct {
	Path    string
	Name    string
	Have    int
	Want    int
	NotOurs bool   // the file is a SQLite database of something else
	Other   string // with NotOurs: what it is, when known
	Hint    string // with NotOurs: what to do instead, when known
}

func (e *VersionError) Error() string {
	if e.NotOurs {
		msg := fmt.Sprintf("%s is not a %s", e.Path, e.Name)
		if e.Other != "" {
			msg = fmt.Sprintf("%s is not a %s (it is a %s database)", e.Path, e.Name, e.Other)
		}
		if e.Hint != "" {
			msg += ": " + e.Hint
		}
		return msg
	}
	if e.Have > e.Want {
		return fmt.Sprintf("%s: %s schema version %d is newer than this taxagg reads (version %d): use a newer taxagg", e.Path, e.Name, e.Have, e.Want)
	}
	return fmt.Sprintf("%s: %s schema version %d is older than this taxagg reads (version %d): recreate it with this version", e.Path, e.Name, e.Have, e.Want)
}

// Schema creates or checks the schema named name at version. A new, empty
// database gets ddl run and (name, version) recorded in the schema_version
// table, all in one transaction; an existing one must carry exactly that
// name and version, else a *VersionError is returned.
func Schema(ctx context.Context, db *sql.DB, path, name string, version int, ddl string) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	defer tx.Rollback()
	var tables int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type='table'`).Scan(&tables); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if tables == 0 {
		if _, err := tx.ExecContext(ctx, `CREATE TABLE schema_version (name TEXT PRIMARY KEY, version INTEGER NOT NULL)`); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if _, err := tx.ExecContext(ctx, ddl); err != nil {
			return fmt.Errorf("%s: create schema: %w", path, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_version (name, version) VALUES (?, ?)`, name, version); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		return tx.Commit()
	}
	rows, err := tx.QueryContext(ctx, `SELECT name, version FROM schema_version`)
	if err != nil {
		return &VersionError{Path: path, Name: name, NotOurs: true}
	}
	defer rows.Close()
	other := ""
	for rows.Next() {
		var n string
		var v int
		if err := rows.Scan(&n, &v); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if n == name {
			if v != version {
				return &VersionError{Path: path, Name: name, Have: v, Want: version}
			}
			return nil
		}
		other = n
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return &VersionError{Path: path, Name: name, NotOurs: true, Other: other}
}
