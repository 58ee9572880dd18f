package kstream

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/taxagg/taxagg/internal/aggregate"
)

var errKilled = errors.New("killed")

// TestKilledMidTransaction kills a member after it produced a batch's
// events and totals but before it committed them, compacts the totals
// topic, then starts the member again:
// the open transaction is aborted when the restarted member (same
// transactional id) joins, its partitions are restored from the totals
// topic, and the committed output holds each event once.
func TestKilledMidTransaction(t *testing.T) {
	opt := aggregate.Options{Period: aggregate.PeriodMonth}
	c := newCluster(t)
	in := genInput(t, 400, opt)
	c.produce(t, in.msgs)

	cfg := testConfig(c, "a", opt)
	cfg.hook = func(stage string, n int) error {
		if stage == "before-end" && n == 5 {
			return errKilled
		}
		return nil
	}
	first := start(cfg)
	<-first.done
	if !errors.Is(first.err, errKilled) {
		t.Fatalf("first run: %v", first.err)
	}
	if first.counts.Commits != 4 {
		t.Fatalf("first run committed %d batches, want 4", first.counts.Commits)
	}
	// Compaction keeps the latest row of each key, the last snapshot
	// and every id chunk: the state restores the same from what is left.
	before := len(c.readCommitted(t, totalsTopic))
	c.Compact()
	if after := len(c.readCommitted(t, totalsTopic)); after >= before {
		t.Errorf("compaction left %d of %d totals records", after, before)
	}
	second := start(testConfig(c, "a", opt))
	c.waitRead(t, int64(len(in.msgs)), 30*time.Second, second)
	second.stop(t)
	c.check(t, in, opt)
}

// pace slows a member's batches down so that a test can act while it
// works, and reports its commits on a channel.
func pace(d time.Duration, committed chan<- int) func(string, int) error {
	return func(stage string, n int) error {
		if stage == "before-end" {
			time.Sleep(d)
			if committed != nil {
				select {
				case committed <- n:
				default:
				}
			}
		}
		return nil
	}
}

// TestMemberLeavesDuringRebalance runs two members; the second leaves
// (SIGTERM) while the group is rebalancing to let it in, and a third joins
// later. The first member takes the partitions back each time.
func TestMemberLeavesDuringRebalance(t *testing.T) {
	opt := aggregate.Options{}
	c := newCluster(t)
	in := genInput(t, 400, opt)
	c.produce(t, in.msgs)

	batches := make(chan int, 1)
	cfgA := testConfig(c, "a", opt)
	cfgA.MaxBatch = 10
	cfgA.hook = pace(20*time.Millisecond, batches)
	a := start(cfgA)
	waitBatches(t, batches, 3)

	cfgB := testConfig(c, "b", opt)
	cfgB.MaxBatch = 10
	b := start(cfgB)
	time.Sleep(150 * time.Millisecond) // B is joining: the group rebalances
	b.stop(t)

	waitBatches(t, batches, 3)
	cfgC := testConfig(c, "c", opt)
	cfgC.MaxBatch = 10
	cfgC.hook = pace(20*time.Millisecond, nil)
	cm := start(cfgC)

	c.waitRead(t, int64(len(in.msgs)), 40*time.Second, a, cm)
	a.stop(t)
	cm.stop(t)
	t.Logf("committed batches: a %d (aborted %d), b %d (aborted %d), c %d (aborted %d)",
		a.counts.Commits, a.counts.Aborts, b.counts.Commits, b.counts.Aborts, cm.counts.Commits, cm.counts.Aborts)
	c.check(t, in, opt)
}

func waitBatches(t *testing.T, ch <-chan int, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		select {
		case <-ch:
		case <-time.After(20 * time.Second):
			t.Fatal("no batch committed within 20 s")
		}
	}
}

