package deliver

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/taxagg/taxagg/internal/ratelimit/clocktest"
)

const (
	line1 = `{"id":"s1","date":"2025-03-01","currency":"EUR","amount":"100.00","taxes":[{"jurisdiction":"XX","tax":"vat","rate":"0.07","tax_amount":"7.00"}],"tax_total":"7.00"}`
	line2 = `{"id":"s2","date":"2025-03-02","currency":"EUR","amount":"10.00","taxes":[],"tax_total":"0.00"}`
)

func TestDeliveredSignedVerified(t *testing.T) {
	clock := clocktest.NewAuto(t0)
	a := newReceiver(t, "erp", clock.Now)
	b := newReceiver(t, "dwh", clock.Now)
	st := openStore(t)
	targets := []Target{target("erp", a.srv.URL), target("dwh", b.srv.URL)}
	rs := record(t, st, targets, t0, line1, line2)
	if rs.Read != 2 || rs.New != 2 || rs.Deliveries != 4 {
		t.Fatalf("recorded %+v, want 2 read, 2 new, 4 deliveries", rs)
	}
	sum := drain(t, st, clock, Options{UserAgent: "taxagg/test"}, targets...)
	if sum.Delivered != 4 || sum.Attempts != 4 || sum.Dead != 0 {
		t.Fatalf("summary %+v, want 4 delivered in 4 attempts", sum)
	}
	ids := map[string]bool{}
	for _, rc := range []*receiver{a, b} {
		reqs := rc.got()
		if len(reqs) != 2 {
			t.Fatalf("receiver got %d requests, want 2", len(reqs))
		}
		for _, g := range reqs {
			if g.VerifyErr != nil {
				t.Errorf("signature of %s: %v", g.ID, g.VerifyErr)
			}
			if !strings.HasPrefix(g.Signature, "v1,") || strings.Contains(g.Signature, " ") {
				t.Errorf("signature %q: want one v1 signature", g.Signature)
			}
			if g.Timestamp != strconv.FormatInt(g.At.Unix(), 10) {
				t.Errorf("webhook-timestamp %s, want the attempt's time %d", g.Timestamp, g.At.Unix())
			}
			ids[g.ID] = true
			p := decodePayload(t, g.Body)
			if p.Type != "tax.calculated" || p.Timestamp != "2026-03-01T12:00:00Z" || p.Data.Version != 1 {
				t.Errorf("payload %s: want type tax.calculated, the recording time and version 1", g.Body)
			}
			var rec map[string]any
			if err := json.Unmarshal(p.Data.Record, &rec); err != nil || rec["id"] != p.Data.TransactionID {
				t.Errorf("record %s: want the calc record with id %s", p.Data.Record, p.Data.TransactionID)
			}
		}
	}
	if len(ids) != 4 {
		t.Errorf("%d distinct webhook ids, want 4 (one per event and endpoint)", len(ids))
	}
	if c := counts(t, st, "erp"); c.Delivered != 2 || c.Pending != 0 {
		t.Errorf("erp counts %+v, want 2 delivered", c)
	}
}

func TestFailThenSucceedKeepsID(t *testing.T) {
	clock := clocktest.NewAuto(t0)
	rc := newReceiver(t, "erp", clock.Now, append(times(2, status(500)), status(503))...)
	st := openStore(t)
	targets := []Target{target("erp", rc.srv.URL)}
	record(t, st, targets, t0, line1)
	sum := drain(t, st, clock, Options{Schedule: DefaultSchedule}, targets...)
	reqs := rc.got()
	if len(reqs) != 4 || sum.Delivered != 1 || sum.Retries != 3 {
		t.Fatalf("%d requests, summary %+v; want 4 requests, 3 retries, delivered", len(reqs), sum)
	}
	for i, g := range reqs {
		if g.ID != reqs[0].ID {
			t.Errorf("attempt %d: webhook-id %s, want %s on every retry", i+1, g.ID, reqs[0].ID)
		}
		if string(g.Body) != string(reqs[0].Body) {
			t.Errorf("attempt %d: the body changed", i+1)
		}
		if g.VerifyErr != nil {
			t.Errorf("attempt %d: %v", i+1, g.VerifyErr)
		}
	}
	// Rand is 0.5: the jitter factor is exactly 1.
	for i := 1; i < len(reqs); i++ {
		if gap := reqs[i].At.Sub(reqs[i-1].At); gap != DefaultSchedule[i-1] {
			t.Errorf("wait before attempt %d: %s, want %s", i+1, gap, DefaultSchedule[i-1])
		}
	}
}

