package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/taxagg/taxagg/internal/money"
	"github.com/taxagg/taxagg/internal/nexus"
	"github.com/taxagg/taxagg/internal/pack"
	"github.com/taxagg/taxagg/internal/pipeline"
	"github.com/taxagg/taxagg/internal/rules"
	"github.com/taxagg/taxagg/internal/stream"
)

// NexusOptions are nexus's flags and arguments.
type NexusOptions struct {
	txOptions
	Currency string
	TempDir  string
}

// NewCmdNexus builds `taxagg nexus`. runF replaces the run function in
// tests of flag parsing.
func NewCmdNexus(f *Factory, runF func(context.Context, *NexusOptions) error) *cobra.Command {
	opts := &NexusOptions{}
	cmd := &cobra.Command{
		Use:   "nexus [flags] [FILE ...]",
		Short: "Economic-nexus exposure per jurisdiction (stdin when no FILE or FILE is -)",
		Long: `Read transactions as aggregate does and measure them against every jurisdiction's
economic-nexus threshold (the rules' nexus: sales, transactions, combine, window).
One row per jurisdiction that saw a transaction and per window period:

  jurisdiction, name, window, period, as_of, currency, sales, transactions,
  sales_threshold, transactions_threshold, combine, status, carried_over,
  crossed_date, crossed_id, other_currency_transactions

calendar_year: one row per year; a year whose previous year crossed is exceeded from
its first day (carried_over). rolling_12_months: the twelve months ending on the last
day of the data, tested at the close of each day; crossed_date is the first crossing.
status is exceeded, upcoming (the test passes at 85% of the thresholds) or monitoring.
A threshold is met at greater than or equal. Sales are gross (exempt sales included),
net of refunds; refunds are not transactions. Only sales in --currency count; others are
counted in other_currency_transactions. The crossing transaction is the first, in date
and time order (then id), after which the totals pass the test: the same for any input
order and any --workers. The table format adds the percentage of each threshold reached.`,
		Example: `  taxagg nexus testdata/sample.ndjson
  taxagg nexus --format csv 2024.ndjson.gz 2025.ndjson.gz > nexus.csv
  taxagg nexus tx.ndjson | jq 'select(.status != "monitoring")'`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Files = args
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return nexusRun(cmd.Context(), f, opts)
		},
	}
	addTxFlags(cmd, &opts.txOptions, false)
	cmd.Flags().StringVar(&opts.Currency, "currency", "USD", "the thresholds' `CODE`: only sales in it count")
	cmd.Flags().StringVar(&opts.TempDir, "temp-dir", "", "`DIR` for the scratch files (default: the system's)")
	addStateFlags(cmd, &opts.stateFlags, false)
	return cmd
}

// nexusSink hands each worker its share of the tracker.
type nexusSink struct{ t *nexus.Tracker }

func (s nexusSink) NewWorker() pipeline.WorkerSink { return nexusWorker{s.t.NewWorker()} }
func (s nexusSink) Ordered() bool                  { return false }
func (s nexusSink) Emit(*pipeline.Item) error      { return nil }

type nexusWorker struct{ w *nexus.Worker }

func (w nexusWorker) Render(*pipeline.Item)    {}
func (w nexusWorker) Accept(it *pipeline.Item) { w.w.Add(&it.Tx, &it.Result) }

// PrefetchAccept brings in the records' day window entries, then (those
// now in cache) the figures they lead to.
func (w nexusWorker) PrefetchAccept(items []*pipeline.Item) {
	for _, it := range items {
		w.w.PrefetchDays(&it.Tx, &it.Result)
	}
	for _, it := range items {
		w.w.PrefetchSums(&it.Tx, &it.Result)
	}
}

// nexusManifest is the JSON output's manifest: aggregate's plus the
// thresholds' currency.
type nexusManifest struct {
	manifest
	Currency string `json:"currency"`
}

