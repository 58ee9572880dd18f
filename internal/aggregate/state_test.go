package aggregate

import (
	"fmt"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/taxagg/taxagg/internal/money"
	"github.com/taxagg/taxagg/internal/rules"
	"github.com/taxagg/taxagg/internal/txn"
)

// TestStateRestore saves an accumulator's rows and restores them into a
// new one, in two halves merged as a consumer of two partitions would:
// the rows print the same.
func TestStateRestore(t *testing.T) {
	for _, opt := range []Options{{}, {Period: PeriodMonth}, {ByRate: true}, {Period: PeriodDay, ByRate: true}} {
		t.Run(fmt.Sprintf("%+v", opt), func(t *testing.T) {
			a := New(opt)
			b1, b2 := New(opt), New(opt)
			txs := sampleTransactions(t)
			for i, tx := range txs {
				a.Add(&tx.tx, &tx.res)
				if i%2 == 0 {
					b1.Add(&tx.tx, &tx.res)
				} else {
					b2.Add(&tx.tx, &tx.res)
				}
			}
			r := New(opt)
			for _, s := range b1.Sums() {
				if err := r.Restore(s); err != nil {
					t.Fatal(err)
				}
			}
			for _, s := range b2.Clone().Sums() {
				if err := r.Restore(s); err != nil {
					t.Fatal(err)
				}
			}
			if got, want := fmt.Sprint(r.Rows()), fmt.Sprint(a.Rows()); got != want {
				t.Errorf("restored rows\n got %s\nwant %s", got, want)
			}
			// Adding after a restore goes on from the restored sums.
			more := txs[0]
			a.Add(&more.tx, &more.res)
			r.Add(&more.tx, &more.res)
			if got, want := fmt.Sprint(r.Rows()), fmt.Sprint(a.Rows()); got != want {
				t.Errorf("after one more\n got %s\nwant %s", got, want)
			}
		})
	}
}

func TestRestoreKeepsExponent(t *testing.T) {
	a := New(Options{})
	for _, tx := range sampleTransactions(t)[:1] {
		a.Add(&tx.tx, &tx.res)
	}
	st := a.Sums()
	st[0].Sums[FigExact] = money.Sum{}
	st[0].Sums[FigExact].AddDecimal(decimal.RequireFromString("1.2345600"))
	r := New(Options{})
	if err := r.Restore(st[0]); err != nil {
		t.Fatal(err)
	}
	if got := r.Rows()[0].TaxExact; got.Exponent() != -7 || got.String() != "1.23456" {
		t.Errorf("restored tax_exact %s with exponent %d, want 1.2345600 (exponent -7)", got, got.Exponent())
	}
}

func TestPeriodStart(t *testing.T) {
	tests := []struct {
		p     Period
		label string
		want  string // the first day, or "" for an error
	}{
		{PeriodNone, "", "1970-01-01"}, {PeriodNone, "2026", ""},
		{PeriodDay, "2026-02-28", "2026-02-28"}, {PeriodDay, "2026-02-30", ""},
		{PeriodMonth, "2026-02", "2026-02-01"}, {PeriodMonth, "2026-13", ""}, {PeriodMonth, "2026-2", ""},
		{PeriodQuarter, "2026-Q3", "2026-07-01"}, {PeriodQuarter, "2026-Q5", ""}, {PeriodQuarter, "2026-03", ""},
		{PeriodYear, "2026", "2026-01-01"}, {PeriodYear, "26", ""},
	}
	for _, tt := range tests {
		d, err := tt.p.start(tt.label)
		switch {
		case tt.want == "" && err == nil:
			t.Errorf("period %d label %q: %s, want an error", tt.p, tt.label, d)
		case tt.want != "" && (err != nil || d.String() != tt.want):
			t.Errorf("period %d label %q: %s, %v; want %s", tt.p, tt.label, d, err, tt.want)
		}
	}
}

type evaluated struct {
	tx  txn.Transaction
	res rules.Result
}

// sampleTransactions are the transactions of TestAccumulate, evaluated,
// over two months.
func sampleTransactions(t *testing.T) []evaluated {
	p, err := rules.Compile([]rules.Source{{Name: "r.yaml", Data: []byte(rulesYAML)}})
	if err != nil {
		t.Fatal(err)
	}
	var out []evaluated
	for i, c := range []struct {
		id, country, cur string
		refund           bool
		amounts          []string
	}{
		{"t1", "A", "EUR", false, []string{"100.00", "50.00"}},
		{"t2", "A", "EUR", false, []string{"10.00"}},
		{"t3", "A", "USD", false, []string{"10.00"}},
		{"t4", "A", "EUR", true, []string{"10.00"}},
		{"t5", "B", "EUR", false, []string{"0.01"}},
		{"t6", "B", "EUR", false, []string{"0.01"}},
		{"t7", "B", "EUR", false, []string{"0.015"}},
	} {
		tx, res := evalTx(t, p, c.id, c.country, c.cur, c.refund, c.amounts...)
		if i%2 == 1 {
			tx.Day = txn.DateOf(2025, time.June, 3)
		}
		out = append(out, evaluated{*tx, *res})
	}
	return out
}
