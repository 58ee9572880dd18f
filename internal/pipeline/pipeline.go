// Package pipeline runs transactions from their sources through the rule
// engine in parallel, keeping the accounting of docs/accounting.md: every
// record read ends up accepted, rejected or a duplicate, decided in input
// order.
//
// The shape is Miller's: one reader goroutine cuts the inputs into batches,
// N workers parse and evaluate whole batches, and a sequencer takes the
// batches back in input order to settle duplicates and rejects. A worker
// does not wait for its batch's verdicts: it goes on with the next batch
// and hands the accepted records of its earlier batches to its own sink as
// the sequencer settles them, oldest first. So sums are built in parallel
// and output is the same for any number of workers.
package pipeline

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/taxagg/taxagg/internal/rules"
	"github.com/taxagg/taxagg/internal/stream"
	"github.com/taxagg/taxagg/internal/txn"
)

// Input is one source of transactions.
type Input struct {
	Name string
	R    io.Reader
	// Size is the input's length in bytes when known ahead (a regular
	// file), else 0. It only sizes the duplicate set up front.
	Size int64
}

// dedupHint is the number of distinct ids the duplicate set is sized for
// at the start: one per 256 bytes of input whose size is known (records
// are rarely shorter), at most maxDedupHint so that a file of mostly
// duplicates does not reserve much memory for ids it never holds. The set
// grows past the hint in small steps as it always does; the hint saves the
// many early steps, each a rehash.
func dedupHint(ins []Input) int {
	var bytes int64
	for _, in := range ins {
		bytes += max(in.Size, 0)
	}
	return int(min(bytes/bytesPerRecordHint, maxDedupHint))
}

const (
	bytesPerRecordHint = 256
	maxDedupHint       = 1 << 22
)

// recordsHint is a better dedupHint once the first batch of the run is
// read, from its records' own size: the inputs' sizes over the bytes per
// record of the batch, at most maxDedupHint. It is 0 (no better guess)
// when the first input is gzip or a size is unknown. Records far shorter
// than dedupHint's guess (CSV exports) would otherwise make the set grow
// an eighth at a time, rehashing every id each time.
func recordsHint(ins []Input, r *stream.Reader, first *stream.Batch) int {
	if r.Compressed() || len(first.Records) == 0 {
		return 0
	}
	var size int64
	for _, in := range ins {
		if in.Size <= 0 {
			return 0
		}
		size += in.Size
	}
	var sample int64
	for i := range first.Records {
		sample += int64(len(first.Records[i].Text)) + 1 // and its line end
	}
	return int(min(size*int64(len(first.Records))/sample, maxDedupHint))
}

// Options configure a run.
type Options struct {
	Program *rules.Program
	Format  stream.Format
	Parse   txn.ParseOptions
	Workers int // 0: one per CPU
	// Rejects receives each bad record as one NDJSON object. Nil means
	// the first bad record stops the run.
	Rejects io.Writer
	// MaxRejects stops the run when more records than this were
	// rejected; negative means no limit.
	MaxRejects int64
	// Progress, when set, is called by the sequencer after each batch.
	Progress func(Counts)
	// FixedOnly is for sinks that read a tax line's Fixed figures whenever
	// Fixed.OK: see rules.Evaluator.FixedOnly.
	FixedOnly bool
	// Compact is for sinks that total per tax from Result.Slots: see
	// rules.Evaluator.Compact.
	Compact bool
	// Unmatched receives each accepted transaction that matched no
	// jurisdiction, in input order, as one NDJSON object (writeUnmatched).
	Unmatched io.Writer
	// RequireMatch makes a transaction that matches no jurisdiction a
	// bad record.
	RequireMatch bool
	// Prior, when set, settles the records new to this run against what
	// earlier runs counted (a durable state): see prior.go.
	Prior Prior
	// Shards > 0 keeps only the records of shard Shard (0-based) of
	// Shards: see prior.go.
	Shard, Shards int
	// Convert, when set, reads every record as a record of another source
	// (a billing export) and turns it into a transaction record first.
	Convert Converter
	// RenderFields is for sinks whose Render reads Item.Fields (calc). A
	// worker parses a whole batch before it renders any record, and the
	// parser's fields last only until its next parse: with RenderFields
	// each item keeps a copy of its own.
	RenderFields bool

	sourceNames []string
	unmatched   *bufio.Writer
}

