package deliver

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/taxagg/taxagg/internal/ratelimit/clocktest"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func testSecret(name string) string {
	return "whsec_" + base64.StdEncoding.EncodeToString([]byte("key of "+name+" for tests, 32 bytes"))
}

func mustKeys(t *testing.T, value string) Keys {
	t.Helper()
	k, err := ParseKeys(value)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func openStore(t *testing.T) *Store {
	t.Helper()
	st, err := Open(context.Background(), filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// record records the given NDJSON lines at now.
func record(t *testing.T, st *Store, targets []Target, now time.Time, lines ...string) ReadStats {
	t.Helper()
	eps := make([]Endpoint, len(targets))
	for i := range targets {
		eps[i] = targets[i].Endpoint
	}
	stats, err := ReadEvents(context.Background(), st, "in.ndjson", strings.NewReader(strings.Join(lines, "\n")+"\n"), eps, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	return stats
}

func target(id, url string) Target {
	k, err := ParseKeys(testSecret(id))
	if err != nil {
		panic(err)
	}
	return Target{
		Endpoint: Endpoint{ID: id, URL: url, Events: []string{EventTaxCalculated}, Concurrency: 2},
		Keys:     k,
	}
}

// got is one request a receiver saw.
type got struct {
	ID, Timestamp, Signature string
	Body                     []byte
	At                       time.Time // on the test's clock
	VerifyErr                error
}

// receiver is a webhook endpoint on 127.0.0.1 that answers each request
// with the next step of its script (200 once the script is used up), and
// checks every signature with the Standard Webhooks reference library.
type receiver struct {
	t      *testing.T
	srv    *httptest.Server
	now    func() time.Time
	verify *standardwebhooks.Webhook

	mu       sync.Mutex
	steps    []http.HandlerFunc
	reqs     []got
	inFlight int
	maxIn    int
}

func newReceiver(t *testing.T, id string, now func() time.Time, steps ...http.HandlerFunc) *receiver {
	t.Helper()
	wh, err := standardwebhooks.NewWebhook(testSecret(id))
	if err != nil {
		t.Fatal(err)
	}
	r := &receiver{t: t, now: now, verify: wh, steps: steps}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	var body bytes.Buffer
	body.ReadFrom(r.Body)
	g := got{
		ID: r.Header.Get(HeaderID), Timestamp: r.Header.Get(HeaderTimestamp), Signature: r.Header.Get(HeaderSignature),
		Body: body.Bytes(), At: rc.now(),
	}
	g.VerifyErr = rc.verify.VerifyIgnoringTimestamp(g.Body, r.Header)
	rc.mu.Lock()
	rc.reqs = append(rc.reqs, g)
	var step http.HandlerFunc
	if len(rc.steps) > 0 {
		step, rc.steps = rc.steps[0], rc.steps[1:]
	}
	rc.inFlight++
	rc.maxIn = max(rc.maxIn, rc.inFlight)
	rc.mu.Unlock()
	defer func() {
		rc.mu.Lock()
		rc.inFlight--
		rc.mu.Unlock()
	}()
	if step == nil {
		w.WriteHeader(http.StatusOK)
		return
	}
	step(w, r)
}

func (rc *receiver) got() []got {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]got(nil), rc.reqs...)
}

func status(code int, headers ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i+1 < len(headers); i += 2 {
			w.Header().Set(headers[i], headers[i+1])
		}
		w.WriteHeader(code)
		fmt.Fprintf(w, "answer %d\n", code)
	}
}

func times(n int, h http.HandlerFunc) []http.HandlerFunc {
	s := make([]http.HandlerFunc, n)
	for i := range s {
		s[i] = h
	}
	return s
}

// drain runs deliveries until nothing is pending, on a clock whose timers
// fire at once.
func drain(t *testing.T, st *Store, clock *clocktest.Auto, opts Options, targets ...Target) Summary {
	t.Helper()
	opts.Store, opts.Targets, opts.Clock, opts.Drain = st, targets, clock, true
	if opts.Rand == nil {
		opts.Rand = func() float64 { return 0.5 }
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	sum, err := Run(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if ctx.Err() != nil {
		t.Fatal("the run did not finish in 20s")
	}
	return sum
}

func counts(t *testing.T, st *Store, endpoint string) Counts {
	t.Helper()
	m, err := st.Counts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if c := m[endpoint]; c != nil {
		return *c
	}
	return Counts{}
}

type payload struct {
	Type      string `json:"type"`
	Timestamp string `json:"timestamp"`
	Data      struct {
		TransactionID string          `json:"transaction_id"`
		Version       int             `json:"version"`
		Record        json.RawMessage `json:"record"`
	} `json:"data"`
}

func decodePayload(t *testing.T, b []byte) payload {
	t.Helper()
	var p payload
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("payload %s: %v", b, err)
	}
	return p
}
