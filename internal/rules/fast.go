package rules

import (
	"github.com/shopspring/decimal"

	"github.com/taxagg/taxagg/internal/money"
	"github.com/taxagg/taxagg/internal/txn"
)

// The fixed-point fast path of Eval. It mirrors the decimal path (eval.go)
// operation by operation with money.Fixed, which never allocates, and gives
// up (returns false) on anything it does not cover or any figure that would
// overflow int64: tax-included lines, per-transaction tiers, decimals with
// more than 18 digits. The decimal path then evaluates the transaction from
// scratch, so the result is always the decimal path's, bit for bit
// (FuzzFastPath checks it on random rule sets and transactions).

// FixedSums are a TaxLine's figures as money.Fixed. OK is set when the fast
// path produced the line; aggregate then sums these without allocating.
type FixedSums struct {
	OK                                                bool
	Gross, Exempt, NonTaxable, Taxable, Amount, Exact money.Fixed
}

type fastTB struct {
	kind           TaxabilityKind
	rate           money.Fixed
	rateDec        decimal.Decimal
	hasRate        bool
	portion        money.Fixed
	hasPortion     bool
	portionIsOne   bool
	exemptBelow    money.Fixed
	hasExemptBelow bool
}

type fastBracket struct {
	upTo, rate       money.Fixed
	hasUpTo, hasRate bool
}

// fastTax is a Tax's decimals as Fixed, built once per Evaluator.
type fastTax struct {
	ok bool
	// tbs is Tax.Taxability by product id (fastTables.products), nil
	// where the tax names no treatment: then def applies.
	tbs      []*fastTB
	def      fastTB
	rates    []money.Fixed // parallel to Tax.Rates
	brackets []fastBracket
	fixed    money.Fixed
}

func fixedOf(d decimal.Decimal, ok *bool) money.Fixed {
	f, good := money.FixedOf(d)
	if !good {
		*ok = false
	}
	return f
}

func newFastTB(tb Taxability, ok *bool) fastTB {
	f := fastTB{kind: tb.Kind, hasRate: tb.HasRate, hasPortion: tb.HasPortion, hasExemptBelow: tb.HasExemptBelow, rateDec: tb.Rate}
	if tb.HasRate {
		f.rate = fixedOf(tb.Rate, ok)
	}
	if tb.HasPortion {
		f.portion = fixedOf(tb.Portion, ok)
		f.portionIsOne = tb.Portion.Equal(one)
	}
	if tb.HasExemptBelow {
		f.exemptBelow = fixedOf(tb.ExemptBelow, ok)
	}
	return f
}

// fastTables are an Evaluator's fixed-point tables.
type fastTables struct {
	taxes []fastTax // by tax order
	// products numbers every product category any tax names (the folded
	// keys of Tax.Taxability), so that a line's treatment under each of
	// its taxes is a slice index, not a map lookup per tax.
	products map[string]int
}

func buildFast(p *Program) fastTables {
	ft := fastTables{taxes: make([]fastTax, len(p.Taxes)), products: map[string]int{}}
	for _, t := range p.Taxes {
		for k := range t.Taxability {
			if _, ok := ft.products[k]; !ok {
				ft.products[k] = len(ft.products)
			}
		}
	}
	for _, t := range p.Taxes {
		f := &ft.taxes[t.order]
		f.ok = true
		f.def = newFastTB(t.defaultTB, &f.ok)
		if len(t.Taxability) > 0 {
			f.tbs = make([]*fastTB, len(ft.products))
		}
		for k, tb := range t.Taxability {
			x := newFastTB(tb, &f.ok)
			f.tbs[ft.products[k]] = &x
		}
		for _, r := range t.Rates {
			f.rates = append(f.rates, fixedOf(r.Rate, &f.ok))
		}
		if t.Tiers != nil {
			if t.Tiers.Per == PerTransaction {
				f.ok = false
			}
			for _, b := range t.Tiers.Brackets {
				fb := fastBracket{hasUpTo: b.HasUpTo, hasRate: b.HasRate}
				if b.HasUpTo {
					fb.upTo = fixedOf(b.UpTo, &f.ok)
				}
				if b.HasRate {
					fb.rate = fixedOf(b.Rate, &f.ok)
				}
				f.brackets = append(f.brackets, fb)
			}
		}
		if t.Fixed != nil {
			f.fixed = fixedOf(*t.Fixed, &f.ok)
		}
	}
	return ft
}