// Counts is the accounting of a run: Read = Accepted + Rejected +
// Duplicates + Skipped.
type Counts struct {
	Read       int64
	Accepted   int64
	Rejected   int64
	Duplicates int64
	// Skipped counts the records a Converter found not to be transactions
	// (a draft or void invoice): read, and deliberately not taxed.
	Skipped int64
	Bytes   int64
	// Coverage accounts for the accepted records: Accepted = Taxed +
	// Unmatched + NoTax. Run fills it in when it returns.
	Coverage Coverage
	// OtherShard counts the records left to other shards (--shard): they
	// are not read by this run, and not in Read.
	OtherShard int64
}

// Converter turns the raw records of another source into the text of
// transaction records (JSON, taxagg's own format). The pipeline calls it
// from its reader goroutine, for the records in input order, so that a
// record may draw on one read before it (a credit note on its invoice).
// skip, when not empty, says why a record is not a transaction; it is then
// counted as skipped. An error is the record's rejection (a
// *txn.FieldError names the field).
type Converter interface {
	ConvertJSON(source string, text, dst []byte) (out []byte, skip string, err error)
	ConvertCSV(source string, header, row []string, dst []byte) (out []byte, skip string, err error)
}

// Item is one record on its way through the pipeline.
type Item struct {
	Source string
	Line   int
	Text   []byte // raw record text (owned by the batch)
	// Tx's own strings (id, customer, address) are borrowed from the
	// batch (txn.Parser.SetArena): valid while the item is, overwritten
	// when its batch is reused. A sink that keeps one past Render, Accept
	// or Emit keeps a clone.
	Tx     txn.Transaction
	Result rules.Result
	// Fields are the record's top-level JSON fields (calc keeps them).
	Fields []txn.RawField
	// Header and CSV are a CSV record's column names and fields (CSV nil
	// for JSON records).
	Header []string
	CSV    []string
	// Out is what the sink rendered for this record, written in order by
	// Sink.Emit if the record is accepted.
	Out []byte
	// Conv is the transaction record a Converter made of Text (Converted
	// set); Fields then point into it.
	Conv      []byte
	Converted bool

	err     error // read, parse or evaluation failure
	skip    string
	field   string
	srcIdx  int
	verdict verdict
	known   bool // Prior.Known: a duplicate of an earlier run, not evaluated
	// claimed: the worker's Dedup.Claim found the id free, so this record
	// holds it (new, unless an earlier record of the input claimed it
	// later: seqDedup settles that).
	claimed bool
	good    bool // processBatch: parsed, then evaluated, without an error so far
}

type verdict uint8

const (
	vAccepted verdict = iota
	vRejected
	vDuplicate
	vOtherShard
	vSkipped
)

// Sink receives the accepted records. NewWorker is called once per worker
// goroutine; the WorkerSink it returns is used by that goroutine alone.
// Emit is called by the sequencer for accepted records in input order.
type Sink interface {
	NewWorker() WorkerSink
	// Ordered reports whether Emit must be called (calc); aggregate
	// sinks return false and work in WorkerSink.Accept alone.
	Ordered() bool
	Emit(it *Item) error
}

// WorkerSink is one worker's part of a Sink.
type WorkerSink interface {
	// Render runs after evaluation, before the verdict; it may fill
	// it.Out for Emit. it.Out comes empty, over the free end of the
	// batch's buffer: appending to it keeps the batch's records one after
	// another (BatchEmitter).
	Render(it *Item)
	// Accept runs for each accepted record once the verdicts are in.
	Accept(it *Item)
}

// BatchEmitter is an ordered Sink that may hold on to what Emit was given
// (the items' Out, which lie one after another in their batch's memory)
// until the end of the batch, to write a run of records with one call.
// The sequencer calls EndBatch after each batch's Emits, before the batch
// is used again; what Emit held must be written by then. A Sink that
// wraps another must pass EndBatch on.
type BatchEmitter interface {
	Sink
	EndBatch() error
}

// Follows reports whether b starts where run ends, in the same memory, so
// that run[:len(run)+len(b)] is both: what a BatchEmitter checks to add
// an item's Out to the run it holds.
func Follows(run, b []byte) bool {
	n := len(run)
	return len(b) > 0 && cap(run)-n >= len(b) && unsafe.SliceData(run[n:cap(run)]) == unsafe.SliceData(b)
}

// RenderPrefetcher is a WorkerSink that can bring into the cache what its
// Render will read. A worker hands it a batch's evaluated records before
// it renders any of them (processBatch).
type RenderPrefetcher interface {
	PrefetchRender(items []*Item)
}

