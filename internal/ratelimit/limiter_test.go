package ratelimit_test

import (
	"context"
	"errors"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/taxagg/taxagg/internal/ratelimit"
	"github.com/taxagg/taxagg/internal/ratelimit/clocktest"
)

var start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func newLimiter(t *testing.T, cfg ratelimit.Config) *ratelimit.Limiter {
	t.Helper()
	l, err := ratelimit.New(cfg)
	if err != nil {
		t.Fatalf("New(%+v): %v", cfg, err)
	}
	return l
}

// waitAsync runs l.Wait in a goroutine and returns a channel with its result.
func waitAsync(ctx context.Context, l *ratelimit.Limiter) <-chan error {
	ch := make(chan error, 1)
	go func() { ch <- l.Wait(ctx) }()
	return ch
}

func mustBlock(t *testing.T, clk *clocktest.Manual, ch <-chan error) {
	t.Helper()
	if !clk.WaitPending(1, 5*time.Second) {
		t.Fatal("waiter never started a timer")
	}
	select {
	case err := <-ch:
		t.Fatalf("Wait returned %v, want it blocked", err)
	default:
	}
}

func mustReturn(t *testing.T, ch <-chan error) {
	t.Helper()
	select {
	case err := <-ch:
		if err != nil {
			t.Fatalf("Wait: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Wait did not return")
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	tests := []ratelimit.Config{
		{Rate: 0, Burst: 1},
		{Rate: -1, Burst: 1},
		{Rate: math.Inf(1), Burst: 1},
		{Rate: math.NaN(), Burst: 1},
		{Rate: 10, Burst: 0},
	}
	for _, tt := range tests {
		if _, err := ratelimit.New(tt); err == nil {
			t.Errorf("New(%+v) = nil error, want one", tt)
		}
	}
}

func TestBurstThenSteadyRate(t *testing.T) {
	clk := clocktest.NewManual(start)
	l := newLimiter(t, ratelimit.Config{Rate: 10, Burst: 3, Clock: clk})
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		if err := l.Wait(ctx); err != nil {
			t.Fatalf("Wait %d: %v", i, err)
		}
	}
	ch := waitAsync(ctx, l)
	mustBlock(t, clk, ch)
	if d, _ := clk.Next(); d != 100*time.Millisecond {
		t.Fatalf("next token in %v, want 100ms", d)
	}
	clk.Advance(99 * time.Millisecond)
	mustBlock(t, clk, ch)
	clk.Advance(time.Millisecond)
	mustReturn(t, ch)
	if got := l.Stats().Tokens; got != 4 {
		t.Errorf("tokens = %d, want 4", got)
	}
}

func TestBucketRefillsToBurstOnly(t *testing.T) {
	clk := clocktest.NewManual(start)
	l := newLimiter(t, ratelimit.Config{Rate: 10, Burst: 2, Clock: clk})
	ctx := context.Background()
	for i := 0; i < 2; i++ {
		mustReturn(t, waitAsync(ctx, l))
	}
	clk.Advance(time.Hour)
	for i := 0; i < 2; i++ {
		mustReturn(t, waitAsync(ctx, l))
	}
	ch := waitAsync(ctx, l)
	mustBlock(t, clk, ch)
	clk.Advance(100 * time.Millisecond)
	mustReturn(t, ch)
}

// TestSharedBucketNeverExceedsLimit runs many goroutines against one limiter
// on a fake clock and checks every one-second window of grants.
func TestSharedBucketNeverExceedsLimit(t *testing.T) {
	const (
		rate    = 25
		burst   = 5
		workers = 8
		each    = 40
	)
	clk := clocktest.NewManual(start)
	l := newLimiter(t, ratelimit.Config{Rate: rate, Burst: burst, Clock: clk})
	var mu sync.Mutex
	var grants []time.Time
	ratelimit.SetOnGrant(l, func(at time.Time) {
		mu.Lock()
		grants = append(grants, at)
		mu.Unlock()
	})
	ctx := context.Background()
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				if err := l.Wait(ctx); err != nil {
					t.Errorf("Wait: %v", err)
					return
				}
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	drive(t, clk, done)

	if len(grants) != workers*each {
		t.Fatalf("%d grants, want %d", len(grants), workers*each)
	}
	checkWindows(t, grants, rate, burst)
	elapsed := grants[len(grants)-1].Sub(start)
	want := time.Duration(float64(workers*each-burst) / rate * float64(time.Second))
	if elapsed < want-time.Millisecond || elapsed > want+50*time.Millisecond {
		t.Errorf("took %v of clock time, want about %v (steady rate)", elapsed, want)
	}
}

// drive advances clk to the next timer until done is closed.
func drive(t *testing.T, clk *clocktest.Manual, done <-chan struct{}) {
	t.Helper()
	for {
		select {
		case <-done:
			return
		default:
		}
		if !clk.WaitPending(1, 2*time.Millisecond) {
			continue
		}
		if d, ok := clk.Next(); ok {
			clk.Advance(d)
		}
	}
}

// checkWindows asserts that no window [t, t+1s) holds more than
// rate+burst grants.
func checkWindows(t *testing.T, grants []time.Time, rate float64, burst int) {
	t.Helper()
	limit := int(rate) + burst
	j := 0
	for i := range grants {
		for j < len(grants) && grants[j].Sub(grants[i]) < time.Second {
			j++
		}
		if n := j - i; n > limit {
			t.Fatalf("%d grants in the second from %v, limit %d", n, grants[i].Sub(start), limit)
		}
	}
}

func TestThrottledPausesEveryWaiterAndHalvesRate(t *testing.T) {
	clk := clocktest.NewManual(start)
	l := newLimiter(t, ratelimit.Config{Rate: 10, Burst: 5, Clock: clk})
	ctx := context.Background()
	mustReturn(t, waitAsync(ctx, l))
	l.Throttled(3 * time.Second)
	if got := l.Rate(); got != 5 {
		t.Errorf("rate after throttle = %v, want 5", got)
	}
	// The bucket had 4 tokens left; the pause must hold them back.
	ch := waitAsync(ctx, l)
	mustBlock(t, clk, ch)
	if d, _ := clk.Next(); d != 3*time.Second {
		t.Errorf("waiter sleeps %v, want the Retry-After of 3s", d)
	}
	clk.Advance(3*time.Second - time.Millisecond)
	mustBlock(t, clk, ch)
	clk.Advance(time.Millisecond)
	// After the pause the bucket starts empty: the first token comes one
	// interval at the lowered rate (200ms) after the pause.
	mustBlock(t, clk, ch)
	if d, _ := clk.Next(); d != 200*time.Millisecond {
		t.Errorf("first token after pause in %v, want 200ms", d)
	}
	clk.Advance(200 * time.Millisecond)
	mustReturn(t, ch)
	st := l.Stats()
	if st.Throttles != 1 || st.Decreases != 1 || st.Paused != 3*time.Second {
		t.Errorf("stats = %+v, want 1 throttle, 1 decrease, 3s paused", st)
	}
}

func TestThrottleWakesHeadWaiterToSlowDown(t *testing.T) {
	clk := clocktest.NewManual(start)
	l := newLimiter(t, ratelimit.Config{Rate: 10, Burst: 1, Clock: clk})
	ctx := context.Background()
	mustReturn(t, waitAsync(ctx, l))
	ch := waitAsync(ctx, l)
	mustBlock(t, clk, ch)
	clk.Advance(50 * time.Millisecond) // half a token at 10/s
	l.Throttled(0)                     // no Retry-After: rate 10 -> 5
	// The head waiter must re-plan: the remaining half token at 5/s is 100ms.
	if !waitNext(clk, 100*time.Millisecond) {
		d, _ := clk.Next()
		t.Fatalf("head waiter sleeps %v after the throttle, want 100ms", d)
	}
	clk.Advance(99 * time.Millisecond)
	mustBlock(t, clk, ch)
	clk.Advance(time.Millisecond)
	mustReturn(t, ch)
}

// waitNext waits (briefly, in real time) until the only pending timer fires
// in d.
func waitNext(clk *clocktest.Manual, d time.Duration) bool {
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if got, ok := clk.Next(); ok && got == d && clk.Pending() == 1 {
			return true
		}
		time.Sleep(50 * time.Microsecond)
	}
	return false
}

