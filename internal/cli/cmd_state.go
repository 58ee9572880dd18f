package cli

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/taxagg/taxagg/internal/rules"
	"github.com/taxagg/taxagg/internal/state"
	"github.com/taxagg/taxagg/internal/stream"
)

// calcStateRun is calc with --state: the new records are appended to
// --out, and the file's committed size is part of the state's commit.
func calcStateRun(ctx context.Context, f *Factory, opts *CalcOptions, sr *stateRun) error {
	format, err := outputFormat(opts.Format, false)
	if err != nil {
		return err
	}
	if opts.Format == "" {
		format = stream.OutputNDJSON
	}
	w, header, finish, err := sr.calcOutput(ctx, format)
	if err != nil {
		return err
	}
	rw := stream.NewRowWriter(w, format, calcColumns, stream.RowOptions{CSVNoHeader: !header})
	sink := newCalcSink(rw, format, false)
	opts.fixedOnly = !sink.rows
	err = runTx(ctx, f, &opts.txOptions, "calc", sink, func(*rules.Program) error { return sink.w.Close() })
	return finish(err)
}

// NewCmdState builds `taxagg state show|verify|export`.
func NewCmdState(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "state",
		Short: "Inspect, check or export a --state file",
		Long: `A state (--state FILE on aggregate and calc) is an SQLite database holding every counted
transaction's id, content hash and contribution, the running totals, the runs and their
inputs, and the rules hash. These commands read it; none changes it.` + exitStatusHelp,
	}
	cmd.AddCommand(newCmdStateShow(f), newCmdStateVerify(f), newCmdStateExport(f))
	return cmd
}

func openStateRO(ctx context.Context, path string) (*state.Store, error) {
	return state.Open(ctx, path, false)
}

func newCmdStateShow(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:     "show FILE",
		Short:   "What a state holds: runs, inputs, counts, rules hash",
		Args:    cobra.ExactArgs(1),
		Example: `  taxagg state show totals.state`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return stateShow(cmd.Context(), f.IO.Out, args[0])
		},
	}
}

func stateShow(ctx context.Context, w io.Writer, path string) error {
	st, err := openStateRO(ctx, path)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.Load(ctx); err != nil {
		return err
	}
	m := st.Meta()
	fmt.Fprintf(w, "state %s (schema version %d)\n", path, state.SchemaVersion)
	if st.Fresh() {
		fmt.Fprintln(w, "empty: no run committed yet")
		return nil
	}
	fmt.Fprintf(w, "command:      %s\n", m.Command)
	fmt.Fprintf(w, "rules:        %s (sha256 %s)\n", strings.Join(m.Rules, ", "), m.RulesSHA256)
	fmt.Fprintf(w, "period:       %s\n", m.Period)
	fmt.Fprintf(w, "by rate:      %t\n", m.ByRate)
	fmt.Fprintf(w, "timezone:     %s\n", m.Timezone)
	if m.Shard != "" {
		fmt.Fprintf(w, "shard:        %s\n", m.Shard)
	}
	rows, err := st.Totals().Rows(st.Keys())
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "transactions: %d\n", st.IDs())
	fmt.Fprintf(w, "rows:         %d\n", len(rows))
	fmt.Fprintf(w, "rejected:     %d records remembered (not reported again)\n", st.Rejections())
	files, err := st.AppendedFiles(ctx)
	if err != nil {
		return err
	}
	for _, a := range files {
		fmt.Fprintf(w, "appends to:   %s (%d bytes committed)\n", a.Path, a.Size)
	}
	runs, err := st.Runs(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "runs:         %d\n", len(runs))
	for _, r := range runs {
		fmt.Fprintf(w, "  #%d %s %s: read %d, new %d, duplicates %d, amended %d, rejected %d",
			r.ID, r.Finished.Format("2006-01-02T15:04:05Z"), r.Command, r.Read, r.New, r.Duplicates, r.Amended, r.Rejected)
		if r.OtherShard > 0 {
			fmt.Fprintf(w, ", other shards %d", r.OtherShard)
		}
		if r.Recompute {
			fmt.Fprint(w, " (recompute)")
		}
		fmt.Fprintln(w)
		for _, in := range r.Inputs {
			fmt.Fprintf(w, "      input %s (%d bytes)\n", in.Name, in.Size)
		}
		if r.Output != "" {
			fmt.Fprintf(w, "      output %s (%d bytes", r.Output, r.OutputSize)
			if r.OutputSHA256 != "" {
				fmt.Fprintf(w, ", sha256 %s", shortHash(r.OutputSHA256))
			}
			fmt.Fprintln(w, ")")
		}
	}
	return nil
}

func newCmdStateVerify(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "verify FILE",
		Short: "Recompute the totals from the stored transactions and check them",
		Long: `Check the database's integrity and every segment's checksum, then add up what every
stored transaction contributed and compare it, row by row and figure by figure, with the
stored totals. Also says whether the last run's --out file still holds what it wrote.
Exit 0 when all agree, 1 when something differs, 2 when the file cannot be read.`,
		Args:    cobra.ExactArgs(1),
		Example: `  taxagg state verify totals.state`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return stateVerify(cmd.Context(), f.IO.Out, args[0])
		},
	}
}

func stateVerify(ctx context.Context, w io.Writer, path string) error {
	st, err := openStateRO(ctx, path)
	if err != nil {
		return err
	}
	defer st.Close()
	rep, err := st.Verify(ctx)
	if err != nil {
		return err
	}
	if len(rep.Problems) > 0 {
		return &FindingsError{Msg: fmt.Sprintf("state %s: FAILED:\n%s", path, strings.Join(rep.Problems, "\n"))}
	}
	fmt.Fprintf(w, "state %s: ok: %d transactions, %d rows; totals equal the sums of the stored transactions\n", path, rep.Transactions, rep.Rows)
	runs, err := st.Runs(ctx)
	if err != nil {
		return err
	}
	if n := len(runs); n > 0 && runs[n-1].Output != "" && runs[n-1].OutputSHA256 != "" {
		r := runs[n-1]
		data, err := os.ReadFile(r.Output)
		switch {
		case err != nil:
			fmt.Fprintf(w, "note: the last run's output %s cannot be read (%v); run again to write it\n", r.Output, err)
		default:
			sum := sha256.Sum256(data)
			if hex.EncodeToString(sum[:]) == r.OutputSHA256 {
				fmt.Fprintf(w, "the last run's output %s is as written\n", r.Output)
			} else {
				fmt.Fprintf(w, "note: %s differs from what the last run wrote; run again to write it from the state\n", r.Output)
			}
		}
	}
	return nil
}

func newCmdStateExport(f *Factory) *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:     "export FILE",
		Short:   "Write a state's mergeable partial (totals and the ids they count)",
		Args:    cobra.ExactArgs(1),
		Example: `  taxagg state export -o day.partial totals.state`,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			st, err := openStateRO(ctx, args[0])
			if err != nil {
				return err
			}
			defer st.Close()
			if st.Fresh() {
				return fmt.Errorf("state %s is empty: no run committed yet", args[0])
			}
			if out == "" || out == "-" {
				return exportPartial(ctx, st, f.IO.Out)
			}
			af, err := createAtomic(out)
			if err != nil {
				return err
			}
			if err := exportPartial(ctx, st, af); err != nil {
				af.abort()
				return err
			}
			return af.commit()
		},
	}
	cmd.Flags().StringVarP(&out, "out", "o", "", "write the partial to `FILE` atomically (default: stdout)")
	return cmd
}
