package rules

import (
	"fmt"
	"strings"
	"unsafe"

	"github.com/shopspring/decimal"

	"github.com/taxagg/taxagg/internal/money"
	"github.com/taxagg/taxagg/internal/txn"
)

// Reason says why a tax line came out as it did (docs/output.md).
type Reason uint8

const (
	ReasonStandardRated Reason = iota
	ReasonReducedRated
	ReasonProductExempt
	ReasonCustomerExempt
	ReasonPortionTaxable
	ReasonBelowThreshold
	ReasonCapped
	ReasonCompound
	ReasonFixed
)

var reasonNames = [...]string{
	"standard_rated", "reduced_rated", "product_exempt", "customer_exempt",
	"portion_taxable", "below_threshold", "capped", "compound", "fixed",
}

func (r Reason) String() string { return reasonNames[r] }

// TaxLine is what one tax makes of one transaction, for the lines that share
// a rate and a reason. Refunds carry negative figures.
type TaxLine struct {
	Tax *Tax
	// Rate is the rate in force for these lines after taxability (for
	// exempt lines, the tax's own rate). HasRate is false for fixed taxes.
	Rate    decimal.Decimal
	HasRate bool
	Reason  Reason

	Gross      decimal.Decimal
	Exempt     decimal.Decimal
	NonTaxable decimal.Decimal
	Taxable    decimal.Decimal
	// Amount is the tax as rounded at the tax's rounding level: per line
	// or per transaction, already at the currency's minor unit; for the
	// aggregate level, exact (the totals round it).
	Amount decimal.Decimal
	// Exact is the unrounded tax.
	Exact decimal.Decimal
	// Fixed holds the same figures as money.Fixed when a plan computed
	// them (Fixed.OK).
	Fixed FixedSums
}

// Result is the evaluation of one transaction.
type Result struct {
	// Jurisdictions the transaction falls in, by code. Read only: it may
	// be the Evaluator's list for the address, shared by every Result of
	// the same address, so code that builds a list of its own starts from
	// a slice of its own, never from this one's storage.
	Jurisdictions []*Jurisdiction
	jbuf          []*Jurisdiction // Jurisdictions' storage when it is not shared
	// addr is the address cache entry whose list Jurisdictions is, when
	// it is (see Nexus).
	addr *matchSet
	// Lines in tax order (jurisdiction code, then the tax's place in its file).
	Lines []TaxLine
	// Trace holds per-line details when the Evaluator traces (explain).
	Trace []LineTrace
	// Coverage says whether the transaction was taxed, matched no
	// jurisdiction, or matched only jurisdictions without a tax in force.
	Coverage Coverage
	// Address is the ship-to address as normalised for matching (shared,
	// read only); nil when the transaction gave its jurisdictions.
	Address *Address
	// Slots are the taxes of a transaction a plan evaluated under
	// Evaluator.Compact, one per tax, in place of Lines (which are then
	// empty); a transaction the decimal path evaluated has Lines instead.
	Slots []SlotSums

	// prog is the Program of Slots (SlotTax).
	prog *Program

	// slab backs the decimals of Lines made by a plan: they stay
	// valid until the Result is passed to Eval again (as Lines itself).
	slab money.DecimalSlab
}

// LineTrace is one tax's treatment of one transaction line, for explain.
type LineTrace struct {
	Tax     *Tax
	Line    int // 0-based index into the transaction's lines
	Reason  Reason
	Rate    decimal.Decimal
	HasRate bool
	Amount  decimal.Decimal // the line amount used (net for tax-included lines)
	Taxable decimal.Decimal
	Exact   decimal.Decimal
	Note    string
}

// InputError is a transaction the rules cannot evaluate: it names the
// transaction field at fault.
type InputError = txn.FieldError

