package reconcile

import (
	"bufio"
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/taxagg/taxagg/internal/billing"
	"github.com/taxagg/taxagg/internal/money"
)

// recordShare is the part of the memory budget that the records may take
// while they are loaded for matching; the rest is for the ledger rows, the
// index and the garbage collector's headroom.
const recordShare = 0.75

// Run reconciles a against b and writes the ledger to out.Ledger, the
// review queue, the report and the summary to the others. Bad input is an
// error that names the file, line and field (*billing.InputError); a
// duplicate key under DupError is a *DuplicateKeyError. The returned Result
// is valid when err is nil; its Findings() decide the exit status.
func Run(ctx context.Context, opts Options, a, b Input, out Outputs) (*Result, error) {
	return run(ctx, opts, a, b, out, nil)
}

// run is Run with a hook that sees every ledger row (for tests). Its
// stages: check the options and build the engine (newEngine), load both
// sides (engine.load, then checkKeys), match and write every ledger row
// (writeOutputs), and the summary.
func run(ctx context.Context, opts Options, a, b Input, out Outputs, hook func(*Row)) (*Result, error) {
	e, open, err := newEngine(opts, a, b)
	if err != nil {
		return nil, err
	}
	e.withRecs = out.Review != nil || out.Report != nil || hook != nil
	defer e.cleanup()
	if err := e.load(ctx, open); err != nil {
		return e.interrupted(ctx, out, err)
	}
	if err := e.checkKeys(); err != nil {
		return nil, err
	}
	if err := e.writeOutputs(ctx, out, hook); err != nil {
		if ctx.Err() != nil {
			return e.interrupted(ctx, out, err)
		}
		return nil, err
	}
	if out.Summary != nil && !e.opts.Quiet {
		if err := e.res.WriteSummary(out.Summary); err != nil {
			return nil, fmt.Errorf("write summary: %w", err)
		}
	}
	return e.res, nil
}

// opener opens one side's reader, guarded against overlong records.
type opener = func() (*billing.Reader, *recordGuard, error)

// newEngine checks the options and returns the engine with a function per
// side that opens its reader.
func newEngine(opts Options, a, b Input) (*engine, [2]opener, error) {
	var open [2]opener
	if opts.DateWindow < 0 {
		return nil, open, &OptionError{Option: OptDateWindow, Err: errors.New("must not be negative")}
	}
	if opts.AmountTolerance.Sign() < 0 {
		return nil, open, &OptionError{Option: OptAmountTolerance, Err: errors.New("must not be negative")}
	}
	tol := money.AmountOf(opts.AmountTolerance)
	if opts.Memory <= 0 {
		opts.Memory = DefaultMemory
	}
	switch opts.Format {
	case "", FormatNDJSON, FormatJSON, FormatCSV, FormatTable:
	default:
		return nil, open, &OptionError{Option: OptFormat,
			Err: fmt.Errorf("unknown ledger format %q (want ndjson, json, csv, table)", opts.Format)}
	}
	keyA, keyB := opts.Key, opts.Key
	if len(opts.KeyA) > 0 {
		keyA = opts.KeyA
	}
	if len(opts.KeyB) > 0 {
		keyB = opts.KeyB
	}
	ksA, exA, err := newKeySpec(keyA)
	if err != nil {
		return nil, open, &OptionError{Option: OptKeyA, Err: err}
	}
	ksB, exB, err := newKeySpec(keyB)
	if err != nil {
		return nil, open, &OptionError{Option: OptKeyB, Err: err}
	}
	if len(ksA.parts) != len(ksB.parts) {
		return nil, open, fmt.Errorf("the keys of A (%s) and B (%s) have different numbers of fields", ksA.name(), ksB.name())
	}
	res := newResult()
	res.Manifest = Manifest{Version: opts.Version, InputA: a.Name, InputB: b.Name,
		FromA: fromName(a), FromB: fromName(b), Key: ksA.name(), KeyB: ksB.name()}

	// The readers are opened by the loading goroutines: opening peeks at
	// the input, which may block on a pipe.
	for i, in := range []struct {
		in      Input
		extract []string
		ks      keySpec
	}{{a, exA, ksA}, {b, exB, ksB}} {
		open[i] = func() (*billing.Reader, *recordGuard, error) {
			g, err := newRecordGuard(in.in.R, in.in.Name, MaxRecordBytes)
			if err != nil {
				return nil, nil, err
			}
			rd, err := billing.NewReader(g, in.in.Name, billing.ReaderOptions{
				Preset: in.in.Preset, Mapping: in.in.Mapping, Format: in.in.Format, Extract: in.extract,
				Fixed: in.ks.fixedAmounts()})
			return rd, g, g.check(err, in.in.Name, 0)
		}
	}

	e := &engine{
		opts:     opts,
		res:      res,
		keys:     [2]keySpec{ksA, ksB},
		names:    [2]string{a.Name, b.Name},
		budget:   int64(float64(opts.Memory) * recordShare),
		splitMin: minSplitRecords,
		m: &matcher{tol: tol, window: opts.DateWindow, prefer: opts.Prefer, parts: opts.matchParts,
			dups: opts.Duplicates, keyA: ksA.name(), keyB: ksB.name(), names: [2]string{a.Name, b.Name}},
	}
	if opts.splitMin > 0 {
		e.splitMin = opts.splitMin
	}
	return e, open, nil
}

