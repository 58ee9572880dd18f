package aggregate

import (
	"github.com/shopspring/decimal"

	"github.com/taxagg/taxagg/internal/rules"
	"github.com/taxagg/taxagg/internal/txn"
)

// RowState is one row's exact running sums, with everything needed to put
// them back into an Accumulator: a long-running consumer saves the states
// of its accumulator and restores them after a restart. Tax is the
// unrounded sum of the tax amounts (Row.TaxAmount is it rounded).
type RowState struct {
	Tax          *rules.Tax
	Currency     string
	Digits       int32
	PeriodStart  txn.Date // the first day of the period; 0 without --period
	Rate         decimal.Decimal
	HasRate      bool // the row is split by this rate (Options.ByRate)
	Transactions int64
	Gross        decimal.Decimal
	Exempt       decimal.Decimal
	NonTaxable   decimal.Decimal
	Taxable      decimal.Decimal
	TaxSum       decimal.Decimal
	TaxExact     decimal.Decimal
}

// State returns the accumulator's rows as exact states, in no particular
// order.
func (a *Accumulator) State() []RowState {
	out := make([]RowState, 0, len(a.rows))
	for k, s := range a.rows {
		out = append(out, RowState{
			Tax: k.tax, Currency: k.currency, Digits: s.digits, PeriodStart: k.period,
			Rate: s.rate, HasRate: s.hasRate, Transactions: s.transactions,
			Gross: s.gross.Decimal(), Exempt: s.exempt.Decimal(), NonTaxable: s.nonTaxable.Decimal(),
			Taxable: s.taxable.Decimal(), TaxSum: s.tax.Decimal(), TaxExact: s.exact.Decimal(),
		})
	}
	return out
}

// Restore adds a saved row's sums to the accumulator, as if the
// transactions behind it had been added again.
func (a *Accumulator) Restore(r RowState) {
	k := key{tax: r.Tax, currency: r.Currency, period: r.PeriodStart}
	if r.HasRate {
		k.rate = r.Rate.String()
	}
	s := a.rows[k]
	if s == nil {
		s = &sums{digits: r.Digits, rate: r.Rate, hasRate: r.HasRate}
		a.rows[k] = s
	}
	s.transactions += r.Transactions
	s.gross.AddDecimal(r.Gross)
	s.exempt.AddDecimal(r.Exempt)
	s.nonTaxable.AddDecimal(r.NonTaxable)
	s.taxable.AddDecimal(r.Taxable)
	s.tax.AddDecimal(r.TaxSum)
	s.exact.AddDecimal(r.TaxExact)
	// The fast path by tax order is only a cache of rows; a restored row
	// is found through the map, and the next Add for it fills the cache.
	a.byTax = nil
	a.byTaxCur = ""
}

// Clone returns an independent copy of the accumulator.
func (a *Accumulator) Clone() *Accumulator {
	b := New(a.opt)
	for _, r := range a.State() {
		b.Restore(r)
	}
	return b
}