// AcceptPrefetcher is a WorkerSink that can bring into the cache what its
// Accept will read. A worker hands it a settled batch's accepted records
// before it accepts any of them, so that their cache misses overlap (as
// processBatch does for evaluation).
type AcceptPrefetcher interface {
	PrefetchAccept(items []*Item)
}

// RejectError is the first bad record of a run without a rejects file, or
// the record that took the run past --max-rejects.
type RejectError struct {
	Source string
	Line   int
	Field  string
	Err    error
	Limit  int64 // > 0 when the reject limit was passed
}

func (e *RejectError) Error() string {
	msg := fmt.Sprintf("%s:%d: ", e.Source, e.Line)
	if e.Field != "" {
		msg += e.Field + ": "
	}
	msg += e.Err.Error()
	if e.Limit >= 0 && e.Limit != noLimit {
		noun := "records"
		if e.Limit == 1 {
			noun = "record"
		}
		msg = fmt.Sprintf("more than %d %s rejected; last: %s", e.Limit, noun, msg)
	}
	return msg
}

func (e *RejectError) Unwrap() error { return e.Err }

const noLimit = -1

const batchSize = 128

// maxBatches is the most batches a run reads: the duplicate set keeps a
// holder's batch number in 32 bits (seqDedup). At least 2^32 batches of
// records is hundreds of billions of records, far past what one run
// reads; a run that gets there stops with an error rather than risk a
// wrong first.
const maxBatches = 1<<32 - 1

var errTooManyBatches = errors.New("more than 4294967295 batches of records in one run: split the input")

type batch struct {
	seq   int
	items []Item
	recs  stream.Batch
	// arena holds the strings of the items' transactions that are not
	// slices of recs (txn.Parser.SetArena): they live as long as the
	// batch's use, as the records' text does.
	arena txn.Arena
	// out holds what the sink rendered for the batch's items, one after
	// another (their Out), so that an ordered sink can write a run of
	// accepted records with one call (BatchEmitter); kept across uses.
	out  []byte
	done chan struct{} // closed by the sequencer when verdicts are in
	// raw: the items are still to be made from recs (makeItems), by the
	// worker, so that the reader only cuts records; header and srcIdx are
	// the input's.
	raw    bool
	header []string
	srcIdx int
}

// makeItems makes the batch's items from the records the reader cut,
// running the converter on each when there is one.
func (b *batch) makeItems(conv Converter) {
	b.raw = false
	for i := range b.recs.Records {
		rec := &b.recs.Records[i]
		it := nextItem(b)
		it.Source, it.Line, it.Text, it.CSV, it.srcIdx = rec.Source, rec.Line, rec.Text, rec.CSV, b.srcIdx
		if rec.CSV != nil {
			it.Header = b.header
		}
		if rec.Err != nil {
			it.err = rec.Err
			var se *stream.Error
			if errors.As(rec.Err, &se) {
				it.err, it.field = se.Err, se.Field
			}
		} else if conv != nil {
			convert(conv, it, b.header)
		}
	}
}

// batchesPerWorker is how many batches a run has in circulation per
// worker: one being read, one being evaluated, one waiting for its
// verdicts, roughly. More do not run faster but slower: every batch's
// items are memory a worker touches again on the batch's next use, and
// the fewer there are the likelier they are still cached (eight per
// worker cost aggregate about 3% more CPU on the benchmark; two starve
// the workers).
const batchesPerWorker = 3

// MaxWorkers is the most workers Run starts, whatever Options.Workers says.
const MaxWorkers = 256

