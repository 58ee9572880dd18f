package promtext

import (
	"math"
	"strings"
	"testing"
)

func TestLabel(t *testing.T) {
	tests := []struct{ in, want string }{
		{"erp", `"erp"`},
		{`a"b\c` + "\nd", `"a\"b\\c\nd"`},
		{"café", `"café"`}, // UTF-8 stays as is, unlike strconv.Quote's \u escapes
	}
	for _, tt := range tests {
		if got := Label(tt.in); got != tt.want {
			t.Errorf("Label(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestFloat(t *testing.T) {
	for v, want := range map[float64]string{0.005: "0.005", 10: "10", 259200: "259200", math.Inf(1): "+Inf", math.Inf(-1): "-Inf"} {
		if got := Float(v); got != want {
			t.Errorf("Float(%v) = %s, want %s", v, got, want)
		}
	}
}

func TestHistogram(t *testing.T) {
	h := NewHistogram([]float64{0.1, 1})
	for _, v := range []float64{0.05, 0.1, 0.5, 2} {
		h.Observe(v)
	}
	var b strings.Builder
	if err := h.Write(&b, "x_seconds", `endpoint="erp"`); err != nil {
		t.Fatal(err)
	}
	want := `x_seconds_bucket{endpoint="erp",le="0.1"} 2
x_seconds_bucket{endpoint="erp",le="1"} 3
x_seconds_bucket{endpoint="erp",le="+Inf"} 4
x_seconds_sum{endpoint="erp"} 2.65
x_seconds_count{endpoint="erp"} 4
`
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
	b.Reset()
	NewHistogram([]float64{1}).Write(&b, "y", "")
	if want := "y_bucket{le=\"1\"} 0\ny_bucket{le=\"+Inf\"} 0\ny_sum 0\ny_count 0\n"; b.String() != want {
		t.Errorf("no labels: got\n%s\nwant\n%s", b.String(), want)
	}
}
