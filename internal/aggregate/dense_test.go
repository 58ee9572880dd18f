package aggregate

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/taxagg/taxagg/internal/money"
	"github.com/taxagg/taxagg/internal/rules"
	"github.com/taxagg/taxagg/internal/txn"
)

// denseRulesYAML uses the features that change a tax's figures and
// exponents: rates of different scales over time, taxability, tiers,
// compound and fixed taxes, every rounding level, exemptions.
const denseRulesYAML = `version: 1
jurisdictions:
  - code: US-TX
    name: Texas
    level: state
    match: {country: US, state: TX}
    taxes:
      - id: tx-sales
        rates:
          - {from: 2020-01-01, to: 2025-03-01, rate: "6.25%"}
          - {from: 2025-03-01, rate: "0.07"}
        taxability:
          food: exempt
          saas: {portion: "80%"}
          digital: {rate: "2.125%", exempt_below: "5.00"}
      - id: tx-fee
        fixed: "0.35"
        rates: [{from: 2020-01-01}]
  - code: US-TX-CITY
    name: City
    level: city
    match: {country: US, state: TX, city: Austin}
    taxes:
      - id: city-sales
        rates: [{from: 2020-01-01, rate: "2%"}]
        compound_on: [tx-sales]
        rounding: {mode: half_even, level: transaction}
      - id: city-tier
        rates: [{from: 2020-01-01, rate: "1.5%"}]
        tiers:
          per: unit
          brackets:
            - {up_to: "1600.00"}
            - {up_to: "3200.00", rate: "2.75%"}
            - {rate: "0%"}
        rounding: {mode: up, level: aggregate}
  - code: GB
    name: United Kingdom
    level: country
    match: {country: GB}
    taxes:
      - id: gb-vat
        rates: [{from: 2020-01-01, rate: "20%"}]
        taxability: {food: "0%"}
        rounding: {mode: down, level: line}
exemptions:
  - {customer: cus_1, jurisdictions: ["US-TX-CITY"], from: 2024-06-01}
`

func randomDenseTx(r *rand.Rand, i int) *txn.Transaction {
	day := txn.DateOf(2024+r.IntN(2), time.Month(1+r.IntN(12)), 1+r.IntN(28))
	cur, _ := money.LookupCurrency([]string{"USD", "USD", "USD", "EUR", "JPY", "BHD"}[r.IntN(6)])
	tx := &txn.Transaction{
		ID: fmt.Sprint("t", i), Day: day, RateDay: day, Currency: cur,
		Country: []string{"US", "US", "GB", "FR"}[r.IntN(4)], State: "TX",
		City:     []string{"Austin", "Dallas"}[r.IntN(2)],
		Refund:   r.IntN(5) == 0,
		Customer: []string{"", "cus_1", "cus_2"}[r.IntN(3)],
	}
	for n := 1 + r.IntN(3); n > 0; n-- {
		var amt decimal.Decimal
		switch r.IntN(12) {
		case 0:
			// Huge: int64 sums overflow after a few records, and some
			// products overflow the plan itself (the decimal path).
			amt = decimal.New(r.Int64N(math.MaxInt64/4), -cur.Digits)
		case 1:
			amt = decimal.New(int64(r.IntN(100)), 0) // no fraction digits
		case 2:
			amt = decimal.New(r.Int64N(1_000_000), -cur.Digits-2) // more places than the currency
		default:
			amt = decimal.New(r.Int64N(1_000_000), -cur.Digits)
		}
		qty := decimal.New(int64(1+r.IntN(5)), 0)
		if r.IntN(6) == 0 {
			qty = decimal.New(int64(1+r.IntN(300)), -2)
		}
		tx.Lines = append(tx.Lines, txn.Line{Amount: amt, Quantity: qty,
			Product: []string{"food", "saas", "physical", "digital"}[r.IntN(4)]})
	}
	return tx
}

