// Package kstream runs taxagg as a member of a Kafka consumer group: each
// transaction record consumed becomes its calc event on an output topic, a
// bad record goes to a rejects topic, and the running totals of each input
// partition (the rows of aggregate) are published to a compacted totals
// topic. The events, the totals changes, the rejects and the consumed
// offsets of a batch commit in one Kafka transaction (franz-go's group
// transact session), so a read_committed consumer sees each record's event
// once across crashes, rebalances and broker restarts.
//
// A partition's state (its duplicate set and exact sums) lives in the
// totals topic: see totals.go for the records and how a partition is
// restored on assignment.
package kstream

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"

	"github.com/taxagg/taxagg/internal/aggregate"
	"github.com/taxagg/taxagg/internal/pipeline"
	"github.com/taxagg/taxagg/internal/rules"
	"github.com/taxagg/taxagg/internal/txn"
)

// Config is what a stream member needs.
type Config struct {
	Brokers []string
	Group   string
	Topic   string // input: one transaction (a JSON object) per message, keyed by its id
	To      string // calc events, keyed by transaction id
	Totals  string // compacted: per-partition totals and state
	// Rejects is the dead-letter topic. Empty means a bad record stops
	// the member (its batch is aborted), as a bad line stops a batch run
	// without --rejects.
	Rejects string
	// Instance names this member, stably across its restarts: the
	// transactional id is Group + "." + Instance, so a restarted member
	// fences its previous incarnation and aborts its open transaction at
	// once. Two live members must not share one.
	Instance string

	Program   *rules.Program
	Parse     txn.ParseOptions
	Aggregate aggregate.Options
	// NewRenderer returns what renders a record's calc event into
	// Item.Out (the calc command's NDJSON renderer).
	NewRenderer func() pipeline.WorkerSink
	// Convert, when set, reads every message as a document of another
	// source (a Stripe or Chargebee object: the batch commands' --from)
	// and turns it into its transaction first. A document it skips (a
	// draft or void invoice) is counted as skipped, and its offset
	// commits with the batch. It is called for one message at a time,
	// from one goroutine; it must convert each message on its own
	// (billing.TxOptions.Standalone), or a replay after a restart or a
	// rebalance could make another transaction of the same message.
	Convert pipeline.Converter

	MaxBatch int           // records per transaction at most (default 1000)
	Linger   time.Duration // how long to wait for a batch to fill (default 0: what one poll gives)
	// Once stops the member when no record arrived for Idle (default 1 s)
	// after it joined the group.
	Once bool
	Idle time.Duration

	// RestoreTimeout bounds the restore of a partition's state from the
	// totals topic (default 30 s).
	RestoreTimeout time.Duration
	// TransactionTimeout is the broker's limit on an open transaction
	// (default 60 s).
	TransactionTimeout time.Duration

	TLS  *tls.Config    // nil: plaintext
	SASL sasl.Mechanism // nil: none

	Logger  *slog.Logger // nil: discard
	Metrics *Metrics     // nil: none kept
	// ClientOpts are appended to the client options (group timeouts,
	// for example).
	ClientOpts []kgo.Opt

	// hook, in tests, runs at named points of a batch; an error it
	// returns makes Run return at once, as if the process died there.
	hook func(stage string, batch int) error
}

// Counts are what a member committed: Read = Accepted + Rejected +
// Duplicates + Skipped.
type Counts struct {
	Read, Accepted, Rejected, Duplicates int64
	// Skipped counts the documents Convert found not to be transactions;
	// SkippedBy, when not nil, breaks them down by reason.
	Skipped         int64
	SkippedBy       map[string]int64
	Commits, Aborts int64
}

// add adds d's counts (not its commits and aborts) to c.
func (c *Counts) add(d Counts) {
	c.Read += d.Read
	c.Accepted += d.Accepted
	c.Rejected += d.Rejected
	c.Duplicates += d.Duplicates
	c.Skipped += d.Skipped
	for k, v := range d.SkippedBy {
		if c.SkippedBy == nil {
			c.SkippedBy = map[string]int64{}
		}
		c.SkippedBy[k] += v
	}
}

// RecordError is a bad record met without a rejects topic.
type RecordError struct {
	Topic     string
	Partition int32
	Offset    int64
	Field     string
	Err       error
}

func (e *RecordError) Error() string {
	msg := fmt.Sprintf("%s/%d@%d: ", e.Topic, e.Partition, e.Offset)
	if e.Field != "" {
		msg += e.Field + ": "
	}
	return msg + e.Err.Error()
}