// Run reads every input, evaluates it and feeds the sink. It returns the
// counts so far even when it fails or is cancelled.
//
// Its stages, each below: one reader goroutine (readAll) cuts the inputs
// into batches; N workers (run.work) parse and evaluate whole batches; the
// sequencer (run.sequence), on the calling goroutine, takes the batches
// back in input order to settle duplicates and rejects; and the counts are
// checked (checkCounts). Every goroutine has ended when Run returns.
func Run(ctx context.Context, inputs []Input, opt Options, sink Sink) (Counts, error) {
	for _, in := range inputs {
		opt.sourceNames = append(opt.sourceNames, in.Name)
	}
	workers := opt.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	// Each worker has its batches and tallies; the output is the same for
	// any count, so a huge --workers is cut to MaxWorkers.
	workers = min(workers, MaxWorkers)
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	opt.unmatched = newUnmatchedWriter(opt.Unmatched)
	dedup := txn.NewDedup(dedupHint(inputs))
	defer dedup.Release()
	r := &run{
		opt:   opt,
		sink:  sink,
		dedup: dedup,
		jobs:  make(chan *batch, workers*2),
		toSeq: make(chan *batch, workers*2),
		free:  make(chan *batch, batchesPerWorker*workers),
	}
	for i := 0; i < batchesPerWorker*workers; i++ {
		r.free <- &batch{}
	}

	var readErr error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(r.jobs)
		readErr = readAll(ctx, inputs, opt, r.jobs, r.free, &r.bytesRead, dedup)
	}()

	tallies := make([]coverageTally, workers)
	var wwg sync.WaitGroup
	for w := range workers {
		wwg.Add(1)
		ws := sink.NewWorker()
		go func() {
			defer wwg.Done()
			r.work(ws, &tallies[w])
		}()
	}
	go func() { wwg.Wait(); close(r.toSeq) }()

	counts, runErr := r.sequence(cancel)
	wg.Wait()
	counts.Bytes = r.bytesRead.Load()
	for i := 1; i < len(tallies); i++ {
		tallies[0].merge(&tallies[i])
	}
	counts.Coverage = tallies[0].coverage()
	if opt.unmatched != nil {
		if err := opt.unmatched.Flush(); err != nil && runErr == nil {
			runErr = fmt.Errorf("write unmatched: %w", err)
		}
	}
	if runErr != nil {
		return counts, runErr
	}
	if readErr != nil {
		return counts, readErr
	}
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return counts, err
	}
	if err := ctx.Err(); err != nil {
		return counts, err
	}
	return counts, checkCounts(&counts)
}

// run is what Run's stages share.
type run struct {
	opt       Options
	sink      Sink
	jobs      chan *batch // reader → workers
	toSeq     chan *batch // workers → sequencer
	free      chan *batch // batches to reuse, back to the reader
	bytesRead atomic.Int64
	dedup     *txn.Dedup // probed by the workers (claim), settled by the sequencer
}

// work is one worker: it parses and evaluates the batches it takes from
// the reader, hands them to the sequencer, and accepts each one into its
// sink once the sequencer has settled it. It returns when the reader is
// done and its last batch is settled.
func (r *run) work(ws WorkerSink, tally *coverageTally) {
	opt := r.opt
	ev := opt.Program.NewEvaluator(false)
	if opt.FixedOnly {
		ev.FixedOnly()
	}
	if opt.Compact {
		ev.Compact()
	}
	w := worker{
		parser: txn.NewParser(opt.Parse),
		ev:     ev,
		ws:     ws,
		opt:    &opt,
		pw:     priorWork{prior: opt.Prior, shard: opt.Shard, shards: opt.Shards},
	}
	// A worker does not wait for its batch's verdicts: it goes on with the
	// next batch and accepts its earlier batches as the sequencer settles
	// them (in seq order, so the oldest first). Waiting would keep the
	// workers in lockstep with the slowest.
	var pending []*batch
	apf, _ := ws.(AcceptPrefetcher)
	accept := func(b *batch) {
		if apf != nil {
			apf.PrefetchAccept(w.gather(b, func(it *Item) bool { return it.verdict == vAccepted }))
		}
		for i := range b.items {
			if b.items[i].verdict == vAccepted {
				tally.add(&b.items[i])
				ws.Accept(&b.items[i])
			}
		}
		r.free <- b
	}
	for {
		for len(pending) > 0 && settled(pending[0]) {
			accept(pending[0])
			pending = pending[1:]
		}
		var b *batch
		var ok bool
		if len(pending) > 0 {
			select {
			case b, ok = <-r.jobs:
			case <-pending[0].done:
				continue
			}
		} else {
			b, ok = <-r.jobs
		}
		if !ok {
			break
		}
		if b.raw {
			b.makeItems(nil)
		}
		w.processBatch(b)
		r.claim(b)
		r.toSeq <- b
		pending = append(pending, b)
	}
	for _, b := range pending {
		<-b.done
		accept(b)
	}
}

