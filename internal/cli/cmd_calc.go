package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"io"
	"strings"

	"github.com/shopspring/decimal"
	"github.com/spf13/cobra"

	"github.com/taxagg/taxagg/internal/pipeline"
	"github.com/taxagg/taxagg/internal/rules"
	"github.com/taxagg/taxagg/internal/stream"
	"github.com/taxagg/taxagg/internal/txn"
)

// CalcOptions are calc's flags and arguments.
type CalcOptions struct {
	txOptions
}

// NewCmdCalc builds `taxagg calc`.
func NewCmdCalc(f *Factory, runF func(context.Context, *CalcOptions) error) *cobra.Command {
	opts := &CalcOptions{}
	cmd := &cobra.Command{
		Use:   "calc [flags] [FILE ...]",
		Short: "Write each transaction with its tax lines, in input order",
		Long: `Write every accepted transaction, in input order, with all its input fields kept and two
fields added: "taxes", one entry per jurisdiction, tax, rate and reason

  {jurisdiction, tax, rate, taxable, exempt, non_taxable, tax_amount, reason}

and "tax_total". reason is one of standard_rated, reduced_rated, product_exempt,
customer_exempt, portion_taxable, below_threshold, capped, compound, fixed. The totals of
calc and aggregate agree for the same input. With --format csv or table, each transaction
is one row: id, date, type, currency, amount, tax_total and taxes (as JSON in CSV).` + exitStatusHelp,
		Example: `  taxagg calc testdata/sample.ndjson | jq -c '{id, tax_total}'
  taxagg calc --rules rules.yaml --format csv orders.csv > orders-with-tax.csv`,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Files = args
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return calcRun(cmd.Context(), f, opts)
		},
	}
	addTxFlags(cmd, &opts.txOptions, false)
	return cmd
}

func calcRun(ctx context.Context, f *Factory, opts *CalcOptions) error {
	w, tty, finish, err := opts.outputTarget(f.IO)
	if err != nil {
		return err
	}
	format, err := outputFormat(opts.Format, tty)
	if err != nil {
		finish(err)
		return err
	}
	sink := newCalcSink(w, format)
	err = runTx(ctx, f, &opts.txOptions, "calc", sink, func(*rules.Program) error { return sink.close() })
	return finish(err)
}

// calcSink renders each record in its worker and writes it in input order.
type calcSink struct {
	format stream.OutputFormat
	bw     *bufio.Writer
	table  stream.RowWriter
	n      int
	err    error
}

func newCalcSink(w io.Writer, format stream.OutputFormat) *calcSink {
	s := &calcSink{format: format, bw: bufio.NewWriterSize(w, 256<<10)}
	switch format {
	case stream.OutputCSV:
		cw := csv.NewWriter(s.bw)
		cw.Write(calcFlatColumns)
		cw.Flush()
	case stream.OutputTable:
		cols := make([]stream.Column, len(calcFlatColumns))
		for i, n := range calcFlatColumns {
			cols[i] = stream.Column{Name: n}
			if n == "amount" || n == "tax_total" {
				cols[i].Kind = stream.Money
			}
		}
		s.table = stream.NewRowWriter(w, stream.OutputTable, cols, stream.RowOptions{})
	}
	return s
}

var calcFlatColumns = []string{"id", "date", "type", "currency", "amount", "tax_total", "taxes"}

func (s *calcSink) NewWorker() pipeline.WorkerSink { return &calcWorker{format: s.format} }
func (s *calcSink) Ordered() bool                  { return true }

func (s *calcSink) Emit(it *pipeline.Item) error {
	if s.err != nil {
		return s.err
	}
	switch s.format {
	case stream.OutputTable:
		s.err = s.table.Write(strings.Split(string(it.Out), "\x00"))
		return s.err
	case stream.OutputJSON:
		if s.n == 0 {
			s.bw.WriteString("[\n")
		} else {
			s.bw.WriteString(",\n")
		}
	}
	s.n++
	s.bw.Write(it.Out)
	if s.bw.Available() < 4096 {
		s.err = s.bw.Flush()
	}
	return s.err
}

func (s *calcSink) close() error {
	if s.err != nil {
		return s.err
	}
	switch s.format {
	case stream.OutputTable:
		return s.table.Close()
	case stream.OutputJSON:
		if s.n == 0 {
			s.bw.WriteString("[")
		} else {
			s.bw.WriteString("\n")
		}
		s.bw.WriteString("]\n")
	}
	return s.bw.Flush()
}

type calcWorker struct {
	format stream.OutputFormat
	buf    bytes.Buffer
	bw     *bufio.Writer
}

func (w *calcWorker) Accept(*pipeline.Item) {}

