package cli

import (
	"context"
	"encoding/json"
	"io"
	"sync"

	"github.com/spf13/cobra"

	"github.com/taxagg/taxagg/internal/aggregate"
	"github.com/taxagg/taxagg/internal/money"
	"github.com/taxagg/taxagg/internal/pipeline"
	"github.com/taxagg/taxagg/internal/rules"
	"github.com/taxagg/taxagg/internal/stream"
)

// AggregateOptions are aggregate's flags and arguments.
type AggregateOptions struct {
	txOptions
	// Charged reports tax charged against tax owed per state instead.
	Charged bool
}

// NewCmdAggregate builds `taxagg aggregate`. runF replaces the run function
// in tests of flag parsing.
func NewCmdAggregate(f *Factory, runF func(context.Context, *AggregateOptions) error) *cobra.Command {
	opts := &AggregateOptions{}
	cmd := &cobra.Command{
		Use:   "aggregate [flags] [FILE ...]",
		Short: "Total the tax owed per jurisdiction (stdin when no FILE or FILE is -)",
		Long: `Read transactions (NDJSON, a JSON array, CSV; gzip is detected) and print one row per
jurisdiction, tax and currency (and period with --period, rate with --by-rate):

  jurisdiction, name, level, tax, period, currency, [rate,] transactions, gross_sales,
  exempt_sales, non_taxable_sales, taxable_sales, tax_amount, tax_exact

gross_sales = exempt_sales + non_taxable_sales + taxable_sales in every row; refunds count
negative; tax_exact is the exact unrounded sum, so tax_amount - tax_exact is the row's
rounding residual. A summary "read = accepted + rejected + duplicates; accepted = taxed +
untaxed (unmatched + no_tax)" goes to stderr: sales that matched no jurisdiction, or only
jurisdictions without a tax in force, are counted there with their gross per currency
(--unmatched FILE lists the unmatched ones; --require-match makes them bad records).`,
		Example: `  taxagg aggregate testdata/sample.ndjson
  taxagg aggregate --rules my-rules.yaml --period month --format csv tx.ndjson.gz > q1.csv
  cat tx.ndjson | taxagg aggregate --rejects bad.ndjson | jq 'select(.jurisdiction=="US-TX")'`,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Files = args
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return aggregateRun(cmd.Context(), f, opts)
		},
	}
	addTxFlags(cmd, &opts.txOptions, true)
	addStateFlags(cmd, &opts.stateFlags, true)
	cmd.Flags().BoolVar(&opts.Charged, "charged", false, "report the tax charged (tax_charged, from the source) against the tax owed, per country, state and currency")
	return cmd
}

// aggregateSink gives each worker an accumulator and merges them at the end.
type aggregateSink struct {
	opt  aggregate.Options
	mu   sync.Mutex
	accs []*aggregate.Accumulator
}

func (s *aggregateSink) NewWorker() pipeline.WorkerSink {
	a := aggregate.New(s.opt)
	s.mu.Lock()
	s.accs = append(s.accs, a)
	s.mu.Unlock()
	return aggWorker{a}
}

func (s *aggregateSink) Ordered() bool             { return false }
func (s *aggregateSink) Emit(*pipeline.Item) error { return nil }

func (s *aggregateSink) total() *aggregate.Accumulator {
	total := aggregate.New(s.opt)
	for _, a := range s.accs {
		total.Merge(a)
	}
	return total
}

type aggWorker struct{ acc *aggregate.Accumulator }

func (w aggWorker) Render(*pipeline.Item)    {}
func (w aggWorker) Accept(it *pipeline.Item) { w.acc.Add(&it.Tx, &it.Result) }

// PrefetchAccept brings in the records' compact figures, then (those now
// in cache) the sums they are added to.
func (w aggWorker) PrefetchAccept(items []*pipeline.Item) {
	for _, it := range items {
		w.acc.PrefetchSlots(&it.Result)
	}
	for _, it := range items {
		w.acc.PrefetchRows(&it.Tx, &it.Result)
	}
}