// sequence takes the workers' batches back in input order and settles
// each (duplicates, rejects, the sink's ordered output). The first error
// stops the run: cancel ends the reader, and the batches still to come
// are marked rejected without being counted, so no sink accepts a record
// read after the stop. It returns when every worker has ended.
func (r *run) sequence(cancel context.CancelCauseFunc) (Counts, error) {
	var counts Counts
	dedup := &seqDedup{set: r.dedup}
	var runErr error
	pending := map[int]*batch{}
	next := 0
	stopped := false
	for b := range r.toSeq {
		pending[b.seq] = b
		for {
			cur, ok := pending[next]
			if !ok {
				break
			}
			delete(pending, next)
			next++
			if !stopped {
				err := settle(cur, r.opt, r.sink, dedup, &counts)
				if be, ok := r.sink.(BatchEmitter); ok {
					// Before the batch goes back to its worker, and
					// after an error too: what was emitted is written.
					if eerr := be.EndBatch(); err == nil {
						err = eerr
					}
				}
				if err != nil {
					runErr = err
					stopped = true
					cancel(err)
				}
				counts.Bytes = r.bytesRead.Load()
				if r.opt.Progress != nil {
					r.opt.Progress(counts)
				}
			} else {
				for i := range cur.items {
					cur.items[i].verdict = vRejected // not counted: the run stopped before them
				}
			}
			close(cur.done)
		}
	}
	return counts, runErr
}

// claim probes the duplicate set with every valid record of a batch, in
// the worker: each record whose id no record holds yet now holds it. This
// is the whole of the duplicate check for almost every record; the
// sequencer only settles the records whose id was already held
// (seqDedup), by their input position.
func (r *run) claim(b *batch) {
	// All the batch's buckets are asked for first, so that their cache
	// misses overlap (a probe is a random access into a table of tens of
	// megabytes).
	for i := range b.items {
		if it := &b.items[i]; it.err == nil {
			r.dedup.Prefetch(it.Tx.IDHash)
		}
	}
	for i := range b.items {
		it := &b.items[i]
		if it.err != nil || it.skip != "" || it.verdict == vOtherShard {
			continue
		}
		it.claimed = r.dedup.Claim(it.Tx.IDHash, it.Tx.ContentHash, txn.Pos{Source: it.srcIdx, Line: it.Line}, uint32(b.seq))
	}
}

// seqDedup is the sequencer's part of the duplicate check. The workers
// claim ids in whatever order they run, so the record that holds an id is
// the first to have claimed it, not necessarily the first in the input;
// "first seen" must be the first in the input (docs/accounting.md). The
// sequencer sees the records in input order and settles the ones whose
// claim failed: if the holder's batch is later than the record's, the
// holder has not been settled yet and this record, earlier in the input,
// is the first: it takes the id over (Dedup.Take) and the holder is noted
// in overtaken, to be settled as a later record of the id when its turn
// comes. A record in the same batch as the holder comes after it, since a
// worker claims a batch's records in order.
type seqDedup struct {
	set       *txn.Dedup
	overtaken map[uint64]struct{} // id hashes whose holder came later in the input than another record of the id
}

// verdict settles one valid record of batch seq, in input order.
func (d *seqDedup) verdict(it *Item, seq int) (v txn.Verdict, first txn.Pos) {
	h, c := it.Tx.IDHash, it.Tx.ContentHash
	if it.claimed {
		if len(d.overtaken) == 0 {
			return txn.New, txn.Pos{}
		}
		if _, ok := d.overtaken[h]; !ok {
			return txn.New, txn.Pos{}
		}
		delete(d.overtaken, h) // the id was taken over: this is a later record of it
	}
	where := txn.Pos{Source: it.srcIdx, Line: it.Line}
	v, first, holder := d.set.Held(h, c)
	switch {
	case v == txn.New:
		// Not claimed by its worker (no worker skips a valid record; kept
		// so that the check never depends on it).
		d.set.Claim(h, c, where, uint32(seq))
	case holder > uint32(seq):
		d.set.Take(h, c, where, uint32(seq))
		if d.overtaken == nil {
			d.overtaken = map[uint64]struct{}{}
		}
		d.overtaken[h] = struct{}{}
		v = txn.New
	}
	return v, first
}

// checkCounts is the accounting's last word on a completed run: every
// record read is accepted, rejected, a duplicate or skipped, and every
// accepted one is taxed, unmatched or no_tax. The counts come from
// different places (the sequencer, the workers' tallies), so a mismatch is
// a bug that must not pass as a result.
func checkCounts(c *Counts) error {
	if c.Read != c.Accepted+c.Rejected+c.Duplicates+c.Skipped {
		return fmt.Errorf("accounting error: read %d != accepted %d + rejected %d + duplicates %d + skipped %d",
			c.Read, c.Accepted, c.Rejected, c.Duplicates, c.Skipped)
	}
	if cv := &c.Coverage; c.Accepted != cv.Total() {
		return fmt.Errorf("accounting error: accepted %d != taxed %d + unmatched %d + no_tax %d",
			c.Accepted, cv.Taxed.Transactions, cv.Unmatched.Transactions, cv.NoTax.Transactions)
	}
	return nil
}

