// Package nexus measures economic-nexus exposure (docs/nexus.md): for every
// jurisdiction whose rules carry a `nexus` threshold, the sales and
// transactions it saw per window, a status, and the transaction that
// crossed the threshold.
//
// It works in one streaming pass plus per-day state. While the input
// streams, each worker keeps, per (jurisdiction, day), the net sales and
// the count of sales, and appends a small record per (transaction,
// jurisdiction) to its own spill file. Memory grows with jurisdictions ×
// days, never with transactions. At the end the day sums are merged (sums
// commute, so the worker count and input order do not matter), the windows
// are evaluated day by day to find the day a threshold was crossed, and
// the spill files are read back once, keeping only the records of those
// crossing days, to name the transaction that crossed. Spill files are
// unlinked as soon as they are created where the system allows it, so
// nothing is left behind even when the process is killed; Close removes
// them otherwise.
//
// What counts (docs/nexus.md states the same):
//
//   - A transaction counts toward every jurisdiction it falls in under the
//     rules (rules.Result.Jurisdictions: address matching or explicit
//     codes) that has a nexus threshold.
//   - Sales are gross: the sum of the transaction's line amounts, exempt and
//     non-taxable sales included (most states count gross sales, resale and
//     exempt sales among them). A tax-included line counts net of the taxes
//     backed out of it (docs/rules.md), so sales equal aggregate's gross_sales;
//     when no tax is in force to back out, its amount counts as given.
//   - Refunds subtract their amounts from sales and do not count as
//     transactions; a sale counts as one transaction per jurisdiction
//     however many lines it has.
//   - Thresholds are in one currency (USD unless told otherwise). Sales in
//     other currencies are never converted nor added; they are counted per
//     row as other-currency transactions so that they are not lost silently.
//   - A threshold is met when the figure is greater than or equal to it
//     (some statutes say "exceeds": a figure exactly at the threshold is
//     reported as exceeded, the cautious reading). combine any: one met
//     threshold is enough; all: every threshold the rules set must be met.
//   - Upcoming: the test would pass against 85% of the thresholds.
//   - Thresholds are tested at the close of each day. The crossing day is
//     the first day whose closing totals meet the test; the crossing
//     transaction is the first of that day, in time order, after which the
//     running totals meet it. Within a day, sales given a date only come
//     first, then timestamped ones by instant, ties broken by id, so the
//     answer does not depend on the input order.
package nexus

import (
	"errors"
	"math"
	"sync"
	"unsafe"

	"github.com/shopspring/decimal"

	"github.com/taxagg/taxagg/internal/money"
	"github.com/taxagg/taxagg/internal/prefetch"
	"github.com/taxagg/taxagg/internal/rules"
	"github.com/taxagg/taxagg/internal/txn"
)

// Options configure a Tracker.
type Options struct {
	// Currency is the thresholds' currency; zero means USD.
	Currency money.Currency
	// TempDir holds the spill files; empty means os.TempDir().
	TempDir string
}

// Tracker collects the per-day state of every worker. Make one per run,
// give each goroutine its own Worker, call Rows once the input is done,
// and always Close it.
type Tracker struct {
	opt     Options
	mu      sync.Mutex
	workers []*Worker
}

// New returns an empty Tracker.
func New(opt Options) *Tracker {
	if opt.Currency.Code == "" {
		opt.Currency, _ = money.LookupCurrency("USD")
	}
	return &Tracker{opt: opt}
}

// NewWorker returns a Worker for one goroutine. It is safe to call
// concurrently.
func (t *Tracker) NewWorker() *Worker {
	w := &Worker{
		cur:  t.opt.Currency.Code,
		dir:  t.opt.TempDir,
		days: map[dayKey]int32{},
		jidx: map[*rules.Jurisdiction]uint32{},
	}
	t.mu.Lock()
	t.workers = append(t.workers, w)
	t.mu.Unlock()
	return w
}

// Close removes the spill files. It is safe to call more than once.
func (t *Tracker) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	var errs []error
	for _, w := range t.workers {
		if w.spill != nil {
			errs = append(errs, w.spill.close())
			w.spill = nil
		}
	}
	return errors.Join(errs...)
}

type dayKey struct {
	j   *rules.Jurisdiction
	day txn.Date
}

// daySum is one jurisdiction's figures for one day.
type daySum struct {
	sales money.Sum // threshold currency, refunds negative
	count int64     // sales (not refunds) in the threshold currency
	other int64     // transactions in other currencies
	jur   uint32    // the jurisdiction's number in the spill records
	day   txn.Date
}