// productID is the id of a line's product category in the fast tables,
// -1 when no tax names it. It is Tax.TaxabilityOf's lookup (the product as
// given, then folded; the keys are folded, and folding is idempotent, so
// the folded form alone decides), done once per line through a cache.
func (e *Evaluator) productID(product string) int {
	if id, ok := e.productIDs[product]; ok {
		return id
	}
	id, ok := e.fast.products[e.fold(product)]
	if !ok {
		id = -1
	}
	if len(e.productIDs) >= 4096 {
		clear(e.productIDs)
	}
	e.productIDs[product] = id
	return id
}

// taxability is Tax.TaxabilityOf for the fast tables.
func (f *fastTax) taxability(productID int) *fastTB {
	if productID >= 0 && f.tbs != nil {
		if tb := f.tbs[productID]; tb != nil {
			return tb
		}
	}
	return &f.def
}

// rateIndex is Tax.RateAt returning the entry's index.
func rateIndex(t *Tax, d txn.Date) int {
	for i := len(t.Rates) - 1; i >= 0; i-- {
		r := &t.Rates[i]
		if d >= r.From {
			if r.HasTo && d >= r.To {
				return -1
			}
			return i
		}
	}
	return -1
}

type fastCell struct {
	status  Reason
	rate    money.Fixed
	rateDec decimal.Decimal
	hasRate bool
	tb      *fastTB
	taxable money.Fixed
	exact   money.Fixed
	rounded money.Fixed
}

type fastGroup struct {
	reason                                            Reason
	rate                                              money.Fixed
	rateDec                                           decimal.Decimal
	hasRate                                           bool
	gross, exempt, nonTaxable, taxable, amount, exact money.Fixed
}

// fastState carries the ok flag through a chain of Fixed operations: the
// first overflow clears it and later operations are moot.
type fastState struct{ ok bool }

func (s *fastState) add(a, b money.Fixed) money.Fixed {
	r, ok := a.Add(b)
	s.ok = s.ok && ok
	return r
}

func (s *fastState) sub(a, b money.Fixed) money.Fixed {
	r, ok := a.Sub(b)
	s.ok = s.ok && ok
	return r
}

func (s *fastState) mul(a, b money.Fixed) money.Fixed {
	r, ok := a.Mul(b)
	s.ok = s.ok && ok
	return r
}

func (s *fastState) div(a, b money.Fixed) money.Fixed {
	r, ok := money.DivFixed(a, b)
	s.ok = s.ok && ok
	return r
}

func (s *fastState) round(a money.Fixed, places int32, m money.RoundingMode) money.Fixed {
	r, ok := a.Round(places, m)
	s.ok = s.ok && ok
	return r
}

func (s *fastState) cmp(a, b money.Fixed) int {
	r, ok := a.Cmp(b)
	s.ok = s.ok && ok
	return r
}