func aggregateRun(ctx context.Context, f *Factory, opts *AggregateOptions) error {
	period, err := aggregate.ParsePeriod(opts.Period)
	if err != nil {
		return &UsageError{Err: err}
	}
	if opts.Charged && opts.ByRate {
		return usageErrorf("--charged reports per state, not per rate: drop --by-rate")
	}
	sr, err := newStateRun(ctx, f, &opts.txOptions, "aggregate")
	if err != nil {
		return err
	}
	defer sr.close()
	if opts.Charged && sr != nil {
		return usageErrorf("--charged does not combine with --state, --shard or --partial")
	}
	cols := aggregateColumns(opts.ByRate)
	if opts.Charged {
		cols = chargedColumns
	}
	w, target, finish, err := opts.recordOutput(f, cols)
	if err != nil {
		return err
	}
	w = sr.hashOutput(w)
	if opts.Charged {
		cs := &chargedSink{period: period}
		opts.fixedOnly = true
		err = runTx(ctx, f, &opts.txOptions, "aggregate", cs, func(*rules.Program) error {
			return writeCharged(w, target, cs.rows())
		})
		return finish(err)
	}
	sink := &aggregateSink{opt: aggregate.Options{Period: period, ByRate: opts.ByRate}}
	opts.fixedOnly = true // the Accumulator sums Fixed figures when they are there
	// Without rates in the rows, a tax's figures per transaction are all
	// the Accumulator needs (rules.Evaluator.Compact).
	opts.compact = !opts.ByRate
	err = runTx(ctx, f, &opts.txOptions, "aggregate", sink, func(prog *rules.Program) error {
		m := manifest{Version: versionString(), Inputs: sr.manifestInputs(fileNames(opts.Files)), Rules: prog.Files,
			RulesSHA256: prog.SHA256, Timezone: opts.Timezone, ByRate: opts.ByRate}
		if period != aggregate.PeriodNone {
			m.Period = opts.Period
		}
		rows, err := sr.aggregateRows(ctx, sink.total())
		if err != nil {
			return err
		}
		return writeAggregate(w, target, rows, opts.ByRate, &m)
	})
	return finish(err)
}

func fileNames(files []string) []string {
	if len(files) == 0 {
		return []string{"stdin"}
	}
	out := make([]string, len(files))
	for i, f := range files {
		if f == "-" {
			f = "stdin"
		}
		out[i] = f
	}
	return out
}

// aggregateColumns are the columns of docs/output.md. Drop says which a
// table too wide for the terminal leaves out first.
func aggregateColumns(byRate bool) []stream.Column {
	cols := []stream.Column{
		{Name: "jurisdiction"}, {Name: "name", Drop: 5}, {Name: "level", Drop: 6}, {Name: "tax"},
		{Name: "period"}, {Name: "currency"},
	}
	if byRate {
		cols = append(cols, stream.Column{Name: "rate"})
	}
	return append(cols,
		stream.Column{Name: "transactions", Kind: stream.Number, Drop: 1},
		stream.Column{Name: "gross_sales", Kind: stream.Money},
		stream.Column{Name: "exempt_sales", Kind: stream.Money, Drop: 3},
		stream.Column{Name: "non_taxable_sales", Kind: stream.Money, Drop: 4},
		stream.Column{Name: "taxable_sales", Kind: stream.Money},
		stream.Column{Name: "tax_amount", Kind: stream.Money},
		stream.Column{Name: "tax_exact", Kind: stream.Money, Drop: 2},
	)
}

func writeAggregate(w io.Writer, target rowTarget, rows []aggregate.Row, byRate bool, m *manifest) error {
	var ropt stream.RowOptions
	if target.format == stream.OutputJSON {
		mj, err := json.Marshal(m)
		if err != nil {
			return err
		}
		ropt.JSONPrefix = `{"manifest":` + string(mj) + `,"rows":[`
		ropt.JSONSuffix = `]}`
	}
	rw, _, err := target.open(w, aggregateColumns(byRate), ropt)
	if err != nil {
		return err
	}
	vals := make([]string, 0, 16)
	for _, r := range rows {
		vals = append(vals[:0], r.Jurisdiction, r.Name, r.Level, r.Tax, r.Period, r.Currency)
		if byRate {
			rate := ""
			if r.HasRate {
				rate = r.Rate.String()
			}
			vals = append(vals, rate)
		}
		vals = append(vals,
			stream.Itoa(r.Transactions),
			money.Format(r.Gross, r.Digits),
			money.Format(r.Exempt, r.Digits),
			money.Format(r.NonTaxable, r.Digits),
			money.Format(r.Taxable, r.Digits),
			money.Format(r.TaxAmount, r.Digits),
			formatMoney(r.TaxExact, r.Digits),
		)
		if err := rw.Write(vals); err != nil {
			return err
		}
	}
	return rw.Close()
}
