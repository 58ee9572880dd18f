package reconcile

import (
	"testing"
	"time"

	"github.com/taxagg/taxagg/internal/billing"
)

// A stamp is the time it was made from: same text, same order, same
// differences (saturating like time.Time.Sub), the zero time as the zero
// stamp.
func TestStampIsTheTime(t *testing.T) {
	times := []time.Time{
		{},
		time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC),
		time.Date(1, 1, 1, 0, 0, 1, 0, time.UTC),
		time.Date(1969, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 1, 10, 12, 0, 0, 0, time.UTC),
		time.Date(2026, 1, 10, 12, 0, 0, 500, time.UTC),
		time.Date(2026, 1, 11, 12, 0, 0, 0, time.UTC),
		time.Date(2400, 2, 29, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
	}
	for _, x := range times {
		s := stampOf(x)
		if got := s.time(); !got.Equal(x) || got.IsZero() != x.IsZero() {
			t.Errorf("stampOf(%v).time() = %v", x, got)
		}
		if s.IsZero() != x.IsZero() {
			t.Errorf("stampOf(%v).IsZero() = %v", x, s.IsZero())
		}
		if got, want := string(s.appendText(nil)), billing.FormatTime(x); got != want {
			t.Errorf("stampOf(%v).appendText = %q, want %q", x, got, want)
		}
		for _, y := range times {
			u := stampOf(y)
			if got, want := s.Compare(u), x.Compare(y); got != want {
				t.Errorf("Compare(%v, %v) = %d, want %d", x, y, got, want)
			}
			if got, want := s.Sub(u), x.Sub(y); got != want {
				t.Errorf("Sub(%v, %v) = %v, want %v", x, y, got, want)
			}
			if s.After(u) != x.After(y) || s.Before(u) != x.Before(y) {
				t.Errorf("After/Before(%v, %v) disagree with time", x, y)
			}
		}
		for _, d := range []time.Duration{0, time.Nanosecond, -24 * time.Hour, 720 * time.Hour} {
			if got, want := s.Add(d).time(), x.Add(d); !got.Equal(want) {
				t.Errorf("stampOf(%v).Add(%v) = %v, want %v", x, d, got, want)
			}
		}
	}
}
