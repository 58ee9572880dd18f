package state

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"time"

	"github.com/taxagg/taxagg/internal/aggregate"
	"github.com/taxagg/taxagg/internal/money"
	"github.com/taxagg/taxagg/internal/pipeline"
	"github.com/taxagg/taxagg/internal/rules"
	"github.com/taxagg/taxagg/internal/txn"
)

// segmentBytes is the size a segment is cut at: big enough that a million
// transactions make a few hundred rows, small enough to read one back for
// an amendment.
const segmentBytes = 1 << 20

// Run is one run against a state: a pipeline.Prior for the sequencer and
// workers, and the recorder of the transactions it counts (Record, from
// the sink's ordered Emit). Use it for one pipeline.Run, then Finish and
// Commit.
type Run struct {
	s       *Store
	amend   bool
	sumHere bool
	period  aggregate.Period
	byRate  bool
	started time.Time

	buf        []byte
	n          int // entries in buf
	segCh      chan segBuf
	freeBufs   chan []byte // segment buffers the writer is done with
	writerDone chan struct{}
	writerErr  error
	seq        int64 // the last segment's number
	runID      int64
	firstKey   int // row keys stored before the run

	amends map[uint64]loc
	// newRejects are the hashes of the records this run rejected.
	newRejects map[uint64]struct{}
	rawBuf     []byte

	// Counts of this run's records as settled against the state.
	New, Duplicates, Amended int64

	fast    []int
	fastCur string
	local   map[localKey]int
	scratch []byte
	extra   []byte
	entry   Entry
	nexus   bool // keep what nexus needs (Extra)

	own    Totals // what this run's records add, when summed here
	totals Totals // the state's totals after the run (Finish)
}

type localKey struct {
	order int
	cur   string
	day   txn.Date
	rate  string
}

// RunOptions configure a Run.
type RunOptions struct {
	// Amend makes a known id with other content replace what it counted
	// instead of being a conflicting duplicate.
	Amend bool
	// SumHere makes the run sum its records' figures itself (calc, which
	// keeps no accumulator); else Finish is given the run's sums.
	SumHere bool
	Started time.Time
}

// NewRun starts a run. The store must be locked, bound and loaded.
func (s *Store) NewRun(ctx context.Context, opt RunOptions) (*Run, error) {
	period, err := aggregate.ParsePeriod(s.meta.Period)
	if err != nil {
		return nil, err
	}
	r := &Run{s: s, amend: opt.Amend, sumHere: opt.SumHere, period: period, byRate: s.meta.ByRate,
		started: opt.Started, amends: map[uint64]loc{}, local: map[localKey]int{}, nexus: s.meta.Command == "nexus",
		newRejects: map[uint64]struct{}{}}
	if err := r.startWriter(ctx); err != nil {
		return nil, err
	}
	return r, nil
}

// Abort stops the run's writer; the caller then closes the Store, which
// rolls the run back.
func (r *Run) Abort() { r.stopWriter() }

// Known is pipeline.Prior.Known.
func (r *Run) Known(idHash, contentHash uint64) bool {
	l, ok := r.s.index.get(idHash)
	return ok && l.content == contentHash
}

// Settle is pipeline.Prior.Settle.
func (r *Run) Settle(it *pipeline.Item) (pipeline.PriorVerdict, uint64, error) {
	if it.Known() { // the worker looked it up already
		r.Duplicates++
		return pipeline.PriorDuplicate, 0, nil
	}
	l, ok := r.s.index.get(it.Tx.IDHash)
	switch {
	case !ok:
		r.New++
		return pipeline.PriorNew, 0, nil
	case l.content == it.Tx.ContentHash:
		r.Duplicates++
		return pipeline.PriorDuplicate, 0, nil
	case !r.amend:
		return pipeline.PriorConflict, l.content, fmt.Errorf("conflicting duplicate of a transaction an earlier run counted (state %s); --amend replaces it", r.s.path)
	}
	r.amends[it.Tx.IDHash] = l
	r.Amended++
	return pipeline.PriorNew, 0, nil
}

