package aggregate

import (
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/taxagg/taxagg/internal/money"
	"github.com/taxagg/taxagg/internal/rules"
	"github.com/taxagg/taxagg/internal/txn"
)

func TestPeriodLabels(t *testing.T) {
	d := txn.DateOf(2026, time.August, 14)
	tests := []struct {
		p    Period
		want string
	}{
		{PeriodNone, ""}, {PeriodDay, "2026-08-14"}, {PeriodMonth, "2026-08"},
		{PeriodQuarter, "2026-Q3"}, {PeriodYear, "2026"},
	}
	for _, tt := range tests {
		if got := tt.p.Label(d); got != tt.want {
			t.Errorf("Label(%v) = %q, want %q", tt.p, got, tt.want)
		}
		if got := tt.p.Label(tt.p.key(d)); got != tt.want {
			t.Errorf("the period key of %v labels %q, want %q", tt.p, got, tt.want)
		}
	}
	if _, err := ParsePeriod("week"); err == nil {
		t.Error("ParsePeriod(week) accepted")
	}
}

const rulesYAML = `version: 1
jurisdictions:
  - {code: A, name: A, level: country, match: {country: A}, taxes: [{id: a-vat, rates: [{from: 2020-01-01, rate: "10%"}], taxability: {food: "5%"}}]}
  - {code: B, name: B, level: country, match: {country: B}, taxes: [{id: b-vat, rates: [{from: 2020-01-01, rate: "20%"}], rounding: {level: aggregate}}]}
`

func evalTx(t *testing.T, p *rules.Program, id, country, cur string, refund bool, amounts ...string) (*txn.Transaction, *rules.Result) {
	t.Helper()
	c, _ := money.LookupCurrency(cur)
	d := txn.DateOf(2025, time.May, 1)
	tx := &txn.Transaction{ID: id, Day: d, RateDay: d, Currency: c, Country: country, Refund: refund}
	for i, a := range amounts {
		product := "default"
		if i%2 == 1 {
			product = "food"
		}
		tx.Lines = append(tx.Lines, txn.Line{Amount: decimal.RequireFromString(a), Quantity: decimal.New(1, 0), Product: product})
	}
	var res rules.Result
	if err := p.NewEvaluator(false).Eval(tx, &res); err != nil {
		t.Fatal(err)
	}
	return tx, &res
}

func TestAccumulate(t *testing.T) {
	p, err := rules.Compile([]rules.Source{{Name: "r.yaml", Data: []byte(rulesYAML)}})
	if err != nil {
		t.Fatal(err)
	}
	for _, byRate := range []bool{false, true} {
		// Two accumulators merged must equal one that saw everything.
		one, a, b := New(Options{ByRate: byRate}), New(Options{ByRate: byRate}), New(Options{ByRate: byRate})
		add := func(acc *Accumulator, id, country, cur string, refund bool, amounts ...string) {
			tx, res := evalTx(t, p, id, country, cur, refund, amounts...)
			acc.Add(tx, res)
			tx, res = evalTx(t, p, id, country, cur, refund, amounts...)
			one.Add(tx, res)
		}
		add(a, "t1", "A", "EUR", false, "100.00", "50.00") // two rates in one transaction
		add(b, "t2", "A", "EUR", false, "10.00")
		add(b, "t3", "A", "USD", false, "10.00") // another currency: another row
		add(a, "t4", "A", "EUR", true, "10.00")  // refund
		add(a, "t5", "B", "EUR", false, "0.01")  // 0.002 tax, rounded only in the total
		add(b, "t6", "B", "EUR", false, "0.01")
		a.Merge(b)
		got, want := a.Rows(), one.Rows()
		if len(got) != len(want) {
			t.Fatalf("merged %d rows, single %d", len(got), len(want))
		}
		for i := range got {
			g, w := got[i], want[i]
			if g.Jurisdiction != w.Jurisdiction || g.Currency != w.Currency || !g.TaxAmount.Equal(w.TaxAmount) ||
				g.Transactions != w.Transactions || !g.Gross.Equal(w.Gross) || !g.Rate.Equal(w.Rate) {
				t.Errorf("byRate=%v row %d: merged %+v, single %+v", byRate, i, g, w)
			}
		}
		if byRate {
			// A/EUR splits into the 5% row (t1's food line) and the 10% row (t1, t2, t4).
			if len(got) != 4 || got[0].Rate.String() != "0.05" || got[0].Transactions != 1 ||
				got[1].Rate.String() != "0.1" || got[1].Transactions != 3 {
				t.Fatalf("by-rate rows: %+v", got)
			}
			continue
		}
		// A/EUR: t1 counts once although it has two lines; the refund counts
		// negative: gross 150 + 10 - 10.
		r := got[0]
		if r.Jurisdiction != "A" || r.Currency != "EUR" || r.Transactions != 3 || r.Gross.StringFixed(2) != "150.00" ||
			r.TaxAmount.StringFixed(2) != "12.50" {
			t.Errorf("A/EUR row: %+v", r)
		}
		if r := got[1]; r.Currency != "USD" || r.TaxAmount.StringFixed(2) != "1.00" {
			t.Errorf("A/USD row: %+v", r)
		}
		// B rounds once per row: 0.002 + 0.002 = 0.004 -> 0.00, exact 0.004.
		if r := got[2]; r.Jurisdiction != "B" || r.TaxAmount.StringFixed(2) != "0.00" || r.TaxExact.String() != "0.004" {
			t.Errorf("B row: tax %s exact %s", r.TaxAmount, r.TaxExact)
		}
	}
}
