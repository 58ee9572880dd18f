package state

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/taxagg/taxagg/internal/money"
	"github.com/taxagg/taxagg/internal/sqlitedb"
)

func TestOpenOtherVersion(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "s.db")
	st, err := Open(ctx, path, true)
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	tests := []struct {
		name, sql, want string
	}{
		{"newer", `UPDATE schema_version SET version = 2`, "schema version 2 is newer than this taxagg reads (version 1): use a newer taxagg"},
		{"older", `UPDATE schema_version SET version = 0`, "schema version 0 is older than this taxagg reads (version 1)"},
		{"other program", `UPDATE schema_version SET name = 'taxagg outbox', version = 1`, "is not a taxagg state (it is a taxagg outbox database)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, err := sql.Open("sqlite", path)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := db.Exec(`UPDATE schema_version SET name = 'taxagg state', version = 1`); err != nil {
				t.Fatal(err)
			}
			if _, err := db.Exec(tt.sql); err != nil {
				t.Fatal(err)
			}
			db.Close()
			_, err = Open(ctx, path, false)
			var ve *sqlitedb.VersionError
			if !errors.As(err, &ve) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Open = %v, want a VersionError containing %q", err, tt.want)
			}
		})
	}
}

func TestOpenMissing(t *testing.T) {
	_, err := Open(context.Background(), filepath.Join(t.TempDir(), "none.db"), false)
	if err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Fatalf("Open = %v, want no such file", err)
	}
}

func TestEntryRoundTrip(t *testing.T) {
	big, _ := decimal.NewFromString("123456789012345678901234567890.123456")
	e := Entry{ID: "tx-1", Content: 0xdeadbeef12345678, Lines: []Line{
		{Key: 1, Fig: [6]Amount{{F: money.Fixed{C: 12999, E: -2}}, {}, {F: money.Fixed{C: 0, E: -2}}, {F: money.Fixed{C: -12999, E: -2}}, {F: money.Fixed{C: 812, E: -2}}, {F: money.Fixed{C: 8124375, E: -6}}}},
		{Key: 300, Fig: [6]Amount{{Big: &big}, {F: money.Fixed{C: 5, E: 3}}}},
	}}
	body := appendBody(nil, e.ID, e.Content, e.Lines, e.Extra)
	var got Entry
	if err := decodeBody(body, &got); err != nil {
		t.Fatal(err)
	}
	if got.ID != e.ID || got.Content != e.Content || len(got.Lines) != 2 {
		t.Fatalf("got %+v", got)
	}
	for i := range e.Lines {
		for f := range e.Lines[i].Fig {
			a, b := e.Lines[i].Fig[f].Decimal(), got.Lines[i].Fig[f].Decimal()
			if !a.Equal(b) || a.Exponent() != b.Exponent() {
				t.Errorf("line %d figure %d: got %s (exp %d), want %s (exp %d)", i, f, b, b.Exponent(), a, a.Exponent())
			}
		}
	}
}

func TestDecStringKeepsExponent(t *testing.T) {
	for _, s := range []string{"0", "0.00", "1.50", "-3.141500", "123"} {
		d, _ := decimal.NewFromString(s)
		got, err := parseDec(decString(d))
		if err != nil || got.Exponent() != d.Exponent() || !got.Equal(d) {
			t.Errorf("%s: round trip gave %v (exp %d), %v", s, got, got.Exponent(), err)
		}
	}
}

// FuzzDecodeBody: a damaged segment is an error, never a panic.
func FuzzDecodeBody(f *testing.F) {
	f.Add(appendBody(nil, "a", 1, []Line{{Key: 1}}, []byte("x")))
	f.Add([]byte{0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		var e Entry
		if err := decodeBody(b, &e); err == nil {
			again := appendBody(nil, e.ID, e.Content, e.Lines, e.Extra)
			var e2 Entry
			if err := decodeBody(again, &e2); err != nil {
				t.Fatalf("re-encoded entry does not decode: %v", err)
			}
		}
	})
}

// FuzzPartial: a malformed partial is an error with its line, never a
// panic.
func FuzzPartial(f *testing.F) {
	f.Add([]byte(samplePartial))
	f.Add([]byte(`{"taxagg_partial":1}`))
	f.Add([]byte("{\"taxagg_partial\":2}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m := NewMerger()
		if err := m.Add("p", bytes.NewReader(b)); err != nil {
			var pe *PartialError
			if !errors.As(err, &pe) {
				t.Fatalf("error without position: %v", err)
			}
		}
	})
}

const samplePartial = `{"taxagg_partial":1,"command":"aggregate","period":"none","by_rate":false,"timezone":"UTC","rules_sha256":"ab","rules":["r.yaml"],"currencies":{"USD":2}}
{"row":1,"jurisdiction":"US-TX","name":"Texas","level":"state","tax":"tx-state","rounding":"half_up","currency":"USD","digits":2,"period":"","rate":"","has_rate":false}
{"id":"t1","hash":"00000000000000aa","lines":[[1,"10.00","0","0","10.00","0.63","0.625"]]}
{"id":"t2","hash":"00000000000000bb","lines":[[1,"20.00","0","0","20.00","1.25","1.25"]]}
{"total":1,"transactions":2,"figures":["30.00","0","0","30.00","1.88","1.875"]}
{"end":{"transactions":2,"rows":1}}
`