// Evaluator evaluates transactions against a Program. It holds scratch space
// reused from one transaction to the next, so each goroutine needs its own.
type Evaluator struct {
	p     *Program
	trace bool
	// fixedOnly: plans leave a TaxLine's decimal figures unset (see
	// FixedOnly).
	fixedOnly bool
	// compact: plans fill Result.Slots instead of Result.Lines (see
	// Compact).
	compact bool
	// noPlans: the decimal path alone (the reference, for tests).
	noPlans bool
	pf      []pending // Prefetch's batch (kept for its room)

	addr    address
	matched []bool            // by jurisdiction index
	jlist   []*Jurisdiction   // matched jurisdictions in code order (read only: may be a cached list)
	active  []activeTax       // applicable taxes in dependency order
	byOrder []int             // tax order → index in active, -1 if not applicable
	cells   []lineCell        // len(active) × len(lines), row-major by tax
	amounts []decimal.Decimal // per line: the amount used (net for tax-included)

	mlist     []int // indexes of the jurisdictions marked in matched
	jbuf      []*Jurisdiction
	folds     map[string]string
	addrCache [][addrCacheWays]addrEntry // address hash → what it matched
	taxes     []*Tax                     // taxes of the matched jurisdictions, in dependency order
	// lineOrder is the tax order (Tax.order) of every tax of the matched
	// jurisdictions, jurisdictions in code order and each one's taxes in
	// file order: the order of a Result's lines (read only: may be cached).
	lineOrder []int
	lineBuf   []int
	taxBuf    []*Tax

	// Address normalisation (normalize.go).
	norm      *Address        // the transaction's normalised address (may be cached)
	normBuf   Address         // where normalizeAddress builds it
	countries map[string]bool // folded countries the rules name (knownCountry)

	// Plans (plan.go).
	products     map[string]int // folded product category → id
	productKeys  []string       // id → folded product category
	productIDs   map[string]int // product as given → id (a bounded cache)
	productFront productFrontTable
	planSets     map[string]*planSet
	keyBuf       []byte    // planSetFor's key
	akey         []byte    // the address key (addressKey)
	pset         *planSet  // the plans of the jurisdictions found
	pmatch       *matchSet // the address cache's entry of the address just matched, nil for explicit jurisdictions
	famt         []money.Fixed
	fqty         []money.Fixed
	lineOps      [][]planStep // per line: its product's steps
	lineLines    [][]stepLine // per line: its product's steps' line data
	taxOps       [][]*planOp  // by tax order: ops by rate entry and product (Evaluator.op)
	pexempt      []bool
	pcells       []planCell
}

type activeTax struct {
	tax    *Tax
	rate   RateEntry
	exempt bool // customer or transaction exemption
	ri     int  // index of rate in tax.Rates
}

type lineCell struct {
	status  Reason // ReasonCustomerExempt, ReasonProductExempt, ReasonBelowThreshold, or a taxed reason
	rate    decimal.Decimal
	hasRate bool
	tb      Taxability
	taxable decimal.Decimal
	exact   decimal.Decimal
	rounded decimal.Decimal // per-line rounding (used at line level and for tax-included lines)
	perLine bool            // rounded is the amount that counts (tax-included line)
	done    bool            // taxable/exact already computed (tax-included pass)
}

// NewEvaluator returns an Evaluator for p. Trace records per-line details
// in Result.Trace (for explain); it costs time and is off for bulk runs.
func (p *Program) NewEvaluator(trace bool) *Evaluator {
	e := &Evaluator{
		p:       p,
		trace:   trace,
		matched: make([]bool, len(p.Jurisdictions)),
		byOrder: make([]int, len(p.Taxes)),
		folds:   map[string]string{},
	}
	for i := range e.byOrder {
		e.byOrder[i] = -1
	}
	if !trace {
		e.products, e.productKeys = buildProducts(p)
		e.productIDs = map[string]int{}
		e.planSets = map[string]*planSet{}
		e.taxOps = make([][]*planOp, len(p.Taxes))
	} else {
		e.noPlans = true
	}
	return e
}

// FixedOnly makes plans fill only a TaxLine's Fixed figures (with
// Fixed.OK set) and leave Gross, Exempt, NonTaxable, Taxable, Amount and
// Exact zero; Rate, HasRate and Reason are still set, and lines from the
// decimal path (Fixed.OK false) still carry their decimals. It is for
// callers that read Fixed whenever Fixed.OK, such as aggregate: it saves
// building six decimals per line.
func (e *Evaluator) FixedOnly() { e.fixedOnly = true }

// Compact makes plans leave Result.Lines empty and give each tax's figures
// as one SlotSums in Result.Slots instead: the sums of the tax's lines'
// Fixed figures (refunds negative), which is all a total per tax needs.
// A transaction the decimal path evaluates still has Lines. It is for
// aggregate without --by-rate: a record's result is then a few small
// pointer-free entries, which the worker writes right after evaluation and
// reads back after the verdict, instead of a TaxLine per group of lines.
func (e *Evaluator) Compact() { e.fixedOnly, e.compact = true, true }

var one = decimal.New(1, 0)

