package fetch_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/taxagg/taxagg/internal/fetch"
	"github.com/taxagg/taxagg/internal/fetch/fetchtest"
	"github.com/taxagg/taxagg/internal/ratelimit"
	"github.com/taxagg/taxagg/internal/ratelimit/clocktest"
)

const testKey = "sk_test_k3y_s3cr3t_0123456789"

var (
	dataStart  = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clockEpoch = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
)

// stripeServer returns a fake Stripe with n objects per resource.
func stripeServer(t *testing.T, counts map[string]int) *fetchtest.Server {
	t.Helper()
	data := map[string][]map[string]any{}
	for r, n := range counts {
		data[r] = fetchtest.Objects("stripe", r, n, dataStart)
	}
	return &fetchtest.Server{Provider: "stripe", Key: testKey, Data: data}
}

func start(t *testing.T, s *fetchtest.Server) string {
	t.Helper()
	base := s.Start()
	t.Cleanup(s.Close)
	return base
}

// autoLimiter is a limiter on virtual time: waits cost nothing.
func autoLimiter(t *testing.T, rate float64, burst int) (*ratelimit.Limiter, *clocktest.Auto) {
	t.Helper()
	clk := clocktest.NewAuto(clockEpoch)
	l, err := ratelimit.New(ratelimit.Config{Rate: rate, Burst: burst, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	return l, clk
}

func baseOpts(t *testing.T, base string, resources ...string) fetch.Options {
	lim, _ := autoLimiter(t, 25, 5)
	return fetch.Options{
		Provider:   "stripe",
		Resources:  resources,
		APIBase:    base,
		Key:        testKey,
		Limiter:    lim,
		MaxRetries: 5,
		Raw:        true,
		Rand:       func() float64 { return 0.5 },
	}
}

func runFetch(t *testing.T, ctx context.Context, opts fetch.Options) (string, *fetch.Summary, error) {
	t.Helper()
	var out bytes.Buffer
	sum, err := fetch.Run(ctx, &out, opts)
	return out.String(), sum, err
}

type line struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	Date    int64  `json:"date"`
}

func parseLines(t *testing.T, out string) []line {
	t.Helper()
	var ls []line
	for i, s := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if s == "" {
			continue
		}
		var l line
		if err := json.Unmarshal([]byte(s), &l); err != nil {
			t.Fatalf("output line %d %q: %v", i+1, s, err)
		}
		ls = append(ls, l)
	}
	return ls
}

// wantOrder is the expected output: resources in order, each by created
// then id.
func wantOrder(s *fetchtest.Server, resources []string, from, to int64) []string {
	var ids []string
	for _, r := range resources {
		objs := slices.Clone(s.Data[r])
		slices.SortFunc(objs, func(a, b map[string]any) int {
			ca, cb := created(a), created(b)
			if ca != cb {
				if ca < cb {
					return -1
				}
				return 1
			}
			return strings.Compare(a["id"].(string), b["id"].(string))
		})
		for _, o := range objs {
			if c := created(o); c >= from && c < to {
				ids = append(ids, o["id"].(string))
			}
		}
	}
	return ids
}

func created(o map[string]any) int64 {
	if v, ok := o["created"]; ok {
		return v.(int64)
	}
	return o["date"].(int64)
}

func ids(ls []line) []string {
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = l.ID
	}
	return out
}

func TestStripePaginatesAndOrders(t *testing.T) {
	srv := stripeServer(t, map[string]int{"invoices": 250, "refunds": 120, "charges": 3})
	base := start(t, srv)
	opts := baseOpts(t, base, "refunds", "invoices")
	out, sum, err := runFetch(t, context.Background(), opts)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	got := ids(parseLines(t, out))
	want := wantOrder(srv, []string{"refunds", "invoices"}, -1<<62, 1<<62)
	if !slices.Equal(got, want) {
		t.Fatalf("output ids differ from resource, created, id order:\n got %d: %v...\nwant %d: %v...", len(got), head(got), len(want), head(want))
	}
	// 250 invoices: 3 pages; 120 refunds: 2 pages.
	if n := srv.Count(); n != 5 {
		t.Errorf("requests = %d, want 5", n)
	}
	for _, r := range srv.Requests() {
		q, _ := url.ParseQuery(r.Query)
		if q.Get("limit") != "100" {
			t.Errorf("request %s?%s: limit %q, want 100", r.Path, r.Query, q.Get("limit"))
		}
	}
	if sum.Records != 370 || sum.Requests != 5 || sum.Retries != 0 {
		t.Errorf("summary = %+v", sum)
	}
	if sum.Resources[0].Name != "refunds" || sum.Resources[0].Pages != 2 || sum.Resources[1].Pages != 3 {
		t.Errorf("resource summaries = %+v", sum.Resources)
	}
}

