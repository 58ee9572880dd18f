package deliver

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"sort"
	"sync"
	"time"

	"github.com/taxagg/taxagg/internal/promtext"
)

// Metrics counts a run's attempts and latencies, and writes them with the
// outbox's gauges in the Prometheus text format. Safe for concurrent use.
type Metrics struct {
	mu       sync.Mutex
	attempts map[[2]string]int64 // endpoint, outcome
	request  map[string]*promtext.Histogram
	latency  map[string]*promtext.Histogram
}

// NewMetrics returns empty metrics.
func NewMetrics() *Metrics {
	return &Metrics{attempts: map[[2]string]int64{}, request: map[string]*promtext.Histogram{}, latency: map[string]*promtext.Histogram{}}
}

var (
	requestBuckets = []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}
	latencyBuckets = []float64{1, 5, 30, 60, 300, 1800, 3600, 7200, 21600, 86400, 259200}
)

func (m *Metrics) observeAttempt(endpoint, outcome string, d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.attempts[[2]string{endpoint, outcome}]++
	h := m.request[endpoint]
	if h == nil {
		h = promtext.NewHistogram(requestBuckets)
		m.request[endpoint] = h
	}
	h.Observe(d.Seconds())
}

func (m *Metrics) observeDelivered(endpoint string, d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	h := m.latency[endpoint]
	if h == nil {
		h = promtext.NewHistogram(latencyBuckets)
		m.latency[endpoint] = h
	}
	h.Observe(max(0, d.Seconds()))
}

// Attempts returns the attempts counted for an endpoint and outcome.
func (m *Metrics) Attempts(endpoint, outcome string) int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.attempts[[2]string{endpoint, outcome}]
}

// Write writes the metrics in the Prometheus text format, with the
// outbox's gauges as st has them now, for the given endpoints.
func (m *Metrics) Write(ctx context.Context, w io.Writer, st *Store, endpoints []string, now time.Time) error {
	counts, err := st.Counts(ctx)
	if err != nil {
		return err
	}
	disabled, err := st.Disabled(ctx)
	if err != nil {
		return err
	}
	ids := append([]string(nil), endpoints...)
	for id := range counts {
		if !contains(ids, id) {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	bw := bufio.NewWriter(w)
	p := func(format string, args ...any) { fmt.Fprintf(bw, format, args...) }
	// perEndpoint writes one gauge with a sample per endpoint (0 for an
	// endpoint the outbox has nothing for).
	perEndpoint := func(name, help string, value func(*Counts) int) {
		p("# HELP %s %s\n# TYPE %s gauge\n", name, help, name)
		for _, id := range ids {
			n := 0
			if c := counts[id]; c != nil {
				n = value(c)
			}
			p("%s{endpoint=%s} %d\n", name, promtext.Label(id), n)
		}
	}

	m.mu.Lock()
	p("# HELP taxagg_deliver_attempts_total Delivery attempts, by endpoint and outcome.\n")
	p("# TYPE taxagg_deliver_attempts_total counter\n")
	keys := make([][2]string, 0, len(m.attempts))
	for k := range m.attempts {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i][0] != keys[j][0] {
			return keys[i][0] < keys[j][0]
		}
		return keys[i][1] < keys[j][1]
	})
	for _, k := range keys {
		p("taxagg_deliver_attempts_total{endpoint=%s,outcome=%s} %d\n", promtext.Label(k[0]), promtext.Label(k[1]), m.attempts[k])
	}
	writeHistograms(p, bw, "taxagg_deliver_request_duration_seconds", "Time from sending a request to its answer (or its failure), by endpoint.", m.request)
	writeHistograms(p, bw, "taxagg_deliver_latency_seconds", "Time from recording an event to its delivery, by endpoint.", m.latency)
	m.mu.Unlock()

	p("# HELP taxagg_deliver_pending Deliveries waiting to be sent or retried, by endpoint.\n")
	p("# TYPE taxagg_deliver_pending gauge\n")
	var oldest time.Time
	for _, id := range ids {
		c := counts[id]
		if c == nil {
			c = &Counts{}
		}
		p("taxagg_deliver_pending{endpoint=%s} %d\n", promtext.Label(id), c.Pending)
		if !c.OldestPending.IsZero() && (oldest.IsZero() || c.OldestPending.Before(oldest)) {
			oldest = c.OldestPending
		}
	}
	perEndpoint("taxagg_deliver_dead", "Deliveries in the dead-letter queue, by endpoint.", func(c *Counts) int { return c.Dead })
	perEndpoint("taxagg_deliver_orphaned", "Deliveries parked because their endpoint is not in the endpoints file, by endpoint.", func(c *Counts) int { return c.Orphaned })
	perEndpoint("taxagg_deliver_delivered", "Deliveries delivered, by endpoint (all runs, until pruned by --keep).", func(c *Counts) int { return c.Delivered })
	p("# HELP taxagg_deliver_oldest_pending_age_seconds Age of the oldest pending delivery's event (0 when none is pending).\n")
	p("# TYPE taxagg_deliver_oldest_pending_age_seconds gauge\n")
	age := 0.0
	if !oldest.IsZero() {
		age = max(0, now.Sub(oldest).Seconds())
	}
	p("taxagg_deliver_oldest_pending_age_seconds %s\n", promtext.Float(age))
	p("# HELP taxagg_deliver_endpoint_disabled 1 for an endpoint disabled (410 Gone) until its dead letters are replayed.\n")
	p("# TYPE taxagg_deliver_endpoint_disabled gauge\n")
	for _, id := range ids {
		v := 0
		if _, off := disabled[id]; off {
			v = 1
		}
		p("taxagg_deliver_endpoint_disabled{endpoint=%s} %d\n", promtext.Label(id), v)
	}
	p("# HELP taxagg_deliver_endpoints_disabled Endpoints disabled.\n")
	p("# TYPE taxagg_deliver_endpoints_disabled gauge\n")
	p("taxagg_deliver_endpoints_disabled %d\n", len(disabled))
	return bw.Flush()
}

func writeHistograms(p func(string, ...any), w io.Writer, name, help string, hs map[string]*promtext.Histogram) {
	p("# HELP %s %s\n", name, help)
	p("# TYPE %s histogram\n", name)
	ids := make([]string, 0, len(hs))
	for id := range hs {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		hs[id].Write(w, name, "endpoint="+promtext.Label(id))
	}
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