// Rejected is pipeline.Prior.Rejected. With --amend a record an earlier
// run rejected as a conflicting duplicate is settled again (it may be the
// amendment the user now means), so the earlier rejection is not looked up.
func (r *Run) Rejected(it *pipeline.Item) bool {
	raw := it.RawText(r.rawBuf)
	if raw == nil {
		return false
	}
	if it.CSV != nil {
		r.rawBuf = raw
	}
	h := txn.StableHash(raw)
	if _, ok := r.s.rejected[h]; ok && !r.amend {
		return true
	}
	if _, ok := r.newRejects[h]; ok {
		return false // the same bad record twice in this run: rejected twice, as without a state
	}
	r.newRejects[h] = struct{}{}
	return false
}

// Record keeps an accepted transaction and what it adds to each row. The
// sequencer calls it in input order.
func (r *Run) Record(tx *txn.Transaction, res *rules.Result) error {
	if r.nexus {
		r.extra = appendNexus(r.extra[:0], tx, res)
	}
	if r.nexus {
		res = &rules.Result{} // nexus keeps no aggregate rows
	}
	if !r.sumHere && allFixed(res) {
		// The common path: every figure is a money.Fixed, encoded as it
		// is read.
		b := binary.AppendUvarint(r.scratch[:0], uint64(len(tx.ID)))
		b = append(b, tx.ID...)
		b = binary.LittleEndian.AppendUint64(b, tx.ContentHash)
		b = binary.AppendUvarint(b, uint64(len(res.Lines)))
		for i := range res.Lines {
			tl := &res.Lines[i]
			k, err := r.keyFor(tx, tl)
			if err != nil {
				return err
			}
			b = binary.AppendUvarint(b, uint64(k))
			f := &tl.Fixed
			figs := [aggregate.NumFigures]*money.Fixed{&f.Gross, &f.Exempt, &f.NonTaxable, &f.Taxable, &f.Amount, &f.Exact}
			var mask byte
			for j, v := range figs {
				if v.C != 0 || v.E != 0 {
					mask |= 1 << j
				}
			}
			b = append(b, mask)
			for j, v := range figs {
				if mask&(1<<j) != 0 {
					b = appendAmount(b, Amount{F: *v})
				}
			}
		}
		b = binary.AppendUvarint(b, uint64(len(r.extra)))
		b = append(b, r.extra...)
		r.scratch = b
		r.append()
		return nil
	}
	lines := r.entry.Lines[:0]
	for i := range res.Lines {
		tl := &res.Lines[i]
		k, err := r.keyFor(tx, tl)
		if err != nil {
			return err
		}
		var l Line
		l.Key = k
		if f := &tl.Fixed; f.OK {
			l.Fig = [aggregate.NumFigures]Amount{{F: f.Gross}, {F: f.Exempt}, {F: f.NonTaxable}, {F: f.Taxable}, {F: f.Amount}, {F: f.Exact}}
		} else {
			l.Fig = [aggregate.NumFigures]Amount{AmountOf(tl.Gross), AmountOf(tl.Exempt), AmountOf(tl.NonTaxable),
				AmountOf(tl.Taxable), AmountOf(tl.Amount), AmountOf(tl.Exact)}
		}
		lines = append(lines, l)
	}
	r.entry.Lines = lines
	if r.sumHere {
		r.entry.ID = tx.ID
		r.own.addEntry(&r.entry, 1)
	}
	r.scratch = appendBody(r.scratch[:0], tx.ID, tx.ContentHash, lines, r.extra)
	r.append()
	return nil
}

// append adds the entry in scratch to the current segment.
func (r *Run) append() {
	r.buf = binary.AppendUvarint(r.buf, uint64(len(r.scratch)))
	r.buf = append(r.buf, r.scratch...)
	r.n++
	if len(r.buf) >= segmentBytes {
		r.cut()
	}
}

func allFixed(res *rules.Result) bool {
	for i := range res.Lines {
		if !res.Lines[i].Fixed.OK {
			return false
		}
	}
	return true
}

func (r *Run) cut() {
	if r.n == 0 {
		return
	}
	if r.segCh != nil {
		r.segCh <- segBuf{r.buf, r.n}
	} else if r.writerErr == nil {
		r.writerErr = r.insertSegment(context.Background(), segBuf{r.buf, r.n})
		r.buf = r.buf[:0]
		r.n = 0
		return
	}
	select {
	case b := <-r.freeBufs:
		r.buf = b[:0]
	default:
		r.buf = make([]byte, 0, segmentBytes+segmentBytes/8)
	}
	r.n = 0
}