func TestThrottleCooldownDecreasesOnce(t *testing.T) {
	clk := clocktest.NewManual(start)
	l := newLimiter(t, ratelimit.Config{Rate: 16, Burst: 1, Clock: clk})
	l.Throttled(0)
	l.Throttled(0)
	clk.Advance(500 * time.Millisecond)
	l.Throttled(0)
	if got := l.Rate(); got != 8 {
		t.Errorf("rate after a volley of throttles = %v, want 8", got)
	}
	clk.Advance(time.Second)
	l.Throttled(0)
	if got := l.Rate(); got != 4 {
		t.Errorf("rate after a later throttle = %v, want 4", got)
	}
	if st := l.Stats(); st.Throttles != 4 || st.Decreases != 2 {
		t.Errorf("stats = %+v, want 4 throttles, 2 decreases", st)
	}
}

func TestRateFloor(t *testing.T) {
	clk := clocktest.NewManual(start)
	l := newLimiter(t, ratelimit.Config{Rate: 10, Burst: 1, MinRate: 3, Clock: clk})
	for i := 0; i < 5; i++ {
		l.Throttled(0)
		clk.Advance(2 * time.Second)
	}
	if got := l.Rate(); got != 3 {
		t.Errorf("rate = %v, want the floor 3", got)
	}
}

