package reconcile

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"math"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/taxagg/taxagg/internal/billing"
	"github.com/taxagg/taxagg/internal/money"
)

// side indexes: 0 is A, 1 is B.
const (
	sideA = 0
	sideB = 1
)

// rec is one input record with its matching key and position. It is kept
// small, since a run holds every record of both sides: the currency and
// the state are indexes into short tables, the dates are stamps split into
// seconds and nanoseconds, the amounts int64 coefficients with a small
// exponent; what does not fit (a rare currency or state, an amount of
// more than 18 digits) is in ext.
type rec struct {
	ID       string
	Customer string
	// ext holds what most records do not have; nil for a record whose key
	// is its ID, without a kind, not a group, whose values fit.
	ext *recExt
	// line32, seq32: the 1-based line and 0-based position in its input
	// (line, position), unless flagged big
	line32, seq32 uint32
	// dates: stamp seconds and nanoseconds
	dateS, updS int64
	dateN, updN int32
	// amounts: Fixed coefficients and exponents, unless flagged big
	amtC, taxC int64
	amtE, taxE int8
	cur        uint8 // index into recCurrencies; curOther: ext.currency
	st         uint8 // index into recStates; stOther: ext.state
	side       uint8
	// ownKey: the key is ext.key, not the ID.
	ownKey bool
	// big: bigAmount, bigTax, bigLine, bigSeq: the amount (tax, line,
	// position) is in ext.
	big uint8
}

const (
	bigAmount = 1 << iota
	bigTax
	bigLine
	bigSeq
)

// line is the record's 1-based line in its input (of a group: of its
// first member).
func (r *rec) line() int {
	if r.big&bigLine != 0 {
		return r.ext.line
	}
	return int(r.line32)
}

// position is the record's 0-based position in its input (of a group: of
// its first member).
func (r *rec) position() int64 {
	if r.big&bigSeq != 0 {
		return r.ext.seq
	}
	return int64(r.seq32)
}

func (r *rec) setLine(l int) {
	if l >= 0 && l <= math.MaxUint32 {
		r.line32, r.big = uint32(l), r.big&^bigLine
		return
	}
	r.line32, r.big = 0, r.big|bigLine
	r.extOf().line = l
}

func (r *rec) setPosition(p int64) {
	if p >= 0 && p <= math.MaxUint32 {
		r.seq32, r.big = uint32(p), r.big&^bigSeq
		return
	}
	r.seq32, r.big = 0, r.big|bigSeq
	r.extOf().seq = p
}

// recExt is the rarer part of a record.
type recExt struct {
	key  string // the matching key when it is not the ID
	kind string
	// members are the records summed into a group (--duplicates group).
	members []*rec
	// what the compact fields cannot hold
	currency, state string
	amount, tax     money.Amount
	line            int
	seq             int64
}

// recCurrencies are the currencies a record names by index; curOther
// (and any other code) is kept in ext.
var recCurrencies = [...]string{"", "USD", "EUR", "GBP", "JPY", "CAD", "AUD", "CHF", "SEK", "NOK", "DKK", "NZD",
	"MXN", "BRL", "INR", "CNY", "HKD", "SGD", "KRW", "ZAR", "PLN", "CZK", "HUF", "ILS", "BHD", "KWD", "JOD", "OMR",
	"TND", "ISK", "MGA"}

// recStates are the canonical states (and none), by index.
var recStates = [...]string{"", billing.StateDraft, billing.StateOpen, billing.StatePaid, billing.StateVoid,
	billing.StateUncollectible, billing.StateRefunded}

const (
	curOther = 255
	stOther  = 255
)

// Currency is the record's currency code.
func (r *rec) Currency() string {
	if r.cur == curOther {
		return r.ext.currency
	}
	return recCurrencies[r.cur]
}

func (r *rec) setCurrency(c string) {
	i := 0
	switch c { // the most common first, then the table
	case "USD":
		i = 1
	case "EUR":
		i = 2
	default:
		i = slices.Index(recCurrencies[:], c)
	}
	if i >= 0 {
		r.cur = uint8(i)
		if r.ext != nil {
			r.ext.currency = ""
		}
		return
	}
	r.cur = curOther
	r.extOf().currency = c
}

// State is the record's canonical state ("" when the source has none).
func (r *rec) State() string {
	if r.st == stOther {
		return r.ext.state
	}
	return recStates[r.st]
}

func (r *rec) setState(s string) {
	for i, x := range recStates {
		if x == s {
			r.st = uint8(i)
			if r.ext != nil {
				r.ext.state = ""
			}
			return
		}
	}
	r.st = stOther
	r.extOf().state = s
}

func (r *rec) Date() stamp    { return stamp{s: r.dateS, n: r.dateN} }
func (r *rec) Updated() stamp { return stamp{s: r.updS, n: r.updN} }