// evalFast is Eval's fixed-point path, run after the jurisdictions and
// taxes are selected. It returns false, with res in no particular state,
// when the transaction needs the decimal path.
func (e *Evaluator) evalFast(tx *txn.Transaction, res *Result) bool {
	if e.trace {
		return false
	}
	for i := range tx.Lines {
		if tx.Lines[i].TaxIncluded {
			return false
		}
	}
	for ai := range e.active {
		a := &e.active[ai]
		if a.fast == nil || !a.fast.ok {
			return false
		}
	}
	st := fastState{ok: true}
	nl := len(tx.Lines)
	e.famt, e.fqty, e.fpid = e.famt[:0], e.fqty[:0], e.fpid[:0]
	for i := range tx.Lines {
		l := &tx.Lines[i]
		e.fpid = append(e.fpid, e.productID(l.Product))
		a, q := l.AmountFixed, l.QuantityFixed
		if !l.Fixed {
			var ok1, ok2 bool
			a, ok1 = money.FixedOf(l.Amount)
			q, ok2 = money.FixedOf(l.Quantity)
			if !ok1 || !ok2 {
				return false
			}
		}
		e.famt, e.fqty = append(e.famt, a), append(e.fqty, q)
	}
	if n := len(e.active) * nl; cap(e.fcells) < n {
		e.fcells = make([]fastCell, n)
	} else {
		e.fcells = e.fcells[:n]
	}
	digits := tx.Currency.Digits

	// Taxability (classify).
	for ai := range e.active {
		a := &e.active[ai]
		t := a.tax
		for li := range tx.Lines {
			c := &e.fcells[ai*nl+li]
			*c = fastCell{rate: a.fast.rates[a.ri], rateDec: a.rate.Rate, hasRate: t.Fixed == nil}
			if a.exempt {
				c.status = ReasonCustomerExempt
				continue
			}
			tb := a.fast.taxability(e.fpid[li])
			c.tb = tb
			if tb.kind == Exempt {
				c.status = ReasonProductExempt
				continue
			}
			if tb.hasExemptBelow {
				if st.cmp(st.div(e.famt[li], e.fqty[li]), tb.exemptBelow) < 0 {
					c.status = ReasonBelowThreshold
					continue
				}
			}
			if tb.hasRate {
				c.rate, c.rateDec = tb.rate, tb.rateDec
			}
			switch {
			case t.Fixed != nil:
				c.status = ReasonFixed
			case len(t.CompoundOn) > 0:
				c.status = ReasonCompound
			case t.Tiers != nil:
				c.status = ReasonCapped
			case tb.hasPortion && !tb.portionIsOne:
				c.status = ReasonPortionTaxable
			case tb.hasRate:
				c.status = ReasonReducedRated
			default:
				c.status = ReasonStandardRated
			}
		}
	}
	if !st.ok {
		return false
	}

	// Every tax in dependency order (compute).
	for ai := range e.active {
		a := &e.active[ai]
		t := a.tax
		for li := range tx.Lines {
			c := &e.fcells[ai*nl+li]
			if !taxed(c.status) {
				continue
			}
			amount := e.famt[li]
			if t.Fixed != nil {
				c.taxable = amount
				c.exact = st.mul(e.fqty[li], a.fast.fixed)
				c.rounded = st.round(c.exact, digits, t.Rounding.Mode)
				continue
			}
			sales := amount
			if c.tb.hasPortion {
				sales = st.round(st.mul(amount, c.tb.portion), digits, money.HalfUp)
			}
			base := st.add(sales, e.compoundAddendFast(&st, t, li, nl))
			if t.Tiers == nil {
				c.taxable = sales
				c.exact = st.mul(base, c.rate)
			} else {
				var covered money.Fixed
				if t.Tiers.Per == PerUnit {
					unit := st.div(base, e.fqty[li])
					cov, tax := splitFast(&st, a.fast.brackets, unit, c.rate)
					covered, c.exact = st.mul(cov, e.fqty[li]), st.mul(tax, e.fqty[li])
				} else {
					covered, c.exact = splitFast(&st, a.fast.brackets, base, c.rate)
				}
				if st.cmp(covered, sales) > 0 {
					covered = sales
				}
				c.taxable = st.round(covered, digits, money.HalfUp)
			}
			c.rounded = st.round(c.exact, digits, t.Rounding.Mode)
		}
		if !st.ok {
			return false
		}
	}

	// Group per (tax, rate, reason), in jurisdiction-code order.
	e.fgroups = e.fgroups[:0]
	e.gtax = e.gtax[:0]
	for _, o := range e.lineOrder {
		if ai := e.byOrder[o]; ai >= 0 {
			e.groupFast(&st, tx, ai, nl, digits)
		}
	}
	if !st.ok {
		return false
	}
	if tx.Refund {
		for i := range e.fgroups {
			g := &e.fgroups[i]
			g.gross, g.exempt, g.nonTaxable, g.taxable = g.gross.Neg(), g.exempt.Neg(), g.nonTaxable.Neg(), g.taxable.Neg()
			g.amount, g.exact = g.amount.Neg(), g.exact.Neg()
		}
	}
	if e.fixedOnly {
		for i := range e.fgroups {
			g := &e.fgroups[i]
			res.Lines = append(res.Lines, TaxLine{
				Tax: e.gtax[i], Rate: g.rateDec, HasRate: g.hasRate, Reason: g.reason,
				Fixed: FixedSums{OK: true, Gross: g.gross, Exempt: g.exempt, NonTaxable: g.nonTaxable,
					Taxable: g.taxable, Amount: g.amount, Exact: g.exact},
			})
		}
		return true
	}
	s := &res.slab
	for i := range e.fgroups {
		g := &e.fgroups[i]
		res.Lines = append(res.Lines, TaxLine{
			Tax: e.gtax[i], Rate: g.rateDec, HasRate: g.hasRate, Reason: g.reason,
			Gross: s.Decimal(g.gross), Exempt: s.Decimal(g.exempt), NonTaxable: s.Decimal(g.nonTaxable),
			Taxable: s.Decimal(g.taxable), Amount: s.Decimal(g.amount), Exact: s.Decimal(g.exact),
			Fixed: FixedSums{OK: true, Gross: g.gross, Exempt: g.exempt, NonTaxable: g.nonTaxable,
				Taxable: g.taxable, Amount: g.amount, Exact: g.exact},
		})
	}
	return true
}

