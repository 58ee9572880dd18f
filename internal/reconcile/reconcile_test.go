package reconcile

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/taxagg/taxagg/internal/billing"
	"github.com/taxagg/taxagg/internal/money"
)

// cr is a canonical record for tests; empty fields take defaults.
type cr struct {
	ID       string `json:"id"`
	Date     string `json:"date"`
	Updated  string `json:"updated,omitempty"`
	Customer string `json:"customer"`
	Currency string `json:"currency"`
	Amount   string `json:"amount"`
	Tax      string `json:"tax"`
	State    string `json:"state,omitempty"`
	Order    string `json:"order,omitempty"`
}

func ndjsonOf(recs ...cr) string {
	var b strings.Builder
	for _, r := range recs {
		if r.Date == "" {
			r.Date = "2026-01-10T12:00:00Z"
		}
		if r.Customer == "" {
			r.Customer = "cus_1"
		}
		if r.Currency == "" {
			r.Currency = "USD"
		}
		if r.Amount == "" {
			r.Amount = "10.00"
		}
		if r.Tax == "" {
			r.Tax = "0.00"
		}
		if r.State == "" {
			r.State = "paid"
		}
		j, _ := json.Marshal(r)
		b.Write(j)
		b.WriteByte('\n')
	}
	return b.String()
}

// ledgerRow is a ledger line as decoded from NDJSON.
type ledgerRow struct {
	Key      string `json:"key"`
	IDA      string `json:"id_a"`
	IDB      string `json:"id_b"`
	Source   string `json:"source"`
	Status   string `json:"status"`
	Date     string `json:"date"`
	Customer string `json:"customer"`
	Currency string `json:"currency"`
	Amount   string `json:"amount"`
	Tax      string `json:"tax"`
	State    string `json:"state"`
	Diffs    []Diff `json:"diffs"`
}

func decodeLedger(t *testing.T, s string) []ledgerRow {
	t.Helper()
	var rows []ledgerRow
	for _, line := range strings.Split(strings.TrimSpace(s), "\n") {
		if line == "" {
			continue
		}
		var r ledgerRow
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("ledger line %q: %v", line, err)
		}
		rows = append(rows, r)
	}
	return rows
}

func baseOptions() Options {
	return Options{DateWindow: 24 * time.Hour, Format: FormatNDJSON}
}

func runText(t *testing.T, opts Options, a, b string) (string, *Result, error) {
	t.Helper()
	var out bytes.Buffer
	res, err := Run(context.Background(), opts,
		Input{Name: "a.ndjson", R: strings.NewReader(a)}, Input{Name: "b.ndjson", R: strings.NewReader(b)},
		Outputs{Ledger: &out})
	return out.String(), res, err
}

