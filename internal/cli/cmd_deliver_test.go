package cli

import (
	"context"
	"reflect"
	"testing"
	"time"
)

func TestNewCmdDeliverFlags(t *testing.T) {
	io, _, _, _ := NewTestIOStreams()
	f := &Factory{IO: io, Getenv: func(string) string { return "" }, Now: time.Now}
	var got *DeliverOptions
	cmd := NewCmdDeliver(f, func(_ context.Context, o *DeliverOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"--endpoints", "e.yaml", "--state", "s.db", "--serve", "--retry-schedule", "1s,1m", "--timeout", "3s",
		"--metrics-textfile", "m.prom", "--metrics-addr", "127.0.0.1:9464", "--log-format", "json", "-q", "--keep", "48h", "a.ndjson", "-"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	want := &DeliverOptions{Endpoints: "e.yaml", State: "s.db", Files: []string{"a.ndjson", "-"}, Serve: true, RetrySchedule: "1s,1m",
		Timeout: 3 * time.Second, Poll: 5 * time.Second, MetricsTextfile: "m.prom", MetricsAddr: "127.0.0.1:9464", LogFormat: "json", LogLevel: "info", Quiet: true, Keep: 48 * time.Hour}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("options\n%+v\nwant\n%+v", got, want)
	}
}

func TestDeliverPlural(t *testing.T) {
	for _, tt := range []struct {
		n          int
		word, want string
	}{{1, "record", "1 record"}, {0, "record", "0 records"}, {2, "delivery", "2 deliveries"}, {1, "delivery", "1 delivery"}} {
		if got := deliverPlural(tt.n, tt.word); got != tt.want {
			t.Errorf("deliverPlural(%d, %q) = %q, want %q", tt.n, tt.word, got, tt.want)
		}
	}
}
