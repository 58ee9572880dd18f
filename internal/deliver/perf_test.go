package deliver

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestThroughput measures recording and delivering N events to a local
// receiver that answers 204 at once. Run with TAXAGG_DELIVER_PERF=20000.
func TestThroughput(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("TAXAGG_DELIVER_PERF"))
	if n == 0 {
		t.Skip("set TAXAGG_DELIVER_PERF=N to measure")
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }))
	defer srv.Close()
	st := openStore(t)
	tg := target("erp", srv.URL)
	tg.Concurrency = 8
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, `{"id":"t%d","amount":"10.00","taxes":[{"jurisdiction":"XX","tax":"vat","rate":"0.07","tax_amount":"0.70"}],"tax_total":"0.70"}`+"\n", i)
	}
	start := time.Now()
	rs, err := ReadEvents(context.Background(), st, "in", strings.NewReader(b.String()), []Endpoint{tg.Endpoint}, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	rec := time.Since(start)
	start = time.Now()
	sum, err := Run(context.Background(), Options{Store: st, Targets: []Target{tg}})
	if err != nil {
		t.Fatal(err)
	}
	del := time.Since(start)
	t.Logf("recorded %d events in %s (%.0f/s); delivered %d in %s (%.0f/s)", rs.New, rec, float64(rs.New)/rec.Seconds(), sum.Delivered, del, float64(sum.Delivered)/del.Seconds())
}