func (r *rec) setDate(t stamp)    { r.dateS, r.dateN = t.s, t.n }
func (r *rec) setUpdated(t stamp) { r.updS, r.updN = t.s, t.n }

// Amount and Tax are the record's amounts.
func (r *rec) Amount() money.Amount {
	if r.big&bigAmount != 0 {
		return r.ext.amount
	}
	return money.AmountOfFixed(money.Fixed{C: r.amtC, E: int32(r.amtE)})
}

func (r *rec) Tax() money.Amount {
	if r.big&bigTax != 0 {
		return r.ext.tax
	}
	return money.AmountOfFixed(money.Fixed{C: r.taxC, E: int32(r.taxE)})
}

// compactFixed returns a's coefficient and exponent when the compact
// fields hold it exactly (AmountOfFixed gives a back).
func compactFixed(a money.Amount) (c int64, e int8, ok bool) {
	f, ok := a.Fixed()
	if !ok || f.C == math.MinInt64 || f.E < math.MinInt8 || f.E > math.MaxInt8 {
		return 0, 0, false
	}
	return f.C, int8(f.E), true
}

func (r *rec) setAmount(a money.Amount) {
	if c, e, ok := compactFixed(a); ok {
		r.amtC, r.amtE, r.big = c, e, r.big&^bigAmount
		if r.ext != nil {
			r.ext.amount = money.Amount{}
		}
		return
	}
	r.amtC, r.amtE, r.big = 0, 0, r.big|bigAmount
	r.extOf().amount = a
}

func (r *rec) setTax(a money.Amount) {
	if c, e, ok := compactFixed(a); ok {
		r.taxC, r.taxE, r.big = c, e, r.big&^bigTax
		if r.ext != nil {
			r.ext.tax = money.Amount{}
		}
		return
	}
	r.taxC, r.taxE, r.big = 0, 0, r.big|bigTax
	r.extOf().tax = a
}

// extOf returns r's ext, made when r has none.
func (r *rec) extOf() *recExt {
	if r.ext == nil {
		r.ext = &recExt{}
	}
	return r.ext
}

// key is the record's matching key; "" for an unkeyed record.
func (r *rec) key() string {
	if r.ownKey {
		return r.ext.key
	}
	return r.ID
}

func (r *rec) setKey(key string) {
	if key == r.ID {
		r.ownKey = false
		if r.ext != nil {
			r.ext.key = ""
		}
		return
	}
	r.ownKey = true
	r.extOf().key = key
}

// Kind is the source object type ("" for canonical input).
func (r *rec) Kind() string {
	if r.ext == nil {
		return ""
	}
	return r.ext.kind
}

func (r *rec) setKind(kind string) {
	if kind != "" || r.ext != nil {
		r.extOf().kind = kind
	}
}

// members are the records summed into a group; nil for a lone record.
func (r *rec) members() []*rec {
	if r.ext == nil {
		return nil
	}
	return r.ext.members
}

// set makes r, which must be a zero rec, the matching form of a record
// read from side.
func (r *rec) set(br *billing.Record, side uint8, seq int64, key string) {
	r.ID, r.Customer = br.ID, br.Customer
	r.setCurrency(br.Currency)
	r.setKind(br.Kind)
	r.setState(br.State)
	r.setDate(stampOf(br.Date))
	r.setUpdated(stampOf(br.Updated))
	if br.Fixed {
		r.setAmount(money.AmountOfFixed(br.AmountFixed))
		r.setTax(money.AmountOfFixed(br.TaxFixed))
	} else {
		r.setAmount(money.AmountOf(br.Amount))
		r.setTax(money.AmountOf(br.Tax))
	}
	r.setLine(br.Line)
	r.setPosition(seq)
	r.side = side
	r.setKey(key)
}

// digits returns the minor-unit digits of the record's currency.
func (r *rec) digits() int32 { return digitsOf(r.Currency()) }

// formatAmount prints a with the minor-unit digits of the record's currency.
func (r *rec) formatAmount(a money.Amount) string { return a.StringFixed(r.digits()) }

// keySpec computes a side's key.
type keySpec struct {
	parts []keyPart
}

type keyPart struct {
	field string // canonical field, or "" for an extracted path
	extra int    // index into Record.Extra
	name  string // as the user wrote it
}

var keyFields = map[string]bool{"id": true, "kind": true, "date": true, "updated": true, "customer": true,
	"currency": true, "amount": true, "tax": true, "state": true}

// newKeySpec resolves a key's parts: canonical field names are read from the
// canonical record, anything else is a source path to extract.
func newKeySpec(parts []string) (keySpec, []string, error) {
	if len(parts) == 0 {
		parts = []string{"id"}
	}
	var ks keySpec
	var extract []string
	for _, p := range parts {
		if p == "" {
			return ks, nil, fmt.Errorf("empty key field")
		}
		if keyFields[p] {
			ks.parts = append(ks.parts, keyPart{field: p, name: p})
			continue
		}
		ks.parts = append(ks.parts, keyPart{extra: len(extract), name: p})
		extract = append(extract, p)
	}
	return ks, extract, nil
}

