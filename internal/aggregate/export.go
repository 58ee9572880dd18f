package aggregate

import (
	"github.com/shopspring/decimal"

	"github.com/taxagg/taxagg/internal/money"
	"github.com/taxagg/taxagg/internal/rules"
)

// Figure indexes the six exact sums of a row, in output order.
const (
	FigGross = iota
	FigExempt
	FigNonTaxable
	FigTaxable
	FigTax
	FigExact
	NumFigures
)

// RowSums is one row's key and exact sums, for a caller that keeps totals
// beyond one run (a durable state, a partial).
type RowSums struct {
	Tax          *rules.Tax
	Currency     string
	Digits       int32
	Period       string // the period's label, "" for none
	Rate         decimal.Decimal
	HasRate      bool
	Transactions int64
	Sums         [NumFigures]money.Sum
}

// Sums returns every row's key and sums, in no particular order.
func (a *Accumulator) Sums() []RowSums {
	a.flush()
	out := make([]RowSums, 0, len(a.rows))
	for k, s := range a.rows {
		out = append(out, RowSums{
			Tax: k.tax, Currency: k.currency, Digits: s.digits, Period: a.opt.Period.Label(k.period),
			Rate: s.rate, HasRate: s.hasRate, Transactions: s.transactions,
			Sums: [NumFigures]money.Sum{s.gross, s.exempt, s.nonTaxable, s.taxable, s.tax, s.exact},
		})
	}
	return out
}
