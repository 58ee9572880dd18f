// Package aggregate sums evaluated transactions into rows per jurisdiction,
// tax, currency and period (docs/output.md). Sums are exact and commutative, so
// per-worker accumulators can be merged in any order with the same result.
package aggregate

import (
	"fmt"
	"sort"
	"time"

	"github.com/shopspring/decimal"

	"github.com/taxagg/taxagg/internal/money"
	"github.com/taxagg/taxagg/internal/rules"
	"github.com/taxagg/taxagg/internal/txn"
)

// Period is how rows are grouped in time.
type Period uint8

const (
	PeriodNone Period = iota
	PeriodDay
	PeriodMonth
	PeriodQuarter
	PeriodYear
)

// ParsePeriod reads a --period value.
func ParsePeriod(s string) (Period, error) {
	switch s {
	case "none", "":
		return PeriodNone, nil
	case "day":
		return PeriodDay, nil
	case "month":
		return PeriodMonth, nil
	case "quarter":
		return PeriodQuarter, nil
	case "year":
		return PeriodYear, nil
	}
	return 0, fmt.Errorf("period %q must be day, month, quarter, year or none", s)
}

// Label names the period a day falls in: 2025-03-14, 2025-03, 2025-Q1,
// 2025; empty for PeriodNone.
func (p Period) Label(d txn.Date) string {
	if p == PeriodNone {
		return ""
	}
	y, m, day := d.Time().Date()
	switch p {
	case PeriodDay:
		return fmt.Sprintf("%04d-%02d-%02d", y, m, day)
	case PeriodMonth:
		return fmt.Sprintf("%04d-%02d", y, m)
	case PeriodQuarter:
		return fmt.Sprintf("%04d-Q%d", y, (int(m)-1)/3+1)
	}
	return fmt.Sprintf("%04d", y)
}

// key is a compact sortable stand-in for a period label: the first day of the
// period (or 0 for none).
func (p Period) key(d txn.Date) txn.Date {
	if p == PeriodNone {
		return 0
	}
	t := d.Time()
	y, m, day := t.Date()
	switch p {
	case PeriodMonth:
		day = 1
	case PeriodQuarter:
		m, day = time.Month((int(m)-1)/3*3+1), 1
	case PeriodYear:
		m, day = time.January, 1
	}
	return txn.DateOf(y, m, day)
}

// Options choose the grouping.
type Options struct {
	Period Period
	ByRate bool // also split rows by the rate in force
}

type key struct {
	tax      *rules.Tax
	currency string
	period   txn.Date
	rate     string // canonical rate text with ByRate ("" for fixed taxes), else ""
}

type sums struct {
	digits       int32
	transactions int64
	lastTx       uint64 // serial of the last transaction counted, to count each once
	// Exact sums in 128-bit fixed point: no allocation per addition, and
	// the same value and exponent as decimal.Decimal.Add would give.
	gross      money.Sum
	exempt     money.Sum
	nonTaxable money.Sum
	taxable    money.Sum
	tax        money.Sum
	exact      money.Sum
	rate       decimal.Decimal
	hasRate    bool
}

// Accumulator sums transactions. It is not safe for concurrent use: give
// each worker its own and Merge them.
type Accumulator struct {
	opt    Options
	rows   map[key]*sums
	serial uint64

	// byTax short-cuts the map for the usual key: no period, no rate,
	// currency byTaxCur. Indexed by rules.Tax.Order; every entry is also
	// in rows.
	byTax    []*sums
	byTaxCur string

	// Dense rows for compact results (dense.go).
	dense      []*denseGroup
	denseByKey map[denseKey]*denseGroup
	lastDense  *denseGroup
	denseRows  int
}

// New returns an empty Accumulator.
func New(opt Options) *Accumulator {
	return &Accumulator{opt: opt, rows: map[key]*sums{}}
}

