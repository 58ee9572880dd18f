package nexus

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/taxagg/taxagg/internal/money"
	"github.com/taxagg/taxagg/internal/rules"
	"github.com/taxagg/taxagg/internal/txn"
)

// diffTx is a random transaction for TestFixedEqualsDecimal: several
// lines of mixed exponents, sometimes too large for a money.Fixed,
// sometimes tax-included (the net then comes from the tax lines).
type diffTx struct {
	tx  txn.Transaction
	res rules.Result
}

// withFixed returns a copy of d whose figures carry their money.Fixed
// form where it fits (as the parser and the plans set them), or none.
func (d *diffTx) withFixed(fixed bool) (txn.Transaction, rules.Result) {
	tx, res := d.tx, d.res
	tx.Lines = append([]txn.Line(nil), d.tx.Lines...)
	res.Lines = append([]rules.TaxLine(nil), d.res.Lines...)
	for i := range tx.Lines {
		l := &tx.Lines[i]
		l.Fixed, l.AmountFixed = false, money.Fixed{}
		if f, ok := money.FixedOf(l.Amount); ok && fixed {
			l.Fixed, l.AmountFixed = true, f
		}
	}
	for i := range res.Lines {
		l := &res.Lines[i]
		l.Fixed = rules.FixedSums{}
		if f, ok := money.FixedOf(l.Gross); ok && fixed {
			// As FixedOnly plans leave them: the decimal Gross unset.
			l.Fixed.OK, l.Fixed.Gross, l.Gross = true, f, decimal.Decimal{}
		}
	}
	return tx, res
}

func randAmount(rng *rand.Rand) decimal.Decimal {
	switch rng.IntN(20) {
	case 0: // beyond 18 digits: the decimal path
		return decimal.RequireFromString(fmt.Sprintf("%d%018d.%02d", 1+rng.IntN(9), rng.Int64N(1e18), rng.IntN(100)))
	case 1: // near the int64 limit: the sum overflows
		return decimal.New(9e18-rng.Int64N(1e6), -2)
	case 2:
		return decimal.New(rng.Int64N(1e6), -rng.Int32N(6)) // other exponents
	case 3:
		return decimal.New(rng.Int64N(100), 1+rng.Int32N(2)) // positive exponents
	}
	return decimal.New(rng.Int64N(40000), -2)
}

