package rules

import (
	"math"
	"sort"

	"github.com/shopspring/decimal"

	"github.com/taxagg/taxagg/internal/money"
	"github.com/taxagg/taxagg/internal/txn"
)

// Compiled plans: the hot path of Eval.
//
// What the rules decide for a transaction depends on a few things only: the
// jurisdictions its address falls in, the rate epoch its rate date falls in
// (the span between two rate changes of those jurisdictions' taxes), and
// each line's product. A plan is that decision made once: per set of
// matched jurisdictions (shared by every address that matches the same
// set) and rate epoch, the taxes in force in dependency order, their line
// order and the positions of the taxes each compounds on; per product, a
// flat list of operations, one per tax in force, each with the line's
// reason and its rate as a money.Fixed (a scaled int64). An operation
// depends only on (tax, rate entry, product), so it is compiled once per
// Evaluator and shared. The decision itself is decide and rateIndex, the
// same functions the decimal path (eval.go) calls; a plan only stores their
// answers. What is left per transaction is int64 arithmetic: the
// exempt_below comparison, portions, the tax, rounding, grouping.
//
// Plans are built lazily, on the first transaction that needs one, and are
// bounded: a plan set hangs off the Evaluator's address cache (a fixed
// table), the table of plan sets is cleared when it reaches maxPlanSets,
// operations number at most taxes × rate entries × (products + 1), and a
// plan set's steps (each a copy of an operation's hot fields, planStep)
// are bounded with the plan sets, so millions of distinct addresses
// cannot grow memory.
//
// The decimal path stays the reference and the fallback: a plan gives up
// (evalPlan returns false) on tax-included lines, per-transaction tiers,
// constants with more than 18 digits and any figure that would overflow
// int64, and Eval then evaluates the transaction from scratch in decimals,
// so the result is always the decimal path's, bit for bit (FuzzPlan checks
// it on random rule sets and transactions).

// FixedSums are a TaxLine's figures as money.Fixed. OK is set when a plan
// produced the line; aggregate then sums these without allocating. Rate
// is the line's Rate as money.FixedOf gives it, so that a caller keying on
// the rate (calc's texts) need not read the decimal's digits.
type FixedSums struct {
	OK                                                bool
	Gross, Exempt, NonTaxable, Taxable, Amount, Exact money.Fixed
	Rate                                              money.Fixed
}

// maxPlanSets bounds an Evaluator's table of plan sets.
const maxPlanSets = 4096

// planSet is the plans of one set of matched jurisdictions.
type planSet struct {
	taxes     []*Tax // the jurisdictions' taxes in dependency order
	lineOrder []int  // their tax orders in line order (jurisdiction code, file order)
	// bounds are the days any of the taxes' rates starts or ends, sorted:
	// epoch k is the span from bounds[k-1] (inclusive) to bounds[k].
	bounds []txn.Date
	epochs []*epochPlan // by epoch, nil until needed
	last   *epochPlan   // the epoch used last
	// exemptable: some customer exemption of the rules names one of the
	// jurisdictions; without one, a customer is never looked up.
	exemptable bool
}

// epochPlan is a planSet's plans for one rate epoch.
type epochPlan struct {
	// from and to are the epoch's days: from ≤ day < to; hasFrom and
	// hasTo are false for the open ends.
	from, to       txn.Date
	hasFrom, hasTo bool

	n    int   // taxes in force
	emit []int // op positions in line order
	// byProduct holds each product's steps (index productID+1), built
	// when first needed. By value, so that a transaction reaches its
	// steps from the epoch in two loads (see planStep).
	byProduct []productPlan
	taxes     []*Tax // in force, dependency order (op position → tax)
	ris       []int  // their rate indexes
	// deps are, by op position, the op positions of the taxes that tax
	// compounds on that are in force (all earlier); nil for most.
	deps [][]int
}

// productPlan is one product's steps in an epoch, by op position.
type productPlan struct {
	steps []planStep
	lines []stepLine // by op position too
	built bool
	ok    bool // every op's ok
}

// stepLine is what grouping a step's cells into tax lines reads of its op
// (groupPlan: calc's path, not the compact slots'). It is kept beside the
// steps, not in them, so that the slots' walk over the steps stays short,
// and not only in the op, so that grouping reads one short run of them
// instead of one op per tax, each a cache miss more often than not.
type stepLine struct {
	tax        *Tax
	rateDec    decimal.Decimal
	taxRateDec decimal.Decimal
	taxRate    money.Fixed
	hasRate    bool
}