func TestRetriesExhaustedDeadLetter(t *testing.T) {
	clock := clocktest.NewAuto(t0)
	rc := newReceiver(t, "erp", clock.Now, times(10, status(502))...)
	st := openStore(t)
	targets := []Target{target("erp", rc.srv.URL)}
	record(t, st, targets, t0, line1)
	sum := drain(t, st, clock, Options{Schedule: []time.Duration{time.Second, time.Minute}}, targets...)
	if n := len(rc.got()); n != 3 {
		t.Fatalf("%d requests, want 3 (a first attempt and two retries)", n)
	}
	if sum.Dead != 1 {
		t.Fatalf("summary %+v, want 1 dead", sum)
	}
	dl, err := st.Dead(context.Background(), Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(dl) != 1 || dl[0].Attempts != 3 || dl[0].LastStatus != 502 || !strings.HasPrefix(dl[0].LastError, "gave up after 3 attempts: 502 Bad Gateway: answer 502") {
		t.Fatalf("dead letters %+v, want one after 3 attempts, last status 502", dl)
	}
	if dl[0].MsgID != rc.got()[0].ID || dl[0].TxnID != "s1" || dl[0].Version != 1 {
		t.Errorf("dead letter %+v: want the delivery's webhook id, s1, version 1", dl[0])
	}
}

func TestRetryAfter(t *testing.T) {
	tests := []struct {
		name       string
		retryAfter func(now time.Time) string
		status     int
		want       time.Duration
	}{
		{"429 seconds", func(time.Time) string { return "120" }, 429, 120 * time.Second},
		{"503 seconds", func(time.Time) string { return "90" }, 503, 90 * time.Second},
		{"429 http date", func(now time.Time) string { return now.Add(5 * time.Minute).UTC().Format(http.TimeFormat) }, 429, 5 * time.Minute},
		{"429 shorter than the schedule", func(time.Time) string { return "1" }, 429, 5 * time.Second},
		{"429 capped", func(time.Time) string { return "99999" }, 429, 10 * time.Minute},
		{"429 garbage", func(time.Time) string { return "soon" }, 429, 5 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := clocktest.NewAuto(t0)
			first := func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Retry-After", tt.retryAfter(clock.Now()))
				w.WriteHeader(tt.status)
			}
			rc := newReceiver(t, "erp", clock.Now, first)
			st := openStore(t)
			targets := []Target{target("erp", rc.srv.URL)}
			record(t, st, targets, t0, line1)
			drain(t, st, clock, Options{Schedule: []time.Duration{5 * time.Second}, MaxRetryAfter: 10 * time.Minute}, targets...)
			reqs := rc.got()
			if len(reqs) != 2 {
				t.Fatalf("%d requests, want 2", len(reqs))
			}
			if gap := reqs[1].At.Sub(reqs[0].At); gap != tt.want {
				t.Errorf("retried after %s, want %s", gap, tt.want)
			}
			if c := counts(t, st, "erp"); c.Delivered != 1 {
				t.Errorf("counts %+v, want delivered", c)
			}
		})
	}
}

