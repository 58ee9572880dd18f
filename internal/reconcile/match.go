package reconcile

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/taxagg/taxagg/internal/billing"
)

// side indexes: 0 is A, 1 is B.
const (
	sideA = 0
	sideB = 1
)

// rec is one input record with its matching key and position.
type rec struct {
	billing.Record
	key  string
	side uint8
	seq  int64 // 0-based position in its input
	// members are the records summed into a group (--duplicates group).
	members []*rec
}

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

// Row is one ledger record (SPEC §6).
type Row struct {
	Key      string
	IDA, IDB string
	Source   string // a, b, both
	Status   Status
	Date     time.Time
	Customer string
	Currency string
	Amount   decimal.Decimal
	Tax      decimal.Decimal
	State    string
	Diffs    []Diff
	// Fuzzy is set when the pair was made by fuzzy pairing.
	Fuzzy bool
	// A and B are the input records behind the row (several for a group).
	A, B []*rec
	// note explains an only_a/only_b row whose key is duplicated on the
	// other side.
	note string
	// seq is the input position of the row's first record: the last
	// tie-break of the ledger order.
	seq int64
}

func (r *Row) digits() int32 {
	rr := billing.Record{Currency: r.Currency}
	return rr.Digits()
}

// matcher holds the settings that matching needs.
type matcher struct {
	tol    decimal.Decimal
	window time.Duration
	prefer Prefer
	dups   Duplicates
	keyA   string // key names, for errors
	keyB   string
	// counters
	groups int
}

