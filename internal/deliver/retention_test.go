package deliver

import (
	"context"
	"io"
	"net/http"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// hostTransport answers each request by its host's status (200 for a host
// not in the map) and counts the requests per host.
type hostTransport struct {
	mu     sync.Mutex
	status map[string]int
	sent   map[string]int
}

func (h *hostTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	io.Copy(io.Discard, r.Body)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.sent == nil {
		h.sent = map[string]int{}
	}
	h.sent[r.URL.Host]++
	code := 200
	if c, ok := h.status[r.URL.Host]; ok {
		code = c
	}
	resp := response(code, nil)
	resp.Request = r
	return resp, nil
}

func (h *hostTransport) count(host string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.sent[host]
}

// TestPruneSynctest: --keep prunes the events every endpoint has had for
// longer than it to tombstones; reading their records again sends nothing
// and a changed record still gets the next version. A dead letter keeps its
// event whole until it is purged; then it goes with the next prune.
func TestPruneSynctest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		tr := &hostTransport{status: map[string]int{"dwh.invalid": 400}}
		st := openStore(t)
		erp := target("erp", "https://erp.invalid/hooks")
		dwh := target("dwh", "https://dwh.invalid/hooks")
		keep := 30 * 24 * time.Hour
		run := func(targets ...Target) Summary {
			t.Helper()
			sum, err := Run(ctx, Options{Store: st, Targets: targets, Client: &http.Client{Transport: tr}, Keep: keep})
			if err != nil {
				t.Fatal(err)
			}
			return sum
		}
		record(t, st, []Target{erp}, time.Now(), line1, line2)
		if sum := run(erp); sum.Delivered != 2 || sum.Pruned.Events != 0 {
			t.Fatalf("first run %+v, want 2 delivered, nothing pruned", sum)
		}
		// s3 goes to dwh too, which answers 400: a dead letter.
		record(t, st, []Target{erp, dwh}, time.Now(), `{"id":"s3"}`)
		if sum := run(erp, dwh); sum.Delivered != 1 || sum.Dead != 1 {
			t.Fatalf("s3 run %+v, want 1 delivered, 1 dead", sum)
		}

		// Within --keep: nothing pruned.
		time.Sleep(keep - time.Hour)
		if sum := run(erp, dwh); sum.Pruned.Events != 0 {
			t.Fatalf("before --keep: pruned %+v", sum.Pruned)
		}
		time.Sleep(2 * time.Hour)
		sum := run(erp, dwh)
		if sum.Pruned != (Pruned{Events: 2, Deliveries: 2}) {
			t.Fatalf("after --keep: pruned %+v, want s1 and s2 with their deliveries", sum.Pruned)
		}
		var bodies int
		if err := st.db.QueryRow(`SELECT COUNT(*) FROM deliver_events WHERE length(body) > 0`).Scan(&bodies); err != nil || bodies != 1 {
			t.Fatalf("%d events keep a body (%v), want 1 (s3, dead-lettered to dwh)", bodies, err)
		}
		c := Total(countsAll(t, st))
		if c.Delivered != 1 || c.Dead != 1 {
			t.Fatalf("counts %+v, want s3's delivery to erp and its dead letter", c)
		}

		// Read again: tombstones, nothing sent.
		before := tr.count("erp.invalid")
		rs := record(t, st, []Target{erp, dwh}, time.Now(), line1, line2, `{"id":"s3"}`)
		if rs.New != 0 || rs.Duplicate != 3 || rs.Deliveries != 0 {
			t.Fatalf("read again %+v, want 3 duplicates, no deliveries", rs)
		}
		if sum := run(erp, dwh); sum.Attempts != 0 || tr.count("erp.invalid") != before {
			t.Fatalf("after reading again: %+v, want nothing sent", sum)
		}
		// A changed s1 is version 2: the tombstone kept the version.
		record(t, st, []Target{erp}, time.Now(), `{"id":"s1","changed":true}`)
		if err := st.db.QueryRow(`SELECT MAX(version) FROM deliver_events WHERE txn_id = 's1'`).Scan(&bodies); err != nil || bodies != 2 {
			t.Fatalf("changed s1: version %d (%v), want 2", bodies, err)
		}
		run(erp)

		// Purged, the dead letter is gone from the queue, is not added
		// again, and its event goes with the next prune.
		n, err := st.Purge(ctx, Filter{Endpoints: []string{"dwh"}}, time.Now())
		if err != nil || n != 1 {
			t.Fatalf("purge: %d, %v", n, err)
		}
		if dl, _ := st.Dead(ctx, Filter{}); len(dl) != 0 {
			t.Fatalf("dead letters after purge: %+v", dl)
		}
		if rs := record(t, st, []Target{erp, dwh}, time.Now(), `{"id":"s3"}`); rs.Deliveries != 0 {
			t.Fatalf("purged s3 read again: %+v", rs)
		}
		time.Sleep(keep + time.Hour)
		if sum := run(erp, dwh); sum.Pruned.Events != 2 || sum.Attempts != 0 {
			t.Fatalf("last prune %+v, want s3 and the changed s1", sum)
		}
		if err := st.db.QueryRow(`SELECT COUNT(*) FROM deliver_deliveries`).Scan(&bodies); err != nil || bodies != 0 {
			t.Fatalf("%d deliveries left (%v), want none", bodies, err)
		}
	})
}

