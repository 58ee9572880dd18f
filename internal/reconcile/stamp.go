package reconcile

import "time"

// zeroUnix is time.Time{}.Unix(): the zero time, 0001-01-01 UTC.
const zeroUnix = -62135596800

// stamp is an instant in UTC without a pointer (a time.Time carries its
// Location): seconds since the zero time and nanoseconds. The zero stamp is
// the zero time. Records keep their dates as stamps, so that the store of
// loaded records holds fewer pointers for the collector to scan.
type stamp struct {
	s int64
	n int32
}

func stampOf(t time.Time) stamp {
	if t.IsZero() {
		return stamp{}
	}
	return stamp{s: t.Unix() - zeroUnix, n: int32(t.Nanosecond())}
}

// time returns the stamp as a time.Time in UTC (time.Time{} for the zero
// stamp), as the reader gave it.
func (s stamp) time() time.Time {
	if s == (stamp{}) {
		return time.Time{}
	}
	return time.Unix(s.s+zeroUnix, int64(s.n)).UTC()
}

func (s stamp) IsZero() bool { return s == stamp{} }

func (s stamp) Compare(u stamp) int {
	switch {
	case s.s < u.s:
		return -1
	case s.s > u.s:
		return 1
	case s.n < u.n:
		return -1
	case s.n > u.n:
		return 1
	}
	return 0
}

func (s stamp) After(u stamp) bool  { return s.Compare(u) > 0 }
func (s stamp) Before(u stamp) bool { return s.Compare(u) < 0 }

// Sub is time.Time.Sub, saturating at the ends of time.Duration.
func (s stamp) Sub(u stamp) time.Duration {
	const near = 1 << 32 // seconds: well inside a Duration's ±292 years
	if d := s.s - u.s; d > -near && d < near {
		return time.Duration(d)*time.Second + time.Duration(s.n-u.n)
	}
	return s.time().Sub(u.time())
}

// Add is time.Time.Add.
func (s stamp) Add(d time.Duration) stamp { return stampOf(s.time().Add(d)) }

// appendText appends the stamp as billing.FormatTime writes its time:
// RFC 3339 with nanoseconds when there are any, nothing for the zero stamp.
func (s stamp) appendText(b []byte) []byte {
	if s.IsZero() {
		return b
	}
	return s.time().AppendFormat(b, time.RFC3339Nano)
}
