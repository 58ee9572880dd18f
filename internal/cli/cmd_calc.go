package cli

import (
	"context"
	"strings"
	"unsafe"

	"github.com/shopspring/decimal"
	"github.com/spf13/cobra"

	"github.com/taxagg/taxagg/internal/billing"
	"github.com/taxagg/taxagg/internal/money"
	"github.com/taxagg/taxagg/internal/pipeline"
	"github.com/taxagg/taxagg/internal/prefetch"
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
calc and aggregate agree for the same input.

With --format csv or table, the output is long: one row per tax line, with the
transaction's id, date, type, currency, amount and tax_total, then the line's
jurisdiction, tax, rate, taxable, exempt, non_taxable, tax_amount and reason. A
transaction without tax lines is one row with the tax columns empty.`,
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
	// JSON output writes each record's own fields back (appendCalcJSON),
	// with or without a state.
	opts.fields = true
	sr, err := newStateRun(ctx, f, &opts.txOptions, "calc")
	if err != nil {
		return err
	}
	defer sr.close()
	if sr != nil && sr.store != nil {
		return calcStateRun(ctx, f, opts, sr)
	}
	// A billing source carries the tax it charged: two more columns.
	charged := opts.From != "" && opts.From != billing.PresetCanonical
	cols := calcColumns
	if charged {
		cols = calcChargedColumns
	}
	w, target, finish, err := opts.recordOutput(f, cols)
	if err != nil {
		return err
	}
	format := target.format
	rw, projected, err := target.open(w, cols, stream.RowOptions{})
	if err != nil {
		return finish(err)
	}
	sink := newCalcSink(rw, format, projected)
	sink.charged = charged
	// Only rows made from values read a tax line's decimals (calcRows).
	opts.fixedOnly = !sink.rows
	err = runTx(ctx, f, &opts.txOptions, "calc", sink, func(*rules.Program) error { return sink.w.Close() })
	return finish(err)
}

// calcColumns are the columns of calc's CSV and table output, the long
// form: one row per tax line (one row with empty tax columns for a
// transaction without any), the transaction's own columns first.
var calcColumns = []stream.Column{
	{Name: "id"}, {Name: "date", Drop: 1}, {Name: "type", Drop: 4}, {Name: "currency"},
	{Name: "amount", Kind: stream.Money}, {Name: "tax_total", Kind: stream.Money, Drop: 3},
	{Name: "jurisdiction"}, {Name: "tax"}, {Name: "rate", Kind: stream.Money},
	{Name: "taxable", Kind: stream.Money, Drop: 2}, {Name: "exempt", Kind: stream.Money, Drop: 6},
	{Name: "non_taxable", Kind: stream.Money, Drop: 5}, {Name: "tax_amount", Kind: stream.Money},
	{Name: "reason"},
}

// calcChargedColumns are calcColumns and, with --from, the tax the source
// charged and its difference with tax_total.
var calcChargedColumns = append(calcColumns[:len(calcColumns):len(calcColumns)],
	stream.Column{Name: "tax_charged", Kind: stream.Money, Drop: 8}, stream.Column{Name: "tax_difference", Kind: stream.Money, Drop: 7})

// calcTxColumns is how many of calcColumns belong to the transaction.
const calcTxColumns = 6

// calcSink writes each record, in input order, through the format's row
// writer. NDJSON, JSON and CSV rows are encoded in the workers
// (calcWorker.Render); table rows, and the rows of --columns in any
// format, are made here from values (calcRows) of the same figures.
type calcSink struct {
	format stream.OutputFormat
	w      stream.RowWriter
	rows   bool // rows are made from values, in Emit
	// charged: rows end with tax_charged and tax_difference.
	charged bool
	// lines, for NDJSON and CSV, takes the workers' records with their
	// line ends: the accepted records of a batch that lie one after
	// another in its memory (pipeline.BatchEmitter) gather in run and
	// are written with one call, most of them without a copy.
	lines stream.LineWriter
	run   []byte
}

// newCalcSink writes through rw; projected says rw takes a subset of
// calcColumns (--columns), so rows are made from values.
func newCalcSink(rw stream.RowWriter, format stream.OutputFormat, projected bool) *calcSink {
	s := &calcSink{format: format, w: rw, rows: format == stream.OutputTable || projected}
	if lw, ok := rw.(stream.LineWriter); ok && !s.rows && (format == stream.OutputNDJSON || format == stream.OutputCSV) {
		s.lines = lw
	}
	return s
}

func (s *calcSink) NewWorker() pipeline.WorkerSink {
	if s.rows {
		return &calcWorker{format: stream.OutputTable} // renders nothing
	}
	// A CSV record ends with its line end already; an NDJSON object does
	// when it is written as a line.
	return &calcWorker{format: s.format, charged: s.charged, lineEnd: s.lines != nil && s.format == stream.OutputNDJSON}
}
func (s *calcSink) Ordered() bool { return true }

func (s *calcSink) Emit(it *pipeline.Item) error {
	if s.rows {
		var err error
		calcRows(it, s.charged, func(vals []string) {
			if err == nil {
				err = s.w.Write(vals)
			}
		})
		return err
	}
	if s.lines == nil {
		return s.w.WriteEncoded(it.Out)
	}
	if len(s.run) > 0 && pipeline.Follows(s.run, it.Out) {
		s.run = s.run[:len(s.run)+len(it.Out)]
		return nil
	}
	if err := s.EndBatch(); err != nil {
		return err
	}
	s.run = it.Out
	return nil
}

// EndBatch writes the run of records Emit gathered.
func (s *calcSink) EndBatch() error {
	if len(s.run) == 0 {
		return nil
	}
	err := s.lines.WriteLines(s.run)
	s.run = nil
	return err
}

// calcWorker renders one worker's records. On the common path (every tax
// line computed by the rules' fixed-point path) it appends straight into
// it.Out without allocating: money figures through money.AppendMoney, and
// everything a line prints that does not change from record to record —
// its jurisdiction, tax and rate up to the first figure, its reason to the
// end — cached once per worker as ready bytes. Anything else falls back to
// the decimal figures and formatMoney; the bytes are the same either way.
type calcWorker struct {
	format  stream.OutputFormat
	scratch []byte // the transaction's columns of a CSV row
	charged bool   // rows end with tax_charged and tax_difference
	lineEnd bool   // an NDJSON record ends with its newline (calcSink.lines)
	end     []byte // those two cells of the current record
	// byOrder holds the last tax seen at each rules.Tax.Order, the cheap
	// way in; taxes is every tax seen, the way in when another program's
	// tax (a reloaded stream) or a made-up one (a test) shares an order.
	byOrder []*taxText
	taxes   map[*rules.Tax]*taxText
	ends    *lineEnds // made on the first record
}

// taxText is what calc prints of a tax that never changes: the head of its
// JSON entry, its CSV columns and the texts of the rates seen so far.
type taxText struct {
	tax   *rules.Tax
	head  []byte // {"jurisdiction":…,"tax":…,"rate":
	csv   []byte // jurisdiction,tax,
	none  rateText
	rates []rateText
}

// rateText is what a line of one tax at one rate prints before its first
// figure, keyed by the rate's exact coefficient and exponent
// (decimal.String depends on the value alone, so equal keys give equal
// texts). dec is the rate as last seen: a plan hands out the same decimal
// for every line at that rate, so comparing it is the cheap test.
type rateText struct {
	f    money.Fixed
	json []byte // head, then "rate","taxable":" (or null,"taxable":")
	csv  []byte // jurisdiction,tax,rate,
}

// maxRateTexts bounds a tax's rate cache; past it, rates are formatted
// each time.
const maxRateTexts = 16

// maxTaxOrders bounds byOrder; taxes past it go through the map alone.
const maxTaxOrders = 1 << 16

// lineEnds are the bytes after a line's last figure, by reason: JSON's
// closing of the entry, CSV's reason column.
type lineEnds struct {
	json, csv         [16]string
	jsonSeps, csvSeps *figureSeps
}

func newLineEnds() *lineEnds {
	e := &lineEnds{jsonSeps: newFigureSeps(jsonFigureSeps), csvSeps: newFigureSeps(csvFigureSeps)}
	for _, r := range []rules.Reason{
		rules.ReasonStandardRated, rules.ReasonReducedRated, rules.ReasonProductExempt, rules.ReasonCustomerExempt,
		rules.ReasonPortionTaxable, rules.ReasonBelowThreshold, rules.ReasonCapped, rules.ReasonCompound, rules.ReasonFixed,
	} {
		e.json[r] = `","reason":"` + r.String() + `"}`
		e.csv[r] = "," + r.String()
	}
	return e
}