// Eval computes the taxes of tx into res (which it resets). It fails only
// for input the rules cannot take: an unknown explicit jurisdiction code, or
// a tax-included line under a tax that is not a plain rate; the error is a
// *txn.FieldError naming the field.
func (e *Evaluator) Eval(tx *txn.Transaction, res *Result) error {
	res.Lines = res.Lines[:0]
	res.Slots = res.Slots[:0]
	res.Trace = res.Trace[:0]
	res.slab.Reset()
	res.Coverage, res.Address = Unmatched, nil
	if err := e.findJurisdictions(tx); err != nil {
		return err
	}
	res.Address = e.norm
	if m := e.pmatch; m != nil {
		// The address cache's lists: immutable, so shared rather than
		// copied (aggregate never reads them, and a copy reads their
		// cache lines).
		res.Jurisdictions, res.addr = m.jlist, m
	} else {
		res.jbuf = append(res.jbuf[:0], e.jlist...)
		res.Jurisdictions, res.addr = res.jbuf, nil
	}
	if !e.noPlans && e.evalPlan(tx, res) {
		return nil
	}
	res.Lines = res.Lines[:0]
	res.Slots = res.Slots[:0]
	res.slab.Reset()
	res.Coverage = Unmatched
	e.decimalLists()
	e.selectTaxes(tx)
	if len(e.active) == 0 {
		if len(e.jlist) > 0 {
			res.Coverage = NoTax
		}
		return nil
	}
	res.Coverage = Taxed
	return e.evalDecimal(tx, res)
}

// evalDecimal is the reference path: every figure a decimal.Decimal.
func (e *Evaluator) evalDecimal(tx *txn.Transaction, res *Result) error {
	nl := len(tx.Lines)
	e.cells = growCells(e.cells, len(e.active)*nl)
	e.amounts = e.amounts[:0]
	for _, l := range tx.Lines {
		e.amounts = append(e.amounts, l.Amount)
	}
	digits := tx.Currency.Digits

	// Taxability of every line under every tax.
	for ai := range e.active {
		a := &e.active[ai]
		for li, l := range tx.Lines {
			c := &e.cells[ai*nl+li]
			*c = lineCell{}
			e.classify(a, l, c)
		}
	}
	// Tax-included lines: back out the net amount first (docs/rules.md).
	for li, l := range tx.Lines {
		if l.TaxIncluded {
			if err := e.taxIncluded(tx, li, digits); err != nil {
				return err
			}
		}
	}
	// Every tax in dependency order.
	for ai := range e.active {
		e.compute(tx, ai, digits)
	}
	e.group(tx, res, digits)
	return nil
}

func growCells(c []lineCell, n int) []lineCell {
	if cap(c) < n {
		return make([]lineCell, n)
	}
	return c[:n]
}

func (e *Evaluator) findJurisdictions(tx *txn.Transaction) error {
	for _, i := range e.mlist {
		e.matched[i] = false
	}
	e.mlist = e.mlist[:0]
	e.jbuf = e.jbuf[:0]
	e.jlist = e.jbuf
	e.norm = nil
	e.pset, e.pmatch = nil, nil
	if tx.Jurisdictions != nil {
		if err := e.explicitJurisdictions(tx.Jurisdictions); err != nil {
			return err
		}
	} else {
		key, ends, h := e.addressKey(tx)
		slot := e.addrSlot(h)
		for i := range slot {
			if m := slot[i].set; m != nil && slot[i].hash == h && m.holds(key, ends) {
				// The same address as an earlier transaction: the same
				// jurisdictions. matched and mlist stay empty: only
				// matching itself needs them.
				// The taxes and their line order stay in m until the
				// decimal path asks (decimalLists): the plans do not read
				// them, and they are a cache line of m's own.
				e.jlist = m.jlist
				e.norm = &m.norm
				e.pset, e.pmatch = m.pset, m
				return nil
			}
		}
		norm, err := e.normalizeAddress(tx)
		if err != nil {
			return err
		}
		e.norm = norm
		ix := &e.p.index
		a := &e.addr
		e.tryMatch(ix.anywhere)
		e.tryMatch(ix.byCountry[a.fields[fieldCountry]])
		e.tryMatch(ix.byState[[2]string{a.fields[fieldCountry], a.fields[fieldState]}])
		if z := a.fields[fieldPostalCode]; z != "" {
			e.tryMatch(ix.byPostal[z])
		}
		e.settleMatches()
		// Kept by the cache: not e.akey's bytes, nor a Parser's arena's.
		key = strings.Clone(key)
		e.cacheAddress(slot, h, key, ends)
		return nil
	}
	e.settleMatches()
	if e.planSets != nil {
		e.pset = e.planSetFor()
	}
	return nil
}

// decimalLists sets e.taxes and e.lineOrder, which only the decimal path
// reads, from the address cache's entry when findJurisdictions found the
// address there; otherwise findJurisdictions set them.
func (e *Evaluator) decimalLists() {
	if m := e.pmatch; m != nil {
		e.taxes, e.lineOrder = m.taxes, m.lineOrder
	}
}