// Worker is one goroutine's share of a Tracker. It is not safe for
// concurrent use.
type Worker struct {
	cur string
	dir string
	// sums are the figures of the (jurisdiction, day) pairs seen, in one
	// slice rather than an object each. A jurisdiction's window (dense,
	// by Jurisdiction.Index) numbers its days near the first; days numbers
	// the others.
	sums    []daySum
	dense   []*denseDays
	windows int // non-nil in dense
	days    map[dayKey]int32
	// jurisdictions seen, numbered for the spill records
	jurs []*rules.Jurisdiction
	jidx map[*rules.Jurisdiction]uint32

	spill  *spill
	err    error // the first spill error
	hasDay bool
	last   txn.Date // the latest day of any transaction added
}

// Add counts one accepted, evaluated transaction.
func (w *Worker) Add(tx *txn.Transaction, res *rules.Result) {
	if !w.hasDay || tx.Day > w.last {
		w.last, w.hasDay = tx.Day, true
	}
	var amount netSum
	summed := false
	for _, j := range res.Nexus() {
		s := &w.sums[w.day(j, tx.Day)]
		if tx.Currency.Code != w.cur {
			s.other++
			continue
		}
		if !summed {
			amount, summed = netAmountSum(tx, res), true
		}
		if amount.fixed {
			s.sales.Add(amount.f)
		} else {
			s.sales.AddDecimal(amount.d)
		}
		if !tx.Refund {
			s.count++
		}
		w.record(s.jur, tx, &amount)
	}
}

// day returns the index in sums of j's figures on day d, starting them
// when new.
func (w *Worker) day(j *rules.Jurisdiction, d txn.Date) int32 {
	if e := w.window(j, d).entry(d); e != nil {
		if *e == 0 {
			*e = w.newDay(j, d) + 1
		}
		return *e - 1
	}
	k := dayKey{j, d}
	i, ok := w.days[k]
	if !ok {
		i = w.newDay(j, d)
		w.days[k] = i
	}
	return i
}

// denseDays indexes one jurisdiction's days in a fixed window: idx[d-base]
// is the day's index in sums plus one (0 for a day not seen). It is the
// fast way to a day; days out of the window are found through the days
// map.
type denseDays struct {
	j    *rules.Jurisdiction
	base txn.Date
	idx  []int32
}

// denseDaysSpan is a window's length in days (some 11 years, 16 KiB), per
// worker and jurisdiction with a threshold: memory bounded by the rules
// (and maxDense), not by the input.
const denseDaysSpan = 4096

// maxDense bounds the windows of a worker (4 MiB): the jurisdictions past
// it, in rules with that many thresholds, go through the days map alone.
const maxDense = 256

// window returns j's day window, made on j's first day (centred on it: a
// run's data mostly spans a few years); nil when j goes through the days
// map alone (maxDense windows made, or another program's jurisdiction of
// the same index, a reloaded stream's, has the place).
func (w *Worker) window(j *rules.Jurisdiction, d txn.Date) *denseDays {
	if jd := w.knownWindow(j); jd != nil {
		return jd
	}
	i := j.Index()
	if i < 0 || i < len(w.dense) && w.dense[i] != nil || w.windows == maxDense || w.seen(j) {
		return nil // no window, or made too late: j's days so far are in the map
	}
	if i >= len(w.dense) {
		w.dense = append(w.dense, make([]*denseDays, i+1-len(w.dense))...)
	}
	w.windows++
	jd := &denseDays{j: j, base: d - denseDaysSpan/2, idx: make([]int32, denseDaysSpan)}
	w.dense[i] = jd
	return jd
}

// knownWindow is j's day window if it has one, made by window.
func (w *Worker) knownWindow(j *rules.Jurisdiction) *denseDays {
	if i := j.Index(); i >= 0 && i < len(w.dense) {
		if jd := w.dense[i]; jd != nil && jd.j == j {
			return jd
		}
	}
	return nil
}

// entry is day d's entry in the window, nil when d is outside it (or jd
// is nil).
func (jd *denseDays) entry(d txn.Date) *int32 {
	if jd == nil {
		return nil
	}
	if off := int64(d) - int64(jd.base); off >= 0 && off < int64(len(jd.idx)) {
		return &jd.idx[off]
	}
	return nil
}

// seen reports whether j has figures already.
func (w *Worker) seen(j *rules.Jurisdiction) bool {
	_, ok := w.jidx[j]
	return ok
}

// newDay starts the figures of a (jurisdiction, day) the worker had not
// seen, numbering the jurisdiction for the spill records when it is new.
func (w *Worker) newDay(j *rules.Jurisdiction, d txn.Date) int32 {
	ji, ok := w.jidx[j]
	if !ok {
		ji = uint32(len(w.jurs))
		w.jurs = append(w.jurs, j)
		w.jidx[j] = ji
	}
	i := int32(len(w.sums))
	w.sums = append(w.sums, daySum{jur: ji, day: d})
	return i
}