// appendJSON appends what follows a JSON line's last figure.
func (e *lineEnds) appendJSON(dst []byte, r rules.Reason) []byte {
	if int(r) < len(e.json) && e.json[r] != "" {
		return append(dst, e.json[r]...)
	}
	dst = append(dst, `","reason":"`...)
	dst = append(dst, r.String()...)
	return append(dst, `"}`...)
}

// appendCSV appends a CSV line's reason column.
func (e *lineEnds) appendCSV(dst []byte, r rules.Reason) []byte {
	if int(r) < len(e.csv) && e.csv[r] != "" {
		return append(dst, e.csv[r]...)
	}
	dst = append(dst, ',')
	return append(dst, r.String()...)
}

func (w *calcWorker) Accept(*pipeline.Item) {}

func (w *calcWorker) Render(it *pipeline.Item) {
	digits := it.Tx.Currency.Digits
	out := it.Out[:0]
	if w.ends == nil {
		w.ends = newLineEnds()
	}
	switch w.format {
	case stream.OutputNDJSON, stream.OutputJSON:
		out = w.appendCalcJSON(out, it, digits)
		if w.lineEnd {
			out = append(out, '\n')
		}
	case stream.OutputCSV:
		out = w.appendCalcCSV(out, it, digits)
	}
	it.Out = out
}

