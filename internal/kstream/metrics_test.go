package kstream

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestMetricsExposition(t *testing.T) {
	m := NewMetrics()
	m.observeBatch(Counts{Read: 10, Accepted: 7, Rejected: 2, Duplicates: 1}, 30*time.Millisecond)
	m.observeBatch(Counts{Read: 8, Accepted: 5, Skipped: 3, SkippedBy: map[string]int64{"void invoice": 1, "draft invoice": 2}}, 2*time.Second)
	m.aborts.Add(1)
	m.setLag("tx", 3, 42)
	m.setLag("tx", 1, -1) // a high watermark behind the last record seen counts as caught up
	rec := httptest.NewRecorder()
	m.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("content type %q", ct)
	}
	body := rec.Body.String()
	for _, want := range []string{
		"# TYPE taxagg_stream_records_in_total counter\ntaxagg_stream_records_in_total 18\n",
		"# TYPE taxagg_stream_skipped_total counter\ntaxagg_stream_skipped_total{reason=\"draft invoice\"} 2\ntaxagg_stream_skipped_total{reason=\"void invoice\"} 1\n",
		"taxagg_stream_events_out_total 12\n",
		"taxagg_stream_rejects_total 2\n",
		"taxagg_stream_duplicates_total 1\n",
		"taxagg_stream_transactions_committed_total 2\n",
		"taxagg_stream_transactions_aborted_total 1\n",
		"# TYPE taxagg_stream_consumer_lag gauge\ntaxagg_stream_consumer_lag{topic=\"tx\",partition=\"1\"} 0\ntaxagg_stream_consumer_lag{topic=\"tx\",partition=\"3\"} 42\n",
		"taxagg_stream_batch_seconds_bucket{le=\"0.025\"} 0\ntaxagg_stream_batch_seconds_bucket{le=\"0.05\"} 1\n",
		"taxagg_stream_batch_seconds_bucket{le=\"2.5\"} 2\n",
		"taxagg_stream_batch_seconds_bucket{le=\"+Inf\"} 2\ntaxagg_stream_batch_seconds_sum 2.03\ntaxagg_stream_batch_seconds_count 2\n",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q; got:\n%s", want, body)
		}
	}
	m.dropLag("tx", 3)
	rec = httptest.NewRecorder()
	m.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if strings.Contains(rec.Body.String(), `partition="3"`) {
		t.Error("a revoked partition's lag is still reported")
	}
}
