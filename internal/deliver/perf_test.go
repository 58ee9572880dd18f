package deliver

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func benchInput(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, `{"id":"t%d","amount":"10.00","taxes":[{"jurisdiction":"XX","tax":"vat","rate":"0.07","tax_amount":"0.70"}],"tax_total":"0.70"}`+"\n", i)
	}
	return b.String()
}

// BenchmarkRecord records 2,000 events into a fresh outbox per iteration.
func BenchmarkRecord(b *testing.B) {
	const n = 2000
	in := benchInput(n)
	ep := Endpoint{ID: "erp", Events: []string{EventTaxCalculated}}
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	var elapsed time.Duration
	for b.Loop() {
		b.StopTimer()
		st, err := Open(context.Background(), filepath.Join(b.TempDir(), "s.db"))
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		if _, err := ReadEvents(context.Background(), st, "in", strings.NewReader(in), []Endpoint{ep}, time.Now); err != nil {
			b.Fatal(err)
		}
		elapsed += time.Since(start)
		b.StopTimer()
		st.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(n*b.N)/elapsed.Seconds(), "events/s")
}

// BenchmarkDeliver delivers 2,000 recorded events to a local receiver that
// answers 204 at once, 8 requests in flight.
func BenchmarkDeliver(b *testing.B) {
	const n = 2000
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }))
	defer srv.Close()
	in := benchInput(n)
	tg := target("erp", srv.URL)
	tg.Concurrency = 8
	b.ReportAllocs()
	var elapsed time.Duration
	for b.Loop() {
		b.StopTimer()
		st, err := Open(context.Background(), filepath.Join(b.TempDir(), "s.db"))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := ReadEvents(context.Background(), st, "in", strings.NewReader(in), []Endpoint{tg.Endpoint}, time.Now); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		sum, err := Run(context.Background(), Options{Store: st, Targets: []Target{tg}})
		if err != nil || sum.Delivered != n {
			b.Fatalf("%+v %v", sum, err)
		}
		elapsed += time.Since(start)
		b.StopTimer()
		st.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(n*b.N)/elapsed.Seconds(), "deliveries/s")
}
