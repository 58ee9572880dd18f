package stream

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// OutputFormat is how rows are written.
type OutputFormat uint8

const (
	OutputNDJSON OutputFormat = iota
	OutputJSON
	OutputCSV
	OutputTable
)

// ParseOutputFormat reads a --format value.
func ParseOutputFormat(s string) (OutputFormat, error) {
	switch s {
	case "ndjson":
		return OutputNDJSON, nil
	case "json":
		return OutputJSON, nil
	case "csv":
		return OutputCSV, nil
	case "table":
		return OutputTable, nil
	}
	return 0, fmt.Errorf("format %q must be table, json, ndjson or csv", s)
}

// ColumnKind says how a column's text is encoded in JSON and aligned in a
// table.
type ColumnKind uint8

const (
	// Text is a JSON string, left-aligned.
	Text ColumnKind = iota
	// Number is a bare JSON number (counts), right-aligned.
	Number
	// Money is a decimal kept exact as a JSON string, right-aligned.
	Money
	// RawJSON is already-encoded JSON, written as is (CSV and table
	// print its text); empty is null.
	RawJSON
	// List is an already-encoded JSON array; empty is [] in JSON and an
	// empty cell in CSV and tables.
	List
)

// Column is one output column.
type Column struct {
	Name string
	Kind ColumnKind
	// Drop > 0 lets a table too wide for the terminal leave the column
	// out; the highest Drop goes first.
	Drop int
}

// RowWriter writes rows of pre-formatted values, one per column. Like
// csv.Writer it keeps the first error and returns it from Close.
//
// Every command writes its records through one: one writer per format,
// so that quoting, framing, alignment and empty cells are the same
// everywhere. An empty value is an empty cell in CSV and tables, "" for a
// Text or Money column in JSON, null for Number and RawJSON, [] for List.
type RowWriter interface {
	Write(values []string) error
	// WriteEncoded writes a row its caller already encoded in the
	// writer's format, typically on a worker goroutine: for NDJSON and
	// JSON one JSON object (the writer adds the framing), for CSV one or
	// more complete records made with AppendCSVField. Tables take rows
	// only through Write.
	WriteEncoded(row []byte) error
	Close() error
}

// LineWriter is a RowWriter whose records are lines a caller can encode
// whole, line end included: NDJSON and CSV. WriteLines writes b, any
// number of such records, as it is; a caller that rendered many records
// into one buffer writes them with one call, and the bulk of a large b
// goes to the output without a copy into the writer's buffer.
type LineWriter interface {
	RowWriter
	// WriteLines writes complete records, each with its line end. A JSON
	// array's writer has no lines: it returns ErrNoLines.
	WriteLines(b []byte) error
}

// ErrNoLines is returned by WriteLines of a writer whose records are not
// lines (a JSON array).
var ErrNoLines = errors.New("stream: a JSON array's rows are not lines")

// ErrTableEncoded is returned by a table writer's WriteEncoded.
var ErrTableEncoded = errors.New("stream: a table takes rows through Write, not WriteEncoded")

// RowOptions frame JSON output: with OutputJSON the rows are written as a
// JSON array between Prefix and Suffix (default "[" and "]").
type RowOptions struct {
	JSONPrefix string
	JSONSuffix string
	// TableBlock > 0 makes a table stream: rows are aligned and written
	// TableBlock at a time, each block at least as wide as the ones
	// before. 0 aligns all rows together (held until Close).
	TableBlock int
	// TableWidth > 0 fits a table into that many columns (a terminal's
	// width); Note, when set, is told what was dropped or shortened.
	TableWidth int
	Note       func(Fitted)
	// CSVNoHeader leaves out CSV's header line, for output appended to a
	// file that already has it.
	CSVNoHeader bool
}

// NewRowWriter returns a writer of rows in format f.
func NewRowWriter(w io.Writer, f OutputFormat, cols []Column, opt RowOptions) RowWriter {
	bw := bufio.NewWriterSize(w, 64<<10)
	switch f {
	case OutputJSON:
		if opt.JSONPrefix == "" {
			opt.JSONPrefix, opt.JSONSuffix = "[", "]"
		}
		return &jsonWriter{w: bw, out: w, cols: cols, array: true, prefix: opt.JSONPrefix, suffix: opt.JSONSuffix}
	case OutputCSV:
		return &csvWriter{w: bw, out: w, cols: cols, wrote: opt.CSVNoHeader}
	case OutputTable:
		return &tableWriter{w: bw, cols: cols, block: opt.TableBlock, width: opt.TableWidth, note: opt.Note,
			widths: make([]int, len(cols))}
	}
	return &jsonWriter{w: bw, out: w, cols: cols}
}

