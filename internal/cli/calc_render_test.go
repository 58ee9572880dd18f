package cli

import (
	"bytes"
	"encoding/csv"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/taxagg/taxagg/internal/money"
	"github.com/taxagg/taxagg/internal/pipeline"
	"github.com/taxagg/taxagg/internal/rules"
	"github.com/taxagg/taxagg/internal/stream"
	"github.com/taxagg/taxagg/internal/txn"
)

// renderLine is a tax line given as text: rate ("" for none), taxable,
// exempt, non-taxable and amount.
type renderLine struct {
	tax                                       *rules.Tax
	rate, taxable, exempt, nonTaxable, amount string
}

func renderItem(t *testing.T, digits int32, fast bool, amounts []string, lines []renderLine) *pipeline.Item {
	t.Helper()
	it := &pipeline.Item{Tx: txn.Transaction{
		ID:       `ord "1", x`,
		Day:      txn.DateOf(2026, time.March, 4),
		Currency: money.Currency{Code: "XYZ", Digits: digits},
	}}
	for _, a := range amounts {
		it.Tx.Lines = append(it.Tx.Lines, txn.Line{Amount: decimal.RequireFromString(a), Quantity: decimal.New(1, 0)})
	}
	fixed := func(s string) (decimal.Decimal, money.Fixed) {
		d := decimal.RequireFromString(s)
		f, ok := money.FixedOf(d)
		if !ok {
			t.Fatalf("FixedOf(%s) failed", s)
		}
		return d, f
	}
	for _, l := range lines {
		tl := rules.TaxLine{Tax: l.tax, Reason: rules.ReasonStandardRated}
		if l.rate != "" {
			tl.Rate, tl.Fixed.Rate = fixed(l.rate)
			tl.HasRate = true
		}
		tl.Taxable, tl.Fixed.Taxable = fixed(l.taxable)
		tl.Exempt, tl.Fixed.Exempt = fixed(l.exempt)
		tl.NonTaxable, tl.Fixed.NonTaxable = fixed(l.nonTaxable)
		tl.Amount, tl.Fixed.Amount = fixed(l.amount)
		tl.Fixed.OK = fast
		it.Result.Lines = append(it.Result.Lines, tl)
	}
	return it
}

// TestCalcRenderFastMatchesDecimal checks that the fixed-point rendering
// gives the bytes of the decimal one, in every format.
func TestCalcRenderFastMatchesDecimal(t *testing.T) {
	ca := &rules.Tax{ID: "ca-state", Jurisdiction: &rules.Jurisdiction{Code: "US-CA"}}
	odd := &rules.Tax{ID: "t\"ax\n\x01é", Jurisdiction: &rules.Jurisdiction{Code: "X\\Y"}}
	tests := []struct {
		name    string
		digits  int32
		amounts []string
		lines   []renderLine
	}{
		{"no lines", 2, []string{"10.00"}, nil},
		{"standard", 2, []string{"129.99"}, []renderLine{{ca, "0.0725", "129.99", "0", "0.00", "9.42"}}},
		{"exact amount", 2, []string{"1.5", "2.25"}, []renderLine{{ca, "0.07250", "3.75", "0", "0", "0.271875"}}},
		{"refund", 2, []string{"-3"}, []renderLine{{ca, "5", "-3.00", "-0", "0", "-15.000"}, {odd, "", "0", "-3", "0", "-0.1"}}},
		{"two rates of one tax", 2, []string{"10", "20"}, []renderLine{{ca, "0.0725", "10", "0", "0", "0.73"}, {ca, "0.05", "20", "0", "0", "1.00"}}},
		{"same rate two exponents", 3, []string{"1"}, []renderLine{{ca, "0.05", "1", "0", "0", "0.05"}, {ca, "0.0500", "1", "0", "0", "0.0500"}}},
		{"no minor unit", 0, []string{"100", "7"}, []renderLine{{ca, "1E1", "107", "0", "0", "10.7"}, {odd, "0.1", "107", "0", "0", "11"}}},
		{"big", 2, []string{"123456789012345.67"}, []renderLine{{ca, "0.123456789", "123456789012345.67", "0", "0", "15241578753238.80"}}},
	}
	for _, tt := range tests {
		for _, format := range []stream.OutputFormat{stream.OutputNDJSON, stream.OutputJSON, stream.OutputCSV, stream.OutputTable} {
			slow := renderItem(t, tt.digits, false, tt.amounts, tt.lines)
			fast := renderItem(t, tt.digits, true, tt.amounts, tt.lines)
			ws, wf := &calcWorker{format: format}, &calcWorker{format: format}
			ws.Render(slow)
			wf.Render(fast)
			wf.Render(fast) // again, from the caches
			if !bytes.Equal(fast.Out, slow.Out) {
				t.Errorf("%s, format %v:\nfast %s\nslow %s", tt.name, format, fast.Out, slow.Out)
			}
		}
	}
}

