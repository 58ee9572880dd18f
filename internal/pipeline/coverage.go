package pipeline

import (
	"bufio"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/shopspring/decimal"

	"github.com/taxagg/taxagg/internal/money"
	"github.com/taxagg/taxagg/internal/rules"
	"github.com/taxagg/taxagg/internal/stream"
	"github.com/taxagg/taxagg/internal/txn"
)

// Coverage accounts for the accepted transactions' sales: Accepted =
// Taxed + Unmatched + NoTax (untaxed = Unmatched + NoTax).
type Coverage struct {
	Taxed, Unmatched, NoTax Tally
	// Places are the places of the unmatched transactions, most frequent
	// first (then by country and state), at most MaxPlaces.
	Places []Place
}

// Untaxed is the number of accepted transactions that are in no total.
func (c *Coverage) Untaxed() int64 { return c.Unmatched.Transactions + c.NoTax.Transactions }

// Total is Taxed + Unmatched + NoTax: it must equal Counts.Accepted.
func (c *Coverage) Total() int64 { return c.Taxed.Transactions + c.Untaxed() }

// MaxPlaces is how many unmatched places Coverage names.
const MaxPlaces = 5

// Tally is a number of transactions and their gross per currency: the sum
// of their line amounts as given (refunds negative), in currency code order.
type Tally struct {
	Transactions int64
	Gross        []Gross
}

// Gross is an amount in one currency.
type Gross struct {
	Currency money.Currency
	Amount   decimal.Decimal
}

// Place is where unmatched transactions were shipped: the normalised
// country, and the state when the rules know the country (a state they do
// not cover, a misspelt one); for a country no rule names, the country
// alone.
type Place struct {
	Country, State string
	Transactions   int64
}

// String is "GB" or "US/Texsa".
func (p Place) String() string {
	if p.State == "" {
		return p.Country
	}
	return p.Country + "/" + p.State
}

// coverageTally is one worker's count of the records it accepted.
type coverageTally struct {
	n      [3]int64      // by rules.Coverage
	gross  [3][]curGross // by rules.Coverage
	places map[Place]int64
}

type curGross struct {
	cur money.Currency
	sum money.Sum
}

// add counts one accepted record. Its cost per record is a switch, a
// currency comparison and a 128-bit add per line.
func (t *coverageTally) add(it *Item) {
	c := it.Result.Coverage
	t.n[c]++
	gs := t.gross[c]
	i := 0
	for i < len(gs) && gs[i].cur.Code != it.Tx.Currency.Code {
		i++
	}
	if i == len(gs) {
		t.gross[c] = append(gs, curGross{cur: it.Tx.Currency})
		gs = t.gross[c]
	}
	s := &gs[i].sum
	for li := range it.Tx.Lines {
		l := &it.Tx.Lines[li]
		switch {
		case l.Fixed && !it.Tx.Refund:
			s.Add(l.AmountFixed)
		case l.Fixed:
			s.Add(l.AmountFixed.Neg())
		case !it.Tx.Refund:
			s.AddDecimal(l.Amount)
		default:
			s.AddDecimal(l.Amount.Neg())
		}
	}
	if c == rules.Unmatched {
		if t.places == nil {
			t.places = map[Place]int64{}
		}
		t.places[placeOf(it)]++
	}
}

func placeOf(it *Item) Place {
	a := it.Result.Address
	if a == nil {
		return Place{Country: "(jurisdictions given)"}
	}
	p := Place{Country: a.Country}
	if a.KnownCountry {
		p.State = a.State
	}
	return p
}

// merge adds o into t.
func (t *coverageTally) merge(o *coverageTally) {
	for c := range t.n {
		t.n[c] += o.n[c]
		for _, g := range o.gross[c] {
			i := slices.IndexFunc(t.gross[c], func(x curGross) bool { return x.cur.Code == g.cur.Code })
			if i < 0 {
				t.gross[c] = append(t.gross[c], g)
				continue
			}
			t.gross[c][i].sum.Merge(&g.sum)
		}
	}
	for p, n := range o.places {
		if t.places == nil {
			t.places = map[Place]int64{}
		}
		t.places[p] += n
	}
}