// sameRows reports how two sets of rows differ, every figure compared
// with its exponent (which decides how tax_exact prints), or "".
func sameRows(got, want []Row) string {
	if len(got) != len(want) {
		return fmt.Sprintf("%d rows, want %d", len(got), len(want))
	}
	for i := range got {
		g, w := &got[i], &want[i]
		if g.Jurisdiction != w.Jurisdiction || g.Tax != w.Tax || g.Currency != w.Currency || g.Period != w.Period ||
			g.Digits != w.Digits || g.HasRate != w.HasRate || g.Transactions != w.Transactions ||
			g.HasRate && g.Rate.String() != w.Rate.String() {
			return fmt.Sprintf("row %d: %+v, want %+v", i, *g, *w)
		}
		for _, f := range []struct {
			name string
			g, w decimal.Decimal
		}{
			{"gross", g.Gross, w.Gross}, {"exempt", g.Exempt, w.Exempt}, {"non_taxable", g.NonTaxable, w.NonTaxable},
			{"taxable", g.Taxable, w.Taxable}, {"tax", g.TaxAmount, w.TaxAmount}, {"exact", g.TaxExact, w.TaxExact},
		} {
			if f.g.String() != f.w.String() || f.g.Exponent() != f.w.Exponent() {
				return fmt.Sprintf("row %d (%s %s %s) %s: %v (exp %d), want %v (exp %d)",
					i, g.Tax, g.Currency, g.Period, f.name, f.g, f.g.Exponent(), f.w, f.w.Exponent())
			}
		}
	}
	return ""
}

// TestCompactAccumulate: the same random transactions evaluated by the
// decimal reference (lines), by the plans (lines with Fixed figures) and
// compact (slots into dense rows) give the same rows, figure for figure
// and exponent for exponent, for every period, split over merged
// accumulators or not.
func TestCompactAccumulate(t *testing.T) {
	p, err := rules.Compile([]rules.Source{{Name: "r.yaml", Data: []byte(denseRulesYAML)}})
	if err != nil {
		t.Fatal(err)
	}
	for seed := uint64(0); seed < 20; seed++ {
		for _, period := range []Period{PeriodNone, PeriodMonth, PeriodDay} {
			r := rand.New(rand.NewPCG(seed, 7))
			ref := p.NewEvaluator(true) // tracing: the decimal path alone
			lines := p.NewEvaluator(false)
			lines.FixedOnly()
			compact := p.NewEvaluator(false)
			compact.Compact()
			opt := Options{Period: period}
			refAcc, linesAcc := New(opt), New(opt)
			split := []*Accumulator{New(opt), New(opt), New(opt)}
			var res rules.Result
			slots := 0
			for i := 0; i < 400; i++ {
				tx := randomDenseTx(r, i)
				if err := ref.Eval(tx, &res); err != nil {
					t.Fatal(err)
				}
				refAcc.Add(tx, &res)
				if err := lines.Eval(tx, &res); err != nil {
					t.Fatal(err)
				}
				linesAcc.Add(tx, &res)
				if err := compact.Eval(tx, &res); err != nil {
					t.Fatal(err)
				}
				if len(res.Slots) > 0 {
					slots++
				}
				split[r.IntN(len(split))].Add(tx, &res)
			}
			if slots < 200 {
				t.Fatalf("seed %d: only %d compact results", seed, slots)
			}
			want := refAcc.Rows()
			if d := sameRows(linesAcc.Rows(), want); d != "" {
				t.Fatalf("seed %d period %d: lines: %s", seed, period, d)
			}
			split[1].Merge(split[2])
			split[0].Merge(split[1])
			if d := sameRows(split[0].Rows(), want); d != "" {
				t.Fatalf("seed %d period %d: compact: %s", seed, period, d)
			}
		}
	}
}