func (r *Run) insertSegment(ctx context.Context, sb segBuf) error {
	r.seq++
	if _, err := r.s.tx.ExecContext(ctx, `INSERT INTO segments (seq, run, entries, crc32, data) VALUES (?,?,?,?,?)`,
		r.seq, r.runID, sb.n, int64(crc32.ChecksumIEEE(sb.data)), sb.data); err != nil {
		return r.s.wrap(err)
	}
	return nil
}

func (r *Run) keyFor(tx *txn.Transaction, tl *rules.TaxLine) (int, error) {
	simple := r.period == aggregate.PeriodNone && !r.byRate
	if simple {
		if r.fastCur == "" {
			r.fastCur = tx.Currency.Code
		}
		if tx.Currency.Code == r.fastCur {
			if o := tl.Tax.Order(); o < len(r.fast) && r.fast[o] != 0 {
				return r.fast[o], nil
			}
		}
	}
	lk := localKey{order: tl.Tax.Order(), cur: tx.Currency.Code}
	if r.period != aggregate.PeriodNone {
		lk.day = tx.Day
	}
	if r.byRate && tl.HasRate {
		lk.rate = tl.Rate.String()
	}
	n, ok := r.local[lk]
	if !ok {
		j := tl.Tax.Jurisdiction
		k := RowKey{Jurisdiction: j.Code, Name: j.Name, Level: j.Level.String(), Tax: tl.Tax.ID,
			Rounding: tl.Tax.Rounding.Mode.String(), Currency: tx.Currency.Code, Digits: tx.Currency.Digits,
			Period: r.period.Label(tx.Day), Rate: lk.rate, HasRate: r.byRate && tl.HasRate}
		var err error
		if n, err = r.s.keys.Intern(k); err != nil {
			return 0, err
		}
		r.local[lk] = n
	}
	if simple && tx.Currency.Code == r.fastCur {
		o := tl.Tax.Order()
		for len(r.fast) <= o {
			r.fast = append(r.fast, 0)
		}
		r.fast[o] = n
	}
	return n, nil
}

// Finish computes the state's totals after the run: what was there, less
// what the amended transactions had added, plus this run's sums (runSums,
// from the accumulators; nil with SumHere).
func (r *Run) Finish(ctx context.Context, runSums []aggregate.RowSums) error {
	if len(r.amends) > 0 {
		// The segments of amended entries are read on the run's
		// transaction, which the writer uses too.
		r.cut()
		if err := r.stopWriter(); err != nil {
			return err
		}
	}
	r.totals = Totals{rows: append([]sums(nil), r.s.totals.rows...)}
	if len(r.amends) > 0 {
		cache := map[uint32][]byte{}
		var e Entry
		for _, l := range r.amends {
			data, ok := cache[l.seg]
			if !ok {
				var err error
				if data, err = r.s.segment(ctx, l.seg); err != nil {
					return err
				}
				cache[l.seg] = data
			}
			if int(l.off) >= len(data) {
				return fmt.Errorf("%s: segment %d: entry offset %d out of range", r.s.path, l.seg, l.off)
			}
			body, _, err := nextEntry(data[l.off:])
			if err == nil {
				err = decodeBody(body, &e)
			}
			if err != nil {
				return fmt.Errorf("%s: segment %d: %w", r.s.path, l.seg, err)
			}
			r.totals.addEntry(&e, -1)
		}
	}
	if r.sumHere {
		for i := range r.own.rows {
			r.totals.merge(i+1, &r.own.rows[i])
		}
		return nil
	}
	for i := range runSums {
		rs := &runSums[i]
		j := rs.Tax.Jurisdiction
		k := RowKey{Jurisdiction: j.Code, Name: j.Name, Level: j.Level.String(), Tax: rs.Tax.ID,
			Rounding: rs.Tax.Rounding.Mode.String(), Currency: rs.Currency, Digits: rs.Digits,
			Period: rs.Period, HasRate: rs.HasRate}
		if rs.HasRate {
			k.Rate = rs.Rate.String()
		}
		n, err := r.s.keys.Intern(k)
		if err != nil {
			return err
		}
		r.totals.merge(n, &sums{tx: rs.Transactions, fig: rs.Sums})
	}
	return nil
}

