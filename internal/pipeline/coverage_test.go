package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/taxagg/taxagg/internal/rules"
	"github.com/taxagg/taxagg/internal/stream"
	"github.com/taxagg/taxagg/internal/txn"
)

func newParser() *txn.Parser { return txn.NewParser(txn.ParseOptions{}) }

const coverageRules = `
version: 1
jurisdictions:
  - code: US-TX
    name: Texas
    level: state
    match: {country: US, state: TX}
    taxes:
      - id: tx-state
        rates: [{from: 2020-01-01, rate: "6.25%"}]
  - code: US-OR
    name: Oregon
    level: state
    match: {country: US, state: OR}
`

type nopSink struct{}

func (nopSink) NewWorker() WorkerSink { return nopWorker{} }
func (nopSink) Ordered() bool         { return false }
func (nopSink) Emit(*Item) error      { return nil }

type nopWorker struct{}

func (nopWorker) Render(*Item) {}
func (nopWorker) Accept(*Item) {}

func compile(t testing.TB) *rules.Program {
	t.Helper()
	p, err := rules.Compile([]rules.Source{{Name: "rules.yaml", Data: []byte(coverageRules)}})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// coverageInput has, per 10 records: 5 Texas sales (two by name, one
// refund), 2 in Oregon, 1 before the rates start, 2 unmatched (GB in GBP,
// a misspelt state in USD), and a duplicate of the first record.
func coverageInput(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, `{"id":"tx%d-1","date":"2026-01-05","currency":"USD","amount":"10.00","country":"US","state":"Texas"}`+"\n", i)
		fmt.Fprintf(&b, `{"id":"tx%d-2","date":"2026-01-05","currency":"USD","amount":"10.00","country":"USA","state":"TX"}`+"\n", i)
		fmt.Fprintf(&b, `{"id":"tx%d-3","date":"2026-01-05","currency":"USD","amount":"1.5","country":"US","state":"TX"}`+"\n", i)
		fmt.Fprintf(&b, `{"id":"tx%d-4","date":"2026-01-05","currency":"USD","lines":[{"amount":"2.00"},{"amount":"3.00"}],"country":"US","state":"tx"}`+"\n", i)
		fmt.Fprintf(&b, `{"id":"tx%d-5","date":"2026-01-05","type":"refund","currency":"USD","amount":"4.00","country":"US","state":"TX"}`+"\n", i)
		fmt.Fprintf(&b, `{"id":"or%d-1","date":"2026-01-05","currency":"USD","amount":"7.00","country":"US","state":"Oregon"}`+"\n", i)
		fmt.Fprintf(&b, `{"id":"or%d-2","date":"2026-01-05","currency":"EUR","amount":"7.00","country":"US","state":"OR"}`+"\n", i)
		fmt.Fprintf(&b, `{"id":"old%d","date":"2019-06-01","currency":"USD","amount":"8.00","country":"US","state":"TX"}`+"\n", i)
		fmt.Fprintf(&b, `{"id":"gb%d","date":"2026-01-05","currency":"GBP","amount":"10.00","country":"GB"}`+"\n", i)
		fmt.Fprintf(&b, `{"id":"xx%d","date":"2026-01-05","currency":"USD","amount":"0.50","country":"US","state":"Texsa","postal_code":"73301"}`+"\n", i)
		fmt.Fprintf(&b, `{"id":"tx%d-1","date":"2026-01-05","currency":"USD","amount":"10.00","country":"US","state":"Texas"}`+"\n", i)
	}
	return b.String()
}

func grossText(ta Tally) string {
	var parts []string
	for _, g := range ta.Gross {
		parts = append(parts, g.Currency.Code+" "+g.Amount.String())
	}
	return fmt.Sprintf("%d [%s]", ta.Transactions, strings.Join(parts, ", "))
}