// TestFixedEqualsDecimal: the int64 path (figures as money.Fixed) gives
// the rows of the decimal path to the exponent, and both the same for any
// worker count, on random transactions of every kind the sums see.
func TestFixedEqualsDecimal(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	tax := &rules.Tax{}
	other := &rules.Tax{}
	jurs := []*rules.Jurisdiction{calSales, calAny, calAll, roll,
		jur("ROLLALL", rules.Nexus{Sales: decimal.NewFromInt(1000000), HasSales: true, Transactions: 40,
			Combine: rules.CombineAll, Window: rules.WindowRolling12Months}),
		jur("NOSALES", rules.Nexus{Transactions: 25, Window: rules.WindowRolling12Months}),
		{Code: "NONE"}, // no threshold: not counted
	}
	usd, _ := money.LookupCurrency("USD")
	eur, _ := money.LookupCurrency("EUR")
	var txs []diffTx
	start := day("2024-01-01")
	for i := 0; i < 4000; i++ {
		d := diffTx{tx: txn.Transaction{
			ID: fmt.Sprintf("t%05d", i), Day: start + txn.Date(rng.IntN(900)),
			Refund: rng.IntN(8) == 0, Currency: usd,
		}}
		if rng.IntN(40) == 0 {
			d.tx.Currency = eur
		}
		included := rng.IntN(10) == 0
		for n := 1 + rng.IntN(3); n > 0; n-- {
			d.tx.Lines = append(d.tx.Lines, txn.Line{Amount: randAmount(rng), Quantity: decimal.New(1, 0), TaxIncluded: included})
		}
		if included {
			for _, tx := range []*rules.Tax{tax, other} {
				for n := 1 + rng.IntN(2); n > 0; n-- {
					g := randAmount(rng)
					if d.tx.Refund {
						g = g.Neg()
					}
					d.res.Lines = append(d.res.Lines, rules.TaxLine{Tax: tx, Gross: g})
				}
			}
		}
		for _, j := range jurs {
			if rng.IntN(2) == 0 {
				d.res.Jurisdictions = append(d.res.Jurisdictions, j)
			}
		}
		txs = append(txs, d)
	}
	render := func(fixed bool, workers int) string {
		tr := New(Options{TempDir: t.TempDir()})
		defer tr.Close()
		ws := make([]*Worker, workers)
		for i := range ws {
			ws[i] = tr.NewWorker()
		}
		for i := range txs {
			tx, res := txs[i].withFixed(fixed)
			ws[(i*7)%workers].Add(&tx, &res)
		}
		rows, err := tr.Rows(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		for i := range rows {
			r := &rows[i]
			fmt.Fprintf(&b, "%s %s %s sales=%s/%d n=%d other=%d %s %v %v %s %s\n", r.Jurisdiction.Code, r.Period, r.AsOf,
				r.Sales.String(), r.Sales.Exponent(), r.Transactions, r.OtherCurrency, r.Status, r.CarriedOver,
				r.Crossed, r.CrossedDate, r.CrossedID)
		}
		return b.String()
	}
	want := render(false, 1)
	if strings.Count(want, " t0") < 5 {
		t.Fatalf("too few crossings to compare:\n%s", want)
	}
	for _, workers := range []int{1, 2, 5} {
		for _, fixed := range []bool{false, true} {
			if got := render(fixed, workers); got != want {
				t.Fatalf("fixed=%v workers=%d: got\n%s\nwant (decimals, one worker)\n%s", fixed, workers, got, want)
			}
		}
	}
	// The net amount a state keeps is the decimal path's too.
	for i := range txs {
		tx, res := txs[i].withFixed(true)
		dtx, dres := txs[i].withFixed(false)
		got, want := NetAmount(&tx, &res), NetAmount(&dtx, &dres)
		if got.String() != want.String() || got.Exponent() != want.Exponent() {
			t.Fatalf("transaction %d: NetAmount %s (exp %d), decimal path %s (exp %d)", i, got, got.Exponent(), want, want.Exponent())
		}
	}
}

// TestSpillLongRecords: ids and decimal-text amounts of any length up to
// the record limit come back as written; a longer one is an error, not a
// corrupt file.
func TestSpillLongRecords(t *testing.T) {
	s, err := newSpill(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	big := decimal.RequireFromString("123456789012345678901234567890.125")
	ids := []string{"a", strings.Repeat("x", 200), strings.Repeat("y", 70000), strings.Repeat("z", maxSpillRecord-100)}
	for i, id := range ids {
		tx := txn.Transaction{ID: id, Day: txn.Date(20000 + i), Refund: i%2 == 1}
		amt := netSum{d: big}
		if i%2 == 0 {
			amt = netSum{fixed: true, f: money.Fixed{C: -12345, E: -3}}
		}
		if err := s.write(uint32(i), &tx, &amt); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.write(9, &txn.Transaction{ID: strings.Repeat("w", maxSpillRecord)}, &netSum{fixed: true}); err == nil {
		t.Error("an id longer than a record can hold was written")
	}
	sr, err := s.reader()
	if err != nil {
		t.Fatal(err)
	}
	for i, id := range ids {
		var r spillRec
		ok, err := sr.next(&r, func(uint32, txn.Date) bool { return true })
		if err != nil || !ok {
			t.Fatalf("record %d: %v %v", i, ok, err)
		}
		want := "-12.345"
		if i%2 == 1 {
			want = big.String()
		}
		if r.id != id || r.jur != uint32(i) || r.day != txn.Date(20000+i) || r.refund != (i%2 == 1) || r.amount.String() != want {
			t.Fatalf("record %d: got jur %d day %d refund %v amount %s id of %d bytes", i, r.jur, r.day, r.refund, r.amount, len(r.id))
		}
	}
	var r spillRec
	if _, err := sr.next(&r, func(uint32, txn.Date) bool { return true }); err == nil || err.Error() != "EOF" {
		t.Fatalf("after the last record: %v, want EOF", err)
	}
}

// TestDenseDays checks the days' windows and the days map together: every
// (jurisdiction, day) gets one figures entry of its own, found again the
// same, inside a window and out of it, for jurisdictions past maxDense,
// which have none, and for a reloaded program's, which share the first
// program's jurisdiction indexes.
func TestDenseDays(t *testing.T) {
	program := func(prefix string) []*rules.Jurisdiction {
		var b strings.Builder
		b.WriteString("version: 1\njurisdictions:\n")
		for i := range maxDense + 3 {
			fmt.Fprintf(&b, "  - {code: %s%d, name: J, level: state, match: {country: US, state: S%d}, taxes: [{id: %s%d, rates: [{from: 2000-01-01, rate: 1%%}]}]}\n",
				prefix, i, i, strings.ToLower(prefix), i)
		}
		p, err := rules.Compile([]rules.Source{{Name: "r.yaml", Data: []byte(b.String())}})
		if err != nil {
			t.Fatal(err)
		}
		return p.Jurisdictions
	}
	jurs := append(program("A"), program("B")...)
	w := New(Options{}).NewWorker()
	first := txn.DateOf(2025, time.June, 1)
	days := []txn.Date{first, first + 1, first - 1, first + denseDaysSpan/2 - 1, first + denseDaysSpan/2,
		first - denseDaysSpan/2, first - denseDaysSpan/2 - 1, first + 40000, first - 40000, 0}
	index := map[dayKey]int32{}
	for round := range 2 {
		for _, j := range jurs {
			for _, d := range days {
				got := w.day(j, d)
				k := dayKey{j, d}
				if want, ok := index[k]; ok && got != want {
					t.Fatalf("round %d, %s day %d: index %d, was %d", round, j.Code, d, got, want)
				}
				index[k] = got
				if s := w.sums[got]; w.jurs[s.jur] != j || s.day != d {
					t.Fatalf("%s day %d: figures of %s day %d", j.Code, d, w.jurs[s.jur].Code, s.day)
				}
			}
		}
	}
	if n, want := len(w.sums), len(jurs)*len(days); n != want {
		t.Errorf("%d days started, want %d", n, want)
	}
	if w.windows != maxDense {
		t.Errorf("%d windows, want %d", w.windows, maxDense)
	}
}
