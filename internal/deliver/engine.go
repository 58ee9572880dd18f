package deliver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/taxagg/taxagg/internal/ratelimit"
)

// Target is an endpoint with its signing keys resolved.
type Target struct {
	Endpoint
	Keys Keys
}

// Options set up a delivery run. Store and Targets are required.
type Options struct {
	Store   *Store
	Targets []Target
	// Client sends the requests (default: NewClient()). Its redirect policy
	// should not follow redirects; NewClient's does not.
	Client *http.Client
	// Clock is the source of time (default ratelimit.System()).
	Clock ratelimit.Clock
	// Rand returns uniform numbers in [0, 1) for the jitter (default
	// math/rand/v2).
	Rand func() float64
	// Schedule is the waits between attempts (nil: no retries; see
	// DefaultSchedule).
	Schedule []time.Duration
	// Timeout bounds one request and its answer, for endpoints that do not
	// set their own (default 15s).
	Timeout time.Duration
	// MaxRetryAfter caps how long a Retry-After may put a delivery off
	// (default: the schedule's longest wait, at least a minute).
	MaxRetryAfter time.Duration
	// Serve keeps the run going, delivering as retries fall due, until ctx
	// ends. Without it the run stops when nothing is due now.
	Serve bool
	// Drain keeps the run going like Serve, but stops once nothing is
	// pending (every delivery delivered or dead).
	Drain bool
	// Poll is how often a serving run looks for deliveries it did not
	// record itself (default 5s).
	Poll time.Duration
	// Log receives the run's log (default: discarded).
	Log *slog.Logger
	// Metrics, when set, counts attempts and latencies.
	Metrics *Metrics
	// UserAgent is sent with every request.
	UserAgent string
	// AfterSend, when set, is called after a request's answer is read and
	// before its outcome is recorded (tests: the crash window).
	AfterSend func(Job)
	// Tick, when set, is called on every round of the run (for a metrics
	// file; it should return quickly).
	Tick func()
	// Keep is how long an event stays whole once every endpoint has it:
	// the run prunes older ones to tombstones when it starts and, serving,
	// every PruneEvery (see Store.Prune). Zero keeps everything.
	Keep time.Duration
	// PruneEvery is how often a serving run prunes (default 1h).
	PruneEvery time.Duration
}

// DefaultKeep is how long deliver keeps delivered events by default.
const DefaultKeep = 30 * 24 * time.Hour