func head(s []string) []string { return s[:min(len(s), 5)] }

func TestStripeCreatedWindow(t *testing.T) {
	srv := stripeServer(t, map[string]int{"charges": 150})
	base := start(t, srv)
	opts := baseOpts(t, base, "charges")
	from := dataStart.Add(20 * time.Hour)
	to := dataStart.Add(100 * time.Hour)
	opts.CreatedFrom, opts.CreatedTo = from, to
	out, _, err := runFetch(t, context.Background(), opts)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	got := ids(parseLines(t, out))
	want := wantOrder(srv, []string{"charges"}, from.Unix(), to.Unix())
	if len(want) == 0 || !slices.Equal(got, want) {
		t.Fatalf("got %d records %v..., want %d %v...", len(got), head(got), len(want), head(want))
	}
	q, _ := url.ParseQuery(srv.Requests()[0].Query)
	if q.Get("created[gte]") != fmt.Sprint(from.Unix()) || q.Get("created[lt]") != fmt.Sprint(to.Unix()) {
		t.Errorf("query %v: want created[gte]=%d created[lt]=%d", q, from.Unix(), to.Unix())
	}
}

func TestChargebeeOffsetsAndBasicAuth(t *testing.T) {
	data := map[string][]map[string]any{
		"invoices":     fetchtest.Objects("chargebee", "invoices", 230, dataStart),
		"credit_notes": fetchtest.Objects("chargebee", "credit_notes", 40, dataStart),
	}
	srv := &fetchtest.Server{Provider: "chargebee", Key: testKey, Data: data}
	base := start(t, srv)
	opts := baseOpts(t, base, "invoices", "credit_notes")
	opts.Provider, opts.Site = "chargebee", "acme"
	from := dataStart.Add(10 * time.Hour)
	opts.CreatedFrom = from
	out, sum, err := runFetch(t, context.Background(), opts)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	ls := parseLines(t, out)
	want := wantOrder(srv, []string{"invoices", "credit_notes"}, from.Unix(), 1<<62)
	if !slices.Equal(ids(ls), want) {
		t.Fatalf("got %v..., want %v...", head(ids(ls)), head(want))
	}
	if ls[0].Object != "invoice" {
		t.Errorf("first line is %+v, want the bare invoice object", ls[0])
	}
	if sum.Resources[0].Pages != 3 || sum.Resources[1].Pages != 1 {
		t.Errorf("pages = %+v", sum.Resources)
	}
	q, _ := url.ParseQuery(srv.Requests()[0].Query)
	if q.Get("date[after]") != fmt.Sprint(from.Unix()-1) {
		t.Errorf("query %v: want date[after]=%d", q, from.Unix()-1)
	}
}

func TestChargebeeNeedsSite(t *testing.T) {
	opts := baseOpts(t, "http://127.0.0.1:1", "invoices")
	opts.Provider = "chargebee"
	if _, _, err := runFetch(t, context.Background(), opts); err == nil || !strings.Contains(err.Error(), "site") {
		t.Errorf("Run without site = %v, want an error about the site", err)
	}
}

