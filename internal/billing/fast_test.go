package billing

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/taxagg/taxagg/internal/money"
)

// generalCanonical reads b the way the reader does without the fast path.
func generalCanonical(b []byte) (Record, error) {
	var d decoder
	var o object
	if err := d.decodeObject(b, &o); err != nil {
		return Record{}, err
	}
	if p := classify(&o); p != PresetCanonical {
		return Record{}, errField("object", "not canonical")
	}
	return canonicalRecord(&o)
}

// checkFast: when the fast path takes b, the general path reads the same
// record, with amounts of the same coefficient and exponent.
func checkFast(t *testing.T, b []byte) bool {
	t.Helper()
	var fast Record
	if !fastCanonical(b, &fast, &arena{}) {
		return false
	}
	want, err := generalCanonical(b)
	if err != nil {
		t.Fatalf("fast path took %q, general path fails: %v", b, err)
	}
	same := func(f money.Fixed, coef int64, exp int32) bool { return f.C == coef && f.E == exp }
	if !same(fast.AmountFixed, want.Amount.CoefficientInt64(), want.Amount.Exponent()) ||
		!same(fast.TaxFixed, want.Tax.CoefficientInt64(), want.Tax.Exponent()) {
		t.Fatalf("%q: fast amounts %+v %+v, general %s %s", b, fast.AmountFixed, fast.TaxFixed, want.Amount, want.Tax)
	}
	if !fast.Fixed || !fast.Amount.IsZero() || !fast.Tax.IsZero() {
		t.Fatalf("%q: fast record not marked fixed: %+v", b, fast)
	}
	fast.Fixed, fast.AmountFixed, fast.TaxFixed = false, money.Fixed{}, money.Fixed{}
	fast.Amount, fast.Tax = want.Amount, want.Tax
	if fast.ID != want.ID || fast.Kind != want.Kind || !fast.Date.Equal(want.Date) || fast.Date.Location() != want.Date.Location() ||
		!fast.Updated.Equal(want.Updated) || fast.Customer != want.Customer || fast.Currency != want.Currency ||
		fast.State != want.State {
		t.Fatalf("%q:\nfast    %+v\ngeneral %+v", b, fast, want)
	}
	return true
}

func TestFastCanonical(t *testing.T) {
	tests := []struct {
		in   string
		fast bool
	}{
		{`{"id":"inv-1","date":"2024-01-06","customer":"cus_1","currency":"USD","amount":"1899.24","tax":"133.51","state":"void"}`, true},
		{` { "id" : "a" , "date":"2024-02-29","currency":"JPY","amount":"-100"}`, true},
		{`{"id":"a","kind":"invoice","date":"2024-02-28","updated":"2024-03-01T10:00:00+02:00","currency":"BHD","amount":"0.125","tax":"","state":""}`, true},
		{`{"id":"a","date":"2024-01-01","currency":"usd","amount":"1.5","tax":"0.00"}`, true},
		{`{"id":"a","date":"2024-01-01","currency":" EUR ","amount":"007.10"}`, true},
		{`{"id":"a","date":"2024-01-01","currency":"USD","amount":"999999999999999999"}`, true},
		{`{"id":"a","date":"2024-01-01","currency":"USD","amount":"9999999999999999999"}`, false},
		{`{"id":"a","date":"2024-01-01","currency":"USD","amount":"1.234"}`, false},
		{`{"id":"a","date":"2024-01-01","currency":"USD","amount":"1."}`, false},
		{`{"id":"a","date":"2024-01-01","currency":"USD","amount":".5"}`, false},
		{`{"id":"a","date":"2024-01-01","currency":"USD","amount":1.5}`, false},
		{`{"id":"a","date":"2024-01-01","currency":"XXX","amount":"1"}`, false},
		{`{"id":"a","date":"2024-02-30","currency":"USD","amount":"1"}`, false},
		{`{"id":"a","date":"2024-01-01T00:00:00Z","currency":"USD","amount":"1"}`, false},
		{`{"id":"a","date":"2024-01-01","currency":"USD","amount":"1","state":"closed"}`, false},
		{`{"id":"a","date":"2024-01-01","currency":"USD","amount":"1","id":"b"}`, false},
		{`{"id":"a","date":"2024-01-01","currency":"USD","amount":"1","object":"charge"}`, false},
		{`{"id":"","date":"2024-01-01","currency":"USD","amount":"1"}`, false},
		{`{"id":"a\u0062","date":"2024-01-01","currency":"USD","amount":"1"}`, false},
		{`{"id":"é","date":"2024-01-01","currency":"USD","amount":"1"}`, false},
		{`{"id":"a","date":"2024-01-01","currency":"USD","amount":"1"} x`, false},
		{`{"id":"a","date":"2024-01-01","currency":"USD","amount":"1",}`, false},
		{`{"id":"a","date":"2024-01-01","currency":"USD"}`, false},
		{`{"id":"a","date":"2024-01-01","customer":null,"currency":"USD","amount":"1"}`, false},
		{`{}`, false},
	}
	for _, tt := range tests {
		if got := checkFast(t, []byte(tt.in)); got != tt.fast {
			t.Errorf("fast path for %s: got %v, want %v", tt.in, got, tt.fast)
		}
	}
}

