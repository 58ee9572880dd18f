package fetch_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/taxagg/taxagg/internal/fetch"
	"github.com/taxagg/taxagg/internal/fetch/fetchtest"
	"github.com/taxagg/taxagg/internal/ratelimit"
)

var checkpointCounts = map[string]int{"invoices": 520, "refunds": 310, "credit_notes": 150}

var checkpointResources = []string{"invoices", "refunds", "credit_notes"}

// reference returns the output of an uninterrupted fetch.
func reference(t *testing.T) string {
	t.Helper()
	srv := stripeServer(t, checkpointCounts)
	base := start(t, srv)
	out, _, err := runFetch(t, context.Background(), baseOpts(t, base, checkpointResources...))
	if err != nil {
		t.Fatalf("reference fetch: %v", err)
	}
	return out
}

func readState(t *testing.T, path string) map[string]fetch.Cursor {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Cursors map[string]fetch.Cursor `json:"cursors"`
	}
	if err := json.Unmarshal(data, &st); err != nil {
		t.Fatal(err)
	}
	return st.Cursors
}

// TestInterruptedFetchResumes stops a fetch in the middle (its context is
// cancelled while a page is on the wire), then resumes from the checkpoint
// and expects exactly the uninterrupted output, with no page fetched twice.
func TestInterruptedFetchResumes(t *testing.T) {
	t.Parallel()
	want := reference(t)
	for _, stopAt := range []int64{1, 4, 7, 11} {
		path := filepath.Join(t.TempDir(), "fetch.checkpoint")

		srv := stripeServer(t, checkpointCounts)
		ctx, cancel := context.WithCancel(context.Background())
		srv.Fault = func(n int64, _ *http.Request) fetchtest.Action {
			if n == stopAt {
				cancel()
				return fetchtest.Action{Status: 503} // and the page is lost
			}
			return fetchtest.Action{}
		}
		base := start(t, srv)
		opts := baseOpts(t, base, checkpointResources...)
		opts.Workers = 2
		st := fetch.NewFileStore(path)
		opts.Store = st
		out, _, err := runFetch(t, ctx, opts)
		st.Close()
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("stop at %d: Run = %v, want context.Canceled", stopAt, err)
		}
		if out != "" {
			t.Fatalf("stop at %d: interrupted run wrote output", stopAt)
		}
		done := 0
		for _, c := range readState(t, path) {
			done += c.Pages
		}

		srv2 := stripeServer(t, checkpointCounts)
		base2 := start(t, srv2)
		opts2 := baseOpts(t, base2, checkpointResources...)
		st2 := fetch.NewFileStore(path)
		opts2.Store = st2
		out2, sum2, err := runFetch(t, context.Background(), opts2)
		st2.Close()
		if err != nil {
			t.Fatalf("stop at %d: resumed Run: %v", stopAt, err)
		}
		if out2 != want {
			t.Fatalf("stop at %d: resumed output differs from the uninterrupted one (%d vs %d bytes)", stopAt, len(out2), len(want))
		}
		const totalPages = 6 + 4 + 2
		if got := srv2.Count(); got != int64(totalPages-done) {
			t.Errorf("stop at %d: resumed run made %d requests, want %d (12 pages, %d done)", stopAt, got, totalPages-done, done)
		}
		if done > 0 {
			resumed := false
			for _, r := range sum2.Resources {
				resumed = resumed || r.Resumed
			}
			if !resumed {
				t.Errorf("stop at %d: summary shows no resumed resource", stopAt)
			}
		}
	}
}

// TestTornRecordsAreDropped simulates a crash after a page's records were
// written but before its cursor was: the resumed fetch must cut them off and
// fetch that page again.
func TestTornRecordsAreDropped(t *testing.T) {
	want := reference(t)
	path := filepath.Join(t.TempDir(), "cp.json")
	srv := stripeServer(t, checkpointCounts)
	ctx, cancel := context.WithCancel(context.Background())
	srv.Fault = func(n int64, _ *http.Request) fetchtest.Action {
		if n == 5 {
			cancel()
			return fetchtest.Action{Status: 503}
		}
		return fetchtest.Action{}
	}
	base := start(t, srv)
	opts := baseOpts(t, base, checkpointResources...)
	opts.Workers = 1
	st := fetch.NewFileStore(path)
	opts.Store = st
	if _, _, err := runFetch(t, ctx, opts); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v", err)
	}
	st.Close()
	// A page that made it to the records file and a half-written line.
	f, err := os.OpenFile(st.RecordsPath(), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"resource":"invoices","id":"in_ghost","created":1,"object":{"id":"in_ghost"}}` + "\n" + `{"resource":"refu`)
	f.Close()

	srv2 := stripeServer(t, checkpointCounts)
	opts2 := baseOpts(t, start(t, srv2), checkpointResources...)
	st2 := fetch.NewFileStore(path)
	defer st2.Close()
	opts2.Store = st2
	out, _, err := runFetch(t, context.Background(), opts2)
	if err != nil {
		t.Fatalf("resumed Run: %v", err)
	}
	if out != want {
		t.Fatalf("resumed output differs (ghost kept: %v)", strings.Contains(out, "in_ghost"))
	}
}

