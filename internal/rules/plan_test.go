package rules

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/shopspring/decimal"

	"github.com/taxagg/taxagg/internal/money"
	"github.com/taxagg/taxagg/internal/txn"
)

// randomRules writes a small random rule file that uses every feature the
// engine has: overlapping jurisdictions, dated rates, taxability (exempt,
// reduced, portion, exempt_below), tiers per unit, line and transaction,
// compound and fixed taxes, every rounding mode and level, exemptions.
func randomRules(r *rand.Rand) string {
	var b strings.Builder
	rate := func() string {
		if r.IntN(2) == 0 {
			return fmt.Sprintf("\"%d.%03d%%\"", r.IntN(12), r.IntN(1000))
		}
		return fmt.Sprintf("\"0.%05d\"", r.IntN(20000))
	}
	money := func() string { return fmt.Sprintf("\"%d.%02d\"", r.IntN(3000), r.IntN(100)) }
	b.WriteString("version: 1\njurisdictions:\n")
	nj := 1 + r.IntN(4)
	var ids []string
	for j := 0; j < nj; j++ {
		fmt.Fprintf(&b, "  - code: US-J%d\n    name: J%d\n    level: state\n", j, j)
		switch r.IntN(4) {
		case 0:
			b.WriteString("    match: {country: US}\n")
		case 1:
			b.WriteString("    match: {country: US, state: [TX, CA]}\n")
		case 2:
			b.WriteString("    match: {country: US, postal_code: \"78*\"}\n")
		default:
			b.WriteString("    match: {country: US, state: TX, city: \"Austin\"}\n")
		}
		b.WriteString("    taxes:\n")
		nt := 1 + r.IntN(2)
		for k := 0; k < nt; k++ {
			id := fmt.Sprintf("t%d-%d", j, k)
			fmt.Fprintf(&b, "      - id: %s\n", id)
			if r.IntN(8) == 0 {
				fmt.Fprintf(&b, "        fixed: %s\n", money())
			}
			if r.IntN(3) == 0 {
				fmt.Fprintf(&b, "        rates:\n          - {from: 2020-01-01, to: 2025-03-01, rate: %s}\n          - {from: 2025-03-01, rate: %s}\n", rate(), rate())
			} else {
				fmt.Fprintf(&b, "        rates: [{from: 2020-01-01, rate: %s}]\n", rate())
			}
			b.WriteString("        taxability:\n")
			for _, p := range []string{"food", "saas", "default"} {
				switch r.IntN(6) {
				case 0:
					fmt.Fprintf(&b, "          %s: exempt\n", p)
				case 1:
					fmt.Fprintf(&b, "          %s: %s\n", p, rate())
				case 2:
					fmt.Fprintf(&b, "          %s: {portion: \"%d%%\"}\n", p, r.IntN(101))
				case 3:
					fmt.Fprintf(&b, "          %s: {rate: %s, portion: \"0.%d\", exempt_below: %s}\n", p, rate(), r.IntN(10), money())
				}
			}
			if r.IntN(3) == 0 {
				per := []string{"unit", "line", "transaction"}[r.IntN(3)]
				fmt.Fprintf(&b, "        tiers:\n          per: %s\n          brackets:\n", per)
				nb := 1 + r.IntN(3)
				up := 0
				for x := 0; x < nb; x++ {
					up += 1 + r.IntN(2000)
					line := fmt.Sprintf("            - {up_to: \"%d.%02d\"", up, r.IntN(100))
					if x == nb-1 && r.IntN(2) == 0 {
						line = "            - {"
						if r.IntN(2) == 0 {
							line += "rate: " + rate() + "}\n"
						} else {
							line = "            - {rate: \"0%\"}\n"
						}
						b.WriteString(line)
						break
					}
					if r.IntN(2) == 0 {
						line += ", rate: " + rate()
					}
					b.WriteString(line + "}\n")
				}
			}
			if len(ids) > 0 && r.IntN(3) == 0 {
				fmt.Fprintf(&b, "        compound_on: [%s]\n", ids[r.IntN(len(ids))])
			}
			if r.IntN(2) == 0 {
				mode := []string{"half_up", "half_even", "up", "down"}[r.IntN(4)]
				level := []string{"line", "transaction", "aggregate"}[r.IntN(3)]
				fmt.Fprintf(&b, "        rounding: {mode: %s, level: %s}\n", mode, level)
			}
			ids = append(ids, id)
		}
	}
	if r.IntN(2) == 0 {
		b.WriteString("exemptions:\n  - {customer: cus_1, jurisdictions: [\"US-J1*\"], from: 2024-06-01}\n")
	}
	return b.String()
}