func (t *coverageTally) coverage() Coverage {
	tally := func(c rules.Coverage) Tally {
		out := Tally{Transactions: t.n[c]}
		for _, g := range t.gross[c] {
			out.Gross = append(out.Gross, Gross{Currency: g.cur, Amount: g.sum.Decimal()})
		}
		slices.SortFunc(out.Gross, func(a, b Gross) int { return strings.Compare(a.Currency.Code, b.Currency.Code) })
		return out
	}
	cv := Coverage{Taxed: tally(rules.Taxed), Unmatched: tally(rules.Unmatched), NoTax: tally(rules.NoTax)}
	for p, n := range t.places {
		p.Transactions = n
		cv.Places = append(cv.Places, p)
	}
	slices.SortFunc(cv.Places, func(a, b Place) int {
		if a.Transactions != b.Transactions {
			if a.Transactions > b.Transactions {
				return -1
			}
			return 1
		}
		if c := strings.Compare(a.Country, b.Country); c != 0 {
			return c
		}
		return strings.Compare(a.State, b.State)
	})
	if len(cv.Places) > MaxPlaces {
		cv.Places = cv.Places[:MaxPlaces]
	}
	return cv
}

// unmatchedError is the reason a transaction that matched no jurisdiction
// is a bad record under Options.RequireMatch: it names the address.
func unmatchedError(tx *txn.Transaction) *txn.FieldError {
	if tx.Jurisdictions != nil {
		return &txn.FieldError{Field: "jurisdictions", Err: fmt.Errorf("no jurisdictions given, and a match is required")}
	}
	return &txn.FieldError{Field: "address", Err: fmt.Errorf("no jurisdiction matches %s, and a match is required", describeAddress(tx))}
}

// describeAddress is the address as given: `country "GB" state "Essex"`,
// the fields that are set.
func describeAddress(tx *txn.Transaction) string {
	var b strings.Builder
	for _, f := range addressFields(tx) {
		if f.value == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(f.name)
		b.WriteByte(' ')
		b.WriteString(strconv.Quote(f.value))
	}
	if b.Len() == 0 {
		return "an empty address"
	}
	return b.String()
}

type addressField struct{ name, value string }

func addressFields(tx *txn.Transaction) [5]addressField {
	return [5]addressField{
		{"country", tx.Country}, {"state", tx.State}, {"county", tx.County},
		{"city", tx.City}, {"postal_code", tx.PostalCode},
	}
}

// writeUnmatched appends one unmatched transaction to w as an NDJSON
// object {"source", "line", "address", "record"}: the address fields as
// read (those that are set) and the record's raw text.
func writeUnmatched(w *bufio.Writer, it *Item) error {
	w.WriteString(`{"source":`)
	stream.WriteJSONString(w, it.Source)
	w.WriteString(`,"line":`)
	w.WriteString(strconv.Itoa(it.Line))
	w.WriteString(`,"address":{`)
	n := 0
	for _, f := range addressFields(&it.Tx) {
		if f.value == "" {
			continue
		}
		if n > 0 {
			w.WriteByte(',')
		}
		n++
		stream.WriteJSONString(w, f.name)
		w.WriteByte(':')
		stream.WriteJSONString(w, f.value)
	}
	w.WriteString(`},"record":`)
	stream.WriteJSONString(w, string(it.Text))
	_, err := w.WriteString("}\n")
	return err
}

// newUnmatchedWriter buffers Options.Unmatched (nil when unset).
func newUnmatchedWriter(w io.Writer) *bufio.Writer {
	if w == nil {
		return nil
	}
	return bufio.NewWriterSize(w, 64<<10)
}
