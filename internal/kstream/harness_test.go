package kstream

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/taxagg/taxagg/internal/aggregate"
	"github.com/taxagg/taxagg/internal/pack"
	"github.com/taxagg/taxagg/internal/pipeline"
	"github.com/taxagg/taxagg/internal/rules"
	"github.com/taxagg/taxagg/internal/stream"
)

const (
	inTopic      = "tx"
	outTopic     = "tax-events"
	totalsTopic  = "tax-totals"
	rejectsTopic = "tax-rejects"
)

// input is a generated test input: its messages in produce order, and
// what a batch run makes of them.
type input struct {
	msgs     [][2]string // key, value
	accepted map[string]bool
	rejected int
	dups     int
	skipped  int      // documents a converter skipped
	rows     []string // batch aggregate's rows, printed
}

var (
	progOnce sync.Once
	prog     *rules.Program
)

func program(t testing.TB) *rules.Program {
	progOnce.Do(func() {
		var err error
		prog, err = rules.Compile([]rules.Source{{Name: pack.Name, Data: pack.US()}})
		if err != nil {
			panic(err)
		}
	})
	return prog
}

// genInput makes n transactions (with replays, conflicting duplicates and
// bad records among them) and works out the batch answer.
func genInput(t testing.TB, n int, opt aggregate.Options) *input {
	rng := rand.New(rand.NewPCG(7, uint64(n)))
	states := []string{"CA", "TX", "NY", "WA", "OR", "FL", "TN", "PA", "IL", "CO"}
	products := []string{"physical", "saas", "digital_goods"}
	in := &input{}
	var made []string
	for i := 0; len(in.msgs) < n; i++ {
		switch r := rng.IntN(100); {
		case r < 6 && len(made) > 0: // a replay: the same record again
			m := made[rng.IntN(len(made))]
			var o struct{ ID string }
			json.Unmarshal([]byte(m), &o)
			in.msgs = append(in.msgs, [2]string{o.ID, m})
			continue
		case r < 8 && len(made) > 0: // same id, other content
			m := made[rng.IntN(len(made))]
			var o struct{ ID string }
			json.Unmarshal([]byte(m), &o)
			in.msgs = append(in.msgs, [2]string{o.ID, strings.Replace(m, `"currency"`, `"customer":"other","currency"`, 1)})
			continue
		case r < 10:
			id := fmt.Sprintf("bad-%d", i)
			in.msgs = append(in.msgs, [2]string{id, fmt.Sprintf(`{"id":%q,"date":"2026-01-05","currency":"USD","amount":"12.3.4","country":"US","state":"CA"}`, id)})
			continue
		}
		id := fmt.Sprintf("ord-%05d", i)
		cents := 100 + rng.IntN(500000)
		day := 1 + rng.IntN(28)
		month := 1 + rng.IntN(6)
		st := states[rng.IntN(len(states))]
		pr := products[rng.IntN(len(products))]
		typ := ""
		if rng.IntN(15) == 0 {
			typ = `"type":"refund",`
		}
		m := fmt.Sprintf(`{"id":%q,"date":"2026-%02d-%02d",%s"currency":"USD","amount":"%d.%02d","product":%q,"country":"US","state":%q}`,
			id, month, day, typ, cents/100, cents%100, pr, st)
		made = append(made, m)
		in.msgs = append(in.msgs, [2]string{id, m})
	}
	// The batch answer: the same records through the batch pipeline.
	var buf bytes.Buffer
	for _, m := range in.msgs {
		buf.WriteString(m[1])
		buf.WriteByte('\n')
	}
	sink := &accSink{acc: aggregate.New(opt), ids: map[string]bool{}}
	var rejects bytes.Buffer
	counts, err := pipeline.Run(context.Background(), []pipeline.Input{{Name: "input", R: &buf}},
		pipeline.Options{Program: program(t), Format: stream.FormatNDJSON, Workers: 1, Rejects: &rejects, MaxRejects: -1, FixedOnly: true}, sink)
	if err != nil {
		t.Fatal(err)
	}
	in.accepted, in.rejected, in.dups = sink.ids, int(counts.Rejected), int(counts.Duplicates)
	in.rows = printRows(sink.acc.Rows())
	if in.rejected == 0 || in.dups == 0 {
		t.Fatalf("the input should have rejects and duplicates: %+v", counts)
	}
	return in
}

type accSink struct {
	mu  sync.Mutex
	acc *aggregate.Accumulator
	ids map[string]bool
}

func (s *accSink) NewWorker() pipeline.WorkerSink { return s }
func (s *accSink) Ordered() bool                  { return false }
func (s *accSink) Emit(*pipeline.Item) error      { return nil }
func (s *accSink) Render(*pipeline.Item)          {}
func (s *accSink) Accept(it *pipeline.Item) {
	s.mu.Lock()
	s.acc.Add(&it.Tx, &it.Result)
	s.ids[it.Tx.ID] = true
	s.mu.Unlock()
}