func nexusRun(ctx context.Context, f *Factory, opts *NexusOptions) error {
	cur, ok := money.LookupCurrency(opts.Currency)
	if !ok {
		return usageErrorf("--currency %q is not an ISO 4217 currency", opts.Currency)
	}
	sr, err := newStateRun(ctx, f, &opts.txOptions, "nexus")
	if err != nil {
		return err
	}
	defer sr.close()
	// Checked against the table's columns, which hold all the others.
	w, target, finish, err := opts.recordOutput(f, nexusColumns(true))
	if err != nil {
		return err
	}
	w = sr.hashOutput(w)
	tracker := nexus.New(nexus.Options{Currency: cur, TempDir: opts.TempDir})
	// The tracker (and a state's record) need no tax figures: a
	// transaction's jurisdictions and its lines' amounts, and tax lines
	// only for a tax-included line, which the decimal path always takes
	// (its lines are there in any mode). Compact plans build the least.
	opts.fixedOnly, opts.compact = true, true
	defer tracker.Close() // scratch files go on every way out
	err = runTx(ctx, f, &opts.txOptions, "nexus", nexusSink{tracker}, func(prog *rules.Program) error {
		if !anyNexus(prog) {
			// Rule files imported from rate tables carry no thresholds:
			// say so rather than print an empty report.
			fmt.Fprintf(f.IO.ErrOut, "taxagg nexus: warning: no jurisdiction in %s has a nexus threshold; "+
				"layer the rules on the embedded pack for its thresholds (--rules %s --rules FILE)\n",
				strings.Join(prog.Files, ", "), pack.Name)
		}
		if err := sr.replayNexus(ctx, prog, tracker); err != nil {
			return err
		}
		rows, err := tracker.Rows(ctx)
		if err != nil {
			return err
		}
		m := nexusManifest{
			manifest: manifest{Version: versionString(), Inputs: sr.manifestInputs(fileNames(opts.Files)), Rules: prog.Files,
				RulesSHA256: prog.SHA256, Timezone: opts.Timezone},
			Currency: cur.Code,
		}
		return writeNexus(w, target, rows, &m)
	})
	if cerr := tracker.Close(); cerr != nil && err == nil {
		err = cerr
	}
	return finish(err)
}

// nexusColumns are the columns of docs/nexus.md; the table adds the share of
// each threshold reached.
func nexusColumns(table bool) []stream.Column {
	cols := []stream.Column{
		{Name: "jurisdiction"}, {Name: "name", Drop: 9}, {Name: "window", Drop: 4}, {Name: "period"},
		{Name: "as_of", Drop: 1}, {Name: "currency"},
		{Name: "sales", Kind: stream.Money},
		{Name: "transactions", Kind: stream.Number},
		{Name: "sales_threshold", Kind: stream.Money, Drop: 2},
		{Name: "transactions_threshold", Kind: stream.Number, Drop: 3},
		{Name: "combine", Drop: 7},
	}
	if table {
		cols = append(cols,
			stream.Column{Name: "sales_pct", Kind: stream.Number},
			stream.Column{Name: "transactions_pct", Kind: stream.Number})
	}
	return append(cols,
		stream.Column{Name: "status"},
		stream.Column{Name: "carried_over", Kind: stream.RawJSON, Drop: 6},
		stream.Column{Name: "crossed_date"},
		stream.Column{Name: "crossed_id", Drop: 5},
		stream.Column{Name: "other_currency_transactions", Kind: stream.Number, Drop: 8},
	)
}

func writeNexus(w io.Writer, target rowTarget, rows []nexus.Row, m *nexusManifest) error {
	format := target.format
	var ropt stream.RowOptions
	if format == stream.OutputJSON {
		mj, err := json.Marshal(m)
		if err != nil {
			return err
		}
		ropt.JSONPrefix = `{"manifest":` + string(mj) + `,"rows":[`
		ropt.JSONSuffix = `]}`
	}
	table := format == stream.OutputTable
	rw, _, err := target.open(w, nexusColumns(table), ropt)
	if err != nil {
		return err
	}
	vals := make([]string, 0, 20)
	for i := range rows {
		r := &rows[i]
		n := r.Jurisdiction.Nexus
		salesT, countT := "", ""
		if n.HasSales {
			salesT = formatMoney(n.Sales, r.Currency.Digits)
		}
		if n.Transactions > 0 {
			countT = stream.Itoa(n.Transactions)
		}
		vals = append(vals[:0], r.Jurisdiction.Code, r.Jurisdiction.Name, r.Window.String(), r.Period,
			r.AsOf.String(), r.Currency.Code,
			formatMoney(r.Sales, r.Currency.Digits), stream.Itoa(r.Transactions),
			salesT, countT, n.Combine.String())
		if table {
			sp, _ := r.SalesPercent()
			tp, _ := r.TransactionsPercent()
			vals = append(vals, nexusPct(sp), nexusPct(tp))
		}
		crossedDate := ""
		if r.Crossed {
			crossedDate = r.CrossedDate.String()
		}
		vals = append(vals, r.Status.String(), nexusBool(r.CarriedOver), crossedDate, r.CrossedID,
			stream.Itoa(r.OtherCurrency))
		if err := rw.Write(vals); err != nil {
			return err
		}
	}
	return rw.Close()
}

func nexusPct(s string) string {
	if s == "" {
		return ""
	}
	return s + "%"
}

func nexusBool(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

func anyNexus(prog *rules.Program) bool {
	for _, j := range prog.Jurisdictions {
		if j.Nexus != nil {
			return true
		}
	}
	return false
}
