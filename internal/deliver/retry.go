package deliver

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// DefaultSchedule is the waits between attempts: eleven attempts over about
// three days (72.6 hours before jitter), as the large webhook senders do:
// quick retries for a blip, then hours apart, so that an endpoint that is
// down over a weekend day still gets every event.
var DefaultSchedule = []time.Duration{
	5 * time.Second,
	5 * time.Minute,
	30 * time.Minute,
	2 * time.Hour,
	5 * time.Hour,
	10 * time.Hour,
	10 * time.Hour,
	15 * time.Hour,
	15 * time.Hour,
	15 * time.Hour,
}

// ParseSchedule reads a retry schedule: waits between attempts, separated
// by commas, like 5s,5m,30m,2h,5h,10h,10h. The number of waits is the number
// of retries; "none" (or "") means no retries.
func ParseSchedule(s string) ([]time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "none" {
		return nil, nil
	}
	var out []time.Duration
	for _, part := range strings.Split(s, ",") {
		d, err := time.ParseDuration(strings.TrimSpace(part))
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("retry schedule %q: %q is not a positive duration (like 5s, 5m, 2h)", s, strings.TrimSpace(part))
		}
		out = append(out, d)
	}
	if len(out) > 100 {
		return nil, fmt.Errorf("retry schedule %q: at most 100 waits", s)
	}
	return out, nil
}

// FormatSchedule writes a schedule as ParseSchedule reads it.
func FormatSchedule(s []time.Duration) string {
	if len(s) == 0 {
		return "none"
	}
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = shortDuration(d)
	}
	return strings.Join(parts, ",")
}

func shortDuration(d time.Duration) string {
	switch {
	case d%time.Hour == 0:
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	case d%time.Minute == 0:
		return strconv.FormatInt(int64(d/time.Minute), 10) + "m"
	case d%time.Second == 0:
		return strconv.FormatInt(int64(d/time.Second), 10) + "s"
	}
	return d.String()
}

// Jitter spreads a wait over [0.8, 1.2) of itself, so that deliveries
// that failed together (an endpoint's outage) do not all come back in the
// same second. u is uniform in [0, 1).
func Jitter(d time.Duration, u float64) time.Duration {
	return time.Duration(float64(d) * (0.8 + 0.4*u))
}
