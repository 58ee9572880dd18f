package sqlitedb

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

func TestOpenPragmas(t *testing.T) {
	tests := []struct {
		journal Journal
		want    string
	}{
		{Rollback, "truncate"},
		{WAL, "wal"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			db, err := Open(filepath.Join(t.TempDir(), "x.db"), Options{Journal: tt.journal, Create: true})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			var mode string
			var sync, busy int
			if err := db.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil {
				t.Fatal(err)
			}
			if err := db.QueryRow(`PRAGMA synchronous`).Scan(&sync); err != nil {
				t.Fatal(err)
			}
			if err := db.QueryRow(`PRAGMA busy_timeout`).Scan(&busy); err != nil {
				t.Fatal(err)
			}
			if mode != tt.want || sync != 2 || busy != 10000 {
				t.Fatalf("journal_mode %s synchronous %d busy_timeout %d, want %s 2 (FULL) 10000", mode, sync, busy, tt.want)
			}
		})
	}
}

func TestOpenMissing(t *testing.T) {
	_, err := Open(filepath.Join(t.TempDir(), "none.db"), Options{})
	if !errors.Is(err, ErrNotExist) {
		t.Fatalf("Open = %v, want ErrNotExist", err)
	}
}

func TestSchema(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "x.db")
	db, err := Open(path, Options{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := Schema(ctx, db, path, "app", 3, `CREATE TABLE t (x INTEGER)`); err != nil {
		t.Fatal(err)
	}
	if err := Schema(ctx, db, path, "app", 3, `CREATE TABLE t (x INTEGER)`); err != nil {
		t.Fatalf("same version again: %v", err)
	}
	err = Schema(ctx, db, path, "app", 4, "")
	var ve *VersionError
	if !errors.As(err, &ve) || !strings.Contains(err.Error(), "app schema version 3 is older than this taxagg reads (version 4)") {
		t.Fatalf("Schema v4 = %v", err)
	}
	err = Schema(ctx, db, path, "other", 1, "")
	if !errors.As(err, &ve) || !strings.Contains(err.Error(), "is not a other (it is a app database)") {
		t.Fatalf("Schema other = %v", err)
	}
}

// Opening a file of another schema with Name refuses it before setting a
// journal mode: a WAL file stays WAL, a rollback one is not made WAL.
func TestOpenOtherKindLeavesJournal(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		have, open Journal
		want       string
	}{
		{WAL, Rollback, "wal"},
		{Rollback, WAL, "delete"},
	}
	for _, tt := range tests {
		path := filepath.Join(t.TempDir(), "x.db")
		db, err := Open(path, Options{Journal: tt.have, Create: true})
		if err != nil {
			t.Fatal(err)
		}
		if err := Schema(ctx, db, path, "outbox", 1, `CREATE TABLE t (x INTEGER)`); err != nil {
			t.Fatal(err)
		}
		db.Close()
		_, err = Open(path, Options{Journal: tt.open, Name: "state", Hint: "use another file"})
		var ve *VersionError
		want := path + " is not a state (it is a outbox database): use another file"
		if !errors.As(err, &ve) || err.Error() != want {
			t.Fatalf("Open = %v, want %q", err, want)
		}
		db, err = Open(path, Options{Journal: tt.have, Name: "outbox"})
		if err != nil {
			t.Fatalf("Open as its own kind: %v", err)
		}
		db.Close()
		raw, err := sql.Open("sqlite", path)
		if err != nil {
			t.Fatal(err)
		}
		var mode string
		if err := raw.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil {
			t.Fatal(err)
		}
		raw.Close()
		if mode != tt.want {
			t.Fatalf("journal_mode %s after the refusal, want %s", mode, tt.want)
		}
	}
}