// fixedAmounts reports whether the key can be computed from a record whose
// amounts the reader left fixed (billing.Record.Fixed): not when it uses
// the amount or the tax.
func (ks keySpec) fixedAmounts() bool {
	for _, p := range ks.parts {
		if p.field == "amount" || p.field == "tax" {
			return false
		}
	}
	return true
}

func (ks keySpec) name() string {
	names := make([]string, len(ks.parts))
	for i, p := range ks.parts {
		names[i] = p.name
	}
	return strings.Join(names, ",")
}

// keyOf computes the key; "" when every part is empty (an unkeyed record,
// which is never matched by key).
func (ks keySpec) keyOf(r *billing.Record) string {
	if len(ks.parts) == 1 {
		return ks.value(r, ks.parts[0])
	}
	var b strings.Builder
	empty := true
	for i, p := range ks.parts {
		if i > 0 {
			b.WriteByte('|')
		}
		v := ks.value(r, p)
		if v != "" {
			empty = false
		}
		b.WriteString(v)
	}
	if empty {
		return ""
	}
	return b.String()
}

func (ks keySpec) value(r *billing.Record, p keyPart) string {
	switch p.field {
	case "":
		if p.extra < len(r.Extra) {
			return r.Extra[p.extra]
		}
		return ""
	case "id":
		return r.ID
	case "kind":
		return r.Kind
	case "date":
		return billing.FormatTime(r.Date)
	case "updated":
		return billing.FormatTime(r.Updated)
	case "customer":
		return r.Customer
	case "currency":
		return r.Currency
	case "amount":
		return r.FormatAmount(r.Amount)
	case "tax":
		return r.FormatAmount(r.Tax)
	case "state":
		return r.State
	}
	return ""
}

// Diff is one field that differs between the two sides.
type Diff struct {
	Field string `json:"field"`
	A     string `json:"a"`
	B     string `json:"b"`
}

// Row is one ledger record (docs/reconcile.md). It holds little of its
// own: its ids, source, values and input records are those of its records
// a and b, so that a ledger of millions of rows stays small (what a large
// run touches first is what it pays for, in page faults).
type Row struct {
	Status Status
	// Fuzzy is set when the pair was made by fuzzy pairing.
	Fuzzy bool
	// cB: the row shows b's values (date, customer, currency, amount,
	// tax, state), else a's; a one-sided row shows its one record's.
	cB bool
	// a and b are the row's records, nil for a side it does not have: the
	// input records, or a group's sum (whose members are the inputs).
	a, b *rec
	// ext holds what most rows do not have: diffs and a note.
	ext *rowExt
}

// rowExt is the rarer part of a row.
type rowExt struct {
	diffs []Diff
	// note explains an only_a/only_b row whose key is duplicated on the
	// other side.
	note string
}

// Key is the row's key: its records' (equal) key; a fuzzy pair's is the
// smaller non-empty of its two keys, so that swapping A and B keeps the
// ledger's keys.
func (r *Row) Key() string {
	switch {
	case r.a == nil:
		return r.b.key()
	case r.b == nil || !r.Fuzzy:
		return r.a.key() // paired by key: both keys are equal
	}
	key, kb := r.a.key(), r.b.key()
	if key == "" || (kb != "" && kb < key) {
		key = kb
	}
	return key
}

// IDA and IDB are the ids of the row's sides ("" for a side it lacks).
func (r *Row) IDA() string {
	if r.a == nil {
		return ""
	}
	return r.a.ID
}

func (r *Row) IDB() string {
	if r.b == nil {
		return ""
	}
	return r.b.ID
}

// Source is both, a or b.
func (r *Row) Source() string {
	switch {
	case r.a != nil && r.b != nil:
		return "both"
	case r.a != nil:
		return "a"
	}
	return "b"
}

// c is the record whose date, customer, currency, amount, tax and state
// the row shows: the preferred side of a pair, the record of a one-sided
// row, a group's sum.
func (r *Row) c() *rec {
	if r.cB || r.a == nil {
		return r.b
	}
	return r.a
}

// Diffs are the fields that differ, in order.
func (r *Row) Diffs() []Diff {
	if r.ext == nil {
		return nil
	}
	return r.ext.diffs
}

func (r *Row) note() string {
	if r.ext == nil {
		return ""
	}
	return r.ext.note
}

// A and B are the input records behind the row (several for a group).
func (r *Row) A() []*rec { return r.a.inputs() }
func (r *Row) B() []*rec { return r.b.inputs() }

// seq is the input position of the row's first record: the last
// tie-break of the ledger order. (A group's sum has the position of its
// first member.)
func (r *Row) seq() int64 {
	if r.a != nil {
		return r.a.position()
	}
	return r.b.position()
}