// TestBrokerRestart stops the (persisting) broker while a member works
// and starts it again on the same port and data: the member rides
// through, starting a new Kafka session when a transaction could not be
// ended. (The supervisor would start it again if it stopped.)
func TestBrokerRestart(t *testing.T) {
	opt := aggregate.Options{Period: aggregate.PeriodQuarter}
	port := freePort(t)
	dir := t.TempDir()
	opts := []kfake.Opt{kfake.DataDir(dir), kfake.Ports(port)}
	c := newCluster(t, opts...)
	in := genInput(t, 300, opt)
	c.produce(t, in.msgs)

	batches := make(chan int, 1)
	cfg := testConfig(c, "a", opt)
	cfg.MaxBatch = 10
	cfg.hook = pace(20*time.Millisecond, batches)
	sup := supervise(t, cfg)
	waitBatches(t, batches, 4)

	c.Close()
	time.Sleep(300 * time.Millisecond)
	c2 := newCluster(t, opts...)
	if c2.addrs[0] != c.addrs[0] {
		t.Fatalf("restarted broker at %s, was %s", c2.addrs[0], c.addrs[0])
	}
	c2.waitRead(t, int64(len(in.msgs)), 40*time.Second)
	if restarts := sup.stop(t); restarts > 0 {
		t.Errorf("the member stopped %d times; it should start a new Kafka session itself", restarts)
	}
	c2.check(t, in, opt)
}

// TestProduceErrors fails some produce requests to the output and totals
// topics: the batches they hit abort and are read again.
func TestProduceErrors(t *testing.T) {
	opt := aggregate.Options{ByRate: true}
	c := newCluster(t)
	in := genInput(t, 300, opt)
	c.produce(t, in.msgs)

	h1 := c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: outTopic, Err: kerr.InvalidRecord, Count: 2})
	h2 := c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: totalsTopic, Err: kerr.CorruptMessage, Count: 3})
	h3 := c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: outTopic, Err: kerr.NotEnoughReplicas, Count: 2})
	cfg := testConfig(c, "a", opt)
	a := start(cfg)
	c.waitRead(t, int64(len(in.msgs)), 40*time.Second, a)
	a.stop(t)
	if h1.Hits()+h2.Hits()+h3.Hits() == 0 {
		t.Fatal("no produce request was failed")
	}
	if a.counts.Aborts == 0 {
		t.Error("no transaction was aborted")
	}
	t.Logf("faults hit %d, %d, %d; commits %d, aborts %d", h1.Hits(), h2.Hits(), h3.Hits(), a.counts.Commits, a.counts.Aborts)
	c.check(t, in, opt)
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// supervisor restarts a member that stopped with an error.
type supervisor struct {
	cancel   context.CancelFunc
	done     chan struct{}
	restarts int
}

func supervise(t *testing.T, cfg Config) *supervisor {
	ctx, cancel := context.WithCancel(context.Background())
	s := &supervisor{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		for ctx.Err() == nil {
			_, err := Run(ctx, cfg)
			if err == nil || ctx.Err() != nil {
				return
			}
			t.Logf("member stopped: %v; starting it again", err)
			s.restarts++
			time.Sleep(200 * time.Millisecond)
		}
	}()
	return s
}

func (s *supervisor) stop(t *testing.T) int {
	s.cancel()
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		t.Fatal("member did not stop within 30 s")
	}
	return s.restarts
}

// TestGracefulStop cancels a member (SIGTERM) in the middle of a batch:
// it commits that batch, leaves the group and returns; a member started
// later goes on from there.
func TestGracefulStop(t *testing.T) {
	opt := aggregate.Options{}
	c := newCluster(t)
	in := genInput(t, 200, opt)
	c.produce(t, in.msgs)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg := testConfig(c, "a", opt)
	cfg.hook = func(stage string, n int) error {
		if stage == "before-end" && n == 3 {
			cancel()
		}
		return nil
	}
	counts, err := Run(ctx, cfg)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run: %v, want context.Canceled", err)
	}
	if counts.Commits != 3 {
		t.Errorf("committed %d batches, want 3 (the one open at the signal included)", counts.Commits)
	}
	var read int64
	for _, s := range c.snapshots(t) {
		read += s.Read
	}
	if read != counts.Read || read == 0 {
		t.Errorf("snapshots count %d records read, the member %d", read, counts.Read)
	}
	b := start(testConfig(c, "b", opt))
	c.waitRead(t, int64(len(in.msgs)), 30*time.Second, b)
	b.stop(t)
	c.check(t, in, opt)
}

