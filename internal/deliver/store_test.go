package deliver

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/taxagg/taxagg/internal/ratelimit/clocktest"
	"github.com/taxagg/taxagg/internal/sqlitedb"
)

func TestRecordIdempotent(t *testing.T) {
	st := openStore(t)
	erp := target("erp", "http://127.0.0.1:1/")
	rs := record(t, st, []Target{erp}, t0, line1, line2, line1)
	if rs.Read != 3 || rs.New != 2 || rs.Duplicate != 1 || rs.Deliveries != 2 {
		t.Fatalf("first read %+v, want 3 read: 2 new, 1 duplicate, 2 deliveries", rs)
	}
	// The same records, written with other spacing: the same content.
	rs = record(t, st, []Target{erp}, t0.Add(1), line2, strings.ReplaceAll(line1, ",", " , "))
	if rs.New != 0 || rs.Duplicate != 2 || rs.Deliveries != 0 {
		t.Fatalf("second read %+v, want nothing new", rs)
	}
	// A new content of s1 is version 2, with its own webhook id.
	rs = record(t, st, []Target{erp}, t0, strings.Replace(line1, `"7.00"}`, `"7.01"}`, 1))
	if rs.New != 1 {
		t.Fatalf("changed s1: %+v, want a new event", rs)
	}
	// An endpoint added later gets the events read again, and only those.
	dwh := target("dwh", "http://127.0.0.1:1/")
	rs = record(t, st, []Target{erp, dwh}, t0, line1)
	if rs.New != 0 || rs.Duplicate != 1 || rs.Deliveries != 1 {
		t.Fatalf("with a new endpoint: %+v, want one delivery added", rs)
	}
	jobs, err := st.Due(context.Background(), t0, []string{"erp", "dwh"}, 100)
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		ep, txn string
		v       int64
	}
	var got []row
	ids := map[string]bool{}
	for _, j := range jobs {
		got = append(got, row{j.Endpoint, j.TxnID, j.Version})
		ids[j.MsgID] = true
		if p := decodePayload(t, j.Body); p.Data.Version != int(j.Version) || p.Data.TransactionID != j.TxnID {
			t.Errorf("payload %s does not carry %s version %d", j.Body, j.TxnID, j.Version)
		}
	}
	want := []row{{"dwh", "s1", 1}, {"erp", "s1", 1}, {"erp", "s2", 1}, {"erp", "s1", 2}}
	if len(got) != len(want) || len(ids) != 4 {
		t.Fatalf("due %v, want %v with 4 ids", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("due[%d] = %v, want %v", i, got[i], want[i])
		}
	}
	if a, b := MessageID("s1", "h", "erp"), MessageID("s1", "h", "erp"); a != b || a == MessageID("s1", "h", "dwh") {
		t.Error("MessageID is not stable per event and endpoint")
	}
}

func TestReadEventsErrors(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"not json", "{\"id\":\"a\"}\n{nope\n", "in.ndjson:2: not a JSON object: invalid character 'n' looking for beginning of object key string"},
		{"no id", `{"amount":"1"}`, "in.ndjson:1: id: missing: an event needs the transaction's id"},
		{"empty id", `{"id":""}`, "in.ndjson:1: id: empty"},
		{"id an object", `{"id":{"x":1}}`, `in.ndjson:1: id: {"x":1} is not a string or a number`},
		{"array", `[1,2]`, "in.ndjson:1: not a JSON object"},
		{"two values", `{"id":"a"} {"id":"b"}`, "in.ndjson:1: more than one JSON value on the line"},
		{"csv", "id,amount\na,1\n", "in.csv: deliver reads the NDJSON (or JSON) that taxagg calc writes, not CSV"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := openStore(t)
			name := "in.ndjson"
			if tt.name == "csv" {
				name = "in.csv"
			}
			stats, err := ReadEvents(context.Background(), st, name, strings.NewReader(tt.in), nil, func() time.Time { return t0 })
			if err == nil || err.Error() != tt.want {
				t.Fatalf("error %v, want %s", err, tt.want)
			}
			if tt.name == "not json" && stats.New != 1 {
				t.Errorf("the good line before the bad one: %+v, want it recorded", stats)
			}
		})
	}
	// A numeric id, and calc's JSON array output, are read too.
	st := openStore(t)
	stats, err := ReadEvents(context.Background(), st, "in.json", strings.NewReader(`[{"id":17,"x":1},{"id":"b"}]`), nil, func() time.Time { return t0 })
	if err != nil || stats.New != 2 {
		t.Fatalf("JSON array: %+v, %v", stats, err)
	}
}

func TestSchemaVersionNewerRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	st, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.db.Exec(`UPDATE schema_version SET version = 99 WHERE name = ?`, SchemaName); err != nil {
		t.Fatal(err)
	}
	st.Close()
	_, err = Open(context.Background(), path)
	if err == nil || !strings.Contains(err.Error(), "taxagg outbox schema version 99 is newer than this taxagg reads (version 1)") {
		t.Fatalf("error %v, want the schema version refused", err)
	}
}

// A state file (calc --state) is refused, named for what it is, and left
// in its journal mode.
func TestStateFileRefused(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "tax.db")
	db, err := sqlitedb.Open(path, sqlitedb.Options{Journal: sqlitedb.Rollback, Create: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := sqlitedb.Schema(ctx, db, path, "taxagg state", 1, `CREATE TABLE meta (key TEXT)`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	_, err = Open(ctx, path)
	want := path + " is not a taxagg outbox (it is a taxagg state database): the outbox needs a file of its own"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("Open(state) = %v, want %q", err, want)
	}
	db, err = sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var mode string
	if err := db.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode == "wal" {
		t.Fatalf("journal_mode %q, %v: the refused state was converted", mode, err)
	}
}

// The outbox survives a process that stops after sending and before
// recording: the delivery is still due, and is sent again with its id.
func TestStoppedBeforeRecordingIsResent(t *testing.T) {
	clock := clocktest.NewAuto(t0)
	rc := newReceiver(t, "erp", clock.Now)
	path := filepath.Join(t.TempDir(), "s.db")
	st, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	tg := target("erp", rc.srv.URL)
	record(t, st, []Target{tg}, t0, line1)
	ctx, cancel := context.WithCancel(context.Background())
	_, err = Run(ctx, Options{Store: st, Targets: []Target{tg}, Clock: clock,
		// The crash window: the answer is in, nothing recorded yet. A
		// closed database is what a dead process leaves: no write lands.
		AfterSend: func(Job) { st.db.Close(); cancel() }})
	if err == nil {
		t.Log("run after the close returned no error")
	}
	st, err = Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if c := counts(t, st, "erp"); c.Pending != 1 {
		t.Fatalf("after the crash: %+v, want still pending", c)
	}
	var attempts int
	st.db.QueryRow(`SELECT attempts FROM deliver_deliveries`).Scan(&attempts)
	if attempts != 1 {
		t.Errorf("attempts %d, want the crashed attempt counted", attempts)
	}
	drain(t, st, clock, Options{}, tg)
	reqs := rc.got()
	if len(reqs) != 2 || reqs[0].ID != reqs[1].ID || string(reqs[0].Body) != string(reqs[1].Body) {
		t.Fatalf("%d requests, want the same event twice with one id", len(reqs))
	}
	if c := counts(t, st, "erp"); c.Delivered != 1 {
		t.Errorf("counts %+v, want delivered", c)
	}
}

func FuzzParseRecord(f *testing.F) {
	f.Add([]byte(line1))
	f.Add([]byte(`{"id":17}`))
	f.Add([]byte(`{"id":"a","id":"b"}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, in []byte) {
		id, compact, hash, err := ParseRecord(in)
		if err != nil {
			return
		}
		if id == "" || len(hash) != len("sha256:")+64 {
			t.Fatalf("id %q hash %q", id, hash)
		}
		id2, compact2, hash2, err := ParseRecord(compact)
		if err != nil || id2 != id || hash2 != hash || string(compact2) != string(compact) {
			t.Fatalf("compact form %s reads differently: %q %q %v", compact, id2, hash2, err)
		}
	})
}