// interrupted prints what was read when a signal stops the run
// (docs/accounting.md) and returns the partial result with the error;
// other errors are returned alone.
func (e *engine) interrupted(ctx context.Context, out Outputs, err error) (*Result, error) {
	if ctx.Err() == nil {
		return nil, err
	}
	res := e.res
	res.ReadA, res.ReadB = e.read[0].Load(), e.read[1].Load()
	res.Interrupted = true
	res.TotalsA.finish()
	res.TotalsB.finish()
	res.Ledger.finish()
	if out.Summary != nil && !e.opts.Quiet {
		res.WriteSummary(out.Summary)
	}
	return res, err
}

// checkKeys refuses a side whose key is empty on every record: the key
// names a field the side does not have (a typo, or a path into another
// shape of record), and everything would come out unmatched. With --fuzzy
// unkeyed records are paired by their values, so a side without keys is
// allowed there.
func (e *engine) checkKeys() error {
	if e.opts.Fuzzy {
		return nil
	}
	for side, read := range []int64{e.res.ReadA, e.res.ReadB} {
		if read > 0 && e.res.Unkeyed[side] == read {
			return &EmptyKeyError{Side: sideName(uint8(side)), Input: e.names[side], Key: e.keys[side].name(), Records: read}
		}
	}
	return nil
}

func sideName(side uint8) string {
	if side == sideA {
		return "A"
	}
	return "B"
}

// writeOutputs matches the loaded records and writes the ledger, the review
// queue and the report.
func (e *engine) writeOutputs(ctx context.Context, out Outputs, hook func(*Row)) error {
	res := e.res
	lw, err := newLedgerWriter(out.Ledger, e.opts.Format, res.Manifest, e.opts.Rows)
	if err != nil {
		return err
	}
	em := &emitter{lw: lw, res: res, hook: hook, names: e.names}
	if out.Review != nil {
		em.review = bufio.NewWriterSize(out.Review, 32<<10)
	}
	var findings io.ReadWriter
	if out.Report != nil {
		if findings, err = e.findingsBuffer(); err != nil {
			return err
		}
		if c, ok := findings.(io.Closer); ok {
			defer c.Close()
		}
		em.findings = bufio.NewWriterSize(findings, 32<<10)
	}
	em.serial = e.opts.serialEmit
	if err := e.reconcile(ctx, em); err != nil {
		return err
	}
	if err := lw.close(); err != nil {
		return fmt.Errorf("write ledger: %w", err)
	}
	if em.review != nil {
		if err := em.review.Flush(); err != nil {
			return fmt.Errorf("write review: %w", err)
		}
	}
	res.Groups = int64(e.m.groups)
	res.TotalsA.finish()
	res.TotalsB.finish()
	res.Ledger.finish()
	if out.Report != nil {
		if err := em.findings.Flush(); err != nil {
			return fmt.Errorf("write report: %w", err)
		}
		if s, ok := findings.(io.Seeker); ok {
			if _, err := s.Seek(0, io.SeekStart); err != nil {
				return fmt.Errorf("write report: %w", err)
			}
		}
		if err := res.writeReport(out.Report, findings); err != nil {
			return fmt.Errorf("write report: %w", err)
		}
	}
	return nil
}

