// Package fetch pulls billing records from the Stripe and Chargebee list
// APIs, politely, and writes them as NDJSON: canonical ledger records (made
// by a Converter the caller passes in) or the API's own objects.
//
// Politeness: every request of the process waits on one shared, adaptive
// token bucket (package ratelimit); 429s pause everyone for the server's
// Retry-After and lower the rate; 429, 5xx and network errors are retried
// with capped exponential backoff and full jitter; other 4xx answers fail at
// once with the API's message.
//
// Resources are fetched concurrently (at most Workers at a time), each page
// after page, and each page is committed to a Store together with the cursor
// after it; with a FileStore (--checkpoint) an interrupted fetch resumes from
// there. Output is written once every page has been fetched, ordered by
// resource (as listed), then creation time, then id, so it is the same
// whatever the concurrency, the timing, or the interruptions.
package fetch

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/taxagg/taxagg/internal/ratelimit"
)

// Converter turns one API object of resource into a canonical ledger record
// (docs/reconcile.md). Its result is written with encoding/json; a []byte or
// json.RawMessage result is written as it is.
type Converter func(resource string, object []byte) (any, error)

// Options configure Run. Provider, Resources, Key and Limiter are required,
// and Convert unless Raw.
type Options struct {
	Provider  string   // "stripe" or "chargebee"
	Resources []string // resource names; output follows this order
	// CreatedFrom (inclusive) and CreatedTo (exclusive) bound the creation
	// time; the zero time leaves a side open.
	CreatedFrom, CreatedTo time.Time
	APIBase                string // default StripeAPIBase / ChargebeeAPIBase
	Site                   string // Chargebee site, required for Chargebee
	Key                    Secret

	// Limiter is shared by every request; its clock also times the backoff.
	Limiter    *ratelimit.Limiter
	MaxRetries int // retries of one request; 0 means none
	Workers    int // resources fetched at once; default all of them

	Store   Store     // default a MemoryStore
	Raw     bool      // write the API's objects rather than canonical records
	Convert Converter // required unless Raw

	HTTPClient  *http.Client // default: a client with a 60 s timeout
	BackoffBase time.Duration
	BackoffCap  time.Duration
	Rand        func() float64 // uniform in [0,1), for jitter; default math/rand/v2
	// MaxWait caps one Retry-After wait (default DefaultMaxWait): a server
	// asking for days, or an HTTP date in year 9999, would otherwise hold
	// every worker. A capped wait still counts as one of MaxRetries.
	MaxWait   time.Duration
	UserAgent string

	// Progress, when not nil, receives a status line (rewritten with \r)
	// after each page (at most five a second): meant for a terminal.
	Progress io.Writer
}

// Summary tells what a Run did.
type Summary struct {
	Provider     string            `json:"provider"`
	Complete     bool              `json:"complete"` // every page fetched and the output written
	Resources    []ResourceSummary `json:"resources"`
	Records      int               `json:"records"` // written
	Requests     int64             `json:"requests"`
	Retries      int64             `json:"retries"`
	Throttled    int64             `json:"throttled"` // 429 answers
	ServerErrors int64             `json:"server_errors"`
	NetErrors    int64             `json:"network_errors"`
	CappedWaits  int64             `json:"capped_waits"` // Retry-After waits cut to MaxWait
	MaxWait      time.Duration     `json:"max_wait_ns"`
	Rate         float64           `json:"rate"`     // requests/s at the end
	MaxRate      float64           `json:"max_rate"` // the ceiling
	Elapsed      time.Duration     `json:"elapsed_ns"`
}

// ResourceSummary is one resource's part of a Summary.
type ResourceSummary struct {
	Name       string `json:"name"`
	Pages      int    `json:"pages"`   // pages fetched, by this run and resumed ones
	Fetched    int    `json:"fetched"` // objects fetched
	Resumed    bool   `json:"resumed"` // started from a checkpoint
	Outside    int    `json:"outside_window"`
	Duplicates int    `json:"duplicates"`
	Records    int    `json:"records"` // written
}