// appendCalcCSV appends the record's CSV rows (calcColumns).
func (w *calcWorker) appendCalcCSV(dst []byte, it *pipeline.Item, digits int32) []byte {
	tx := w.scratch[:0]
	tx = stream.AppendCSVField(tx, it.Tx.ID)
	tx = append(tx, ',')
	tx = it.Tx.Day.Time().AppendFormat(tx, "2006-01-02")
	tx = append(tx, ',')
	tx = append(tx, txType(it)...)
	tx = append(tx, ',')
	tx = stream.AppendCSVField(tx, it.Tx.Currency.Code)
	tx = append(tx, ',')
	tx = appendTxAmount(tx, it, digits)
	tx = append(tx, ',')
	tx = appendTaxTotal(tx, it, digits)
	tx = append(tx, ',')
	w.scratch = tx
	end := w.end[:0]
	if w.charged {
		end = append(end, ',')
		if it.Tx.HasTaxCharged {
			end = append(end, formatMoney(it.Tx.TaxCharged, digits)...)
			end = append(end, ',')
			end = append(end, formatMoney(taxDifference(it), digits)...)
		} else {
			end = append(end, ',')
		}
	}
	w.end = end
	var memo figureMemo
	if len(it.Result.Lines) == 0 {
		dst = append(dst, tx...)
		dst = append(dst, strings.Repeat(",", len(calcColumns)-calcTxColumns-1)...)
		dst = append(dst, end...)
		return append(dst, '\n')
	}
	for i := range it.Result.Lines {
		l := &it.Result.Lines[i]
		dst = append(dst, tx...)
		if rt := w.taxText(l.Tax).rate(l); rt != nil {
			dst = append(dst, rt.csv...)
		} else {
			dst = append(dst, w.taxText(l.Tax).csv...)
			dst = append(dst, l.Rate.String()...)
			dst = append(dst, ',')
		}
		dst = appendLineFigures(dst, l, digits, w.ends.csvSeps, &memo)
		dst = w.ends.appendCSV(dst, l.Reason)
		dst = append(dst, end...)
		dst = append(dst, '\n')
	}
	return dst
}

