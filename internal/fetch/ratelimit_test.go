package fetch_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/taxagg/taxagg/internal/fetch/fetchtest"
	"github.com/taxagg/taxagg/internal/ratelimit"
)

// TestRequestsPerSecondStayUnderLimit fetches four resources concurrently on
// the real clock against a server that counts arrivals per second and
// answers 429 past the limit, as a real API would.
func TestRequestsPerSecondStayUnderLimit(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("runs for about two seconds of real time")
	}
	const (
		rate  = 40
		burst = 5
	)
	srv := stripeServer(t, map[string]int{"invoices": 2000, "charges": 2000, "refunds": 2000, "credit_notes": 1400})
	var mu sync.Mutex
	var arrivals []time.Time
	srv.Fault = func(int64, *http.Request) fetchtest.Action {
		mu.Lock()
		defer mu.Unlock()
		now := time.Now()
		arrivals = append(arrivals, now)
		n := 0
		for _, at := range arrivals {
			if now.Sub(at) < time.Second {
				n++
			}
		}
		// One request of slack for the jitter between the limiter handing
		// out a token and the request arriving here.
		if n > rate+burst+1 {
			return fetchtest.Action{Status: 429, RetryAfter: "1"}
		}
		return fetchtest.Action{}
	}
	base := start(t, srv)
	lim, err := ratelimit.New(ratelimit.Config{Rate: rate, Burst: burst})
	if err != nil {
		t.Fatal(err)
	}
	opts := baseOpts(t, base, "invoices", "charges", "refunds", "credit_notes")
	opts.Limiter = lim
	began := time.Now()
	out, sum, err := runFetch(t, context.Background(), opts)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	elapsed := time.Since(began)
	if n := len(parseLines(t, out)); n != 7400 {
		t.Errorf("%d records, want 7400", n)
	}
	if sum.Requests != 74 || sum.Throttled != 0 {
		t.Errorf("requests %d, throttled %d: want 74 and none", sum.Requests, sum.Throttled)
	}
	if got := srv.MaxInWindow(time.Second); got > rate+burst+1 {
		t.Errorf("%d requests within one second, limit %d/s with burst %d", got, rate, burst)
	} else {
		t.Logf("at most %d requests in any second; %d requests in %v", got, sum.Requests, elapsed.Round(time.Millisecond))
	}
	// The bucket, not the server, set the pace.
	if min := time.Duration(float64(74-burst) / rate * float64(time.Second)); elapsed < min-50*time.Millisecond {
		t.Errorf("took %v, faster than the limit allows (%v)", elapsed, min)
	}
}

// TestAdaptsToAStricterServer gives the client a rate above what the server
// allows: the 429s with Retry-After lower the shared rate, the fetch
// completes, and the throttles stay few. Virtual time throughout.
func TestAdaptsToAStricterServer(t *testing.T) {
	t.Parallel()
	const serverLimit = 8 // per second
	srv := stripeServer(t, map[string]int{"invoices": 3000, "charges": 3000})
	lim, clk := autoLimiter(t, 25, 5)
	srv.Clock = clk
	var mu sync.Mutex
	var arrivals []time.Time
	srv.Fault = func(int64, *http.Request) fetchtest.Action {
		mu.Lock()
		defer mu.Unlock()
		now := clk.Now()
		n := 0
		for _, at := range arrivals {
			if now.Sub(at) < time.Second {
				n++
			}
		}
		if n >= serverLimit {
			return fetchtest.Action{Status: 429, RetryAfter: "1"}
		}
		arrivals = append(arrivals, now)
		return fetchtest.Action{}
	}
	base := start(t, srv)
	opts := baseOpts(t, base, "invoices", "charges")
	opts.Limiter = lim
	out, sum, err := runFetch(t, context.Background(), opts)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if n := len(parseLines(t, out)); n != 6000 {
		t.Errorf("%d records, want 6000", n)
	}
	st := lim.Stats()
	if sum.Throttled == 0 || st.Decreases == 0 {
		t.Errorf("throttled %d, decreases %d: the server's limit was never met", sum.Throttled, st.Decreases)
	}
	if sum.Throttled > 10 {
		t.Errorf("%d throttles for 60 pages: the limiter did not adapt", sum.Throttled)
	}
	t.Logf("%d requests, %d throttled, rate now %.1f/s, virtual time %v", sum.Requests, sum.Throttled, st.Rate, sum.Elapsed)
}