// blockBuffer is a buffer that grows by blocks (up to blockMax bytes)
// instead of doubling and copying, so that the findings of a large run
// take about what they hold, not up to three times that; reading frees
// each block as it is read.
type blockBuffer struct {
	blocks [][]byte
	r      int // the block being read
	off    int // the offset in it
}

const blockMax = 1 << 20

func (b *blockBuffer) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		if len(b.blocks) == 0 || len(b.blocks[len(b.blocks)-1]) == cap(b.blocks[len(b.blocks)-1]) {
			size := 4 << 10
			if len(b.blocks) > 0 {
				size = min(2*cap(b.blocks[len(b.blocks)-1]), blockMax)
			}
			b.blocks = append(b.blocks, make([]byte, 0, size))
		}
		last := &b.blocks[len(b.blocks)-1]
		k := min(len(p), cap(*last)-len(*last))
		*last = append(*last, p[:k]...)
		p = p[k:]
	}
	return n, nil
}

func (b *blockBuffer) Read(p []byte) (int, error) {
	for b.r < len(b.blocks) && b.off == len(b.blocks[b.r]) {
		b.blocks[b.r] = nil
		b.r, b.off = b.r+1, 0
	}
	if b.r == len(b.blocks) {
		return 0, io.EOF
	}
	n := copy(p, b.blocks[b.r][b.off:])
	b.off += n
	return n, nil
}

// findingsBuffer holds the report's findings until the totals are known:
// in memory, or in a spill file when the run spills.
func (e *engine) findingsBuffer() (io.ReadWriter, error) {
	if e.sd == nil {
		return &blockBuffer{}, nil
	}
	f, err := e.sd.create("findings")
	if err != nil {
		return nil, err
	}
	f.close()
	ff, err := os.OpenFile(f.path, os.O_RDWR|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("spill: %w", err)
	}
	return ff, nil
}

func fromName(in Input) string {
	if in.Mapping != nil {
		return in.Mapping.Name
	}
	if in.Preset == "" {
		return billing.PresetAuto
	}
	return in.Preset
}

type engine struct {
	opts   Options
	res    *Result
	m      *matcher
	keys   [2]keySpec
	names  [2]string
	budget int64
	used   int64
	recs   [2][]*rec
	sd     *spillDir
	parts  *partitionSet
	runs   []string
	fuzzyP *partitionSet
	// splitMin is the fewest records a partition must hold to be split.
	splitMin int64
	// withRecs: the rows must keep their input records (review, report).
	withRecs bool
	// dupErr is the earliest duplicate key under --duplicates error.
	dupErr *DuplicateKeyError
	// read counts the records parsed on each side, as they are.
	read [2]atomic.Int64
}

func (e *engine) cleanup() {
	if e.parts != nil {
		e.parts.close()
	}
	if e.fuzzyP != nil {
		e.fuzzyP.close()
	}
	if e.sd != nil {
		e.sd.remove()
	}
}

