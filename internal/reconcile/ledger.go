package reconcile

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"github.com/taxagg/taxagg/internal/stream"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/taxagg/taxagg/internal/billing"
)

// ledgerWriter writes ledger rows in one format.
type ledgerWriter interface {
	write(r *Row) error
	close() error
}

// ledgerColumns are the ledger's fields, in order (docs/reconcile.md).
var ledgerColumns = []string{"key", "id_a", "id_b", "source", "status", "date", "customer", "currency",
	"amount", "tax", "state", "diffs"}

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

func newLedgerWriter(w io.Writer, format string, man Manifest) (ledgerWriter, error) {
	bw := bufio.NewWriterSize(w, 64<<10)
	switch format {
	case FormatNDJSON, "":
		return &ndjsonLedger{w: bw}, nil
	case FormatJSON:
		l := &jsonLedger{ndjsonLedger: ndjsonLedger{w: bw}}
		l.buf = append(l.buf, `{"manifest":`...)
		l.buf = appendManifest(l.buf, man)
		l.buf = append(l.buf, `,"rows":[`...)
		return l, nil
	case FormatCSV:
		cw := csv.NewWriter(bw)
		if err := cw.Write(ledgerColumns); err != nil {
			return nil, err
		}
		return &csvLedger{w: bw, cw: cw, rec: make([]string, len(ledgerColumns))}, nil
	case FormatTable:
		return &tableLedger{w: bw}, nil
	}
	return nil, fmt.Errorf("unknown ledger format %q (want ndjson, json, csv, table)", format)
}

type ndjsonLedger struct {
	w   *bufio.Writer
	buf []byte
}

func (l *ndjsonLedger) write(r *Row) error {
	l.buf = appendRowJSON(l.buf[:0], r)
	l.buf = append(l.buf, '\n')
	_, err := l.w.Write(l.buf)
	return err
}

func (l *ndjsonLedger) close() error { return l.w.Flush() }

type jsonLedger struct {
	ndjsonLedger
	n int
}

func (l *jsonLedger) write(r *Row) error {
	if l.n > 0 {
		l.buf = append(l.buf, ',')
	}
	l.n++
	l.buf = append(l.buf, '\n')
	l.buf = appendRowJSON(l.buf, r)
	_, err := l.w.Write(l.buf)
	l.buf = l.buf[:0]
	return err
}

func (l *jsonLedger) close() error {
	l.buf = append(l.buf, "\n]}\n"...)
	if _, err := l.w.Write(l.buf); err != nil {
		return err
	}
	return l.w.Flush()
}

type csvLedger struct {
	w   *bufio.Writer
	cw  *csv.Writer
	rec []string
	buf []byte
}

func (l *csvLedger) write(r *Row) error {
	d := r.digits()
	l.buf = appendDiffsJSON(l.buf[:0], r.Diffs)
	diffs := ""
	if len(r.Diffs) > 0 {
		diffs = string(l.buf)
	}
	copy(l.rec, []string{r.Key, r.IDA, r.IDB, r.Source, r.Status.String(), billing.FormatTime(r.Date),
		r.Customer, r.Currency, r.Amount.fixed(d), r.Tax.fixed(d), r.State, diffs})
	return l.cw.Write(l.rec)
}

func (l *csvLedger) close() error {
	l.cw.Flush()
	if err := l.cw.Error(); err != nil {
		return err
	}
	return l.w.Flush()
}

// tableLedger prints aligned blocks of rows (aligned within each block of
// 256 rows, so that it streams).
type tableLedger struct {
	w  *bufio.Writer
	tw *tabwriter.Writer
	n  int
}

func (l *tableLedger) write(r *Row) error {
	if l.tw == nil {
		l.tw = tabwriter.NewWriter(l.w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(l.tw, "KEY\tSTATUS\tSOURCE\tID_A\tID_B\tDATE\tCUSTOMER\tCURRENCY\tAMOUNT\tTAX\tSTATE\tDIFFS")
	}
	d := r.digits()
	var diffs []string
	for _, df := range r.Diffs {
		diffs = append(diffs, fmt.Sprintf("%s: %s ≠ %s", df.Field, orDash(df.A), orDash(df.B)))
	}
	fmt.Fprintf(l.tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", orDash(r.Key), r.Status, r.Source,
		orDash(r.IDA), orDash(r.IDB), orDash(billing.FormatTime(r.Date)), orDash(r.Customer), r.Currency,
		r.Amount.fixed(d), r.Tax.fixed(d), orDash(r.State), strings.Join(diffs, "; "))
	l.n++
	if l.n%256 == 0 {
		if err := l.tw.Flush(); err != nil {
			return err
		}
		l.tw = tabwriter.NewWriter(l.w, 0, 4, 2, ' ', 0)
	}
	return nil
}

func (l *tableLedger) close() error {
	if l.tw != nil {
		if err := l.tw.Flush(); err != nil {
			return err
		}
	}
	return l.w.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// appendRowJSON writes a ledger row as one JSON object, fields in the
// contract's order; money as strings with the currency's minor unit.
func appendRowJSON(b []byte, r *Row) []byte {
	d := r.digits()
	b = append(b, `{"key":`...)
	b = stream.AppendJSONString(b, r.Key)
	b = append(b, `,"id_a":`...)
	b = stream.AppendJSONString(b, r.IDA)
	b = append(b, `,"id_b":`...)
	b = stream.AppendJSONString(b, r.IDB)
	b = append(b, `,"source":"`...)
	b = append(b, r.Source...)
	b = append(b, `","status":"`...)
	b = append(b, r.Status.String()...)
	b = append(b, `","date":`...)
	b = stream.AppendJSONString(b, billing.FormatTime(r.Date))
	b = append(b, `,"customer":`...)
	b = stream.AppendJSONString(b, r.Customer)
	b = append(b, `,"currency":`...)
	b = stream.AppendJSONString(b, r.Currency)
	b = append(b, `,"amount":"`...)
	b = appendAmt(b, r.Amount, d)
	b = append(b, `","tax":"`...)
	b = appendAmt(b, r.Tax, d)
	b = append(b, `","state":`...)
	b = stream.AppendJSONString(b, r.State)
	b = append(b, `,"diffs":`...)
	b = appendDiffsJSON(b, r.Diffs)
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

var pow10 = [...]int64{1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18}
