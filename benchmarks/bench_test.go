// Package benchmarks measures taxagg on generated data: the readers, the
// compiled rule program per record, and aggregate and calc end to end.
//
// Every benchmark is fast at -benchtime 1x with the default size (CI runs
// them so). Set TAXAGG_BENCH_N for larger inputs, e.g.
//
//	TAXAGG_BENCH_N=1000000 go test -run '^$' -bench . -benchtime 3x ./benchmarks
package benchmarks

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	"github.com/taxagg/taxagg/benchmarks/internal/benchdata"
	"github.com/taxagg/taxagg/internal/aggregate"
	"github.com/taxagg/taxagg/internal/cli"
	"github.com/taxagg/taxagg/internal/jsonscan"
	"github.com/taxagg/taxagg/internal/pipeline"
	"github.com/taxagg/taxagg/internal/rules"
	"github.com/taxagg/taxagg/internal/stream"
	"github.com/taxagg/taxagg/internal/txn"
)

// benchN is the number of generated transactions: TAXAGG_BENCH_N, else a
// size that keeps -benchtime 1x quick.
func benchN(tb testing.TB) int {
	if s := os.Getenv("TAXAGG_BENCH_N"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			tb.Fatalf("TAXAGG_BENCH_N=%q is not a positive number", s)
		}
		return n
	}
	return 20000
}

type dataset struct {
	ndjson, csv []byte
	rules       []byte
	dir         string // holds tx.ndjson, tx.csv and rules.yaml
}

var (
	dataOnce sync.Once
	data     dataset
	dataErr  error
)

// load generates the inputs once per test binary.
func load(b *testing.B) *dataset {
	b.Helper()
	dataOnce.Do(func() {
		n := benchN(b)
		var nd, cs, rl bytes.Buffer
		if dataErr = benchdata.Transactions(&nd, n, 1, benchdata.NDJSON); dataErr != nil {
			return
		}
		if dataErr = benchdata.Transactions(&cs, n, 1, benchdata.CSV); dataErr != nil {
			return
		}
		if dataErr = benchdata.Rules(&rl); dataErr != nil {
			return
		}
		data = dataset{ndjson: nd.Bytes(), csv: cs.Bytes(), rules: rl.Bytes()}
		data.dir, dataErr = os.MkdirTemp("", "taxagg-bench-")
		if dataErr != nil {
			return
		}
		for name, content := range map[string][]byte{"tx.ndjson": data.ndjson, "tx.csv": data.csv, "rules.yaml": data.rules} {
			if dataErr = os.WriteFile(filepath.Join(data.dir, name), content, 0o644); dataErr != nil {
				return
			}
		}
	})
	if dataErr != nil {
		b.Fatal(dataErr)
	}
	return &data
}

func TestMain(m *testing.M) {
	code := m.Run()
	if data.dir != "" {
		os.RemoveAll(data.dir)
	}
	os.Exit(code)
}

// report sets the throughput figures of a benchmark that handles records
// records of size bytes per iteration: MB/s, records/s and ns/record.
func report(b *testing.B, records, size int) {
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.Cleanup(func() { reportRecords(b, int64(records)*int64(b.N)) })
}

// reportRecords adds records/s and ns/record for records handled in all.
func reportRecords(b *testing.B, records int64) {
	if s := b.Elapsed().Seconds(); s > 0 && records > 0 {
		b.ReportMetric(float64(records)/s, "records/s")
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(records), "ns/record")
	}
}

// eachBatch reads in whole (a file called name) and calls each with every
// batch of records; it returns the number of records read.
func eachBatch(b *testing.B, name string, in []byte, each func(*stream.Batch)) int {
	rd, err := stream.Open(name, bytes.NewReader(in), stream.FormatAuto, stream.Options{})
	if err != nil {
		b.Fatal(err)
	}
	var bt stream.Batch
	got := 0
	for {
		err := rd.ReadBatch(&bt, 512)
		if err == io.EOF {
			return got
		}
		if err != nil {
			b.Fatal(err)
		}
		if each != nil {
			each(&bt)
		}
		got += bt.Len()
	}
}

func benchReader(b *testing.B, name string, in []byte) {
	n := benchN(b)
	report(b, n, len(in))
	for b.Loop() {
		if got := eachBatch(b, name, in, nil); got != n {
			b.Fatalf("read %d records, want %d", got, n)
		}
	}
}

func BenchmarkReadNDJSON(b *testing.B) { benchReader(b, "tx.ndjson", load(b).ndjson) }
func BenchmarkReadCSV(b *testing.B)    { benchReader(b, "tx.csv", load(b).csv) }

// BenchmarkScanNDJSON reads every record and scans it as JSON (validated,
// its members found), without building a Transaction: between ReadNDJSON
// and ReadParseNDJSON, so that the JSON scan and the field checks that
// follow it can be told apart.
func BenchmarkScanNDJSON(b *testing.B) {
	d := load(b)
	n := benchN(b)
	report(b, n, len(d.ndjson))
	var sc jsonscan.Scanner
	for b.Loop() {
		members := 0
		eachBatch(b, "tx.ndjson", d.ndjson, func(bt *stream.Batch) {
			for i := range bt.Records {
				fields, err := sc.Object(bt.Records[i].Text)
				if err != nil {
					b.Fatal(err)
				}
				members += len(fields)
			}
		})
		if members < n {
			b.Fatalf("%d members in %d records", members, n)
		}
	}
}