// TestZombieFenced freezes a member in the middle of a transaction (a
// long GC pause, SIGSTOP) while a replacement with the same instance name
// starts: the replacement's transactional id fences the frozen member,
// whose batch never commits when it wakes up; it stops, and the output
// holds each event once.
func TestZombieFenced(t *testing.T) {
	opt := aggregate.Options{}
	c := newCluster(t)
	in := genInput(t, 300, opt)
	c.produce(t, in.msgs)

	frozen, thaw := make(chan struct{}), make(chan struct{})
	cfg := testConfig(c, "a", opt)
	cfg.MaxBatch = 10
	cfg.hook = func(stage string, n int) error {
		if stage == "before-end" && n == 3 {
			close(frozen)
			<-thaw
		}
		return nil
	}
	zombie := start(cfg)
	select {
	case <-frozen:
	case <-time.After(20 * time.Second):
		t.Fatal("the member did not reach its third batch")
	}
	batches := make(chan int, 1)
	cfg2 := testConfig(c, "a", opt)
	cfg2.MaxBatch = 10
	cfg2.hook = pace(0, batches)
	repl := start(cfg2)
	waitBatches(t, batches, 2)
	close(thaw)
	select {
	case <-zombie.done:
	case <-time.After(30 * time.Second):
		t.Fatal("the fenced member did not stop")
	}
	if !errors.Is(zombie.err, kerr.ProducerFenced) || zombie.counts.Commits != 2 {
		t.Errorf("the frozen member stopped with %v after %d commits; want PRODUCER_FENCED after 2", zombie.err, zombie.counts.Commits)
	}
	c.waitRead(t, int64(len(in.msgs)), 40*time.Second, repl)
	repl.stop(t)
	c.check(t, in, opt)
}

// TestBadRecordWithoutRejects: without a rejects topic a bad record stops
// the member with its position, and its batch does not commit.
func TestBadRecordWithoutRejects(t *testing.T) {
	opt := aggregate.Options{}
	c := newCluster(t)
	good := `{"id":"ord-1","date":"2026-01-05","currency":"USD","amount":"10.00","product":"physical","country":"US","state":"CA"}`
	bad := `{"id":"ord-2","date":"2026-01-05","currency":"USD","amount":"12.3.4","country":"US","state":"CA"}`
	c.produce(t, [][2]string{{"ord-1", good}, {"ord-1", good}, {"ord-1", bad}})
	cfg := testConfig(c, "a", opt)
	cfg.Rejects = ""
	_, err := Run(context.Background(), cfg)
	var re *RecordError
	if !errors.As(err, &re) {
		t.Fatalf("Run: %v, want a RecordError", err)
	}
	if want := fmt.Sprintf("tx/%d@2: amount: \"12.3.4\" is not a decimal", re.Partition); err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
	if got := c.readCommitted(t, outTopic, totalsTopic); len(got) != 0 {
		t.Errorf("%d records committed by the failed batch", len(got))
	}
}

// TestLinger: records arriving 150 ms apart make one transaction each,
// unless --linger waits for them; --max-batch caps a transaction.
func TestLinger(t *testing.T) {
	opt := aggregate.Options{}
	in := genInput(t, 40, opt)
	run := func(maxBatch int, linger time.Duration) Counts {
		c := newCluster(t)
		cfg := testConfig(c, "a", opt)
		cfg.MaxBatch, cfg.Linger = maxBatch, linger
		m := start(cfg)
		for i := 0; i < 4; i++ {
			if i > 0 {
				time.Sleep(150 * time.Millisecond)
			}
			c.produce(t, in.msgs[i*10:i*10+10])
			if i == 0 { // the member has joined and committed the first chunk
				c.waitRead(t, 10, 20*time.Second, m)
			}
		}
		c.waitRead(t, 40, 20*time.Second, m)
		m.stop(t)
		return m.counts
	}
	if got := run(1000, 0); got.Commits < 3 {
		t.Errorf("without --linger: %d transactions for 4 chunks 150 ms apart, want at least 3", got.Commits)
	}
	if got := run(1000, time.Second); got.Commits != 2 {
		t.Errorf("with --linger 1s: %d transactions, want 2 (the first chunk, then the other three)", got.Commits)
	}
	if got := run(3, 0); got.Commits < 14 {
		t.Errorf("with --max-batch 3: %d transactions for 40 records, want at least 14", got.Commits)
	}
}
