package cli

import (
	"bufio"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/taxagg/taxagg/internal/aggregate"
	"github.com/taxagg/taxagg/internal/pipeline"
	"github.com/taxagg/taxagg/internal/state"
)

// MergeOptions are merge's flags and arguments.
type MergeOptions struct {
	Format  string
	Out     string
	Partial string
	State   string
	Quiet   bool
	Files   []string
}

// NewCmdMerge builds `taxagg merge`.
func NewCmdMerge(f *Factory, runF func(context.Context, *MergeOptions) error) *cobra.Command {
	opts := &MergeOptions{}
	cmd := &cobra.Command{
		Use:   "merge [flags] PARTIAL ...",
		Short: "Combine partials (aggregate --partial, state export) into the final totals",
		Long: `Read partials written by 'aggregate --partial' or 'state export' and print the aggregate
table of them all, exactly as one aggregate run over all their transactions would. A
transaction in several partials counts once; one with other content in two partials is an
error naming both. Partials of other rules, periods, rate splitting, time zones or currency
decimals are refused. The order of the partials does not matter, and a merge of merges is
the same merge. With --partial the merged partial is written too (to merge further).
With --state FILE the partials' transactions are added to a state as a run would add
them (the ones it counts already are duplicates; other content is an error), and the
table printed is the whole state's.` + exitStatusHelp,
		Example: `  taxagg merge --format csv shard-*.partial > totals.csv
  taxagg merge --partial week.partial mon.partial tue.partial wed.partial`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Files = args
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return mergeRun(cmd.Context(), f, opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Format, "format", "", "output format: table, json, ndjson or csv (default: table on a terminal, else ndjson)")
	fl.StringVarP(&opts.Out, "out", "o", "", "write the table to `FILE` atomically (default: stdout)")
	fl.StringVar(&opts.Partial, "partial", "", "also write the merged partial to `FILE`")
	fl.StringVar(&opts.State, "state", "", "merge into the state `FILE` (created when missing) and print the whole state's table")
	fl.BoolVarP(&opts.Quiet, "quiet", "q", false, "no summary on stderr")
	return cmd
}

func mergeRun(ctx context.Context, f *Factory, opts *MergeOptions) error {
	m := state.NewMerger()
	for _, name := range opts.Files {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := mergeFile(m, name, f.IO.In); err != nil {
			return err
		}
	}
	h := m.Header()
	if h.Command == "nexus" {
		return fmt.Errorf("merge: %s", errNexusPartial)
	}
	if h.Command != "aggregate" {
		return fmt.Errorf("merge: partials of %s cannot be printed as an aggregate table", h.Command)
	}
	var rows []aggregate.Row
	var err error
	var sm *mergeState
	if opts.State != "" {
		sm, err = mergeIntoState(ctx, f, m, opts)
		if err != nil {
			return err
		}
		defer sm.close()
		rows, err = sm.run.Rows()
	} else {
		rows, err = m.Totals().Rows(m.Keys())
	}
	if err != nil {
		return err
	}
	to := txOptions{Out: opts.Out}
	w, tty, finish, err := to.outputTarget(f.IO)
	if err != nil {
		return err
	}
	format, err := outputFormat(opts.Format, tty)
	if err != nil {
		finish(err)
		return err
	}
	target := newRowTarget(f, format, tty, nil)
	man := manifest{Version: versionString(), Inputs: opts.Files, Rules: h.Rules, RulesSHA256: h.RulesSHA256,
		Timezone: h.Timezone, ByRate: h.ByRate}
	if h.Period != "none" {
		man.Period = h.Period
	}
	if sm != nil {
		man.Inputs = sm.inputs
		w = sm.hash(w)
	}
	err = writeAggregate(w, target, rows, h.ByRate, &man)
	if err == nil && opts.Partial != "" {
		err = writeMergedPartial(m, opts.Partial)
	}
	if err == nil && sm != nil {
		err = sm.commit(ctx, opts)
	}
	if err = finish(err); err != nil {
		return err
	}
	if !opts.Quiet {
		fmt.Fprintf(f.IO.ErrOut, "taxagg merge: %d partials, %d transactions (%d found in more than one partial, counted once), %d rows",
			len(opts.Files), m.Transactions(), m.Dups, len(rows))
		if sm != nil {
			fmt.Fprintf(f.IO.ErrOut, "; state %s: new %d, duplicates %d; holds %d transactions", opts.State, sm.run.New, sm.run.Duplicates, sm.held)
		}
		fmt.Fprintln(f.IO.ErrOut)
	}
	return nil
}

func mergeFile(m *state.Merger, name string, stdin io.Reader) error {
	var r io.Reader = stdin
	if name != "-" {
		fh, err := os.Open(name)
		if err != nil {
			return fmt.Errorf("open partial: %w", err)
		}
		defer fh.Close()
		r = fh
	} else {
		name = "stdin"
	}
	br := bufio.NewReader(r)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		gz, err := gzip.NewReader(br)
		if err != nil {
			return fmt.Errorf("read %s: gzip: %w", name, err)
		}
		return m.Add(name, gz)
	}
	return m.Add(name, br)
}

