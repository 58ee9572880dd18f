package cli

import (
	"context"
	"crypto/sha256"
	"encoding/hex"

	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/taxagg/taxagg/internal/aggregate"
	"github.com/taxagg/taxagg/internal/failpoint"
	"github.com/taxagg/taxagg/internal/nexus"
	"github.com/taxagg/taxagg/internal/pipeline"
	"github.com/taxagg/taxagg/internal/rules"
	"github.com/taxagg/taxagg/internal/state"
	"github.com/taxagg/taxagg/internal/stream"
)

// stateFlags are --state, --amend, --recompute, --shard and --partial.
type stateFlags struct {
	State     string
	Amend     bool
	Recompute bool
	Shard     string
	Partial   string

	ext *stateRun // set by newStateRun when any of the flags is given
}

func addStateFlags(cmd *cobra.Command, o *stateFlags, partial bool) {
	fl := cmd.Flags()
	fl.StringVar(&o.State, "state", "", "durable state `FILE` (SQLite): count each transaction once across runs")
	fl.BoolVar(&o.Amend, "amend", false, "with --state: a known id with other content replaces what it counted")
	fl.BoolVar(&o.Recompute, "recompute", false, "with --state: accept other rules, forgetting what was counted under the old ones")
	fl.StringVar(&o.Shard, "shard", "", "keep only the transactions whose id falls in shard `K/N` (K from 0 to N-1)")
	if partial {
		fl.StringVar(&o.Partial, "partial", "", "also write a mergeable partial (totals and the ids they count) to `FILE`")
	}
}

// stateRun is one command's run against a state (or an in-memory one for
// --partial alone), and the shard filter.
type stateRun struct {
	f        *Factory
	o        *txOptions
	command  string
	store    *state.Store
	memory   bool // --partial without --state
	run      *state.Run
	shardK   int
	shardN   int
	started  int64
	hashOut  *hashWriter
	appendTo *appendFile
	ins      []pipeline.Input
	prog     *rules.Program
	rows     int
	held     int
	// priorInputs are the inputs earlier runs consumed, for the manifest.
	priorInputs []string
	rejectsKey  string // the --rejects file's absolute path, as the state records it
	counts      pipeline.Counts
	fp          failpoint.Point // test-only: state-after-output, state-in-commit, state-after-commit
}

func parseShard(s string) (k, n int, err error) {
	a, b, ok := strings.Cut(s, "/")
	if ok {
		k, err = strconv.Atoi(a)
		if err == nil {
			n, err = strconv.Atoi(b)
		}
	}
	if !ok || err != nil || n < 1 || k < 0 || k >= n {
		return 0, 0, usageErrorf("--shard %q must be K/N with 0 <= K < N (e.g. 0/4)", s)
	}
	return k, n, nil
}

// newStateRun opens the state named by the flags, if any. It returns nil
// when none of the flags is given.
func newStateRun(ctx context.Context, f *Factory, o *txOptions, command string) (*stateRun, error) {
	sf := &o.stateFlags
	if sf.State == "" && sf.Partial == "" && sf.Shard == "" {
		if sf.Amend || sf.Recompute {
			return nil, usageErrorf("--amend and --recompute need --state FILE")
		}
		return nil, nil
	}
	if (sf.Amend || sf.Recompute) && sf.State == "" {
		return nil, usageErrorf("--amend and --recompute need --state FILE")
	}
	fp, err := failpoint.FromEnv(f.Getenv)
	if err != nil {
		return nil, usageErrorf("%v", err)
	}
	sr := &stateRun{f: f, o: o, command: command, started: f.Now().UnixNano(), fp: fp}
	if sf.Shard != "" {
		var err error
		if sr.shardK, sr.shardN, err = parseShard(sf.Shard); err != nil {
			return nil, err
		}
	}
	switch {
	case sf.State != "":
		st, err := state.Open(ctx, sf.State, true)
		if err != nil {
			return nil, err
		}
		sr.store = st
	case sf.Partial != "":
		st, err := state.Open(ctx, ":memory:", true)
		if err != nil {
			return nil, err
		}
		sr.store, sr.memory = st, true
	}
	if sr.store != nil {
		if err := sr.store.Lock(ctx); err != nil {
			sr.store.Close()
			return nil, err
		}
	}
	sf.ext = sr
	return sr, nil
}

func (sr *stateRun) close() {
	if sr != nil && sr.run != nil {
		sr.run.Abort()
	}
	if sr != nil && sr.store != nil {
		sr.store.Close()
	}
}

func (sr *stateRun) meta(prog *rules.Program) state.Meta {
	m := state.Meta{Command: sr.command, Period: sr.o.Period, ByRate: sr.o.ByRate, Timezone: sr.o.Timezone,
		RulesSHA256: prog.SHA256, Rules: prog.Files}
	if m.Period == "" {
		m.Period = "none"
	}
	if sr.shardN > 0 {
		m.Shard = fmt.Sprintf("%d/%d", sr.shardK, sr.shardN)
	}
	return m
}

