package stream

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"
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
	// print its text).
	RawJSON
)

// Column is one output column.
type Column struct {
	Name string
	Kind ColumnKind
}

// RowWriter writes rows of pre-formatted values, one per column. Like
// csv.Writer it keeps the first error and returns it from Close.
type RowWriter interface {
	Write(values []string) error
	Close() error
}

// RowOptions frame JSON output: with OutputJSON the rows are written as a
// JSON array between Prefix and Suffix (default "[" and "]").
type RowOptions struct {
	JSONPrefix string
	JSONSuffix string
}

// NewRowWriter returns a writer of rows in format f.
func NewRowWriter(w io.Writer, f OutputFormat, cols []Column, opt RowOptions) RowWriter {
	bw := bufio.NewWriterSize(w, 64<<10)
	switch f {
	case OutputJSON:
		if opt.JSONPrefix == "" {
			opt.JSONPrefix, opt.JSONSuffix = "[", "]"
		}
		return &jsonWriter{w: bw, cols: cols, array: true, prefix: opt.JSONPrefix, suffix: opt.JSONSuffix}
	case OutputCSV:
		cw := csv.NewWriter(bw)
		names := make([]string, len(cols))
		for i, c := range cols {
			names[i] = c.Name
		}
		return &csvWriter{bw: bw, w: cw, header: names}
	case OutputTable:
		return &tableWriter{w: bw, cols: cols}
	}
	return &jsonWriter{w: bw, cols: cols}
}

type jsonWriter struct {
	w      *bufio.Writer
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
	if j.array {
		if j.n == 0 {
			j.w.WriteString(j.prefix)
			j.w.WriteByte('\n')
		} else {
			j.w.WriteString(",\n")
		}
	}
	j.n++
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
	if !j.array {
		j.w.WriteByte('\n')
	}
	// bufio.Writer keeps its first error; surface it promptly so a
	// closed pipe stops the run early.
	if j.w.Available() < 512 {
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
	bw     *bufio.Writer
	w      *csv.Writer
	header []string
	wrote  bool
}

func (c *csvWriter) Write(vals []string) error {
	if !c.wrote {
		c.wrote = true
		if err := c.w.Write(c.header); err != nil {
			return err
		}
	}
	if err := c.w.Write(vals); err != nil {
		return err
	}
	return nil
}

func (c *csvWriter) Close() error {
	if !c.wrote {
		c.wrote = true
		c.w.Write(c.header)
	}
	c.w.Flush()
	if err := c.w.Error(); err != nil {
		return err
	}
	return c.bw.Flush()
}

// tableWriter aligns columns for a person at a terminal; it holds the rows
// until Close to measure them.
type tableWriter struct {
	w    *bufio.Writer
	cols []Column
	rows [][]string
}

func (t *tableWriter) Write(vals []string) error {
	t.rows = append(t.rows, append([]string(nil), vals...))
	return nil
}

func (t *tableWriter) Close() error {
	widths := make([]int, len(t.cols))
	for i, c := range t.cols {
		widths[i] = utf8.RuneCountInString(c.Name)
	}
	for _, r := range t.rows {
		for i, v := range r {
			if n := utf8.RuneCountInString(v); n > widths[i] {
				widths[i] = n
			}
		}
	}
	line := func(vals []string) {
		var b strings.Builder
		for i, v := range vals {
			if i > 0 {
				b.WriteString("  ")
			}
			pad := strings.Repeat(" ", widths[i]-utf8.RuneCountInString(v))
			if t.cols[i].Kind == Number || t.cols[i].Kind == Money {
				b.WriteString(pad + v)
			} else if i == len(vals)-1 {
				b.WriteString(v)
			} else {
				b.WriteString(v + pad)
			}
		}
		t.w.WriteString(strings.TrimRight(b.String(), " "))
		t.w.WriteByte('\n')
	}
	names := make([]string, len(t.cols))
	for i, c := range t.cols {
		names[i] = c.Name
	}
	line(names)
	for _, r := range t.rows {
		line(r)
	}
	return t.w.Flush()
}

// Itoa formats a count for a Number column.
func Itoa(n int64) string { return strconv.FormatInt(n, 10) }