// TestKeepZeroAndServePrune: Keep 0 prunes nothing; a serving run prunes
// every PruneEvery.
func TestServePruneSynctest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		tr := &hostTransport{}
		st := openStore(t)
		erp := target("erp", "https://erp.invalid/hooks")
		record(t, st, []Target{erp}, time.Now(), line1)
		if _, err := Run(ctx, Options{Store: st, Targets: []Target{erp}, Client: &http.Client{Transport: tr}}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(365 * 24 * time.Hour)
		if sum, err := Run(ctx, Options{Store: st, Targets: []Target{erp}, Client: &http.Client{Transport: tr}}); err != nil || sum.Pruned.Events != 0 {
			t.Fatalf("Keep 0 pruned %+v, %v", sum.Pruned, err)
		}
		sctx, cancel := context.WithCancel(ctx)
		done := make(chan Summary)
		go func() {
			sum, err := Run(sctx, Options{Store: st, Targets: []Target{erp}, Client: &http.Client{Transport: tr},
				Serve: true, Poll: time.Minute, Keep: time.Hour, PruneEvery: 10 * time.Minute})
			if err != nil {
				t.Error(err)
			}
			done <- sum
		}()
		time.Sleep(time.Minute)
		synctest.Wait()
		record(t, st, []Target{erp}, time.Now(), line2) // delivered while serving
		time.Sleep(2 * time.Hour)
		synctest.Wait()
		cancel()
		sum := <-done
		if sum.Delivered != 1 || sum.Pruned.Events != 2 {
			t.Fatalf("serving: %+v, want s2 delivered, s1 pruned at the start and s2 an hour after", sum)
		}
	})
}

// TestOrphaned: a delivery to an endpoint taken out of the endpoints file
// is parked as orphaned (not pending), listed in the dead-letter queue, never
// pruned, and pending again when the endpoint is back.
func TestOrphaned(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		tr := &hostTransport{}
		st := openStore(t)
		erp := target("erp", "https://erp.invalid/hooks")
		dwh := target("dwh", "https://dwh.invalid/hooks")
		record(t, st, []Target{erp, dwh}, time.Now(), line1)
		run := func(targets ...Target) Summary {
			t.Helper()
			sum, err := Run(ctx, Options{Store: st, Targets: targets, Client: &http.Client{Transport: tr}, Keep: time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			return sum
		}
		if sum := run(erp); sum.Orphaned != 1 || sum.Delivered != 1 {
			t.Fatalf("without dwh: %+v, want 1 delivered, 1 orphaned", sum)
		}
		c := countsAll(t, st)["dwh"]
		if c == nil || c.Orphaned != 1 || c.Pending != 0 {
			t.Fatalf("dwh counts %+v, want 1 orphaned, 0 pending", c)
		}
		dl, err := st.Dead(ctx, Filter{})
		if err != nil || len(dl) != 1 || dl[0].State != "orphaned" || dl[0].Endpoint != "dwh" || dl[0].LastError != OrphanedError {
			t.Fatalf("dead-letter queue %+v, %v, want dwh's orphaned delivery", dl, err)
		}
		// Replay is for dead letters: it leaves an orphaned one alone.
		if n, _, err := st.Replay(ctx, Filter{}, time.Now()); err != nil || n != 0 {
			t.Fatalf("replay: %d, %v", n, err)
		}
		time.Sleep(2 * time.Hour)
		if sum := run(erp); sum.Pruned.Events != 0 || sum.Orphaned != 0 {
			t.Fatalf("orphaned event pruned or parked again: %+v", sum)
		}
		if sum := run(erp, dwh); sum.Unorphaned != 1 || sum.Delivered != 1 || tr.count("dwh.invalid") != 1 {
			t.Fatalf("dwh back: %+v, want its delivery sent", sum)
		}
	})
}

func countsAll(t *testing.T, st *Store) map[string]*Counts {
	t.Helper()
	m, err := st.Counts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return m
}