func writeMergedPartial(m *state.Merger, path string) error {
	af, err := createAtomic(path)
	if err != nil {
		return fmt.Errorf("write partial: %w", err)
	}
	pw := state.NewPartialWriter(af, *m.Header(), m.Keys())
	if err := m.Entries(pw.Entry); err != nil {
		af.abort()
		return err
	}
	if err := pw.Close(m.Totals()); err != nil {
		af.abort()
		return fmt.Errorf("write partial: %w", err)
	}
	return af.commit()
}

// mergeState is merge --state: the merged transactions added to a state in
// one run, committed with the table's hash before the table is renamed
// into place.
type mergeState struct {
	store  *state.Store
	run    *state.Run
	hw     *hashWriter
	inputs []string
	held   int
	f      *Factory
}

func mergeIntoState(ctx context.Context, f *Factory, m *state.Merger, opts *MergeOptions) (*mergeState, error) {
	h := m.Header()
	st, err := state.Open(ctx, opts.State, true)
	if err != nil {
		return nil, err
	}
	sm := &mergeState{store: st, f: f}
	fail := func(err error) (*mergeState, error) {
		sm.close()
		return nil, err
	}
	if err := st.Lock(ctx); err != nil {
		return fail(err)
	}
	meta := state.Meta{Command: h.Command, Period: h.Period, ByRate: h.ByRate, Timezone: h.Timezone,
		Shard: h.Shard, RulesSHA256: h.RulesSHA256, Rules: h.Rules}
	if err := st.Bind(meta, false); err != nil {
		return fail(err)
	}
	if err := st.Load(ctx); err != nil {
		return fail(err)
	}
	prior, err := st.InputNames(ctx)
	if err != nil {
		return fail(err)
	}
	sm.held = st.IDs()
	run, err := st.NewRun(ctx, state.RunOptions{SumHere: true, Started: f.Now()})
	if err != nil {
		return fail(err)
	}
	sm.run = run
	var recErr error
	if err := m.Entries(func(e *state.Entry) {
		if recErr == nil {
			_, recErr = run.RecordEntry(e, m.Keys())
		}
	}); err != nil {
		return fail(err)
	}
	if recErr != nil {
		return fail(recErr)
	}
	if err := run.Finish(ctx, nil); err != nil {
		return fail(err)
	}
	sm.held += int(run.New)
	seen := map[string]bool{}
	for _, n := range append(prior, opts.Files...) {
		if !seen[n] {
			seen[n] = true
			sm.inputs = append(sm.inputs, n)
		}
	}
	return sm, nil
}

func (sm *mergeState) hash(w io.Writer) io.Writer {
	sm.hw = &hashWriter{w: w, h: sha256.New()}
	return sm.hw
}

func (sm *mergeState) commit(ctx context.Context, opts *MergeOptions) error {
	ci := state.CommitInfo{Version: versionString(),
		Counts: pipeline.Counts{Read: sm.run.New + sm.run.Duplicates, Accepted: sm.run.New, Duplicates: sm.run.Duplicates}}
	for _, name := range opts.Files {
		info := state.InputInfo{Name: name}
		if st, err := os.Stat(name); err == nil {
			info.Size, info.Modified = st.Size(), st.ModTime()
		}
		ci.Inputs = append(ci.Inputs, info)
	}
	if opts.Out != "" && opts.Out != "-" {
		ci.Output = opts.Out
	}
	ci.OutputSHA, ci.OutputSize = hex.EncodeToString(sm.hw.h.Sum(nil)), sm.hw.n
	return sm.run.Commit(ctx, ci)
}

func (sm *mergeState) close() {
	if sm.run != nil {
		sm.run.Abort()
	}
	sm.store.Close()
}
