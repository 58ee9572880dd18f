package cli

import (
	"bufio"
	"context"
	"encoding/csv"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/shopspring/decimal"
	"github.com/spf13/cobra"

	"github.com/taxagg/taxagg/internal/money"
	"github.com/taxagg/taxagg/internal/pipeline"
	"github.com/taxagg/taxagg/internal/rules"
	"github.com/taxagg/taxagg/internal/stream"
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
	addStateFlags(cmd, &opts.stateFlags, false)
	return cmd
}

func calcRun(ctx context.Context, f *Factory, opts *CalcOptions) error {
	sr, err := newStateRun(ctx, f, &opts.txOptions, "calc")
	if err != nil {
		return err
	}
	defer sr.close()
	if sr != nil && sr.store != nil {
		return calcStateRun(ctx, f, opts, sr)
	}
	w, tty, finish, err := opts.outputTarget(f.IO)
	if err != nil {
		return err
	}
	format, err := outputFormat(opts.Format, tty)
	if err != nil {
		finish(err)
		return err
	}
	sink := newCalcSink(w, format, true)
	// Only the table reads a tax line's decimals (calcFlatValues).
	opts.fixedOnly = format != stream.OutputTable
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

func newCalcSink(w io.Writer, format stream.OutputFormat, header bool) *calcSink {
	s := &calcSink{format: format, bw: bufio.NewWriterSize(w, 256<<10)}
	switch format {
	case stream.OutputCSV:
		if !header {
			break
		}
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

// calcWorker renders one worker's records. On the common path (every tax
// line computed by the rules' fixed-point path) it appends straight into
// it.Out without allocating: money figures through money.AppendMoney, each
// tax's JSON head and rate texts cached once per worker. Anything else
// falls back to the decimal figures and formatMoney; the bytes are the same
// either way.
type calcWorker struct {
	format  stream.OutputFormat
	scratch []byte // the taxes JSON of a CSV row
	taxes   map[*rules.Tax]*taxText
}

// taxText is what calc prints of a tax that never changes: the head of its
// JSON entry and the texts of the rates seen so far.
type taxText struct {
	head  []byte // {"jurisdiction":…,"tax":…,"rate":
	rates []rateText
}

// rateText is a rate's printed text, keyed by its exact coefficient and
// exponent (decimal.String depends on the value alone, so equal keys give
// equal texts).
type rateText struct {
	f    money.Fixed
	text string
}

// maxRateTexts bounds a tax's rate cache; past it, rates are formatted
// each time.
const maxRateTexts = 16

func (w *calcWorker) Accept(*pipeline.Item) {}

func (w *calcWorker) Render(it *pipeline.Item) {
	digits := it.Tx.Currency.Digits
	out := it.Out[:0]
	switch w.format {
	case stream.OutputNDJSON, stream.OutputJSON:
		out = w.appendCalcJSON(out, it, digits)
		if w.format == stream.OutputNDJSON {
			out = append(out, '\n')
		}
	case stream.OutputCSV:
		w.scratch = w.appendTaxesJSON(w.scratch[:0], it, digits)
		out = appendCSVField(out, it.Tx.ID)
		out = append(out, ',')
		out = it.Tx.Day.Time().AppendFormat(out, "2006-01-02")
		out = append(out, ',')
		out = appendCSVField(out, txType(it))
		out = append(out, ',')
		out = appendCSVField(out, it.Tx.Currency.Code)
		out = append(out, ',')
		out = appendTxAmount(out, it, digits)
		out = append(out, ',')
		out = appendTaxTotal(out, it, digits)
		out = append(out, ',')
		out = appendCSVField(out, w.scratch)
		out = append(out, '\n')
	case stream.OutputTable:
		vals := calcFlatValues(it, taxTotal(it), digits, taxSummary(it))
		out = append(out, strings.Join(vals, "\x00")...)
	}
	it.Out = out
}

func txType(it *pipeline.Item) string {
	if it.Tx.Refund {
		return "refund"
	}
	return "sale"
}

// taxTotal is the sum of the record's tax amounts, as a decimal.
func taxTotal(it *pipeline.Item) decimal.Decimal {
	total := decimal.Decimal{}
	for i := range it.Result.Lines {
		total = total.Add(it.Result.Lines[i].Amount)
	}
	return total
}

// appendTaxTotal appends the printed sum of the record's tax amounts.
func appendTaxTotal(dst []byte, it *pipeline.Item, digits int32) []byte {
	var total money.Fixed
	ok := true
	for i := range it.Result.Lines {
		l := &it.Result.Lines[i]
		if !l.Fixed.OK {
			ok = false
			break
		}
		if total, ok = total.Add(l.Fixed.Amount); !ok {
			break
		}
	}
	if ok {
		return money.AppendMoney(dst, total, digits)
	}
	return append(dst, formatMoney(taxTotal(it), digits)...)
}

// appendTxAmount appends the printed sum of the record's line amounts.
func appendTxAmount(dst []byte, it *pipeline.Item, digits int32) []byte {
	var sum money.Fixed
	ok := true
	for i := range it.Tx.Lines {
		l := &it.Tx.Lines[i]
		f := l.AmountFixed
		if !l.Fixed {
			if f, ok = money.FixedOf(l.Amount); !ok {
				break
			}
		}
		if sum, ok = sum.Add(f); !ok {
			break
		}
	}
	if ok {
		return money.AppendMoney(dst, sum, digits)
	}
	return append(dst, formatMoney(txAmount(it), digits)...)
}

func txAmount(it *pipeline.Item) decimal.Decimal {
	amount := decimal.Decimal{}
	for _, l := range it.Tx.Lines {
		amount = amount.Add(l.Amount)
	}
	return amount
}

func calcFlatValues(it *pipeline.Item, total decimal.Decimal, digits int32, taxes string) []string {
	return []string{it.Tx.ID, it.Tx.Day.String(), txType(it), it.Tx.Currency.Code,
		formatMoney(txAmount(it), digits), formatMoney(total, digits), taxes}
}

func taxSummary(it *pipeline.Item) string {
	var parts []string
	for _, l := range it.Result.Lines {
		parts = append(parts, l.Tax.ID+" "+formatMoney(l.Amount, it.Tx.Currency.Digits))
	}
	return strings.Join(parts, ", ")
}

// appendCalcJSON appends the record's own fields, as written, then taxes
// and tax_total (replacing input fields of those names).
func (w *calcWorker) appendCalcJSON(dst []byte, it *pipeline.Item, digits int32) []byte {
	dst = append(dst, '{')
	n := 0
	if it.Fields != nil {
		for _, fld := range it.Fields {
			if string(fld.Key) == "taxes" || string(fld.Key) == "tax_total" {
				continue
			}
			if n > 0 {
				dst = append(dst, ',')
			}
			n++
			dst = append(dst, fld.RawKey...)
			dst = append(dst, ':')
			dst = append(dst, fld.Value...)
		}
	} else {
		for i, h := range it.Header {
			if h == "taxes" || h == "tax_total" || i >= len(it.CSV) {
				continue
			}
			if n > 0 {
				dst = append(dst, ',')
			}
			n++
			dst = stream.AppendJSONString(dst, h)
			dst = append(dst, ':')
			dst = stream.AppendJSONString(dst, it.CSV[i])
		}
	}
	if n > 0 {
		dst = append(dst, ',')
	}
	dst = append(dst, `"taxes":`...)
	dst = w.appendTaxesJSON(dst, it, digits)
	dst = append(dst, `,"tax_total":"`...)
	dst = appendTaxTotal(dst, it, digits)
	return append(dst, `"}`...)
}

// appendTaxesJSON appends the record's tax lines as a JSON array.
func (w *calcWorker) appendTaxesJSON(dst []byte, it *pipeline.Item, digits int32) []byte {
	dst = append(dst, '[')
	for i := range it.Result.Lines {
		l := &it.Result.Lines[i]
		if i > 0 {
			dst = append(dst, ',')
		}
		tt := w.taxText(l.Tax)
		dst = append(dst, tt.head...)
		if l.HasRate {
			dst = append(dst, '"')
			dst = append(dst, tt.rate(l.Rate)...)
			dst = append(dst, '"')
		} else {
			dst = append(dst, "null"...)
		}
		if f := &l.Fixed; f.OK {
			dst = append(dst, `,"taxable":"`...)
			dst = money.AppendMoney(dst, f.Taxable, digits)
			dst = append(dst, `","exempt":"`...)
			dst = money.AppendMoney(dst, f.Exempt, digits)
			dst = append(dst, `","non_taxable":"`...)
			dst = money.AppendMoney(dst, f.NonTaxable, digits)
			dst = append(dst, `","tax_amount":"`...)
			dst = money.AppendMoney(dst, f.Amount, digits)
		} else {
			dst = append(dst, `,"taxable":"`...)
			dst = append(dst, formatMoney(l.Taxable, digits)...)
			dst = append(dst, `","exempt":"`...)
			dst = append(dst, formatMoney(l.Exempt, digits)...)
			dst = append(dst, `","non_taxable":"`...)
			dst = append(dst, formatMoney(l.NonTaxable, digits)...)
			dst = append(dst, `","tax_amount":"`...)
			dst = append(dst, formatMoney(l.Amount, digits)...)
		}
		dst = append(dst, `","reason":"`...)
		dst = append(dst, l.Reason.String()...)
		dst = append(dst, `"}`...)
	}
	return append(dst, ']')
}

func (w *calcWorker) taxText(t *rules.Tax) *taxText {
	if tt, ok := w.taxes[t]; ok {
		return tt
	}
	if w.taxes == nil {
		w.taxes = make(map[*rules.Tax]*taxText)
	}
	head := append([]byte(nil), `{"jurisdiction":`...)
	head = stream.AppendJSONString(head, t.Jurisdiction.Code)
	head = append(head, `,"tax":`...)
	head = stream.AppendJSONString(head, t.ID)
	head = append(head, `,"rate":`...)
	tt := &taxText{head: head}
	w.taxes[t] = tt
	return tt
}

// rate returns r's text, from the cache when r's exact digits were seen.
func (tt *taxText) rate(r decimal.Decimal) string {
	f, ok := money.FixedOf(r)
	if !ok {
		return r.String()
	}
	for i := range tt.rates {
		if tt.rates[i].f == f {
			return tt.rates[i].text
		}
	}
	s := r.String()
	if len(tt.rates) < maxRateTexts {
		tt.rates = append(tt.rates, rateText{f: f, text: s})
	}
	return s
}

// appendCSVField appends one field as encoding/csv.Writer writes it (comma
// separator, LF line ends): quoted, with quotes doubled, when it holds a
// comma, quote, CR or LF, is \. or starts with a space.
func appendCSVField[T string | []byte](dst []byte, f T) []byte {
	if !csvNeedsQuotes(f) {
		return append(dst, f...)
	}
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(f); i++ {
		if f[i] == '"' {
			dst = append(dst, f[start:i+1]...)
			dst = append(dst, '"')
			start = i + 1
		}
	}
	dst = append(dst, f[start:]...)
	return append(dst, '"')
}

func csvNeedsQuotes[T string | []byte](f T) bool {
	if len(f) == 0 {
		return false
	}
	if len(f) == 2 && f[0] == '\\' && f[1] == '.' {
		return true
	}
	for i := 0; i < len(f); i++ {
		switch f[i] {
		case '\n', '\r', '"', ',':
			return true
		}
	}
	if c := f[0]; c < utf8.RuneSelf {
		return unicode.IsSpace(rune(c))
	}
	var b [utf8.UTFMax]byte
	r, _ := utf8.DecodeRune(b[:copy(b[:], f)])
	return unicode.IsSpace(r)
}

// formatMoney prints an amount with the currency's minor unit, or exactly
// when it carries more digits (a tax rounded only in aggregate).
func formatMoney(d decimal.Decimal, digits int32) string {
	if d.Exponent() >= -digits || d.Equal(d.Truncate(digits)) {
		return d.StringFixed(digits)
	}
	return d.String()
}
