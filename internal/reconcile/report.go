package reconcile

import (
	"bufio"
	"encoding/json"
	"fmt"
	"github.com/taxagg/taxagg/internal/money"
	"github.com/taxagg/taxagg/internal/stream"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/shopspring/decimal"

	"github.com/taxagg/taxagg/internal/billing"
)

// Total is the count and sums of records in one currency.
type Total struct {
	Records int64
	Amount  decimal.Decimal
	Tax     decimal.Decimal
	amount  money.Sum
	tax     money.Sum
}

// Totals are per currency.
type Totals map[string]*Total

func (t Totals) add(currency string, amount, tax money.Amount) {
	x := t[currency]
	if x == nil {
		x = &Total{}
		t[currency] = x
	}
	x.Records++
	addAmount(&x.amount, amount)
	addAmount(&x.tax, tax)
}

// addAmount adds a to s: in 128 bits without allocating while it can.
func addAmount(s *money.Sum, a money.Amount) {
	if f, ok := a.Fixed(); ok {
		s.Add(f)
		return
	}
	s.AddDecimal(a.Decimal())
}

// finish sets Amount and Tax from the running sums.
func (t Totals) finish() {
	for _, x := range t {
		x.Amount, x.Tax = x.amount.Decimal(), x.tax.Decimal()
	}
}

// Result is what a run found.
type Result struct {
	Manifest Manifest
	// Counts of ledger records per status.
	Counts [numStatus]int64
	// Read counts the input records of each side.
	ReadA, ReadB int64
	// FuzzyPairs counts pairs made by --fuzzy; Groups counts records made
	// by --duplicates group.
	FuzzyPairs, Groups int64
	// Totals of each side's input and of the ledger, per currency.
	TotalsA, TotalsB, Ledger Totals
	// Partitions is 0 for an in-memory run, else how many key partitions
	// the records spilled into.
	Partitions int
	// Unkeyed counts the records of each side (A, B) whose key is empty:
	// they are matched only by --fuzzy.
	Unkeyed [2]int64
	// Interrupted is set on the partial result of a cancelled run: Read*
	// and Totals* are then what was read so far.
	Interrupted bool
}

// Findings counts ledger records that are not match.
func (r *Result) Findings() int64 {
	var n int64
	for s, c := range r.Counts {
		if Status(s) != StatusMatch {
			n += c
		}
	}
	return n
}

func newResult() *Result {
	return &Result{TotalsA: Totals{}, TotalsB: Totals{}, Ledger: Totals{}}
}