func TestCoverageCounts(t *testing.T) {
	p := compile(t)
	const n = 300 // several batches
	var first string
	for _, workers := range []int{1, 2, 5} {
		var unmatched bytes.Buffer
		c, err := Run(context.Background(), []Input{{Name: "tx.ndjson", R: strings.NewReader(coverageInput(n))}},
			Options{Program: p, Format: stream.FormatAuto, Workers: workers, Unmatched: &unmatched}, nopSink{})
		if err != nil {
			t.Fatal(err)
		}
		cv := c.Coverage
		if c.Accepted != 10*n || c.Duplicates != n || cv.Total() != c.Accepted {
			t.Fatalf("accepted %d, duplicates %d, coverage total %d", c.Accepted, c.Duplicates, cv.Total())
		}
		for _, tt := range []struct {
			name string
			got  Tally
			want string
		}{
			{"taxed", cv.Taxed, fmt.Sprintf("%d [USD %d]", 5*n, 2250*n/100)},
			{"no_tax", cv.NoTax, fmt.Sprintf("%d [EUR %d, USD %d]", 3*n, 7*n, 15*n)},
			{"unmatched", cv.Unmatched, fmt.Sprintf("%d [GBP %d, USD %d]", 2*n, 10*n, n/2)},
		} {
			if g := grossText(tt.got); g != tt.want {
				t.Errorf("workers %d: %s %s, want %s", workers, tt.name, g, tt.want)
			}
		}
		if cv.Untaxed() != 5*n {
			t.Errorf("untaxed %d", cv.Untaxed())
		}
		places := fmt.Sprintf("%v %d %d", cv.Places, cv.Places[0].Transactions, cv.Places[1].Transactions)
		if want := fmt.Sprintf("[GB US/Texsa] %d %d", n, n); places != want {
			t.Errorf("places %s, want %s", places, want)
		}
		lines := strings.Split(strings.TrimSuffix(unmatched.String(), "\n"), "\n")
		if len(lines) != 2*n {
			t.Fatalf("%d unmatched lines, want %d", len(lines), 2*n)
		}
		want0 := `{"source":"tx.ndjson","line":9,"address":{"country":"GB"},"record":"{\"id\":\"gb0\",\"date\":\"2026-01-05\",\"currency\":\"GBP\",\"amount\":\"10.00\",\"country\":\"GB\"}"}`
		if lines[0] != want0 {
			t.Errorf("first unmatched line\n%s\nwant\n%s", lines[0], want0)
		}
		if !strings.HasPrefix(lines[1], `{"source":"tx.ndjson","line":10,"address":{"country":"US","state":"Texsa","postal_code":"73301"},`) {
			t.Errorf("second unmatched line %s", lines[1])
		}
		if first == "" {
			first = unmatched.String()
		} else if unmatched.String() != first {
			t.Errorf("workers %d: the unmatched file differs from one worker's", workers)
		}
	}
}

func TestRequireMatch(t *testing.T) {
	p := compile(t)
	in := coverageInput(1)
	// Without a rejects file the first unmatched transaction stops the run.
	_, err := Run(context.Background(), []Input{{Name: "tx.ndjson", R: strings.NewReader(in)}},
		Options{Program: p, Format: stream.FormatAuto, RequireMatch: true}, nopSink{})
	var re *RejectError
	if !errors.As(err, &re) || re.Line != 9 ||
		err.Error() != `tx.ndjson:9: address: no jurisdiction matches country "GB", and a match is required` {
		t.Fatalf("got %v", err)
	}
	// With one, they are rejects and the rest is accounted for.
	var rejects bytes.Buffer
	c, err := Run(context.Background(), []Input{{Name: "tx.ndjson", R: strings.NewReader(in)}},
		Options{Program: p, Format: stream.FormatAuto, RequireMatch: true, Rejects: &rejects, MaxRejects: -1}, nopSink{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Rejected != 2 || c.Accepted != 8 || c.Coverage.Unmatched.Transactions != 0 || c.Coverage.Total() != 8 {
		t.Errorf("rejected %d, accepted %d, coverage %+v", c.Rejected, c.Accepted, c.Coverage)
	}
	if !strings.Contains(rejects.String(), `"field":"address","error":"no jurisdiction matches country \"US\" state \"Texsa\" postal_code \"73301\", and a match is required"`) {
		t.Errorf("rejects:\n%s", rejects.String())
	}
}

// A run stopped mid-batch (the reject limit) accounts for exactly the
// records it accepted.
func TestCoverageWhenStopped(t *testing.T) {
	p := compile(t)
	in := coverageInput(50)
	for _, workers := range []int{1, 3} {
		var rejects bytes.Buffer
		c, err := Run(context.Background(), []Input{{Name: "tx.ndjson", R: strings.NewReader(in)}},
			Options{Program: p, Format: stream.FormatAuto, Workers: workers, RequireMatch: true,
				Rejects: &rejects, MaxRejects: 3}, nopSink{})
		var re *RejectError
		if !errors.As(err, &re) {
			t.Fatalf("got %v", err)
		}
		if c.Coverage.Total() != c.Accepted || c.Accepted == 0 {
			t.Errorf("workers %d: accepted %d, coverage total %d", workers, c.Accepted, c.Coverage.Total())
		}
	}
}

// BenchmarkCoverageTally is the per-record cost the accounting adds to a
// worker: one accepted record counted and its gross added.
func BenchmarkCoverageTally(b *testing.B) {
	p := compile(b)
	c, err := Run(context.Background(), []Input{{Name: "tx.ndjson", R: strings.NewReader(coverageInput(1))}},
		Options{Program: p, Format: stream.FormatAuto}, nopSink{})
	if err != nil || c.Accepted == 0 {
		b.Fatal(err)
	}
	// Items as a worker holds them: parsed and evaluated.
	items := make([]Item, 0, 10)
	parser, ev := newParser(), p.NewEvaluator(false)
	for _, line := range strings.Split(strings.TrimSpace(coverageInput(1)), "\n")[:10] {
		it := Item{Text: []byte(line)}
		if parseItem(&it, parser, &priorWork{}, false) {
			evalItem(&it, ev, false, &priorWork{})
		}
		if it.err != nil {
			b.Fatal(it.err)
		}
		items = append(items, it)
	}
	var t coverageTally
	b.ReportAllocs()
	for b.Loop() {
		for i := range items {
			t.add(&items[i])
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(items)), "ns/record")
}
