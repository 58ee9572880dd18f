package cli

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/taxagg/taxagg/internal/deliver"
)

func TestDeliverMetricsAddr(t *testing.T) {
	ctx := context.Background()
	st, err := deliver.Open(ctx, filepath.Join(t.TempDir(), "tax.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ep := deliver.Endpoint{ID: "erp", Events: []string{deliver.EventTaxCalculated}}
	if _, err := st.Record(ctx, []deliver.Incoming{{TxnID: "s1", Hash: "h", Record: []byte(`{"id":"s1"}`)}}, []deliver.Endpoint{ep}, time.Now().Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	addr, stop, err := serveMetrics(ctx, "127.0.0.1:0", deliver.NewMetrics(), st, []string{"erp"}, time.Now, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("Content-Type %q", ct)
	}
	for _, want := range []string{"taxagg_deliver_pending{endpoint=\"erp\"} 1\n", "taxagg_deliver_oldest_pending_age_seconds 6", "taxagg_deliver_endpoint_disabled{endpoint=\"erp\"} 0\n"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %q:\n%s", want, body)
		}
	}
}