// WriteSummary prints the run's summary for a person (stderr): counts per
// status, then amount and tax totals of each side and of the ledger, per
// currency.
func (r *Result) WriteSummary(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "taxagg reconcile: A %s (%s), B %s (%s)\n", r.Manifest.InputA, plural(r.ReadA, "record"),
		r.Manifest.InputB, plural(r.ReadB, "record"))
	for s := Status(0); s < numStatus; s++ {
		fmt.Fprintf(tw, "  %s\t%d\n", s, r.Counts[s])
	}
	fmt.Fprintln(tw, "  totals\tcurrency\trecords\tamount\ttax")
	for _, t := range []struct {
		name string
		t    Totals
	}{{"A", r.TotalsA}, {"B", r.TotalsB}, {"ledger", r.Ledger}} {
		for _, cur := range sortedCurrencies(t.t) {
			x := t.t[cur]
			d := digitsOf(cur)
			fmt.Fprintf(tw, "  %s\t%s\t%d\t%s\t%s\n", t.name, cur, x.Records, x.Amount.StringFixed(d), x.Tax.StringFixed(d))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	var notes []string
	for side, n := range r.Unkeyed {
		if n > 0 {
			notes = append(notes, fmt.Sprintf("%s of %s without a key", plural(n, "record"), sideName(uint8(side))))
		}
	}
	if r.FuzzyPairs > 0 {
		notes = append(notes, fmt.Sprintf("%d fuzzy pairs", r.FuzzyPairs))
	}
	if r.Groups > 0 {
		notes = append(notes, fmt.Sprintf("%d groups", r.Groups))
	}
	if r.Partitions > 0 {
		notes = append(notes, fmt.Sprintf("spilled to %d partitions", r.Partitions))
	}
	if r.Interrupted {
		notes = append(notes, "interrupted: the figures are of what was read so far; no ledger was written")
	}
	if len(notes) > 0 {
		_, err := fmt.Fprintf(w, "  (%s)\n", strings.Join(notes, ", "))
		return err
	}
	return nil
}

// plural is "1 record", "2 records".
func plural(n int64, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func sortedCurrencies(t Totals) []string {
	cs := make([]string, 0, len(t))
	for c := range t {
		cs = append(cs, c)
	}
	slices.Sort(cs)
	return cs
}

func digitsOf(currency string) int32 {
	switch currency {
	case "USD", "EUR", "GBP", "CAD":
		return 2
	case "JPY":
		return 0
	}
	r := billing.Record{Currency: currency}
	return r.Digits()
}

type totalJSON struct {
	Records int64  `json:"records"`
	Amount  string `json:"amount"`
	Tax     string `json:"tax"`
}

func totalsJSON(t Totals) map[string]totalJSON {
	out := make(map[string]totalJSON, len(t))
	for cur, x := range t {
		d := digitsOf(cur)
		out[cur] = totalJSON{x.Records, x.Amount.StringFixed(d), x.Tax.StringFixed(d)}
	}
	return out
}

// writeReport writes the JSON report: the manifest, counts, totals, then
// every finding (the rows that are not match, with their input records),
// copied from findings (one JSON object per line).
func (r *Result) writeReport(w io.Writer, findings io.Reader) error {
	counts := map[string]int64{}
	for s, c := range r.Counts {
		counts[Status(s).String()] = c
	}
	head := struct {
		Manifest   Manifest                        `json:"manifest"`
		Read       map[string]int64                `json:"read"`
		Counts     map[string]int64                `json:"counts"`
		Findings   int64                           `json:"findings"`
		FuzzyPairs int64                           `json:"fuzzy_pairs"`
		Groups     int64                           `json:"groups"`
		Totals     map[string]map[string]totalJSON `json:"totals"`
	}{r.Manifest, map[string]int64{"a": r.ReadA, "b": r.ReadB}, counts, r.Findings(), r.FuzzyPairs, r.Groups,
		map[string]map[string]totalJSON{"a": totalsJSON(r.TotalsA), "b": totalsJSON(r.TotalsB), "ledger": totalsJSON(r.Ledger)}}
	b, err := json.MarshalIndent(head, "", "  ")
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(w)
	// Reopen the object to append the findings array.
	bw.Write(b[:len(b)-2])
	bw.WriteString(",\n  \"rows\": [")
	br := bufio.NewReader(findings)
	first := true
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 1 {
			if !first {
				bw.WriteByte(',')
			}
			first = false
			bw.WriteString("\n    ")
			bw.Write(line[:len(line)-1])
		}
		if err == io.EOF {
			break
		}
		if err != nil && err != bufio.ErrBufferFull {
			return fmt.Errorf("read findings: %w", err)
		}
		if err == bufio.ErrBufferFull {
			// A very long line: copy the rest as it comes.
			rest, err := br.ReadBytes('\n')
			bw.Write(rest[:len(rest)-1])
			if err != nil {
				return fmt.Errorf("read findings: %w", err)
			}
		}
	}
	if !first {
		bw.WriteString("\n  ")
	}
	bw.WriteString("]\n}\n")
	return bw.Flush()
}

// appendReview writes one review entry: the ledger row, a reason for a
// person, and the input records behind it with their positions.
func appendReview(b []byte, r *Row, names [2]string) []byte {
	b = appendRowJSON(b, r)
	b = b[:len(b)-1]
	b = append(b, `,"reason":`...)
	b = stream.AppendJSONString(b, reason(r))
	if r.Fuzzy {
		b = append(b, `,"fuzzy":true`...)
	}
	b = append(b, `,"a":`...)
	b = appendRecs(b, r.A(), names)
	b = append(b, `,"b":`...)
	b = appendRecs(b, r.B(), names)
	return append(b, '}')
}

func appendRecs(b []byte, rs []*rec, names [2]string) []byte {
	b = append(b, '[')
	for i, x := range rs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"at":`...)
		b = stream.AppendJSONString(b, fmt.Sprintf("%s:%d", names[x.side], x.line()))
		b = append(b, `,"id":`...)
		b = stream.AppendJSONString(b, x.ID)
		if x.Kind() != "" {
			b = append(b, `,"kind":`...)
			b = stream.AppendJSONString(b, x.Kind())
		}
		b = append(b, `,"date":`...)
		b = stream.AppendJSONString(b, billing.FormatTime(x.Date().time()))
		if !x.Updated().IsZero() {
			b = append(b, `,"updated":`...)
			b = stream.AppendJSONString(b, billing.FormatTime(x.Updated().time()))
		}
		b = append(b, `,"customer":`...)
		b = stream.AppendJSONString(b, x.Customer)
		b = append(b, `,"currency":`...)
		b = stream.AppendJSONString(b, x.Currency())
		b = append(b, `,"amount":`...)
		b = stream.AppendJSONString(b, x.formatAmount(x.Amount()))
		b = append(b, `,"tax":`...)
		b = stream.AppendJSONString(b, x.formatAmount(x.Tax()))
		b = append(b, `,"state":`...)
		b = stream.AppendJSONString(b, x.State())
		b = append(b, '}')
	}
	return append(b, ']')
}

// reason says in words why a row needs a look.
func reason(r *Row) string {
	switch r.Status {
	case StatusDiff:
		fields := make([]string, len(r.Diffs()))
		for i, d := range r.Diffs() {
			fields[i] = d.Field
		}
		verb := " differs"
		if len(fields) > 1 {
			verb = " differ"
		}
		s := "both sides have it but " + strings.Join(fields, ", ") + verb
		if r.Fuzzy {
			s += " (a fuzzy pair: by customer, currency, amount and date)"
		}
		return s
	case StatusOnlyA, StatusOnlyB:
		this, other := "A", "B"
		if r.Status == StatusOnlyB {
			this, other = "B", "A"
		}
		if n := r.note(); n != "" {
			return n
		}
		if r.Key() == "" {
			return fmt.Sprintf("only in %s: the record has no key", this)
		}
		return fmt.Sprintf("only in %s: no record in %s has this key", this, other)
	case StatusDuplicate:
		side := "A"
		if r.a == nil {
			side = "B"
		}
		return fmt.Sprintf("the key appears more than once in %s; not matched", side)
	case StatusMatch:
		if r.Fuzzy {
			return "a fuzzy pair: by customer, currency, amount and date"
		}
		return "match"
	}
	return ""
}