func TestRetryAfterPausesAndSlowsDown(t *testing.T) {
	srv := stripeServer(t, map[string]int{"invoices": 450})
	lim, clk := autoLimiter(t, 25, 5)
	srv.Clock = clk
	srv.Fault = func(n int64, _ *http.Request) fetchtest.Action {
		if n == 2 {
			return fetchtest.Action{Status: 429, RetryAfter: "7"}
		}
		return fetchtest.Action{}
	}
	base := start(t, srv)
	opts := baseOpts(t, base, "invoices")
	opts.Limiter = lim
	out, sum, err := runFetch(t, context.Background(), opts)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if n := len(parseLines(t, out)); n != 450 {
		t.Errorf("%d records, want 450", n)
	}
	reqs := srv.Requests()
	if len(reqs) != 6 {
		t.Fatalf("%d requests, want 6 (5 pages + 1 retry)", len(reqs))
	}
	if reqs[1].Answered != 429 || reqs[2].Query != reqs[1].Query {
		t.Errorf("request 3 %q should retry request 2 %q", reqs[2].Query, reqs[1].Query)
	}
	if gap := reqs[2].At.Sub(reqs[1].At); gap < 7*time.Second {
		t.Errorf("retry came %v after the 429, want at least the Retry-After of 7s", gap)
	}
	if sum.Throttled != 1 || sum.Retries != 1 {
		t.Errorf("summary: throttled %d retries %d, want 1 and 1", sum.Throttled, sum.Retries)
	}
	if st := lim.Stats(); st.Decreases != 1 {
		t.Errorf("limiter decreased %d times, want 1", st.Decreases)
	}
}

func TestServerErrorsAndResetsAreRetried(t *testing.T) {
	srv := stripeServer(t, map[string]int{"invoices": 300, "refunds": 150, "credit_notes": 90})
	var mu sync.Mutex
	seen := map[string]int{}
	// Every page fails twice, first with a reset then with a 5xx, and then
	// succeeds.
	srv.Fault = func(n int64, r *http.Request) fetchtest.Action {
		mu.Lock()
		defer mu.Unlock()
		k := r.URL.RawQuery + r.URL.Path
		seen[k]++
		switch seen[k] {
		case 1:
			return fetchtest.Action{Reset: true}
		case 2:
			return fetchtest.Action{Status: []int{500, 502, 503}[n%3]}
		}
		return fetchtest.Action{}
	}
	base := start(t, srv)
	opts := baseOpts(t, base, "invoices", "refunds", "credit_notes")
	// Fresh connections only: on a reused one, net/http itself resends a
	// GET whose connection was reset, and the reset would not reach fetch.
	opts.HTTPClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	out, sum, err := runFetch(t, context.Background(), opts)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	want := wantOrder(srv, opts.Resources, -1<<62, 1<<62)
	if got := ids(parseLines(t, out)); !slices.Equal(got, want) {
		t.Fatalf("got %d records, want %d", len(got), len(want))
	}
	pages := int64(3 + 2 + 1)
	if sum.Requests != 3*pages || sum.Retries != 2*pages || sum.ServerErrors != pages || sum.NetErrors != pages {
		t.Errorf("summary = %+v, want %d requests, %d retries", sum, 3*pages, 2*pages)
	}
	if n := srv.Count(); n != 3*pages {
		t.Errorf("server saw %d requests, want %d", n, 3*pages)
	}
}

func TestNetworkErrorsRunOut(t *testing.T) {
	srv := stripeServer(t, map[string]int{"invoices": 10})
	srv.Fault = func(int64, *http.Request) fetchtest.Action { return fetchtest.Action{Reset: true} }
	base := start(t, srv)
	opts := baseOpts(t, base, "invoices")
	opts.MaxRetries = 2
	opts.HTTPClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	_, sum, err := runFetch(t, context.Background(), opts)
	if err == nil || !strings.HasPrefix(err.Error(), "invoices: stripe: GET /v1/invoices: ") || !strings.HasSuffix(err.Error(), "(after 2 retries)") {
		t.Fatalf("Run = %v, want a network error after 2 retries", err)
	}
	if sum.Requests != 3 || sum.NetErrors != 3 || sum.Retries != 2 {
		t.Errorf("summary = %+v, want 3 requests", sum)
	}
}