func TestFinishedCheckpointReplays(t *testing.T) {
	want := reference(t)
	path := filepath.Join(t.TempDir(), "cp.json")
	for i := 0; i < 2; i++ {
		srv := stripeServer(t, checkpointCounts)
		opts := baseOpts(t, start(t, srv), checkpointResources...)
		st := fetch.NewFileStore(path)
		opts.Store = st
		out, _, err := runFetch(t, context.Background(), opts)
		st.Close()
		if err != nil {
			t.Fatalf("run %d: %v", i, err)
		}
		if out != want {
			t.Errorf("run %d: output differs", i)
		}
		if i == 1 && srv.Count() != 0 {
			t.Errorf("second run made %d requests, want none", srv.Count())
		}
	}
}

func TestCheckpointOfAnotherFetchIsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cp.json")
	srv := stripeServer(t, checkpointCounts)
	base := start(t, srv)
	opts := baseOpts(t, base, "invoices")
	st := fetch.NewFileStore(path)
	opts.Store = st
	if _, _, err := runFetch(t, context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	st.Close()

	tests := []func(*fetch.Options){
		func(o *fetch.Options) { o.Resources = []string{"invoices", "refunds"} },
		func(o *fetch.Options) { o.CreatedFrom = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) },
	}
	for i, edit := range tests {
		opts := baseOpts(t, base, "invoices")
		edit(&opts)
		st := fetch.NewFileStore(path)
		opts.Store = st
		_, _, err := runFetch(t, context.Background(), opts)
		st.Close()
		if !errors.Is(err, fetch.ErrCheckpointMismatch) {
			t.Errorf("case %d: Run = %v, want ErrCheckpointMismatch", i, err)
		}
	}

	// A records file shorter than the checkpoint says is damage, not a
	// resumable state.
	if err := os.Truncate(path+".records", 10); err != nil {
		t.Fatal(err)
	}
	opts = baseOpts(t, base, "invoices")
	st = fetch.NewFileStore(path)
	defer st.Close()
	opts.Store = st
	if _, _, err := runFetch(t, context.Background(), opts); err == nil || !strings.Contains(err.Error(), "changed or lost") {
		t.Errorf("Run on a cut records file = %v", err)
	}
}

// TestKilledFetchResumes runs the fetch in a child process (this test
// binary, re-executed), kills it with SIGKILL while pages are arriving, and
// resumes in this process: the output must be the uninterrupted one.
func TestKilledFetchResumes(t *testing.T) {
	t.Parallel()
	if os.Getenv("TAXAGG_FETCH_CHILD") == "1" {
		fetchChild()
		return
	}
	want := reference(t)
	path := filepath.Join(t.TempDir(), "cp.json")
	srv := stripeServer(t, checkpointCounts)
	base := start(t, srv)

	cmd := exec.Command(os.Args[0], "-test.run=^TestKilledFetchResumes$", "-test.count=1")
	cmd.Env = append(os.Environ(), "TAXAGG_FETCH_CHILD=1", "TAXAGG_FETCH_BASE="+base, "TAXAGG_FETCH_CHECKPOINT="+path)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for srv.Count() < 6 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	cmd.Process.Kill()
	cmd.Wait()
	done := 0
	for _, c := range readState(t, path) {
		done += c.Pages
	}
	if done == 0 || done >= 12 {
		t.Fatalf("the child had %d of 12 pages when killed; want it stopped half way", done)
	}

	srv2 := stripeServer(t, checkpointCounts)
	opts := baseOpts(t, start(t, srv2), checkpointResources...)
	st := fetch.NewFileStore(path)
	defer st.Close()
	opts.Store = st
	out, _, err := runFetch(t, context.Background(), opts)
	if err != nil {
		t.Fatalf("resumed Run: %v", err)
	}
	if out != want {
		t.Fatalf("output after kill and resume differs from the uninterrupted one")
	}
	if got := srv2.Count(); got != int64(12-done) {
		t.Errorf("resumed run made %d requests, want %d", got, 12-done)
	}
	t.Logf("killed after %d of 12 pages; resumed with %d requests", done, srv2.Count())
}

// fetchChild is the killed process: a slow fetch (10 requests a second, real
// time) that checkpoints every page.
func fetchChild() {
	lim, err := ratelimit.New(ratelimit.Config{Rate: 10, Burst: 1})
	if err != nil {
		os.Exit(3)
	}
	st := fetch.NewFileStore(os.Getenv("TAXAGG_FETCH_CHECKPOINT"))
	_, err = fetch.Run(context.Background(), os.Stdout, fetch.Options{
		Provider:   "stripe",
		Resources:  checkpointResources,
		APIBase:    os.Getenv("TAXAGG_FETCH_BASE"),
		Key:        testKey,
		Limiter:    lim,
		MaxRetries: 1,
		Raw:        true,
		Store:      st,
	})
	if err != nil {
		os.Exit(4)
	}
	os.Exit(0)
}