// appendLineFigures appends a tax line's taxable, exempt, non-taxable and
// tax amounts, with fs.sep[i] after the i-th; m is the record's memo of
// its taxable figure.
func appendLineFigures(dst []byte, l *rules.TaxLine, digits int32, fs *figureSeps, m *figureMemo) []byte {
	if f := &l.Fixed; f.OK {
		if m.end > 0 && m.f == f.Taxable {
			dst = append(dst, dst[m.start:m.end]...)
		} else {
			start := len(dst)
			dst = money.AppendMoney(dst, f.Taxable, digits)
			*m = figureMemo{f: f.Taxable, start: start, end: len(dst)}
		}
		if f.Exempt.C == 0 && f.NonTaxable.C == 0 && digits >= 0 && int(digits) < len(fs.zeros) {
			dst = append(dst, fs.zeros[digits]...)
		} else {
			dst = append(dst, fs.sep[0]...)
			dst = money.AppendMoney(dst, f.Exempt, digits)
			dst = append(dst, fs.sep[1]...)
			dst = money.AppendMoney(dst, f.NonTaxable, digits)
			dst = append(dst, fs.sep[2]...)
		}
		return money.AppendMoney(dst, f.Amount, digits)
	}
	dst = append(dst, formatMoney(l.Taxable, digits)...)
	dst = append(dst, fs.sep[0]...)
	dst = append(dst, formatMoney(l.Exempt, digits)...)
	dst = append(dst, fs.sep[1]...)
	dst = append(dst, formatMoney(l.NonTaxable, digits)...)
	dst = append(dst, fs.sep[2]...)
	return append(dst, formatMoney(l.Amount, digits)...)
}

// figureSeps are what comes between a line's four figures in one format.
// zeros[d] is all of it from after the taxable figure to before the tax
// amount when exempt and non-taxable are zero (most lines), at d places.
type figureSeps struct {
	sep   [3]string
	zeros [9]string
}

func newFigureSeps(sep [3]string) *figureSeps {
	fs := &figureSeps{sep: sep}
	for d := range fs.zeros {
		zero := string(money.AppendMoney(nil, money.Fixed{}, int32(d)))
		fs.zeros[d] = sep[0] + zero + sep[1] + zero + sep[2]
	}
	return fs
}

// figureMemo is where a record's output already holds the text of the
// taxable figure f: dst[start:end] (end 0 when none). The lines of a
// record mostly tax the same amount, so the text is copied rather than
// formatted again; equal Fixed values (coefficient and exponent) print
// the same.
type figureMemo struct {
	f          money.Fixed
	start, end int
}

var (
	csvFigureSeps  = [3]string{",", ",", ","}
	jsonFigureSeps = [3]string{`","exempt":"`, `","non_taxable":"`, `","tax_amount":"`}
)