func TestMergerChecks(t *testing.T) {
	other := strings.Replace(samplePartial, `"hash":"00000000000000aa"`, `"hash":"00000000000000ff"`, 1)
	tests := []struct {
		name string
		b    string
		want string
	}{
		{"same twice counts once", samplePartial, ""},
		{"conflict", other, `transaction "t1" has other content than in a.partial`},
		{"other period", strings.Replace(samplePartial, `"period":"none"`, `"period":"month"`, 1), "a.partial and b.partial differ in period (none, month)"},
		{"other rules", strings.Replace(samplePartial, `"rules_sha256":"ab"`, `"rules_sha256":"cd"`, 1), "differ in rules"},
		{"by rate", strings.Replace(samplePartial, `"by_rate":false`, `"by_rate":true`, 1), "differ in rate splitting"},
		{"currency decimals", strings.Replace(samplePartial, `"currencies":{"USD":2}`, `"currencies":{"USD":3}`, 1), "differ in currencies"},
		{"other format version", strings.Replace(samplePartial, `{"taxagg_partial":1,`, `{"taxagg_partial":2,`, 1), "b.partial:1: partial format version 2; this taxagg reads version 1"},
		{"cut short", strings.Replace(samplePartial, "{\"end\":{\"transactions\":2,\"rows\":1}}\n", "", 1), "no end mark"},
		{"bad totals", strings.Replace(samplePartial, `"figures":["30.00"`, `"figures":["31.00"`, 1), "its totals do not match its transactions"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := NewMerger()
			if err := m.Add("a.partial", strings.NewReader(samplePartial)); err != nil {
				t.Fatal(err)
			}
			err := m.Add("b.partial", strings.NewReader(tt.b))
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if m.Transactions() != 2 || m.Dups != 2 {
					t.Fatalf("transactions %d dups %d, want 2 and 2", m.Transactions(), m.Dups)
				}
				rows, err := m.Totals().Rows(m.Keys())
				if err != nil || len(rows) != 1 || rows[0].Transactions != 2 || rows[0].Gross.String() != "30" || rows[0].TaxAmount.String() != "1.88" {
					t.Fatalf("rows = %+v, %v", rows, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Add = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestIDIndex(t *testing.T) {
	x := newIDIndex(0)
	for i := uint64(0); i < 5000; i++ {
		x.put(i*0x9e3779b97f4a7c15, loc{content: i})
	}
	x.put(0, loc{content: 7}) // 0 and 1 share a slot key; the later wins
	if x.Len() != 5000 {
		t.Fatalf("Len = %d, want 5000", x.Len())
	}
	for i := uint64(1); i < 5000; i++ {
		if l, ok := x.get(i * 0x9e3779b97f4a7c15); !ok || l.content != i {
			t.Fatalf("get(%d) = %v, %v", i, l, ok)
		}
	}
	if _, ok := x.get(12345); ok {
		t.Fatal("get of a missing id found it")
	}
}

// A state whose stored totals no longer match its transactions fails
// Verify, naming the row and the figure; so does a damaged segment.
func TestVerifyFindsDamage(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "s.db")
	st, err := Open(ctx, path, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Lock(ctx); err != nil {
		t.Fatal(err)
	}
	if err := st.Bind(Meta{Command: "aggregate", Period: "none", Timezone: "UTC", RulesSHA256: "ab"}, false); err != nil {
		t.Fatal(err)
	}
	if err := st.Load(ctx); err != nil {
		t.Fatal(err)
	}
	run, err := st.NewRun(ctx, RunOptions{SumHere: true})
	if err != nil {
		t.Fatal(err)
	}
	m := NewMerger()
	if err := m.Add("p", strings.NewReader(samplePartial)); err != nil {
		t.Fatal(err)
	}
	if err := m.Entries(func(e *Entry) { run.RecordEntry(e, m.Keys()) }); err != nil {
		t.Fatal(err)
	}
	if err := run.Finish(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if err := run.Commit(ctx, CommitInfo{}); err != nil {
		t.Fatal(err)
	}
	st.Close()

	verify := func() *VerifyReport {
		st, err := Open(ctx, path, false)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		rep, err := st.Verify(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	if rep := verify(); len(rep.Problems) != 0 || rep.Transactions != 2 {
		t.Fatalf("clean state: %+v", rep)
	}
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`UPDATE totals SET gross = '31.00' WHERE key = 1`); err != nil {
		t.Fatal(err)
	}
	if rep := verify(); len(rep.Problems) != 1 || !strings.Contains(rep.Problems[0], "US-TX tx-state USD: gross_sales stored 31, recomputed 30") {
		t.Fatalf("changed totals: %+v", rep.Problems)
	}
	if _, err := db.Exec(`UPDATE segments SET data = x'00' || data`); err != nil {
		t.Fatal(err)
	}
	if rep := verify(); len(rep.Problems) != 1 || !strings.Contains(rep.Problems[0], "checksum mismatch") {
		t.Fatalf("damaged segment: %+v", rep.Problems)
	}
}