// explicitJurisdictions marks a transaction's explicit codes and their
// parent chains; a code written "!CODE" is left out even where a listed
// code's chain would bring it in (["US-GA-CITY-04000", "!US-GA"]: the city
// and its county, not the state).
func (e *Evaluator) explicitJurisdictions(codes []string) error {
	var excluded []int
	for i, code := range codes {
		not := strings.HasPrefix(code, "!")
		j, ok := e.p.byCode[strings.TrimPrefix(code, "!")]
		if !ok {
			field := "jurisdictions"
			if len(codes) > 1 {
				field = fmt.Sprintf("jurisdictions[%d]", i)
			}
			return &txn.FieldError{Field: field, Err: fmt.Errorf("unknown jurisdiction code %q", code)}
		}
		if not {
			excluded = append(excluded, j.index)
			continue
		}
		e.mark(j.index)
		for _, a := range j.ancestors {
			e.mark(a)
		}
	}
	if len(excluded) > 0 {
		for _, x := range excluded {
			e.matched[x] = false
		}
		kept := e.mlist[:0]
		for _, i := range e.mlist {
			if e.matched[i] {
				kept = append(kept, i)
			}
		}
		e.mlist = kept
	}
	return nil
}

func (e *Evaluator) mark(i int) {
	if !e.matched[i] {
		e.matched[i] = true
		e.mlist = append(e.mlist, i)
	}
}

// settleMatches lists the matched jurisdictions in index (code) order,
// their taxes in line order and in dependency order.
func (e *Evaluator) settleMatches() {
	sortInts(e.mlist)
	e.taxBuf = e.taxBuf[:0]
	e.lineBuf = e.lineBuf[:0]
	for _, i := range e.mlist {
		j := e.p.Jurisdictions[i]
		e.jbuf = append(e.jbuf, j)
		e.taxBuf = append(e.taxBuf, j.Taxes...)
		for _, t := range j.Taxes {
			e.lineBuf = append(e.lineBuf, t.order)
		}
	}
	// Dependency order is Program.Taxes order.
	for i := 1; i < len(e.taxBuf); i++ {
		for j := i; j > 0 && e.taxBuf[j].order < e.taxBuf[j-1].order; j-- {
			e.taxBuf[j], e.taxBuf[j-1] = e.taxBuf[j-1], e.taxBuf[j]
		}
	}
	e.taxes = e.taxBuf
	e.jlist = e.jbuf
	e.lineOrder = e.lineBuf
}

// matchSet is what an address matched: the jurisdictions (in code order),
// their taxes in dependency order and in line order.
type matchSet struct {
	// key is the address key (txn.Transaction.AddressKey), split at ends,
	// m's own copy: first, so that the compare reads the cache line that
	// the hit reads next anyway (and Prefetch brings the key's bytes).
	key  string
	ends txn.AddrEnds
	// pset and epoch share the key's cache line too: they are the next
	// steps of a hit (evalPlan). epoch is the rate epoch this address
	// used last, a shortcut past pset's.
	pset      *planSet // nil without plans
	epoch     *epochPlan
	jlist     []*Jurisdiction
	nexus     []*Jurisdiction // jlist's ones with a nexus threshold
	taxes     []*Tax
	lineOrder []int
	norm      Address
}

// holds reports whether an address key is the one m was matched for.
func (m *matchSet) holds(key string, ends txn.AddrEnds) bool {
	return m.ends.Equal(&ends) && m.key == key
}

// addressKey returns tx's address key, where its fields end and its hash:
// the Parser's (no copy, no hashing) or, for a Transaction made otherwise,
// built in e.akey (valid until the next call).
func (e *Evaluator) addressKey(tx *txn.Transaction) (key string, ends txn.AddrEnds, h uint64) {
	if key, ends, h, ok := tx.AddressKey(); ok {
		return key, ends, h
	}
	e.akey, ends = txn.AppendAddressKey(e.akey[:0], tx.Country, tx.State, tx.County, tx.City, tx.PostalCode)
	return unsafe.String(unsafe.SliceData(e.akey), len(e.akey)), ends, txn.AddressHash(e.akey, ends)
}

// The address cache: what an address matched, remembered per Evaluator in
// a fixed table of four-way sets (one 64-byte cache line each, most
// recently matched first): 512 KiB that never need clearing, and room for
// tens of thousands of addresses before sets start to push each other's
// entries out.
const (
	addrCacheBits = 13
	addrCacheSets = 1 << addrCacheBits
	addrCacheWays = 4
)

type addrEntry struct {
	hash uint64
	set  *matchSet
}

// addrSlot returns the cache set of an address hash (its top bits).
func (e *Evaluator) addrSlot(h uint64) *[addrCacheWays]addrEntry {
	if e.addrCache == nil {
		e.addrCache = make([][addrCacheWays]addrEntry, addrCacheSets)
	}
	return &e.addrCache[h>>(64-addrCacheBits)]
}

