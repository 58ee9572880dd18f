package aggregate

import (
	"fmt"
	"strconv"
	"time"

	"github.com/taxagg/taxagg/internal/txn"
)

// Restore adds a saved row, as Sums returned it, to the accumulator, as if
// the transactions behind it were added again: a long-running consumer
// saves its rows and restores them after a restart. The row's period label
// must be one of the accumulator's periods.
func (a *Accumulator) Restore(r RowSums) error {
	pk, err := a.opt.Period.start(r.Period)
	if err != nil {
		return err
	}
	k := key{tax: r.Tax, currency: r.Currency, period: pk}
	if r.HasRate {
		k.rate = r.Rate.String()
	}
	s := a.rows[k]
	if s == nil {
		s = &sums{digits: r.Digits, rate: r.Rate, hasRate: r.HasRate}
		a.rows[k] = s
	}
	s.transactions += r.Transactions
	s.gross.Merge(&r.Sums[FigGross])
	s.exempt.Merge(&r.Sums[FigExempt])
	s.nonTaxable.Merge(&r.Sums[FigNonTaxable])
	s.taxable.Merge(&r.Sums[FigTaxable])
	s.tax.Merge(&r.Sums[FigTax])
	s.exact.Merge(&r.Sums[FigExact])
	// The fast path by tax order is only a cache of rows; a restored row
	// is found through the map, and the next Add for it fills the cache.
	a.byTax = nil
	a.byTaxCur = ""
	return nil
}

// Clone returns an independent copy of the accumulator.
func (a *Accumulator) Clone() *Accumulator {
	b := New(a.opt)
	for _, r := range a.Sums() {
		b.Restore(r) // its own labels: cannot fail
	}
	return b
}

// start reads a Label back into the first day of its period.
func (p Period) start(label string) (txn.Date, error) {
	bad := fmt.Errorf("%q is not a period label of --period %s", label, [...]string{"none", "day", "month", "quarter", "year"}[p])
	var d txn.Date
	switch p {
	case PeriodNone:
		if label != "" {
			return 0, bad
		}
		return 0, nil
	case PeriodDay:
		var err error
		if d, err = txn.ParseDate(label); err != nil {
			return 0, bad
		}
	case PeriodMonth:
		t, err := time.Parse("2006-01", label)
		if err != nil {
			return 0, bad
		}
		d = txn.DateOf(t.Year(), t.Month(), 1)
	case PeriodQuarter:
		if len(label) != 7 || label[4:6] != "-Q" {
			return 0, bad
		}
		y, err1 := strconv.Atoi(label[:4])
		q, err2 := strconv.Atoi(label[6:])
		if err1 != nil || err2 != nil || q < 1 || q > 4 {
			return 0, bad
		}
		d = txn.DateOf(y, time.Month((q-1)*3+1), 1)
	case PeriodYear:
		y, err := strconv.Atoi(label)
		if err != nil || len(label) != 4 {
			return 0, bad
		}
		d = txn.DateOf(y, time.January, 1)
	}
	if p.Label(d) != label || p.key(d) != d {
		return 0, bad
	}
	return d, nil
}