func printRows(rows []aggregate.Row) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = fmt.Sprintf("%s %s %s %s n=%d gross=%s exempt=%s nontax=%s taxable=%s tax=%s exact=%s",
			r.Jurisdiction, r.Tax, r.Currency, r.Period, r.Transactions, r.Gross.String(), r.Exempt.String(),
			r.NonTaxable.String(), r.Taxable.String(), r.TaxAmount.String(), r.TaxExact.String())
	}
	return out
}

// testRenderer renders a record's event as {"id":…,"tax_total":…}: the
// tests check which events there are; the calc rendering itself is the
// CLI's and is tested there.
type testRenderer struct{}

func (testRenderer) Accept(*pipeline.Item) {}
func (testRenderer) Render(it *pipeline.Item) {
	sum := decimal.Decimal{}
	for _, l := range it.Result.Lines {
		sum = sum.Add(l.Amount)
	}
	total := sum.String()
	it.Out = fmt.Appendf(it.Out[:0], `{"id":%q,"tax_total":%q}`+"\n", it.Tx.ID, total)
}

type cluster struct {
	*kfake.Cluster
	addrs []string
}

func newCluster(t testing.TB, opts ...kfake.Opt) *cluster {
	base := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.SeedTopics(4, inTopic),
		kfake.SeedTopics(3, outTopic),
		kfake.SeedTopics(1, rejectsTopic),
		kfake.GroupMinSessionTimeout(500 * time.Millisecond),
	}
	c, err := kfake.NewCluster(append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	cl := &cluster{Cluster: c, addrs: c.ListenAddrs()}
	cl.createCompacted(t, totalsTopic, 2)
	return cl
}

// createCompacted creates a compacted topic, unless it exists (a
// restarted broker keeps its topics).
func (c *cluster) createCompacted(t testing.TB, topic string, partitions int32) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.addrs...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	req := kmsg.NewPtrCreateTopicsRequest()
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = topic, partitions, 1
	cfg := kmsg.NewCreateTopicsRequestTopicConfig()
	cfg.Name, cfg.Value = "cleanup.policy", kmsg.StringPtr("compact")
	rt.Configs = append(rt.Configs, cfg)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(context.Background(), cl)
	if err != nil {
		t.Fatal(err)
	}
	if err := kerr.ErrorForCode(resp.Topics[0].ErrorCode); err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		t.Fatalf("create %s: %v", topic, err)
	}
}

func (c *cluster) client(t testing.TB, opts ...kgo.Opt) *kgo.Client {
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(c.addrs...)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func (c *cluster) produce(t testing.TB, msgs [][2]string) {
	cl := c.client(t, kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)))
	var recs []*kgo.Record
	for _, m := range msgs {
		recs = append(recs, &kgo.Record{Topic: inTopic, Key: []byte(m[0]), Value: []byte(m[1])})
	}
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// readCommitted reads topics from the start to their end as a
// read_committed consumer: until a poll spanning several fetch rounds
// brings nothing.
func (c *cluster) readCommitted(t testing.TB, topics ...string) []*kgo.Record {
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.addrs...), kgo.ConsumeTopics(topics...), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var out []*kgo.Record
	for empty := 0; empty < 2; {
		ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
		f := cl.PollFetches(ctx)
		cancel()
		n := len(out)
		f.EachRecord(func(r *kgo.Record) { out = append(out, r) })
		if len(out) == n {
			empty++
		} else {
			empty = 0
		}
	}
	return out
}

func testConfig(c *cluster, instance string, opt aggregate.Options) Config {
	return Config{
		Brokers: c.addrs, Group: "taxagg", Topic: inTopic, To: outTopic, Totals: totalsTopic, Rejects: rejectsTopic,
		Instance: instance, Program: program(nil), Aggregate: opt,
		NewRenderer: func() pipeline.WorkerSink { return testRenderer{} },
		MaxBatch:    25, RestoreTimeout: 20 * time.Second, TransactionTimeout: 20 * time.Second,
		Logger: testLogger(),
		ClientOpts: []kgo.Opt{
			kgo.SessionTimeout(1500 * time.Millisecond), kgo.HeartbeatInterval(200 * time.Millisecond),
			kgo.RebalanceTimeout(3 * time.Second), kgo.RetryTimeout(20 * time.Second),
			kgo.MetadataMinAge(200 * time.Millisecond),
		},
	}
}

func testLogger() *slog.Logger {
	if os.Getenv("KSTREAM_LOG") != "" {
		return slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return nil
}

// running is a member run in the background.
type running struct {
	cancel context.CancelFunc
	done   chan struct{}
	counts Counts
	err    error
}

func start(cfg Config) *running {
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		r.counts, r.err = Run(ctx, cfg)
	}()
	return r
}

// stop cancels the member (as SIGTERM does) and waits for it.
func (r *running) stop(t testing.TB) {
	r.cancel()
	select {
	case <-r.done:
	case <-time.After(30 * time.Second):
		t.Fatal("member did not stop within 30 s")
	}
	if r.err != nil && !errors.Is(r.err, context.Canceled) {
		t.Errorf("member: %v", r.err)
	}
}