func TestGoneDisablesEndpoint(t *testing.T) {
	clock := clocktest.NewAuto(t0)
	gone := newReceiver(t, "erp", clock.Now, status(410))
	ok := newReceiver(t, "dwh", clock.Now)
	st := openStore(t)
	erp := target("erp", gone.srv.URL)
	erp.Concurrency = 1
	targets := []Target{erp, target("dwh", ok.srv.URL)}
	record(t, st, targets, t0, line1, line2)
	sum := drain(t, st, clock, Options{Schedule: DefaultSchedule}, targets...)
	if n := len(gone.got()); n != 1 {
		t.Fatalf("the gone endpoint got %d requests, want 1 (then disabled)", n)
	}
	if len(ok.got()) != 2 {
		t.Fatalf("the other endpoint got %d requests, want 2", len(ok.got()))
	}
	if sum.Dead != 2 || len(sum.Disabled) != 1 || sum.Disabled[0] != "erp" {
		t.Fatalf("summary %+v, want 2 dead, erp disabled", sum)
	}
	dis, _ := st.Disabled(context.Background())
	if _, off := dis["erp"]; !off {
		t.Fatalf("disabled %v, want erp", dis)
	}
	// A new event for the disabled endpoint goes to the dead-letter queue at
	// once; a run sends nothing to it.
	record(t, st, targets, t0, `{"id":"s3","tax_total":"1.00"}`)
	drain(t, st, clock, Options{Schedule: DefaultSchedule}, targets...)
	if n := len(gone.got()); n != 1 {
		t.Fatalf("the disabled endpoint got %d requests, want still 1", n)
	}
	dl, _ := st.Dead(context.Background(), Filter{Endpoints: []string{"erp"}})
	if len(dl) != 3 || dl[0].LastStatus != 410 || !strings.HasPrefix(dl[1].LastError, "endpoint disabled: 410 Gone") {
		t.Fatalf("dead letters %+v, want 3: the 410 and two moved", dl)
	}
	// Replay: the endpoint is enabled again, and every dead letter is sent
	// with its id.
	n, enabled, err := st.Replay(context.Background(), Filter{Endpoints: []string{"erp"}}, clock.Now())
	if err != nil || n != 3 || len(enabled) != 1 {
		t.Fatalf("replay: %d, %v, %v; want 3 requeued, erp enabled", n, enabled, err)
	}
	drain(t, st, clock, Options{Schedule: DefaultSchedule}, targets...)
	reqs := gone.got()
	if len(reqs) != 4 {
		t.Fatalf("after replay the endpoint got %d requests in all, want 4", len(reqs))
	}
	want := map[string]bool{}
	for _, d := range dl {
		want[d.MsgID] = true
	}
	for _, g := range reqs[1:] {
		if !want[g.ID] {
			t.Errorf("replayed webhook-id %s is not one of the dead letters' ids", g.ID)
		}
	}
	if c := counts(t, st, "erp"); c.Delivered != 3 || c.Dead != 0 {
		t.Errorf("erp counts %+v, want 3 delivered", c)
	}
}

func TestNotRetried(t *testing.T) {
	clock := clocktest.NewAuto(t0)
	elsewhere := newReceiver(t, "erp", clock.Now)
	tests := []struct {
		name      string
		step      http.HandlerFunc
		wantErr   string
		wantState int
	}{
		{"400", status(400), "400 Bad Request: answer 400", 400},
		{"401", status(401), "401 Unauthorized: answer 401", 401},
		{"422", status(422), "422 Unprocessable Entity: answer 422", 422},
		{"302 not followed", status(302, "Location", elsewhere.srv.URL+"/new?token=x"), "302 Found to " + elsewhere.srv.URL + "/new: redirects are not followed", 302},
		{"308 not followed", status(308, "Location", elsewhere.srv.URL), "308 Permanent Redirect to " + elsewhere.srv.URL + ": redirects are not followed", 308},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := newReceiver(t, "erp", clock.Now, tt.step)
			st := openStore(t)
			targets := []Target{target("erp", rc.srv.URL)}
			record(t, st, targets, t0, line1)
			sum := drain(t, st, clock, Options{Schedule: DefaultSchedule}, targets...)
			if len(rc.got()) != 1 || sum.Dead != 1 {
				t.Fatalf("%d requests, summary %+v; want 1 request, dead at once", len(rc.got()), sum)
			}
			dl, _ := st.Dead(context.Background(), Filter{})
			if len(dl) != 1 || dl[0].LastStatus != tt.wantState || !strings.HasPrefix(dl[0].LastError, tt.wantErr) {
				t.Fatalf("dead letters %+v, want status %d, error %q", dl, tt.wantState, tt.wantErr)
			}
		})
	}
	if n := len(elsewhere.got()); n != 0 {
		t.Errorf("the redirect target got %d requests, want 0", n)
	}
}