// Nexus returns the jurisdictions of r that have a nexus threshold, in
// Jurisdictions' order (read only, like Jurisdictions). The address cache
// keeps the list beside the address's jurisdictions, so that a nexus count
// does not load every jurisdiction of every record to look; for a Result
// whose Jurisdictions are not the cache's list (explicit codes, or a
// Result made otherwise) it is filtered out of them, into a new slice.
func (r *Result) Nexus() []*Jurisdiction {
	js := r.Jurisdictions
	if m := r.addr; m != nil && len(m.jlist) == len(js) && (len(js) == 0 || &m.jlist[0] == &js[0]) {
		return m.nexus
	}
	return appendNexus(nil, js)
}

func appendNexus(dst, js []*Jurisdiction) []*Jurisdiction {
	for _, j := range js {
		if j.Nexus != nil {
			dst = append(dst, j)
		}
	}
	return dst
}

// cacheAddress remembers what the address of key (an immutable string) matched (e.jlist,
// e.taxes, e.lineOrder) in its set, pushing out the set's oldest entry.
func (e *Evaluator) cacheAddress(slot *[addrCacheWays]addrEntry, h uint64, key string, ends txn.AddrEnds) {
	m := &matchSet{
		key:       key,
		ends:      ends,
		jlist:     append([]*Jurisdiction(nil), e.jlist...),
		nexus:     appendNexus(nil, e.jlist),
		taxes:     append([]*Tax(nil), e.taxes...),
		lineOrder: append([]int(nil), e.lineOrder...),
	}
	if e.norm != nil {
		m.norm = e.norm.clone()
		e.norm = &m.norm
	}
	if e.planSets != nil {
		m.pset = e.planSetFor()
		e.pset = m.pset
	}
	e.pmatch = m
	copy(slot[1:], slot[:addrCacheWays-1])
	slot[0] = addrEntry{hash: h, set: m}
}

// tryMatch tests the candidate jurisdictions of one index bucket (the same
// buckets as matchIndex.candidates).
func (e *Evaluator) tryMatch(cands []int) {
	for _, i := range cands {
		if !e.matched[i] && e.p.Jurisdictions[i].matches(&e.addr) {
			e.matched[i] = true
			e.mlist = append(e.mlist, i)
		}
	}
}

// fold is fold with a per-Evaluator cache, so that address fields such as
// "Travis County" are folded without allocating every time.
func (e *Evaluator) fold(s string) string {
	if f, ok := e.folds[s]; ok {
		return f
	}
	// The table outlives the transaction, whose strings may be borrowed
	// (txn.Parser.SetArena): it keeps clones.
	k := strings.Clone(s)
	f := fold(k)
	if len(e.folds) >= 4096 {
		clear(e.folds)
	}
	e.folds[k] = f
	return f
}

// sortInts sorts a short list in place (insertion sort: no allocation).
func sortInts(a []int) {
	for i := 1; i < len(a); i++ {
		for j := i; j > 0 && a[j] < a[j-1]; j-- {
			a[j], a[j-1] = a[j-1], a[j]
		}
	}
}

// selectTaxes picks the taxes of the matched jurisdictions that are in force
// on the transaction's rate date, in dependency order.
func (e *Evaluator) selectTaxes(tx *txn.Transaction) {
	for i := range e.active {
		e.byOrder[e.active[i].tax.order] = -1
	}
	e.active = e.active[:0]
	var exs []int
	if tx.ExemptReason == "" && tx.Customer != "" {
		exs = e.p.exemptionsFor[tx.Customer]
	}
	for _, t := range e.taxes {
		ri := rateIndex(t, tx.RateDay)
		if ri < 0 {
			continue
		}
		exempt := tx.ExemptReason != "" || len(exs) > 0 && e.exempt(tx, t.Jurisdiction)
		e.active = append(e.active, activeTax{tax: t, rate: t.Rates[ri], exempt: exempt, ri: ri})
	}
	for i := range e.active {
		e.byOrder[e.active[i].tax.order] = i
	}
}

// rateIndex is Tax.RateAt returning the entry's index: which rate is in
// force on a day, -1 when none.
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

// exempt reports whether the transaction is exempt in j: it carries an
// exempt_reason, or its customer has an exemption there in force on the
// transaction's rate date.
func (e *Evaluator) exempt(tx *txn.Transaction, j *Jurisdiction) bool {
	if tx.ExemptReason != "" {
		return true
	}
	if tx.Customer == "" {
		return false
	}
	for _, i := range e.p.exemptionsFor[tx.Customer] {
		x := &e.p.Exemptions[i]
		if x.HasFrom && tx.RateDay < x.From || x.HasTo && tx.RateDay >= x.To {
			continue
		}
		for _, pat := range x.Jurisdictions {
			if codeMatches(pat, j.Code) {
				return true
			}
		}
	}
	return false
}