// snapshots returns the latest committed snapshot of each input partition.
func (c *cluster) snapshots(t testing.TB) map[int32]SnapshotValue {
	return c.snapshotsOf(t, "taxagg")
}

func (c *cluster) snapshotsOf(t testing.TB, group string) map[int32]SnapshotValue {
	out := map[int32]SnapshotValue{}
	for _, r := range c.readCommitted(t, totalsTopic) {
		if bytes.HasPrefix(r.Key, []byte("snap/"+group+"/")) {
			var v SnapshotValue
			if err := json.Unmarshal(r.Value, &v); err != nil {
				t.Fatal(err)
			}
			out[v.Partition] = v
		}
	}
	return out
}

// waitRead waits until the committed snapshots account for n records.
func (c *cluster) waitRead(t testing.TB, n int64, within time.Duration, alive ...*running) {
	c.waitReadGroup(t, "taxagg", n, within, alive...)
}

// waitReadGroup is waitRead for a group's snapshots.
func (c *cluster) waitReadGroup(t testing.TB, group string, n int64, within time.Duration, alive ...*running) {
	deadline := time.Now().Add(within)
	for {
		var read int64
		for _, s := range c.snapshotsOf(t, group) {
			read += s.Read
		}
		if read == n {
			return
		}
		if read > n {
			t.Fatalf("the snapshots count %d records read, more than the %d produced", read, n)
		}
		for _, r := range alive {
			select {
			case <-r.done:
				t.Fatalf("a member stopped: %v", r.err)
			default:
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s the snapshots count %d of %d records", within, read, n)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// check asserts the committed output: every accepted record's event once,
// every bad record in the rejects topic, and totals equal to the batch
// run's.
func (c *cluster) check(t testing.TB, in *input, opt aggregate.Options) {
	t.Helper()
	seen := map[string]int{}
	all := c.readCommitted(t, outTopic, rejectsTopic, totalsTopic)
	byTopic := map[string][]*kgo.Record{}
	for _, r := range all {
		byTopic[r.Topic] = append(byTopic[r.Topic], r)
	}
	for _, r := range byTopic[outTopic] {
		var ev struct{ ID string }
		if err := json.Unmarshal(r.Value, &ev); err != nil {
			t.Fatalf("event %s: %v", r.Value, err)
		}
		if string(r.Key) != ev.ID {
			t.Errorf("event key %q, id %q", r.Key, ev.ID)
		}
		seen[ev.ID]++
	}
	t.Logf("committed: %d distinct events, %d accepted ids, %d rejects expected, %d duplicates expected, %d rows", len(seen), len(in.accepted), in.rejected, in.dups, len(in.rows))
	missing, twice := 0, 0
	for id := range in.accepted {
		switch seen[id] {
		case 0:
			missing++
		case 1:
		default:
			twice++
			t.Errorf("event of %s committed %d times", id, seen[id])
		}
	}
	if missing > 0 || twice > 0 || len(seen) != len(in.accepted) {
		t.Errorf("events: %d distinct ids committed, want %d; %d missing, %d more than once", len(seen), len(in.accepted), missing, twice)
	}
	if got := len(byTopic[rejectsTopic]); got != in.rejected {
		t.Errorf("rejects topic holds %d records, want %d", got, in.rejected)
	}
	// Totals: the latest row of each key, merged across partitions.
	mb := &member{cfg: Config{Program: prog, Aggregate: opt}, taxes: map[string]*rules.Tax{}}
	for _, tx := range prog.Taxes {
		mb.taxes[tx.Jurisdiction.Code+"/"+tx.ID] = tx
	}
	latest := map[string]*RowValue{}
	var dups int64
	snaps := map[int32]SnapshotValue{}
	for _, r := range byTopic[totalsTopic] {
		switch {
		case bytes.HasPrefix(r.Key, []byte("row/")):
			var v RowValue
			if err := json.Unmarshal(r.Value, &v); err != nil {
				t.Fatal(err)
			}
			latest[string(r.Key)] = &v
		case bytes.HasPrefix(r.Key, []byte("snap/")):
			var v SnapshotValue
			if err := json.Unmarshal(r.Value, &v); err != nil {
				t.Fatal(err)
			}
			snaps[v.Partition] = v
		}
	}
	var skipped int64
	for _, s := range snaps {
		dups += s.Duplicates
		skipped += s.Skipped
	}
	if dups != int64(in.dups) {
		t.Errorf("snapshots count %d duplicates, the batch run %d", dups, in.dups)
	}
	if skipped != int64(in.skipped) {
		t.Errorf("snapshots count %d skipped documents, the batch run %d", skipped, in.skipped)
	}
	total := aggregate.New(opt)
	for _, v := range latest {
		rs, err := mb.rowSums(v)
		if err == nil {
			err = total.Restore(rs)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	got := printRows(total.Rows())
	if strings.Join(got, "\n") != strings.Join(in.rows, "\n") {
		t.Errorf("totals differ from the batch aggregate:\n got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(in.rows, "\n"))
	}
}