// rateOf is a cell's rate: the op's for its decided status (the step's),
// the tax's own for exempt and below-threshold lines.
func (sl *stepLine) rateOf(st *planStep, status Reason) (money.Fixed, *decimal.Decimal) {
	if status == st.status {
		return st.rate, &sl.rateDec
	}
	return sl.taxRate, &sl.taxRateDec
}

// opHot is the part of an op that every taxed line reads: 24 bytes, the
// rate first so that the flags fill what would be its padding.
type opHot struct {
	rate money.Fixed // rate for status
	// status is the reason of a line that is not exempt and passes the
	// threshold: ReasonProductExempt or a taxed reason.
	status     Reason
	hasBelow   bool
	hasPortion bool // the portion is op.portion (rare: not copied into steps)
	isFixed    bool
	tiers      bool
	perUnit    bool
	mode       money.RoundingMode
	level      RoundingLevel
}

// planStep is an op as a transaction's evaluation reads it: its hot part
// and the tax's slot, copied next to the other steps of the same product
// and epoch. Evaluation is bound by memory latency, not arithmetic: each
// record walks from its address to its operations, and every pointer on
// the way is a cache miss more often than not (per-address data is pushed
// out of the caches by the input streaming through them). Shared planOps
// cost one dependent miss per tax; a product's steps are one short
// contiguous run. The rest of the op (thresholds, fixed amounts, brackets,
// the decimals for tax lines) is read through op, on the rarer paths that
// need it.
type planStep struct {
	opHot
	order int32 // the tax's Order: its slot in Result.Slots
	op    *planOp
}

// planOp is one tax's treatment of one product under one of its rates.
// It does not depend on the address, so an Evaluator compiles it once
// (Evaluator.op) and every plan set shares it: the ops of a run fit in a
// few hundred kilobytes however many addresses it sees. Evaluation reads
// an op through its planStep, which copies its hot part.
type planOp struct {
	opHot
	ok      bool // every constant fits a money.Fixed and the kind is covered
	hasRate bool
	below   money.Fixed
	portion money.Fixed

	tax     *Tax
	rateDec decimal.Decimal
	// taxRate is the tax's own rate in the epoch: the rate of exempt and
	// below-threshold lines.
	taxRate    money.Fixed
	taxRateDec decimal.Decimal
	fixed      money.Fixed
	brackets   []fixedBracket
}

type fixedBracket struct {
	upTo, rate       money.Fixed
	hasUpTo, hasRate bool
}

func fixedOf(d decimal.Decimal, ok *bool) money.Fixed {
	f, good := money.FixedOf(d)
	if !good {
		*ok = false
	}
	return f
}

// buildProducts numbers every product category any tax names (the folded
// keys of Tax.Taxability), so that a line's treatment is found by an index.
func buildProducts(p *Program) (map[string]int, []string) {
	ids := map[string]int{}
	var keys []string
	for _, t := range p.Taxes {
		for k := range t.Taxability {
			if _, ok := ids[k]; !ok {
				ids[k] = len(keys)
				keys = append(keys, k)
			}
		}
	}
	return ids, keys
}

// productID is the id of a line's product category, -1 when no tax names
// it. It is Tax.TaxabilityOf's lookup (the product as given, then folded;
// the keys are folded, and folding is idempotent, so the folded form alone
// decides), done once per product through a bounded cache.
func (e *Evaluator) productID(product string) int {
	if id, ok := e.knownProductID(product); ok {
		return id
	}
	id := e.productIDSlow(product)
	e.productFront[productFrontIndex(product)] = productEntry{product: product, id: id, ok: true}
	return id
}

// knownProductID is productID's quick way in. A few products make most
// lines: a direct-mapped table in front of the map, indexed without
// hashing the string (the Parser interns products, so the compare is
// mostly of one pointer). ok is false for a product not there.
func (e *Evaluator) knownProductID(product string) (id int, ok bool) {
	if f := &e.productFront[productFrontIndex(product)]; f.ok && f.product == product {
		return f.id, true
	}
	return 0, false
}

func productFrontIndex(product string) int {
	if product == "" {
		return 0
	}
	return (len(product) ^ int(product[0])<<1 ^ int(product[len(product)-1])<<2) & (len(productFrontTable{}) - 1)
}