func TestStatusesAndPolicies(t *testing.T) {
	dec := func(s string) decimal.Decimal { return decimal.RequireFromString(s) }
	tests := []struct {
		name string
		opts func(*Options)
		a, b []cr
		want []ledgerRow // only the fields set are checked
	}{
		{
			name: "match",
			a:    []cr{{ID: "k1"}},
			b:    []cr{{ID: "k1"}},
			want: []ledgerRow{{Key: "k1", Status: "match", Source: "both", IDA: "k1", IDB: "k1", Amount: "10.00"}},
		},
		{
			name: "diff amount and state",
			a:    []cr{{ID: "k1", Amount: "10.00"}},
			b:    []cr{{ID: "k1", Amount: "12.00", State: "open"}},
			want: []ledgerRow{{Key: "k1", Status: "diff", Amount: "10.00", State: "paid",
				Diffs: []Diff{{"amount", "10.00", "12.00"}, {"state", "paid", "open"}}}},
		},
		{
			name: "tolerance is inclusive",
			opts: func(o *Options) { o.AmountTolerance = dec("0.01") },
			a:    []cr{{ID: "k1", Amount: "10.00"}, {ID: "k2", Amount: "10.00"}},
			b:    []cr{{ID: "k1", Amount: "10.01"}, {ID: "k2", Amount: "10.02"}},
			want: []ledgerRow{{Key: "k1", Status: "match"}, {Key: "k2", Status: "diff", Diffs: []Diff{{"amount", "10.00", "10.02"}}}},
		},
		{
			name: "zero tolerance is exact",
			a:    []cr{{ID: "k1", Amount: "10.00"}},
			b:    []cr{{ID: "k1", Amount: "10.01"}},
			want: []ledgerRow{{Key: "k1", Status: "diff"}},
		},
		{
			name: "date window is inclusive",
			a:    []cr{{ID: "k1", Date: "2026-01-10T00:00:00Z"}, {ID: "k2", Date: "2026-01-10T00:00:00Z"}},
			b:    []cr{{ID: "k1", Date: "2026-01-11T00:00:00Z"}, {ID: "k2", Date: "2026-01-11T00:00:01Z"}},
			want: []ledgerRow{{Key: "k1", Status: "match"},
				{Key: "k2", Status: "diff", Diffs: []Diff{{"date", "2026-01-10T00:00:00Z", "2026-01-11T00:00:01Z"}}}},
		},
		{
			name: "currency and customer differ",
			a:    []cr{{ID: "k1", Currency: "USD", Customer: "x"}},
			b:    []cr{{ID: "k1", Currency: "EUR", Customer: "y"}},
			want: []ledgerRow{{Key: "k1", Status: "diff", Currency: "USD",
				Diffs: []Diff{{"currency", "USD", "EUR"}, {"customer", "x", "y"}}}},
		},
		{
			name: "only_a and only_b",
			a:    []cr{{ID: "k1"}},
			b:    []cr{{ID: "k2"}},
			want: []ledgerRow{{Key: "k1", Status: "only_a", Source: "a", IDA: "k1"}, {Key: "k2", Status: "only_b", Source: "b", IDB: "k2"}},
		},
		{
			name: "duplicates report",
			a:    []cr{{ID: "k1", Amount: "1.00"}, {ID: "k1", Amount: "2.00"}},
			b:    []cr{{ID: "k1", Amount: "3.00"}},
			want: []ledgerRow{{Key: "k1", Status: "duplicate", Source: "a", Amount: "1.00"},
				{Key: "k1", Status: "duplicate", Source: "a", Amount: "2.00"},
				{Key: "k1", Status: "only_b", Source: "b", Amount: "3.00"}},
		},
		{
			name: "duplicates group: partial payments",
			opts: func(o *Options) { o.Duplicates = DupGroup; o.Key = []string{"order"} },
			a: []cr{{ID: "p1", Order: "o1", Amount: "6.00", Date: "2026-01-10T00:00:00Z", State: "open"},
				{ID: "p2", Order: "o1", Amount: "4.00", Date: "2026-01-10T10:00:00Z", State: "paid"}},
			b: []cr{{ID: "inv1", Order: "o1", Amount: "10.00", Date: "2026-01-10T00:00:00Z"}},
			want: []ledgerRow{{Key: "o1", Status: "match", IDA: "p1+p2", IDB: "inv1", Amount: "10.00", State: "paid",
				Date: "2026-01-10T00:00:00Z"}},
		},
		{
			name: "group with mixed currencies is reported",
			opts: func(o *Options) { o.Duplicates = DupGroup },
			a:    []cr{{ID: "k1", Currency: "USD"}, {ID: "k1", Currency: "EUR"}},
			b:    []cr{{ID: "k1"}},
			want: []ledgerRow{{Key: "k1", Status: "duplicate", Currency: "EUR"}, {Key: "k1", Status: "duplicate", Currency: "USD"},
				{Key: "k1", Status: "only_b"}},
		},
		{
			name: "prefer b",
			opts: func(o *Options) { o.Prefer = PreferB },
			a:    []cr{{ID: "k1", Amount: "1.00"}},
			b:    []cr{{ID: "k1", Amount: "2.00"}},
			want: []ledgerRow{{Key: "k1", Status: "diff", Amount: "2.00"}},
		},
		{
			name: "prefer newest",
			opts: func(o *Options) { o.Prefer = PreferNewest },
			a: []cr{{ID: "k1", Amount: "1.00", Updated: "2026-01-01T00:00:00Z"},
				{ID: "k2", Amount: "1.00", Updated: "2026-01-03T00:00:00Z"},
				{ID: "k3", Amount: "1.00"}},
			b: []cr{{ID: "k1", Amount: "2.00", Updated: "2026-01-02T00:00:00Z"},
				{ID: "k2", Amount: "2.00", Updated: "2026-01-02T00:00:00Z"},
				{ID: "k3", Amount: "2.00", Updated: "2026-01-02T00:00:00Z"}},
			want: []ledgerRow{{Key: "k1", Amount: "2.00"}, {Key: "k2", Amount: "1.00"}, {Key: "k3", Amount: "1.00"}},
		},
		{
			name: "fuzzy pairs leftovers; ties by key",
			opts: func(o *Options) { o.Fuzzy = true },
			a:    []cr{{ID: "a1", Date: "2026-01-10T00:00:00Z"}},
			b: []cr{{ID: "b2", Date: "2026-01-10T02:00:00Z"}, {ID: "b1", Date: "2026-01-09T22:00:00Z"},
				{ID: "b0", Date: "2026-01-10T05:00:00Z"}, {ID: "b3", Customer: "other", Date: "2026-01-10T00:00:00Z"}},
			want: []ledgerRow{{Key: "a1", Status: "match", IDA: "a1", IDB: "b1"},
				{Key: "b0", Status: "only_b"}, {Key: "b2", Status: "only_b"}, {Key: "b3", Status: "only_b"}},
		},
		{
			name: "fuzzy needs amount within tolerance",
			opts: func(o *Options) { o.Fuzzy = true },
			a:    []cr{{ID: "a1", Amount: "10.00"}},
			b:    []cr{{ID: "b1", Amount: "10.01"}},
			want: []ledgerRow{{Key: "a1", Status: "only_a"}, {Key: "b1", Status: "only_b"}},
		},
		{
			name: "fuzzy closest date wins",
			opts: func(o *Options) { o.Fuzzy = true },
			a:    []cr{{ID: "a1", Date: "2026-01-10T00:00:00Z"}, {ID: "a2", Date: "2026-01-10T03:00:00Z"}},
			b:    []cr{{ID: "b1", Date: "2026-01-10T02:00:00Z"}},
			want: []ledgerRow{{Key: "a1", Status: "only_a"}, {Key: "a2", Status: "match", IDB: "b1"}},
		},
		{
			name: "composite key",
			opts: func(o *Options) { o.Key = []string{"customer", "amount"} },
			a:    []cr{{ID: "x", Customer: "c9", Amount: "5.00"}},
			b:    []cr{{ID: "y", Customer: "c9", Amount: "5.00"}},
			want: []ledgerRow{{Key: "c9|5.00", Status: "match", IDA: "x", IDB: "y"}},
		},
		{
			name: "records without a key are never matched by key",
			opts: func(o *Options) { o.Key = []string{"order"} },
			a:    []cr{{ID: "x"}, {ID: "k1", Order: "o1"}},
			b:    []cr{{ID: "y"}, {ID: "k2", Order: "o1"}},
			want: []ledgerRow{{Key: "", Status: "only_a"}, {Key: "", Status: "only_b"}, {Key: "o1", Status: "match"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := baseOptions()
			if tt.opts != nil {
				tt.opts(&opts)
			}
			out, res, err := runText(t, opts, ndjsonOf(tt.a...), ndjsonOf(tt.b...))
			if err != nil {
				t.Fatal(err)
			}
			got := decodeLedger(t, out)
			if len(got) != len(tt.want) {
				t.Fatalf("got %d rows, want %d:\n%s", len(got), len(tt.want), out)
			}
			for i, w := range tt.want {
				checkRow(t, i, got[i], w)
			}
			wantFindings := int64(0)
			for _, r := range got {
				if r.Status != "match" {
					wantFindings++
				}
			}
			if res.Findings() != wantFindings {
				t.Errorf("Findings() = %d, want %d", res.Findings(), wantFindings)
			}
		})
	}
}

func checkRow(t *testing.T, i int, got, want ledgerRow) {
	t.Helper()
	check := func(field, g, w string) {
		if w != "" && g != w {
			t.Errorf("row %d: %s = %q, want %q", i, field, g, w)
		}
	}
	check("status", got.Status, want.Status)
	check("source", got.Source, want.Source)
	check("id_a", got.IDA, want.IDA)
	check("id_b", got.IDB, want.IDB)
	check("amount", got.Amount, want.Amount)
	check("currency", got.Currency, want.Currency)
	check("state", got.State, want.State)
	check("date", got.Date, want.Date)
	if got.Key != want.Key {
		t.Errorf("row %d: key = %q, want %q", i, got.Key, want.Key)
	}
	if want.Diffs != nil {
		gj, _ := json.Marshal(got.Diffs)
		wj, _ := json.Marshal(want.Diffs)
		if !bytes.Equal(gj, wj) {
			t.Errorf("row %d: diffs = %s, want %s", i, gj, wj)
		}
	}
}

func TestDuplicatesError(t *testing.T) {
	opts := baseOptions()
	opts.Duplicates = DupError
	_, _, err := runText(t, opts, ndjsonOf(cr{ID: "k0"}, cr{ID: "k1"}, cr{ID: "k2"}, cr{ID: "k1"}), ndjsonOf(cr{ID: "k1"}))
	var de *DuplicateKeyError
	if !errors.As(err, &de) {
		t.Fatalf("err = %v, want a DuplicateKeyError", err)
	}
	if want := `a.ndjson:4: id: duplicate key "k1" in A (first at line 2)`; err.Error() != want {
		t.Errorf("err = %q, want %q", err, want)
	}
	// The same error when spilling: the earliest in the input, not the
	// first partition's.
	var a, b []cr
	for i := 0; i < 300; i++ {
		a = append(a, cr{ID: fmt.Sprintf("k%03d", i)})
		b = append(b, cr{ID: fmt.Sprintf("k%03d", i)})
	}
	a = append(a, cr{ID: "k250"}, cr{ID: "k007"})
	b = append(b, cr{ID: "k001"})
	for _, mem := range []int64{0, 1} {
		opts.Memory = mem
		opts.TempDir = t.TempDir()
		_, _, err = runText(t, opts, ndjsonOf(a...), ndjsonOf(b...))
		if want := `a.ndjson:301: id: duplicate key "k250" in A (first at line 251)`; err == nil || err.Error() != want {
			t.Errorf("memory %d: err = %v, want %q", mem, err, want)
		}
	}
}

func TestBadInputIsPositioned(t *testing.T) {
	a := ndjsonOf(cr{ID: "k0"}) + `{"id":"k1","date":"2026-01-01","currency":"USD","amount":"12.3.4"}` + "\n"
	_, _, err := runText(t, baseOptions(), a, ndjsonOf(cr{ID: "k1"}))
	var ie *billing.InputError
	if !errors.As(err, &ie) {
		t.Fatalf("err = %v, want an InputError", err)
	}
	if want := `a.ndjson:2: amount: "12.3.4" is not a decimal`; err.Error() != want {
		t.Errorf("err = %q, want %q", err, want)
	}
}

func TestKeyPathIntoSource(t *testing.T) {
	a := `{"object":"list","data":[
{"id":"ch_1","object":"charge","amount":1050,"currency":"usd","created":1767225600,"status":"succeeded","customer":"cus_1","metadata":{"order_id":"o-1"}},
{"id":"ch_2","object":"charge","amount":500,"currency":"jpy","created":1767225600,"status":"succeeded","customer":"cus_1","metadata":{"order_id":"o-2"}}
]}`
	b := ndjsonOf(cr{ID: "o-1", Amount: "10.50", Date: "2026-01-01T00:00:00Z"},
		cr{ID: "o-2", Amount: "500", Tax: "0", Currency: "JPY", Date: "2026-01-01T00:00:00Z"})
	opts := baseOptions()
	opts.KeyA = []string{"metadata.order_id"}
	out, res, err := runText(t, opts, a, b)
	if err != nil {
		t.Fatal(err)
	}
	if res.Counts[StatusMatch] != 2 {
		t.Errorf("want 2 matches, got ledger:\n%s", out)
	}
}

func TestFormats(t *testing.T) {
	a := ndjsonOf(cr{ID: "k1", Amount: "1.00"}, cr{ID: "k2"})
	b := ndjsonOf(cr{ID: "k1", Amount: "2.00"})
	for _, f := range []string{FormatJSON, FormatCSV, FormatTable} {
		opts := baseOptions()
		opts.Format = f
		out, _, err := runText(t, opts, a, b)
		if err != nil {
			t.Fatal(err)
		}
		switch f {
		case FormatJSON:
			var doc struct {
				Manifest Manifest    `json:"manifest"`
				Rows     []ledgerRow `json:"rows"`
			}
			if err := json.Unmarshal([]byte(out), &doc); err != nil {
				t.Fatalf("json: %v\n%s", err, out)
			}
			if len(doc.Rows) != 2 || doc.Rows[0].Status != "diff" || doc.Manifest.InputA != "a.ndjson" {
				t.Errorf("json ledger: %s", out)
			}
		case FormatCSV:
			if !strings.HasPrefix(out, "key,id_a,id_b,source,status,date,customer,currency,amount,tax,state,diffs\n") ||
				!strings.Contains(out, `k1,k1,k1,both,diff,`) {
				t.Errorf("csv ledger:\n%s", out)
			}
		case FormatTable:
			if !strings.Contains(out, "amount: 1.00 ≠ 2.00") {
				t.Errorf("table ledger:\n%s", out)
			}
		}
	}
}

func TestAmountAppendFixed(t *testing.T) {
	for _, s := range []string{"0", "1", "-1", "0.5", "-0.05", "12.345", "1000", "-123456789012.34", "0.001",
		"999999999999999999", "12345678901234567.8", "1.23456789", "-0.0000001"} {
		d := decimal.RequireFromString(s)
		for places := int32(0); places <= 4; places++ {
			if got, want := string(money.AmountOf(d).AppendFixed(nil, places)), d.StringFixed(places); got != want {
				t.Errorf("AppendFixed(%s, %d) = %s, want %s", s, places, got, want)
			}
		}
	}
	for _, s := range []string{"12.50", "-3", "0.000", "123456789012345678901.5"} {
		d := decimal.RequireFromString(s)
		var e encoder
		e.dec(d)
		dd := decoder{b: e.b}
		if got := dd.dec(); !got.Equal(d) || dd.err != nil {
			t.Errorf("codec %s -> %s (%v)", s, got, dd.err)
		}
	}
}

// TestEmptyKey checks that a key empty on every record of a side is an
// error naming the side and the key (a typo such as --key ammount would
// otherwise make everything only_a/only_b), and that some empty keys are
// counted in the result and the summary.
func TestEmptyKey(t *testing.T) {
	a := ndjsonOf(cr{ID: "x", Order: "o1"}, cr{ID: "y"})
	b := ndjsonOf(cr{ID: "x"}, cr{ID: "y"})
	for _, tt := range []struct {
		name string
		opts func(*Options)
		want string // error; "" for none
	}{
		{"a typo in --key", func(o *Options) { o.Key = []string{"ammount"} },
			"A (a.ndjson): the key ammount is empty on all 2 of its records, so none could be matched by key"},
		{"a path only A has", func(o *Options) { o.KeyA = []string{"order"}; o.KeyB = []string{"metadata.order_id"} },
			"B (b.ndjson): the key metadata.order_id is empty on all 2 of its records, so none could be matched by key"},
		{"with --fuzzy an unkeyed side is paired by value", func(o *Options) { o.Key = []string{"ammount"}; o.Fuzzy = true }, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			opts := baseOptions()
			tt.opts(&opts)
			_, _, err := runText(t, opts, a, b)
			var ek *EmptyKeyError
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.As(err, &ek) || err.Error() != tt.want {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}

	opts := baseOptions()
	opts.KeyA, opts.KeyB = []string{"order"}, []string{"id"}
	var summary bytes.Buffer
	res, err := Run(context.Background(), opts,
		Input{Name: "a.ndjson", R: strings.NewReader(a)}, Input{Name: "b.ndjson", R: strings.NewReader(b)},
		Outputs{Ledger: io.Discard, Summary: &summary})
	if err != nil {
		t.Fatal(err)
	}
	if res.Unkeyed != [2]int64{1, 0} {
		t.Errorf("Unkeyed = %v, want [1 0]", res.Unkeyed)
	}
	if !strings.Contains(summary.String(), "(1 record of A without a key)") {
		t.Errorf("summary does not count the unkeyed record:\n%s", summary.String())
	}
}
