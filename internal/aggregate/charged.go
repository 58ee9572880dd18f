package aggregate

import (
	"sort"
	"strings"

	"github.com/shopspring/decimal"

	"github.com/taxagg/taxagg/internal/rules"
	"github.com/taxagg/taxagg/internal/txn"
)

// Charged totals, per ship-to state and currency (and period), the tax the
// source says it charged against the tax the rules say is owed, so that
// under- and over-collection shows at a glance. A refund counts negative
// on both sides. Transactions without a tax_charged count in Transactions
// but not in WithCharged, and add nothing to TaxCharged.
type Charged struct {
	period Period
	rows   map[chargedKey]*ChargedRow
}

type chargedKey struct {
	country, state, currency string
	period                   txn.Date
}

// ChargedRow is one (country, state, currency[, period]) of a Charged report.
type ChargedRow struct {
	Country, State, Currency, Period string
	Digits                           int32
	Transactions, WithCharged        int64
	// TaxOwed is the sum of the transactions' rounded taxes; TaxCharged
	// what the source charged; Difference = TaxCharged - TaxOwed over the
	// transactions that carry a tax_charged.
	TaxOwed, TaxCharged, Difference decimal.Decimal

	periodKey txn.Date
}

// NewCharged returns an empty report.
func NewCharged(p Period) *Charged {
	return &Charged{period: p, rows: map[chargedKey]*ChargedRow{}}
}

// Add counts one accepted transaction.
func (c *Charged) Add(tx *txn.Transaction, res *rules.Result) {
	k := chargedKey{tx.Country, tx.State, tx.Currency.Code, c.period.key(tx.Day)}
	r := c.rows[k]
	if r == nil {
		// The row outlives tx, whose strings may be borrowed
		// (txn.Parser.SetArena).
		k.country, k.state = strings.Clone(k.country), strings.Clone(k.state)
		r = &ChargedRow{Country: k.country, State: k.state, Currency: tx.Currency.Code,
			Digits: tx.Currency.Digits, periodKey: k.period}
		if c.period != PeriodNone {
			r.Period = c.period.Label(tx.Day)
		}
		c.rows[k] = r
	}
	owed := decimal.Zero
	for i := range res.Lines {
		l := &res.Lines[i]
		if l.Fixed.OK {
			owed = owed.Add(l.Fixed.Amount.Decimal())
		} else {
			owed = owed.Add(l.Amount)
		}
	}
	r.Transactions++
	r.TaxOwed = r.TaxOwed.Add(owed)
	if tx.HasTaxCharged {
		charged := tx.TaxCharged
		if tx.Refund {
			charged = charged.Neg()
		}
		r.WithCharged++
		r.TaxCharged = r.TaxCharged.Add(charged)
		r.Difference = r.Difference.Add(charged.Sub(owed))
	}
}

// Merge adds b's rows into c.
func (c *Charged) Merge(b *Charged) {
	for k, br := range b.rows {
		r := c.rows[k]
		if r == nil {
			cp := *br
			c.rows[k] = &cp
			continue
		}
		r.Transactions += br.Transactions
		r.WithCharged += br.WithCharged
		r.TaxOwed = r.TaxOwed.Add(br.TaxOwed)
		r.TaxCharged = r.TaxCharged.Add(br.TaxCharged)
		r.Difference = r.Difference.Add(br.Difference)
	}
}

// Rows returns the rows sorted by country, state, currency and period.
func (c *Charged) Rows() []ChargedRow {
	out := make([]ChargedRow, 0, len(c.rows))
	for _, r := range c.rows {
		out = append(out, *r)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := &out[i], &out[j]
		if a.Country != b.Country {
			return a.Country < b.Country
		}
		if a.State != b.State {
			return a.State < b.State
		}
		if a.Currency != b.Currency {
			return a.Currency < b.Currency
		}
		return a.periodKey < b.periodKey
	})
	return out
}
