package benchmarks

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/taxagg/taxagg/benchmarks/internal/benchdata"
	"github.com/taxagg/taxagg/internal/reconcile"
)

// Reconcile benchmarks: two generated canonical exports of N records each
// (B lacks ~1% of A, differs in ~1%, has ~1% of its own, in another order).
//
// N is 20000 by default so CI stays fast; set TAXAGG_BENCH_RECONCILE_N for
// the real sizes, e.g. the contract's 1M x 1M:
//
//	TAXAGG_BENCH_RECONCILE_N=1000000 go test -run '^$' -bench Reconcile -benchtime 1x ./benchmarks
//
// Reported: records/s (both sides), peak-MiB (the Go runtime's mapped
// memory, sampled), rss-hwm-MiB (the process's peak RSS, Linux; it also
// counts the generation of the inputs, which is streamed to files).
func reconcileN() int {
	if s := os.Getenv("TAXAGG_BENCH_RECONCILE_N"); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n > 0 {
			return n
		}
	}
	return 20000
}

// reconcileFiles writes the two exports into a temporary directory that
// the benchmark removes.
func reconcileFiles(b *testing.B, n int) (string, string) {
	dir := b.TempDir()
	pa, pb := filepath.Join(dir, "a.ndjson"), filepath.Join(dir, "b.ndjson")
	fa, err := os.Create(pa)
	if err != nil {
		b.Fatal(err)
	}
	defer fa.Close()
	fb, err := os.Create(pb)
	if err != nil {
		b.Fatal(err)
	}
	defer fb.Close()
	if err := benchdata.Pair(fa, fb, n, 1); err != nil {
		b.Fatal(err)
	}
	return pa, pb
}

func BenchmarkReconcile(b *testing.B) {
	benchReconcile(b, reconcile.DefaultMemory)
}

// BenchmarkReconcileSpill forces the partitioned path with a budget far
// below the inputs.
func BenchmarkReconcileSpill(b *testing.B) {
	n := reconcileN()
	benchReconcile(b, max(int64(n)*64, 1<<20))
}

func benchReconcile(b *testing.B, memory int64) {
	n := reconcileN()
	pa, pb := reconcileFiles(b, n)
	var size int64
	for _, p := range []string{pa, pb} {
		st, err := os.Stat(p)
		if err != nil {
			b.Fatal(err)
		}
		size += st.Size()
	}
	opts := reconcile.Options{DateWindow: 24 * time.Hour, Format: reconcile.FormatNDJSON, Memory: memory, Quiet: true}
	b.SetBytes(size)
	b.ReportAllocs()
	runtime.GC()
	stop := samplePeak()
	var records int64
	var partitions int
	for b.Loop() {
		fa, err := os.Open(pa)
		if err != nil {
			b.Fatal(err)
		}
		fb, err := os.Open(pb)
		if err != nil {
			b.Fatal(err)
		}
		out := bufio.NewWriterSize(io.Discard, 1<<16)
		res, err := reconcile.Run(context.Background(), opts,
			reconcile.Input{Name: "a.ndjson", R: fa}, reconcile.Input{Name: "b.ndjson", R: fb},
			reconcile.Outputs{Ledger: out})
		fa.Close()
		fb.Close()
		if err != nil {
			b.Fatal(err)
		}
		records += res.ReadA + res.ReadB
		partitions = res.Partitions
	}
	peak := stop()
	reportRecords(b, records)
	b.ReportMetric(float64(peak)/(1<<20), "peak-MiB")
	if hwm := rssHighWater(); hwm > 0 {
		b.ReportMetric(float64(hwm)/(1<<20), "rss-hwm-MiB")
	}
	b.ReportMetric(float64(partitions), "partitions")
}

// samplePeak samples the runtime's mapped memory (total minus released)
// every few milliseconds until stop is called, and returns the peak.
func samplePeak() (stop func() int64) {
	samples := []metrics.Sample{{Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"}}
	var peak atomic.Int64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(samples)
			if v := int64(samples[0].Value.Uint64() - samples[1].Value.Uint64()); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() int64 {
		close(done)
		wg.Wait()
		return peak.Load()
	}
}

// rssHighWater is the process's peak resident set (VmHWM), 0 when unknown.
func rssHighWater() int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range bytes.Split(data, []byte("\n")) {
		if rest, ok := bytes.CutPrefix(line, []byte("VmHWM:")); ok {
			f := bytes.Fields(rest)
			if len(f) >= 1 {
				kb, _ := strconv.ParseInt(string(f[0]), 10, 64)
				return kb << 10
			}
		}
	}
	return 0
}