// matcher holds the settings that matching needs.
type matcher struct {
	tol    money.Amount
	window time.Duration
	prefer Prefer
	dups   Duplicates
	keyA   string    // key names, for errors
	names  [2]string // the sides' source names
	keyB   string
	// parts: match in this many parallel parts (Options.matchParts).
	parts int
	// counters
	groups int
	// slab is where the next rows are allocated (newRow).
	slab []Row
}

// rowSlab is how many rows newRow allocates at once: a few large
// allocations instead of one per row.
const rowSlab = 1024

// newRow returns a zero row from the slab.
func (m *matcher) newRow() *Row {
	if len(m.slab) == 0 {
		m.slab = make([]Row, rowSlab)
	}
	r := &m.slab[0]
	m.slab = m.slab[1:]
	return r
}

// recCmp orders records by content, position last, so that every choice
// that depends on order is the same for any input order.
func recCmp(a, b *rec) int {
	if c := cmp.Compare(a.key(), b.key()); c != 0 {
		return c
	}
	if c := cmp.Compare(a.ID, b.ID); c != 0 {
		return c
	}
	if c := a.Date().Compare(b.Date()); c != 0 {
		return c
	}
	if c := a.Amount().Cmp(b.Amount()); c != 0 {
		return c
	}
	if c := a.Tax().Cmp(b.Tax()); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Currency(), b.Currency()); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Customer, b.Customer); c != 0 {
		return c
	}
	if c := cmp.Compare(a.State(), b.State()); c != 0 {
		return c
	}
	return cmp.Compare(a.position(), b.position())
}

// DuplicateKeyError is a key seen twice on one side under --duplicates error.
type DuplicateKeyError struct {
	Side      string // A or B
	Key       string
	KeyField  string
	Second    *billing.Record
	FirstLine int
	order     [2]int64 // side, position: the earliest error wins
}

func (e *DuplicateKeyError) Error() string {
	return (&billing.InputError{Source: e.Second.Source, Line: e.Second.Line, Field: e.KeyField,
		Err: fmt.Errorf("duplicate key %q in %s (first at line %d)", e.Key, e.Side, e.FirstLine)}).Error()
}

// matchKeys reconciles the records of one partition by key. It returns the
// ledger rows it decided and the leftovers (records with no counterpart,
// including unkeyed ones) that fuzzy pairing may still pair.
func (m *matcher) matchKeys(ctx context.Context, as, bs []*rec) (rows []*Row, leftA, leftB []*rec, err error) {
	n := m.parts
	if n == 0 {
		n = 1
		if len(as)+len(bs) >= parallelMatchMin {
			for n*2 <= min(runtime.GOMAXPROCS(0), maxMatchParts) {
				n *= 2
			}
		}
	}
	if n == 1 {
		return m.matchPart(ctx, as, bs, nil)
	}
	return m.matchParallel(ctx, as, bs, n)
}

const (
	// parallelMatchMin is the fewest records matched in parts.
	parallelMatchMin = 1 << 16
	// maxMatchParts bounds the parts. There are no more parts than
	// processors: a part's records are every n-th of the input, and more,
	// smaller parts, whose key indexes would fit in cache, measured slower
	// (2.7-3.0 s of CPU at 1M x 1M in 2 parts, 3.3-3.5 s in 8, 3.3-5.1 s
	// in 128), the walk through the records no longer being sequential.
	maxMatchParts = 64
)

// matchParallel is matchKeys in n parts (a power of two): the records are
// parted by a hash of their key, so that every key lands wholly in one
// part, as when spilling. One goroutine a processor matches parts in turn. The rows and leftovers are those of the
// parts, which the ledger then sorts; a duplicate-key error is the
// earliest in the input of the parts'.
func (m *matcher) matchParallel(ctx context.Context, as, bs []*rec, n int) (rows []*Row, leftA, leftB []*rec, err error) {
	type part struct {
		recs         [2][]*rec
		rows         []*Row
		leftA, leftB []*rec
		err          error
	}
	parts := make([]part, n)
	seed := maphash.MakeSeed()
	var wg sync.WaitGroup
	for side, rs := range [2][]*rec{as, bs} {
		wg.Go(func() {
			per := len(rs)/n + len(rs)/(8*n) + 16
			for i := range parts {
				parts[i].recs[side] = make([]*rec, 0, per)
			}
			for _, r := range rs {
				i := 0
				if k := r.key(); k != "" {
					i = int(maphash.String(seed, k) & uint64(n-1))
				}
				parts[i].recs[side] = append(parts[i].recs[side], r)
			}
		})
	}
	wg.Wait()
	workers := min(runtime.GOMAXPROCS(0), n)
	ms := make([]matcher, workers)
	var taken atomic.Int64
	for w := range ms {
		ms[w] = *m
		ms[w].slab, ms[w].groups = nil, 0
		wg.Go(func() {
			var scratch matchScratch
			for {
				i := int(taken.Add(1)) - 1
				if i >= n {
					return
				}
				p := &parts[i]
				p.rows, p.leftA, p.leftB, p.err = ms[w].matchPart(ctx, p.recs[0], p.recs[1], &scratch)
				p.recs = [2][]*rec{}
			}
		})
	}
	wg.Wait()
	var nrows, na, nb int
	var dup *DuplicateKeyError
	for i := range parts {
		p := &parts[i]
		var de *DuplicateKeyError
		switch {
		case errors.As(p.err, &de):
			if dup == nil || de.order[0] < dup.order[0] || (de.order[0] == dup.order[0] && de.order[1] < dup.order[1]) {
				dup = de
			}
		case p.err != nil && err == nil:
			err = p.err
		}
		nrows, na, nb = nrows+len(p.rows), na+len(p.leftA), nb+len(p.leftB)
	}
	for w := range ms {
		m.groups += ms[w].groups
	}
	if err != nil {
		return nil, nil, nil, err
	}
	if dup != nil {
		return nil, nil, nil, dup
	}
	// Room for the leftovers' rows, which the caller appends.
	rows, leftA, leftB = make([]*Row, 0, nrows+na+nb), make([]*rec, 0, na), make([]*rec, 0, nb)
	for i := range parts {
		p := &parts[i]
		rows, leftA, leftB = append(rows, p.rows...), append(leftA, p.leftA...), append(leftB, p.leftB...)
	}
	return rows, leftA, leftB, nil
}