func TestAdditiveRecovery(t *testing.T) {
	clk := clocktest.NewManual(start)
	l := newLimiter(t, ratelimit.Config{Rate: 20, Burst: 1, Increase: 4, Clock: clk})
	l.Throttled(0) // 20 -> 10
	tests := []struct {
		advance time.Duration
		want    float64
	}{
		{500 * time.Millisecond, 10}, // too soon after the decrease
		{500 * time.Millisecond, 14},
		{100 * time.Millisecond, 14}, // one step per interval
		{time.Second, 18},
		{time.Second, 20}, // capped at the ceiling
		{time.Second, 20},
	}
	for i, tt := range tests {
		clk.Advance(tt.advance)
		l.Success()
		if got := l.Rate(); got != tt.want {
			t.Fatalf("step %d: rate = %v, want %v", i, got, tt.want)
		}
	}
	if st := l.Stats(); st.Increases != 3 {
		t.Errorf("increases = %d, want 3", st.Increases)
	}
}

func TestWaitHonoursContext(t *testing.T) {
	clk := clocktest.NewManual(start)
	l := newLimiter(t, ratelimit.Config{Rate: 1, Burst: 1, Clock: clk})
	mustReturn(t, waitAsync(context.Background(), l))
	ctx, cancel := context.WithCancel(context.Background())
	ch := waitAsync(ctx, l)
	mustBlock(t, clk, ch)
	// A second waiter queues behind the head.
	ch2 := waitAsync(context.Background(), l)
	cancel()
	select {
	case err := <-ch:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Wait = %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("cancelled Wait did not return")
	}
	// The queued waiter takes over the head and gets the next token.
	if !waitNext(clk, time.Second) {
		t.Fatal("second waiter did not take over")
	}
	clk.Advance(time.Second)
	mustReturn(t, ch2)

	done, cancel2 := context.WithCancel(context.Background())
	cancel2()
	if err := l.Wait(done); !errors.Is(err, context.Canceled) {
		t.Errorf("Wait on a done context = %v, want context.Canceled", err)
	}
}

func TestWaitersServedInOrder(t *testing.T) {
	clk := clocktest.NewManual(start)
	l := newLimiter(t, ratelimit.Config{Rate: 10, Burst: 1, Clock: clk})
	ctx := context.Background()
	mustReturn(t, waitAsync(ctx, l))
	var mu sync.Mutex
	var order []int
	var wg sync.WaitGroup
	for i := 0; i < 5; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if err := l.Wait(ctx); err != nil {
				t.Error(err)
			}
			mu.Lock()
			order = append(order, i)
			mu.Unlock()
		}(i)
		// Let goroutine i queue before i+1 starts.
		if i == 0 {
			clk.WaitPending(1, 5*time.Second)
		} else {
			time.Sleep(2 * time.Millisecond)
		}
	}
	for n := 1; n <= 5; n++ {
		clk.WaitPending(1, 5*time.Second)
		clk.Advance(100 * time.Millisecond)
		for deadline := time.Now().Add(5 * time.Second); ; {
			mu.Lock()
			got := len(order)
			mu.Unlock()
			if got >= n || time.Now().After(deadline) {
				break
			}
			time.Sleep(50 * time.Microsecond)
		}
	}
	wg.Wait()
	for i, v := range order {
		if v != i {
			t.Fatalf("order = %v, want 0..4", order)
		}
	}
}

func TestSleep(t *testing.T) {
	clk := clocktest.NewAuto(start)
	if err := ratelimit.Sleep(context.Background(), clk, 90*time.Second); err != nil {
		t.Fatal(err)
	}
	if got := clk.Now().Sub(start); got != 90*time.Second {
		t.Errorf("auto clock moved %v, want 90s", got)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := ratelimit.Sleep(ctx, clocktest.NewManual(start), time.Second); !errors.Is(err, context.Canceled) {
		t.Errorf("Sleep on a done context = %v", err)
	}
}

func TestParseRate(t *testing.T) {
	tests := []struct {
		in      string
		want    float64
		wantErr bool
	}{
		{"25/s", 25, false},
		{"25", 25, false},
		{"0.5/s", 0.5, false},
		{"120/m", 2, false},
		{"120/min", 2, false},
		{"3600/h", 1, false},
		{" 10 / sec ", 10, false},
		{"0/s", 0, true},
		{"-1/s", 0, true},
		{"x/s", 0, true},
		{"10/d", 0, true},
		{"inf/s", 0, true},
		{"", 0, true},
	}
	for _, tt := range tests {
		got, err := ratelimit.ParseRate(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseRate(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		{"3", 3 * time.Second, false},
		{"0", 0, false},
		{"1.5", 1500 * time.Millisecond, false},
		{"Sun, 01 Mar 2026 12:00:07 GMT", 7 * time.Second, false},
		{"Sun, 01 Mar 2026 11:00:00 GMT", 0, false},
		{"-2", 0, true},
		{"soon", 0, true},
		{"", 0, true},
	}
	for _, tt := range tests {
		got, err := ratelimit.ParseRetryAfter(tt.in, now)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseRetryAfter(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}