func randomTx(r *rand.Rand, cur money.Currency) *txn.Transaction {
	day := txn.DateOf(2024+r.IntN(2), time.Month(1+r.IntN(12)), 1+r.IntN(28))
	tx := &txn.Transaction{
		ID: "t", Day: day, RateDay: day, Currency: cur, Country: "US",
		State: []string{"TX", "CA", "NY"}[r.IntN(3)], City: []string{"Austin", "AUSTIN", ""}[r.IntN(3)],
		PostalCode: []string{"78701", "90210", "78701-1234"}[r.IntN(3)],
		Refund:     r.IntN(5) == 0,
		Customer:   []string{"", "cus_1", "cus_2"}[r.IntN(3)],
	}
	if r.IntN(20) == 0 {
		tx.ExemptReason = "resale"
	}
	nl := 1 + r.IntN(3)
	for i := 0; i < nl; i++ {
		var amt decimal.Decimal
		switch r.IntN(10) {
		case 0:
			amt = decimal.New(r.Int64N(1e18), -cur.Digits) // huge: may need the decimal path
		case 1:
			amt = decimal.New(int64(r.IntN(100)), 0)
		default:
			amt = decimal.New(r.Int64N(1_000_000), -cur.Digits)
		}
		qty := decimal.New(int64(1+r.IntN(5)), 0)
		if r.IntN(6) == 0 {
			qty = decimal.New(int64(1+r.IntN(300)), -2)
		}
		tx.Lines = append(tx.Lines, txn.Line{
			Amount: amt, Quantity: qty,
			Product:     []string{"food", "saas", "physical", "Food"}[r.IntN(4)],
			TaxIncluded: r.IntN(10) == 0,
		})
	}
	return tx
}

func sameDecimal(a, b decimal.Decimal) bool {
	return a.Equal(b) && (a.Exponent() == b.Exponent() || a.IsZero() && b.IsZero() && a.String() == b.String())
}

// diffResults describes how two results differ, or returns "".
func diffResults(got, want *Result) string {
	if len(got.Lines) != len(want.Lines) {
		return fmt.Sprintf("%d lines, want %d", len(got.Lines), len(want.Lines))
	}
	for i := range got.Lines {
		g, w := &got.Lines[i], &want.Lines[i]
		if g.Tax != w.Tax || g.HasRate != w.HasRate || g.Reason != w.Reason || !sameDecimal(g.Rate, w.Rate) {
			return fmt.Sprintf("line %d: %s %v %v %v, want %s %v %v %v", i, g.Tax.ID, g.Rate, g.HasRate, g.Reason, w.Tax.ID, w.Rate, w.HasRate, w.Reason)
		}
		for _, f := range []struct {
			name string
			g, w decimal.Decimal
		}{
			{"gross", g.Gross, w.Gross}, {"exempt", g.Exempt, w.Exempt}, {"non_taxable", g.NonTaxable, w.NonTaxable},
			{"taxable", g.Taxable, w.Taxable}, {"amount", g.Amount, w.Amount}, {"exact", g.Exact, w.Exact},
		} {
			if !sameDecimal(f.g, f.w) || f.g.Exponent() != f.w.Exponent() {
				return fmt.Sprintf("line %d (%s) %s: %v (exp %d), want %v (exp %d)", i, g.Tax.ID, f.name, f.g, f.g.Exponent(), f.w, f.w.Exponent())
			}
		}
		if g.Fixed.OK {
			fx := g.Fixed
			if w.HasRate {
				if f, ok := money.FixedOf(w.Rate); !ok || f != fx.Rate {
					return fmt.Sprintf("line %d: fixed rate %v, want %v", i, fx.Rate, w.Rate)
				}
			}
			for _, f := range []struct {
				v money.Fixed
				w decimal.Decimal
			}{{fx.Gross, w.Gross}, {fx.Exempt, w.Exempt}, {fx.NonTaxable, w.NonTaxable}, {fx.Taxable, w.Taxable}, {fx.Amount, w.Amount}, {fx.Exact, w.Exact}} {
				if !sameDecimal(f.v.Decimal(), f.w) {
					return fmt.Sprintf("line %d: fixed %v, want %v", i, f.v, f.w)
				}
			}
		}
	}
	return ""
}

