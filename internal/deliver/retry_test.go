package deliver

import (
	"reflect"
	"testing"
	"time"
)

func TestSchedule(t *testing.T) {
	if got := FormatSchedule(DefaultSchedule); got != "5s,5m,30m,2h,5h,10h,10h,15h,15h,15h" {
		t.Errorf("default schedule %s", got)
	}
	var total time.Duration
	for _, d := range DefaultSchedule {
		total += d
	}
	if total < 72*time.Hour || total > 73*time.Hour {
		t.Errorf("the default schedule waits %s in all, want about three days", total)
	}
	for _, s := range []string{"5s,5m,30m,2h,5h,10h,10h", "1.5s,90m,1h30m", "none", "250ms"} {
		d, err := ParseSchedule(s)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		back, err := ParseSchedule(FormatSchedule(d))
		if err != nil || !reflect.DeepEqual(back, d) {
			t.Errorf("%s -> %s -> %v", s, FormatSchedule(d), back)
		}
	}
	for _, bad := range []string{"5s,,5m", "-1s", "0s", "5", "soon"} {
		if _, err := ParseSchedule(bad); err == nil {
			t.Errorf("ParseSchedule(%q) accepted it", bad)
		}
	}
	for _, u := range []float64{0, 0.5, 0.999999} {
		if j := Jitter(10*time.Second, u); j < 8*time.Second || j >= 12*time.Second {
			t.Errorf("Jitter(10s, %v) = %s, want in [8s, 12s)", u, j)
		}
	}
}

func FuzzParseSchedule(f *testing.F) {
	for _, s := range []string{"5s,5m,30m,2h,5h,10h,10h", "none", "", "1.5s,90m", "-1s", "5s,,"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseSchedule(s)
		if err != nil {
			return
		}
		for _, w := range d {
			if w <= 0 {
				t.Fatalf("%q: a wait of %s", s, w)
			}
		}
		back, err := ParseSchedule(FormatSchedule(d))
		if err != nil || len(back) != len(d) {
			t.Fatalf("%q -> %q: %v", s, FormatSchedule(d), err)
		}
		for i := range d {
			if back[i] != d[i] {
				t.Fatalf("%q -> %q: %s != %s", s, FormatSchedule(d), back[i], d[i])
			}
		}
	})
}