// recLess orders records by content, position last, so that every choice
// that depends on order is the same for any input order.
func recCmp(a, b *rec) int {
	if c := cmp.Compare(a.key, b.key); c != 0 {
		return c
	}
	if c := cmp.Compare(a.ID, b.ID); c != 0 {
		return c
	}
	if c := a.Date.Compare(b.Date); c != 0 {
		return c
	}
	if c := a.Amount.Cmp(b.Amount); c != 0 {
		return c
	}
	if c := a.Tax.Cmp(b.Tax); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Currency, b.Currency); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Customer, b.Customer); c != 0 {
		return c
	}
	if c := cmp.Compare(a.State, b.State); c != 0 {
		return c
	}
	return cmp.Compare(a.seq, b.seq)
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
	byKey := func(rs []*rec) map[string][]*rec {
		idx := make(map[string][]*rec, len(rs))
		for _, r := range rs {
			if r.key == "" {
				continue
			}
			idx[r.key] = append(idx[r.key], r)
		}
		return idx
	}
	ia, ib := byKey(as), byKey(bs)
	if m.dups == DupError {
		if err := m.firstDuplicate(as, ia, "A", m.keyA); err != nil {
			return nil, nil, nil, err
		}
		if err := m.firstDuplicate(bs, ib, "B", m.keyB); err != nil {
			return nil, nil, nil, err
		}
	}
	for _, r := range as {
		if r.key == "" {
			leftA = append(leftA, r)
		}
	}
	for _, r := range bs {
		if r.key == "" {
			leftB = append(leftB, r)
		}
	}
	n := 0
	visit := func(key string, ga, gb []*rec) {
		n++
		if n%4096 == 0 && ctx.Err() != nil {
			return
		}
		slices.SortFunc(ga, recCmp)
		slices.SortFunc(gb, recCmp)
		if m.dups == DupGroup {
			ga, gb = m.group(ga), m.group(gb)
		}
		if len(ga) > 1 || len(gb) > 1 {
			// Duplicates are reported, unmatched; a single counterpart is
			// then only on its side.
			for _, g := range [][]*rec{ga, gb} {
				if len(g) == 1 {
					row := onlyRow(g[0])
					other := "B"
					if g[0].side == sideB {
						other = "A"
					}
					row.note = fmt.Sprintf("not matched: %s has this key more than once (see its duplicate rows)", other)
					rows = append(rows, row)
					continue
				}
				for _, r := range g {
					row := onlyRow(r)
					row.Status = StatusDuplicate
					rows = append(rows, row)
				}
			}
			return
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
	for k, ga := range ia {
		visit(k, ga, ib[k])
	}
	for k, gb := range ib {
		if _, ok := ia[k]; !ok {
			visit(k, nil, gb)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, nil, err
	}
	return rows, leftA, leftB, nil
}

func (m *matcher) firstDuplicate(rs []*rec, idx map[string][]*rec, side, keyName string) error {
	for _, r := range rs {
		g := idx[r.key]
		if len(g) < 2 {
			continue
		}
		first := g[0]
		for _, o := range g {
			if o.seq < first.seq {
				first = o
			}
		}
		if r != first {
			return &DuplicateKeyError{Side: side, Key: r.key, KeyField: keyName, Second: &r.Record, FirstLine: first.Line,
				order: [2]int64{int64(r.side), r.seq}}
		}
	}
	return nil
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
		if r.Currency != g[0].Currency {
			return g
		}
	}
	byDate := slices.Clone(g)
	slices.SortStableFunc(byDate, func(a, b *rec) int {
		if c := a.Date.Compare(b.Date); c != 0 {
			return c
		}
		return recCmp(a, b)
	})
	first, last := byDate[0], byDate[len(byDate)-1]
	sum := &rec{Record: last.Record, key: first.key, side: first.side, seq: first.seq}
	sum.Date = first.Date
	sum.Line = first.Line
	ids := make([]string, len(byDate))
	sum.Amount, sum.Tax = decimal.Decimal{}, decimal.Decimal{}
	for i, r := range byDate {
		ids[i] = r.ID
		sum.Amount = sum.Amount.Add(r.Amount)
		sum.Tax = sum.Tax.Add(r.Tax)
		if r.Updated.After(sum.Updated) {
			sum.Updated = r.Updated
		}
	}
	sum.ID = strings.Join(ids, "+")
	sum.members = byDate
	m.groups++
	return []*rec{sum}
}

func onlyRow(r *rec) *Row {
	row := &Row{Key: r.key, Date: r.Date, Customer: r.Customer, Currency: r.Currency,
		Amount: r.Amount, Tax: r.Tax, State: r.State}
	if r.side == sideA {
		row.IDA, row.Source, row.Status, row.A = r.ID, "a", StatusOnlyA, r.parts()
	} else {
		row.IDB, row.Source, row.Status, row.B = r.ID, "b", StatusOnlyB, r.parts()
	}
	row.seq = firstSeq(row)
	return row
}

// parts returns the input records behind r (its members for a group).
func (r *rec) parts() []*rec {
	if r.members != nil {
		return r.members
	}
	return []*rec{r}
}

// pair compares two records that share a key (or a fuzzy pair) and builds
// their ledger row from the preferred side.
func (m *matcher) pair(a, b *rec) *Row {
	diffs := m.compare(a, b)
	chosen := a
	switch m.prefer {
	case PreferB:
		chosen = b
	case PreferNewest:
		if !a.Updated.IsZero() && !b.Updated.IsZero() && b.Updated.After(a.Updated) {
			chosen = b
		}
	}
	// Paired by key, both keys are equal; a fuzzy pair takes the smaller
	// non-empty one, so that swapping A and B keeps the ledger's keys.
	key := a.key
	if key == "" || (b.key != "" && b.key < key) {
		key = b.key
	}
	row := &Row{Key: key, IDA: a.ID, IDB: b.ID, Source: "both", Status: StatusMatch,
		Date: chosen.Date, Customer: chosen.Customer, Currency: chosen.Currency,
		Amount: chosen.Amount, Tax: chosen.Tax, State: chosen.State, Diffs: diffs,
		A: a.parts(), B: b.parts()}
	if len(diffs) > 0 {
		row.Status = StatusDiff
	}
	row.seq = firstSeq(row)
	return row
}

// compare lists the fields that differ, in the order amount, tax, currency,
// state, date, customer. Amounts and taxes are equal when their absolute
// difference is at most the tolerance; dates when at most the window apart.
func (m *matcher) compare(a, b *rec) []Diff {
	var diffs []Diff
	if !m.amountEqual(a.Amount, b.Amount) {
		diffs = append(diffs, Diff{"amount", a.FormatAmount(a.Amount), b.FormatAmount(b.Amount)})
	}
	if !m.amountEqual(a.Tax, b.Tax) {
		diffs = append(diffs, Diff{"tax", a.FormatAmount(a.Tax), b.FormatAmount(b.Tax)})
	}
	if a.Currency != b.Currency {
		diffs = append(diffs, Diff{"currency", a.Currency, b.Currency})
	}
	if a.State != b.State {
		diffs = append(diffs, Diff{"state", a.State, b.State})
	}
	if !m.dateEqual(a.Date, b.Date) {
		diffs = append(diffs, Diff{"date", billing.FormatTime(a.Date), billing.FormatTime(b.Date)})
	}
	if a.Customer != b.Customer {
		diffs = append(diffs, Diff{"customer", a.Customer, b.Customer})
	}
	return diffs
}

func (m *matcher) amountEqual(x, y decimal.Decimal) bool {
	if m.tol.IsZero() {
		return x.Equal(y)
	}
	return x.Sub(y).Abs().Cmp(m.tol) <= 0
}

func (m *matcher) dateEqual(x, y time.Time) bool {
	d := x.Sub(y)
	if d < 0 {
		d = -d
	}
	return d <= m.window
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
			rows = append(rows, onlyRow(r))
		}
		for _, r := range leftB {
			rows = append(rows, onlyRow(r))
		}
		return rows, nil
	}
	type bucketKey struct{ customer, currency string }
	buckets := map[bucketKey][2][]*rec{}
	for _, r := range leftA {
		k := bucketKey{r.Customer, r.Currency}
		b := buckets[k]
		b[0] = append(b[0], r)
		buckets[k] = b
	}
	for _, r := range leftB {
		k := bucketKey{r.Customer, r.Currency}
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
			if c := x.Date.Compare(y.Date); c != 0 {
				return c
			}
			return recCmp(x, y)
		})
		var cands []cand
		for _, a := range as {
			lo := a.Date.Add(-m.window)
			i, _ := slices.BinarySearchFunc(bs, lo, func(x *rec, t time.Time) int { return x.Date.Compare(t) })
			for ; i < len(bs) && !bs[i].Date.After(a.Date.Add(m.window)); i++ {
				b := bs[i]
				if !m.amountEqual(a.Amount, b.Amount) {
					continue
				}
				d := a.Date.Sub(b.Date)
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
			rows = append(rows, onlyRow(r))
		}
	}
	for _, r := range leftB {
		if !paired[r] {
			rows = append(rows, onlyRow(r))
		}
	}
	return rows, nil
}

