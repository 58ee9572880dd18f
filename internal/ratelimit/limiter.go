// Package ratelimit is an adaptive token bucket meant to be shared by every
// goroutine of a process that talks to one rate-limited API.
//
// A Limiter hands out one token per request at a steady rate with a bounded
// burst. On top of the bucket it adapts: when the server answers 429 the
// caller reports it with Throttled, which honours the server's Retry-After by
// pausing every waiter, and lowers the rate multiplicatively (at most once per
// cooldown, so a volley of 429s from requests already in flight counts once);
// Success raises it again additively, one step per interval, up to the
// configured ceiling (AIMD).
//
// Time comes from an injected Clock, so tests drive the limiter with a fake
// clock (package clocktest) and never sleep.
//
// Why not golang.org/x/time/rate as the base: its bucket arithmetic is sound
// and it has time-parameterised methods (ReserveN(t, n), SetLimitAt), but
// (1) WaitN always reads time.Now and starts a real time.Timer (the fake-timer
// variant is unexported), so with an injected clock the waiting loop must be
// rewritten anyway; (2) it is reservation-based: a waiter's time to act is
// fixed when it reserves, and SetLimitAt documents that the new limit "may be
// violated ... by those which reserved but did not yet act", which is exactly
// the moment (just after a 429) when the lower rate matters; (3) it has no
// notion of a pause: reservations taken before a Retry-After would all fire
// together when it ends, a burst larger than the bucket. Keeping those three
// right on top of it costs more code than the bucket itself (about thirty
// lines here), and it would add a module to a shared go.mod. So the bucket is
// written here: waiters take turns (FIFO), and the waiter at the head
// re-reads the rate and the pause whenever either changes.
package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Config sets up a Limiter. Only Rate and Burst are required.
type Config struct {
	// Rate is the ceiling: the most tokens per second. It must be positive.
	Rate float64
	// Burst is the bucket's capacity: how many tokens may be taken at once
	// after a quiet period. It must be at least 1.
	Burst int
	// MinRate is the floor that decreases stop at (default Rate/20).
	MinRate float64
	// Decrease multiplies the rate on a throttle (default 0.5).
	Decrease float64
	// Increase is added to the rate per RecoverEvery of successes
	// (default Rate/10).
	Increase float64
	// RecoverEvery is the interval of the additive recovery (default 1s).
	RecoverEvery time.Duration
	// Cooldown is how long after one decrease further throttles only pause
	// and do not lower the rate again (default 1s).
	Cooldown time.Duration
	// Clock is the source of time (default System()).
	Clock Clock
}

// Stats is a snapshot of a Limiter's counters.
type Stats struct {
	Rate      float64 // current tokens per second
	MaxRate   float64 // the configured ceiling
	Tokens    int64   // tokens handed out
	Throttles int64   // calls to Throttled
	Decreases int64   // times the rate was lowered
	Increases int64   // times the rate was raised
	Paused    time.Duration
}

// Limiter is an adaptive token bucket, safe for concurrent use. Its zero
// value is not usable: make one with New.
type Limiter struct {
	clock Clock
	turn  chan struct{} // holding it makes a waiter the head of the queue

	mu          sync.Mutex
	maxRate     float64
	minRate     float64
	decrease    float64
	increase    float64
	recover     time.Duration
	cooldown    time.Duration
	rate        float64
	burst       float64
	tokens      float64
	last        time.Time // tokens are counted up to here
	pausedUntil time.Time
	lastDecr    time.Time // zero: never
	lastChange  time.Time // last decrease or increase
	changed     chan struct{}
	stats       Stats
	onGrant     func(time.Time) // tests only: called, locked, at each token
}

// New returns a Limiter with a full bucket.
func New(cfg Config) (*Limiter, error) {
	if !(cfg.Rate > 0) || math.IsInf(cfg.Rate, 0) {
		return nil, fmt.Errorf("rate %v: must be a positive number", cfg.Rate)
	}
	if cfg.Burst < 1 {
		return nil, fmt.Errorf("burst %d: must be at least 1", cfg.Burst)
	}
	if cfg.MinRate <= 0 {
		cfg.MinRate = cfg.Rate / 20
	}
	if cfg.MinRate > cfg.Rate {
		cfg.MinRate = cfg.Rate
	}
	if cfg.Decrease <= 0 || cfg.Decrease >= 1 {
		cfg.Decrease = 0.5
	}
	if cfg.Increase <= 0 {
		cfg.Increase = cfg.Rate / 10
	}
	if cfg.RecoverEvery <= 0 {
		cfg.RecoverEvery = time.Second
	}
	if cfg.Cooldown <= 0 {
		cfg.Cooldown = time.Second
	}
	if cfg.Clock == nil {
		cfg.Clock = System()
	}
	now := cfg.Clock.Now()
	return &Limiter{
		clock:      cfg.Clock,
		turn:       make(chan struct{}, 1),
		maxRate:    cfg.Rate,
		minRate:    cfg.MinRate,
		decrease:   cfg.Decrease,
		increase:   cfg.Increase,
		recover:    cfg.RecoverEvery,
		cooldown:   cfg.Cooldown,
		rate:       cfg.Rate,
		burst:      float64(cfg.Burst),
		tokens:     float64(cfg.Burst),
		last:       now,
		lastChange: now,
		changed:    make(chan struct{}),
	}, nil
}

// Clock returns the limiter's clock, so that code waiting alongside it
// (backoff) keeps the same time.
func (l *Limiter) Clock() Clock { return l.clock }