// matchScratch is what matchPart may reuse from one part to the next.
type matchScratch struct {
	ix   keyIndex
	next [2][]int32
}

// matchPart is matchKeys on one goroutine; scratch, when not nil, lends
// its index and chains.
func (m *matcher) matchPart(ctx context.Context, as, bs []*rec, scratch *matchScratch) (rows []*Row, leftA, leftB []*rec, err error) {
	if scratch == nil {
		scratch = &matchScratch{}
	}
	ix := &scratch.ix
	ix.reset(len(as)+len(bs)/16, [2][]*rec{as, bs})
	next := scratch.next
	for side, n := range []int{len(as), len(bs)} {
		if cap(next[side]) < n {
			next[side] = make([]int32, n)
		}
		next[side] = next[side][:n]
		clear(next[side])
	}
	scratch.next = next
	for side, rs := range [2][]*rec{as, bs} {
		nx := next[side]
		for i, r := range rs {
			if r.key() == "" {
				continue
			}
			g := ix.group(r.key())
			nx[i] = g.head[side]
			g.head[side] = int32(i) + 1
			g.n[side]++
		}
	}
	if m.dups == DupError {
		if err := m.firstDuplicate(as, ix, next[0], sideA, "A", m.keyA); err != nil {
			return nil, nil, nil, err
		}
		if err := m.firstDuplicate(bs, ix, next[1], sideB, "B", m.keyB); err != nil {
			return nil, nil, nil, err
		}
	}
	for _, r := range as {
		if r.key() == "" {
			leftA = append(leftA, r)
		}
	}
	for _, r := range bs {
		if r.key() == "" {
			leftB = append(leftB, r)
		}
	}
	rows = make([]*Row, 0, len(ix.groups))
	chain := func(side int, g *keyGroup) []*rec {
		rs := [2][]*rec{as, bs}[side]
		out := make([]*rec, 0, g.n[side])
		for i := g.head[side]; i != 0; i = next[side][i-1] {
			out = append(out, rs[i-1])
		}
		slices.SortFunc(out, recCmp)
		return out
	}
	for n := range ix.groups {
		if n%4096 == 0 && ctx.Err() != nil {
			break
		}
		g := &ix.groups[n]
		if g.n[0] <= 1 && g.n[1] <= 1 {
			switch {
			case g.n[0] == 1 && g.n[1] == 1:
				rows = append(rows, m.pair(as[g.head[0]-1], bs[g.head[1]-1]))
			case g.n[0] == 1:
				leftA = append(leftA, as[g.head[0]-1])
			case g.n[1] == 1:
				leftB = append(leftB, bs[g.head[1]-1])
			}
			continue
		}
		ga, gb := chain(0, g), chain(1, g)
		if m.dups == DupGroup {
			ga, gb = m.group(ga), m.group(gb)
		}
		if len(ga) > 1 || len(gb) > 1 {
			// Duplicates are reported, unmatched; a single counterpart is
			// then only on its side.
			for _, g := range [][]*rec{ga, gb} {
				if len(g) == 1 {
					row := m.onlyRow(g[0])
					other := "B"
					if g[0].side == sideB {
						other = "A"
					}
					row.ext = &rowExt{note: fmt.Sprintf("not matched: %s has this key more than once (see its duplicate rows)", other)}
					rows = append(rows, row)
					continue
				}
				for _, r := range g {
					row := m.onlyRow(r)
					row.Status = StatusDuplicate
					rows = append(rows, row)
				}
			}
			continue
		}
		switch {
		case len(ga) == 1 && len(gb) == 1:
			rows = append(rows, m.pair(ga[0], gb[0]))
		case len(ga) == 1:
			leftA = append(leftA, ga[0])
		case len(gb) == 1:
			leftB = append(leftB, gb[0])
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, nil, err
	}
	return rows, leftA, leftB, nil
}

func (m *matcher) firstDuplicate(rs []*rec, ix *keyIndex, next []int32, side int, sideName, keyName string) error {
	for _, r := range rs {
		if r.key() == "" {
			continue
		}
		g := ix.lookup(r.key())
		if g.n[side] < 2 {
			continue
		}
		var first *rec
		for i := g.head[side]; i != 0; i = next[i-1] {
			if o := rs[i-1]; first == nil || o.position() < first.position() {
				first = o
			}
		}
		if r != first {
			return &DuplicateKeyError{Side: sideName, Key: r.key(), KeyField: keyName, Second: m.record(r), FirstLine: first.line(),
				order: [2]int64{int64(r.side), r.position()}}
		}
	}
	return nil
}

// keyGroup is the records of one key: chains through next, 1-based heads.
// Its key is that of its records (keyIndex.keyOf), so that the groups hold
// no pointer for the collector to follow.
type keyGroup struct {
	hash uint64
	head [2]int32
	n    [2]int32
}

// keyIndex is a flat open-addressing hash table of key groups, in order of
// first appearance.
type keyIndex struct {
	groups []keyGroup
	slots  []int32 // group index + 1; 0 is empty
	mask   uint64
	seed   maphash.Seed
	// recs are the records the heads index, by side.
	recs [2][]*rec
}

// keyOf is g's key: that of the last record added to it.
func (ix *keyIndex) keyOf(g *keyGroup) string {
	if g.head[0] != 0 {
		return ix.recs[0][g.head[0]-1].key()
	}
	return ix.recs[1][g.head[1]-1].key()
}

// reset empties ix for about n groups of the records recs, keeping its
// memory when it has enough.
func (ix *keyIndex) reset(n int, recs [2][]*rec) {
	size := 16
	for size < n*2 {
		size <<= 1
	}
	if cap(ix.groups) < n {
		ix.groups = make([]keyGroup, 0, n)
	}
	ix.groups = ix.groups[:0]
	if cap(ix.slots) < size {
		ix.slots = make([]int32, size)
	}
	ix.slots = ix.slots[:size]
	clear(ix.slots)
	ix.mask = uint64(size - 1)
	if ix.seed == (maphash.Seed{}) {
		ix.seed = maphash.MakeSeed()
	}
	ix.recs = recs
}

// group returns the group of key, adding it when new; the caller then
// adds a record of the key to a new group's chains.
func (ix *keyIndex) group(key string) *keyGroup {
	h := maphash.String(ix.seed, key)
	for i := h & ix.mask; ; i = (i + 1) & ix.mask {
		s := ix.slots[i]
		if s == 0 {
			ix.groups = append(ix.groups, keyGroup{hash: h})
			ix.slots[i] = int32(len(ix.groups))
			if uint64(len(ix.groups))*2 > ix.mask {
				ix.grow()
			}
			return &ix.groups[len(ix.groups)-1]
		}
		if g := &ix.groups[s-1]; g.hash == h && ix.keyOf(g) == key {
			return g
		}
	}
}

func (ix *keyIndex) lookup(key string) *keyGroup {
	h := maphash.String(ix.seed, key)
	for i := h & ix.mask; ; i = (i + 1) & ix.mask {
		s := ix.slots[i]
		if s == 0 {
			return nil
		}
		if g := &ix.groups[s-1]; g.hash == h && ix.keyOf(g) == key {
			return g
		}
	}
}

func (ix *keyIndex) grow() {
	ix.slots = make([]int32, 2*len(ix.slots))
	ix.mask = uint64(len(ix.slots) - 1)
	for n := range ix.groups {
		for i := ix.groups[n].hash & ix.mask; ; i = (i + 1) & ix.mask {
			if ix.slots[i] == 0 {
				ix.slots[i] = int32(n) + 1
				break
			}
		}
	}
}

// record returns r as the reader gave it (for errors).
func (m *matcher) record(r *rec) *billing.Record {
	return &billing.Record{ID: r.ID, Kind: r.Kind(), Date: r.Date().time(), Updated: r.Updated().time(), Customer: r.Customer,
		Currency: r.Currency(), Amount: r.Amount().Decimal(), Tax: r.Tax().Decimal(), State: r.State(),
		Source: m.names[r.side], Line: r.line()}
}

// group sums the records of one key on one side into one record: amounts
// and taxes added; date the earliest; updated the latest; state, customer
// and kind of the latest record (by date, then id); ids joined with "+" in
// that order. Records in different currencies cannot be summed: they stay
// apart (and are reported as duplicates).
func (m *matcher) group(g []*rec) []*rec {
	if len(g) < 2 {
		return g
	}
	for _, r := range g[1:] {
		if r.Currency() != g[0].Currency() {
			return g
		}
	}
	byDate := slices.Clone(g)
	slices.SortStableFunc(byDate, func(a, b *rec) int {
		if c := a.Date().Compare(b.Date()); c != 0 {
			return c
		}
		return recCmp(a, b)
	})
	first, last := byDate[0], byDate[len(byDate)-1]
	sum := &rec{}
	*sum = *last
	// The sum's own ext: last's holds its key and members, but also the
	// currency and state that the sum keeps.
	ext := &recExt{kind: last.Kind()}
	if last.ext != nil {
		ext.currency, ext.state = last.ext.currency, last.ext.state
	}
	sum.side, sum.ext, sum.ownKey = first.side, ext, false
	sum.setPosition(first.position())
	sum.setLine(first.line())
	sum.setDate(first.Date())
	ids := make([]string, len(byDate))
	var amount, tax money.Amount
	updated := sum.Updated()
	for i, r := range byDate {
		ids[i] = r.ID
		amount = amount.Add(r.Amount())
		tax = tax.Add(r.Tax())
		if r.Updated().After(updated) {
			updated = r.Updated()
		}
	}
	sum.setAmount(amount)
	sum.setTax(tax)
	sum.setUpdated(updated)
	sum.ID = strings.Join(ids, "+")
	sum.setKey(first.key()) // after the ID, which it is compared with
	sum.ext.members = byDate
	m.groups++
	return []*rec{sum}
}

func (m *matcher) onlyRow(r *rec) *Row {
	row := m.newRow()
	*row = Row{Status: StatusOnlyA, a: r}
	if r.side == sideB {
		*row = Row{Status: StatusOnlyB, b: r}
	}
	return row
}

// inputs returns the input records behind r (its members for a group);
// nil for a nil r.
func (r *rec) inputs() []*rec {
	if r == nil {
		return nil
	}
	if m := r.members(); m != nil {
		return m
	}
	return []*rec{r}
}

// pair compares two records that share a key (or a fuzzy pair) and builds
// their ledger row from the preferred side.
func (m *matcher) pair(a, b *rec) *Row {
	diffs := m.compare(a, b)
	cB := false
	switch m.prefer {
	case PreferB:
		cB = true
	case PreferNewest:
		if !a.Updated().IsZero() && !b.Updated().IsZero() && b.Updated().After(a.Updated()) {
			cB = true
		}
	}
	row := m.newRow()
	*row = Row{Status: StatusMatch, cB: cB, a: a, b: b}
	if len(diffs) > 0 {
		row.Status = StatusDiff
		row.ext = &rowExt{diffs: diffs}
	}
	return row
}

// compare lists the fields that differ, in the order amount, tax, currency,
// state, date, customer. Amounts and taxes are equal when their absolute
// difference is at most the tolerance; dates when at most the window apart.
func (m *matcher) compare(a, b *rec) []Diff {
	var diffs []Diff
	if !m.amountEqual(a.Amount(), b.Amount()) {
		diffs = append(diffs, Diff{"amount", a.formatAmount(a.Amount()), b.formatAmount(b.Amount())})
	}
	if !m.amountEqual(a.Tax(), b.Tax()) {
		diffs = append(diffs, Diff{"tax", a.formatAmount(a.Tax()), b.formatAmount(b.Tax())})
	}
	if a.Currency() != b.Currency() {
		diffs = append(diffs, Diff{"currency", a.Currency(), b.Currency()})
	}
	if a.State() != b.State() {
		diffs = append(diffs, Diff{"state", a.State(), b.State()})
	}
	if !m.dateEqual(a.Date(), b.Date()) {
		diffs = append(diffs, Diff{"date", billing.FormatTime(a.Date().time()), billing.FormatTime(b.Date().time())})
	}
	if a.Customer != b.Customer {
		diffs = append(diffs, Diff{"customer", a.Customer, b.Customer})
	}
	return diffs
}

func (m *matcher) amountEqual(x, y money.Amount) bool {
	if m.tol.IsZero() {
		return x.Cmp(y) == 0
	}
	return x.Within(y, m.tol)
}

// dateEqual reports whether x and y lie within the window of each other.
// It subtracts the earlier from the later: time.Time.Sub saturates at the
// ends of time.Duration (about 292 years), and negating the saturated
// minimum stays negative, so |x-y| computed naively calls far dates equal.
func (m *matcher) dateEqual(x, y stamp) bool {
	if x.Before(y) {
		x, y = y, x
	}
	return x.Sub(y) <= m.window
}

// fuzzy pairs leftovers by customer + currency, amount within tolerance and
// date within the window. Among all candidate pairs, the closest in date
// wins; ties go to the pair whose smaller record (by key, then id, then
// content, then input position: recCmp) is smaller, then whose larger
// record is smaller. The order treats both sides alike, so swapping A and
// B pairs the same records. Pairing is greedy over that order, so each
// record is paired at most once and the result does not depend on input
// order. What is left is only_a / only_b.
func (m *matcher) fuzzy(ctx context.Context, leftA, leftB []*rec, enabled bool) (rows []*Row, err error) {
	if !enabled {
		for _, r := range leftA {
			rows = append(rows, m.onlyRow(r))
		}
		for _, r := range leftB {
			rows = append(rows, m.onlyRow(r))
		}
		return rows, nil
	}
	type bucketKey struct{ customer, currency string }
	buckets := map[bucketKey][2][]*rec{}
	for _, r := range leftA {
		k := bucketKey{r.Customer, r.Currency()}
		b := buckets[k]
		b[0] = append(b[0], r)
		buckets[k] = b
	}
	for _, r := range leftB {
		k := bucketKey{r.Customer, r.Currency()}
		b := buckets[k]
		b[1] = append(b[1], r)
		buckets[k] = b
	}
	type cand struct {
		a, b *rec
		dist time.Duration
	}
	paired := map[*rec]bool{}
	for _, bk := range buckets {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		as, bs := bk[0], bk[1]
		if len(as) == 0 || len(bs) == 0 {
			continue
		}
		slices.SortFunc(bs, func(x, y *rec) int {
			if c := x.Date().Compare(y.Date()); c != 0 {
				return c
			}
			return recCmp(x, y)
		})
		var cands []cand
		for _, a := range as {
			lo := a.Date().Add(-m.window)
			i, _ := slices.BinarySearchFunc(bs, lo, func(x *rec, t stamp) int { return x.Date().Compare(t) })
			for ; i < len(bs) && !bs[i].Date().After(a.Date().Add(m.window)); i++ {
				b := bs[i]
				if !m.amountEqual(a.Amount(), b.Amount()) {
					continue
				}
				d := a.Date().Sub(b.Date())
				if d < 0 {
					d = -d
				}
				cands = append(cands, cand{a, b, d})
			}
		}
		slices.SortFunc(cands, func(x, y cand) int {
			if c := cmp.Compare(x.dist, y.dist); c != 0 {
				return c
			}
			xlo, xhi := minMax(x.a, x.b)
			ylo, yhi := minMax(y.a, y.b)
			if c := recCmp(xlo, ylo); c != 0 {
				return c
			}
			if c := recCmp(xhi, yhi); c != 0 {
				return c
			}
			// Same records in both roles: only a swap of sides can tie.
			return cmp.Compare(x.a.side, y.a.side)
		})
		for _, c := range cands {
			if paired[c.a] || paired[c.b] {
				continue
			}
			paired[c.a], paired[c.b] = true, true
			row := m.pair(c.a, c.b)
			row.Fuzzy = true
			rows = append(rows, row)
		}
	}
	for _, r := range leftA {
		if !paired[r] {
			rows = append(rows, m.onlyRow(r))
		}
	}
	for _, r := range leftB {
		if !paired[r] {
			rows = append(rows, m.onlyRow(r))
		}
	}
	return rows, nil
}

// rowCmp is the ledger order: by key, then source (both, a, b), then ids,
// then content, then input position.
func rowCmp(x, y *Row) int {
	if c := cmp.Compare(x.Key(), y.Key()); c != 0 {
		return c
	}
	if c := cmp.Compare(sourceRank(x), sourceRank(y)); c != 0 {
		return c
	}
	if c := cmp.Compare(x.IDA(), y.IDA()); c != 0 {
		return c
	}
	if c := cmp.Compare(x.IDB(), y.IDB()); c != 0 {
		return c
	}
	if c := cmp.Compare(x.Status, y.Status); c != 0 {
		return c
	}
	xc, yc := x.c(), y.c()
	if c := xc.Date().Compare(yc.Date()); c != 0 {
		return c
	}
	if c := xc.Amount().Cmp(yc.Amount()); c != 0 {
		return c
	}
	if c := xc.Tax().Cmp(yc.Tax()); c != 0 {
		return c
	}
	if c := cmp.Compare(xc.Currency(), yc.Currency()); c != 0 {
		return c
	}
	if c := cmp.Compare(xc.Customer, yc.Customer); c != 0 {
		return c
	}
	if c := cmp.Compare(xc.State(), yc.State()); c != 0 {
		return c
	}
	return cmp.Compare(x.seq(), y.seq())
}

// sourceRank orders the sources both, a, b.
func sourceRank(r *Row) int {
	switch {
	case r.a != nil && r.b != nil:
		return 0
	case r.a != nil:
		return 1
	}
	return 2
}

func minMax(a, b *rec) (lo, hi *rec) {
	if recCmp(a, b) <= 0 {
		return a, b
	}
	return b, a
}