func TestRetriesRunOut(t *testing.T) {
	srv := stripeServer(t, map[string]int{"invoices": 10})
	srv.Fault = func(int64, *http.Request) fetchtest.Action {
		return fetchtest.Action{Status: 503, Body: `{"error":{"message":"Stripe is down for maintenance"}}`}
	}
	base := start(t, srv)
	opts := baseOpts(t, base, "invoices")
	opts.MaxRetries = 3
	out, _, err := runFetch(t, context.Background(), opts)
	var apiErr *fetch.APIError
	if !errors.As(err, &apiErr) {
		t.Fatalf("Run = %v, want an APIError", err)
	}
	if apiErr.Status != 503 || apiErr.Retries != 3 || apiErr.Message != "Stripe is down for maintenance" {
		t.Errorf("APIError = %+v", apiErr)
	}
	if out != "" {
		t.Errorf("output %q, want none after a failure", out)
	}
	if n := srv.Count(); n != 4 {
		t.Errorf("%d requests, want 1 + 3 retries", n)
	}
}

func TestClientErrorFailsAtOnceWithAPIMessage(t *testing.T) {
	srv := stripeServer(t, map[string]int{"invoices": 10, "refunds": 500})
	srv.Latency = func(int64) time.Duration { return time.Millisecond }
	srv.Fault = func(_ int64, r *http.Request) fetchtest.Action {
		if strings.HasSuffix(r.URL.Path, "/invoices") {
			return fetchtest.Action{Status: 400, Body: `{"error":{"message":"Received unknown parameter: created[gte]","type":"invalid_request_error"}}`}
		}
		return fetchtest.Action{}
	}
	base := start(t, srv)
	opts := baseOpts(t, base, "invoices", "refunds")
	_, _, err := runFetch(t, context.Background(), opts)
	if err == nil {
		t.Fatal("Run succeeded, want the API's error")
	}
	want := "invoices: stripe: GET /v1/invoices: 400: Received unknown parameter: created[gte]"
	if err.Error() != want {
		t.Errorf("error = %q, want %q", err, want)
	}
	var inv int
	for _, r := range srv.Requests() {
		if r.Resource == "invoices" {
			inv++
		}
	}
	if inv != 1 {
		t.Errorf("%d requests for invoices, want 1 (no retry on 400)", inv)
	}
}

func TestKeyNeverInErrors(t *testing.T) {
	srv := stripeServer(t, map[string]int{"invoices": 10})
	srv.Fault = func(int64, *http.Request) fetchtest.Action {
		return fetchtest.Action{Status: 401, Body: `{"error":{"message":"Invalid API Key provided: ` + testKey + `"}}`}
	}
	base := start(t, srv)
	opts := baseOpts(t, base, "invoices")
	_, sum, err := runFetch(t, context.Background(), opts)
	if err == nil {
		t.Fatal("want an error")
	}
	if strings.Contains(err.Error(), testKey) {
		t.Errorf("error shows the key: %v", err)
	}
	if !strings.Contains(err.Error(), "Invalid API Key provided: [redacted]") {
		t.Errorf("error = %v, want the API's message with the key redacted", err)
	}
	for _, s := range []string{fmt.Sprint(opts.Key), fmt.Sprintf("%v %+v %#v %s %q", opts, opts, opts, opts.Key, opts.Key)} {
		if strings.Contains(s, testKey) {
			t.Errorf("formatting shows the key: %s", s)
		}
	}
	// Options holds a func (Convert), which JSON cannot encode: check the
	// key alone and inside a struct, and that both encode.
	for _, v := range []any{opts.Key, struct{ Key fetch.Secret }{opts.Key}} {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("json.Marshal(%T): %v", v, err)
		}
		if bytes.Contains(b, []byte(testKey)) || !bytes.Contains(b, []byte(`"[redacted]"`)) {
			t.Errorf("JSON of %T = %s, want the key redacted", v, b)
		}
	}
	var buf bytes.Buffer
	sum.WriteText(&buf)
	if strings.Contains(buf.String(), testKey) {
		t.Errorf("summary shows the key")
	}
}

func TestWrongKeyIsRejected(t *testing.T) {
	srv := stripeServer(t, map[string]int{"invoices": 1})
	base := start(t, srv)
	opts := baseOpts(t, base, "invoices")
	opts.Key = "sk_test_wrong_key_987654"
	_, _, err := runFetch(t, context.Background(), opts)
	var apiErr *fetch.APIError
	if !errors.As(err, &apiErr) || apiErr.Status != 401 {
		t.Fatalf("Run = %v, want a 401 APIError", err)
	}
}