// worker is what one worker goroutine evaluates with.
type worker struct {
	parser *txn.Parser
	ev     *rules.Evaluator
	ws     WorkerSink
	opt    *Options
	pw     priorWork
	txs    []*txn.Transaction // processBatch's, kept for its room
	items  []*Item            // gather's, likewise
}

// gather returns b's items for which keep holds, in w.items: valid until
// the next gather. (The items are the run's, so holding on to them keeps
// nothing alive that the run does not.)
func (w *worker) gather(b *batch, keep func(*Item) bool) []*Item {
	items := w.items[:0]
	for i := range b.items {
		if keep(&b.items[i]) {
			items = append(items, &b.items[i])
		}
	}
	w.items = items
	return items
}

// processBatch parses and evaluates each record of a batch and lets the
// sink render it, in passes: all are parsed, the evaluator's per-address
// data for all is brought into the cache (Evaluator.Prefetch), all are
// evaluated, then rendered (after a RenderPrefetcher's prefetch). Each
// pass runs one stage's code and tables over the whole batch, where one
// record at a time would take turns with the other's and lose them from
// the caches; and the prefetches' cache misses overlap, where evaluation
// would wait for each in turn (benchmarks/README.md has what it saves).
func (w *worker) processBatch(b *batch) {
	requireMatch := w.opt.RequireMatch
	txs := w.txs[:0]
	b.arena.Reset()
	w.parser.SetArena(&b.arena)
	for i := range b.items {
		it := &b.items[i]
		if it.good = parseItem(it, w.parser, &w.pw, w.opt.RenderFields); it.good {
			txs = append(txs, &it.Tx)
		}
	}
	w.ev.Prefetch(txs)
	w.txs = txs
	for i := range b.items {
		if it := &b.items[i]; it.good {
			it.good = evalItem(it, w.ev, requireMatch, &w.pw)
		}
	}
	if rpf, ok := w.ws.(RenderPrefetcher); ok {
		rpf.PrefetchRender(w.gather(b, func(it *Item) bool { return it.good }))
	}
	out := b.out[:0]
	for i := range b.items {
		if it := &b.items[i]; it.good {
			// Render appends to it.Out: into the rest of the batch's
			// buffer, so that the rendered records lie one after
			// another. One that did not fit was given memory of its
			// own by append; the records after it go to a buffer twice
			// the size, which the batch keeps (the records before keep
			// the old one while they need it). A record that fitted but
			// is elsewhere was rendered into the sink's own memory.
			it.Out = out[len(out):]
			w.ws.Render(it)
			switch {
			case len(it.Out) == 0:
			case len(out) < cap(out) && unsafe.SliceData(it.Out) == unsafe.SliceData(out[len(out):cap(out)]):
				out = out[:len(out)+len(it.Out)]
			case len(it.Out) > cap(out)-len(out):
				out = make([]byte, 0, 2*(cap(out)+len(it.Out)))
			}
		}
	}
	b.out = out
}

// parseItem parses a record into it.Tx and reports whether evalItem is to
// evaluate it, false for a record found bad, skipped, of another shard or
// known to an earlier run. With keepFields, it.Fields are the item's own,
// valid past the parser's next parse (Options.RenderFields); else they
// are the parser's.
func parseItem(it *Item, p *txn.Parser, pw *priorWork, keepFields bool) bool {
	it.Out = it.Out[:0]
	it.verdict = vRejected // until the sequencer settles it: a run that stops mid-batch accepts no more
	it.known = false
	if it.err != nil {
		pw.shardBad(it)
		return false // the reader already found it bad
	}
	if it.skip != "" {
		it.verdict = vSkipped
		pw.shardBad(it) // counted by one shard only, like a bad record
		return false
	}
	var err error
	if it.Converted {
		err = p.ParseJSON(it.Conv, &it.Tx)
		it.setFields(p, keepFields)
	} else if it.CSV == nil {
		err = p.ParseJSON(it.Text, &it.Tx)
		it.setFields(p, keepFields)
	} else {
		err = p.ParseCSVRow(it.Header, it.CSV, it.Text, &it.Tx)
		it.Fields = nil
	}
	if err != nil {
		it.fail(err, pw)
		return false
	}
	return !pw.skip(it)
}