func (t *Totals) merge(key int, o *sums) {
	s := t.at(key)
	s.tx += o.tx
	for f := range s.fig {
		s.fig[f].Merge(&o.fig[f])
	}
}

// Rows returns the state's rows after the run (after Finish).
func (r *Run) Rows() ([]aggregate.Row, error) { return r.totals.Rows(r.s.keys) }

// Totals returns the state's totals after the run (after Finish).
func (r *Run) Totals() *Totals { return &r.totals }

// CommitInfo is what a run records besides its transactions and totals.
type CommitInfo struct {
	Version    string
	Counts     pipeline.Counts
	Inputs     []InputInfo
	Recompute  bool
	Output     string // the output file, "" for standard output
	OutputSHA  string // hex SHA-256 of the output written
	OutputSize int64
	// Appended, when set, is an output file the run appended to (calc):
	// its new committed size, OutputSize, is recorded with the run.
	Appended string
	// Rejects, when set, is the --rejects file the run appended to, and
	// RejectsSize its new committed size.
	Rejects     string
	RejectsSize int64
	// Hook, when set, is called at named points of the commit: "in-commit"
	// once everything is written, before the transaction commits. It is
	// for crash tests.
	Hook func(stage string)
}

// Commit writes the rest of the run (the last segment, the run's record,
// its inputs, the new row keys and totals, the meta) into the run's
// transaction and commits it. When it returns nil everything is on disk;
// when the process dies before, the state is as it was.
func (r *Run) Commit(ctx context.Context, ci CommitInfo) error {
	r.cut()
	if err := r.stopWriter(); err != nil {
		return err
	}
	s := r.s
	exec := func(q string, args ...any) error {
		if _, err := s.tx.ExecContext(ctx, q, args...); err != nil {
			return s.wrap(err)
		}
		return nil
	}
	now := time.Now().UTC().Format(time.RFC3339Nano)
	c := ci.Counts
	if err := exec(`UPDATE runs SET finished=?, version=?, read=?, new=?, duplicates=?, amended=?, rejected=?, other_shard=?, recompute=?, output=?, output_sha256=?, output_size=? WHERE id=?`,
		now, ci.Version, c.Read, c.Accepted-r.Amended, c.Duplicates, r.Amended, c.Rejected, c.OtherShard, ci.Recompute,
		ci.Output, ci.OutputSHA, ci.OutputSize, r.runID); err != nil {
		return err
	}
	for _, in := range ci.Inputs {
		if err := exec(`INSERT INTO inputs (run, name, size, modified) VALUES (?,?,?,?)`, r.runID, in.Name, in.Size, in.Modified.UTC().Format(time.RFC3339Nano)); err != nil {
			return err
		}
	}
	for n := r.firstKey + 1; n <= s.keys.Len(); n++ {
		k := s.keys.Key(n)
		if err := exec(`INSERT INTO rowkeys (key, jurisdiction, name, level, tax, rounding, currency, digits, period, rate, has_rate) VALUES (?,?,?,?,?,?,?,?,?,?,?)`,
			n, k.Jurisdiction, k.Name, k.Level, k.Tax, k.Rounding, k.Currency, k.Digits, k.Period, k.Rate, k.HasRate); err != nil {
			return err
		}
	}
	if err := exec(`DELETE FROM totals`); err != nil {
		return err
	}
	for i := range r.totals.rows {
		t := &r.totals.rows[i]
		f := &t.fig
		if err := exec(`INSERT INTO totals (key, transactions, gross, exempt, non_taxable, taxable, tax, tax_exact) VALUES (?,?,?,?,?,?,?,?)`,
			i+1, t.tx, sumString(&f[0]), sumString(&f[1]), sumString(&f[2]), sumString(&f[3]), sumString(&f[4]), sumString(&f[5])); err != nil {
			return err
		}
	}
	rulesJSON, _ := json.Marshal(s.meta.Rules)
	m := s.meta
	for _, kv := range [][2]string{{"command", m.Command}, {"period", m.Period}, {"by_rate", fmt.Sprint(m.ByRate)},
		{"timezone", m.Timezone}, {"shard", m.Shard}, {"rules_sha256", m.RulesSHA256}, {"rules", string(rulesJSON)}} {
		if err := exec(`INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)`, kv[0], kv[1]); err != nil {
			return err
		}
	}
	if ci.Appended != "" {
		if err := exec(`INSERT OR REPLACE INTO outputs (path, size) VALUES (?, ?)`, ci.Appended, ci.OutputSize); err != nil {
			return err
		}
	}
	for h := range r.newRejects {
		if err := exec(`INSERT OR IGNORE INTO rejected (hash) VALUES (?)`, int64(h)); err != nil {
			return err
		}
	}
	if ci.Rejects != "" {
		if err := exec(`INSERT OR REPLACE INTO outputs (path, size) VALUES (?, ?)`, ci.Rejects, ci.RejectsSize); err != nil {
			return err
		}
	}
	if ci.Hook != nil {
		ci.Hook("in-commit")
	}
	err := s.tx.Commit()
	s.tx = nil
	if err != nil {
		return s.wrap(err)
	}
	return nil
}