// NetAmount is what a transaction adds to a jurisdiction's sales: see
// netAmount. A durable state keeps it to replay the transaction later.
func NetAmount(tx *txn.Transaction, res *rules.Result) decimal.Decimal { return netAmount(tx, res) }

// netAmount is the sum of a transaction's line amounts, negative for a
// refund. With tax-included lines it is the net the rule engine backed out:
// every tax's lines carry the same adjusted net in Gross (docs/rules.md), so
// the first tax's are summed.
func netAmount(tx *txn.Transaction, res *rules.Result) decimal.Decimal {
	n := netAmountSum(tx, res)
	return n.decimal()
}

// netSum is a net amount: f when fixed, else d. Both are built as
// decimal.Decimal.Add builds the sum (the smaller exponent), so that the
// two forms are the same number with the same exponent.
type netSum struct {
	fixed bool
	f     money.Fixed
	d     decimal.Decimal
}

func (n *netSum) decimal() decimal.Decimal {
	if n.fixed {
		return n.f.Decimal()
	}
	return n.d
}

// netAmountSum is netAmount, in int64 arithmetic when every figure is a
// money.Fixed and no sum overflows (the usual case: no allocation), in
// decimals otherwise.
func netAmountSum(tx *txn.Transaction, res *rules.Result) netSum {
	included := false
	for i := range tx.Lines {
		included = included || tx.Lines[i].TaxIncluded
	}
	if included && len(res.Lines) > 0 {
		first := res.Lines[0].Tax
		var f money.Fixed
		ok := true
		for i := range res.Lines {
			l := &res.Lines[i]
			if l.Tax != first {
				continue
			}
			if !l.Fixed.OK {
				ok = false
				break
			}
			if f, ok = f.Add(l.Fixed.Gross); !ok {
				break
			}
		}
		if ok {
			return netSum{fixed: true, f: f} // already negative for a refund
		}
		var sum decimal.Decimal
		for i := range res.Lines {
			l := &res.Lines[i]
			if l.Tax == first {
				g := l.Gross
				if l.Fixed.OK {
					g = l.Fixed.Gross.Decimal()
				}
				sum = sum.Add(g)
			}
		}
		return netSum{d: sum} // already negative for a refund
	}
	var f money.Fixed
	ok := true
	for i := range tx.Lines {
		l := &tx.Lines[i]
		if !l.Fixed {
			ok = false
			break
		}
		if f, ok = f.Add(l.AmountFixed); !ok {
			break
		}
	}
	if ok && f.C != math.MinInt64 { // MinInt64 has no negation
		if tx.Refund {
			f = f.Neg()
		}
		return netSum{fixed: true, f: f}
	}
	var sum decimal.Decimal
	for i := range tx.Lines {
		sum = sum.Add(tx.Lines[i].Amount)
	}
	if tx.Refund {
		sum = sum.Neg()
	}
	return netSum{d: sum}
}

// record spills what is needed to find the crossing transaction later.
func (w *Worker) record(ji uint32, tx *txn.Transaction, amount *netSum) {
	if w.err != nil {
		return
	}
	if w.spill == nil {
		w.spill, w.err = newSpill(w.dir)
		if w.err != nil {
			return
		}
	}
	w.err = w.spill.write(ji, tx, amount)
}

// PrefetchDays brings into the cache the day windows' entries Add will
// read for a transaction, and PrefetchSums, once those are there, the
// figures they lead to: a caller with a batch of transactions to add asks
// for all of them, level by level, before it adds any
// (pipeline.AcceptPrefetcher). Neither changes anything; a day with no
// window entry yet is left to Add.
func (w *Worker) PrefetchDays(tx *txn.Transaction, res *rules.Result) {
	for _, j := range res.Nexus() {
		if e := w.windowEntry(j, tx.Day); e != nil {
			prefetch.Lines(uintptr(unsafe.Pointer(e)))
		}
	}
}

// PrefetchSums: see PrefetchDays.
func (w *Worker) PrefetchSums(tx *txn.Transaction, res *rules.Result) {
	for _, j := range res.Nexus() {
		if e := w.windowEntry(j, tx.Day); e != nil && *e > 0 && int(*e-1) < len(w.sums) {
			prefetch.Lines(uintptr(unsafe.Pointer(&w.sums[*e-1])))
		}
	}
}

// windowEntry is the entry of day d in j's window (denseDays), nil when j
// has none or d is outside it.
func (w *Worker) windowEntry(j *rules.Jurisdiction, d txn.Date) *int32 {
	return w.knownWindow(j).entry(d)
}