// TestCalcRenderCSVMatchesEncodingCSV checks the CSV rows made in the
// workers against encoding/csv fed the values of the table rows
// (calcRows): one row per tax line, or one with empty tax columns.
func TestCalcRenderCSVMatchesEncodingCSV(t *testing.T) {
	ca := &rules.Tax{ID: "ca-state", Jurisdiction: &rules.Jurisdiction{Code: "US-CA"}}
	odd := &rules.Tax{ID: "t\"ax,\n", Jurisdiction: &rules.Jurisdiction{Code: " X"}}
	for _, lines := range [][]renderLine{
		nil,
		{{ca, "0.0725", "129.99", "0", "0.00", "9.42"}},
		{{ca, "0.0725", "129.99", "0", "0.00", "9.42"}, {odd, "", "0", "0", "129.99", "0.50"}},
	} {
		it := renderItem(t, 2, true, []string{"129.99"}, lines)
		w := &calcWorker{format: stream.OutputCSV}
		w.Render(it)
		var want bytes.Buffer
		cw := csv.NewWriter(&want)
		n := 0
		calcRows(it, false, func(vals []string) { cw.Write(vals); n++ })
		cw.Flush()
		if got := string(it.Out); got != want.String() {
			t.Errorf("got %q, want %q", got, want.String())
		}
		if want := max(len(lines), 1); n != want {
			t.Errorf("%d rows, want %d", n, want)
		}
	}
}

func TestCalcRenderAllocs(t *testing.T) {
	ca := &rules.Tax{ID: "ca-state", Jurisdiction: &rules.Jurisdiction{Code: "US-CA"}}
	la := &rules.Tax{ID: "la-county", Jurisdiction: &rules.Jurisdiction{Code: "US-CA-LA"}}
	lines := []renderLine{{ca, "0.0725", "129.99", "0", "0.00", "9.42"}, {la, "0.0225", "129.99", "0", "0.00", "2.92"}}
	for _, format := range []stream.OutputFormat{stream.OutputNDJSON, stream.OutputJSON, stream.OutputCSV} {
		it := renderItem(t, 2, true, []string{"100.00", "29.99"}, lines)
		w := &calcWorker{format: format}
		w.Render(it)
		if n := testing.AllocsPerRun(100, func() { w.Render(it) }); n != 0 {
			t.Errorf("format %v: %v allocations per record, want 0", format, n)
		}
	}
}

// TestAppendFieldsMatchesMembers checks the copy of runs of members
// against appending the members one by one, on records written compactly
// and not: spaces, escaped keys, the fields calc replaces anywhere.
func TestAppendFieldsMatchesMembers(t *testing.T) {
	records := []string{
		`{"id":"a","date":"2025-01-02","currency":"USD","amount":"1.00","state":"CA"}`,
		`{ "id" : "a", "date":"2025-01-02" ,"currency":"USD","amount":"1.00"}`,
		`{"taxes":[1,2],"id":"a","date":"2025-01-02","currency":"USD","amount":"1.00","tax_total":"9"}`,
		`{"id":"a","tax_total":"9","date":"2025-01-02","taxes":null,"currency":"USD","amount":"1.00","tax_difference":"1"}`,
		`{"i\u0064":"a","date":"2025-01-02","currency":"USD","amount":"1.00","x":{"a":[1, 2]},"y":null}`,
		"{\"id\":\"a\",\n\"date\":\"2025-01-02\",\t\"currency\":\"USD\",\"amount\":\"1.00\"}",
	}
	reference := func(fields []txn.RawField) []byte {
		dst := []byte{'{'}
		n := 0
		for _, fld := range fields {
			if k := string(fld.Key); k == "taxes" || k == "tax_total" || k == "tax_difference" {
				continue
			}
			if n > 0 {
				dst = append(dst, ',')
			}
			n++
			dst = append(dst, fld.RawKey...)
			dst = append(dst, ':')
			dst = append(dst, fld.Value...)
		}
		return dst
	}
	p := txn.NewParser(txn.ParseOptions{})
	for _, rec := range records {
		// Within a larger buffer, as the reader's batches hold records.
		buf := []byte("{\"z\":1}\n" + rec + "\n{\"z\":2}")
		text := buf[8 : 8+len(rec)]
		var tx txn.Transaction
		_ = p.ParseJSON(text, &tx) // not a valid transaction: the members are what counts
		fields := p.Fields()
		if len(fields) == 0 {
			t.Fatalf("%s: no fields", rec)
		}
		if _, _, ok := compact(text, fields); ok != (rec == records[0] || rec == records[4]) {
			t.Errorf("%s: compact %v", rec, ok)
		}
		got, _ := appendFields([]byte{'{'}, text, fields)
		if want := reference(fields); !bytes.Equal(got, want) {
			t.Errorf("%s:\ngot  %s\nwant %s", rec, got, want)
		}
		// Fields that are not slices of the text given are appended one
		// by one.
		other := append([]byte(nil), text...)
		if got, _ := appendFields([]byte{'{'}, other, fields); !bytes.Equal(got, reference(fields)) {
			t.Errorf("%s, another text:\ngot  %s", rec, got)
		}
	}
}