// productFrontTable is productID's front table.
type productFrontTable [16]productEntry

type productEntry struct {
	product string
	id      int
	ok      bool
}

func (e *Evaluator) productIDSlow(product string) int {
	if id, ok := e.productIDs[product]; ok {
		return id
	}
	id, ok := e.products[e.fold(product)]
	if !ok {
		id = -1
	}
	if len(e.productIDs) >= 4096 {
		clear(e.productIDs)
	}
	e.productIDs[product] = id
	return id
}

// planSetFor returns the plan set of the jurisdictions just matched
// (e.jlist, e.taxes, e.lineOrder), shared by every address that matches
// the same jurisdictions.
func (e *Evaluator) planSetFor() *planSet {
	e.keyBuf = e.keyBuf[:0]
	for _, j := range e.jlist {
		i := j.index
		e.keyBuf = append(e.keyBuf, byte(i), byte(i>>8), byte(i>>16), byte(i>>24))
	}
	if ps, ok := e.planSets[string(e.keyBuf)]; ok {
		return ps
	}
	ps := &planSet{
		taxes:     append([]*Tax(nil), e.taxes...),
		lineOrder: append([]int(nil), e.lineOrder...),
	}
	for _, t := range ps.taxes {
		for _, r := range t.Rates {
			ps.bounds = append(ps.bounds, r.From)
			if r.HasTo {
				ps.bounds = append(ps.bounds, r.To)
			}
		}
	}
	for _, x := range e.p.Exemptions {
		for _, pat := range x.Jurisdictions {
			for _, j := range e.jlist {
				ps.exemptable = ps.exemptable || codeMatches(pat, j.Code)
			}
		}
	}
	sort.Slice(ps.bounds, func(i, j int) bool { return ps.bounds[i] < ps.bounds[j] })
	ps.bounds = compactDates(ps.bounds)
	ps.epochs = make([]*epochPlan, len(ps.bounds)+1)
	if len(e.planSets) >= maxPlanSets {
		clear(e.planSets)
	}
	e.planSets[string(e.keyBuf)] = ps
	return ps
}

func compactDates(d []txn.Date) []txn.Date {
	out := d[:0]
	for i, x := range d {
		if i == 0 || x != d[i-1] {
			out = append(out, x)
		}
	}
	return out
}

// holds reports whether day falls in the epoch.
func (ep *epochPlan) holds(day txn.Date) bool {
	return (!ep.hasFrom || ep.from <= day) && (!ep.hasTo || day < ep.to)
}

// epochOf is ps.epoch(day) through the shortcut of the address just
// matched: the epoch its last transaction used.
func (e *Evaluator) epochOf(ps *planSet, day txn.Date) *epochPlan {
	m := e.pmatch
	if m != nil && m.epoch != nil && m.epoch.holds(day) {
		return m.epoch
	}
	ep := ps.epoch(day)
	if m != nil {
		m.epoch = ep
	}
	return ep
}

// epoch returns the plan of the epoch day falls in.
func (ps *planSet) epoch(day txn.Date) *epochPlan {
	if ep := ps.last; ep != nil && ep.holds(day) {
		return ep
	}
	k := 0
	for k < len(ps.bounds) && ps.bounds[k] <= day {
		k++
	}
	if ep := ps.epochs[k]; ep != nil {
		ps.last = ep
		return ep
	}
	// Every day of the epoch selects the same taxes and rates.
	ep := &epochPlan{}
	if k > 0 {
		ep.from, ep.hasFrom = ps.bounds[k-1], true
	}
	if k < len(ps.bounds) {
		ep.to, ep.hasTo = ps.bounds[k], true
	}
	byOrder := map[int]int{}
	for _, t := range ps.taxes {
		if ri := rateIndex(t, day); ri >= 0 {
			byOrder[t.order] = len(ep.taxes)
			ep.taxes = append(ep.taxes, t)
			ep.ris = append(ep.ris, ri)
		}
	}
	ep.n = len(ep.taxes)
	for i, t := range ep.taxes {
		for _, o := range t.compoundIdx {
			if d, ok := byOrder[o]; ok {
				if ep.deps == nil {
					ep.deps = make([][]int, ep.n)
				}
				ep.deps[i] = append(ep.deps[i], d)
			}
		}
	}
	for _, o := range ps.lineOrder {
		if i, ok := byOrder[o]; ok {
			ep.emit = append(ep.emit, i)
		}
	}
	ps.epochs[k] = ep
	ps.last = ep
	return ep
}

