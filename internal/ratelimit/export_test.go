package ratelimit

import "time"

// SetOnGrant makes l call f, with the limiter's lock held, at the clock time
// of every token it hands out.
func SetOnGrant(l *Limiter, f func(time.Time)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.onGrant = f
}