// Add counts one evaluated transaction.
func (a *Accumulator) Add(tx *txn.Transaction, res *rules.Result) {
	a.serial++
	pk := a.opt.Period.key(tx.Day)
	if len(res.Slots) > 0 {
		// A compact result: no Lines. Its slots carry no rate, so an
		// Accumulator by rate never gets one (the command does not ask
		// for them with --by-rate).
		a.addSlots(res.Program(), tx.Currency, pk, res.Slots)
		return
	}
	simple := pk == 0 && !a.opt.ByRate
	if simple && tx.Currency.Code != a.byTaxCur {
		if a.byTaxCur != "" {
			simple = false // a second currency: the map alone
		} else {
			a.byTaxCur = tx.Currency.Code
		}
	}
	for i := range res.Lines {
		l := &res.Lines[i]
		var s *sums
		if simple {
			if o := l.Tax.Order(); o < len(a.byTax) {
				s = a.byTax[o]
			}
		}
		if s == nil {
			k := key{tax: l.Tax, currency: tx.Currency.Code, period: pk}
			if a.opt.ByRate && l.HasRate {
				k.rate = l.Rate.String()
			}
			s = a.rows[k]
			if s == nil {
				s = &sums{digits: tx.Currency.Digits, rate: l.Rate, hasRate: l.HasRate && a.opt.ByRate}
				a.rows[k] = s
			}
			if simple {
				o := l.Tax.Order()
				for len(a.byTax) <= o {
					a.byTax = append(a.byTax, nil)
				}
				a.byTax[o] = s
			}
		}
		if s.lastTx != a.serial {
			s.lastTx = a.serial
			s.transactions++
		}
		if f := &l.Fixed; f.OK {
			s.gross.Add(f.Gross)
			s.exempt.Add(f.Exempt)
			s.nonTaxable.Add(f.NonTaxable)
			s.taxable.Add(f.Taxable)
			s.tax.Add(f.Amount)
			s.exact.Add(f.Exact)
			continue
		}
		s.gross.AddDecimal(l.Gross)
		s.exempt.AddDecimal(l.Exempt)
		s.nonTaxable.AddDecimal(l.NonTaxable)
		s.taxable.AddDecimal(l.Taxable)
		s.tax.AddDecimal(l.Amount)
		s.exact.AddDecimal(l.Exact)
	}
}

// Merge adds b's sums into a. b must not be used afterwards.
func (a *Accumulator) Merge(b *Accumulator) {
	a.flush()
	b.flush()
	for k, s := range b.rows {
		t := a.rows[k]
		if t == nil {
			s.lastTx = 0
			a.rows[k] = s
			continue
		}
		t.transactions += s.transactions
		t.gross.Merge(&s.gross)
		t.exempt.Merge(&s.exempt)
		t.nonTaxable.Merge(&s.nonTaxable)
		t.taxable.Merge(&s.taxable)
		t.tax.Merge(&s.tax)
		t.exact.Merge(&s.exact)
	}
}

// Row is one output row. Money figures are exact decimals; TaxAmount is
// rounded to the currency's minor unit with the tax's own mode.
type Row struct {
	Jurisdiction string
	Name         string
	Level        string
	Tax          string
	Period       string
	Currency     string
	Digits       int32
	Rate         decimal.Decimal
	HasRate      bool
	Transactions int64
	Gross        decimal.Decimal
	Exempt       decimal.Decimal
	NonTaxable   decimal.Decimal
	Taxable      decimal.Decimal
	TaxAmount    decimal.Decimal
	TaxExact     decimal.Decimal
}

// Rows returns the rows sorted by jurisdiction, tax, currency, period and
// rate.
func (a *Accumulator) Rows() []Row {
	a.flush()
	rows := make([]Row, 0, len(a.rows))
	for k, s := range a.rows {
		j := k.tax.Jurisdiction
		rows = append(rows, Row{
			Jurisdiction: j.Code, Name: j.Name, Level: j.Level.String(), Tax: k.tax.ID,
			Period: a.opt.Period.Label(k.period), Currency: k.currency, Digits: s.digits,
			Rate: s.rate, HasRate: s.hasRate, Transactions: s.transactions,
			Gross: s.gross.Decimal(), Exempt: s.exempt.Decimal(), NonTaxable: s.nonTaxable.Decimal(), Taxable: s.taxable.Decimal(),
			// Line and transaction levels are already at the minor unit;
			// the aggregate level rounds here, once per row.
			TaxAmount: money.Round(s.tax.Decimal(), s.digits, k.tax.Rounding.Mode),
			TaxExact:  s.exact.Decimal(),
		})
	}
	SortRows(rows)
	return rows
}

// SortRows sorts rows by jurisdiction, tax, currency, period and rate, the
// order Rows returns them in.
func SortRows(rows []Row) {
	sort.Slice(rows, func(i, j int) bool {
		a, b := &rows[i], &rows[j]
		switch {
		case a.Jurisdiction != b.Jurisdiction:
			return a.Jurisdiction < b.Jurisdiction
		case a.Tax != b.Tax:
			return a.Tax < b.Tax
		case a.Currency != b.Currency:
			return a.Currency < b.Currency
		case a.Period != b.Period:
			return a.Period < b.Period
		case a.HasRate != b.HasRate:
			return !a.HasRate
		}
		return a.Rate.LessThan(b.Rate)
	})
}
