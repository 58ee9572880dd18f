package fetch

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/taxagg/taxagg/internal/ratelimit"
)

// progressEvery is the least time between two status lines.
const progressEvery = 200 * time.Millisecond

// progress writes one status line, rewritten in place, when pages arrive.
// It is driven by events, not by a ticker, so it starts no goroutine.
type progress struct {
	w         io.Writer
	clock     ratelimit.Clock
	provider  string
	resources []string
	lim       *ratelimit.Limiter
	stats     *counters

	mu      sync.Mutex
	pages   []int
	records []int
	last    time.Time
	wrote   bool
}

func newProgress(w io.Writer, clock ratelimit.Clock, provider string, resources []string,
	lim *ratelimit.Limiter, stats *counters) *progress {
	return &progress{
		w: w, clock: clock, provider: provider, resources: resources, lim: lim, stats: stats,
		pages: make([]int, len(resources)), records: make([]int, len(resources)),
	}
}

func (p *progress) set(i, pages, records int) {
	if p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pages[i], p.records[i] = pages, records
	now := p.clock.Now()
	if p.wrote && now.Sub(p.last) < progressEvery {
		return
	}
	p.last = now
	p.printLocked()
}

func (p *progress) printLocked() {
	var b strings.Builder
	fmt.Fprintf(&b, "\rfetch %s:", p.provider)
	for i, r := range p.resources {
		fmt.Fprintf(&b, " %s %s %s;", r, plural(p.pages[i], "page"), plural(p.records[i], "record"))
	}
	fmt.Fprintf(&b, " rate %.1f/s, %s\x1b[K", p.lim.Rate(), plural(int(p.stats.retries.Load()), "retry"))
	io.WriteString(p.w, b.String())
	p.wrote = true
}

// done prints the final state and ends the line.
func (p *progress) done() {
	if p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.printLocked()
	io.WriteString(p.w, "\n")
}
