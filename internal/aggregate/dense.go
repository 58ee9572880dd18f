package aggregate

import (
	"math"
	"unsafe"

	"github.com/taxagg/taxagg/internal/money"
	"github.com/taxagg/taxagg/internal/prefetch"
	"github.com/taxagg/taxagg/internal/rules"
	"github.com/taxagg/taxagg/internal/txn"
)

// Dense sums: the fast form of the rows, for compact results
// (rules.Result.Slots).
//
// Per (period, currency) a group holds one row per tax of the program,
// indexed by the tax's slot (rules.Tax.Order): six int64 coefficients with
// their exponents and a transaction count, 64 bytes, one cache line. A
// record's slots are added there without a map lookup, a pointer or a
// 128-bit carry. A figure keeps the exponent decimal.Decimal.Add would give
// the sum (the smallest of zero's and the values'), as money.Sum does, so a
// dense row flushed into a row's Sums leaves exactly the Sums the same
// values added one by one would have (TestDenseMatchesSums).
//
// Anything unusual goes to the rows' money.Sum: a sum that would overflow
// int64 or an exponent change that cannot be aligned flushes the dense row
// into its Sums and adds the record there. Dense groups are bounded
// (maxDenseRows in all): past that, as with many periods (--period day
// over years), records go straight to the map's rows.
//
// The dense rows are flushed into the map (flush) before anything reads
// the rows: Merge, Rows, Sums.

// maxDenseRows bounds the dense rows of one Accumulator (64 bytes each).
const maxDenseRows = 1 << 16

type denseRow struct {
	c [rules.NumFigures]int64
	e [rules.NumFigures]int8
	n uint32 // transactions
}

type denseKey struct {
	period   txn.Date
	currency string
}

type denseGroup struct {
	key    denseKey
	digits int32
	taxes  []*rules.Tax // by slot
	rows   []denseRow   // by slot
}

// add adds a record's figures for the row's tax. It returns false, leaving
// the row as it was, when a sum would overflow or an exponent cannot be
// aligned in an int64.
func (r *denseRow) add(s *rules.SlotSums) bool {
	if r.n == math.MaxUint32 {
		return false
	}
	c, e := r.c, r.e
	for k := range c {
		sc, se := s.C[k], s.E[k]
		if se == e[k] {
			x := c[k] + sc
			if (x^c[k])&(x^sc) < 0 {
				return false
			}
			c[k] = x
			continue
		}
		if sc == 0 && se > e[k] {
			continue // a zero of a larger exponent changes nothing
		}
		f, ok := money.Fixed{C: c[k], E: int32(e[k])}.Add(s.Figure(k))
		if !ok {
			return false
		}
		c[k], e[k] = f.C, int8(f.E) // the smaller of two int8 exponents
	}
	r.c, r.e = c, e
	r.n++
	return true
}

// addSlots counts one record's compact figures (slots of prog's taxes)
// in currency cur and period pk.
func (a *Accumulator) addSlots(prog *rules.Program, cur money.Currency, pk txn.Date, slots []rules.SlotSums) {
	g := a.lastDense
	if g == nil || g.key.period != pk || g.key.currency != cur.Code {
		g = a.denseGroup(denseKey{period: pk, currency: cur.Code}, cur.Digits, prog)
	}
	for i := range slots {
		s := &slots[i]
		if g != nil {
			r := &g.rows[s.Slot]
			if r.add(s) {
				continue
			}
			a.flushRow(g, int(s.Slot))
		}
		a.addSlotToMap(prog.Taxes[s.Slot], cur, pk, s)
	}
}

// denseGroup returns the group of a key, making it when the bound allows;
// nil past the bound.
func (a *Accumulator) denseGroup(k denseKey, digits int32, prog *rules.Program) *denseGroup {
	if g := a.denseByKey[k]; g != nil {
		a.lastDense = g
		return g
	}
	taxes := prog.Taxes
	if a.denseRows+len(taxes) > maxDenseRows {
		return nil
	}
	if a.denseByKey == nil {
		a.denseByKey = map[denseKey]*denseGroup{}
	}
	g := &denseGroup{key: k, digits: digits, taxes: taxes, rows: make([]denseRow, len(taxes))}
	a.denseRows += len(taxes)
	a.denseByKey[k] = g
	a.dense = append(a.dense, g)
	a.lastDense = g
	return g
}

// rowFor returns the map's row of a key, making it.
func (a *Accumulator) rowFor(k key, digits int32) *sums {
	s := a.rows[k]
	if s == nil {
		s = &sums{digits: digits}
		a.rows[k] = s
	}
	return s
}

// addSlotToMap adds one record's figures for one tax to the map's row.
func (a *Accumulator) addSlotToMap(t *rules.Tax, cur money.Currency, pk txn.Date, s *rules.SlotSums) {
	r := a.rowFor(key{tax: t, currency: cur.Code, period: pk}, cur.Digits)
	r.transactions++
	for k := range s.C {
		r.fig(k).Add(s.Figure(k))
	}
}

// flushRow moves a dense row into the map's row and clears it.
func (a *Accumulator) flushRow(g *denseGroup, slot int) {
	d := &g.rows[slot]
	if d.n == 0 {
		return // nothing added since it was cleared
	}
	r := a.rowFor(key{tax: g.taxes[slot], currency: g.key.currency, period: g.key.period}, g.digits)
	r.transactions += int64(d.n)
	for k := range d.c {
		r.fig(k).Add(money.Fixed{C: d.c[k], E: int32(d.e[k])})
	}
	*d = denseRow{}
}

// flush moves every dense row into the map.
func (a *Accumulator) flush() {
	for _, g := range a.dense {
		for i := range g.rows {
			a.flushRow(g, i)
		}
	}
}

// fig returns the sum of figure k (rules.FigGross...).
func (s *sums) fig(k int) *money.Sum {
	switch k {
	case rules.FigGross:
		return &s.gross
	case rules.FigExempt:
		return &s.exempt
	case rules.FigNonTaxable:
		return &s.nonTaxable
	case rules.FigTaxable:
		return &s.taxable
	case rules.FigAmount:
		return &s.tax
	}
	return &s.exact
}

// PrefetchSlots brings a compact result's figures into the cache, and
// PrefetchRows, once they are there, the dense rows Add will add them to:
// a caller with a batch of results to add asks for all of them, level by
// level, before it adds any (pipeline.AcceptPrefetcher). Neither changes
// anything.
func (a *Accumulator) PrefetchSlots(res *rules.Result) {
	// Lines brings 128 bytes; a SlotSums is 64.
	for i := 0; i < len(res.Slots); i += 2 {
		prefetch.Lines(uintptr(unsafe.Pointer(&res.Slots[i])))
	}
}

// PrefetchRows: see PrefetchSlots. It looks only at the group Add used
// last, the one a run without periods or currencies always uses.
func (a *Accumulator) PrefetchRows(tx *txn.Transaction, res *rules.Result) {
	g := a.lastDense
	if g == nil || len(res.Slots) == 0 || g.key.currency != tx.Currency.Code || g.key.period != a.opt.Period.key(tx.Day) {
		return
	}
	for i := range res.Slots {
		if slot := int(res.Slots[i].Slot); slot < len(g.rows) {
			prefetch.Lines(uintptr(unsafe.Pointer(&g.rows[slot])))
		}
	}
}