// Wait blocks until a token is available and takes it, or until ctx is done.
// Waiters are served in the order they arrived.
func (l *Limiter) Wait(ctx context.Context) error {
	select {
	case l.turn <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-l.turn }()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		l.mu.Lock()
		wait := l.takeLocked(l.clock.Now())
		changed := l.changed
		l.mu.Unlock()
		if wait == 0 {
			return nil
		}
		t := l.clock.NewTimer(wait)
		select {
		case <-t.C():
		case <-changed:
			t.Stop()
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
	}
}

// Throttled reports that the server refused a request for its rate (HTTP
// 429). A positive retryAfter pauses every waiter until that much time has
// passed, and the bucket starts empty after the pause. The rate is lowered
// multiplicatively, unless it was already lowered within the cooldown.
func (l *Limiter) Throttled(retryAfter time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.clock.Now()
	l.stats.Throttles++
	l.refillLocked(now)
	if retryAfter > 0 {
		until := now.Add(retryAfter)
		if until.After(l.pausedUntil) {
			if l.pausedUntil.After(now) {
				l.stats.Paused += until.Sub(l.pausedUntil)
			} else {
				l.stats.Paused += retryAfter
			}
			l.pausedUntil = until
		}
		l.tokens = 0
		if l.pausedUntil.After(l.last) {
			l.last = l.pausedUntil
		}
	}
	if l.lastDecr.IsZero() || now.Sub(l.lastDecr) >= l.cooldown {
		r := l.rate * l.decrease
		if r < l.minRate {
			r = l.minRate
		}
		if r < l.rate {
			l.rate = r
			l.stats.Decreases++
		}
		l.lastDecr = now
		l.lastChange = now
	}
	l.broadcastLocked()
}

// Success reports a request the server accepted. Once per RecoverEvery
// without a throttle it raises a lowered rate by one Increase step, never
// above the ceiling.
func (l *Limiter) Success() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.rate >= l.maxRate {
		return
	}
	now := l.clock.Now()
	if now.Sub(l.lastChange) < l.recover {
		return
	}
	l.refillLocked(now)
	l.rate += l.increase
	if l.rate > l.maxRate {
		l.rate = l.maxRate
	}
	l.lastChange = now
	l.stats.Increases++
	l.broadcastLocked()
}

// Rate returns the current rate in tokens per second.
func (l *Limiter) Rate() float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.rate
}

// Stats returns a snapshot of the counters.
func (l *Limiter) Stats() Stats {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.stats
	s.Rate = l.rate
	s.MaxRate = l.maxRate
	return s
}

// takeLocked takes a token at now and returns 0, or returns how long to wait
// before trying again.
func (l *Limiter) takeLocked(now time.Time) time.Duration {
	if now.Before(l.pausedUntil) {
		return l.pausedUntil.Sub(now)
	}
	l.refillLocked(now)
	// Tolerate float error so that a wait computed to the nanosecond is
	// enough.
	if l.tokens >= 1-1e-9 {
		l.tokens--
		if l.tokens < 0 {
			l.tokens = 0
		}
		l.stats.Tokens++
		if l.onGrant != nil {
			l.onGrant(now)
		}
		return 0
	}
	secs := (1 - l.tokens) / l.rate
	d := time.Duration(math.Ceil(secs * float64(time.Second)))
	if d < 1 {
		d = 1
	}
	return d
}

// refillLocked adds the tokens earned at the current rate up to now.
func (l *Limiter) refillLocked(now time.Time) {
	if !now.After(l.last) {
		return
	}
	l.tokens += now.Sub(l.last).Seconds() * l.rate
	if l.tokens > l.burst {
		l.tokens = l.burst
	}
	l.last = now
}

func (l *Limiter) broadcastLocked() {
	close(l.changed)
	l.changed = make(chan struct{})
}

// ParseRate reads a rate written as N/s, N/m or N/h (also N/sec, N/min,
// N/hour, or a bare N meaning per second) and returns it in tokens per second.
func ParseRate(s string) (float64, error) {
	num, unit, found := strings.Cut(strings.TrimSpace(s), "/")
	if !found {
		unit = "s"
	}
	n, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	if err != nil || !(n > 0) || math.IsInf(n, 0) {
		return 0, fmt.Errorf("rate %q: want a positive number per unit, like 25/s", s)
	}
	var per float64
	switch strings.ToLower(strings.TrimSpace(unit)) {
	case "s", "sec", "second":
		per = 1
	case "m", "min", "minute":
		per = 60
	case "h", "hour":
		per = 3600
	default:
		return 0, fmt.Errorf("rate %q: unit %q: want s, m or h", s, unit)
	}
	return n / per, nil
}

// ErrBadRetryAfter is returned by ParseRetryAfter for a value that is
// neither delay seconds nor an HTTP date.
var ErrBadRetryAfter = errors.New("not delay-seconds or an http date")

// ParseRetryAfter reads an HTTP Retry-After value, delay seconds (which may
// carry a fraction, as some servers send) or an HTTP date, relative to now.
// A date in the past gives zero.
func ParseRetryAfter(v string, now time.Time) (time.Duration, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, ErrBadRetryAfter
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		if secs < 0 || math.IsNaN(secs) || math.IsInf(secs, 0) || secs > 1e6 {
			return 0, ErrBadRetryAfter
		}
		return time.Duration(secs * float64(time.Second)), nil
	}
	for _, layout := range []string{time.RFC1123, time.RFC850, time.ANSIC} {
		if t, err := time.Parse(layout, v); err == nil {
			if d := t.Sub(now); d > 0 {
				return d, nil
			}
			return 0, nil
		}
	}
	return 0, ErrBadRetryAfter
}