// begin binds the state to this run's rules and grouping, loads it, and
// sets the pipeline up: the shard filter, stable hashes, the state as the
// Prior, and a sink that records each accepted transaction.
func (sr *stateRun) begin(ctx context.Context, prog *rules.Program, popt *pipeline.Options, ins []pipeline.Input, sink pipeline.Sink) (pipeline.Sink, error) {
	sr.ins, sr.prog = ins, prog
	popt.Shard, popt.Shards = sr.shardK, sr.shardN
	if sr.store == nil {
		return sink, nil
	}
	if err := sr.cutRejects(ctx); err != nil {
		return nil, err
	}
	if err := sr.store.Bind(sr.meta(prog), sr.o.Recompute); err != nil {
		return nil, err
	}
	if err := sr.store.Load(ctx); err != nil {
		return nil, err
	}
	held := sr.store.IDs()
	var err error
	if sr.priorInputs, err = sr.store.InputNames(ctx); err != nil {
		return nil, err
	}
	run, err := sr.store.NewRun(ctx, state.RunOptions{Amend: sr.o.Amend, SumHere: sr.command != "aggregate", Started: sr.f.Now()})
	if err != nil {
		return nil, err
	}
	sr.run, sr.held = run, held
	popt.Prior = run
	popt.Compact = false // the state records each transaction's tax lines
	popt.Parse.StableHashes = true
	return &recordingSink{Sink: sink, run: run}, nil
}

// recordingSink hands each accepted transaction to the state run, in input
// order, after the command's own sink.
type recordingSink struct {
	pipeline.Sink
	run *state.Run
}

func (s *recordingSink) Ordered() bool { return true }

func (s *recordingSink) Emit(it *pipeline.Item) error {
	if s.Sink.Ordered() {
		if err := s.Sink.Emit(it); err != nil {
			return err
		}
	}
	return s.run.Record(&it.Tx, &it.Result)
}

// EndBatch passes the end of a batch on to the command's sink, which may
// hold the batch's records until then (calc's runs of lines).
func (s *recordingSink) EndBatch() error {
	if be, ok := s.Sink.(pipeline.BatchEmitter); ok {
		return be.EndBatch()
	}
	return nil
}

// aggregateRows returns the rows to print: the whole state's with a
// state, else the run's own.
func (sr *stateRun) aggregateRows(ctx context.Context, acc *aggregate.Accumulator) ([]aggregate.Row, error) {
	if sr == nil || sr.run == nil {
		return acc.Rows(), nil
	}
	if err := sr.run.Finish(ctx, acc.Sums()); err != nil {
		return nil, err
	}
	return sr.run.Rows()
}

// cutRejects makes --rejects exact under a state, as calc's --out: the
// state records the file's size with each commit, and what a killed run
// appended after the last commit is cut off before this run appends. A
// file the state does not know yet is claimed at its present size (what
// it held before is not the state's to cut).
func (sr *stateRun) cutRejects(ctx context.Context) error {
	if sr.o.Rejects == "" || sr.memory {
		return nil
	}
	key, err := filepath.Abs(sr.o.Rejects)
	if err != nil {
		return fmt.Errorf("open rejects file: %w", err)
	}
	var have int64
	if st, err := os.Stat(sr.o.Rejects); err == nil {
		have = st.Size()
	}
	size, known, err := sr.store.OutputSize(ctx, key)
	if err != nil {
		return err
	}
	switch {
	case !known:
		if err := sr.store.ClaimOutputAt(ctx, key, have); err != nil {
			return err
		}
	case have > size:
		if err := os.Truncate(sr.o.Rejects, size); err != nil {
			return fmt.Errorf("open rejects file: %w", err)
		}
	}
	sr.rejectsKey = key
	return nil
}

// replayNexus gives the nexus tracker what earlier runs counted, so that
// its rows are the whole state's.
func (sr *stateRun) replayNexus(ctx context.Context, prog *rules.Program, t *nexus.Tracker) error {
	if sr == nil || sr.run == nil {
		return nil
	}
	return sr.run.Replay(ctx, prog, t.NewWorker())
}