func (e *RecordError) Unwrap() error { return e.Err }

// maxProduceFailures is how many batches in a row may fail to produce
// before the member gives up.
const maxProduceFailures = 8

func (c *Config) defaults() error {
	switch {
	case len(c.Brokers) == 0:
		return errors.New("no brokers")
	case c.Group == "":
		return errors.New("no consumer group")
	case c.Topic == "" || c.To == "" || c.Totals == "":
		return errors.New("the input, output and totals topics are needed")
	case c.Program == nil || c.NewRenderer == nil:
		return errors.New("no rules or no renderer")
	}
	if c.To == c.Topic {
		return fmt.Errorf("the output topic %q is also the input topic", c.To)
	}
	names := map[string]string{c.Topic: "input", c.To: "output"}
	for _, t := range []struct{ name, what string }{{c.Totals, "totals"}, {c.Rejects, "rejects"}} {
		if t.name == "" {
			continue
		}
		if other, ok := names[t.name]; ok {
			return fmt.Errorf("the %s topic %q is also the %s topic", t.what, t.name, other)
		}
		names[t.name] = t.what
	}
	if c.Instance == "" {
		h, err := os.Hostname()
		if err != nil || h == "" {
			h = "taxagg"
		}
		c.Instance = h
	}
	if c.MaxBatch <= 0 {
		c.MaxBatch = 1000
	}
	if c.Idle <= 0 {
		c.Idle = time.Second
	}
	if c.RestoreTimeout <= 0 {
		c.RestoreTimeout = 30 * time.Second
	}
	if c.TransactionTimeout <= 0 {
		c.TransactionTimeout = 60 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Metrics == nil {
		c.Metrics = NewMetrics()
	}
	return nil
}

// member is one running group member.
type member struct {
	cfg         Config
	log         *slog.Logger
	m           *Metrics
	totalsParts int32
	taxes       map[string]*rules.Tax // jurisdiction code + "/" + tax id

	parser   *txn.Parser
	ev       *rules.Evaluator
	renderer pipeline.WorkerSink
	item     pipeline.Item
	conv     []byte // the transaction Convert made of the message

	mu       sync.Mutex
	parts    map[int32]*partState // cached state, kept across revocations
	assigned bool
	since    time.Time // when the last assignment or record came (for Once)
}

// partState is one input partition's committed state.
type partState struct {
	verified bool // checked against the group's committed offset since assignment
	next     int64
	ids      map[string]idEntry
	acc      *aggregate.Accumulator
	chunks   int64
	counts   Counts
}

type idEntry struct {
	digest uint64 // the transaction's stable content hash
	offset int64
}

func newPartState(opt aggregate.Options) *partState {
	return &partState{ids: map[string]idEntry{}, acc: aggregate.New(opt), next: -1}
}

// Run runs one member until ctx is cancelled (SIGTERM), a fatal error, or,
// with Once, until the input is drained. It finishes the open transaction
// and leaves the group before it returns.
func Run(ctx context.Context, cfg Config) (Counts, error) {
	if err := cfg.defaults(); err != nil {
		return Counts{}, err
	}
	// Duplicates are judged across restarts: the content hash must not
	// depend on the process.
	parse := cfg.Parse
	parse.StableHashes = true
	mb := &member{
		cfg: cfg, log: cfg.Logger, m: cfg.Metrics,
		parts:    map[int32]*partState{},
		taxes:    map[string]*rules.Tax{},
		parser:   txn.NewParser(parse),
		ev:       cfg.Program.NewEvaluator(false),
		renderer: cfg.NewRenderer(),
	}
	mb.ev.FixedOnly()
	for _, t := range cfg.Program.Taxes {
		mb.taxes[t.Jurisdiction.Code+"/"+t.ID] = t
	}
	var total Counts
	for restarts := 0; ; restarts++ {
		counts, err := mb.session(ctx, restarts == 0)
		total.add(counts)
		total.Commits += counts.Commits
		total.Aborts += counts.Aborts
		var se *sessionError
		if !errors.As(err, &se) || ctx.Err() != nil {
			return total, err
		}
		if counts.Commits > 0 {
			restarts = 0
		}
		if restarts >= maxRestarts {
			return total, fmt.Errorf("%w (%d Kafka sessions in a row failed)", se.err, restarts+1)
		}
		// A new client with the same transactional id aborts whatever
		// the old one left open; the cached partition states are checked
		// against the committed offsets again.
		mb.log.Warn("restarting the Kafka session", "error", se.err.Error(), "attempt", restarts+1)
		mb.mu.Lock()
		for _, st := range mb.parts {
			st.verified = false
		}
		mb.mu.Unlock()
		sleep(ctx, time.Duration(restarts+1)*500*time.Millisecond)
	}
}

// fatalKafka reports whether a new client would fail the same way: this
// member's producer was fenced by another with the same transactional id
// (a second live member with this --instance), or it may not use it.
func fatalKafka(err error) bool {
	return errors.Is(err, kerr.ProducerFenced) || errors.Is(err, kerr.InvalidProducerEpoch) ||
		errors.Is(err, kerr.TransactionalIDAuthorizationFailed) || errors.Is(err, kerr.GroupAuthorizationFailed) ||
		errors.Is(err, kerr.TopicAuthorizationFailed)
}

// maxRestarts is how many Kafka sessions in a row may fail before the
// member gives up.
const maxRestarts = 5

// sessionError is a failure of the Kafka session itself (a transaction
// that could not be begun or ended): a new session may go on where it
// stopped.
type sessionError struct{ err error }

func (e *sessionError) Error() string { return e.err.Error() }
func (e *sessionError) Unwrap() error { return e.err }

// session runs one Kafka client (a group transact session) until it stops.
func (mb *member) session(ctx context.Context, first bool) (Counts, error) {
	cfg := &mb.cfg
	// Reset before the client exists: it joins the group at once, and its
	// OnPartitionsAssigned may run before NewGroupTransactSession returns.
	// Resetting after it would lose that assignment, and --once would
	// wait for one for ever.
	mb.mu.Lock()
	mb.assigned = false
	mb.mu.Unlock()
	sess, err := kgo.NewGroupTransactSession(mb.clientOpts()...)
	if err != nil {
		return Counts{}, fmt.Errorf("kafka client: %w", err)
	}
	defer func() {
		sess.Close() // leaves the group
		mb.log.Info("left the group", "group", cfg.Group)
	}()
	if first {
		if mb.totalsParts, err = checkTopics(ctx, sess.Client(), cfg); err != nil {
			return Counts{}, err
		}
	}
	mb.log.Info("joining the group", "group", cfg.Group, "topic", cfg.Topic, "to", cfg.To,
		"totals", cfg.Totals, "rejects", cfg.Rejects, "transactional_id", mb.txnID())
	return mb.loop(ctx, sess)
}

func (mb *member) txnID() string { return mb.cfg.Group + "." + mb.cfg.Instance }

func (mb *member) commonOpts() []kgo.Opt {
	opts := []kgo.Opt{
		kgo.SeedBrokers(mb.cfg.Brokers...),
		kgo.WithLogger(kgoLogger{mb.log}),
	}
	if mb.cfg.TLS != nil {
		opts = append(opts, kgo.DialTLSConfig(mb.cfg.TLS))
	}
	if mb.cfg.SASL != nil {
		opts = append(opts, kgo.SASL(mb.cfg.SASL))
	}
	return opts
}

func (mb *member) clientOpts() []kgo.Opt {
	opts := append(mb.commonOpts(),
		kgo.TransactionalID(mb.txnID()),
		kgo.TransactionTimeout(mb.cfg.TransactionTimeout),
		// A record not acknowledged by then fails (and aborts its
		// batch) rather than being retried for ever.
		kgo.RecordDeliveryTimeout(mb.cfg.TransactionTimeout),
		kgo.ConsumerGroup(mb.cfg.Group),
		kgo.ConsumeTopics(mb.cfg.Topic),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.RecordPartitioner(partitioner{totals: mb.cfg.Totals, keyed: kgo.StickyKeyPartitioner(nil)}),
		kgo.OnPartitionsAssigned(mb.onAssigned),
		kgo.OnPartitionsRevoked(mb.onRevoked),
		kgo.OnPartitionsLost(mb.onRevoked),
	)
	return append(opts, mb.cfg.ClientOpts...)
}

// partitioner sends a totals record to the totals partition its input
// partition maps to (Record.Partition holds the input partition), and
// everything else by its key, as Kafka's default partitioner does.
type partitioner struct {
	totals string
	keyed  kgo.Partitioner
}

func (p partitioner) ForTopic(t string) kgo.TopicPartitioner {
	if t == p.totals {
		return totalsPartitioner{}
	}
	return p.keyed.ForTopic(t)
}

type totalsPartitioner struct{}

func (totalsPartitioner) RequiresConsistency(*kgo.Record) bool { return true }
func (totalsPartitioner) Partition(r *kgo.Record, n int) int   { return int(r.Partition) % n }

func (mb *member) onAssigned(_ context.Context, _ *kgo.Client, assigned map[string][]int32) {
	mb.mu.Lock()
	mb.assigned = true
	mb.since = time.Now()
	mb.mu.Unlock()
	mb.log.Info("partitions assigned", "topic", mb.cfg.Topic, "partitions", assigned[mb.cfg.Topic])
}

func (mb *member) onRevoked(_ context.Context, _ *kgo.Client, revoked map[string][]int32) {
	mb.mu.Lock()
	for _, p := range revoked[mb.cfg.Topic] {
		if st := mb.parts[p]; st != nil {
			st.verified = false
		}
		mb.m.dropLag(mb.cfg.Topic, p)
	}
	mb.mu.Unlock()
	mb.log.Info("partitions revoked", "topic", mb.cfg.Topic, "partitions", revoked[mb.cfg.Topic])
}

func (mb *member) loop(ctx context.Context, sess *kgo.GroupTransactSession) (Counts, error) {
	var counts Counts
	failures := 0
	batchNo := 0
	for {
		if ctx.Err() != nil {
			mb.log.Info("stopping", "cause", context.Cause(ctx).Error())
			return counts, context.Cause(ctx)
		}
		recs, err := mb.poll(ctx, sess)
		if err != nil {
			return counts, err
		}
		if len(recs) == 0 {
			if mb.cfg.Once && mb.idle() {
				mb.log.Info("input drained", "read", counts.Read)
				return counts, nil
			}
			continue
		}
		batchNo++
		start := time.Now()
		// The batch is finished even when a signal comes while it runs:
		// it commits or aborts, then the loop stops.
		work := context.WithoutCancel(ctx)
		if err := sess.Begin(); err != nil {
			return counts, fmt.Errorf("begin transaction: %w", err) // only misuse fails Begin
		}
		b, procErr := mb.process(work, sess, recs)
		if err := mb.hookAt("before-end", batchNo); err != nil {
			return counts, err
		}
		// Every record must be acknowledged before deciding: a record
		// that failed must abort the transaction, or the others would
		// commit without it.
		if procErr == nil {
			fctx, cancel := context.WithTimeout(work, mb.cfg.TransactionTimeout)
			err := sess.Client().Flush(fctx)
			cancel()
			if err != nil {
				return counts, &sessionError{fmt.Errorf("flush: %w", err)}
			}
		}
		try := kgo.TryCommit
		if procErr != nil || b.failed() != nil {
			try = kgo.TryAbort
		}
		endCtx, cancel := context.WithTimeout(work, mb.cfg.TransactionTimeout)
		committed, endErr := sess.End(endCtx, try)
		cancel()
		if endErr != nil {
			endErr = fmt.Errorf("end transaction: %w", endErr)
			if fatalKafka(endErr) {
				return counts, endErr
			}
			return counts, &sessionError{endErr}
		}
		if procErr != nil {
			mb.m.aborts.Add(1)
			return counts, procErr
		}
		if !committed {
			counts.Aborts++
			mb.m.aborts.Add(1)
			if perr := b.failed(); perr != nil {
				failures++
				mb.log.Warn("transaction aborted: a record could not be produced; the batch is read again",
					"error", perr.Error(), "attempt", failures)
				if failures >= maxProduceFailures {
					return counts, fmt.Errorf("produce: %w (%d batches in a row failed)", perr, failures)
				}
				sleep(ctx, time.Duration(failures)*100*time.Millisecond)
			} else {
				mb.log.Info("transaction aborted by a rebalance; the batch is read again", "records", len(recs))
			}
			continue
		}
		failures = 0
		c := mb.apply(b)
		counts.add(c)
		counts.Commits++
		mb.m.observeBatch(c, time.Since(start))
		mb.log.Debug("transaction committed", "records", len(recs), "accepted", c.Accepted,
			"rejected", c.Rejected, "duplicates", c.Duplicates, "skipped", c.Skipped, "seconds", time.Since(start).Seconds())
	}
}

func (mb *member) hookAt(stage string, n int) error {
	if mb.cfg.hook == nil {
		return nil
	}
	return mb.cfg.hook(stage, n)
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// idle reports whether, with Once, the member has been assigned its
// partitions and seen nothing new for Idle.
func (mb *member) idle() bool {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	return mb.assigned && time.Since(mb.since) >= mb.cfg.Idle
}

// poll gets up to MaxBatch records, waiting up to Linger for more once the
// first arrived.
func (mb *member) poll(ctx context.Context, sess *kgo.GroupTransactSession) ([]*kgo.Record, error) {
	pctx := ctx
	if mb.cfg.Once {
		var cancel context.CancelFunc
		pctx, cancel = context.WithTimeout(ctx, mb.cfg.Idle)
		defer cancel()
	}
	recs, err := mb.pollOnce(pctx, sess, mb.cfg.MaxBatch, nil)
	if err != nil || len(recs) == 0 || mb.cfg.Linger <= 0 {
		return recs, err
	}
	deadline := time.Now().Add(mb.cfg.Linger)
	for len(recs) < mb.cfg.MaxBatch && ctx.Err() == nil {
		left := time.Until(deadline)
		if left <= 0 {
			break
		}
		lctx, cancel := context.WithTimeout(ctx, left)
		recs, err = mb.pollOnce(lctx, sess, mb.cfg.MaxBatch-len(recs), recs)
		cancel()
		if err != nil {
			return recs, err
		}
	}
	return recs, nil
}

func (mb *member) pollOnce(ctx context.Context, sess *kgo.GroupTransactSession, max int, recs []*kgo.Record) ([]*kgo.Record, error) {
	fetches := sess.PollRecords(ctx, max)
	if fetches.IsClientClosed() {
		return recs, &sessionError{errors.New("kafka client closed")}
	}
	fetches.EachError(func(t string, p int32, err error) {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return
		}
		mb.log.Warn("fetch error", "topic", t, "partition", p, "error", err.Error())
	})
	fetches.EachPartition(func(fp kgo.FetchTopicPartition) {
		if n := len(fp.Records); n > 0 {
			mb.m.setLag(fp.Topic, fp.Partition, fp.HighWatermark-(fp.Records[n-1].Offset+1))
		}
	})
	n := len(recs)
	fetches.EachRecord(func(r *kgo.Record) { recs = append(recs, r) })
	if len(recs) > n {
		mb.mu.Lock()
		mb.since = time.Now()
		mb.mu.Unlock()
	}
	return recs, nil
}

// batch is one transaction's work, applied to the partitions' state only
// once it committed.
type batch struct {
	parts map[int32]*stage

	mu      sync.Mutex
	prodErr error
}

func (b *batch) failed() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.prodErr
}