func TestTimeoutAndResetRetried(t *testing.T) {
	hang := func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}
	reset := func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			panic(err)
		}
		conn.(*net.TCPConn).SetLinger(0) // close with a RST
		conn.Close()
	}
	headersThenHang := func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(500)
		w.(http.Flusher).Flush()
		hang(w, r)
	}
	tests := []struct {
		name    string
		step    http.HandlerFunc
		outcome string
		wantErr string
	}{
		{"hang past the timeout", hang, OutcomeTimeout, "no answer within 200ms"},
		{"connection reset", reset, OutcomeNetwork, "connection reset by peer"},
		{"500 then a body that never ends", headersThenHang, OutcomeServerError, "500 Internal Server Error"},
		{"408", status(408), OutcomeTimeout, "408 Request Timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := clocktest.NewAuto(t0)
			rc := newReceiver(t, "erp", clock.Now, tt.step)
			st := openStore(t)
			tg := target("erp", rc.srv.URL)
			tg.Timeout = 200 * time.Millisecond
			m := NewMetrics()
			// Stop after the first attempt to look at what it recorded.
			opts := Options{Store: st, Targets: []Target{tg}, Clock: clock, Schedule: DefaultSchedule, Metrics: m, Rand: func() float64 { return 0.5 }}
			record(t, st, opts.Targets, t0, line1)
			sum, err := Run(context.Background(), opts)
			if err != nil {
				t.Fatal(err)
			}
			if sum.Retries != 1 || m.Attempts("erp", tt.outcome) != 1 {
				t.Fatalf("summary %+v, %s attempts %d; want one %s, to be retried", sum, tt.outcome, m.Attempts("erp", tt.outcome), tt.outcome)
			}
			c := counts(t, st, "erp")
			if c.Pending != 1 || !c.NextDue.Equal(clock.Now().Add(5*time.Second).Truncate(time.Millisecond)) {
				t.Errorf("counts %+v, want pending, due in 5s", c)
			}
			// Run without Drain stops at once: the retry is not due.
			rows, _ := st.Due(context.Background(), clock.Now(), []string{"erp"}, 10)
			if len(rows) != 0 {
				t.Errorf("%d due now, want 0", len(rows))
			}
			var lastErr string
			st.db.QueryRow(`SELECT last_error FROM deliver_deliveries`).Scan(&lastErr)
			if !strings.Contains(lastErr, tt.wantErr) {
				t.Errorf("last error %q, want it to say %q", lastErr, tt.wantErr)
			}
			drain(t, st, clock, Options{Schedule: DefaultSchedule}, tg)
			if reqs := rc.got(); len(reqs) != 2 || reqs[0].ID != reqs[1].ID {
				t.Fatalf("%d requests, want 2 with one id", len(reqs))
			}
			if c := counts(t, st, "erp"); c.Delivered != 1 {
				t.Errorf("counts %+v, want delivered on the retry", c)
			}
		})
	}
}

func TestConcurrencyAndRate(t *testing.T) {
	clock := clocktest.NewAuto(t0)
	slow := func(w http.ResponseWriter, r *http.Request) { time.Sleep(20 * time.Millisecond) }
	rc := newReceiver(t, "erp", clock.Now, times(12, slow)...)
	st := openStore(t)
	tg := target("erp", rc.srv.URL)
	tg.Concurrency = 3
	var lines []string
	for i := range 12 {
		lines = append(lines, `{"id":"t`+strconv.Itoa(i)+`"}`)
	}
	record(t, st, []Target{tg}, t0, lines...)
	drain(t, st, clock, Options{}, tg)
	if rc.maxIn > 3 || rc.maxIn < 2 {
		t.Errorf("at most %d requests in flight, want 2 or 3 (concurrency 3)", rc.maxIn)
	}

	// 2 a second, burst 1: 6 requests take 2.5 s of the clock (the
	// receiver reads a clock that other waiters move on, so allow one step).
	clock = clocktest.NewAuto(t0)
	rc = newReceiver(t, "erp", clock.Now)
	st = openStore(t)
	tg = target("erp", rc.srv.URL)
	tg.Rate, tg.Burst = 2, 1
	record(t, st, []Target{tg}, t0, lines[:6]...)
	drain(t, st, clock, Options{}, tg)
	reqs := rc.got()
	if len(reqs) != 6 {
		t.Fatalf("%d requests, want 6", len(reqs))
	}
	if span := reqs[5].At.Sub(reqs[0].At); span < 2*time.Second {
		t.Errorf("6 requests at 2/s took %s of the clock, want at least 2.5s", span)
	}
}

