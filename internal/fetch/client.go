package fetch

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/taxagg/taxagg/internal/ratelimit"
)

// maxBody is the largest page body read (a page of 100 objects is far less).
const maxBody = 64 << 20

// Backoff defaults: the cap of attempt n is min(BackoffCap, BackoffBase·2ⁿ),
// and the wait is drawn uniformly below it ("full jitter").
const (
	DefaultBackoffBase = 500 * time.Millisecond
	DefaultBackoffCap  = 30 * time.Second
	// DefaultMaxWait caps one Retry-After wait.
	DefaultMaxWait = time.Minute
)

// client sends GETs through the shared limiter and retries what may be
// retried.
type client struct {
	hc         *http.Client
	prov       provider
	lim        *ratelimit.Limiter
	clock      ratelimit.Clock
	maxRetries int
	base, cap  time.Duration
	maxWait    time.Duration // the longest single Retry-After wait
	rand       func() float64
	key        Secret
	userAgent  string
	stats      *counters
}

// get sends req (a GET, built afresh for each attempt by build) and returns
// the body of a 2xx answer.
func (c *client) get(ctx context.Context, build func() (*http.Request, error)) ([]byte, error) {
	for attempt := 0; ; attempt++ {
		req, err := build()
		if err != nil {
			return nil, err
		}
		if !idempotent(req.Method) {
			return nil, fmt.Errorf("%s %s: only idempotent requests are sent", req.Method, req.URL.Path)
		}
		if err := c.lim.Wait(ctx); err != nil {
			return nil, err
		}
		if c.userAgent != "" {
			req.Header.Set("User-Agent", c.userAgent)
		}
		req.Header.Set("Accept", "application/json")
		c.stats.requests.Add(1)
		resp, err := c.hc.Do(req.WithContext(ctx))
		var body []byte
		if err == nil {
			body, err = io.ReadAll(io.LimitReader(resp.Body, maxBody))
			resp.Body.Close()
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			c.stats.netErrors.Add(1)
			if !retryableNetErr(err) || attempt >= c.maxRetries {
				return nil, c.netError(req, err, attempt)
			}
			if err := c.backoff(ctx, attempt); err != nil {
				return nil, err
			}
			continue
		}
		switch {
		case resp.StatusCode >= 200 && resp.StatusCode < 300:
			c.lim.Success()
			return body, nil
		case resp.StatusCode == http.StatusTooManyRequests:
			c.stats.throttled.Add(1)
			header := resp.Header.Get("Retry-After")
			ra, _ := ratelimit.ParseRetryAfter(header, c.clock.Now())
			asked := ra
			if ra > c.maxWait {
				ra = c.maxWait
				c.stats.cappedWaits.Add(1)
			}
			c.lim.Throttled(ra)
			if attempt >= c.maxRetries {
				err := c.apiError(req, resp.StatusCode, body, attempt)
				if asked > c.maxWait {
					err.Note = fmt.Sprintf("Retry-After %q asks for longer than the longest wait, %s", header, c.maxWait)
				}
				return nil, err
			}
			if ra <= 0 {
				// No Retry-After: back off this request; the limiter has
				// already slowed every worker.
				if err := c.backoff(ctx, attempt); err != nil {
					return nil, err
				}
			} else {
				c.stats.retries.Add(1)
			}
			// With Retry-After the limiter holds every worker, this one
			// included, until it has passed.
			continue
		case resp.StatusCode >= 500:
			c.stats.serverErrors.Add(1)
			if attempt >= c.maxRetries {
				return nil, c.apiError(req, resp.StatusCode, body, attempt)
			}
			if err := c.backoff(ctx, attempt); err != nil {
				return nil, err
			}
			continue
		default:
			return nil, c.apiError(req, resp.StatusCode, body, attempt)
		}
	}
}

// backoff waits a full-jitter delay for the given attempt and counts a retry.
func (c *client) backoff(ctx context.Context, attempt int) error {
	c.stats.retries.Add(1)
	return ratelimit.Sleep(ctx, c.clock, c.delay(attempt))
}

func (c *client) delay(attempt int) time.Duration {
	ceil := float64(c.cap)
	if attempt < 62 {
		ceil = math.Min(ceil, float64(c.base)*math.Pow(2, float64(attempt)))
	}
	return time.Duration(c.rand() * ceil)
}

func (c *client) apiError(req *http.Request, status int, body []byte, retries int) *APIError {
	msg := c.prov.apiMessage(body)
	if msg == "" {
		msg = http.StatusText(status)
	}
	return &APIError{
		Provider: c.prov.name(),
		Method:   req.Method,
		Path:     req.URL.Path,
		Status:   status,
		Message:  c.key.scrub(msg),
		Retries:  retries,
	}
}

func (c *client) netError(req *http.Request, err error, retries int) error {
	// url.Error repeats the method and the whole URL; say it once.
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if retries > 0 {
		return c.key.scrubError(fmt.Errorf("%s: %s %s: %w (after %s)", c.prov.name(), req.Method, req.URL.Path, err, plural(retries, "retry")))
	}
	return c.key.scrubError(fmt.Errorf("%s: %s %s: %w", c.prov.name(), req.Method, req.URL.Path, err))
}

// maxRedirects is the most redirects followed for one request (as net/http).
const maxRedirects = 10

// RedirectError is a redirect fetch refused to follow: one that leaves the
// API's origin (scheme, host and port). net/http keeps the Authorization
// header on a redirect to the same host name whatever the port or scheme,
// so following it would send the API key to another server or in clear
// text.
type RedirectError struct {
	From, To string // origins, scheme://host:port
}

func (e *RedirectError) Error() string {
	return fmt.Sprintf("refused a redirect from %s to %s: the API key is only sent to the API's own origin", e.From, e.To)
}

// sameOriginRedirects returns a copy of hc that follows redirects only
// within the origin of the first request, and refuses any other with a
// RedirectError (never retried).
func sameOriginRedirects(hc *http.Client) *http.Client {
	c := *hc
	prev := hc.CheckRedirect
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		from, to := origin(via[0].URL), origin(req.URL)
		if from != to {
			return &RedirectError{From: from, To: to}
		}
		if prev != nil {
			return prev(req, via)
		}
		if len(via) >= maxRedirects {
			return fmt.Errorf("stopped after %d redirects", maxRedirects)
		}
		return nil
	}
	return &c
}

// origin is scheme://host:port of u, with the scheme's default port made
// explicit and the host in lower case.
func origin(u *url.URL) string {
	port := u.Port()
	if port == "" {
		switch strings.ToLower(u.Scheme) {
		case "https":
			port = "443"
		case "http":
			port = "80"
		}
	}
	return strings.ToLower(u.Scheme) + "://" + net.JoinHostPort(strings.ToLower(u.Hostname()), port)
}

func idempotent(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return true
	}
	return false
}

// retryableNetErr tells transport failures that may pass (resets, timeouts,
// refused connections, truncated bodies) from those that will not
// (certificates).
func retryableNetErr(err error) bool {
	var (
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
		verify   *tls.CertificateVerificationError
		redirect *RedirectError
	)
	return !errors.As(err, &unknown) && !errors.As(err, &hostname) &&
		!errors.As(err, &invalid) && !errors.As(err, &verify) && !errors.As(err, &redirect)
}