// manifestInputs are the inputs a manifest names: with a state, every
// input its totals count (earlier runs' and this one's, each once), so
// that day by day gives the manifest of one run over every day.
func (sr *stateRun) manifestInputs(this []string) []string {
	if sr == nil || sr.run == nil || sr.memory {
		return this
	}
	out := append([]string(nil), sr.priorInputs...)
	seen := map[string]bool{}
	for _, n := range out {
		seen[n] = true
	}
	for _, n := range this {
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
}

// failpoint kills the process at the state's point name when the test-only
// TAXAGG_FAILPOINT names it (see internal/failpoint).
func (sr *stateRun) failpoint(name string) { sr.fp.Hit("state-" + name) }

// commit makes the run durable, after the output was written (to its
// temporary name, or appended and synced) and before it is renamed into
// place; then it writes the --partial.
func (sr *stateRun) commit(ctx context.Context, counts pipeline.Counts) error {
	sr.counts = counts
	if sr.run == nil {
		return nil
	}
	if sr.command == "calc" || sr.command == "nexus" {
		if err := sr.run.Finish(ctx, nil); err != nil {
			return err
		}
	}
	ci := state.CommitInfo{Version: versionString(), Counts: counts, Recompute: sr.o.Recompute,
		Hook: sr.failpoint}
	for _, in := range sr.ins {
		info := state.InputInfo{Name: in.Name}
		if in.Name != "stdin" {
			if st, err := os.Stat(in.Name); err == nil {
				info.Size, info.Modified = st.Size(), st.ModTime()
			}
		}
		ci.Inputs = append(ci.Inputs, info)
	}
	if sr.o.Out != "" && sr.o.Out != "-" {
		ci.Output = sr.o.Out
	}
	if sr.hashOut != nil {
		ci.OutputSHA, ci.OutputSize = hex.EncodeToString(sr.hashOut.h.Sum(nil)), sr.hashOut.n
	}
	if sr.rejectsKey != "" {
		f, err := os.OpenFile(sr.o.Rejects, os.O_RDONLY, 0)
		if err != nil {
			return fmt.Errorf("write rejects: %w", err)
		}
		st, err := f.Stat()
		if err == nil {
			err = f.Sync()
		}
		f.Close()
		if err != nil {
			return fmt.Errorf("write rejects: %w", err)
		}
		ci.Rejects, ci.RejectsSize = sr.rejectsKey, st.Size()
	}
	if a := sr.appendTo; a != nil {
		if err := a.f.Sync(); err != nil {
			return fmt.Errorf("write output: %w", err)
		}
		ci.Appended, ci.OutputSize = a.key, a.base+a.n
	}
	sr.failpoint("after-output")
	if err := sr.run.Commit(ctx, ci); err != nil {
		return err
	}
	if sr.appendTo != nil {
		sr.appendTo.committed = true
	}
	sr.failpoint("after-commit")
	sr.held += int(sr.run.New)
	if rows, err := sr.run.Rows(); err == nil {
		sr.rows = len(rows)
	}
	if sr.o.Partial != "" {
		if err := sr.store.Reload(ctx); err != nil {
			return err
		}
		return sr.writePartial(ctx)
	}
	return nil
}

func (sr *stateRun) writePartial(ctx context.Context) error {
	af, err := createAtomic(sr.o.Partial)
	if err != nil {
		return fmt.Errorf("write partial: %w", err)
	}
	if err := exportPartial(ctx, sr.store, af); err != nil {
		af.abort()
		return fmt.Errorf("write partial: %w", err)
	}
	return af.commit()
}

// exportPartial writes a store's partial to w.
// errNexusPartial says why a nexus state has no partial: a partial holds
// totals and the ids they count, not the day, time, net sales and
// jurisdictions of each transaction that nexus needs to find when a
// threshold was crossed.
const errNexusPartial = "nexus partials cannot be merged yet: a partial does not carry each transaction's day and net sales, which nexus needs to find when a threshold was crossed; run taxagg nexus --state over every input instead"

func exportPartial(ctx context.Context, st *state.Store, w io.Writer) error {
	if st.Meta().Command == "nexus" {
		return fmt.Errorf("state %s is a nexus state: %s", st.Path(), errNexusPartial)
	}
	if err := st.Load(ctx); err != nil {
		return err
	}
	pw := state.NewPartialWriter(w, state.HeaderOf(st.Meta()), st.Keys())
	if err := st.Current(ctx, func(e *state.Entry) error { pw.Entry(e); return nil }); err != nil {
		return err
	}
	return pw.Close(st.Totals())
}

// stateSummary is the state's part of the run summary.
type stateSummary struct {
	File         string `json:"file,omitempty"`
	Shard        string `json:"shard,omitempty"`
	OtherShard   int64  `json:"other_shard"`
	New          int64  `json:"new"`
	Duplicates   int64  `json:"duplicates"`
	Earlier      int64  `json:"duplicates_of_earlier_runs"`
	Amended      int64  `json:"amended"`
	Rejected     int64  `json:"rejected"`
	Transactions int    `json:"transactions_held"`
	Rows         int    `json:"rows_held"`
	Committed    bool   `json:"committed"`
}

func (sr *stateRun) summary(counts pipeline.Counts, committed bool) *stateSummary {
	if sr == nil {
		return nil
	}
	s := &stateSummary{Shard: sr.o.Shard, OtherShard: counts.OtherShard, Duplicates: counts.Duplicates,
		Rejected: counts.Rejected, New: counts.Accepted, Committed: committed}
	if sr.run != nil && !sr.memory {
		s.File = sr.o.State
		s.Earlier, s.Amended = sr.run.Duplicates, sr.run.Amended
		s.New -= sr.run.Amended
		s.Transactions, s.Rows = sr.held, sr.rows
	}
	return s
}

func (s *stateSummary) line() string {
	var b strings.Builder
	if s.Shard != "" {
		fmt.Fprintf(&b, "; shard %s: %d records left to other shards", s.Shard, s.OtherShard)
	}
	if s.File != "" {
		fmt.Fprintf(&b, "; state %s: new %d, duplicates %d (%d of earlier runs), amended %d, rejected %d",
			s.File, s.New, s.Duplicates, s.Earlier, s.Amended, s.Rejected)
		if s.Committed {
			fmt.Fprintf(&b, "; holds %d transactions", s.Transactions)
			if s.Rows > 0 {
				fmt.Fprintf(&b, " in %d rows", s.Rows)
			}
		} else {
			b.WriteString("; nothing committed")
		}
	}
	return b.String()
}

// hashWriter hashes and counts what passes through it.
type hashWriter struct {
	w io.Writer
	h hash.Hash
	n int64
}

func (sr *stateRun) hashOutput(w io.Writer) io.Writer {
	if sr == nil || sr.run == nil && sr.store == nil {
		return w
	}
	sr.hashOut = &hashWriter{w: w, h: sha256.New()}
	return sr.hashOut
}

func (h *hashWriter) Write(p []byte) (int, error) {
	n, err := h.w.Write(p)
	h.h.Write(p[:n])
	h.n += int64(n)
	return n, err
}

// appendFile is calc's --out under a state: runs append to it, and the
// state records its committed size with each run, so that what a killed
// run appended is cut off by the next.
type appendFile struct {
	f         *os.File
	key       string // absolute path, as recorded in the state
	base      int64  // committed size when the run started
	n         int64
	committed bool
}

func (a *appendFile) Write(p []byte) (int, error) {
	n, err := a.f.Write(p)
	a.n += int64(n)
	return n, err
}

// calcOutput opens calc's --out for appending, cut back to the size the
// state last committed. It returns the writer, whether the file was empty
// (a CSV header is due), and the finish function.
func (sr *stateRun) calcOutput(ctx context.Context, format stream.OutputFormat) (io.Writer, bool, func(error) error, error) {
	if sr.o.Out == "" || sr.o.Out == "-" {
		return nil, false, nil, usageErrorf("calc --state writes the new records with --out FILE (appended, exactly once; standard output cannot be taken back after a crash)")
	}
	if format != stream.OutputNDJSON && format != stream.OutputCSV {
		return nil, false, nil, usageErrorf("calc --state appends to --out: --format must be ndjson or csv")
	}
	key, err := filepath.Abs(sr.o.Out)
	if err != nil {
		return nil, false, nil, fmt.Errorf("open output: %w", err)
	}
	size, known, err := sr.store.OutputSize(ctx, key)
	if err != nil {
		return nil, false, nil, err
	}
	if !known {
		if st, err := os.Stat(sr.o.Out); err == nil && st.Size() > 0 {
			return nil, false, nil, fmt.Errorf("--out %s exists and is not an output of state %s: choose another file, or remove it", sr.o.Out, sr.o.State)
		}
		if err := sr.store.ClaimOutput(ctx, key); err != nil {
			return nil, false, nil, err
		}
	}
	f, err := os.OpenFile(sr.o.Out, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, false, nil, fmt.Errorf("open output: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, false, nil, fmt.Errorf("open output: %w", err)
	}
	if st.Size() < size {
		f.Close()
		return nil, false, nil, fmt.Errorf("--out %s has %d bytes, state %s committed %d: it was changed since; restore it or choose another file", sr.o.Out, st.Size(), sr.o.State, size)
	}
	if st.Size() > size {
		// A run died after appending and before committing: cut its
		// records off, they will be written again.
		if err := f.Truncate(size); err != nil {
			f.Close()
			return nil, false, nil, fmt.Errorf("open output: %w", err)
		}
	}
	if _, err := f.Seek(size, io.SeekStart); err != nil {
		f.Close()
		return nil, false, nil, fmt.Errorf("open output: %w", err)
	}
	a := &appendFile{f: f, key: key, base: size}
	sr.appendTo = a
	finish := func(runErr error) error {
		if !a.committed {
			f.Truncate(size) // nothing of an uncommitted run stays
		}
		if err := f.Close(); err != nil && runErr == nil {
			return fmt.Errorf("write output: %w", err)
		}
		return runErr
	}
	return a, size == 0, finish, nil
}