// setFields sets it.Fields to the fields of the JSON record p parsed last:
// p's own, or with keep a copy in the item's buffer.
func (it *Item) setFields(p *txn.Parser, keep bool) {
	switch {
	case p.Fields() == nil:
		it.Fields = nil
	case keep:
		it.Fields = p.AppendFields(it.Fields[:0])
	default:
		it.Fields = p.Fields()
	}
}

// evalItem evaluates a record parseItem kept and reports whether it is
// to be rendered, false for a record found bad.
func evalItem(it *Item, ev *rules.Evaluator, requireMatch bool, pw *priorWork) bool {
	err := ev.Eval(&it.Tx, &it.Result)
	if err == nil && requireMatch && it.Result.Coverage == rules.Unmatched {
		err = unmatchedError(&it.Tx)
	}
	if err != nil {
		it.fail(err, pw)
		return false
	}
	return true
}

// fail marks a record bad with err, split into field and message when it
// is a field's.
func (it *Item) fail(err error, pw *priorWork) {
	it.err = err
	pw.shardBad(it)
	var fe *txn.FieldError
	if errors.As(err, &fe) {
		it.field, it.err = fe.Field, fe.Err
	}
}

// readAll cuts the inputs into batches, in order. A record the reader finds
// bad travels as an item with its error; a reader error that ends a file (a
// cut-off JSON array, an unterminated quote) becomes one last bad record of
// that file, and reading goes on with the next input.
func readAll(ctx context.Context, inputs []Input, opt Options, jobs chan<- *batch, free chan *batch, bytesRead *atomic.Int64, dedup *txn.Dedup) error {
	seq := 0
	var doneBytes int64
	sized := false // the duplicate set was sized by the first records
	for idx, in := range inputs {
		r, err := stream.Open(in.Name, in.R, opt.Format, stream.Options{})
		if err != nil {
			var se *stream.Error
			if !errors.As(err, &se) {
				return fmt.Errorf("read %s: %w", in.Name, err)
			}
			if ctx.Err() != nil {
				return nil // a read cut short by the interruption
			}
			// A file that cannot even start (a bad CSV header) is one bad
			// record of that file, like any reader error that ends a file:
			// with --rejects, reading goes on with the next input.
			var b *batch
			select {
			case b = <-free:
			case <-ctx.Done():
				return nil
			}
			b.recs.Records = b.recs.Records[:0]
			b.items, b.raw = b.items[:0], false
			it := nextItem(b)
			it.Source, it.Line, it.err, it.field, it.srcIdx = se.Source, se.Line, se.Err, se.Field, idx
			if seq > maxBatches {
				free <- b
				return errTooManyBatches
			}
			b.seq = seq
			seq++
			b.done = make(chan struct{})
			select {
			case jobs <- b:
			case <-ctx.Done():
				return nil
			}
			continue
		}
		for {
			var b *batch
			select {
			case b = <-free:
			case <-ctx.Done():
				return nil
			}
			err := r.ReadBatch(&b.recs, batchSize)
			bytesRead.Store(doneBytes + r.BytesRead())
			if err == io.EOF {
				free <- b
				break
			}
			if err != nil && ctx.Err() != nil {
				// A read cut short by the interruption is not bad input.
				free <- b
				return nil
			}
			b.items, b.raw = b.items[:0], false
			if err != nil {
				var se *stream.Error
				if !errors.As(err, &se) {
					free <- b
					return fmt.Errorf("read %s: %w", in.Name, err)
				}
				it := nextItem(b)
				it.Source, it.Line, it.err, it.field, it.srcIdx = se.Source, se.Line, se.Err, se.Field, idx
			} else {
				if !sized {
					sized = true
					if n := recordsHint(inputs, r, &b.recs); n > 0 {
						dedup.Reserve(n)
					}
				}
				b.header, b.srcIdx, b.raw = r.Header(), idx, true
				if opt.Convert != nil {
					// A converter sees the records in input order, on
					// this goroutine (Converter).
					b.makeItems(opt.Convert)
				}
			}
			if seq > maxBatches {
				free <- b
				return errTooManyBatches
			}
			b.seq = seq
			seq++
			b.done = make(chan struct{})
			select {
			case jobs <- b:
			case <-ctx.Done():
				return nil
			}
			if err != nil {
				break // the file cannot be read further
			}
		}
		doneBytes += r.BytesRead()
	}
	return nil
}