// product returns the steps of a product (by productID) in the epoch.
func (e *Evaluator) product(ep *epochPlan, pid int) *productPlan {
	if ep.byProduct == nil {
		ep.byProduct = make([]productPlan, len(e.productKeys)+1)
	}
	pp := &ep.byProduct[pid+1]
	if pp.built {
		return pp
	}
	pp.steps, pp.lines, pp.built, pp.ok = make([]planStep, ep.n), make([]stepLine, ep.n), true, true
	for i, t := range ep.taxes {
		op := e.op(t, ep.ris[i], pid)
		pp.steps[i] = planStep{opHot: op.opHot, order: int32(t.order), op: op}
		pp.lines[i] = stepLine{tax: op.tax, rateDec: op.rateDec, taxRateDec: op.taxRateDec, taxRate: op.taxRate, hasRate: op.hasRate}
		pp.ok = pp.ok && op.ok
	}
	return pp
}

// op returns the operation of tax t under its rate entry ri for a product
// (by productID), compiling it on first use.
func (e *Evaluator) op(t *Tax, ri, pid int) *planOp {
	np := len(e.productKeys) + 1
	tab := e.taxOps[t.order]
	if tab == nil {
		tab = make([]*planOp, len(t.Rates)*np)
		e.taxOps[t.order] = tab
	}
	k := ri*np + pid + 1
	if op := tab[k]; op != nil {
		return op
	}
	tb := t.defaultTB
	if pid >= 0 {
		if x, ok := t.Taxability[e.productKeys[pid]]; ok {
			tb = x
		}
	}
	op := compileOp(t, t.Rates[ri].Rate, tb)
	tab[k] = &op
	return &op
}

// compileOp writes down decide's answer for one tax, product treatment and
// rate, with the constants the arithmetic needs.
func compileOp(t *Tax, taxRate decimal.Decimal, tb Taxability) planOp {
	op := planOp{tax: t, ok: true, hasRate: t.Fixed == nil, opHot: opHot{mode: t.Rounding.Mode, level: t.Rounding.Level}}
	op.taxRateDec = taxRate
	op.taxRate = fixedOf(taxRate, &op.ok)
	op.status, op.rateDec = decide(t, taxRate, tb)
	op.rate = fixedOf(op.rateDec, &op.ok)
	if !taxed(op.status) {
		return op
	}
	if tb.HasExemptBelow {
		op.hasBelow, op.below = true, fixedOf(tb.ExemptBelow, &op.ok)
	}
	if tb.HasPortion {
		op.hasPortion, op.portion = true, fixedOf(tb.Portion, &op.ok)
	}
	if t.Fixed != nil {
		op.isFixed, op.fixed = true, fixedOf(*t.Fixed, &op.ok)
		return op
	}
	if t.Tiers != nil {
		if t.Tiers.Per == PerTransaction {
			op.ok = false // the brackets span the lines: decimal path
		}
		op.tiers, op.perUnit = true, t.Tiers.Per == PerUnit
		for _, b := range t.Tiers.Brackets {
			fb := fixedBracket{hasUpTo: b.HasUpTo, hasRate: b.HasRate}
			if b.HasUpTo {
				fb.upTo = fixedOf(b.UpTo, &op.ok)
			}
			if b.HasRate {
				fb.rate = fixedOf(b.Rate, &op.ok)
			}
			op.brackets = append(op.brackets, fb)
		}
	}
	return op
}

// planCell is one tax on one line. It holds no pointer (its op is
// e.lineOps[line][position]), so writing it costs no write barrier.
type planCell struct {
	status  Reason
	taxable money.Fixed
	exact   money.Fixed
	rounded money.Fixed
}

// fixedState carries the ok flag through a chain of Fixed operations: the
// first overflow clears it and later operations are moot.
type fixedState struct{ ok bool }

func (s *fixedState) add(a, b money.Fixed) money.Fixed {
	// A group's first line: 0 + b is b when b's exponent is not positive.
	// (Add would also refuse a coefficient of MinInt64, but none occurs in
	// a plan: the inputs and constants have at most 18 digits and every
	// operation keeps its results above it.)
	if a.C|int64(a.E) == 0 && b.E <= 0 {
		return b
	}
	return s.addSlow(a, b)
}