// TestDenseMatchesSums: random figures of random exponents, some close to
// the int64 limits, added through the dense rows (with their spills into
// the map) leave exactly the money.Sum that adds them one by one.
func TestDenseMatchesSums(t *testing.T) {
	p, err := rules.Compile([]rules.Source{{Name: "r.yaml", Data: []byte(denseRulesYAML)}})
	if err != nil {
		t.Fatal(err)
	}
	usd, _ := money.LookupCurrency("USD")
	nt := len(p.Taxes)
	for seed := uint64(0); seed < 200; seed++ {
		r := rand.New(rand.NewPCG(seed, 9))
		acc := New(Options{})
		want := make([][rules.NumFigures]money.Sum, nt)
		count := make([]int64, nt)
		var batch []rules.SlotSums
		for i := 0; i < 300; i++ {
			batch = batch[:0]
			for slot := range nt {
				if r.IntN(2) == 0 {
					continue
				}
				s := rules.SlotSums{Slot: int32(slot)}
				for k := range s.C {
					switch r.IntN(8) {
					case 0:
						s.C[k] = r.Int64() - math.MaxInt64/2*int64(r.IntN(3)) // huge, either sign
					case 1:
						// zero: leaves the exponent alone
					default:
						s.C[k] = r.Int64N(2_000_000) - 1_000_000
					}
					s.E[k] = int8(r.IntN(9) - 7) // -7 .. 1
					if r.IntN(4) != 0 {
						s.E[k] = -2 // mostly one exponent, as in a run
					}
					want[slot][k].Add(s.Figure(k))
				}
				count[slot]++
				batch = append(batch, s)
			}
			acc.addSlots(p, usd, 0, batch)
		}
		rows := acc.Sums()
		seen := 0
		for _, row := range rows {
			slot := row.Tax.Order()
			seen++
			if row.Transactions != count[slot] {
				t.Fatalf("seed %d tax %s: %d transactions, want %d", seed, row.Tax.ID, row.Transactions, count[slot])
			}
			for k := range row.Sums {
				g, w := row.Sums[k].Decimal(), want[slot][k].Decimal()
				if g.String() != w.String() || g.Exponent() != w.Exponent() {
					t.Fatalf("seed %d tax %s figure %d: %v (exp %d), want %v (exp %d)", seed, row.Tax.ID, k, g, g.Exponent(), w, w.Exponent())
				}
			}
		}
		for slot := range nt {
			if count[slot] > 0 {
				seen--
			}
		}
		if seen != 0 {
			t.Fatalf("seed %d: %d rows too many", seed, seen)
		}
	}
}

// TestDenseBounded: past maxDenseRows, groups (here one per day) go to
// the map alone, with the same rows.
func TestDenseBounded(t *testing.T) {
	p, err := rules.Compile([]rules.Source{{Name: "r.yaml", Data: []byte(denseRulesYAML)}})
	if err != nil {
		t.Fatal(err)
	}
	usd, _ := money.LookupCurrency("USD")
	acc := New(Options{Period: PeriodDay})
	s := []rules.SlotSums{{Slot: 0, E: [rules.NumFigures]int8{-2, -2, -2, -2, -2, -4}, C: [rules.NumFigures]int64{100, 0, 0, 100, 6, 625}}}
	groups := maxDenseRows/len(p.Taxes) + 10
	for d := range groups {
		for range 2 {
			acc.addSlots(p, usd, txn.DateOf(2020, 1, 1+d), s)
		}
	}
	if acc.denseRows > maxDenseRows {
		t.Fatalf("%d dense rows, bound %d", acc.denseRows, maxDenseRows)
	}
	rows := acc.Rows()
	if len(rows) != groups {
		t.Fatalf("%d rows, want %d", len(rows), groups)
	}
	for _, r := range rows {
		if r.Transactions != 2 || r.Gross.String() != "2" || r.Gross.Exponent() != -2 || r.TaxExact.String() != "0.125" {
			t.Fatalf("row %+v", r)
		}
	}
}
