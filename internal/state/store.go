// Package state is taxagg's durable state (--state FILE): an embedded
// SQLite database that makes aggregate and calc exactly-once across runs.
// It holds every counted transaction's id, the stable hash of its content
// and what it added to each row; the running totals per row; the runs with
// their inputs and output; and the rules hash and grouping the totals were
// made under. A run adds what is new and commits its transactions, the new
// totals and its output's hash in one SQLite transaction (docs/state.md
// gives the whole protocol).
package state

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"strconv"
	"strings"
	"time"

	"github.com/taxagg/taxagg/internal/sqlitedb"
	"github.com/taxagg/taxagg/internal/txn"
)

// Schema name and version. Version 1 is the only one so far; a state of
// another version is refused with a *sqlitedb.VersionError.
const (
	SchemaName    = "taxagg state"
	SchemaVersion = 1
)

const ddl = `
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE runs (
	id INTEGER PRIMARY KEY,
	started TEXT NOT NULL, finished TEXT NOT NULL,
	command TEXT NOT NULL, version TEXT NOT NULL, rules_sha256 TEXT NOT NULL,
	read INTEGER NOT NULL, new INTEGER NOT NULL, duplicates INTEGER NOT NULL,
	amended INTEGER NOT NULL, rejected INTEGER NOT NULL, other_shard INTEGER NOT NULL,
	recompute INTEGER NOT NULL,
	output TEXT NOT NULL, output_sha256 TEXT NOT NULL, output_size INTEGER NOT NULL);
CREATE TABLE inputs (
	run INTEGER NOT NULL REFERENCES runs(id),
	name TEXT NOT NULL, size INTEGER NOT NULL, modified TEXT NOT NULL);
CREATE TABLE rowkeys (
	key INTEGER PRIMARY KEY,
	jurisdiction TEXT NOT NULL, name TEXT NOT NULL, level TEXT NOT NULL, tax TEXT NOT NULL,
	rounding TEXT NOT NULL, currency TEXT NOT NULL, digits INTEGER NOT NULL,
	period TEXT NOT NULL, rate TEXT NOT NULL, has_rate INTEGER NOT NULL);
CREATE TABLE totals (
	key INTEGER PRIMARY KEY REFERENCES rowkeys(key),
	transactions INTEGER NOT NULL,
	gross TEXT NOT NULL, exempt TEXT NOT NULL, non_taxable TEXT NOT NULL,
	taxable TEXT NOT NULL, tax TEXT NOT NULL, tax_exact TEXT NOT NULL);
CREATE TABLE segments (
	seq INTEGER PRIMARY KEY,
	run INTEGER NOT NULL REFERENCES runs(id),
	entries INTEGER NOT NULL, crc32 INTEGER NOT NULL, data BLOB NOT NULL);
CREATE TABLE outputs (path TEXT PRIMARY KEY, size INTEGER NOT NULL);
CREATE TABLE rejected (hash INTEGER PRIMARY KEY);
CREATE INDEX inputs_run ON inputs(run);
`

// Meta is what a state's totals were made under. Every run must agree with
// it (the rules hash may change with Recompute).
type Meta struct {
	Command     string   `json:"command"` // aggregate or calc
	Period      string   `json:"period"`
	ByRate      bool     `json:"by_rate"`
	Timezone    string   `json:"timezone"`
	Shard       string   `json:"shard,omitempty"` // "K/N" or ""
	RulesSHA256 string   `json:"rules_sha256"`
	Rules       []string `json:"rules"`
}

// Store is an open state.
type Store struct {
	db    *sql.DB
	tx    *sql.Tx // the run's transaction, from Lock to Commit
	path  string
	meta  Meta
	fresh bool // no run yet

	keys   *Keys
	totals Totals
	index  *idIndex
	// rejected holds the stable hashes of the records earlier runs
	// rejected (their raw bytes).
	rejected map[uint64]struct{}
	reset    bool // Recompute: forget every transaction and total at commit
	loaded   bool
}

// loc is where an id's current entry lives.
type loc struct {
	content uint64
	seg     uint32
	off     uint32 // byte offset of the entry in its segment
}