func (b *batch) promise(_ *kgo.Record, err error) {
	if err != nil {
		b.mu.Lock()
		if b.prodErr == nil {
			b.prodErr = err
		}
		b.mu.Unlock()
	}
}

// stage is one partition's part of a batch.
type stage struct {
	st     *partState
	first  int64 // offset of the batch's first record of this partition
	next   int64
	newIDs map[string]idEntry
	order  []string               // newIDs in the order seen
	acc    *aggregate.Accumulator // the partition's sums after the batch
	delta  *aggregate.Accumulator // the batch's own sums: which rows changed
	counts Counts
	skips  map[string]int64 // the batch's skipped documents, by reason
}

// process turns the batch's records into produced events, rejects and
// totals changes, inside the open transaction.
func (mb *member) process(ctx context.Context, sess *kgo.GroupTransactSession, recs []*kgo.Record) (*batch, error) {
	b := &batch{parts: map[int32]*stage{}}
	if err := mb.ensureState(ctx, sess.Client(), recs); err != nil {
		return b, err
	}
	for _, r := range recs {
		if r.Topic != mb.cfg.Topic {
			continue
		}
		sg := b.parts[r.Partition]
		if sg == nil {
			mb.mu.Lock()
			st := mb.parts[r.Partition]
			mb.mu.Unlock()
			sg = &stage{st: st, first: r.Offset, newIDs: map[string]idEntry{},
				acc: st.acc.Clone(), delta: aggregate.New(mb.cfg.Aggregate), counts: st.counts}
			b.parts[r.Partition] = sg
		}
		if err := mb.record(ctx, sess, b, sg, r); err != nil {
			return b, err
		}
	}
	for p, sg := range b.parts {
		for _, r := range mb.totalsRecords(p, sg) {
			sess.Produce(ctx, r, b.promise)
		}
	}
	return b, nil
}