// calcRows calls row with the values of each of the record's rows
// (calcColumns), from the decimal figures.
func calcRows(it *pipeline.Item, charged bool, row func([]string)) {
	digits := it.Tx.Currency.Digits
	n := len(calcColumns)
	if charged {
		n += 2
	}
	vals := make([]string, n)
	if charged && it.Tx.HasTaxCharged {
		vals[n-2], vals[n-1] = formatMoney(it.Tx.TaxCharged, digits), formatMoney(taxDifference(it), digits)
	}
	vals[0], vals[1], vals[2], vals[3] = it.Tx.ID, it.Tx.Day.String(), txType(it), it.Tx.Currency.Code
	vals[4], vals[5] = formatMoney(txAmount(it), digits), formatMoney(taxTotal(it), digits)
	if len(it.Result.Lines) == 0 {
		row(vals)
		return
	}
	for _, l := range it.Result.Lines {
		line := vals[calcTxColumns:]
		line[0], line[1], line[2] = l.Tax.Jurisdiction.Code, l.Tax.ID, ""
		if l.HasRate {
			line[2] = l.Rate.String()
		}
		line[3], line[4] = formatMoney(l.Taxable, digits), formatMoney(l.Exempt, digits)
		line[5], line[6] = formatMoney(l.NonTaxable, digits), formatMoney(l.Amount, digits)
		line[7] = l.Reason.String()
		row(vals)
	}
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

// taxDifference is tax_charged minus the tax owed (tax_total), both with
// calc's signs: a refund's tax_charged is given positive and counts
// negative, as its taxes do. Positive means more was collected than owed.
func taxDifference(it *pipeline.Item) decimal.Decimal {
	owed := decimal.Decimal{}
	for i := range it.Result.Lines {
		l := &it.Result.Lines[i]
		if l.Fixed.OK {
			owed = owed.Add(l.Fixed.Amount.Decimal())
		} else {
			owed = owed.Add(l.Amount)
		}
	}
	charged := it.Tx.TaxCharged
	if it.Tx.Refund {
		charged = charged.Neg()
	}
	return charged.Sub(owed)
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

// appendCalcJSON appends the record's own fields, as written, then taxes
// and tax_total (replacing input fields of those names).
func (w *calcWorker) appendCalcJSON(dst []byte, it *pipeline.Item, digits int32) []byte {
	dst = append(dst, '{')
	n := 0
	if it.Fields != nil {
		text := it.Text
		if it.Converted {
			text = it.Conv
		}
		dst, n = appendFields(dst, text, it.Fields)
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
	if it.Tx.HasTaxCharged {
		// What the source charged against what the rules say is owed.
		dst = append(dst, `","tax_difference":"`...)
		dst = append(dst, formatMoney(taxDifference(it), digits)...)
	}
	return append(dst, `"}`...)
}

// appendFields appends a JSON record's members as written (text is the
// record the fields point into), but for those calc writes itself, and
// returns how many it appended. Members that stand side by side in text,
// compact ("k":v,"k":v), are copied as one run.
func appendFields(dst, text []byte, fields []txn.RawField) ([]byte, int) {
	if start, end, ok := compact(text, fields); ok {
		return append(dst, text[start:end]...), len(fields)
	}
	n := 0
	// text[start:end] holds the members from the n0-th on, not appended
	// yet (none when end < 0).
	start, end, n0 := 0, -1, 0
	for i := range fields {
		fld := &fields[i]
		if string(fld.Key) == "taxes" || string(fld.Key) == "tax_total" || string(fld.Key) == "tax_difference" {
			continue
		}
		// The next member of the run, the common case, is checked
		// against the run's end alone.
		if end >= 0 && end+1 < len(text) && text[end] == ',' && len(fld.RawKey) > 0 && &text[end+1] == &fld.RawKey[0] {
			if ve := member(text, end+1, fld); ve >= 0 {
				end = ve
				n++
				continue
			}
		}
		if ks := offsetIn(text, fld.RawKey); ks >= 0 {
			if ve := member(text, ks, fld); ve >= 0 {
				dst = appendRun(dst, text[start:max(end, start)], n0 > 0)
				start, end, n0 = ks, ve, n
				n++
				continue
			}
		}
		dst = appendRun(dst, text[start:max(end, start)], n0 > 0)
		start, end = 0, -1
		if n > 0 {
			dst = append(dst, ',')
		}
		n++
		dst = append(dst, fld.RawKey...)
		dst = append(dst, ':')
		dst = append(dst, fld.Value...)
	}
	return appendRun(dst, text[start:max(end, start)], n0 > 0), n
}

// compact reports whether the members are written in text[start:end] as
// "k":v,"k":v with nothing between them, none of them one calc replaces.
// The scanner gives the members in order, each key and value a slice of
// text: when the first key and the last value are where they should be,
// the gaps between the members' parts add up to the span less their
// lengths, and each gap holds at least its colon or comma, the gaps are
// exactly those.
func compact(text []byte, fields []txn.RawField) (start, end int, ok bool) {
	if len(fields) == 0 {
		return 0, 0, false
	}
	start = offsetIn(text, fields[0].RawKey)
	last := &fields[len(fields)-1]
	vs := offsetIn(text, last.Value)
	if start < 0 || vs < 0 {
		return 0, 0, false
	}
	end = vs + len(last.Value)
	size := len(fields) - 1 // the commas
	for i := range fields {
		fld := &fields[i]
		switch len(fld.Key) {
		case len("taxes"), len("tax_total"), len("tax_difference"):
			if k := string(fld.Key); k == "taxes" || k == "tax_total" || k == "tax_difference" {
				return 0, 0, false
			}
		}
		size += len(fld.RawKey) + 1 + len(fld.Value)
	}
	return start, end, size == end-start
}

// appendRun appends run, after a comma when members came before it.
func appendRun(dst, run []byte, comma bool) []byte {
	if len(run) == 0 {
		return dst
	}
	if comma {
		dst = append(dst, ',')
	}
	return append(dst, run...)
}

// member returns where the member fld ends in text when it is written
// there compactly from ks (its key, a colon, its value), else -1.
func member(text []byte, ks int, fld *txn.RawField) int {
	vs := ks + len(fld.RawKey) + 1
	ve := vs + len(fld.Value)
	if len(fld.Value) == 0 || ve > len(text) || text[vs-1] != ':' || &text[vs] != &fld.Value[0] {
		return -1
	}
	return ve
}

// offsetIn is where b starts in text when b is a part of text's array (a
// slice of it), else -1. The capacities give the place; comparing the
// addresses proves it.
func offsetIn(text, b []byte) int {
	off := cap(text) - cap(b)
	if len(b) == 0 || off < 0 || off+len(b) > len(text) || &text[off] != &b[0] {
		return -1
	}
	return off
}

// appendTaxesJSON appends the record's tax lines as a JSON array.
func (w *calcWorker) appendTaxesJSON(dst []byte, it *pipeline.Item, digits int32) []byte {
	dst = append(dst, '[')
	var memo figureMemo
	for i := range it.Result.Lines {
		l := &it.Result.Lines[i]
		if i > 0 {
			dst = append(dst, ',')
		}
		if rt := w.taxText(l.Tax).rate(l); rt != nil {
			dst = append(dst, rt.json...)
		} else {
			dst = append(dst, w.taxText(l.Tax).head...)
			dst = append(dst, '"')
			dst = append(dst, l.Rate.String()...)
			dst = append(dst, `","taxable":"`...)
		}
		dst = appendLineFigures(dst, l, digits, w.ends.jsonSeps, &memo)
		dst = w.ends.appendJSON(dst, l.Reason)
	}
	return append(dst, ']')
}

// PrefetchRender brings into the cache, level by level over the batch,
// what rendering the records' tax lines reads: each line's tax, its texts,
// their rates and the text of the first.
func (w *calcWorker) PrefetchRender(items []*pipeline.Item) {
	for _, it := range items {
		for i := range it.Result.Lines {
			prefetch.Lines(uintptr(unsafe.Pointer(it.Result.Lines[i].Tax)))
		}
	}
	for _, it := range items {
		for i := range it.Result.Lines {
			if o := it.Result.Lines[i].Tax.Order(); o >= 0 && o < len(w.byOrder) && w.byOrder[o] != nil {
				prefetch.Lines(uintptr(unsafe.Pointer(w.byOrder[o])))
			}
		}
	}
	for _, it := range items {
		for i := range it.Result.Lines {
			if tt := w.knownTaxText(it.Result.Lines[i].Tax); tt != nil && len(tt.rates) > 0 {
				prefetch.Lines(uintptr(unsafe.Pointer(&tt.rates[0])))
			}
		}
	}
	for _, it := range items {
		for i := range it.Result.Lines {
			if tt := w.knownTaxText(it.Result.Lines[i].Tax); tt != nil && len(tt.rates) > 0 && len(tt.rates[0].json) > 0 {
				prefetch.Lines(uintptr(unsafe.Pointer(&tt.rates[0].json[0])))
			}
		}
	}
}

// knownTaxText is taxText's quick way in: t's texts by its order, nil
// when they are not there.
func (w *calcWorker) knownTaxText(t *rules.Tax) *taxText {
	if o := t.Order(); o >= 0 && o < len(w.byOrder) {
		if tt := w.byOrder[o]; tt != nil && tt.tax == t {
			return tt
		}
	}
	return nil
}

// taxText returns t's texts, made the first time t is seen.
func (w *calcWorker) taxText(t *rules.Tax) *taxText {
	if tt := w.knownTaxText(t); tt != nil {
		return tt
	}
	o := t.Order()
	tt, ok := w.taxes[t]
	if !ok {
		tt = newTaxText(t)
		if w.taxes == nil {
			w.taxes = make(map[*rules.Tax]*taxText)
		}
		w.taxes[t] = tt
	}
	if o >= 0 && o < maxTaxOrders {
		if o >= len(w.byOrder) {
			w.byOrder = append(w.byOrder, make([]*taxText, o+1-len(w.byOrder))...)
		}
		w.byOrder[o] = tt
	}
	return tt
}

func newTaxText(t *rules.Tax) *taxText {
	head := append([]byte(nil), `{"jurisdiction":`...)
	head = stream.AppendJSONString(head, t.Jurisdiction.Code)
	head = append(head, `,"tax":`...)
	head = stream.AppendJSONString(head, t.ID)
	head = append(head, `,"rate":`...)
	csv := stream.AppendCSVField(nil, t.Jurisdiction.Code)
	csv = append(csv, ',')
	csv = stream.AppendCSVField(csv, t.ID)
	csv = append(csv, ',')
	tt := &taxText{tax: t, head: head, csv: csv}
	tt.none = rateText{json: append(head[:len(head):len(head)], `null,"taxable":"`...), csv: append(csv[:len(csv):len(csv)], ',')}
	return tt
}

// rate returns the texts of l's tax at l's rate, from the cache when the
// rate's exact digits were seen; nil when the cache is full and the rate
// new, or the rate has more digits than a money.Fixed holds. A plan's
// line carries its rate as a Fixed; only the decimal path's lines cost a
// conversion (reading the decimal's digits, a cache miss more often than
// not).
func (tt *taxText) rate(l *rules.TaxLine) *rateText {
	if !l.HasRate {
		return &tt.none
	}
	f, ok := l.Fixed.Rate, l.Fixed.OK
	if !ok {
		if f, ok = money.FixedOf(l.Rate); !ok {
			return nil
		}
	}
	for i := range tt.rates {
		if rt := &tt.rates[i]; rt.f == f {
			return rt
		}
	}
	if len(tt.rates) == maxRateTexts {
		return nil
	}
	s := l.Rate.String()
	json := append(tt.head[:len(tt.head):len(tt.head)], '"')
	json = append(json, s...)
	json = append(json, `","taxable":"`...)
	csv := append(tt.csv[:len(tt.csv):len(tt.csv)], s...)
	csv = append(csv, ',')
	tt.rates = append(tt.rates, rateText{f: f, json: json, csv: csv})
	return &tt.rates[len(tt.rates)-1]
}

// formatMoney prints an amount with the currency's minor unit, or exactly
// when it carries more digits (a tax rounded only in aggregate).
func formatMoney(d decimal.Decimal, digits int32) string { return money.FormatExact(d, digits) }

// NewCalcRenderer returns the worker side of calc's sink for format
// (NDJSON, JSON or CSV): Render fills it.Out with the record's output as
// calc writes it. It is the rendering alone, for its benchmark.
func NewCalcRenderer(format stream.OutputFormat) pipeline.WorkerSink {
	return &calcWorker{format: format}
}