// startWriter records the run (its row is filled in by Commit) and starts
// the goroutine that writes segments into the run's transaction while the
// input is still being read. With Recompute it first forgets what was
// counted before.
func (r *Run) startWriter(ctx context.Context) error {
	s := r.s
	if s.tx == nil {
		return fmt.Errorf("state %s: a run needs Lock first", s.path)
	}
	if s.reset {
		for _, q := range []string{`DELETE FROM segments`, `DELETE FROM totals`, `DELETE FROM rowkeys`, `DELETE FROM rejected`} {
			if _, err := s.tx.ExecContext(ctx, q); err != nil {
				return s.wrap(err)
			}
		}
	}
	if err := s.tx.QueryRowContext(ctx, `SELECT count(*) FROM rowkeys`).Scan(&r.firstKey); err != nil {
		return s.wrap(err)
	}
	if err := s.tx.QueryRowContext(ctx, `SELECT coalesce(max(seq), 0) FROM segments`).Scan(&r.seq); err != nil {
		return s.wrap(err)
	}
	res, err := s.tx.ExecContext(ctx, `INSERT INTO runs (started, finished, command, version, rules_sha256, read, new, duplicates, amended, rejected, other_shard, recompute, output, output_sha256, output_size) VALUES (?,'',?,'',?,0,0,0,0,0,0,0,'','',0)`,
		r.started.UTC().Format(time.RFC3339Nano), s.meta.Command, s.meta.RulesSHA256)
	if err != nil {
		return s.wrap(err)
	}
	if r.runID, err = res.LastInsertId(); err != nil {
		return s.wrap(err)
	}
	r.segCh = make(chan segBuf, 4)
	r.freeBufs = make(chan []byte, 8)
	r.writerDone = make(chan struct{})
	go func() {
		defer close(r.writerDone)
		for sb := range r.segCh {
			if r.writerErr == nil {
				r.writerErr = r.insertSegment(ctx, sb)
			}
			select {
			case r.freeBufs <- sb.data: // the driver copied it
			default:
			}
		}
	}()
	return nil
}

// stopWriter waits for the segments sent so far to be written.
func (r *Run) stopWriter() error {
	if r.segCh != nil {
		close(r.segCh)
		<-r.writerDone
		r.segCh = nil
	}
	return r.writerErr
}

type segBuf struct {
	data []byte
	n    int
}

// RecordEntry counts an entry read from a partial (merge --state): its
// rows are taken from keys and numbered as the state numbers them. It
// returns false, without counting it, when the state already counts the
// id with this content, and an error when it counts other content.
func (r *Run) RecordEntry(e *Entry, keys *Keys) (bool, error) {
	if l, ok := r.s.index.get(txn.StableIDHash(e.ID)); ok {
		if l.content == e.Content {
			r.Duplicates++
			return false, nil
		}
		return false, fmt.Errorf("transaction %q: state %s counts it with other content (a conflicting duplicate)", e.ID, r.s.path)
	}
	lines := r.entry.Lines[:0]
	for _, l := range e.Lines {
		n, err := r.s.keys.Intern(*keys.Key(l.Key))
		if err != nil {
			return false, err
		}
		l.Key = n
		lines = append(lines, l)
	}
	r.entry.Lines, r.entry.ID = lines, e.ID
	r.own.addEntry(&r.entry, 1)
	r.scratch = appendBody(r.scratch[:0], e.ID, e.Content, lines, nil)
	r.append()
	r.New++
	return true, nil
}