// decide is the rule language's decision for one tax and one product
// treatment, apart from customer exemptions and the exempt_below threshold
// (which depend on the transaction): the reason of a line and its rate,
// given the tax's rate in force. It is written once: classify calls it per
// line, the plan compiler (plan.go) once per product and rate epoch.
func decide(t *Tax, taxRate decimal.Decimal, tb Taxability) (Reason, decimal.Decimal) {
	if tb.Kind == Exempt {
		return ReasonProductExempt, taxRate
	}
	rate := taxRate
	if tb.HasRate {
		rate = tb.Rate
	}
	switch {
	case t.Fixed != nil:
		return ReasonFixed, rate
	case len(t.CompoundOn) > 0:
		return ReasonCompound, rate
	case t.Tiers != nil:
		return ReasonCapped, rate
	case tb.HasPortion && !tb.Portion.Equal(one):
		return ReasonPortionTaxable, rate
	case tb.HasRate:
		return ReasonReducedRated, rate
	}
	return ReasonStandardRated, rate
}

// classify settles whether a line bears the tax, and at what rate. Exempt
// and below-threshold lines keep the tax's own rate.
func (e *Evaluator) classify(a *activeTax, l txn.Line, c *lineCell) {
	t := a.tax
	c.rate, c.hasRate = a.rate.Rate, t.Fixed == nil
	if a.exempt {
		c.status = ReasonCustomerExempt
		return
	}
	tb := t.TaxabilityOf(l.Product)
	c.tb = tb
	status, rate := decide(t, a.rate.Rate, tb)
	if taxed(status) && tb.HasExemptBelow {
		// The unit price as given (for a tax-included line, gross).
		if money.Div(l.Amount, l.Quantity).LessThan(tb.ExemptBelow) {
			c.status = ReasonBelowThreshold
			return
		}
	}
	c.status, c.rate = status, rate
}

func taxed(r Reason) bool {
	return r != ReasonCustomerExempt && r != ReasonProductExempt && r != ReasonBelowThreshold
}

// portionOf is the taxable part of amount under tb, rounded half up to the
// currency's minor unit (docs/rules.md).
func portionOf(amount decimal.Decimal, tb Taxability, digits int32) decimal.Decimal {
	if !tb.HasPortion {
		return amount
	}
	return money.Round(amount.Mul(tb.Portion), digits, money.HalfUp)
}

// taxIncluded backs the taxes out of a tax-included line (docs/rules.md): net =
// amount / (1 + R) rounded to the minor unit, each tax on net rounded per
// line, and the remainder added to net so that net + Σ tax = amount.
func (e *Evaluator) taxIncluded(tx *txn.Transaction, li int, digits int32) error {
	nl := len(tx.Lines)
	l := tx.Lines[li]
	sum := decimal.Decimal{}
	for ai := range e.active {
		c := &e.cells[ai*nl+li]
		if !taxed(c.status) {
			continue
		}
		t := e.active[ai].tax
		if t.Tiers != nil || t.Fixed != nil || len(t.CompoundOn) > 0 {
			kind := "tiers"
			if t.Fixed != nil {
				kind = "a fixed amount"
			} else if len(t.CompoundOn) > 0 {
				kind = "compound_on"
			}
			return &txn.FieldError{Field: lineField(tx, li, "tax_included"),
				Err: fmt.Errorf("tax-included amounts need plain rates, but tax %s has %s", t.ID, kind)}
		}
		r := c.rate
		if c.tb.HasPortion {
			r = r.Mul(c.tb.Portion)
		}
		sum = sum.Add(r)
	}
	net := money.Round(money.Div(l.Amount, one.Add(sum)), digits, money.HalfUp)
	taxTotal := decimal.Decimal{}
	for ai := range e.active {
		c := &e.cells[ai*nl+li]
		if !taxed(c.status) {
			continue
		}
		base := portionOf(net, c.tb, digits)
		c.exact = base.Mul(c.rate)
		c.rounded = money.Round(c.exact, digits, e.active[ai].tax.Rounding.Mode)
		c.perLine = true
		c.done = true
		taxTotal = taxTotal.Add(c.rounded)
	}
	adjusted := net.Add(l.Amount.Sub(net).Sub(taxTotal))
	e.amounts[li] = adjusted
	for ai := range e.active {
		c := &e.cells[ai*nl+li]
		if c.done {
			c.taxable = portionOf(adjusted, c.tb, digits)
		}
	}
	return nil
}