// record handles one consumed record.
func (mb *member) record(ctx context.Context, sess *kgo.GroupTransactSession, b *batch, sg *stage, r *kgo.Record) error {
	sg.next = r.Offset + 1
	sg.counts.Read++
	it := &mb.item
	it.Reset()
	it.Source, it.Line, it.Text = r.Topic, int(r.Offset), r.Value

	field, err := "", error(nil)
	text := r.Value
	if len(text) > 0 && mb.cfg.Convert != nil {
		var skip string
		mb.conv, skip, err = mb.cfg.Convert.ConvertJSON(r.Topic, r.Value, mb.conv[:0])
		if err == nil && skip != "" {
			// Not a transaction (a draft invoice): read, counted, and
			// its offset commits with the batch.
			sg.counts.Skipped++
			if sg.skips == nil {
				sg.skips = map[string]int64{}
			}
			sg.skips[skip]++
			mb.log.Debug("skipped", "topic", r.Topic, "partition", r.Partition, "offset", r.Offset, "reason", skip)
			return nil
		}
		text = mb.conv
	}
	switch {
	case err != nil:
	case len(text) == 0:
		err = errors.New("empty message")
	default:
		err = mb.parser.ParseJSON(text, &it.Tx)
		it.Fields = mb.parser.Fields()
	}
	if err == nil && r.Key != nil && string(r.Key) != it.Tx.ID {
		field, err = "id", fmt.Errorf("%q is not the message key %q", it.Tx.ID, r.Key)
	}
	digest := it.Tx.ContentHash // stable: Parse.StableHashes
	if err == nil {
		err = mb.ev.Eval(&it.Tx, &it.Result)
	}
	if err == nil {
		seen, dup := sg.newIDs[it.Tx.ID]
		if !dup {
			seen, dup = sg.st.ids[it.Tx.ID]
		}
		switch {
		case !dup:
			e := idEntry{digest: digest, offset: r.Offset}
			sg.newIDs[it.Tx.ID] = e
			sg.order = append(sg.order, it.Tx.ID)
			sg.acc.Add(&it.Tx, &it.Result)
			sg.delta.Add(&it.Tx, &it.Result)
			mb.renderer.Render(it)
			out := it.Out
			if n := len(out); n > 0 && out[n-1] == '\n' {
				out = out[:n-1]
			}
			ev := &kgo.Record{Topic: mb.cfg.To, Key: []byte(it.Tx.ID), Value: append([]byte(nil), out...),
				Headers: sourceHeaders(r)}
			sess.Produce(ctx, ev, b.promise)
			sg.counts.Accepted++
			return nil
		case seen.digest == digest:
			sg.counts.Duplicates++
			return nil
		default:
			field, err = "id", fmt.Errorf("conflicting duplicate of %s/%d@%d", r.Topic, r.Partition, seen.offset)
		}
	}
	var fe *txn.FieldError
	if errors.As(err, &fe) {
		field, err = fe.Field, fe.Err
	}
	if mb.cfg.Rejects == "" {
		return &RecordError{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Field: field, Err: err}
	}
	sg.counts.Rejected++
	sess.Produce(ctx, &kgo.Record{Topic: mb.cfg.Rejects, Key: r.Key, Value: rejectValue(r, field, err),
		Headers: sourceHeaders(r)}, b.promise)
	return nil
}

// apply makes a committed batch the partitions' state and returns its
// counts.
func (mb *member) apply(b *batch) Counts {
	var c Counts
	mb.mu.Lock()
	defer mb.mu.Unlock()
	for p, sg := range b.parts {
		st := sg.st
		for id, e := range sg.newIDs {
			st.ids[id] = e
		}
		if len(sg.newIDs) > 0 {
			st.chunks++
		}
		st.acc = sg.acc
		st.next = sg.next
		d := sg.counts
		c.Read += d.Read - st.counts.Read
		c.Accepted += d.Accepted - st.counts.Accepted
		c.Rejected += d.Rejected - st.counts.Rejected
		c.Duplicates += d.Duplicates - st.counts.Duplicates
		c.Skipped += d.Skipped - st.counts.Skipped
		for k, v := range sg.skips {
			if c.SkippedBy == nil {
				c.SkippedBy = map[string]int64{}
			}
			c.SkippedBy[k] += v
		}
		st.counts = d
		mb.parts[p] = st
	}
	return c
}
