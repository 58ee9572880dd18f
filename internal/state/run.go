package state

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"time"

	"github.com/taxagg/taxagg/internal/aggregate"
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

	buf  []byte
	segs [][]byte
	segN []int
	n    int // entries in buf

	amends map[uint64]loc

	// Counts of this run's records as settled against the state.
	New, Duplicates, Amended int64

	fast    []int
	fastCur string
	local   map[localKey]int
	scratch []byte
	entry   Entry

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

// NewRun starts a run. The store must be bound and loaded.
func (s *Store) NewRun(opt RunOptions) (*Run, error) {
	period, err := aggregate.ParsePeriod(s.meta.Period)
	if err != nil {
		return nil, err
	}
	return &Run{s: s, amend: opt.Amend, sumHere: opt.SumHere, period: period, byRate: s.meta.ByRate,
		started: opt.Started, amends: map[uint64]loc{}, local: map[localKey]int{}}, nil
}

// Known is pipeline.Prior.Known.
func (r *Run) Known(idHash, contentHash uint64) bool {
	l, ok := r.s.index[idHash]
	return ok && l.content == contentHash
}

// Settle is pipeline.Prior.Settle.
func (r *Run) Settle(it *pipeline.Item) (pipeline.PriorVerdict, error) {
	l, ok := r.s.index[it.Tx.IDHash]
	switch {
	case !ok:
		r.New++
		return pipeline.PriorNew, nil
	case l.content == it.Tx.ContentHash:
		r.Duplicates++
		return pipeline.PriorDuplicate, nil
	case !r.amend:
		return pipeline.PriorConflict, fmt.Errorf("conflicting duplicate of a transaction an earlier run counted (state %s); --amend replaces it", r.s.path)
	}
	r.amends[it.Tx.IDHash] = l
	r.Amended++
	return pipeline.PriorNew, nil
}

// Record keeps an accepted transaction and what it adds to each row. The
// sequencer calls it in input order.
func (r *Run) Record(tx *txn.Transaction, res *rules.Result) error {
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
	r.scratch = appendBody(r.scratch[:0], tx.ID, tx.ContentHash, lines)
	r.buf = binary.AppendUvarint(r.buf, uint64(len(r.scratch)))
	r.buf = append(r.buf, r.scratch...)
	r.n++
	if len(r.buf) >= segmentBytes {
		r.cut()
	}
	return nil
}

func (r *Run) cut() {
	if r.n == 0 {
		return
	}
	r.segs = append(r.segs, r.buf)
	r.segN = append(r.segN, r.n)
	r.buf, r.n = make([]byte, 0, segmentBytes+segmentBytes/8), 0
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
	// Hook, when set, is called at named points of the commit: "in-commit"
	// once everything is written, before the transaction commits. It is
	// for crash tests.
	Hook func(stage string)
}

// Commit writes the run's transactions, the new totals and the run's
// record in one SQLite transaction. When it returns nil they are on disk;
// when the process dies before, the state is as it was.
func (r *Run) Commit(ctx context.Context, ci CommitInfo) error {
	r.cut()
	s := r.s
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return s.wrap(err)
	}
	defer tx.Rollback()
	exec := func(q string, args ...any) (int64, error) {
		res, err := tx.ExecContext(ctx, q, args...)
		if err != nil {
			return 0, s.wrap(err)
		}
		id, _ := res.LastInsertId()
		return id, nil
	}
	var firstKey int
	if s.reset {
		for _, q := range []string{`DELETE FROM segments`, `DELETE FROM totals`, `DELETE FROM rowkeys`} {
			if _, err := exec(q); err != nil {
				return err
			}
		}
	} else if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM rowkeys`).Scan(&firstKey); err != nil {
		return s.wrap(err)
	}
	now := time.Now().UTC().Format(time.RFC3339Nano)
	c := ci.Counts
	runID, err := exec(`INSERT INTO runs (started, finished, command, version, rules_sha256, read, new, duplicates, amended, rejected, other_shard, recompute, output, output_sha256, output_size) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
		r.started.UTC().Format(time.RFC3339Nano), now, s.meta.Command, ci.Version, s.meta.RulesSHA256,
		c.Read, c.Accepted-r.Amended, c.Duplicates, r.Amended, c.Rejected, c.OtherShard, ci.Recompute,
		ci.Output, ci.OutputSHA, ci.OutputSize)
	if err != nil {
		return err
	}
	for _, in := range ci.Inputs {
		if _, err := exec(`INSERT INTO inputs (run, name, size, modified) VALUES (?,?,?,?)`, runID, in.Name, in.Size, in.Modified.UTC().Format(time.RFC3339Nano)); err != nil {
			return err
		}
	}
	for n := firstKey + 1; n <= s.keys.Len(); n++ {
		k := s.keys.Key(n)
		if _, err := exec(`INSERT INTO rowkeys (key, jurisdiction, name, level, tax, rounding, currency, digits, period, rate, has_rate) VALUES (?,?,?,?,?,?,?,?,?,?,?)`,
			n, k.Jurisdiction, k.Name, k.Level, k.Tax, k.Rounding, k.Currency, k.Digits, k.Period, k.Rate, k.HasRate); err != nil {
			return err
		}
	}
	if _, err := exec(`DELETE FROM totals`); err != nil {
		return err
	}
	for i := range r.totals.rows {
		t := &r.totals.rows[i]
		f := &t.fig
		if _, err := exec(`INSERT INTO totals (key, transactions, gross, exempt, non_taxable, taxable, tax, tax_exact) VALUES (?,?,?,?,?,?,?,?)`,
			i+1, t.tx, sumString(&f[0]), sumString(&f[1]), sumString(&f[2]), sumString(&f[3]), sumString(&f[4]), sumString(&f[5])); err != nil {
			return err
		}
	}
	var seq int64
	if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(seq), 0) FROM segments`).Scan(&seq); err != nil {
		return s.wrap(err)
	}
	for i, data := range r.segs {
		seq++
		if _, err := exec(`INSERT INTO segments (seq, run, entries, crc32, data) VALUES (?,?,?,?,?)`,
			seq, runID, r.segN[i], int64(crc32.ChecksumIEEE(data)), data); err != nil {
			return err
		}
	}
	rulesJSON, _ := json.Marshal(s.meta.Rules)
	m := s.meta
	for k, v := range map[string]string{"command": m.Command, "period": m.Period, "by_rate": fmt.Sprint(m.ByRate),
		"timezone": m.Timezone, "shard": m.Shard, "rules_sha256": m.RulesSHA256, "rules": string(rulesJSON)} {
		if _, err := exec(`INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)`, k, v); err != nil {
			return err
		}
	}
	if ci.Appended != "" {
		if _, err := exec(`INSERT OR REPLACE INTO outputs (path, size) VALUES (?, ?)`, ci.Appended, ci.OutputSize); err != nil {
			return err
		}
	}
	if ci.Hook != nil {
		ci.Hook("in-commit")
	}
	if err := tx.Commit(); err != nil {
		return s.wrap(err)
	}
	return nil
}