func lineField(tx *txn.Transaction, li int, field string) string {
	if len(tx.Lines) == 1 {
		return field
	}
	return fmt.Sprintf("lines[%d].%s", li, field)
}

// compute works out one tax on every line of the transaction.
func (e *Evaluator) compute(tx *txn.Transaction, ai int, digits int32) {
	nl := len(tx.Lines)
	a := &e.active[ai]
	t := a.tax
	if t.Tiers != nil && t.Tiers.Per == PerTransaction {
		e.computePerTransaction(tx, ai, digits)
		return
	}
	for li, l := range tx.Lines {
		c := &e.cells[ai*nl+li]
		if !taxed(c.status) || c.done {
			continue
		}
		amount := e.amounts[li]
		if t.Fixed != nil {
			c.taxable = amount
			c.exact = l.Quantity.Mul(*t.Fixed)
			c.rounded = money.Round(c.exact, digits, t.Rounding.Mode)
			continue
		}
		sales := portionOf(amount, c.tb, digits)
		base := sales.Add(e.compoundAddend(t, li, nl))
		if t.Tiers == nil {
			c.taxable = sales
			c.exact = base.Mul(c.rate)
		} else {
			var covered decimal.Decimal
			if t.Tiers.Per == PerUnit {
				unit := money.Div(base, l.Quantity)
				cov, tax := t.Tiers.split(unit, c.rate)
				covered, c.exact = cov.Mul(l.Quantity), tax.Mul(l.Quantity)
			} else {
				covered, c.exact = t.Tiers.split(base, c.rate)
			}
			if covered.GreaterThan(sales) {
				covered = sales
			}
			c.taxable = money.Round(covered, digits, money.HalfUp)
		}
		c.rounded = money.Round(c.exact, digits, t.Rounding.Mode)
	}
}

// compoundAddend is the tax already computed on line li by the taxes t
// compounds on: rounded where their level is line, exact otherwise, zero
// where they do not apply.
func (e *Evaluator) compoundAddend(t *Tax, li, nl int) decimal.Decimal {
	sum := decimal.Decimal{}
	for _, o := range t.compoundIdx {
		ai := e.byOrder[o]
		if ai < 0 {
			continue
		}
		c := &e.cells[ai*nl+li]
		if !taxed(c.status) {
			continue
		}
		if c.perLine || e.active[ai].tax.Rounding.Level == LevelLine {
			sum = sum.Add(c.rounded)
		} else {
			sum = sum.Add(c.exact)
		}
	}
	return sum
}

// computePerTransaction splits the transaction's total base for the tax
// into its brackets. Lines fill the brackets in line order, each part taxed
// at its bracket's rate or, without one, at its own line's rate.
func (e *Evaluator) computePerTransaction(tx *txn.Transaction, ai int, digits int32) {
	nl := len(tx.Lines)
	t := e.active[ai].tax
	filled := decimal.Decimal{}
	for li := range tx.Lines {
		c := &e.cells[ai*nl+li]
		if !taxed(c.status) || c.done {
			continue
		}
		sales := portionOf(e.amounts[li], c.tb, digits)
		base := sales.Add(e.compoundAddend(t, li, nl))
		covered, tax := t.Tiers.splitFrom(filled, base, c.rate)
		filled = filled.Add(base)
		if covered.GreaterThan(sales) {
			covered = sales
		}
		c.taxable = covered // rounded once per transaction, in group()
		c.exact = tax
		c.rounded = tax
	}
}

// split divides base into the brackets: it returns the part of base the
// brackets cover and the tax on it. rate is used by brackets without one.
func (tr *Tiers) split(base, rate decimal.Decimal) (covered, tax decimal.Decimal) {
	return tr.splitFrom(decimal.Decimal{}, base, rate)
}

// splitFrom is split for a slice of a larger base: the slice starts at
// offset and is base long.
func (tr *Tiers) splitFrom(offset, base, rate decimal.Decimal) (covered, tax decimal.Decimal) {
	lo := offset
	hi := offset.Add(base)
	prev := decimal.Decimal{}
	for _, b := range tr.Brackets {
		top := hi
		if b.HasUpTo && b.UpTo.LessThan(top) {
			top = b.UpTo
		}
		bottom := lo
		if prev.GreaterThan(bottom) {
			bottom = prev
		}
		if top.GreaterThan(bottom) {
			part := top.Sub(bottom)
			r := rate
			if b.HasRate {
				r = b.Rate
			}
			covered = covered.Add(part)
			tax = tax.Add(part.Mul(r))
		}
		if !b.HasUpTo {
			break
		}
		prev = b.UpTo
	}
	return covered, tax
}

