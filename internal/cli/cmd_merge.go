package cli

import (
	"bufio"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/taxagg/taxagg/internal/state"
)

// MergeOptions are merge's flags and arguments.
type MergeOptions struct {
	Format  string
	Out     string
	Partial string
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
the same merge. With --partial the merged partial is written too (to merge further).` + exitStatusHelp,
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
	if h.Command != "aggregate" {
		return fmt.Errorf("merge: partials of %s cannot be printed as an aggregate table", h.Command)
	}
	rows, err := m.Totals().Rows(m.Keys())
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
	man := manifest{Version: versionString(), Inputs: opts.Files, Rules: h.Rules, RulesSHA256: h.RulesSHA256,
		Timezone: h.Timezone, ByRate: h.ByRate}
	if h.Period != "none" {
		man.Period = h.Period
	}
	err = writeAggregate(w, format, rows, h.ByRate, &man)
	if err == nil && opts.Partial != "" {
		err = writeMergedPartial(m, opts.Partial)
	}
	if err = finish(err); err != nil {
		return err
	}
	if !opts.Quiet {
		fmt.Fprintf(f.IO.ErrOut, "taxagg merge: %d partials, %d transactions (%d found in more than one partial, counted once), %d rows\n",
			len(opts.Files), m.Transactions(), m.Dups, len(rows))
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
