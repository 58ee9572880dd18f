package kstream

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/taxagg/taxagg/internal/aggregate"
)

// BenchmarkMember runs one member with --once over 5,000 transactions in an
// in-process Kafka: records/s is from the first batch polled to the last
// committed (the group join and the idle wait left out).
func BenchmarkMember(b *testing.B) {
	const n = 5000
	opt := aggregate.Options{Period: aggregate.PeriodMonth}
	in := genInput(b, n, opt)
	for _, maxBatch := range []int{100, 500, 2000} {
		b.Run(fmt.Sprintf("max-batch=%d", maxBatch), func(b *testing.B) { benchMember(b, in, opt, maxBatch) })
	}
}

func benchMember(b *testing.B, in *input, opt aggregate.Options, maxBatch int) {
	n := int64(len(in.msgs))
	var recsPerSec float64
	for b.Loop() {
		b.StopTimer()
		c := newCluster(b)
		c.produce(b, in.msgs)
		cfg := testConfig(c, "bench", opt)
		cfg.Once, cfg.Idle, cfg.MaxBatch = true, 300*time.Millisecond, maxBatch
		cfg.ClientOpts = append(cfg.ClientOpts, kgo.FetchMaxPartitionBytes(1<<20))
		var first, last time.Time
		cfg.hook = func(stage string, _ int) error {
			if first.IsZero() {
				first = time.Now()
			}
			return nil
		}
		b.StartTimer()
		counts, err := Run(context.Background(), cfg)
		last = time.Now().Add(-cfg.Idle)
		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
		if counts.Read != n {
			b.Fatalf("read %d of %d", counts.Read, n)
		}
		recsPerSec = float64(n) / last.Sub(first).Seconds()
		c.Close()
		b.StartTimer()
	}
	b.ReportMetric(recsPerSec, "records/s")
}