// Open opens the state at path, creating it when create is set and it does
// not exist. A file of another schema version, or not a state at all, is
// refused with a *sqlitedb.VersionError.
func Open(ctx context.Context, path string, create bool) (*Store, error) {
	db, err := sqlitedb.Open(path, sqlitedb.Options{Journal: sqlitedb.Rollback, Create: create,
		Name: SchemaName, Hint: "a state needs a file of its own (taxagg deliver keeps its outbox in another file)"})
	if err != nil {
		if errors.Is(err, sqlitedb.ErrNotExist) {
			return nil, fmt.Errorf("state %w", err)
		}
		return nil, fmt.Errorf("open state: %w", err)
	}
	if err := sqlitedb.Schema(ctx, db, path, SchemaName, SchemaVersion, ddl); err != nil {
		db.Close()
		return nil, err
	}
	s := &Store{db: db, path: path, keys: newKeys(), index: newIDIndex(0), rejected: map[uint64]struct{}{}}
	if err := s.loadMeta(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// Close closes the database.
func (s *Store) Close() error {
	if s.tx != nil {
		s.tx.Rollback()
	}
	return s.db.Close()
}

// conn is what statements run on: the run's transaction once locked.
func (s *Store) conn() dbConn {
	if s.tx != nil {
		return s.tx
	}
	return s.db
}

type dbConn interface {
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
	ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error)
}

// Lock starts the run's write transaction and reads the meta again inside
// it. A second run against the same state waits for the first to commit
// (up to the busy timeout) and then reads what it committed, so two runs
// never count the same transaction. Everything a run reads and writes
// after Lock is in this one transaction, committed by Run.Commit.
func (s *Store) Lock(ctx context.Context) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		if strings.Contains(err.Error(), "locked") || strings.Contains(err.Error(), "busy") {
			return fmt.Errorf("state %s is in use by another run: %w", s.path, err)
		}
		return s.wrap(err)
	}
	s.tx = tx
	s.fresh = false
	s.meta = Meta{}
	return s.loadMeta(ctx)
}

// Path returns the state's file name.
func (s *Store) Path() string { return s.path }

// Meta returns what the state was made under; Fresh reports whether no run
// has been committed yet.
func (s *Store) Meta() Meta  { return s.meta }
func (s *Store) Fresh() bool { return s.fresh }

func (s *Store) loadMeta(ctx context.Context) error {
	rows, err := s.conn().QueryContext(ctx, `SELECT key, value FROM meta`)
	if err != nil {
		return s.wrap(err)
	}
	defer rows.Close()
	m := map[string]string{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return s.wrap(err)
		}
		m[k] = v
	}
	if err := rows.Err(); err != nil {
		return s.wrap(err)
	}
	if len(m) == 0 {
		s.fresh = true
		return nil
	}
	s.meta = Meta{Command: m["command"], Period: m["period"], ByRate: m["by_rate"] == "true",
		Timezone: m["timezone"], Shard: m["shard"], RulesSHA256: m["rules_sha256"]}
	if err := json.Unmarshal([]byte(m["rules"]), &s.meta.Rules); err != nil {
		return fmt.Errorf("%s: meta rules: %w", s.path, err)
	}
	return nil
}

func (s *Store) wrap(err error) error { return fmt.Errorf("state %s: %w", s.path, err) }

// MismatchError says that a run does not fit the state: another command,
// grouping, time zone or shard. It names both sides.
type MismatchError struct {
	Path, What, State, Run string
}

func (e *MismatchError) Error() string {
	return fmt.Sprintf("state %s holds %s %s; this run has %s %s (use another state file)", e.Path, e.What, e.State, e.What, e.Run)
}

// RulesChangedError says that the rules differ from those the state's
// totals were made with.
type RulesChangedError struct {
	Path, State, Run string
}

