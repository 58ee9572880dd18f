package benchmarks

import (
	"bytes"
	"io"
	"testing"

	"github.com/taxagg/taxagg/internal/cli"
	"github.com/taxagg/taxagg/internal/money"
	"github.com/taxagg/taxagg/internal/nexus"
	"github.com/taxagg/taxagg/internal/pipeline"
	"github.com/taxagg/taxagg/internal/stream"
	"github.com/taxagg/taxagg/internal/txn"
)

// evaluated returns up to n records of the generated file as the pipeline
// hands them to a sink: text, parsed transaction, its members and the
// evaluation (FixedOnly, as calc and nexus run it), with their total size.
func evaluated(b *testing.B, n int) ([]pipeline.Item, int) {
	d := load(b)
	prog := compileRules(b)
	ev := prog.NewEvaluator(false)
	ev.FixedOnly()
	rd, err := stream.Open("tx.ndjson", bytes.NewReader(d.ndjson), stream.FormatAuto, stream.Options{})
	if err != nil {
		b.Fatal(err)
	}
	p := txn.NewParser(txn.ParseOptions{})
	items := make([]pipeline.Item, 0, n)
	size := 0
	for len(items) < n {
		rec, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			b.Fatal(err)
		}
		it := pipeline.Item{Text: append([]byte(nil), rec.Text...)}
		if err := p.ParseJSON(it.Text, &it.Tx); err != nil {
			b.Fatal(err)
		}
		it.Fields = append([]txn.RawField(nil), p.Fields()...)
		if err := ev.Eval(&it.Tx, &it.Result); err != nil {
			b.Fatal(err)
		}
		size += len(rec.Text) + 1
		items = append(items, it)
	}
	return items, size
}

// BenchmarkCalcRender is what calc adds per record to aggregate's work in
// the workers: the record's output (its members as written, its tax lines,
// tax_total), rendered into the record's reusable buffer. MB/s are of
// input; out-B/record is the output's size.
func BenchmarkCalcRender(b *testing.B) {
	for _, f := range []struct {
		name   string
		format stream.OutputFormat
	}{{"ndjson", stream.OutputNDJSON}, {"csv", stream.OutputCSV}} {
		b.Run(f.name, func(b *testing.B) {
			items, size := evaluated(b, min(benchN(b), 20000))
			ws := cli.NewCalcRenderer(f.format)
			for i := range items {
				ws.Render(&items[i]) // the buffers grown, the caches filled
			}
			report(b, len(items), size)
			out := 0
			for b.Loop() {
				out = 0
				for i := range items {
					ws.Render(&items[i])
					out += len(items[i].Out)
				}
			}
			b.ReportMetric(float64(out)/float64(len(items)), "out-B/record")
		})
	}
}

// BenchmarkNexusAdd is what nexus does per record instead of aggregate's
// accumulation (compare BenchmarkAccumulate): the per-day figures of each
// jurisdiction with a threshold and the spill record naming them.
func BenchmarkNexusAdd(b *testing.B) {
	items, size := evaluated(b, min(benchN(b), 20000))
	cur, _ := money.LookupCurrency("USD")
	report(b, len(items), size)
	for b.Loop() {
		t := nexus.New(nexus.Options{Currency: cur, TempDir: b.TempDir()})
		w := t.NewWorker()
		for i := range items {
			w.Add(&items[i].Tx, &items[i].Result)
		}
		if err := t.Close(); err != nil {
			b.Fatal(err)
		}
	}
}