// diffSlots describes how a compact result differs from the reference's
// lines, or returns "": a compact result with Slots has no Lines and one
// SlotSums per tax, in line order, each figure the sum of that tax's
// reference lines (as decimal.Decimal.Add sums them, exponent included);
// one without Slots (the decimal path) must equal the reference.
func diffSlots(got, want *Result) string {
	if len(got.Slots) == 0 {
		return diffResults(got, want)
	}
	if len(got.Lines) != 0 {
		return fmt.Sprintf("%d slots and %d lines", len(got.Slots), len(got.Lines))
	}
	k := 0
	for si := range got.Slots {
		s := &got.Slots[si]
		if k == len(want.Lines) {
			return fmt.Sprintf("slot %d (%s): no reference line left", si, got.SlotTax(s.Slot).ID)
		}
		t := want.Lines[k].Tax
		if got.SlotTax(s.Slot) != t || int(s.Slot) != t.Order() {
			return fmt.Sprintf("slot %d is tax %s, want %s", si, got.SlotTax(s.Slot).ID, t.ID)
		}
		var sums [NumFigures]decimal.Decimal
		for ; k < len(want.Lines) && want.Lines[k].Tax == t; k++ {
			w := &want.Lines[k]
			for f, v := range [NumFigures]decimal.Decimal{w.Gross, w.Exempt, w.NonTaxable, w.Taxable, w.Amount, w.Exact} {
				sums[f] = sums[f].Add(v)
			}
		}
		for f := range sums {
			if g := s.Figure(f).Decimal(); !sameDecimal(g, sums[f]) || g.Exponent() != sums[f].Exponent() {
				return fmt.Sprintf("slot %d (%s) figure %d: %v (exp %d), want %v (exp %d)", si, t.ID, f, g, g.Exponent(), sums[f], sums[f].Exponent())
			}
		}
	}
	if k != len(want.Lines) {
		return fmt.Sprintf("%d slots cover %d of %d reference lines", len(got.Slots), k, len(want.Lines))
	}
	return ""
}

// checkPlan evaluates random transactions under one random rule set by
// the compiled plans and by the decimal reference path and fails on any
// difference in any figure (exponent included), in coverage or in the
// jurisdictions. One Evaluator sees every transaction, so later ones reuse
// the plans (and cached addresses) of earlier ones.
func checkPlan(t *testing.T, seed uint64) (fast, slots, total int) {
	r := rand.New(rand.NewPCG(seed, 42))
	src := randomRules(r)
	p, err := Compile([]Source{{Name: "r.yaml", Data: []byte(src)}})
	if err != nil {
		return 0, 0, 0 // random rules can be invalid (a compound cycle cannot happen, but overlaps can)
	}
	ev := p.NewEvaluator(false)
	ref := p.NewEvaluator(false)
	ref.noPlans = true // the decimal reference alone
	cmp := p.NewEvaluator(false)
	cmp.Compact()
	var got, want, compact Result
	for i := 0; i < 30; i++ {
		cur, _ := money.LookupCurrency([]string{"USD", "USD", "JPY", "BHD"}[r.IntN(4)])
		tx := randomTx(r, cur)
		if r.IntN(6) == 0 {
			// Explicit jurisdiction codes, repeated or not.
			for k := r.IntN(3); k >= 0; k-- {
				tx.Jurisdictions = append(tx.Jurisdictions, p.Jurisdictions[r.IntN(len(p.Jurisdictions))].Code)
			}
		}
		errG := ev.Eval(tx, &got)
		errW := ref.Eval(tx, &want)
		if (errG == nil) != (errW == nil) || errG != nil && errG.Error() != errW.Error() {
			t.Fatalf("seed %d tx %d: error %v, want %v\nrules:\n%s", seed, i, errG, errW, src)
		}
		if got.Coverage != want.Coverage || len(got.Jurisdictions) != len(want.Jurisdictions) {
			t.Fatalf("seed %d tx %d: coverage %v, %d jurisdictions, want %v, %d", seed, i, got.Coverage, len(got.Jurisdictions), want.Coverage, len(want.Jurisdictions))
		}
		if d := diffResults(&got, &want); d != "" {
			t.Fatalf("seed %d tx %d (%+v): %s\nrules:\n%s", seed, i, tx, d, src)
		}
		errC := cmp.Eval(tx, &compact)
		if (errC == nil) != (errW == nil) || compact.Coverage != want.Coverage || len(compact.Jurisdictions) != len(want.Jurisdictions) {
			t.Fatalf("seed %d tx %d: compact: error %v, coverage %v, want %v, %v", seed, i, errC, compact.Coverage, errW, want.Coverage)
		}
		if d := diffSlots(&compact, &want); d != "" {
			t.Fatalf("seed %d tx %d (%+v): compact: %s\nrules:\n%s", seed, i, tx, d, src)
		}
		total++
		if len(got.Lines) > 0 && got.Lines[0].Fixed.OK {
			fast++
		}
		if len(compact.Slots) > 0 {
			slots++
		}
	}
	return fast, slots, total
}