// compoundAddendFast is compoundAddend.
func (e *Evaluator) compoundAddendFast(st *fastState, t *Tax, li, nl int) money.Fixed {
	var sum money.Fixed
	for _, o := range t.compoundIdx {
		ai := e.byOrder[o]
		if ai < 0 {
			continue
		}
		c := &e.fcells[ai*nl+li]
		if !taxed(c.status) {
			continue
		}
		if e.active[ai].tax.Rounding.Level == LevelLine {
			sum = st.add(sum, c.rounded)
		} else {
			sum = st.add(sum, c.exact)
		}
	}
	return sum
}

// splitFast is Tiers.split.
func splitFast(st *fastState, brackets []fastBracket, base, rate money.Fixed) (covered, tax money.Fixed) {
	var lo, prev money.Fixed
	hi := st.add(lo, base)
	for i := range brackets {
		b := &brackets[i]
		top := hi
		if b.hasUpTo && st.cmp(b.upTo, top) < 0 {
			top = b.upTo
		}
		bottom := lo
		if st.cmp(prev, bottom) > 0 {
			bottom = prev
		}
		if st.cmp(top, bottom) > 0 {
			part := st.sub(top, bottom)
			r := rate
			if b.hasRate {
				r = b.rate
			}
			covered = st.add(covered, part)
			tax = st.add(tax, st.mul(part, r))
		}
		if !b.hasUpTo {
			break
		}
		prev = b.upTo
	}
	return covered, tax
}

// groupFast is groupTax.
func (e *Evaluator) groupFast(st *fastState, tx *txn.Transaction, ai, nl int, digits int32) {
	t := e.active[ai].tax
	first := len(e.fgroups)
	level := t.Rounding.Level
	for li := range tx.Lines {
		c := &e.fcells[ai*nl+li]
		gi := -1
		for k := first; k < len(e.fgroups); k++ {
			g := &e.fgroups[k]
			if g.reason == c.status && g.hasRate == c.hasRate && st.cmp(g.rate, c.rate) == 0 {
				gi = k
				break
			}
		}
		if gi < 0 {
			e.fgroups = append(e.fgroups, fastGroup{reason: c.status, rate: c.rate, rateDec: c.rateDec, hasRate: c.hasRate})
			e.gtax = append(e.gtax, t)
			gi = len(e.fgroups) - 1
		}
		g := &e.fgroups[gi]
		amount := e.famt[li]
		g.gross = st.add(g.gross, amount)
		switch c.status {
		case ReasonCustomerExempt:
			g.exempt = st.add(g.exempt, amount)
		case ReasonProductExempt, ReasonBelowThreshold:
			g.nonTaxable = st.add(g.nonTaxable, amount)
		default:
			g.taxable = st.add(g.taxable, c.taxable)
			g.nonTaxable = st.add(g.nonTaxable, st.sub(amount, c.taxable))
			g.exact = st.add(g.exact, c.exact)
			if level == LevelLine {
				g.amount = st.add(g.amount, c.rounded)
			} else {
				g.amount = st.add(g.amount, c.exact)
			}
		}
	}
	if level == LevelTransaction {
		groups := e.fgroups[first:]
		var total money.Fixed
		last := -1
		for i := range groups {
			if taxed(groups[i].reason) {
				total = st.add(total, groups[i].amount)
				last = i
			}
		}
		if last < 0 {
			return
		}
		mode := t.Rounding.Mode
		want := st.round(total, digits, mode)
		var got money.Fixed
		for i := range groups {
			if i == last || !taxed(groups[i].reason) {
				continue
			}
			groups[i].amount = st.round(groups[i].amount, digits, mode)
			got = st.add(got, groups[i].amount)
		}
		groups[last].amount = st.sub(want, got)
	}
}
