package kstream

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/taxagg/taxagg/internal/promtext"
)

// Metrics are a member's Prometheus metrics. The counters count what was
// committed (an aborted batch counts only as an abort). It is safe for
// concurrent use; ServeHTTP writes the text exposition format.
type Metrics struct {
	recordsIn  atomic.Int64
	eventsOut  atomic.Int64
	rejects    atomic.Int64
	duplicates atomic.Int64
	commits    atomic.Int64
	aborts     atomic.Int64
	restores   atomic.Int64

	mu      sync.Mutex
	skipped map[string]int64 // by reason
	lag     map[lagKey]int64
	batch   *promtext.Histogram // seconds
}

type lagKey struct {
	topic     string
	partition int32
}

// batchBuckets are the upper bounds, in seconds, of the batch latency
// histogram.
var batchBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// NewMetrics returns zeroed metrics.
func NewMetrics() *Metrics {
	return &Metrics{skipped: map[string]int64{}, lag: map[lagKey]int64{}, batch: promtext.NewHistogram(batchBuckets)}
}

func (m *Metrics) observeBatch(c Counts, d time.Duration) {
	m.recordsIn.Add(c.Read)
	m.eventsOut.Add(c.Accepted)
	m.rejects.Add(c.Rejected)
	m.duplicates.Add(c.Duplicates)
	m.commits.Add(1)
	s := d.Seconds()
	m.mu.Lock()
	defer m.mu.Unlock()
	for k, v := range c.SkippedBy {
		m.skipped[k] += v
	}
	m.batch.Observe(s)
}

func (m *Metrics) setLag(topic string, p int32, lag int64) {
	m.mu.Lock()
	m.lag[lagKey{topic, p}] = max(lag, 0)
	m.mu.Unlock()
}

func (m *Metrics) dropLag(topic string, p int32) {
	m.mu.Lock()
	delete(m.lag, lagKey{topic, p})
	m.mu.Unlock()
}

// WriteTo writes the metrics in the Prometheus text exposition format.
func (m *Metrics) WriteTo(w io.Writer) (int64, error) {
	cw := &countingWriter{w: bufio.NewWriter(w)}
	counter := func(name, help string, v int64) {
		fmt.Fprintf(cw, "# HELP %s %s\n# TYPE %s counter\n%s %d\n", name, help, name, name, v)
	}
	counter("taxagg_stream_records_in_total", "Input records consumed and committed.", m.recordsIn.Load())
	counter("taxagg_stream_events_out_total", "Calc events produced and committed.", m.eventsOut.Load())
	counter("taxagg_stream_rejects_total", "Bad records sent to the rejects topic and committed.", m.rejects.Load())
	counter("taxagg_stream_duplicates_total", "Records whose id was already counted (replays, producer retries).", m.duplicates.Load())
	counter("taxagg_stream_transactions_committed_total", "Kafka transactions committed.", m.commits.Load())
	counter("taxagg_stream_transactions_aborted_total", "Kafka transactions aborted (rebalances, produce errors).", m.aborts.Load())
	counter("taxagg_stream_restores_total", "Partition states restored from the totals topic.", m.restores.Load())

	m.mu.Lock()
	reasons := make([]string, 0, len(m.skipped))
	for k := range m.skipped {
		reasons = append(reasons, k)
	}
	sort.Strings(reasons)
	fmt.Fprint(cw, "# HELP taxagg_stream_skipped_total Documents read with --from that are not transactions (draft or void invoices, ...), committed, by reason.\n# TYPE taxagg_stream_skipped_total counter\n")
	for _, k := range reasons {
		fmt.Fprintf(cw, "taxagg_stream_skipped_total{reason=%s} %d\n", promtext.Label(k), m.skipped[k])
	}
	keys := make([]lagKey, 0, len(m.lag))
	for k := range m.lag {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].topic != keys[j].topic {
			return keys[i].topic < keys[j].topic
		}
		return keys[i].partition < keys[j].partition
	})
	fmt.Fprint(cw, "# HELP taxagg_stream_consumer_lag Records behind the partition's high watermark, as of the last fetch.\n# TYPE taxagg_stream_consumer_lag gauge\n")
	for _, k := range keys {
		fmt.Fprintf(cw, "taxagg_stream_consumer_lag{topic=%s,partition=\"%d\"} %d\n", promtext.Label(k.topic), k.partition, m.lag[k])
	}
	fmt.Fprint(cw, "# HELP taxagg_stream_batch_seconds Time from a batch's first record polled to its transaction committed.\n# TYPE taxagg_stream_batch_seconds histogram\n")
	m.batch.Write(cw, "taxagg_stream_batch_seconds", "")
	m.mu.Unlock()
	if err := cw.w.(*bufio.Writer).Flush(); err != nil && cw.err == nil {
		cw.err = err
	}
	return cw.n, cw.err
}

// ServeHTTP serves the metrics.
func (m *Metrics) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	m.WriteTo(w)
}

type countingWriter struct {
	w   io.Writer
	n   int64
	err error
}

func (c *countingWriter) Write(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n, err := c.w.Write(p)
	c.n += int64(n)
	c.err = err
	return n, err
}
