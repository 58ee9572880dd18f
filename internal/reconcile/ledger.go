package reconcile

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/taxagg/taxagg/internal/billing"
	"github.com/taxagg/taxagg/internal/stream"
)

// ledgerWriter writes ledger rows in one format, through stream's row
// writers: JSON and NDJSON rows are encoded here (appendRowJSON, shared
// with the review queue), CSV and table rows are given as values.
type ledgerWriter struct {
	w       stream.RowWriter
	encoded bool // JSON or NDJSON: rows go through appendRowJSON
	table   bool
	vals    []string
	buf     []byte
}

// ledgerColumns are the ledger's fields, in order (docs/reconcile.md).
var ledgerColumns = []stream.Column{{Name: "key"}, {Name: "id_a", Drop: 3}, {Name: "id_b", Drop: 4}, {Name: "source", Drop: 5},
	{Name: "status"}, {Name: "date", Drop: 1}, {Name: "customer", Drop: 2}, {Name: "currency"},
	{Name: "amount", Kind: stream.Money}, {Name: "tax", Kind: stream.Money}, {Name: "state"},
	{Name: "diffs", Kind: stream.List}}

// LedgerColumns returns the ledger's columns, in order.
func LedgerColumns() []stream.Column { return slices.Clone(ledgerColumns) }

// Manifest describes a run, for the JSON ledger and the report.
type Manifest struct {
	Version string `json:"version"`
	InputA  string `json:"input_a"`
	InputB  string `json:"input_b"`
	FromA   string `json:"from_a"`
	FromB   string `json:"from_b"`
	Key     string `json:"key_a"`
	KeyB    string `json:"key_b"`
}

// ledgerTableBlock is how many rows a table aligns at a time, so that a
// large ledger streams.
const ledgerTableBlock = 256

func newLedgerWriter(w io.Writer, format string, man Manifest, open func(io.Writer, []stream.Column, stream.RowOptions) (stream.RowWriter, bool, error)) (*ledgerWriter, error) {
	var f stream.OutputFormat
	opt := stream.RowOptions{TableBlock: ledgerTableBlock}
	switch format {
	case FormatNDJSON, "":
		f = stream.OutputNDJSON
	case FormatJSON:
		f = stream.OutputJSON
		opt.JSONPrefix = string(appendManifest([]byte(`{"manifest":`), man)) + `,"rows":[`
		opt.JSONSuffix = "]}"
	case FormatCSV:
		f = stream.OutputCSV
	case FormatTable:
		f = stream.OutputTable
	default:
		return nil, fmt.Errorf("unknown ledger format %q (want ndjson, json, csv, table)", format)
	}
	lw := &ledgerWriter{table: f == stream.OutputTable, encoded: f == stream.OutputJSON || f == stream.OutputNDJSON,
		vals: make([]string, len(ledgerColumns))}
	if open == nil {
		lw.w = stream.NewRowWriter(w, f, ledgerColumns, opt)
		return lw, nil
	}
	rw, projected, err := open(w, ledgerColumns, opt)
	if err != nil {
		return nil, err
	}
	lw.w = rw
	lw.encoded = lw.encoded && !projected
	return lw, nil
}

func (l *ledgerWriter) write(r *Row) error {
	if l.encoded {
		l.buf = appendRowJSON(l.buf[:0], r)
		return l.w.WriteEncoded(l.buf)
	}
	c := r.c()
	d := c.digits()
	v := l.vals
	v[0], v[1], v[2], v[3], v[4] = r.Key(), r.IDA(), r.IDB(), r.Source(), r.Status.String()
	v[5], v[6], v[7] = billing.FormatTime(c.Date().time()), c.Customer, c.Currency()
	v[8], v[9], v[10], v[11] = c.Amount().StringFixed(d), c.Tax().StringFixed(d), c.State(), ""
	if diffs := r.Diffs(); len(diffs) > 0 {
		if l.table {
			// For a person: "amount: 50.00 ≠ 55.00; tax: 0.00 ≠ 5.00".
			var b strings.Builder
			for i, df := range diffs {
				if i > 0 {
					b.WriteString("; ")
				}
				fmt.Fprintf(&b, "%s: %s ≠ %s", df.Field, orNone(df.A), orNone(df.B))
			}
			v[11] = b.String()
		} else {
			v[11] = string(appendDiffsJSON(l.buf[:0], diffs))
		}
	}
	return l.w.Write(v)
}

func (l *ledgerWriter) close() error { return l.w.Close() }

// orNone names an empty value in a diff for a person.
func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// appendRowJSON writes a ledger row as one JSON object, fields in the
// contract's order; money as strings with the currency's minor unit.
func appendRowJSON(b []byte, r *Row) []byte {
	c := r.c()
	d := c.digits()
	b = append(b, `{"key":`...)
	b = stream.AppendJSONString(b, r.Key())
	b = append(b, `,"id_a":`...)
	b = stream.AppendJSONString(b, r.IDA())
	b = append(b, `,"id_b":`...)
	b = stream.AppendJSONString(b, r.IDB())
	b = append(b, `,"source":"`...)
	b = append(b, r.Source()...)
	b = append(b, `","status":"`...)
	b = append(b, r.Status.String()...)
	b = append(b, `","date":`...)
	b = append(b, '"')
	b = c.Date().appendText(b)
	b = append(b, '"')
	b = append(b, `,"customer":`...)
	b = stream.AppendJSONString(b, c.Customer)
	b = append(b, `,"currency":`...)
	b = stream.AppendJSONString(b, c.Currency())
	b = append(b, `,"amount":"`...)
	b = c.Amount().AppendFixed(b, d)
	b = append(b, `","tax":"`...)
	b = c.Tax().AppendFixed(b, d)
	b = append(b, `","state":`...)
	b = stream.AppendJSONString(b, c.State())
	b = append(b, `,"diffs":`...)
	b = appendDiffsJSON(b, r.Diffs())
	return append(b, '}')
}

func appendDiffsJSON(b []byte, diffs []Diff) []byte {
	b = append(b, '[')
	for i, df := range diffs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"field":`...)
		b = stream.AppendJSONString(b, df.Field)
		b = append(b, `,"a":`...)
		b = stream.AppendJSONString(b, df.A)
		b = append(b, `,"b":`...)
		b = stream.AppendJSONString(b, df.B)
		b = append(b, '}')
	}
	return append(b, ']')
}

func appendManifest(b []byte, m Manifest) []byte {
	b = append(b, `{"version":`...)
	b = stream.AppendJSONString(b, m.Version)
	b = append(b, `,"input_a":`...)
	b = stream.AppendJSONString(b, m.InputA)
	b = append(b, `,"input_b":`...)
	b = stream.AppendJSONString(b, m.InputB)
	b = append(b, `,"from_a":`...)
	b = stream.AppendJSONString(b, m.FromA)
	b = append(b, `,"from_b":`...)
	b = stream.AppendJSONString(b, m.FromB)
	b = append(b, `,"key_a":`...)
	b = stream.AppendJSONString(b, m.Key)
	b = append(b, `,"key_b":`...)
	b = stream.AppendJSONString(b, m.KeyB)
	return append(b, '}')
}
