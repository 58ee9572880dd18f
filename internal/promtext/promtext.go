// Package promtext writes the pieces of Prometheus's text exposition format
// that taxagg's metrics share: quoted label values, numbers and histograms.
// It is small on purpose: taxagg exposes a handful of counters, gauges and
// histograms and does not need a client library for that.
package promtext

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
)

var labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

// Label quotes a label value as the format wants it: backslash, double
// quote and line feed escaped, everything else (UTF-8 included) as is.
func Label(v string) string { return `"` + labelEscaper.Replace(v) + `"` }

// Float formats a sample value or a bucket bound: the shortest text that
// reads back the same, and +Inf, -Inf, NaN as the format spells them.
func Float(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// Histogram counts observations into buckets with fixed upper bounds
// (sorted ascending). It is not safe for concurrent use: its owner locks.
type Histogram struct {
	bounds []float64
	counts []uint64 // per bucket, not cumulative; the last is above every bound
	sum    float64
	n      uint64
}

// NewHistogram returns an empty histogram with these upper bounds.
func NewHistogram(bounds []float64) *Histogram {
	return &Histogram{bounds: bounds, counts: make([]uint64, len(bounds)+1)}
}

// Observe counts v into the first bucket whose bound is at least v.
func (h *Histogram) Observe(v float64) {
	h.counts[sort.SearchFloat64s(h.bounds, v)]++
	h.sum += v
	h.n++
}

// Count is the number of observations.
func (h *Histogram) Count() uint64 { return h.n }

// Write writes the histogram's _bucket (cumulative), _sum and _count
// lines for metric name. labels, when not empty, are the series' other
// labels as they go between the braces (`endpoint="erp"`).
func (h *Histogram) Write(w io.Writer, name, labels string) error {
	sep := ""
	if labels != "" {
		sep = ","
	}
	var cum uint64
	for i, b := range h.bounds {
		cum += h.counts[i]
		if _, err := fmt.Fprintf(w, "%s_bucket{%s%sle=\"%s\"} %d\n", name, labels, sep, Float(b), cum); err != nil {
			return err
		}
	}
	cum += h.counts[len(h.bounds)]
	braces := ""
	if labels != "" {
		braces = "{" + labels + "}"
	}
	_, err := fmt.Fprintf(w, "%s_bucket{%s%sle=\"+Inf\"} %d\n%s_sum%s %s\n%s_count%s %d\n",
		name, labels, sep, cum, name, braces, Float(h.sum), name, braces, h.n)
	return err
}