func (w *calcWorker) Render(it *pipeline.Item) {
	w.buf.Reset()
	if w.bw == nil {
		w.bw = bufio.NewWriter(&w.buf)
	} else {
		w.bw.Reset(&w.buf)
	}
	digits := it.Tx.Currency.Digits
	total := decimal.Decimal{}
	for i := range it.Result.Lines {
		total = total.Add(it.Result.Lines[i].Amount)
	}
	switch w.format {
	case stream.OutputNDJSON, stream.OutputJSON:
		writeCalcJSON(w.bw, it, total, digits)
		if w.format == stream.OutputNDJSON {
			w.bw.WriteByte('\n')
		}
	case stream.OutputCSV, stream.OutputTable:
		var taxes bytes.Buffer
		tw := bufio.NewWriter(&taxes)
		writeTaxesJSON(tw, it, digits)
		tw.Flush()
		vals := calcFlatValues(it, total, digits, taxes.String())
		if w.format == stream.OutputTable {
			vals[len(vals)-1] = taxSummary(it)
			w.bw.WriteString(strings.Join(vals, "\x00"))
		} else {
			cw := csv.NewWriter(w.bw)
			cw.Write(vals)
			cw.Flush()
		}
	}
	w.bw.Flush()
	it.Out = append(it.Out[:0], w.buf.Bytes()...)
}

func calcFlatValues(it *pipeline.Item, total decimal.Decimal, digits int32, taxes string) []string {
	amount := decimal.Decimal{}
	for _, l := range it.Tx.Lines {
		amount = amount.Add(l.Amount)
	}
	typ := "sale"
	if it.Tx.Refund {
		typ = "refund"
	}
	return []string{it.Tx.ID, it.Tx.Day.String(), typ, it.Tx.Currency.Code,
		formatMoney(amount, digits), formatMoney(total, digits), taxes}
}

func taxSummary(it *pipeline.Item) string {
	var parts []string
	for _, l := range it.Result.Lines {
		parts = append(parts, l.Tax.ID+" "+formatMoney(l.Amount, it.Tx.Currency.Digits))
	}
	return strings.Join(parts, ", ")
}

// writeCalcJSON writes the record's own fields, as written, then taxes and
// tax_total (replacing input fields of those names).
func writeCalcJSON(w *bufio.Writer, it *pipeline.Item, total decimal.Decimal, digits int32) {
	w.WriteByte('{')
	n := 0
	if it.Fields != nil {
		for _, fld := range it.Fields {
			if string(fld.Key) == "taxes" || string(fld.Key) == "tax_total" {
				continue
			}
			if n > 0 {
				w.WriteByte(',')
			}
			n++
			w.Write(fld.RawKey)
			w.WriteByte(':')
			w.Write(fld.Value)
		}
	} else {
		for i, h := range it.Header {
			if h == "taxes" || h == "tax_total" || i >= len(it.CSV) {
				continue
			}
			if n > 0 {
				w.WriteByte(',')
			}
			n++
			stream.WriteJSONString(w, h)
			w.WriteByte(':')
			stream.WriteJSONString(w, it.CSV[i])
		}
	}
	if n > 0 {
		w.WriteByte(',')
	}
	w.WriteString(`"taxes":`)
	writeTaxesJSON(w, it, digits)
	w.WriteString(`,"tax_total":"`)
	w.WriteString(formatMoney(total, digits))
	w.WriteString(`"}`)
}

func writeTaxesJSON(w *bufio.Writer, it *pipeline.Item, digits int32) {
	w.WriteByte('[')
	for i := range it.Result.Lines {
		l := &it.Result.Lines[i]
		if i > 0 {
			w.WriteByte(',')
		}
		w.WriteString(`{"jurisdiction":`)
		stream.WriteJSONString(w, l.Tax.Jurisdiction.Code)
		w.WriteString(`,"tax":`)
		stream.WriteJSONString(w, l.Tax.ID)
		w.WriteString(`,"rate":`)
		if l.HasRate {
			w.WriteString(`"` + l.Rate.String() + `"`)
		} else {
			w.WriteString("null")
		}
		w.WriteString(`,"taxable":"` + formatMoney(l.Taxable, digits))
		w.WriteString(`","exempt":"` + formatMoney(l.Exempt, digits))
		w.WriteString(`","non_taxable":"` + formatMoney(l.NonTaxable, digits))
		w.WriteString(`","tax_amount":"` + formatMoney(l.Amount, digits))
		w.WriteString(`","reason":"` + l.Reason.String() + `"}`)
	}
	w.WriteByte(']')
}

// formatMoney prints an amount with the currency's minor unit, or exactly
// when it carries more digits (a tax rounded only in aggregate).
func formatMoney(d decimal.Decimal, digits int32) string {
	if d.Exponent() >= -digits || d.Equal(d.Truncate(digits)) {
		return d.StringFixed(digits)
	}
	return d.String()
}

var _ = txn.RawField{}
