package aggregate

import (
	"fmt"
	"testing"
	"time"

	"github.com/shopspring/decimal"

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
			for _, s := range b1.State() {
				r.Restore(s)
			}
			for _, s := range b2.Clone().State() {
				r.Restore(s)
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
	st := a.State()
	st[0].TaxExact = decimal.RequireFromString("1.2345600")
	r := New(Options{})
	r.Restore(st[0])
	if got := r.State()[0].TaxExact; got.Exponent() != -7 || got.String() != "1.23456" {
		t.Errorf("restored tax_exact %s with exponent %d, want 1.2345600 (exponent -7)", got, got.Exponent())
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