//go:noinline
func (s *fixedState) addSlow(a, b money.Fixed) money.Fixed {
	r, ok := a.Add(b)
	s.ok = s.ok && ok
	return r
}

func (s *fixedState) sub(a, b money.Fixed) money.Fixed {
	if a.E == b.E {
		// The usual case (an amount less its taxable part), inlined.
		c := a.C - b.C
		if (a.C^b.C)&(a.C^c) >= 0 && b.C != math.MinInt64 {
			return money.Fixed{C: c, E: a.E}
		}
	}
	return s.subSlow(a, b)
}

//go:noinline
func (s *fixedState) subSlow(a, b money.Fixed) money.Fixed {
	r, ok := a.Sub(b)
	s.ok = s.ok && ok
	return r
}

func (s *fixedState) mul(a, b money.Fixed) money.Fixed {
	r, ok := a.Mul(b)
	s.ok = s.ok && ok
	return r
}

func (s *fixedState) div(a, b money.Fixed) money.Fixed {
	r, ok := money.DivFixed(a, b)
	s.ok = s.ok && ok
	return r
}

func (s *fixedState) round(a money.Fixed, places int32, m money.RoundingMode) money.Fixed {
	r, ok := a.Round(places, m)
	s.ok = s.ok && ok
	return r
}

func (s *fixedState) cmp(a, b money.Fixed) int {
	r, ok := a.Cmp(b)
	s.ok = s.ok && ok
	return r
}

// cell sets c to one tax (op position i) on one line li of nl: its reason
// and figures. A compound tax reads the cells of the taxes it compounds on,
// which come earlier in dependency order, from e.pcells. It writes through
// c rather than return a planCell: a returned one is assembled on the
// stack field by field and copied out in 16-byte moves, each of which
// waits for the narrower stores under it (a store-forwarding stall:
// BenchmarkPlanEval is about 5% faster without).
func (e *Evaluator) cell(c *planCell, st *fixedState, ep *epochPlan, i, li, nl int, exempt bool, digits int32) {
	op := &e.lineOps[li][i]
	*c = planCell{status: op.status}
	switch {
	case exempt:
		c.status = ReasonCustomerExempt
		return
	case !taxed(op.status):
		return
	case op.hasBelow:
		// The unit price as given.
		if st.cmp(st.div(e.famt[li], e.fqty[li]), op.op.below) < 0 {
			c.status = ReasonBelowThreshold
			return
		}
	}
	amount := e.famt[li]
	if op.isFixed {
		c.taxable = amount
		c.exact = st.mul(e.fqty[li], op.op.fixed)
		c.rounded = st.round(c.exact, digits, op.mode)
		return
	}
	sales := amount
	if op.hasPortion {
		sales = st.round(st.mul(amount, op.op.portion), digits, money.HalfUp)
	}
	// As in compute: the compound addend (zero without one) is always
	// added, since adding a zero can change the exponent (only of a sales
	// figure with a positive one).
	base := sales
	var deps []int
	if ep.deps != nil {
		deps = ep.deps[i]
	}
	if deps != nil || sales.E > 0 {
		base = st.add(sales, e.addend(st, deps, li, nl))
	}
	if !op.tiers {
		c.taxable = sales
		c.exact = st.mul(base, op.rate)
	} else {
		var covered money.Fixed
		if op.perUnit {
			unit := st.div(base, e.fqty[li])
			cov, tax := splitFixed(st, op.op.brackets, unit, op.rate)
			covered, c.exact = st.mul(cov, e.fqty[li]), st.mul(tax, e.fqty[li])
		} else {
			covered, c.exact = splitFixed(st, op.op.brackets, base, op.rate)
		}
		if st.cmp(covered, sales) > 0 {
			covered = sales
		}
		c.taxable = st.round(covered, digits, money.HalfUp)
	}
	c.rounded = st.round(c.exact, digits, op.mode)
}