// writeLines writes b through bw, or, when b is large, flushes bw and
// writes b to out (bw's writer) itself: bufio.Writer copies a write that
// fits its free space, and one that it cannot hold it copies in part.
func writeLines(bw *bufio.Writer, out io.Writer, b []byte) error {
	if len(b) < directWrite {
		_, err := bw.Write(b)
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	_, err := out.Write(b)
	return err
}

// directWrite is the size from which WriteLines writes past the buffer.
const directWrite = 16 << 10

type jsonWriter struct {
	w      *bufio.Writer
	out    io.Writer // w's writer (WriteLines)
	cols   []Column
	array  bool
	prefix string
	suffix string
	n      int
	err    error
}

func (j *jsonWriter) Write(vals []string) error {
	if j.err != nil {
		return j.err
	}
	j.begin()
	j.w.WriteByte('{')
	for i, c := range j.cols {
		if i > 0 {
			j.w.WriteByte(',')
		}
		WriteJSONString(j.w, c.Name)
		j.w.WriteByte(':')
		writeJSONValue(j.w, c.Kind, vals[i])
	}
	j.w.WriteByte('}')
	return j.end()
}

func (j *jsonWriter) WriteEncoded(row []byte) error {
	if j.err != nil {
		return j.err
	}
	j.begin()
	j.w.Write(row)
	return j.end()
}

func (j *jsonWriter) WriteLines(b []byte) error {
	if j.err != nil {
		return j.err
	}
	if j.array {
		return ErrNoLines
	}
	if j.err = writeLines(j.w, j.out, b); j.err != nil {
		return j.err
	}
	return j.flushSome()
}

// begin writes what comes before a row: the array's opening or a comma.
func (j *jsonWriter) begin() {
	if j.array {
		if j.n == 0 {
			j.w.WriteString(j.prefix)
			j.w.WriteByte('\n')
		} else {
			j.w.WriteString(",\n")
		}
	}
	j.n++
}

// end ends a row and flushes when the buffer is nearly full.
func (j *jsonWriter) end() error {
	if !j.array {
		j.w.WriteByte('\n')
	}
	return j.flushSome()
}

// flushSome flushes when the buffer is nearly full: bufio.Writer keeps
// its first error, and surfacing it promptly stops a run early on a
// closed pipe.
func (j *jsonWriter) flushSome() error {
	if j.w.Available() < 4096 {
		j.err = j.w.Flush()
	}
	return j.err
}

func (j *jsonWriter) Close() error {
	if j.err != nil {
		return j.err
	}
	if j.array {
		if j.n == 0 {
			j.w.WriteString(j.prefix)
		} else {
			j.w.WriteByte('\n')
		}
		j.w.WriteString(j.suffix)
		j.w.WriteByte('\n')
	}
	return j.w.Flush()
}

func writeJSONValue(w *bufio.Writer, k ColumnKind, v string) {
	switch k {
	case Number:
		if v == "" {
			w.WriteString("null")
			return
		}
		w.WriteString(v)
	case RawJSON:
		if v == "" {
			w.WriteString("null")
			return
		}
		w.WriteString(v)
	case List:
		if v == "" {
			w.WriteString("[]")
			return
		}
		w.WriteString(v)
	default:
		WriteJSONString(w, v)
	}
}

// WriteJSONString writes s as a JSON string literal.
func WriteJSONString(w *bufio.Writer, s string) {
	// AvailableBuffer lets the common case append in place, without
	// allocating.
	w.Write(AppendJSONString(w.AvailableBuffer(), s))
}

// AppendJSONString appends s to dst as a JSON string literal: quotes,
// backslashes and control characters escaped, invalid UTF-8 replaced by
// U+FFFD.
func AppendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			dst = append(dst, s[start:i]...)
			switch c {
			case '"':
				dst = append(dst, `\"`...)
			case '\\':
				dst = append(dst, `\\`...)
			case '\n':
				dst = append(dst, `\n`...)
			case '\r':
				dst = append(dst, `\r`...)
			case '\t':
				dst = append(dst, `\t`...)
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

type csvWriter struct {
	w     *bufio.Writer
	out   io.Writer // w's writer (WriteLines)
	cols  []Column
	buf   []byte
	wrote bool
	err   error
}

func (c *csvWriter) header() {
	if c.wrote {
		return
	}
	c.wrote = true
	c.buf = c.buf[:0]
	for i, col := range c.cols {
		if i > 0 {
			c.buf = append(c.buf, ',')
		}
		c.buf = AppendCSVField(c.buf, col.Name)
	}
	c.buf = append(c.buf, '\n')
	c.w.Write(c.buf)
}

func (c *csvWriter) Write(vals []string) error {
	if c.err != nil {
		return c.err
	}
	c.header()
	c.buf = c.buf[:0]
	for i, v := range vals {
		if i > 0 {
			c.buf = append(c.buf, ',')
		}
		c.buf = AppendCSVField(c.buf, v)
	}
	c.buf = append(c.buf, '\n')
	c.w.Write(c.buf)
	return c.flushSome()
}

func (c *csvWriter) WriteEncoded(rows []byte) error {
	if c.err != nil {
		return c.err
	}
	c.header()
	c.w.Write(rows)
	return c.flushSome()
}

func (c *csvWriter) WriteLines(b []byte) error {
	if c.err != nil {
		return c.err
	}
	c.header()
	if c.err = writeLines(c.w, c.out, b); c.err != nil {
		return c.err
	}
	return c.flushSome()
}

func (c *csvWriter) flushSome() error {
	if c.w.Available() < 4096 {
		c.err = c.w.Flush()
	}
	return c.err
}

func (c *csvWriter) Close() error {
	if c.err != nil {
		return c.err
	}
	c.header()
	return c.w.Flush()
}

// AppendCSVField appends one CSV field as encoding/csv.Writer writes it
// (comma separator, LF line ends): quoted, with quotes doubled, when it
// holds a comma, quote, CR or LF, is \. or starts with a space. This is
// the one CSV quoting rule of every command's output.
func AppendCSVField[T string | []byte](dst []byte, f T) []byte {
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

// tableWriter aligns columns for a person at a terminal; it holds the rows
// until Close (or until it has a block of them) to measure them. With a
// width it fits the table into it, the first time it writes: it drops the
// columns that may go (Column.Drop, highest first), then shortens the
// widest text columns with an ellipsis, and says what it did through
// RowOptions.Note.
type tableWriter struct {
	w      *bufio.Writer
	cols   []Column
	rows   [][]string
	block  int
	width  int
	note   func(Fitted)
	widths []int
	show   []bool // columns kept (all, unless fitted)
	header bool   // written
	err    error
}

func (t *tableWriter) Write(vals []string) error {
	if t.err != nil {
		return t.err
	}
	t.rows = append(t.rows, append([]string(nil), vals...))
	if t.block > 0 && len(t.rows) >= t.block {
		t.flushRows()
		t.err = t.w.Flush()
	}
	return t.err
}

func (t *tableWriter) WriteEncoded([]byte) error { return ErrTableEncoded }

func (t *tableWriter) Close() error {
	if t.err != nil {
		return t.err
	}
	t.flushRows()
	return t.w.Flush()
}

// flushRows writes the rows held (and the header, the first time), widths
// grown to fit them.
func (t *tableWriter) flushRows() {
	if !t.header {
		for i, c := range t.cols {
			t.widths[i] = max(t.widths[i], utf8.RuneCountInString(c.Name))
		}
	}
	for _, r := range t.rows {
		for i, v := range r {
			n := utf8.RuneCountInString(v)
			if n <= t.widths[i] {
				continue
			}
			if t.header && t.width > 0 {
				// A later block of a fitted table: grow only while it
				// still fits; longer values are shortened.
				if !t.show[i] {
					continue
				}
				n = min(n, t.widths[i]+max(0, t.width-t.total()))
			}
			t.widths[i] = n
		}
	}
	if !t.header {
		t.fit()
		t.header = true
		names := make([]string, len(t.cols))
		for i, c := range t.cols {
			names[i] = c.Name
		}
		t.line(names)
	}
	for _, r := range t.rows {
		t.line(r)
	}
	clear(t.rows)
	t.rows = t.rows[:0]
}

// total is the table's width with the columns kept.
func (t *tableWriter) total() int {
	n, cols := 0, 0
	for i, w := range t.widths {
		if t.show[i] {
			n += w
			cols++
		}
	}
	if cols > 1 {
		n += 2 * (cols - 1)
	}
	return n
}

// minTextWidth is as narrow as fitting makes a text column.
const minTextWidth = 8

func (t *tableWriter) fit() {
	t.show = make([]bool, len(t.cols))
	for i := range t.show {
		t.show[i] = true
	}
	if t.width <= 0 || t.total() <= t.width {
		return
	}
	// First the widest text columns, down to a third of the width each;
	// then whole columns; then text again, down to minTextWidth.
	var shortened []string
	shorten := func(floor int) {
		for t.total() > t.width {
			best := -1
			for i, c := range t.cols {
				if t.show[i] && c.Kind != Number && c.Kind != Money && t.widths[i] > floor && (best < 0 || t.widths[i] > t.widths[best]) {
					best = i
				}
			}
			if best < 0 {
				return
			}
			t.widths[best] = max(floor, t.widths[best]-(t.total()-t.width))
			if !slices.Contains(shortened, t.cols[best].Name) {
				shortened = append(shortened, t.cols[best].Name)
			}
		}
	}
	shorten(max(minTextWidth, t.width/3))
	var dropped []string
	for t.total() > t.width {
		best := -1
		for i, c := range t.cols {
			if t.show[i] && c.Drop > 0 && (best < 0 || c.Drop >= t.cols[best].Drop) {
				best = i
			}
		}
		if best < 0 {
			break
		}
		t.show[best] = false
		dropped = append(dropped, t.cols[best].Name)
	}
	shorten(minTextWidth)
	shortened = slices.DeleteFunc(shortened, func(n string) bool { return slices.Contains(dropped, n) })
	if t.note != nil && len(dropped)+len(shortened) > 0 {
		t.note(Fitted{Width: t.width, Dropped: dropped, Shortened: shortened})
	}
}

// Fitted says how a table was fitted to a width: the columns left out and
// those whose values were shortened.
type Fitted struct {
	Width              int
	Dropped, Shortened []string
}

func (t *tableWriter) line(vals []string) {
	var b strings.Builder
	last := len(vals) - 1
	for last > 0 && !t.show[last] {
		last--
	}
	first := true
	for i, v := range vals {
		if !t.show[i] {
			continue
		}
		if !first {
			b.WriteString("  ")
		}
		first = false
		if n := utf8.RuneCountInString(v); n > t.widths[i] {
			v = string([]rune(v)[:t.widths[i]-1]) + "…"
		}
		pad := strings.Repeat(" ", t.widths[i]-utf8.RuneCountInString(v))
		if t.cols[i].Kind == Number || t.cols[i].Kind == Money {
			b.WriteString(pad + v)
		} else if i == last {
			b.WriteString(v)
		} else {
			b.WriteString(v + pad)
		}
	}
	t.w.WriteString(strings.TrimRight(b.String(), " "))
	t.w.WriteByte('\n')
}

// SelectColumns returns the columns named, in the order named, and their
// indexes in cols: for --columns. An unknown name is an error listing the
// columns there are.
func SelectColumns(cols []Column, names []string) ([]Column, []int, error) {
	var sel []Column
	var idx []int
	for _, n := range names {
		n = strings.TrimSpace(n)
		i := slices.IndexFunc(cols, func(c Column) bool { return c.Name == n })
		if i < 0 {
			all := make([]string, len(cols))
			for j, c := range cols {
				all[j] = c.Name
			}
			return nil, nil, fmt.Errorf("unknown column %q (the columns are %s)", n, strings.Join(all, ", "))
		}
		if slices.Contains(idx, i) {
			return nil, nil, fmt.Errorf("column %q is named twice", n)
		}
		sel = append(sel, cols[i])
		idx = append(idx, i)
	}
	if len(sel) == 0 {
		return nil, nil, errors.New("no columns named")
	}
	return sel, idx, nil
}

// Project returns a writer that takes rows of all columns and writes the
// columns at idx (from SelectColumns) to w. Rows encoded by the caller
// cannot be cut: WriteEncoded returns ErrProjectedEncoded.
func Project(w RowWriter, idx []int) RowWriter {
	return &projector{w: w, idx: idx, vals: make([]string, len(idx))}
}

// ErrProjectedEncoded is returned by a projected writer's WriteEncoded.
var ErrProjectedEncoded = errors.New("stream: a writer of selected columns takes rows through Write, not WriteEncoded")

type projector struct {
	w    RowWriter
	idx  []int
	vals []string
}

func (p *projector) Write(vals []string) error {
	for i, j := range p.idx {
		p.vals[i] = vals[j]
	}
	return p.w.Write(p.vals)
}

func (p *projector) WriteEncoded([]byte) error { return ErrProjectedEncoded }
func (p *projector) Close() error              { return p.w.Close() }

// Itoa formats a count for a Number column.
func Itoa(n int64) string { return strconv.FormatInt(n, 10) }
