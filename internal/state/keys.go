package state

import (
	"fmt"
	"strings"

	"github.com/shopspring/decimal"

	"github.com/taxagg/taxagg/internal/aggregate"
	"github.com/taxagg/taxagg/internal/money"
)

// RowKey names one aggregate row: what it is keyed by and what is printed
// with it. Keys are numbered from 1 in the order they were first seen; a
// stored transaction refers to its rows by number.
type RowKey struct {
	Jurisdiction string `json:"jurisdiction"`
	Name         string `json:"name"`
	Level        string `json:"level"`
	Tax          string `json:"tax"`
	Rounding     string `json:"rounding"` // the tax's rounding mode, for tax_amount
	Currency     string `json:"currency"`
	Digits       int32  `json:"digits"`
	Period       string `json:"period"` // the period's label, "" for none
	Rate         string `json:"rate"`   // with --by-rate and a rate; else ""
	HasRate      bool   `json:"has_rate"`
}

type keyID struct {
	jur, tax, cur, period, rate string
	hasRate                     bool
}

func (k *RowKey) id() keyID {
	return keyID{k.Jurisdiction, k.Tax, k.Currency, k.Period, k.Rate, k.HasRate}
}

func (k *RowKey) String() string {
	s := k.Jurisdiction + " " + k.Tax + " " + k.Currency
	if k.Period != "" {
		s += " " + k.Period
	}
	if k.HasRate {
		s += " @" + k.Rate
	}
	return s
}

// Keys numbers row keys from 1.
type Keys struct {
	list []RowKey
	idx  map[keyID]int
}

func newKeys() *Keys { return &Keys{idx: map[keyID]int{}} }

// Len returns the number of keys.
func (ks *Keys) Len() int { return len(ks.list) }

// Key returns key number n (1-based).
func (ks *Keys) Key(n int) *RowKey { return &ks.list[n-1] }

// Intern returns k's number, adding it when new. A key already known must
// agree with k on what is printed with it.
func (ks *Keys) Intern(k RowKey) (int, error) {
	if n, ok := ks.idx[k.id()]; ok {
		o := &ks.list[n-1]
		if o.Name != k.Name || o.Level != k.Level || o.Rounding != k.Rounding || o.Digits != k.Digits {
			return 0, fmt.Errorf("row %s: %s/%s/%s/%d here, %s/%s/%s/%d before",
				k.String(), k.Name, k.Level, k.Rounding, k.Digits, o.Name, o.Level, o.Rounding, o.Digits)
		}
		return n, nil
	}
	ks.list = append(ks.list, k)
	ks.idx[k.id()] = len(ks.list)
	return len(ks.list), nil
}

// sums are one row's exact totals.
type sums struct {
	tx  int64
	fig [aggregate.NumFigures]money.Sum
}

// Totals are exact sums per row key number.
type Totals struct {
	rows []sums // index: key number - 1
}

func (t *Totals) at(key int) *sums {
	for len(t.rows) < key {
		t.rows = append(t.rows, sums{})
	}
	return &t.rows[key-1]
}

// addEntry adds (sign +1) or takes out (sign -1) one transaction's
// contribution.
func (t *Totals) addEntry(e *Entry, sign int) {
	for i := range e.Lines {
		l := &e.Lines[i]
		s := t.at(l.Key)
		for f := range l.Fig {
			if sign > 0 {
				l.Fig[f].addTo(&s.fig[f])
			} else {
				l.Fig[f].subFrom(&s.fig[f])
			}
		}
	}
	for _, k := range e.distinctKeys() {
		t.at(k).tx += int64(sign)
	}
}

// Rows returns the rows with at least one transaction, sorted as aggregate
// sorts them.
func (t *Totals) Rows(ks *Keys) ([]aggregate.Row, error) {
	var rows []aggregate.Row
	for i := range t.rows {
		s := &t.rows[i]
		if s.tx == 0 {
			continue
		}
		k := ks.Key(i + 1)
		mode, ok := money.ParseRoundingMode(k.Rounding)
		if !ok {
			return nil, fmt.Errorf("row %s: unknown rounding mode %q", k.String(), k.Rounding)
		}
		r := aggregate.Row{
			Jurisdiction: k.Jurisdiction, Name: k.Name, Level: k.Level, Tax: k.Tax, Period: k.Period,
			Currency: k.Currency, Digits: k.Digits, HasRate: k.HasRate, Transactions: s.tx,
			Gross: s.fig[aggregate.FigGross].Decimal(), Exempt: s.fig[aggregate.FigExempt].Decimal(),
			NonTaxable: s.fig[aggregate.FigNonTaxable].Decimal(), Taxable: s.fig[aggregate.FigTaxable].Decimal(),
			TaxAmount: money.Round(s.fig[aggregate.FigTax].Decimal(), k.Digits, mode),
			TaxExact:  s.fig[aggregate.FigExact].Decimal(),
		}
		if k.HasRate {
			rate, err := decimal.NewFromString(k.Rate)
			if err != nil {
				return nil, fmt.Errorf("row %s: rate %q: %w", k.String(), k.Rate, err)
			}
			r.Rate = rate
		}
		rows = append(rows, r)
	}
	aggregate.SortRows(rows)
	return rows, nil
}

// diff describes where two Totals differ, "" when they agree.
func (t *Totals) diff(o *Totals, ks *Keys) string {
	var out []string
	n := max(len(t.rows), len(o.rows))
	names := [...]string{"gross_sales", "exempt_sales", "non_taxable_sales", "taxable_sales", "tax", "tax_exact"}
	for i := 0; i < n; i++ {
		var a, b sums
		if i < len(t.rows) {
			a = t.rows[i]
		}
		if i < len(o.rows) {
			b = o.rows[i]
		}
		k := ks.Key(i + 1)
		if a.tx != b.tx {
			out = append(out, fmt.Sprintf("%s: transactions stored %d, recomputed %d", k.String(), a.tx, b.tx))
		}
		for f := range a.fig {
			x, y := a.fig[f].Decimal(), b.fig[f].Decimal()
			if !x.Equal(y) {
				out = append(out, fmt.Sprintf("%s: %s stored %s, recomputed %s", k.String(), names[f], x.String(), y.String()))
			}
		}
		if len(out) >= 20 {
			out = append(out, "...")
			break
		}
	}
	return strings.Join(out, "\n")
}

// decString writes d exactly, its exponent kept: with -exponent decimal
// places ("1.50" is 150e-2), or as coefficient"e"exponent when the
// exponent is positive.
func decString(d decimal.Decimal) string {
	if e := d.Exponent(); e > 0 {
		return d.Coefficient().String() + "e" + fmt.Sprint(e)
	}
	return d.StringFixed(-d.Exponent())
}

// parseDec reads what decString wrote.
func parseDec(s string) (decimal.Decimal, error) {
	return decimal.NewFromString(s)
}

// sumString and parseSum store a money.Sum.
func sumString(s *money.Sum) string { return decString(s.Decimal()) }

func parseSum(s string) (money.Sum, error) {
	var out money.Sum
	d, err := parseDec(s)
	if err != nil {
		return out, err
	}
	out.AddDecimal(d)
	return out, nil
}