func TestPlanMatchesDecimal(t *testing.T) {
	n := 400
	if testing.Short() {
		n = 50
	}
	fast, slots, total := 0, 0, 0
	for seed := uint64(0); seed < uint64(n); seed++ {
		f, s, tt := checkPlan(t, seed)
		fast += f
		slots += s
		total += tt
	}
	if total == 0 || fast < total/4 || slots < fast*9/10 {
		t.Fatalf("plan taken for %d of %d transactions, compact for %d: the test proves little", fast, total, slots)
	}
	t.Logf("plan taken for %d of %d transactions, compact for %d", fast, total, slots)
}

// FuzzPlan is the differential test of the compiled plans against the
// decimal reference path, on random rule sets and transactions.
func FuzzPlan(f *testing.F) {
	for s := uint64(0); s < 8; s++ {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, seed uint64) { checkPlan(t, seed) })
}

// TestPlansBounded: an input that reaches more distinct sets of
// jurisdictions than the plan table holds (here through explicit codes,
// every subset of 13 jurisdictions) keeps the table at its bound, and the
// results stay the reference's.
func TestPlansBounded(t *testing.T) {
	var b strings.Builder
	b.WriteString("version: 1\njurisdictions:\n")
	const nj = 13
	for j := 0; j < nj; j++ {
		fmt.Fprintf(&b, "  - {code: US-J%02d, name: J%d, level: state, match: {country: US, state: TX}, taxes: [{id: t%d, rates: [{from: 2020-01-01, to: 2025-01-01, rate: \"1.%d%%\"}, {from: 2025-01-01, rate: \"2%%\"}]}]}\n", j, j, j, j)
	}
	p, err := Compile([]Source{{Name: "r.yaml", Data: []byte(b.String())}})
	if err != nil {
		t.Fatal(err)
	}
	usd, _ := money.LookupCurrency("USD")
	ev := p.NewEvaluator(false)
	ev.FixedOnly()
	ref := p.NewEvaluator(false)
	ref.noPlans = true
	var got, want Result
	planned := 0
	for mask := 1; mask < 1<<nj; mask++ {
		tx := &txn.Transaction{ID: "t", Day: txn.DateOf(2024, 6, 1), RateDay: txn.DateOf(2024, 6, 1), Currency: usd,
			Lines: []txn.Line{line("10.00", "1", "physical")}}
		for j := 0; j < nj; j++ {
			if mask&(1<<j) != 0 {
				tx.Jurisdictions = append(tx.Jurisdictions, fmt.Sprintf("US-J%02d", j))
			}
		}
		if err := ev.Eval(tx, &got); err != nil {
			t.Fatal(err)
		}
		if err := ref.Eval(tx, &want); err != nil {
			t.Fatal(err)
		}
		if len(got.Lines) != len(want.Lines) || len(got.Lines) != len(tx.Jurisdictions) {
			t.Fatalf("mask %b: %d lines, want %d", mask, len(got.Lines), len(want.Lines))
		}
		for i := range got.Lines {
			g, w := &got.Lines[i], &want.Lines[i]
			if !g.Fixed.OK || g.Tax != w.Tax || !sameDecimal(g.Fixed.Amount.Decimal(), w.Amount) || !sameDecimal(g.Fixed.Gross.Decimal(), w.Gross) {
				t.Fatalf("mask %b line %d: %s %v %v, want %s %v %v", mask, i, g.Tax.ID, g.Fixed.OK, g.Fixed.Amount, w.Tax.ID, w.Amount, w.Gross)
			}
		}
		planned++
		if n := len(ev.planSets); n > maxPlanSets {
			t.Fatalf("%d plan sets after %d sets of jurisdictions, bound %d", n, planned, maxPlanSets)
		}
	}
	if planned <= maxPlanSets {
		t.Fatalf("only %d sets of jurisdictions: the bound was never reached", planned)
	}
}

// A product's steps are read one after the other on every taxed line: at
// 40 bytes, the usual four taxes of an address take under three cache
// lines (64 bytes each took four). A field added to opHot or planStep
// must earn its place.
func TestPlanStepSize(t *testing.T) {
	if got := unsafe.Sizeof(planStep{}); got != 40 {
		t.Errorf("planStep is %d bytes, want 40", got)
	}
	if got := unsafe.Sizeof(stepLine{}); got != 64 {
		t.Errorf("stepLine is %d bytes, want 64 (Evaluator.Prefetch)", got)
	}
}