// convert runs the converter on one record.
func convert(c Converter, it *Item, header []string) {
	var err error
	if it.CSV != nil {
		it.Conv, it.skip, err = c.ConvertCSV(it.Source, header, it.CSV, it.Conv[:0])
	} else {
		it.Conv, it.skip, err = c.ConvertJSON(it.Source, it.Text, it.Conv[:0])
	}
	it.Converted = err == nil && it.skip == ""
	if err != nil {
		it.err = err
		var fe *txn.FieldError
		if errors.As(err, &fe) {
			it.field, it.err = fe.Field, fe.Err
		}
	}
}

// settled reports whether the sequencer has decided b's verdicts.
func settled(b *batch) bool {
	select {
	case <-b.done:
		return true
	default:
		return false
	}
}

// nextItem appends an item to the batch, reusing the buffers an earlier
// batch left in that slot so that a steady run allocates nothing per record.
func nextItem(b *batch) *Item {
	n := len(b.items)
	if n < cap(b.items) {
		b.items = b.items[:n+1]
	} else {
		b.items = append(b.items, Item{})
	}
	it := &b.items[n]
	it.Reset()
	return it
}

// Reset empties it for the next record and keeps its buffers (the
// Result's lines, the rendered output, the parsed transaction's lines).
// Every other field is reset, in place: an Item is some 700 bytes, too
// many to copy out and back per record (TestNextItemResets checks that no
// field is forgotten). Callers outside the pipeline that reuse one Item
// (taxagg stream) reset it here too, so the two cannot drift.
func (it *Item) Reset() {
	it.Tx.Reset()
	res := &it.Result
	res.Lines, res.Jurisdictions, res.Trace = res.Lines[:0], nil, res.Trace[:0]
	it.Source, it.Line, it.Text = "", 0, nil
	it.Fields, it.Header, it.CSV = it.Fields[:0], nil, nil
	it.Out, it.Conv, it.Converted = it.Out[:0], it.Conv[:0], false
	it.err, it.skip, it.field, it.srcIdx = nil, "", "", 0
	it.verdict, it.known, it.claimed, it.good = 0, false, false, false
}

// settle decides, in input order, what becomes of each record of a batch.
func settle(b *batch, opt Options, sink Sink, dedup *seqDedup, c *Counts) error {
	for i := range b.items {
		it := &b.items[i]
		if it.verdict == vOtherShard {
			c.OtherShard++
			continue
		}
		c.Read++
		if it.skip != "" && it.err == nil {
			it.verdict = vSkipped
			c.Skipped++
			continue
		}
		if it.err == nil {
			v, first := dedup.verdict(it, b.seq)
			if v == txn.New && opt.Prior != nil {
				pv, counted, err := opt.Prior.Settle(it)
				switch pv {
				case PriorDuplicate:
					v = txn.Duplicate
				case PriorConflict:
					v = txn.Conflict
					it.err = err
					dedup.set.SetContent(it.Tx.IDHash, counted)
				}
			}
			switch v {
			case txn.New:
				it.verdict = vAccepted
				c.Accepted++
				if opt.unmatched != nil && it.Result.Coverage == rules.Unmatched {
					if err := writeUnmatched(opt.unmatched, it); err != nil {
						return fmt.Errorf("write unmatched: %w", err)
					}
				}
				if sink.Ordered() {
					if err := sink.Emit(it); err != nil {
						return err
					}
				}
				continue
			case txn.Duplicate:
				it.verdict = vDuplicate
				c.Duplicates++
				continue
			default:
				it.field = "id"
				if it.err != nil {
					// Prior's conflict: the message is its own.
				} else if first.Source == it.srcIdx {
					it.err = fmt.Errorf("conflicting duplicate of line %d", first.Line)
				} else {
					it.err = fmt.Errorf("conflicting duplicate of %s:%d", sourceName(opt, first), first.Line)
				}
			}
		}
		if opt.Prior != nil && opt.Prior.Rejected(it) {
			// An earlier run rejected this very record: reported then.
			it.verdict = vDuplicate
			c.Duplicates++
			continue
		}
		it.verdict = vRejected
		c.Rejected++
		if opt.Rejects == nil {
			return &RejectError{Source: it.Source, Line: it.Line, Field: it.field, Err: it.err, Limit: noLimit}
		}
		if err := writeReject(opt.Rejects, it); err != nil {
			return fmt.Errorf("write rejects: %w", err)
		}
		if opt.MaxRejects >= 0 && c.Rejected > opt.MaxRejects {
			return &RejectError{Source: it.Source, Line: it.Line, Field: it.field, Err: it.err, Limit: opt.MaxRejects}
		}
	}
	return nil
}