// rowCmp is the ledger order: by key, then source (both, a, b), then ids,
// then content, then input position.
func rowCmp(x, y *Row) int {
	if c := cmp.Compare(x.Key, y.Key); c != 0 {
		return c
	}
	if c := cmp.Compare(sourceRank(x.Source), sourceRank(y.Source)); c != 0 {
		return c
	}
	if c := cmp.Compare(x.IDA, y.IDA); c != 0 {
		return c
	}
	if c := cmp.Compare(x.IDB, y.IDB); c != 0 {
		return c
	}
	if c := cmp.Compare(x.Status, y.Status); c != 0 {
		return c
	}
	if c := x.Date.Compare(y.Date); c != 0 {
		return c
	}
	if c := x.Amount.Cmp(y.Amount); c != 0 {
		return c
	}
	if c := x.Tax.Cmp(y.Tax); c != 0 {
		return c
	}
	if c := cmp.Compare(x.Currency, y.Currency); c != 0 {
		return c
	}
	if c := cmp.Compare(x.Customer, y.Customer); c != 0 {
		return c
	}
	if c := cmp.Compare(x.State, y.State); c != 0 {
		return c
	}
	return cmp.Compare(x.seq, y.seq)
}

func sourceRank(s string) int {
	switch s {
	case "both":
		return 0
	case "a":
		return 1
	}
	return 2
}

func firstSeq(r *Row) int64 {
	if len(r.A) > 0 {
		return r.A[0].seq
	}
	if len(r.B) > 0 {
		return r.B[0].seq
	}
	return 0
}

func minMax(a, b *rec) (lo, hi *rec) {
	if recCmp(a, b) <= 0 {
		return a, b
	}
	return b, a
}