// TestOutputIsDeterministic runs the same fetch with different worker counts,
// latencies and faults and expects the same bytes.
func TestOutputIsDeterministic(t *testing.T) {
	counts := map[string]int{"invoices": 230, "charges": 170, "refunds": 60, "credit_notes": 101}
	resources := []string{"credit_notes", "invoices", "refunds", "charges"}
	var first string
	for i, workers := range []int{1, 2, 4} {
		srv := stripeServer(t, counts)
		srv.Latency = func(n int64) time.Duration { return time.Duration((n*7919+int64(i))%3) * time.Millisecond }
		srv.Fault = func(n int64, _ *http.Request) fetchtest.Action {
			if n%5 == int64(i) {
				return fetchtest.Action{Status: 500}
			}
			return fetchtest.Action{}
		}
		base := start(t, srv)
		opts := baseOpts(t, base, resources...)
		opts.Workers = workers
		out, _, err := runFetch(t, context.Background(), opts)
		if err != nil {
			t.Fatalf("workers %d: %v", workers, err)
		}
		if i == 0 {
			first = out
			if n := len(parseLines(t, out)); n != 561 {
				t.Fatalf("%d records, want 561", n)
			}
			continue
		}
		if out != first {
			t.Errorf("workers %d: output differs from workers 1", workers)
		}
	}
}

func TestCanonicalModeUsesConverter(t *testing.T) {
	srv := stripeServer(t, map[string]int{"invoices": 3, "refunds": 2})
	base := start(t, srv)
	opts := baseOpts(t, base, "invoices", "refunds")
	opts.Raw = false
	var calls atomic.Int32
	opts.Convert = func(resource string, obj []byte) (any, error) {
		calls.Add(1)
		var o struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(obj, &o); err != nil {
			return nil, err
		}
		return map[string]string{"id": o.ID, "kind": resource}, nil
	}
	out, _, err := runFetch(t, context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 5 || !strings.HasPrefix(out, `{"id":"in_`) || !strings.Contains(out, `"kind":"refunds"`) {
		t.Errorf("output %q after %d conversions", out, calls.Load())
	}

	opts.Convert = nil
	if _, _, err := runFetch(t, context.Background(), opts); err == nil {
		t.Error("canonical mode without a converter ran")
	}
	opts.Convert = func(string, []byte) (any, error) { return nil, errors.New("amount: missing") }
	if _, _, err := runFetch(t, context.Background(), opts); err == nil || !strings.Contains(err.Error(), "amount: missing") {
		t.Errorf("converter failure = %v", err)
	}
}

func TestBadOptions(t *testing.T) {
	tests := []struct {
		name string
		edit func(*fetch.Options)
		want string
	}{
		{"provider", func(o *fetch.Options) { o.Provider = "paypal" }, `provider "paypal"`},
		{"resource", func(o *fetch.Options) { o.Resources = []string{"customers"} }, `unknown resource "customers"`},
		{"no resource", func(o *fetch.Options) { o.Resources = nil }, "no resource"},
		{"base", func(o *fetch.Options) { o.APIBase = "ftp://x" }, "http or https"},
		{"base creds", func(o *fetch.Options) { o.APIBase = "http://u:p@127.0.0.1" }, "credentials"},
		{"window", func(o *fetch.Options) { o.CreatedFrom, o.CreatedTo = dataStart, dataStart }, "not before"},
		{"limiter", func(o *fetch.Options) { o.Limiter = nil }, "limiter"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := baseOpts(t, "http://127.0.0.1:1", "invoices")
			tt.edit(&opts)
			_, _, err := runFetch(t, context.Background(), opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Run = %v, want an error with %q", err, tt.want)
			}
		})
	}
}

func TestProgressLine(t *testing.T) {
	srv := stripeServer(t, map[string]int{"invoices": 250})
	base := start(t, srv)
	opts := baseOpts(t, base, "invoices")
	var prog bytes.Buffer
	opts.Progress = &prog
	if _, _, err := runFetch(t, context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	s := prog.String()
	if !strings.HasPrefix(s, "\rfetch stripe: invoices") || !strings.HasSuffix(s, "\n") ||
		!strings.Contains(s, "invoices 3 pages 250 records") || !strings.Contains(s, "rate 25.0/s") {
		t.Errorf("progress = %q", s)
	}
}