// evalPlan evaluates tx by its plans once its jurisdictions are found. It
// returns false, with res in no particular state, when the transaction
// needs the decimal path.
func (e *Evaluator) evalPlan(tx *txn.Transaction, res *Result) bool {
	ps := e.pset
	if ps == nil {
		return false
	}
	nl := len(tx.Lines)
	e.famt, e.fqty = e.famt[:0], e.fqty[:0]
	for i := range tx.Lines {
		l := &tx.Lines[i]
		if l.TaxIncluded {
			return false
		}
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
	ep := e.epochOf(ps, tx.RateDay)
	if ep.n == 0 {
		if len(e.jlist) > 0 {
			res.Coverage = NoTax
		}
		return true
	}
	e.lineOps, e.lineLines = e.lineOps[:0], e.lineLines[:0]
	for i := range tx.Lines {
		pp := e.product(ep, e.productID(tx.Lines[i].Product))
		if !pp.ok {
			return false
		}
		e.lineOps, e.lineLines = append(e.lineOps, pp.steps), append(e.lineLines, pp.lines)
	}
	// Exemptions are per transaction: a flag per tax.
	exemptAll := tx.ExemptReason != ""
	var exs []int
	if !exemptAll && tx.Customer != "" && ps.exemptable {
		exs = e.p.exemptionsFor[tx.Customer]
	}
	e.pexempt = e.pexempt[:0]
	if len(exs) > 0 {
		for _, t := range ep.taxes {
			e.pexempt = append(e.pexempt, e.exempt(tx, t.Jurisdiction))
		}
	}
	if n := ep.n * nl; cap(e.pcells) < n {
		e.pcells = make([]planCell, n)
	} else {
		e.pcells = e.pcells[:n]
	}
	st := fixedState{ok: true}
	digits := tx.Currency.Digits

	if e.compact && nl == 1 && ep.deps == nil {
		// The usual record: one line, no compound tax. Each tax's cell
		// goes straight into its slot, with no table of cells between.
		res.Coverage = Taxed
		return e.oneLineSlots(&st, tx, res, ep, exemptAll, digits)
	}
	// Every tax in dependency order, every line.
	for i := 0; i < ep.n; i++ {
		exempt := exemptAll || len(e.pexempt) > 0 && e.pexempt[i]
		for li := 0; li < nl; li++ {
			e.cell(&e.pcells[i*nl+li], &st, ep, i, li, nl, exempt, digits)
		}
		if !st.ok {
			return false
		}
	}

	if e.compact {
		res.Coverage = Taxed
		return e.slots(&st, tx, res, ep, digits)
	}
	// Group per (tax, rate, reason), in line order, straight into
	// res.Lines (their Fixed figures).
	for _, i := range ep.emit {
		e.groupPlan(&st, res, i, nl, digits)
	}
	if !st.ok {
		return false
	}
	res.Coverage = Taxed
	s := &res.slab
	for i := range res.Lines {
		l := &res.Lines[i]
		g := &l.Fixed
		g.OK = true
		if tx.Refund {
			g.Gross, g.Exempt, g.NonTaxable, g.Taxable = g.Gross.Neg(), g.Exempt.Neg(), g.NonTaxable.Neg(), g.Taxable.Neg()
			g.Amount, g.Exact = g.Amount.Neg(), g.Exact.Neg()
		}
		if !e.fixedOnly {
			l.Gross, l.Exempt, l.NonTaxable = s.Decimal(g.Gross), s.Decimal(g.Exempt), s.Decimal(g.NonTaxable)
			l.Taxable, l.Amount, l.Exact = s.Decimal(g.Taxable), s.Decimal(g.Amount), s.Decimal(g.Exact)
		}
	}
	return true
}

// SlotSums is one tax's figures for one transaction in compact form
// (Evaluator.Compact): the sums of its TaxLines' Fixed figures over all
// its rates and reasons, refunds negative, each figure k the exact decimal
// C[k] × 10^E[k] with the exponent the sum of the lines' decimals has.
// Sixty-four bytes and no pointer: one cache line.
type SlotSums struct {
	// Slot is the tax's Order (Result.SlotTax).
	Slot int32
	E    [NumFigures]int8
	C    [NumFigures]int64
}

// The figures of SlotSums, in aggregate's output order.
const (
	FigGross = iota
	FigExempt
	FigNonTaxable
	FigTaxable
	FigAmount
	FigExact
	NumFigures
)

// Figure returns figure k as a money.Fixed.
func (s *SlotSums) Figure(k int) money.Fixed { return money.Fixed{C: s.C[k], E: int32(s.E[k])} }

// SlotTax is the tax of a SlotSums of this Result.
func (r *Result) SlotTax(slot int32) *Tax { return r.prog.Taxes[slot] }

// Program is the Program whose taxes (Program.Taxes) Slots number; nil
// without Slots.
func (r *Result) Program() *Program { return r.prog }

// slots gives each tax in force, in line order, one SlotSums in res.Slots:
// the sums of the figures groupPlan would give its lines, over all of them
// at once. Sums of exact figures do not depend on how the lines are
// grouped, and neither do their exponents (the smallest of the terms'); at
// the transaction level the groups' amounts add up to the rounded total
// (roundOnce), which is what the tax's slot takes. It returns false when a
// figure overflows or its exponent does not fit in SlotSums: the decimal
// path then takes the transaction. diffSlots in the tests holds it to the
// decimal reference's lines.
func (e *Evaluator) slots(st *fixedState, tx *txn.Transaction, res *Result, ep *epochPlan, digits int32) bool {
	nl := len(tx.Lines)
	e.growSlots(res, len(ep.emit))
	for k, i := range ep.emit {
		var f [NumFigures]money.Fixed
		var level RoundingLevel
		var mode money.RoundingMode
		taxedAny := false
		var order int32
		for li := 0; li < nl; li++ {
			op := &e.lineOps[li][i]
			level, mode, order = op.level, op.mode, op.order
			taxedAny = addCell(st, &f, &e.pcells[i*nl+li], e.famt[li], level) || taxedAny
		}
		if level == LevelTransaction && taxedAny {
			f[FigAmount] = st.round(f[FigAmount], digits, mode)
		}
		if nl == 0 {
			order = int32(ep.taxes[i].order) // no line, so no step to read it from
		}
		if !storeSlot(&res.Slots[k], order, &f, tx.Refund) {
			return false
		}
	}
	return st.ok
}

// oneLineSlots is slots for a transaction of one line whose epoch has no
// compound tax: each tax's cell is computed (cell) and added to its slot
// at once, in line order, instead of all the cells first.
func (e *Evaluator) oneLineSlots(st *fixedState, tx *txn.Transaction, res *Result, ep *epochPlan, exemptAll bool, digits int32) bool {
	e.growSlots(res, len(ep.emit))
	amount := e.famt[0]
	for k, i := range ep.emit {
		op := &e.lineOps[0][i]
		exempt := exemptAll || len(e.pexempt) > 0 && e.pexempt[i]
		var c planCell
		e.cell(&c, st, ep, i, 0, 1, exempt, digits)
		var f [NumFigures]money.Fixed
		if addCell(st, &f, &c, amount, op.level) && op.level == LevelTransaction {
			f[FigAmount] = st.round(f[FigAmount], digits, op.mode)
		}
		if !storeSlot(&res.Slots[k], op.order, &f, tx.Refund) {
			return false
		}
	}
	return st.ok
}

// growSlots makes res.Slots n long, for taxes of e's program.
func (e *Evaluator) growSlots(res *Result, n int) {
	res.prog = e.p
	if cap(res.Slots) < n {
		res.Slots = make([]SlotSums, n)
	}
	res.Slots = res.Slots[:n]
}

// addCell adds one line's cell to its tax's figures f, amount being the
// line's amount and level the tax's rounding level; it reports whether the
// line is taxed.
func addCell(st *fixedState, f *[NumFigures]money.Fixed, c *planCell, amount money.Fixed, level RoundingLevel) bool {
	f[FigGross] = st.add(f[FigGross], amount)
	switch c.status {
	case ReasonCustomerExempt:
		f[FigExempt] = st.add(f[FigExempt], amount)
		return false
	case ReasonProductExempt, ReasonBelowThreshold:
		f[FigNonTaxable] = st.add(f[FigNonTaxable], amount)
		return false
	}
	f[FigTaxable] = st.add(f[FigTaxable], c.taxable)
	f[FigNonTaxable] = st.add(f[FigNonTaxable], st.sub(amount, c.taxable))
	f[FigExact] = st.add(f[FigExact], c.exact)
	if level == LevelLine {
		f[FigAmount] = st.add(f[FigAmount], c.rounded)
	} else {
		f[FigAmount] = st.add(f[FigAmount], c.exact)
	}
	return true
}

// storeSlot writes a tax's figures (negated for a refund) as its SlotSums.
// It returns false when an exponent does not fit in an int8.
func storeSlot(s *SlotSums, order int32, f *[NumFigures]money.Fixed, refund bool) bool {
	s.Slot = order
	for x, v := range f {
		if refund {
			v = v.Neg()
		}
		if v.E != int32(int8(v.E)) {
			return false
		}
		s.C[x], s.E[x] = v.C, int8(v.E)
	}
	return true
}

// addend is compoundAddend: the tax already computed on line li by the
// taxes at op positions deps, rounded where their level is line.
func (e *Evaluator) addend(st *fixedState, deps []int, li, nl int) money.Fixed {
	var sum money.Fixed
	for _, d := range deps {
		dc := &e.pcells[d*nl+li]
		if !taxed(dc.status) {
			continue
		}
		if e.lineOps[li][d].level == LevelLine {
			sum = st.add(sum, dc.rounded)
		} else {
			sum = st.add(sum, dc.exact)
		}
	}
	return sum
}

// splitFixed is Tiers.split.
func splitFixed(st *fixedState, brackets []fixedBracket, base, rate money.Fixed) (covered, tax money.Fixed) {
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

// nextLine appends a zero line to res.Lines, reusing the storage a
// previous use of the Result left (clearing only what was set: with
// FixedOnly the decimals are mostly zero already).
func (e *Evaluator) nextLine(res *Result) *TaxLine {
	n := len(res.Lines)
	if n == cap(res.Lines) {
		res.Lines = append(res.Lines, TaxLine{})
		return &res.Lines[n]
	}
	res.Lines = res.Lines[:n+1]
	l := &res.Lines[n]
	var zero decimal.Decimal
	if l.Gross != zero || l.Exempt != zero || l.NonTaxable != zero || l.Taxable != zero || l.Amount != zero || l.Exact != zero {
		l.Gross, l.Exempt, l.NonTaxable, l.Taxable, l.Amount, l.Exact = zero, zero, zero, zero, zero, zero
	}
	l.Fixed = FixedSums{}
	return l
}

// groupPlan is groupTax for the tax at op position i: it appends the
// tax's groups to res.Lines, their figures (and rate) in Fixed.
func (e *Evaluator) groupPlan(st *fixedState, res *Result, i, nl int, digits int32) {
	first := len(res.Lines)
	var level RoundingLevel
	var mode money.RoundingMode
	for li := 0; li < nl; li++ {
		c := &e.pcells[i*nl+li]
		step, sl := &e.lineOps[li][i], &e.lineLines[li][i]
		level, mode = step.level, step.mode
		rate, rateDec := sl.rateOf(step, c.status)
		gi := -1
		for k := first; k < len(res.Lines); k++ {
			if res.Lines[k].Reason == c.status && st.cmp(res.Lines[k].Fixed.Rate, rate) == 0 {
				gi = k
				break
			}
		}
		if gi < 0 {
			gi = len(res.Lines)
			l := e.nextLine(res)
			l.Tax, l.Rate, l.HasRate, l.Reason = sl.tax, *rateDec, sl.hasRate, c.status
			l.Fixed.Rate = rate
		}
		g := &res.Lines[gi].Fixed
		amount := e.famt[li]
		g.Gross = st.add(g.Gross, amount)
		switch c.status {
		case ReasonCustomerExempt:
			g.Exempt = st.add(g.Exempt, amount)
		case ReasonProductExempt, ReasonBelowThreshold:
			g.NonTaxable = st.add(g.NonTaxable, amount)
		default:
			g.Taxable = st.add(g.Taxable, c.taxable)
			g.NonTaxable = st.add(g.NonTaxable, st.sub(amount, c.taxable))
			g.Exact = st.add(g.Exact, c.exact)
			if level == LevelLine {
				g.Amount = st.add(g.Amount, c.rounded)
			} else {
				g.Amount = st.add(g.Amount, c.exact)
			}
		}
	}
	if level != LevelTransaction {
		return
	}
	// roundOnce on the amounts.
	groups := res.Lines[first:]
	var total money.Fixed
	last := -1
	for k := range groups {
		if taxed(groups[k].Reason) {
			total = st.add(total, groups[k].Fixed.Amount)
			last = k
		}
	}
	if last < 0 {
		return
	}
	want := st.round(total, digits, mode)
	var got money.Fixed
	for k := range groups {
		if k == last || !taxed(groups[k].Reason) {
			continue
		}
		groups[k].Fixed.Amount = st.round(groups[k].Fixed.Amount, digits, mode)
		got = st.add(got, groups[k].Fixed.Amount)
	}
	groups[last].Fixed.Amount = st.sub(want, got)
}