// group folds the per-line cells into TaxLines per (tax, rate, reason) and
// applies each tax's rounding level.
func (e *Evaluator) group(tx *txn.Transaction, res *Result, digits int32) {
	nl := len(tx.Lines)
	// Report in jurisdiction-code order, each jurisdiction's taxes in file order.
	for _, o := range e.lineOrder {
		if ai := e.byOrder[o]; ai >= 0 {
			e.groupTax(tx, ai, nl, digits, res)
		}
	}
	if tx.Refund {
		for i := range res.Lines {
			g := &res.Lines[i]
			g.Gross, g.Exempt, g.NonTaxable, g.Taxable = g.Gross.Neg(), g.Exempt.Neg(), g.NonTaxable.Neg(), g.Taxable.Neg()
			g.Amount, g.Exact = g.Amount.Neg(), g.Exact.Neg()
		}
		for i := range res.Trace {
			tr := &res.Trace[i]
			tr.Amount, tr.Taxable, tr.Exact = tr.Amount.Neg(), tr.Taxable.Neg(), tr.Exact.Neg()
		}
	}
}

func (e *Evaluator) groupTax(tx *txn.Transaction, ai, nl int, digits int32, res *Result) {
	a := &e.active[ai]
	t := a.tax
	first := len(res.Lines)
	level := t.Rounding.Level
	for li := range tx.Lines {
		c := &e.cells[ai*nl+li]
		rate, hasRate := c.rate, c.hasRate
		gi := -1
		for k := first; k < len(res.Lines); k++ {
			g := &res.Lines[k]
			if g.Reason == c.status && g.HasRate == hasRate && g.Rate.Equal(rate) {
				gi = k
				break
			}
		}
		if gi < 0 {
			res.Lines = append(res.Lines, TaxLine{Tax: t, Rate: rate, HasRate: hasRate, Reason: c.status})
			gi = len(res.Lines) - 1
		}
		g := &res.Lines[gi]
		amount := e.amounts[li]
		g.Gross = g.Gross.Add(amount)
		switch c.status {
		case ReasonCustomerExempt:
			g.Exempt = g.Exempt.Add(amount)
		case ReasonProductExempt, ReasonBelowThreshold:
			g.NonTaxable = g.NonTaxable.Add(amount)
		default:
			g.Taxable = g.Taxable.Add(c.taxable)
			g.NonTaxable = g.NonTaxable.Add(amount.Sub(c.taxable))
			g.Exact = g.Exact.Add(c.exact)
			if c.perLine || level == LevelLine {
				g.Amount = g.Amount.Add(c.rounded)
			} else {
				// Transaction and aggregate levels: exact for now.
				g.Amount = g.Amount.Add(c.exact)
			}
		}
		if e.trace {
			res.Trace = append(res.Trace, LineTrace{
				Tax: t, Line: li, Reason: c.status, Rate: rate, HasRate: hasRate,
				Amount: amount, Taxable: c.taxable, Exact: c.exact,
			})
		}
	}
	groups := res.Lines[first:]
	if t.Tiers != nil && t.Tiers.Per == PerTransaction {
		// The taxable part is rounded once per transaction; the last
		// group takes the rounding difference so the groups add up.
		roundOnce(groups, digits,
			func(g *TaxLine) *decimal.Decimal { return &g.Taxable },
			func(d decimal.Decimal) decimal.Decimal { return money.Round(d, digits, money.HalfUp) })
		for i := range groups {
			g := &groups[i]
			if taxed(g.Reason) {
				// Non-taxable = gross − taxable, re-derived after rounding.
				g.NonTaxable = g.Gross.Sub(g.Exempt).Sub(g.Taxable)
			}
		}
	}
	if level == LevelTransaction {
		roundOnce(groups, digits,
			func(g *TaxLine) *decimal.Decimal { return &g.Amount },
			func(d decimal.Decimal) decimal.Decimal { return money.Round(d, digits, t.Rounding.Mode) })
	}
}

// roundOnce rounds the sum of a field over the groups once, gives each group
// its own rounded share, and lets the last taxed group absorb the difference
// so that the groups add up to the once-rounded total.
func roundOnce(groups []TaxLine, digits int32, field func(*TaxLine) *decimal.Decimal, round func(decimal.Decimal) decimal.Decimal) {
	total := decimal.Decimal{}
	last := -1
	for i := range groups {
		if taxed(groups[i].Reason) {
			total = total.Add(*field(&groups[i]))
			last = i
		}
	}
	if last < 0 {
		return
	}
	want := round(total)
	got := decimal.Decimal{}
	for i := range groups {
		if i == last || !taxed(groups[i].Reason) {
			continue
		}
		f := field(&groups[i])
		*f = round(*f)
		got = got.Add(*f)
	}
	*field(&groups[last]) = want.Sub(got)
}