// WriteText writes the summary as a few lines for people.
func (s *Summary) WriteText(w io.Writer) error {
	var b strings.Builder
	for _, r := range s.Resources {
		if s.Complete {
			fmt.Fprintf(&b, "fetch %s %s: %s from %s", s.Provider, r.Name, plural(r.Records, "record"), plural(r.Pages, "page"))
		} else {
			fmt.Fprintf(&b, "fetch %s %s: %s fetched from %s, none written", s.Provider, r.Name, plural(r.Fetched, "record"), plural(r.Pages, "page"))
		}
		if r.Resumed {
			b.WriteString(" (resumed)")
		}
		if r.Duplicates > 0 {
			fmt.Fprintf(&b, ", %s dropped", plural(r.Duplicates, "duplicate"))
		}
		if r.Outside > 0 {
			fmt.Fprintf(&b, ", %d outside the window dropped", r.Outside)
		}
		b.WriteByte('\n')
	}
	fmt.Fprintf(&b, "fetch %s: %s, %s, %s (%d throttled, %d server errors, %d network errors), rate %.1f/s of %.1f/s, %s\n",
		s.Provider, plural(s.Records, "record"), plural(int(s.Requests), "request"), plural(int(s.Retries), "retry"),
		s.Throttled, s.ServerErrors, s.NetErrors, s.Rate, s.MaxRate, s.Elapsed.Round(time.Millisecond))
	if s.CappedWaits > 0 {
		fmt.Fprintf(&b, "fetch %s: %s longer than %s cut to %s\n", s.Provider,
			plural(int(s.CappedWaits), "Retry-After wait"), s.MaxWait, s.MaxWait)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	if strings.HasSuffix(word, "y") {
		return fmt.Sprintf("%d %sies", n, strings.TrimSuffix(word, "y"))
	}
	return fmt.Sprintf("%d %ss", n, word)
}

type counters struct {
	requests, retries, throttled, serverErrors, netErrors, cappedWaits atomic.Int64
}

// Run fetches every resource and writes the records to out, one JSON object
// a line. It returns a summary even when it fails, covering what was done.
func Run(ctx context.Context, out io.Writer, opts Options) (*Summary, error) {
	sum, err := run(ctx, out, opts)
	return sum, opts.Key.scrubError(err)
}

func run(ctx context.Context, out io.Writer, opts Options) (*Summary, error) {
	prov, err := newProvider(opts)
	if err != nil {
		return nil, err
	}
	resources, err := checkResources(prov, opts.Resources)
	if err != nil {
		return nil, err
	}
	if opts.Limiter == nil {
		return nil, errors.New("fetch: no rate limiter")
	}
	if !opts.Raw && opts.Convert == nil {
		return nil, errors.New("fetch: no converter for canonical records (use raw output)")
	}
	if !opts.CreatedFrom.IsZero() && !opts.CreatedTo.IsZero() && !opts.CreatedFrom.Before(opts.CreatedTo) {
		return nil, fmt.Errorf("created window: from %s is not before to %s",
			opts.CreatedFrom.Format(time.RFC3339), opts.CreatedTo.Format(time.RFC3339))
	}
	if opts.MaxWait < 0 {
		return nil, fmt.Errorf("max wait %s: must not be negative", opts.MaxWait)
	}
	if opts.MaxRetries < 0 {
		return nil, fmt.Errorf("max retries %d: must not be negative", opts.MaxRetries)
	}
	store := opts.Store
	if store == nil {
		store = NewMemoryStore()
	}
	clock := opts.Limiter.Clock()
	began := clock.Now()
	win := newWindow(opts.CreatedFrom, opts.CreatedTo)

	cursors, err := store.Open(planOf(prov.name(), opts.Site, resources, win))
	if err != nil {
		return nil, err
	}

	var stats counters
	c := &client{
		hc:         opts.HTTPClient,
		prov:       prov,
		lim:        opts.Limiter,
		clock:      clock,
		maxRetries: opts.MaxRetries,
		base:       cmp.Or(opts.BackoffBase, DefaultBackoffBase),
		cap:        cmp.Or(opts.BackoffCap, DefaultBackoffCap),
		rand:       opts.Rand,
		maxWait:    cmp.Or(opts.MaxWait, DefaultMaxWait),
		key:        opts.Key,
		userAgent:  opts.UserAgent,
		stats:      &stats,
	}
	if c.hc == nil {
		c.hc = &http.Client{Timeout: 60 * time.Second}
	}
	c.hc = sameOriginRedirects(c.hc)
	if c.rand == nil {
		c.rand = rand.Float64
	}

	sum := &Summary{Provider: prov.name()}
	sum.Resources = make([]ResourceSummary, len(resources))
	for i, r := range resources {
		cur := cursors[r]
		sum.Resources[i] = ResourceSummary{Name: r, Resumed: cur.Pages > 0, Pages: cur.Pages, Fetched: cur.Records}
	}
	prog := newProgress(opts.Progress, clock, prov.name(), resources, opts.Limiter, &stats)
	for i := range sum.Resources {
		prog.set(i, sum.Resources[i].Pages, sum.Resources[i].Fetched)
	}

	finish := func() {
		sum.Requests = stats.requests.Load()
		sum.Retries = stats.retries.Load()
		sum.Throttled = stats.throttled.Load()
		sum.ServerErrors = stats.serverErrors.Load()
		sum.NetErrors = stats.netErrors.Load()
		sum.CappedWaits, sum.MaxWait = stats.cappedWaits.Load(), c.maxWait
		st := opts.Limiter.Stats()
		sum.Rate, sum.MaxRate = st.Rate, st.MaxRate
		sum.Elapsed = clock.Now().Sub(began)
		prog.done()
	}

	err = fetchAll(ctx, c, store, resources, cursors, win, opts.Workers, sum, prog)
	if err != nil {
		finish()
		return sum, err
	}
	err = writeAll(out, store, resources, win, opts, sum)
	sum.Complete = err == nil
	finish()
	return sum, err
}

// fetchAll fetches the resources with at most workers goroutines, starting
// them in the order given; the first error cancels the others, and fetchAll
// returns once every goroutine has ended.
func fetchAll(ctx context.Context, c *client, store Store, resources []string, cursors map[string]Cursor,
	win window, workers int, sum *Summary, prog *progress) error {
	if workers <= 0 || workers > len(resources) {
		workers = len(resources)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	next := make(chan int, len(resources))
	for i := range resources {
		next <- i
	}
	close(next)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if ctx.Err() != nil {
					return
				}
				r := resources[i]
				cur, err := fetchResource(ctx, c, store, r, cursors[r], win, func(pages, fetched int) {
					prog.set(i, pages, fetched)
				})
				mu.Lock()
				sum.Resources[i].Pages, sum.Resources[i].Fetched = cur.Pages, cur.Records
				if err != nil && firstErr == nil {
					firstErr = fmt.Errorf("%s: %w", r, err)
					cancel(firstErr)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	return ctx.Err()
}

// fetchResource fetches the pages of one resource from cur on, committing
// each, and returns the last cursor.
func fetchResource(ctx context.Context, c *client, store Store, resource string, cur Cursor, win window,
	onPage func(pages, fetched int)) (Cursor, error) {
	var trail cursorTrail
	for !cur.Done {
		if err := ctx.Err(); err != nil {
			return cur, err
		}
		after := cur.Next
		body, err := c.get(ctx, func() (*http.Request, error) { return c.prov.request(resource, after, win) })
		if err != nil {
			return cur, err
		}
		objs, next, err := c.prov.parsePage(resource, body)
		if err != nil {
			return cur, fmt.Errorf("page after %q: %w", after, err)
		}
		if err := trail.follow(after, next, cur.Pages+1); err != nil {
			return cur, err
		}
		page := make([]Record, 0, len(objs))
		for _, o := range objs {
			id, created, err := c.prov.key(o)
			if err != nil {
				return cur, fmt.Errorf("page after %q: %w", after, err)
			}
			compact, err := compactJSON(o)
			if err != nil {
				return cur, fmt.Errorf("object %s: %w", id, err)
			}
			// A server may echo the key inside an object: it goes no
			// further, neither to the store nor to the output.
			compact = c.key.scrubBytes(compact)
			page = append(page, Record{Resource: resource, ID: id, Created: created, Object: compact})
		}
		nc := Cursor{Next: next, Done: next == "", Pages: cur.Pages + 1, Records: cur.Records + len(page)}
		if err := store.Commit(resource, page, nc); err != nil {
			return cur, err
		}
		cur = nc
		onPage(cur.Pages, cur.Records)
	}
	return cur, nil
}

// writeAll writes every stored record, ordered.
func writeAll(out io.Writer, store Store, resources []string, win window, opts Options, sum *Summary) error {
	bw := bufio.NewWriterSize(out, 64<<10)
	for i, r := range resources {
		recs, err := store.Records(r)
		if err != nil {
			return err
		}
		recs, dups, outside := order(recs, win)
		sum.Resources[i].Duplicates, sum.Resources[i].Outside = dups, outside
		for _, rec := range recs {
			line := []byte(rec.Object)
			if !opts.Raw {
				v, err := opts.Convert(r, rec.Object)
				if err != nil {
					return fmt.Errorf("%s %s: canonical record: %w", r, rec.ID, err)
				}
				if line, err = marshalRecord(v); err != nil {
					return fmt.Errorf("%s %s: canonical record: %w", r, rec.ID, err)
				}
			}
			bw.Write(line)
			if err := bw.WriteByte('\n'); err != nil {
				return fmt.Errorf("write output: %w", err)
			}
			sum.Resources[i].Records++
			sum.Records++
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	return nil
}

// order sorts records by creation time then id, keeps the last fetched copy
// of an id seen twice, and drops records outside the window.
func order(recs []Record, win window) (out []Record, dups, outside int) {
	last := make(map[string]int, len(recs))
	for i, r := range recs {
		last[r.ID] = i
	}
	out = make([]Record, 0, len(last))
	for i, r := range recs {
		if last[r.ID] != i {
			dups++
			continue
		}
		if !win.contains(r.Created) {
			outside++
			continue
		}
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b Record) int {
		return cmp.Or(cmp.Compare(a.Created, b.Created), strings.Compare(a.ID, b.ID))
	})
	return out, dups, outside
}

func marshalRecord(v any) ([]byte, error) {
	switch b := v.(type) {
	case json.RawMessage:
		return compactJSON(b)
	case []byte:
		return compactJSON(b)
	}
	return json.Marshal(v)
}

func compactJSON(b []byte) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(len(b))
	if err := json.Compact(&buf, b); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func newProvider(opts Options) (provider, error) {
	switch opts.Provider {
	case "stripe":
		base, err := checkBase(cmp.Or(opts.APIBase, StripeAPIBase))
		if err != nil {
			return nil, err
		}
		return stripe{base: base, apiKey: opts.Key}, nil
	case "chargebee":
		if opts.Site == "" {
			return nil, errors.New("chargebee: a site is required")
		}
		if strings.ContainsAny(opts.Site, "/.:@?#% ") {
			return nil, fmt.Errorf("chargebee: site %q: want the site's name only", opts.Site)
		}
		base := strings.ReplaceAll(cmp.Or(opts.APIBase, ChargebeeAPIBase), "{site}", opts.Site)
		base, err := checkBase(base)
		if err != nil {
			return nil, err
		}
		return chargebee{base: base, apiKey: opts.Key}, nil
	case "":
		return nil, errors.New("no provider: want stripe or chargebee")
	}
	return nil, fmt.Errorf("provider %q: want stripe or chargebee", opts.Provider)
}

func checkBase(base string) (string, error) {
	u, err := url.Parse(base)
	if err != nil {
		return "", fmt.Errorf("api base %q: %w", base, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("api base %q: want an http or https URL", base)
	}
	if u.User != nil {
		return "", fmt.Errorf("api base: must not carry credentials; keys come from the environment")
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("api base %q: must not have a query or fragment", base)
	}
	return strings.TrimRight(base, "/"), nil
}

// checkResources validates names and removes repeats, keeping the order.
func checkResources(p provider, names []string) ([]string, error) {
	if len(names) == 0 {
		return nil, errors.New("no resource to fetch")
	}
	known := p.resources()
	var out []string
	for _, n := range names {
		n = strings.TrimSpace(n)
		if !slices.Contains(known, n) {
			return nil, fmt.Errorf("%s: unknown resource %q (want %s)", p.name(), n, strings.Join(known, ", "))
		}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out, nil
}

func planOf(provider, site string, resources []string, win window) Plan {
	p := Plan{Provider: provider, Site: site, Resources: slices.Sorted(slices.Values(resources))}
	if win.hasFrom {
		from := win.from
		p.From = &from
	}
	if win.hasTo {
		to := win.to
		p.To = &to
	}
	return p
}

// cursorTrail remembers every cursor a resource's run has asked with: the
// API giving one again is a cycle (A→B→A) that would never end.
type cursorTrail struct {
	seen map[string]bool
}

// follow records that the page asked with after gave next (empty at the
// end), the pages-th page of the resource, and refuses a next already
// followed.
func (t *cursorTrail) follow(after, next string, pages int) error {
	if t.seen == nil {
		t.seen = map[string]bool{}
	}
	t.seen[after] = true
	switch {
	case next == "":
		return nil
	case next == after:
		return fmt.Errorf("page after %q: the API gave the same cursor again", after)
	case t.seen[next]:
		return fmt.Errorf("page after %q: the API gave cursor %q, already followed in this run: its cursors cycle; stopped after %s",
			after, next, plural(pages, "page"))
	}
	return nil
}
