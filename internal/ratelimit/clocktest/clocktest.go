// Package clocktest has fake clocks for tests of code that takes a
// ratelimit.Clock: Manual, whose time moves only when the test says so, and
// Auto, whose timers fire at once by moving its time forward to their
// deadline (virtual time: a test that waits minutes runs in microseconds).
package clocktest

import (
	"sort"
	"sync"
	"time"

	"github.com/taxagg/taxagg/internal/ratelimit"
)

// Manual is a clock whose time moves only with Advance. Safe for concurrent
// use.
type Manual struct {
	mu     sync.Mutex
	now    time.Time
	timers []*manualTimer
	seq    int
}

// NewManual returns a Manual clock set to start.
func NewManual(start time.Time) *Manual { return &Manual{now: start} }

// Now returns the clock's time.
func (c *Manual) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// NewTimer returns a timer firing d after Now; at once when d <= 0.
func (c *Manual) NewTimer(d time.Duration) ratelimit.Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &manualTimer{c: c, ch: make(chan time.Time, 1), at: c.now.Add(d), seq: c.seq}
	c.seq++
	if d <= 0 {
		t.ch <- c.now
		return t
	}
	c.timers = append(c.timers, t)
	return t
}

// Advance moves the time forward by d and fires, in deadline order, every
// timer that is due.
func (c *Manual) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	sort.Slice(c.timers, func(i, j int) bool {
		if !c.timers[i].at.Equal(c.timers[j].at) {
			return c.timers[i].at.Before(c.timers[j].at)
		}
		return c.timers[i].seq < c.timers[j].seq
	})
	keep := c.timers[:0]
	for _, t := range c.timers {
		if !t.at.After(c.now) {
			t.ch <- c.now
			continue
		}
		keep = append(keep, t)
	}
	c.timers = keep
}

// Pending returns how many timers are waiting to fire.
func (c *Manual) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

// Next returns how long until the earliest pending timer fires, and false
// when none is pending.
func (c *Manual) Next() (time.Duration, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.timers) == 0 {
		return 0, false
	}
	at := c.timers[0].at
	for _, t := range c.timers[1:] {
		if t.at.Before(at) {
			at = t.at
		}
	}
	return at.Sub(c.now), true
}

// WaitPending waits (in real time, at most within) until at least n timers
// are pending, and reports whether they were.
func (c *Manual) WaitPending(n int, within time.Duration) bool {
	deadline := time.Now().Add(within)
	for {
		if c.Pending() >= n {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Microsecond)
	}
}

type manualTimer struct {
	c   *Manual
	ch  chan time.Time
	at  time.Time
	seq int
}

func (t *manualTimer) C() <-chan time.Time { return t.ch }

func (t *manualTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	for i, o := range t.c.timers {
		if o == t {
			t.c.timers = append(t.c.timers[:i], t.c.timers[i+1:]...)
			return true
		}
	}
	return false
}

// Auto is a clock whose timers fire at once: making a timer of d moves the
// time forward to its deadline (if it is not already past it). Time only ever
// moves forward, so whatever code measures with Now stays consistent; it is
// virtual time that passes exactly as fast as the code under test waits.
// Safe for concurrent use.
type Auto struct {
	mu    sync.Mutex
	now   time.Time
	slept time.Duration
}

// NewAuto returns an Auto clock set to start.
func NewAuto(start time.Time) *Auto { return &Auto{now: start} }

// Now returns the clock's time.
func (c *Auto) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// NewTimer moves the time to Now+d and returns a timer that has fired.
func (c *Auto) NewTimer(d time.Duration) ratelimit.Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	if d > 0 {
		c.now = c.now.Add(d)
		c.slept += d
	}
	ch := make(chan time.Time, 1)
	ch <- c.now
	return autoTimer(ch)
}

// Slept returns the sum of every timer's duration so far.
func (c *Auto) Slept() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.slept
}

type autoTimer chan time.Time

func (t autoTimer) C() <-chan time.Time { return t }
func (t autoTimer) Stop() bool          { return false }