func (e *RulesChangedError) Error() string {
	return fmt.Sprintf("state %s was made with rules sha256 %s, this run's rules are %s: rerun with --recompute and every input to count them all again under these rules", e.Path, short(e.State), short(e.Run))
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

// Bind checks that a run under want fits the state. Other rules are an
// error unless recompute is set: the run then starts the totals over, and
// its commit forgets every transaction counted before (the runs and
// inputs stay on record).
func (s *Store) Bind(want Meta, recompute bool) error {
	if s.fresh {
		s.meta = want
		return nil
	}
	have := s.meta
	check := func(what, a, b string) error {
		if a != b {
			return &MismatchError{Path: s.path, What: what, State: a, Run: b}
		}
		return nil
	}
	boolS := strconv.FormatBool
	shard := func(v string) string {
		if v == "" {
			return "none"
		}
		return v
	}
	for _, err := range []error{
		check("command", have.Command, want.Command),
		check("--period", have.Period, want.Period),
		check("--by-rate", boolS(have.ByRate), boolS(want.ByRate)),
		check("--timezone", have.Timezone, want.Timezone),
		check("--shard", shard(have.Shard), shard(want.Shard)),
	} {
		if err != nil {
			return err
		}
	}
	if have.RulesSHA256 != want.RulesSHA256 {
		if !recompute {
			return &RulesChangedError{Path: s.path, State: have.RulesSHA256, Run: want.RulesSHA256}
		}
		s.reset = true
	}
	s.meta = want
	return nil
}

// Load reads the totals and the index of counted ids. After a Bind with
// other rules and recompute it loads nothing.
func (s *Store) Load(ctx context.Context) error {
	if s.loaded {
		return nil
	}
	s.loaded = true
	if s.reset || s.fresh {
		return nil
	}
	if err := s.loadTotals(ctx, s.conn(), s.keys, &s.totals); err != nil {
		return err
	}
	var n int
	if err := s.conn().QueryRowContext(ctx, `SELECT coalesce(sum(entries), 0) FROM segments`).Scan(&n); err != nil {
		return s.wrap(err)
	}
	rows, err := s.conn().QueryContext(ctx, `SELECT hash FROM rejected`)
	if err != nil {
		return s.wrap(err)
	}
	for rows.Next() {
		var h int64
		if err := rows.Scan(&h); err != nil {
			rows.Close()
			return s.wrap(err)
		}
		s.rejected[uint64(h)] = struct{}{}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return s.wrap(err)
	}
	s.index = newIDIndex(n)
	return s.eachSegment(ctx, func(seq uint32, data []byte) error {
		off := 0
		for rest := data; len(rest) > 0; {
			body, r, err := nextEntry(rest)
			if err != nil {
				return fmt.Errorf("%s: segment %d: %w", s.path, seq, err)
			}
			id, content, err := bodyHead(body)
			if err != nil {
				return fmt.Errorf("%s: segment %d: %w", s.path, seq, err)
			}
			s.index.put(txn.StableIDHashBytes(id), loc{content: content, seg: seq, off: uint32(off)})
			off += len(rest) - len(r)
			rest = r
		}
		return nil
	})
}

type queryer interface {
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
}

func (s *Store) loadTotals(ctx context.Context, q queryer, ks *Keys, t *Totals) error {
	rows, err := q.QueryContext(ctx, `SELECT key, jurisdiction, name, level, tax, rounding, currency, digits, period, rate, has_rate FROM rowkeys ORDER BY key`)
	if err != nil {
		return s.wrap(err)
	}
	for rows.Next() {
		var n int
		var k RowKey
		if err := rows.Scan(&n, &k.Jurisdiction, &k.Name, &k.Level, &k.Tax, &k.Rounding, &k.Currency, &k.Digits, &k.Period, &k.Rate, &k.HasRate); err != nil {
			rows.Close()
			return s.wrap(err)
		}
		got, err := ks.Intern(k)
		if err != nil || got != n {
			rows.Close()
			return fmt.Errorf("%s: row keys are not numbered 1, 2, ...: key %d", s.path, n)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return s.wrap(err)
	}
	rows, err = q.QueryContext(ctx, `SELECT key, transactions, gross, exempt, non_taxable, taxable, tax, tax_exact FROM totals`)
	if err != nil {
		return s.wrap(err)
	}
	defer rows.Close()
	for rows.Next() {
		var n int
		var tx int64
		var f [6]string
		if err := rows.Scan(&n, &tx, &f[0], &f[1], &f[2], &f[3], &f[4], &f[5]); err != nil {
			return s.wrap(err)
		}
		if n < 1 || n > ks.Len() {
			return fmt.Errorf("%s: totals of unknown row key %d", s.path, n)
		}
		sm := t.at(n)
		sm.tx = tx
		for i, v := range f {
			d, err := parseSum(v)
			if err != nil {
				return fmt.Errorf("%s: totals of %s: %q: %w", s.path, ks.Key(n).String(), v, err)
			}
			sm.fig[i] = d
		}
	}
	return rows.Err()
}

// eachSegment calls fn with every segment in order, its checksum checked.
func (s *Store) eachSegment(ctx context.Context, fn func(seq uint32, data []byte) error) error {
	rows, err := s.conn().QueryContext(ctx, `SELECT seq, crc32, data FROM segments ORDER BY seq`)
	if err != nil {
		return s.wrap(err)
	}
	defer rows.Close()
	for rows.Next() {
		var seq uint32
		var crc int64
		var data []byte
		if err := rows.Scan(&seq, &crc, &data); err != nil {
			return s.wrap(err)
		}
		if uint32(crc) != crc32.ChecksumIEEE(data) {
			return fmt.Errorf("%s: segment %d: checksum mismatch (the file is damaged)", s.path, seq)
		}
		if err := fn(seq, data); err != nil {
			return err
		}
	}
	return rows.Err()
}

// segment reads one segment.
func (s *Store) segment(ctx context.Context, seq uint32) ([]byte, error) {
	var data []byte
	var crc int64
	if err := s.conn().QueryRowContext(ctx, `SELECT crc32, data FROM segments WHERE seq = ?`, seq).Scan(&crc, &data); err != nil {
		return nil, s.wrap(err)
	}
	if uint32(crc) != crc32.ChecksumIEEE(data) {
		return nil, fmt.Errorf("%s: segment %d: checksum mismatch (the file is damaged)", s.path, seq)
	}
	return data, nil
}

// IDs returns the number of transactions the state counts (after Load).
func (s *Store) IDs() int { return s.index.Len() }

// Keys returns the row keys (after Load).
func (s *Store) Keys() *Keys { return s.keys }

// Totals returns the stored totals (after Load).
func (s *Store) Totals() *Totals { return &s.totals }

// Current calls fn with every counted transaction's current entry (an
// amended one replaces what it amended), in the order they were counted.
func (s *Store) Current(ctx context.Context, fn func(e *Entry) error) error {
	if err := s.Load(ctx); err != nil {
		return err
	}
	var e Entry
	return s.eachSegment(ctx, func(seq uint32, data []byte) error {
		off := 0
		for rest := data; len(rest) > 0; {
			body, r, err := nextEntry(rest)
			if err != nil {
				return fmt.Errorf("%s: segment %d: %w", s.path, seq, err)
			}
			here := off
			off += len(rest) - len(r)
			rest = r
			if err := decodeBody(body, &e); err != nil {
				return fmt.Errorf("%s: segment %d: %w", s.path, seq, err)
			}
			if l, ok := s.index.get(txn.StableIDHash(e.ID)); !ok || l.seg != seq || l.off != uint32(here) {
				continue // replaced by a later entry
			}
			if err := fn(&e); err != nil {
				return err
			}
		}
		return nil
	})
}

// RunInfo is one committed run.
type RunInfo struct {
	ID           int64
	Started      time.Time
	Finished     time.Time
	Command      string
	Version      string
	RulesSHA256  string
	Read         int64
	New          int64
	Duplicates   int64
	Amended      int64
	Rejected     int64
	OtherShard   int64
	Recompute    bool
	Output       string
	OutputSHA256 string
	OutputSize   int64
	Inputs       []InputInfo
}

// InputInfo is one input a run consumed.
type InputInfo struct {
	Name     string
	Size     int64
	Modified time.Time
}

// Runs returns the committed runs, oldest first.
func (s *Store) Runs(ctx context.Context) ([]RunInfo, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, started, finished, command, version, rules_sha256, read, new, duplicates, amended, rejected, other_shard, recompute, output, output_sha256, output_size FROM runs ORDER BY id`)
	if err != nil {
		return nil, s.wrap(err)
	}
	var out []RunInfo
	for rows.Next() {
		var r RunInfo
		var st, fi string
		if err := rows.Scan(&r.ID, &st, &fi, &r.Command, &r.Version, &r.RulesSHA256, &r.Read, &r.New, &r.Duplicates, &r.Amended, &r.Rejected, &r.OtherShard, &r.Recompute, &r.Output, &r.OutputSHA256, &r.OutputSize); err != nil {
			rows.Close()
			return nil, s.wrap(err)
		}
		r.Started, _ = time.Parse(time.RFC3339Nano, st)
		r.Finished, _ = time.Parse(time.RFC3339Nano, fi)
		out = append(out, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, s.wrap(err)
	}
	byID := map[int64]int{}
	for i := range out {
		byID[out[i].ID] = i
	}
	rows, err = s.db.QueryContext(ctx, `SELECT run, name, size, modified FROM inputs ORDER BY rowid`)
	if err != nil {
		return nil, s.wrap(err)
	}
	defer rows.Close()
	for rows.Next() {
		var run int64
		var in InputInfo
		var mod string
		if err := rows.Scan(&run, &in.Name, &in.Size, &mod); err != nil {
			return nil, s.wrap(err)
		}
		in.Modified, _ = time.Parse(time.RFC3339Nano, mod)
		if i, ok := byID[run]; ok {
			out[i].Inputs = append(out[i].Inputs, in)
		}
	}
	return out, rows.Err()
}

// InputNames returns the names of the inputs the state's totals count, in
// the order first consumed, each once: every run's since the last that
// recomputed (none after a Bind that recomputes).
func (s *Store) InputNames(ctx context.Context) ([]string, error) {
	if s.reset || s.fresh {
		return nil, nil
	}
	rows, err := s.conn().QueryContext(ctx, `SELECT i.name FROM inputs i
		WHERE i.run >= coalesce((SELECT max(id) FROM runs WHERE recompute), 0) ORDER BY i.rowid`)
	if err != nil {
		return nil, s.wrap(err)
	}
	defer rows.Close()
	var out []string
	seen := map[string]bool{}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, s.wrap(err)
		}
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out, rows.Err()
}

// Reload forgets what was loaded and loads the state as committed.
func (s *Store) Reload(ctx context.Context) error {
	s.keys, s.totals, s.index, s.rejected = newKeys(), Totals{}, newIDIndex(0), map[uint64]struct{}{}
	s.reset, s.loaded, s.fresh = false, false, false
	return s.Load(ctx)
}

// OutputSize returns the committed size of an output file that runs append
// to (calc --out), and whether the state knows the file.
func (s *Store) OutputSize(ctx context.Context, path string) (int64, bool, error) {
	var n int64
	err := s.conn().QueryRowContext(ctx, `SELECT size FROM outputs WHERE path = ?`, path).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, s.wrap(err)
	}
	return n, true, nil
}

// ClaimOutput records path as an output runs append to, at size 0, in a
// commit of its own, before anything is written to it. Call it after Lock
// and before Load: it commits and locks again.
func (s *Store) ClaimOutput(ctx context.Context, path string) error {
	return s.ClaimOutputAt(ctx, path, 0)
}

// ClaimOutputAt is ClaimOutput for a file that already holds size bytes
// the state does not own (a --rejects file from before the state).
func (s *Store) ClaimOutputAt(ctx context.Context, path string, size int64) error {
	if _, err := s.conn().ExecContext(ctx, `INSERT OR IGNORE INTO outputs (path, size) VALUES (?, ?)`, path, size); err != nil {
		return s.wrap(err)
	}
	if s.tx == nil {
		return nil
	}
	if err := s.tx.Commit(); err != nil {
		return s.wrap(err)
	}
	s.tx = nil
	return s.Lock(ctx)
}

// Rejections returns how many rejected records the state remembers (after
// Load).
func (s *Store) Rejections() int { return len(s.rejected) }

// AppendedFile is a file runs append to (calc --out, --rejects) with its
// committed size.
type AppendedFile struct {
	Path string
	Size int64
}

// AppendedFiles returns the files runs append to.
func (s *Store) AppendedFiles(ctx context.Context) ([]AppendedFile, error) {
	rows, err := s.conn().QueryContext(ctx, `SELECT path, size FROM outputs ORDER BY path`)
	if err != nil {
		return nil, s.wrap(err)
	}
	defer rows.Close()
	var out []AppendedFile
	for rows.Next() {
		var a AppendedFile
		if err := rows.Scan(&a.Path, &a.Size); err != nil {
			return nil, s.wrap(err)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}
