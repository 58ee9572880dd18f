package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/taxagg/taxagg/internal/stream"
	"github.com/taxagg/taxagg/internal/txn"
)

// ExplainOptions are explain's flags and arguments.
type ExplainOptions struct {
	Rules       []string
	InputFormat string
	Timezone    string
	IDs         []string
	Limit       int
	File        string
	fromOptions
}

// NewCmdExplain builds `taxagg explain`.
func NewCmdExplain(f *Factory, runF func(context.Context, *ExplainOptions) error) *cobra.Command {
	opts := &ExplainOptions{}
	cmd := &cobra.Command{
		Use:   "explain [flags] [FILE|-]",
		Short: "Say why each tax applied or not, for a few transactions, as text",
		Long: `For each transaction (the first --limit, or those named with --id), say which jurisdictions
it falls in and which it misses and why, which taxes are not in force on its date, and how
each line was treated by each tax: rate, taxability, caps, exemptions, rounding.`,
		Example: `  taxagg explain --id ord_1042 orders.ndjson
  echo '{"id":"t1","date":"2025-06-01","currency":"USD","amount":"100.00","country":"US","state":"TX","product":"saas"}' | taxagg explain`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				opts.File = args[0]
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return explainRun(cmd.Context(), f, opts)
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVar(&opts.Rules, "rules", nil, "rule `FILE` (repeatable); default: the embedded US pack")
	fl.StringVar(&opts.InputFormat, "input-format", "auto", "input format: auto, ndjson, json or csv")
	fl.StringVar(&opts.Timezone, "timezone", "UTC", "IANA time `ZONE` for date-only comparisons")
	fl.StringArrayVar(&opts.IDs, "id", nil, "explain the transaction with this `ID` (repeatable)")
	fl.IntVar(&opts.Limit, "limit", 5, "explain at most `N` transactions")
	addFromFlags(cmd, &opts.fromOptions)
	return cmd
}

func explainRun(ctx context.Context, f *Factory, opts *ExplainOptions) error {
	prog, err := loadRules(ctx, opts.Rules)
	if err != nil {
		return err
	}
	printRuleWarnings(f, prog)
	format, err := stream.ParseFormat(opts.InputFormat)
	if err != nil {
		return &UsageError{Err: err}
	}
	loc, err := time.LoadLocation(opts.Timezone)
	if err != nil {
		return usageErrorf("--timezone %q is not a known IANA time zone", opts.Timezone)
	}
	files := []string{}
	if opts.File != "" {
		files = append(files, opts.File)
	}
	ins, closeAll, err := openInputs(ctx, files, f.IO.In)
	if err != nil {
		return err
	}
	defer closeAll()
	in := ins[0]
	conv, err := opts.converter(f.IO.ErrOut)
	if err != nil {
		return err
	}
	if conv != nil {
		if err := indexInputs(ctx, conv, ins); err != nil {
			return err
		}
		format = mappingFormat(format, conv)
	}
	r, err := stream.Open(in.Name, interruptible(ctx, in.R), format, stream.Options{})
	if err != nil {
		return err
	}
	var convBuf []byte
	want := map[string]bool{}
	for _, id := range opts.IDs {
		want[id] = true
	}
	// With --id, exactly the transactions named (the first record of each
	// id), whatever --limit says; without, the first --limit records.
	byID := len(want) > 0
	parser := txn.NewParser(txn.ParseOptions{Location: loc})
	shown := 0
	out := f.IO.Out
	for (byID && len(want) > 0) || (!byID && shown < opts.Limit) {
		if err := ctx.Err(); err != nil {
			return err
		}
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			// The reader cannot go on past this point of the input.
			fmt.Fprintf(out, "%v\n", err)
			break
		}
		if rec.Err != nil {
			if !byID {
				fmt.Fprintf(out, "%v (the record is rejected)\n\n", rec.Err)
				shown++
			}
			continue
		}
		var tx txn.Transaction
		if conv != nil {
			// A billing record: converted first. A skipped one (a draft, a
			// void) is listed with its reason, as aggregate counts it; --id
			// cannot name it, since it never becomes a transaction.
			var skip string
			if rec.CSV != nil {
				convBuf, skip, err = conv.ConvertCSV(rec.Source, r.Header(), rec.CSV, convBuf[:0])
			} else {
				convBuf, skip, err = conv.ConvertJSON(rec.Source, rec.Text, convBuf[:0])
			}
			if skip != "" {
				if !byID {
					fmt.Fprintf(out, "%s:%d: skipped: %s (not a sale: counted as skipped, not taxed)\n\n", rec.Source, rec.Line, skip)
					shown++
				}
				continue
			}
			if err == nil {
				err = parser.ParseJSON(convBuf, &tx)
			}
		} else if rec.CSV != nil {
			err = parser.ParseCSVRow(r.Header(), rec.CSV, rec.Text, &tx)
		} else {
			err = parser.ParseJSON(rec.Text, &tx)
		}
		if byID {
			if err != nil || !want[tx.ID] {
				continue
			}
			delete(want, tx.ID)
		} else if shown >= opts.Limit {
			break
		}
		shown++
		if err != nil {
			fmt.Fprintf(out, "%s:%d: %v (the record is rejected)\n\n", rec.Source, rec.Line, err)
			continue
		}
		fmt.Fprintf(out, "%s:%d: ", rec.Source, rec.Line)
		if err := prog.Explain(out, &tx); err != nil {
			return err
		}
		fmt.Fprintln(out)
	}
	missing := 0
	for _, id := range opts.IDs { // in the order given, each once
		if want[id] {
			fmt.Fprintf(f.IO.ErrOut, "transaction %s not found\n", id)
			want[id] = false
			missing++
		}
	}
	if missing > 0 {
		return &FindingsError{}
	}
	return nil
}
