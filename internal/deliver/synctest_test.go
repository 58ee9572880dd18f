package deliver

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// scriptedTransport answers requests in memory (no sockets, so synctest's
// clock moves whenever the run waits), recording the fake time of each.
type scriptedTransport struct {
	verify  *standardwebhooks.Webhook // when set, each request is verified as it arrives
	errs    []error
	mu      sync.Mutex
	answers []func() *http.Response
	at      []time.Time
	reqs    []*http.Request
	bodies  [][]byte
}

func (s *scriptedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.at = append(s.at, time.Now())
	s.reqs = append(s.reqs, r)
	s.bodies = append(s.bodies, body)
	if s.verify != nil {
		s.errs = append(s.errs, s.verify.Verify(body, r.Header))
	}
	answer := func() *http.Response { return response(200, nil) }
	if len(s.answers) > 0 {
		answer, s.answers = s.answers[0], s.answers[1:]
	}
	resp := answer()
	resp.Request = r
	return resp, nil
}

func response(code int, h http.Header) *http.Response {
	if h == nil {
		h = http.Header{}
	}
	return &http.Response{StatusCode: code, Status: strconv.Itoa(code) + " " + http.StatusText(code), Header: h, Body: io.NopCloser(bytes.NewReader(nil))}
}

// TestScheduleSynctest runs the default schedule, three days of retries,
// in a synctest bubble: the waits are exactly the schedule's (Rand 0.5),
// every signature verifies with its timestamp checked against the (fake)
// time, and the delivery is dead-lettered after the last attempt.
func TestScheduleSynctest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		wh, _ := standardwebhooks.NewWebhook(testSecret("erp"))
		tr := &scriptedTransport{verify: wh}
		for range len(DefaultSchedule) + 1 {
			tr.answers = append(tr.answers, func() *http.Response { return response(503, nil) })
		}
		st := openStore(t)
		tg := target("erp", "https://erp.invalid/hooks")
		start := time.Now()
		record(t, st, []Target{tg}, start, line1)
		sum, err := Run(context.Background(), Options{
			Store: st, Targets: []Target{tg}, Client: &http.Client{Transport: tr},
			Schedule: DefaultSchedule, Drain: true, Rand: func() float64 { return 0.5 },
		})
		if err != nil {
			t.Fatal(err)
		}
		if sum.Dead != 1 || sum.Attempts != len(DefaultSchedule)+1 {
			t.Fatalf("summary %+v, want %d attempts then dead", sum, len(DefaultSchedule)+1)
		}
		for i := range tr.reqs {
			if err := tr.errs[i]; err != nil {
				t.Errorf("attempt %d: %v", i+1, err)
			}
			if i > 0 {
				if gap := tr.at[i].Sub(tr.at[i-1]); gap != DefaultSchedule[i-1] {
					t.Errorf("wait before attempt %d: %s, want %s", i+1, gap, DefaultSchedule[i-1])
				}
			}
		}
		total := tr.at[len(tr.at)-1].Sub(start)
		if total < 72*time.Hour || total > 73*time.Hour {
			t.Errorf("the schedule took %s, want about three days", total)
		}
		dl, _ := st.Dead(context.Background(), Filter{})
		if len(dl) != 1 || dl[0].Attempts != len(DefaultSchedule)+1 || dl[0].LastStatus != 503 {
			t.Fatalf("dead letters %+v", dl)
		}
	})
}

// TestJitterSynctest: with random jitter each wait is within 20% of the
// schedule's, and a Retry-After in HTTP-date form is honoured.
func TestJitterSynctest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		schedule := []time.Duration{time.Minute, time.Hour, 2 * time.Hour}
		tr := &scriptedTransport{}
		tr.answers = []func() *http.Response{
			func() *http.Response { return response(500, nil) },
			func() *http.Response { return response(500, nil) },
			func() *http.Response {
				return response(429, http.Header{"Retry-After": {time.Now().Add(5 * time.Hour).UTC().Format(http.TimeFormat)}})
			},
		}
		st := openStore(t)
		tg := target("erp", "https://erp.invalid/hooks")
		record(t, st, []Target{tg}, time.Now(), line1)
		_, err := Run(context.Background(), Options{
			Store: st, Targets: []Target{tg}, Client: &http.Client{Transport: tr},
			Schedule: schedule, Drain: true, MaxRetryAfter: 6 * time.Hour,
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(tr.at) != 4 {
			t.Fatalf("%d attempts, want 4", len(tr.at))
		}
		for i := 1; i < 3; i++ {
			gap, d := tr.at[i].Sub(tr.at[i-1]), schedule[i-1]
			if gap < d*8/10 || gap > d*12/10 {
				t.Errorf("wait before attempt %d: %s, want within 20%% of %s", i+1, gap, d)
			}
		}
		// An HTTP date has whole seconds.
		if gap := tr.at[3].Sub(tr.at[2]); gap <= 5*time.Hour-time.Second || gap > 5*time.Hour {
			t.Errorf("wait after Retry-After of 5h: %s", gap)
		}
		if c := counts(t, st, "erp"); c.Delivered != 1 {
			t.Errorf("counts %+v, want delivered", c)
		}
	})
}

// TestServeSynctest: a serving run picks up events recorded while it runs
// and stops when its context ends.
func TestServeSynctest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := &scriptedTransport{}
		st := openStore(t)
		tg := target("erp", "https://erp.invalid/hooks")
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan Summary)
		go func() {
			sum, err := Run(ctx, Options{Store: st, Targets: []Target{tg}, Client: &http.Client{Transport: tr}, Serve: true, Poll: time.Second})
			if err != nil {
				t.Error(err)
			}
			done <- sum
		}()
		time.Sleep(10 * time.Second)
		synctest.Wait()
		record(t, st, []Target{tg}, time.Now(), line1, line2)
		time.Sleep(2 * time.Second)
		synctest.Wait()
		// A 410 disables the endpoint; a replay from another process
		// enables it again, and the serving run sends the dead letter.
		tr.mu.Lock()
		tr.answers = append(tr.answers, func() *http.Response { return response(410, nil) })
		tr.mu.Unlock()
		record(t, st, []Target{tg}, time.Now(), `{"id":"s3"}`)
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if c := counts(t, st, "erp"); c.Dead != 1 {
			t.Fatalf("after the 410: %+v, want 1 dead", c)
		}
		if n, enabled, err := st.Replay(context.Background(), Filter{}, time.Now()); err != nil || n != 1 || len(enabled) != 1 {
			t.Fatalf("replay: %d %v %v", n, enabled, err)
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		cancel()
		sum := <-done
		if sum.Delivered != 3 || len(sum.Disabled) != 1 {
			t.Fatalf("summary %+v, want 3 delivered while serving, one endpoint disabled on the way", sum)
		}
		if c := counts(t, st, "erp"); c.Delivered != 3 || c.Dead != 0 {
			t.Fatalf("counts %+v, want 3 delivered", c)
		}
	})
}