func FuzzFastCanonical(f *testing.F) {
	f.Add([]byte(`{"id":"inv-1","date":"2024-01-06","customer":"cus_1","currency":"USD","amount":"1899.24","tax":"133.51","state":"void"}`))
	f.Add([]byte(`{"id":"a","kind":"k","date":"2024-02-29","updated":"2024-03-01","currency":"JPY","amount":"-100","tax":""}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		checkFast(t, b)
	})
}

// TestReaderFixed: with ReaderOptions.Fixed a reader yields the records it
// yields without, in the same order and with the same positions and
// errors, the amounts moved to AmountFixed and TaxFixed.
func TestReaderFixed(t *testing.T) {
	input := `{"id":"a","date":"2024-01-06","customer":"c","currency":"USD","amount":"1.50","tax":"0.10","state":"paid"}

{"id":"b","date":"2024-01-06T10:00:00Z","currency":"EUR","amount":"2"}
{"id":"c","date":"2024-01-07","currency":"JPY","amount":"300","tax":""}
{"id":"d","object":"charge","date":"2024-01-07","currency":"USD","amount":"1"}
{"id":"e","date":"2024-01-08","currency":"USD","amount":"1.234"}
`
	read := func(fixed bool) ([]Record, error) {
		return readAll(t, strings.NewReader(input), "in.ndjson", ReaderOptions{Fixed: fixed})
	}
	want, wantErr := read(false)
	got, gotErr := read(true)
	if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) || wantErr == nil {
		t.Fatalf("error with Fixed: %v, without: %v", gotErr, wantErr)
	}
	if len(got) != len(want) || len(got) != 3 {
		t.Fatalf("got %d records with Fixed, %d without", len(got), len(want))
	}
	for i := range got {
		g := got[i]
		if g.Fixed {
			g.Amount, g.Tax = decimal.New(g.AmountFixed.C, g.AmountFixed.E), decimal.New(g.TaxFixed.C, g.TaxFixed.E)
			if g.TaxFixed == (money.Fixed{}) {
				g.Tax = decimal.Decimal{}
			}
			g.Fixed, g.AmountFixed, g.TaxFixed = false, money.Fixed{}, money.Fixed{}
		}
		if !reflect.DeepEqual(g, want[i]) {
			t.Errorf("record %d with Fixed:\n%+v\nwithout:\n%+v", i, g, want[i])
		}
	}
	if !got[0].Fixed || got[1].Fixed || !got[2].Fixed {
		t.Errorf("fast path taken: %v %v %v, want true false true", got[0].Fixed, got[1].Fixed, got[2].Fixed)
	}
}
