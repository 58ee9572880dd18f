package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// scriptReceiver is a webhook endpoint on 127.0.0.1 for the scripts: it
// answers with its steps in order (200 once they are used up) and checks
// each signature with the Standard Webhooks reference library.
type scriptReceiver struct {
	verify *standardwebhooks.Webhook
	mu     sync.Mutex
	steps  []string
	lines  []string
}

func (rc *scriptReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body bytes.Buffer
	body.ReadFrom(r.Body)
	verdict := "verified"
	if err := rc.verify.Verify(body.Bytes(), r.Header); err != nil {
		verdict = "BAD-SIGNATURE(" + err.Error() + ")"
	}
	var p struct {
		Type string `json:"type"`
		Data struct {
			TransactionID string `json:"transaction_id"`
			Version       int    `json:"version"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body.Bytes(), &p); err != nil {
		verdict += " BAD-JSON"
	}
	rc.mu.Lock()
	step := "200"
	if len(rc.steps) > 0 {
		step, rc.steps = rc.steps[0], rc.steps[1:]
	}
	rc.lines = append(rc.lines, fmt.Sprintf("%s %s %s %s v%d -> %s", r.Header.Get("webhook-id"), verdict, p.Type, p.Data.TransactionID, p.Data.Version, step))
	rc.mu.Unlock()
	code, arg, _ := strings.Cut(step, ":")
	switch code {
	case "hang":
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
		return
	case "reset":
		if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
			conn.(*net.TCPConn).SetLinger(0)
			conn.Close()
		}
		return
	}
	n, err := strconv.Atoi(code)
	if err != nil {
		n = 500
	}
	if arg != "" {
		if n >= 300 && n < 400 {
			w.Header().Set("Location", arg)
		} else {
			w.Header().Set("Retry-After", arg)
		}
	}
	w.WriteHeader(n)
	fmt.Fprintf(w, "step %s\n", step)
}

// cmdReceiver starts a receiver for the rest of the script and sets
// NAME_URL to its address:
//
//	receiver erp whsec_... 500 429:120 410 hang reset 302:http://x/ 200
//
// Steps: a status, STATUS:SECONDS for a Retry-After (a 3xx takes a
// Location), hang (no answer), reset (the connection reset).
func cmdReceiver(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: receiver NAME SECRET [STEP ...]")
	}
	wh, err := standardwebhooks.NewWebhook(args[1])
	ts.Check(err)
	rc := &scriptReceiver{verify: wh, steps: args[2:]}
	srv := httptest.NewServer(rc)
	ts.Defer(srv.Close)
	receivers.Store(ts, args[0], rc)
	ts.Setenv(strings.ToUpper(args[0])+"_URL", srv.URL)
}

// cmdReceived prints what a receiver got, one request a line:
//
//	WEBHOOK_ID verified TYPE TRANSACTION vVERSION -> STEP
func cmdReceived(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: received NAME")
	}
	rc := receivers.Load(ts, args[0])
	if rc == nil {
		ts.Fatalf("no receiver %s", args[0])
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for _, l := range rc.lines {
		fmt.Fprintln(ts.Stdout(), l)
	}
}

// cmdSubst replaces $NAME and ${NAME} in a file with the script's
// environment (a receiver's URL in an endpoints file).
func cmdSubst(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: subst FILE")
	}
	path := ts.MkAbs(args[0])
	data, err := os.ReadFile(path)
	ts.Check(err)
	ts.Check(os.WriteFile(path, []byte(os.Expand(string(data), ts.Getenv)), 0o644))
}

type receiverSet struct {
	mu sync.Mutex
	m  map[*testscript.TestScript]map[string]*scriptReceiver
}

var receivers = &receiverSet{m: map[*testscript.TestScript]map[string]*scriptReceiver{}}

func (s *receiverSet) Store(ts *testscript.TestScript, name string, rc *scriptReceiver) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m[ts] == nil {
		s.m[ts] = map[string]*scriptReceiver{}
		ts.Defer(func() {
			s.mu.Lock()
			delete(s.m, ts)
			s.mu.Unlock()
		})
	}
	s.m[ts][name] = rc
}

func (s *receiverSet) Load(ts *testscript.TestScript, name string) *scriptReceiver {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[ts][name]
}

// cmdSleep waits a while: sleep 1300ms.
func cmdSleep(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: sleep DURATION")
	}
	d, err := time.ParseDuration(args[0])
	ts.Check(err)
	time.Sleep(d)
}