func TestMetricsText(t *testing.T) {
	clock := clocktest.NewAuto(t0)
	rc := newReceiver(t, "erp", clock.Now, status(500))
	st := openStore(t)
	targets := []Target{target("erp", rc.srv.URL)}
	record(t, st, targets, t0, line1, line2)
	m := NewMetrics()
	drain(t, st, clock, Options{Schedule: DefaultSchedule, Metrics: m}, targets...)
	var b strings.Builder
	if err := m.Write(context.Background(), &b, st, []string{"erp"}, clock.Now()); err != nil {
		t.Fatal(err)
	}
	text := b.String()
	for _, want := range []string{
		`taxagg_deliver_attempts_total{endpoint="erp",outcome="delivered"} 2`,
		`taxagg_deliver_attempts_total{endpoint="erp",outcome="server_error"} 1`,
		`taxagg_deliver_pending{endpoint="erp"} 0`,
		`taxagg_deliver_dead{endpoint="erp"} 0`,
		`taxagg_deliver_delivered{endpoint="erp"} 2`,
		`taxagg_deliver_oldest_pending_age_seconds 0`,
		`taxagg_deliver_endpoints_disabled 0`,
		`taxagg_deliver_latency_seconds_count{endpoint="erp"} 2`,
		`taxagg_deliver_request_duration_seconds_count{endpoint="erp"} 3`,
		`# TYPE taxagg_deliver_latency_seconds histogram`,
	} {
		if !strings.Contains(text, want+"\n") {
			t.Errorf("metrics lack %q:\n%s", want, text)
		}
	}
}

// TestOddAnswers: receivers that misbehave in other ways. What counts is
// the status line: an answer without one is retried, a 2xx is delivered
// whatever follows it.
func TestOddAnswers(t *testing.T) {
	hijack := func(write string, rst bool) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			conn, buf, err := w.(http.Hijacker).Hijack()
			if err != nil {
				panic(err)
			}
			buf.WriteString(write)
			buf.Flush()
			if rst {
				conn.(*net.TCPConn).SetLinger(0)
			}
			conn.Close()
		}
	}
	okThenStall := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		w.WriteHeader(200)
		w.Write([]byte("partial"))
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}
	hugeError := func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(500)
		chunk := []byte(strings.Repeat("x", 1<<16))
		for range 64 { // 4 MiB, more than is read
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}
	tests := []struct {
		name     string
		step     http.HandlerFunc
		outcome  string
		attempts int
	}{
		{"closed without an answer", hijack("", false), OutcomeNetwork, 2},
		{"not HTTP", hijack("hello\r\n\r\n", false), OutcomeNetwork, 2},
		{"half a status line, then a reset", hijack("HTTP/1.1 2", true), OutcomeNetwork, 2},
		{"200, then the body stalls", okThenStall, OutcomeDelivered, 1},
		{"500 with a 4 MiB body", hugeError, OutcomeServerError, 2},
		{"202", status(202), OutcomeDelivered, 1},
		{"204", status(204), OutcomeDelivered, 1},
		{"599", status(599), OutcomeServerError, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := clocktest.NewAuto(t0)
			rc := newReceiver(t, "erp", clock.Now, tt.step)
			st := openStore(t)
			tg := target("erp", rc.srv.URL)
			tg.Timeout = 300 * time.Millisecond
			m := NewMetrics()
			record(t, st, []Target{tg}, t0, line1)
			drain(t, st, clock, Options{Schedule: DefaultSchedule, Metrics: m}, tg)
			if got := m.Attempts("erp", tt.outcome); got != 1 {
				t.Errorf("%s attempts: %d, want 1", tt.outcome, got)
			}
			if n := len(rc.got()); n != tt.attempts {
				t.Errorf("%d requests, want %d", n, tt.attempts)
			}
			if c := counts(t, st, "erp"); c.Delivered != 1 {
				t.Errorf("counts %+v, want delivered", c)
			}
		})
	}
}