// batch is a run of parsed records of one side, or its end (err or done).
// The records of a batch share one allocation, which the run keeps.
type batch struct {
	side uint8
	recs []rec
	err  error
	done bool
	read int64
}

const batchSize = 512

// load reads both sides, spilling to key partitions past the budget. Each
// side is parsed by its own goroutine (parsing is most of the work); one
// loop adds the records, so the budget and the spill files have a single
// owner. Both goroutines have ended when load returns, except when ctx is
// cancelled while one is blocked in a read: it then ends as soon as that
// read returns, touching nothing of the run. When both inputs are bad, A's
// error is the one reported, whatever the timing.
func (e *engine) load(ctx context.Context, open [2]func() (*billing.Reader, *recordGuard, error)) error {
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch := make(chan batch, 4)
	var wg sync.WaitGroup
	for side, open := range open {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e.produce(pctx, uint8(side), open, ch)
		}()
	}
	go func() {
		wg.Wait()
		close(ch)
	}()
	var errs [2]error
	var addErr error
	for {
		var b batch
		var ok bool
		select {
		case b, ok = <-ch:
		case <-ctx.Done():
			// A producer may be blocked reading a pipe that never ends:
			// do not wait for it. It ends when its read returns, and
			// sends nothing more (pctx is cancelled).
			return ctx.Err()
		}
		if !ok {
			break
		}
		switch {
		case b.err != nil:
			errs[b.side] = b.err
			if b.side == sideA {
				cancel()
			}
			continue
		case b.done:
			if b.side == sideA {
				e.res.ReadA = b.read
			} else {
				e.res.ReadB = b.read
			}
			continue
		}
		if addErr != nil || errs[sideA] != nil || errs[sideB] != nil {
			continue // draining
		}
		totals := e.res.TotalsA
		if b.side == sideB {
			totals = e.res.TotalsB
		}
		for i := range b.recs {
			r := &b.recs[i]
			totals.add(r.Currency(), r.Amount(), r.Tax())
			if r.key() == "" {
				e.res.Unkeyed[b.side]++
			}
			if err := e.add(r); err != nil {
				addErr = err
				cancel()
				break
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if errs[sideA] != nil {
		return errs[sideA]
	}
	if errs[sideB] != nil {
		return errs[sideB]
	}
	return addErr
}

// produce parses one side into batches.
func (e *engine) produce(ctx context.Context, side uint8, open func() (*billing.Reader, *recordGuard, error), out chan<- batch) {
	send := func(b batch) {
		select {
		case out <- b:
		case <-ctx.Done():
		}
	}
	rd, guard, err := open()
	if err != nil {
		send(batch{side: side, err: err})
		return
	}
	ks := e.keys[side]
	recs := make([]rec, 0, batchSize)
	var seq int64
	for ; ; seq++ {
		if len(recs) == batchSize {
			if err := ctx.Err(); err != nil {
				send(batch{side: side, err: err})
				return
			}
			send(batch{side: side, recs: recs})
			recs = make([]rec, 0, batchSize)
		}
		br, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			send(batch{side: side, err: guard.check(err, e.names[side], seq)})
			return
		}
		guard.recordDone()
		e.read[side].Add(1)
		recs = recs[:len(recs)+1]
		recs[len(recs)-1].set(&br, side, seq, ks.keyOf(&br))
	}
	if len(recs) > 0 {
		send(batch{side: side, recs: recs})
	}
	send(batch{side: side, done: true, read: seq})
}

func (e *engine) add(r *rec) error {
	if e.parts != nil {
		return e.parts.add(r)
	}
	e.recs[r.side] = append(e.recs[r.side], r)
	e.used += recBytes(r)
	if e.used <= e.budget {
		return nil
	}
	sd, err := newSpillDir(e.opts.TempDir, e.names)
	if err != nil {
		return err
	}
	sd.withRecs = e.withRecs
	e.sd = sd
	if e.parts, err = sd.newPartitions(spillPartitions, 1, true, "key"); err != nil {
		return err
	}
	e.res.Partitions = spillPartitions
	for side := range e.recs {
		for i, x := range e.recs[side] {
			if err := e.parts.add(x); err != nil {
				return err
			}
			e.recs[side][i] = nil
		}
		e.recs[side] = nil
	}
	e.used = 0
	return nil
}

// reconcile matches what was loaded and emits the ledger in order.
func (e *engine) reconcile(ctx context.Context, em *emitter) error {
	if e.parts == nil {
		rows, la, lb, err := e.m.matchKeys(ctx, e.recs[0], e.recs[1])
		if err != nil {
			return err
		}
		e.recs = [2][]*rec{}
		more, err := e.m.fuzzy(ctx, la, lb, e.opts.Fuzzy)
		if err != nil {
			return err
		}
		rows = append(rows, more...)
		sortRows(rows)
		return em.emitRows(rows)
	}
	if err := e.parts.close(); err != nil {
		return err
	}
	if e.opts.Fuzzy {
		var err error
		if e.fuzzyP, err = e.sd.newPartitions(spillPartitions, 7, false, "fuzzy"); err != nil {
			return err
		}
	}
	parts := e.parts
	for i := range parts.files[0] {
		est, n := parts.bytes(i)
		if err := e.partition(ctx, parts.path(0, i), parts.path(1, i), est, n, 0, true); err != nil {
			return err
		}
	}
	e.parts = nil
	if e.dupErr != nil {
		return e.dupErr
	}
	if e.fuzzyP != nil {
		fp := e.fuzzyP
		if err := fp.close(); err != nil {
			return err
		}
		e.fuzzyP = nil
		for i := range fp.files[0] {
			est, n := fp.bytes(i)
			if err := e.partition(ctx, fp.path(0, i), fp.path(1, i), est, n, 0, false); err != nil {
				return err
			}
		}
	}
	return e.sd.merge(ctx, e.runs, em.emit)
}

func (e *engine) writeRun(rows []*Row) error {
	if len(rows) == 0 {
		return nil
	}
	sortRows(rows)
	path, err := e.sd.writeRun(rows)
	if err != nil {
		return err
	}
	e.runs = append(e.runs, path)
	return nil
}

// partition reconciles one partition: by key (byKey), or the fuzzy pairing
// of leftovers partitioned by customer + currency. One still larger than
// the budget is split by another hash of the same thing, so that a key (or
// a fuzzy bucket) stays whole.
func (e *engine) partition(ctx context.Context, pathA, pathB string, est, count int64, depth int, byKey bool) error {
	if pathA == "" && pathB == "" {
		return nil
	}
	if est > e.budget && depth < maxSplitDepth && count >= e.splitMin {
		seed := uint64(depth) + 2
		if !byKey {
			seed += 100
		}
		sub, err := e.sd.newPartitions(splitFanout, seed, byKey, "split")
		if err != nil {
			return err
		}
		for _, p := range []string{pathA, pathB} {
			if err := e.sd.readRecs(ctx, p, sub.add); err != nil {
				sub.close()
				return err
			}
		}
		if err := sub.close(); err != nil {
			return err
		}
		for i := range sub.files[0] {
			est, n := sub.bytes(i)
			if err := e.partition(ctx, sub.path(0, i), sub.path(1, i), est, n, depth+1, byKey); err != nil {
				return err
			}
		}
		return nil
	}
	var recs [2][]*rec
	for side, p := range []string{pathA, pathB} {
		if err := e.sd.readRecs(ctx, p, func(r *rec) error {
			recs[side] = append(recs[side], r)
			return nil
		}); err != nil {
			return err
		}
	}
	if !byKey {
		rows, err := e.m.fuzzy(ctx, recs[0], recs[1], true)
		if err != nil {
			return err
		}
		return e.writeRun(rows)
	}
	rows, la, lb, err := e.m.matchKeys(ctx, recs[0], recs[1])
	var de *DuplicateKeyError
	if errors.As(err, &de) {
		// Go on checking the other partitions: the error reported is the
		// earliest in the input, as in memory.
		if e.dupErr == nil || de.order[0] < e.dupErr.order[0] ||
			(de.order[0] == e.dupErr.order[0] && de.order[1] < e.dupErr.order[1]) {
			e.dupErr = de
		}
		return nil
	}
	if err != nil {
		return err
	}
	if e.dupErr != nil {
		return nil // no more rows: the run will fail
	}
	if e.fuzzyP != nil {
		for _, l := range [][]*rec{la, lb} {
			for _, r := range l {
				if err := e.fuzzyP.add(r); err != nil {
					return err
				}
			}
		}
	} else {
		more, err := e.m.fuzzy(ctx, la, lb, false)
		if err != nil {
			return err
		}
		rows = append(rows, more...)
	}
	return e.writeRun(rows)
}

// emitter writes each ledger row where it goes and keeps the accounts.
type emitter struct {
	lw       *ledgerWriter
	res      *Result
	review   *bufio.Writer
	findings *bufio.Writer
	buf      []byte
	hook     func(*Row)
	names    [2]string
	// serial: no formatting goroutine (tests).
	serial bool
}

// emitChunk is how many ledger rows emitRows formats at a time.
const emitChunk = 2048

// encChunk is a run of ledger rows formatted by emitRows: row i is
// buf[ends[i-1]:ends[i]].
type encChunk struct {
	buf  []byte
	ends []int
}

// emitRows emits rows in order. A JSON or NDJSON ledger's rows are
// formatted by a goroutine a chunk ahead of the one writing them and
// keeping the accounts, so that formatting runs beside the rest; the
// bytes are those emit writes.
func (em *emitter) emitRows(rows []*Row) error {
	if em.serial || !em.lw.encoded || len(rows) < 2*emitChunk {
		for i, r := range rows {
			if err := em.emit(r); err != nil {
				return err
			}
			rows[i] = nil
		}
		return nil
	}
	// Three chunks in all: one being formatted, one being written, one
	// ready. full can hold them all, so the formatter never blocks on it.
	const chunks = 3
	free, full := make(chan *encChunk, chunks), make(chan *encChunk, chunks)
	for range chunks {
		free <- &encChunk{}
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	// The formatter reads only rows[lo:] of chunks not yet handed over;
	// the writer clears only rows it has written.
	wg.Go(func() {
		defer close(full)
		for lo := 0; lo < len(rows); lo += emitChunk {
			var c *encChunk
			select {
			case c = <-free:
			case <-stop:
				return
			}
			c.buf, c.ends = c.buf[:0], c.ends[:0]
			for _, r := range rows[lo:min(lo+emitChunk, len(rows))] {
				c.buf = appendRowJSON(c.buf, r)
				c.ends = append(c.ends, len(c.buf))
			}
			full <- c
		}
	})
	defer func() {
		close(stop)
		wg.Wait()
	}()
	i := 0
	for c := range full {
		start := 0
		for _, end := range c.ends {
			if err := em.emitEncoded(rows[i], c.buf[start:end]); err != nil {
				return err
			}
			rows[i] = nil
			start = end
			i++
		}
		free <- c
	}
	return nil
}

func (em *emitter) emit(r *Row) error { return em.emitEncoded(r, nil) }

// emitEncoded emits r; enc, when not nil, is its ledger row as
// appendRowJSON formats it.
func (em *emitter) emitEncoded(r *Row, enc []byte) error {
	if em.hook != nil {
		em.hook(r)
	}
	em.res.Counts[r.Status]++
	c := r.c()
	em.res.Ledger.add(c.Currency(), c.Amount(), c.Tax())
	if r.Fuzzy {
		em.res.FuzzyPairs++
	}
	var err error
	if enc != nil {
		err = em.lw.w.WriteEncoded(enc)
	} else {
		err = em.lw.write(r)
	}
	if err != nil {
		return fmt.Errorf("write ledger: %w", err)
	}
	if r.Status == StatusMatch || (em.review == nil && em.findings == nil) {
		return nil
	}
	em.buf = appendReview(em.buf[:0], r, em.names)
	em.buf = append(em.buf, '\n')
	if em.review != nil {
		if _, err := em.review.Write(em.buf); err != nil {
			return fmt.Errorf("write review: %w", err)
		}
	}
	if em.findings != nil {
		if _, err := em.findings.Write(em.buf); err != nil {
			return fmt.Errorf("write report: %w", err)
		}
	}
	return nil
}

// sharedPrefix is the length of the prefix that a and b share.
func sharedPrefix(a, b string) int {
	n := min(len(a), len(b))
	i := 0
	for i < n && a[i] == b[i] {
		i++
	}
	return i
}

// keyBytes is the first eight bytes of k as a big-endian integer, zeros
// past its end.
func keyBytes(k string) uint64 {
	if len(k) >= 8 {
		return binary.BigEndian.Uint64([]byte(k[:8]))
	}
	var p uint64
	for j := range 8 {
		p <<= 8
		if j < len(k) {
			p |= uint64(k[j])
		}
	}
	return p
}

// sortRows sorts rows into the ledger order, the two halves in parallel
// when there are many. It sorts entries that hold sixteen bytes of each
// row's key (after the prefix that all keys share) beside the row, so that
// most comparisons are of two integers; rowCmp decides the ties, and is a
// total order, so the result is the one order whatever the method.
func sortRows(rows []*Row) {
	if len(rows) < 2 {
		return
	}
	type entry struct {
		p0, p1 uint64
		r      *Row
	}
	// The prefix all keys share, guessed from the first rows and checked
	// on every row as its entry is made; a row that does not share it
	// shortens it, and the entries are then made again.
	first := rows[0].Key()
	common := len(first)
	for _, r := range rows[1:min(len(rows), 64)] {
		common = sharedPrefix(first[:common], r.Key())
	}
	es := make([]entry, len(rows))
	for again := true; again; {
		again = false
		for i, r := range rows {
			k := r.Key()
			if c := sharedPrefix(first[:common], k); c < common {
				common, again = c, true
			}
			k = k[min(common, len(k)):]
			es[i] = entry{keyBytes(k), keyBytes(k[min(8, len(k)):]), r}
		}
	}
	// Keys share the first common bytes: when their next sixteen differ,
	// those decide (a key that ends first reads as zeros, and is smaller
	// unless the other goes on with zeros, which compare equal here).
	entryCmp := func(x, y entry) int {
		if x.p0 != y.p0 {
			return cmp.Compare(x.p0, y.p0)
		}
		if x.p1 != y.p1 {
			return cmp.Compare(x.p1, y.p1)
		}
		return rowCmp(x.r, y.r)
	}
	const parallelMin = 1 << 14
	if len(es) < parallelMin {
		slices.SortFunc(es, entryCmp)
		for i, e := range es {
			rows[i] = e.r
		}
		return
	}
	mid := len(es) / 2
	lo, hi := es[:mid], es[mid:]
	var wg sync.WaitGroup
	wg.Go(func() { slices.SortFunc(lo, entryCmp) })
	slices.SortFunc(hi, entryCmp)
	wg.Wait()
	i, j, n := 0, 0, 0
	for i < len(lo) && j < len(hi) {
		if entryCmp(hi[j], lo[i]) < 0 {
			rows[n] = hi[j].r
			j++
		} else {
			rows[n] = lo[i].r
			i++
		}
		n++
	}
	for _, e := range lo[i:] {
		rows[n] = e.r
		n++
	}
	for _, e := range hi[j:] {
		rows[n] = e.r
		n++
	}
}