// NewClient returns the HTTP client deliveries use by default: redirects
// are not followed (a 3xx is the answer), and idle connections are kept for
// reuse.
func NewClient() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 16
	return &http.Client{
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// Summary counts what a run did.
type Summary struct {
	Attempts  int
	Delivered int
	Retries   int // failed attempts that will be retried
	Dead      int // deliveries that went to the dead-letter queue
	Disabled  []string
	// Orphaned is how many pending deliveries the run parked because their
	// endpoint is not among its targets; Unorphaned how many it put back
	// to pending because their endpoint is one again.
	Orphaned, Unorphaned int
	Pruned               Pruned
}

// Outcome labels of an attempt, as metrics and logs name them.
const (
	OutcomeDelivered   = "delivered"
	OutcomeTimeout     = "timeout"
	OutcomeNetwork     = "network_error"
	OutcomeThrottled   = "throttled"
	OutcomeServerError = "server_error"
	OutcomeGone        = "gone"
	OutcomeRedirect    = "redirect"
	OutcomeClientError = "client_error"
)

type endpointRT struct {
	t        Target
	lim      *ratelimit.Limiter
	jobs     chan Job
	disabled atomic.Bool
	inflight int // jobs handed out and not returned (the run loop's)
}

// result is a worker's answer for one job: fin is nil when nothing is to
// be recorded (stopped mid-flight).
type result struct {
	key DeliveryKey
	fin *Finished
}

type engine struct {
	opts  Options
	clock ratelimit.Clock
	log   *slog.Logger
	eps   map[string]*endpointRT
	ids   []string
	sum   Summary
	sumMu sync.Mutex
}

// Run delivers the outbox's due deliveries to the targets: each attempt is
// counted in the store before it is sent and its outcome recorded after, so
// a run stopped at any point (or killed) and started again sends what was
// not recorded as delivered, with the same webhook ids. It returns when
// nothing is due (or, with Serve, when ctx ends; with Drain, when nothing
// is pending). A ctx ended is not an error: in-flight attempts are left to
// be sent again.
func Run(ctx context.Context, opts Options) (Summary, error) {
	e := &engine{opts: opts, clock: opts.Clock, log: opts.Log, eps: map[string]*endpointRT{}}
	if e.clock == nil {
		e.clock = ratelimit.System()
	}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	if e.opts.Client == nil {
		e.opts.Client = NewClient()
	}
	if e.opts.Rand == nil {
		e.opts.Rand = rand.Float64
	}
	if e.opts.Timeout <= 0 {
		e.opts.Timeout = 15 * time.Second
	}
	if e.opts.Poll <= 0 {
		e.opts.Poll = 5 * time.Second
	}
	if e.opts.MaxRetryAfter <= 0 {
		e.opts.MaxRetryAfter = time.Minute
		for _, d := range e.opts.Schedule {
			e.opts.MaxRetryAfter = max(e.opts.MaxRetryAfter, d)
		}
	}
	disabled, err := opts.Store.Disabled(ctx)
	if err != nil {
		return Summary{}, err
	}
	for _, t := range opts.Targets {
		rt := &endpointRT{t: t, jobs: make(chan Job, max(1, t.Concurrency))}
		if t.Rate > 0 {
			rt.lim, err = ratelimit.New(ratelimit.Config{Rate: t.Rate, Burst: max(1, t.Burst), Clock: e.clock})
			if err != nil {
				return Summary{}, fmt.Errorf("endpoint %s: %w", t.ID, err)
			}
		}
		if _, off := disabled[t.ID]; off {
			rt.disabled.Store(true)
			e.log.Warn("endpoint disabled; its deliveries wait in the dead-letter queue", "endpoint", t.ID, "reason", disabled[t.ID])
		}
		e.eps[t.ID] = rt
		e.ids = append(e.ids, t.ID)
	}
	// The targets are the endpoints file: a delivery to an endpoint that
	// is not in it waits for nobody.
	now := e.clock.Now()
	if e.sum.Orphaned, e.sum.Unorphaned, err = opts.Store.Orphan(ctx, e.ids, now); err != nil {
		return Summary{}, err
	}
	if e.sum.Orphaned > 0 {
		e.log.Warn("deliveries parked as orphaned: their endpoint is not in the endpoints file (put it back to send them, or deliver dlq purge)", "orphaned", e.sum.Orphaned)
	}
	if e.sum.Unorphaned > 0 {
		e.log.Info("orphaned deliveries pending again: their endpoint is back", "deliveries", e.sum.Unorphaned)
	}
	if err := e.prune(ctx, now); err != nil {
		return Summary{}, err
	}
	return e.run(ctx)
}

// prune prunes what is older than Keep, if it is set.
func (e *engine) prune(ctx context.Context, now time.Time) error {
	if e.opts.Keep <= 0 {
		return nil
	}
	p, err := e.opts.Store.Prune(ctx, now.Add(-e.opts.Keep), now)
	if err != nil {
		return err
	}
	e.count(func(s *Summary) {
		s.Pruned.Events += p.Events
		s.Pruned.Deliveries += p.Deliveries
	})
	if p.Events > 0 {
		e.log.Info("pruned delivered events", "events", p.Events, "deliveries", p.Deliveries, "older_than", now.Add(-e.opts.Keep).Format(time.RFC3339))
	}
	return nil
}

func (e *engine) run(ctx context.Context) (Summary, error) {
	results := make(chan result, 64)
	wctx, stopWorkers := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, id := range e.ids {
		rt := e.eps[id]
		for range rt.concurrency() {
			wg.Go(func() {
				for j := range rt.jobs {
					results <- e.attempt(wctx, rt, j)
				}
			})
		}
	}
	st := e.opts.Store
	inflight := map[DeliveryKey]bool{}
	var done []Finished
	// take records a result; the outcome goes to the store with the next
	// Step.
	take := func(r result) {
		delete(inflight, r.key)
		e.eps[r.key.Endpoint].inflight--
		if r.fin != nil {
			done = append(done, *r.fin)
		}
	}
	var runErr error
	pruneEvery := e.opts.PruneEvery
	if pruneEvery <= 0 {
		pruneEvery = time.Hour
	}
	lastPrune := e.clock.Now()
	for ctx.Err() == nil {
		if e.opts.Tick != nil {
			e.opts.Tick()
		}
		now := e.clock.Now()
		if e.opts.Serve && now.Sub(lastPrune) >= pruneEvery {
			lastPrune = now
			if err := e.prune(ctx, now); err != nil {
				runErr = err
				break
			}
		}
		var want []Want
		for _, id := range e.ids {
			rt := e.eps[id]
			if free := rt.concurrency() - rt.inflight; free > 0 && !rt.disabled.Load() {
				want = append(want, Want{Endpoint: id, N: free, Skip: rt.skip(inflight)})
			}
		}
		jobs, res, err := st.Step(ctx, now, done, want)
		if err != nil {
			runErr = err
			break
		}
		if res.Moved > 0 {
			e.count(func(s *Summary) { s.Dead += res.Moved })
		}
		done = done[:0]
		for _, j := range jobs {
			rt := e.eps[j.Endpoint]
			inflight[j.Key()] = true
			rt.inflight++
			rt.jobs <- j // room: at most concurrency() jobs per endpoint are out
		}
		if len(inflight) > 0 {
			// Wait for one answer, then take every other that is in, so
			// that they are recorded with one commit. No timer: a
			// request ends within its timeout, and a clock that fires
			// timers at once must not spin.
			select {
			case r := <-results:
				take(r)
			case <-ctx.Done():
			}
			for more := true; more; {
				select {
				case r := <-results:
					take(r)
				default:
					more = false
				}
			}
			continue
		}
		if e.opts.Serve {
			// Another process may have enabled an endpoint again (dlq
			// replay) or disabled one.
			if err := e.refreshDisabled(ctx); err != nil {
				runErr = err
				break
			}
		}
		next, ok, err := st.NextDue(ctx, e.activeIDs())
		if err != nil {
			runErr = err
			break
		}
		if ok && !next.After(now) {
			continue
		}
		if !e.opts.Serve && (!e.opts.Drain || !ok) {
			break
		}
		wait := e.opts.Poll
		if e.opts.Drain {
			wait = next.Sub(now)
		} else if ok && next.Sub(now) < wait {
			wait = next.Sub(now)
		}
		t := e.clock.NewTimer(wait)
		select {
		case <-t.C():
		case <-ctx.Done():
			t.Stop()
		}
	}
	// Stop: the workers finish what they hold (a stopped context cuts their
	// requests short), and every outcome that came in is recorded.
	stopWorkers()
	for _, id := range e.ids {
		close(e.eps[id].jobs)
	}
	go func() { wg.Wait(); close(results) }()
	for r := range results {
		take(r)
	}
	if len(done) > 0 {
		if _, res, err := st.Step(context.WithoutCancel(ctx), e.clock.Now(), done, nil); err != nil && runErr == nil {
			runErr = err
		} else if res.Moved > 0 {
			e.count(func(s *Summary) { s.Dead += res.Moved })
		}
	}
	if ctx.Err() != nil && errors.Is(runErr, context.Canceled) {
		runErr = nil // stopped, not failed: what was in flight is sent again next time
	}
	return e.sum, runErr
}

func (e *engine) refreshDisabled(ctx context.Context) error {
	disabled, err := e.opts.Store.Disabled(ctx)
	if err != nil {
		return err
	}
	for _, id := range e.ids {
		_, off := disabled[id]
		if was := e.eps[id].disabled.Swap(off); was && !off {
			e.log.Info("endpoint enabled again", "endpoint", id)
		}
	}
	return nil
}

func (rt *endpointRT) concurrency() int { return max(1, rt.t.Concurrency) }

// skip returns the endpoint's deliveries in flight.
func (rt *endpointRT) skip(inflight map[DeliveryKey]bool) map[DeliveryKey]bool {
	if rt.inflight == 0 {
		return nil
	}
	m := make(map[DeliveryKey]bool, rt.inflight)
	for k := range inflight {
		if k.Endpoint == rt.t.ID {
			m[k] = true
		}
	}
	return m
}

func (e *engine) activeIDs() []string {
	ids := make([]string, 0, len(e.ids))
	for _, id := range e.ids {
		if !e.eps[id].disabled.Load() {
			ids = append(ids, id)
		}
	}
	return ids
}

func (e *engine) count(f func(*Summary)) {
	e.sumMu.Lock()
	f(&e.sum)
	e.sumMu.Unlock()
}

// attempt makes one attempt of a delivery (already counted by Step) and
// returns its outcome for the next Step to record.
func (e *engine) attempt(ctx context.Context, rt *endpointRT, j Job) result {
	res := result{key: j.Key()}
	unsent := func() result {
		res.fin = &Finished{Key: res.key, Unsent: true}
		return res
	}
	if rt.lim != nil {
		if err := rt.lim.Wait(ctx); err != nil {
			return unsent()
		}
	}
	if ctx.Err() != nil || rt.disabled.Load() {
		// Stopping, or the endpoint was disabled while this waited (its
		// delivery is in the dead-letter queue by now).
		return unsent()
	}
	start := e.clock.Now()
	e.count(func(s *Summary) { s.Attempts++ })
	n := j.Attempts + 1
	status, retryAfter, errText, outcome := e.send(ctx, rt, j, start)
	if ctx.Err() != nil {
		// Stopped mid-flight: nothing is recorded but the attempt's count;
		// the delivery stays due and is sent again, with the same id, by
		// the next run.
		return res
	}
	if e.opts.AfterSend != nil {
		e.opts.AfterSend(j)
	}
	now := e.clock.Now()
	fin := &Finished{Key: res.key, At: now}
	res.fin = fin
	log := e.log.With("endpoint", rt.t.ID, "webhook_id", j.MsgID, "transaction_id", j.TxnID, "version", j.Version, "attempt", n)
	if status != 0 {
		log = log.With("status", status)
	}
	if m := e.opts.Metrics; m != nil {
		m.observeAttempt(rt.t.ID, outcome, now.Sub(start))
	}
	switch outcome {
	case OutcomeDelivered:
		fin.Outcome = Outcome{State: "delivered", Status: status}
		if m := e.opts.Metrics; m != nil {
			m.observeDelivered(rt.t.ID, now.Sub(j.CreatedAt))
		}
		if rt.lim != nil {
			rt.lim.Success()
		}
		e.count(func(s *Summary) { s.Delivered++ })
		log.Debug("delivered")
	case OutcomeGone:
		fin.Outcome = Outcome{State: "dead", Status: status, Error: errText}
		fin.Disable = fmt.Sprintf("410 Gone from %s at %s", rt.t.ID, now.UTC().Format(time.RFC3339))
		if !rt.disabled.Swap(true) {
			e.count(func(s *Summary) { s.Disabled = append(s.Disabled, rt.t.ID) })
		}
		e.count(func(s *Summary) { s.Dead++ })
		log.Warn("endpoint answered 410 Gone: disabled; its deliveries are in the dead-letter queue (replay them once it is fixed)")
	case OutcomeRedirect, OutcomeClientError:
		fin.Outcome = Outcome{State: "dead", Status: status, Error: errText}
		e.count(func(s *Summary) { s.Dead++ })
		log.Warn("not retried: dead-lettered", "error", errText)
	default: // retryable
		if outcome == OutcomeThrottled && rt.lim != nil {
			rt.lim.Throttled(0)
		}
		if n > len(e.opts.Schedule) || rt.disabled.Load() {
			fin.Outcome = Outcome{State: "dead", Status: status, Error: fmt.Sprintf("gave up after %d attempts: %s", n, errText)}
			e.count(func(s *Summary) { s.Dead++ })
			log.Warn("retries exhausted: dead-lettered", "error", errText)
			break
		}
		wait := Jitter(e.opts.Schedule[n-1], e.opts.Rand())
		if retryAfter > 0 {
			retryAfter = min(retryAfter, e.opts.MaxRetryAfter)
			wait = max(wait, retryAfter)
			fin.PushBack = now.Add(retryAfter)
		}
		fin.Outcome = Outcome{State: "pending", Next: now.Add(wait), Status: status, Error: errText}
		e.count(func(s *Summary) { s.Retries++ })
		log.Info("failed; will retry", "error", errText, "retry_in", wait.Round(time.Millisecond).String())
	}
	return res
}

// maxAnswer is how much of an answer's body is read (and then dropped).
const maxAnswer = 64 << 10

// send makes the request. It returns the status (0 when there was no
// answer), the Retry-After asked for (0 when none), why it failed ("" when
// it did not) and the outcome label.
func (e *engine) send(ctx context.Context, rt *endpointRT, j Job, now time.Time) (int, time.Duration, string, string) {
	timeout := rt.t.Timeout
	if timeout <= 0 {
		timeout = e.opts.Timeout
	}
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, rt.t.URL, bytes.NewReader(j.Body))
	if err != nil {
		return 0, 0, "bad request: " + err.Error(), OutcomeClientError
	}
	h := req.Header
	h.Set("Content-Type", "application/json")
	if e.opts.UserAgent != "" {
		h.Set("User-Agent", e.opts.UserAgent)
	}
	h.Set(HeaderID, j.MsgID)
	h.Set(HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
	h.Set(HeaderSignature, rt.t.Keys.Sign(j.MsgID, now, j.Body))
	resp, err := e.opts.Client.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			return 0, 0, fmt.Sprintf("no answer within %s", timeout), OutcomeTimeout
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return 0, 0, fmt.Sprintf("timeout: %s", netCause(err)), OutcomeTimeout
		}
		return 0, 0, netCause(err), OutcomeNetwork
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	status := resp.StatusCode
	switch {
	case status >= 200 && status <= 299:
		return status, 0, "", OutcomeDelivered
	case status == http.StatusGone:
		return status, 0, answerError(resp, snippet), OutcomeGone
	case status >= 300 && status <= 399:
		loc := resp.Header.Get("Location")
		msg := fmt.Sprintf("%s: redirects are not followed; point the endpoint's url at the final address", resp.Status)
		if loc != "" {
			msg = fmt.Sprintf("%s to %s: redirects are not followed; point the endpoint's url at the final address", resp.Status, safeLocation(loc))
		}
		return status, 0, msg, OutcomeRedirect
	case status == http.StatusTooManyRequests:
		return status, e.retryAfter(resp), answerError(resp, snippet), OutcomeThrottled
	case status == http.StatusRequestTimeout:
		return status, e.retryAfter(resp), answerError(resp, snippet), OutcomeTimeout
	case status >= 400 && status <= 499:
		return status, 0, answerError(resp, snippet), OutcomeClientError
	default: // 5xx, and statuses outside the defined classes
		return status, e.retryAfter(resp), answerError(resp, snippet), OutcomeServerError
	}
}

func (e *engine) retryAfter(resp *http.Response) time.Duration {
	v := resp.Header.Get("Retry-After")
	if v == "" {
		return 0
	}
	d, err := ratelimit.ParseRetryAfter(v, e.clock.Now())
	if err != nil {
		return 0
	}
	return d
}

// answerError is a failed answer's status and the start of its body, on
// one line.
func answerError(resp *http.Response, body []byte) string {
	s := resp.Status
	if s == "" {
		s = strconv.Itoa(resp.StatusCode)
	}
	text := strings.Join(strings.Fields(strings.ToValidUTF8(string(body), "?")), " ")
	if len(text) > 200 {
		text = text[:200] + "..."
	}
	if text != "" {
		s += ": " + text
	}
	return s
}

// netCause is a request error without the method and URL that net/http
// puts in front (a URL may carry a token in its query).
func netCause(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return err.Error()
}

func safeLocation(loc string) string {
	u, err := url.Parse(loc)
	if err != nil {
		return strconv.Quote(loc)
	}
	u.User = nil
	u.RawQuery = ""
	u.Fragment = ""
	return u.String()
}