// BenchmarkReadParseNDJSON reads and parses every record into a Transaction.
func BenchmarkReadParseNDJSON(b *testing.B) {
	d := load(b)
	report(b, benchN(b), len(d.ndjson))
	var tx txn.Transaction
	for b.Loop() {
		p := txn.NewParser(txn.ParseOptions{})
		eachBatch(b, "tx.ndjson", d.ndjson, func(bt *stream.Batch) {
			for i := range bt.Records {
				if err := p.ParseJSON(bt.Records[i].Text, &tx); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// parsed returns up to n transactions of the generated file, parsed, with
// their total size in bytes.
func parsed(b *testing.B, n int) ([]txn.Transaction, int) {
	d := load(b)
	txs := make([]txn.Transaction, 0, n)
	rd, err := stream.Open("tx.ndjson", bytes.NewReader(d.ndjson), stream.FormatAuto, stream.Options{})
	if err != nil {
		b.Fatal(err)
	}
	p := txn.NewParser(txn.ParseOptions{})
	size := 0
	for len(txs) < n {
		rec, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			b.Fatal(err)
		}
		var tx txn.Transaction
		if err := p.ParseJSON(rec.Text, &tx); err != nil {
			b.Fatal(err)
		}
		size += len(rec.Text) + 1
		txs = append(txs, tx)
	}
	return txs, size
}

func compileRules(b *testing.B) *rules.Program {
	prog, err := rules.Compile([]rules.Source{{Name: "rules.yaml", Data: load(b).rules}})
	if err != nil {
		b.Fatal(err)
	}
	return prog
}

// BenchmarkEval is the compiled rule program alone, per record, on
// transactions parsed beforehand: the plans are built on the first pass
// and reused after (see BenchmarkPlanBuild and BenchmarkPlanEval).
func BenchmarkEval(b *testing.B) {
	prog := compileRules(b)
	txs, size := parsed(b, min(benchN(b), 20000))
	report(b, len(txs), size)
	ev := prog.NewEvaluator(false)
	var res rules.Result
	lines := 0
	for b.Loop() {
		for i := range txs {
			if err := ev.Eval(&txs[i], &res); err != nil {
				b.Fatal(err)
			}
			lines += len(res.Lines)
		}
	}
	if lines == 0 {
		b.Fatal("no tax lines")
	}
}

// BenchmarkPlanBuild is the cost of a record whose address the Evaluator
// has not seen: normalising and matching the address and compiling its
// plans. Each iteration evaluates the first record of every distinct
// address with a new Evaluator.
func BenchmarkPlanBuild(b *testing.B) {
	prog := compileRules(b)
	all, _ := parsed(b, benchN(b))
	type addr struct{ country, state, county, city, postal string }
	seen := map[addr]bool{}
	var txs []txn.Transaction
	for _, tx := range all {
		a := addr{tx.Country, tx.State, tx.County, tx.City, tx.PostalCode}
		if !seen[a] {
			seen[a] = true
			txs = append(txs, tx)
		}
	}
	b.ReportAllocs()
	var res rules.Result
	for b.Loop() {
		ev := prog.NewEvaluator(false)
		ev.FixedOnly()
		for i := range txs {
			if err := ev.Eval(&txs[i], &res); err != nil {
				b.Fatal(err)
			}
		}
	}
	reportRecords(b, int64(len(txs))*int64(b.N))
}

// BenchmarkPlanEval is a record whose plans are built: the steady state
// of a long run (the Evaluator has seen every address and product), as
// aggregate runs it (Compact: one SlotSums per tax).
func BenchmarkPlanEval(b *testing.B) { benchPlanEval(b, (*rules.Evaluator).Compact) }

// BenchmarkPlanEvalLines is BenchmarkPlanEval with tax lines (FixedOnly),
// as nexus and calc's JSON run it.
func BenchmarkPlanEvalLines(b *testing.B) { benchPlanEval(b, (*rules.Evaluator).FixedOnly) }

func benchPlanEval(b *testing.B, mode func(*rules.Evaluator)) {
	prog := compileRules(b)
	txs, size := parsed(b, min(benchN(b), 50000))
	ev := prog.NewEvaluator(false)
	mode(ev)
	var res rules.Result
	for i := range txs {
		if err := ev.Eval(&txs[i], &res); err != nil {
			b.Fatal(err)
		}
	}
	report(b, len(txs), size)
	for b.Loop() {
		for i := range txs {
			if err := ev.Eval(&txs[i], &res); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkDedupProbe is the duplicate check alone: every record's id and
// content hashes probed into a new duplicate set sized as the pipeline
// sizes it.
func BenchmarkDedupProbe(b *testing.B) {
	txs, size := parsed(b, benchN(b))
	report(b, len(txs), size)
	for b.Loop() {
		d := txn.NewDedup(size / 256)
		for i := range txs {
			if v, _ := d.CheckHash(txs[i].IDHash, txs[i].ContentHash, txn.Pos{Line: i + 1}); v != txn.New {
				b.Fatalf("record %d: %v", i, v)
			}
		}
		d.Release()
	}
}

// BenchmarkAccumulate is summing evaluated records into aggregate rows,
// as aggregate does: compact results into dense rows.
func BenchmarkAccumulate(b *testing.B) { benchAccumulate(b, (*rules.Evaluator).Compact) }

// BenchmarkAccumulateLines is summing tax lines (as with --by-rate).
func BenchmarkAccumulateLines(b *testing.B) { benchAccumulate(b, (*rules.Evaluator).FixedOnly) }

func benchAccumulate(b *testing.B, mode func(*rules.Evaluator)) {
	prog := compileRules(b)
	txs, size := parsed(b, min(benchN(b), 20000))
	ev := prog.NewEvaluator(false)
	mode(ev)
	results := make([]rules.Result, len(txs))
	for i := range txs {
		if err := ev.Eval(&txs[i], &results[i]); err != nil {
			b.Fatal(err)
		}
	}
	report(b, len(txs), size)
	for b.Loop() {
		acc := aggregate.New(aggregate.Options{})
		for i := range txs {
			acc.Add(&txs[i], &results[i])
		}
		if len(acc.Rows()) == 0 {
			b.Fatal("no rows")
		}
	}
}

func benchCLI(b *testing.B, size int, args ...string) {
	d := load(b)
	report(b, benchN(b), size)
	args = append(args[:1:1], append([]string{"-q", "--rules", filepath.Join(d.dir, "rules.yaml"), "--format", "ndjson"}, args[1:]...)...)
	for i := range args {
		if args[i] == "tx.ndjson" || args[i] == "tx.csv" {
			args[i] = filepath.Join(d.dir, args[i])
		}
	}
	var out bytes.Buffer
	for b.Loop() {
		out.Reset()
		ios := &cli.IOStreams{In: bytes.NewReader(nil), Out: &out, ErrOut: io.Discard}
		if code := cli.Main(args, ios); code != 0 {
			b.Fatalf("taxagg %v: exit %d", args, code)
		}
	}
	if out.Len() == 0 {
		b.Fatal("no output")
	}
}

func BenchmarkAggregateNDJSON(b *testing.B) {
	benchCLI(b, len(load(b).ndjson), "aggregate", "tx.ndjson")
}

func BenchmarkAggregateCSV(b *testing.B) {
	benchCLI(b, len(load(b).csv), "aggregate", "tx.csv")
}

func BenchmarkCalcNDJSON(b *testing.B) {
	benchCLI(b, len(load(b).ndjson), "calc", "tx.ndjson")
}

// aggSink is the aggregate command's sink: an Accumulator per worker,
// merged at the end.
type aggSink struct {
	mu   sync.Mutex
	accs []*aggregate.Accumulator
}

func (s *aggSink) NewWorker() pipeline.WorkerSink {
	a := aggregate.New(aggregate.Options{})
	s.mu.Lock()
	s.accs = append(s.accs, a)
	s.mu.Unlock()
	return aggWorker{a}
}
func (s *aggSink) Ordered() bool             { return false }
func (s *aggSink) Emit(*pipeline.Item) error { return nil }

type aggWorker struct{ acc *aggregate.Accumulator }

func (w aggWorker) Render(*pipeline.Item)    {}
func (w aggWorker) Accept(it *pipeline.Item) { w.acc.Add(&it.Tx, &it.Result) }

// BenchmarkPipelineAggregate runs the parallel pipeline with an aggregate
// sink, without the CLI: read, parse, evaluate, dedup, sum, merge.
func BenchmarkPipelineAggregate(b *testing.B) {
	d := load(b)
	prog, err := rules.Compile([]rules.Source{{Name: "rules.yaml", Data: d.rules}})
	if err != nil {
		b.Fatal(err)
	}
	report(b, benchN(b), len(d.ndjson))
	for b.Loop() {
		sink := &aggSink{}
		_, err := pipeline.Run(context.Background(), []pipeline.Input{{Name: "tx.ndjson", R: bytes.NewReader(d.ndjson)}},
			pipeline.Options{Program: prog, Format: stream.FormatAuto, FixedOnly: true, Compact: true}, sink)
		if err != nil {
			b.Fatal(err)
		}
		total := aggregate.New(aggregate.Options{})
		for _, a := range sink.accs {
			total.Merge(a)
		}
		if len(total.Rows()) == 0 {
			b.Fatal("no rows")
		}
	}
}

// BenchmarkNexusNDJSON is `taxagg nexus` end to end: aggregate's pipeline
// plus the per-day state, the spill files and the crossings. Compare its
// ns/record with BenchmarkAggregateNDJSON's (the target is ≤ 1.2×).
func BenchmarkNexusNDJSON(b *testing.B) {
	benchCLI(b, len(load(b).ndjson), "nexus", "tx.ndjson")
}
