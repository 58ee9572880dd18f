package kstream

// The totals topic. It is compacted, and holds for each input partition P
// of topic T read by group G, in the totals partition P mod (its partition
// count):
//
//	row/G/T/P/<jurisdiction>|<tax>|<currency>|<period>|<rate>
//	    one aggregate row of partition P as it stands after the last
//	    transaction that changed it: the aggregate columns, plus "exact",
//	    the unrounded sums that restore it exactly (aggregate.RowSums).
//	ids/G/T/P/<offset>
//	    the transaction ids first counted by the batch that began at that
//	    input offset, each with its content hash (txn's stable hash of the
//	    canonical form duplicates are judged by, 16 hex digits) and its
//	    offset. Every
//	    chunk has its own key, so compaction keeps them all: together they
//	    are the partition's duplicate set.
//	snap/G/T/P
//	    the partition's snapshot: the input offset its state covers
//	    (next_offset, the offset committed with it), how many id chunks,
//	    ids and rows make it up, its counts, and the grouping (period,
//	    by_rate) and rules it was computed with.
//
// A transaction writes, for each input partition it read from, that
// batch's id chunk, the rows it changed and last the snapshot, together
// with the events, the rejects and the consumed offsets. On assignment a
// member that does not hold the partition's state at the group's
// committed offset O reads its totals partition from the start (read
// committed) until it meets snap/G/T/P with next_offset O; the chunks and
// rows read by then are the state at O. A partition with no committed
// offset starts empty, and it is an error for the totals topic to hold
// state for it then (the group's offsets were deleted or expired: counting
// again from the start would count twice).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/taxagg/taxagg/internal/aggregate"
	"github.com/taxagg/taxagg/internal/money"
	"github.com/taxagg/taxagg/internal/stream"
)

// RowValue is a row record of the totals topic.
type RowValue struct {
	Kind            string   `json:"kind"` // "row"
	Group           string   `json:"group"`
	Topic           string   `json:"topic"`
	Partition       int32    `json:"partition"`
	Jurisdiction    string   `json:"jurisdiction"`
	Name            string   `json:"name"`
	Level           string   `json:"level"`
	Tax             string   `json:"tax"`
	Period          string   `json:"period"`
	Currency        string   `json:"currency"`
	Rate            string   `json:"rate,omitempty"` // with by_rate
	Transactions    int64    `json:"transactions"`
	GrossSales      string   `json:"gross_sales"`
	ExemptSales     string   `json:"exempt_sales"`
	NonTaxableSales string   `json:"non_taxable_sales"`
	TaxableSales    string   `json:"taxable_sales"`
	TaxAmount       string   `json:"tax_amount"`
	TaxExact        string   `json:"tax_exact"`
	Exact           RowExact `json:"exact"`
}

// RowExact is what restores a row exactly.
type RowExact struct {
	Digits     int32  `json:"digits"`
	Rate       string `json:"rate,omitempty"`
	ByRate     bool   `json:"by_rate,omitempty"`
	Gross      string `json:"gross"`
	Exempt     string `json:"exempt"`
	NonTaxable string `json:"non_taxable"`
	Taxable    string `json:"taxable"`
	Tax        string `json:"tax"` // unrounded: tax_amount is it rounded
	TaxExact   string `json:"tax_exact"`
}

// SnapshotValue is a partition's snapshot record.
type SnapshotValue struct {
	Kind       string `json:"kind"` // "snapshot"
	Group      string `json:"group"`
	Topic      string `json:"topic"`
	Partition  int32  `json:"partition"`
	NextOffset int64  `json:"next_offset"`
	IDChunks   int64  `json:"id_chunks"`
	IDs        int64  `json:"ids"`
	Rows       int64  `json:"rows"`
	Read       int64  `json:"read"`
	Accepted   int64  `json:"accepted"`
	Rejected   int64  `json:"rejected"`
	Duplicates int64  `json:"duplicates"`
	// Skipped counts the documents --from found not to be transactions.
	Skipped     int64  `json:"skipped,omitempty"`
	Period      string `json:"period"`
	ByRate      bool   `json:"by_rate"`
	RulesSHA256 string `json:"rules_sha256"`
}

type idsValue struct {
	Kind      string    `json:"kind"` // "ids"
	Topic     string    `json:"topic"`
	Partition int32     `json:"partition"`
	IDs       []idValue `json:"ids"`
}

type idValue struct {
	ID     string `json:"id"`
	Digest string `json:"digest"`
	Offset int64  `json:"offset"`
}

// exactText prints d with all its digits, so that parsing it gives back
// the same coefficient and exponent.
func exactText(d decimal.Decimal) string {
	if e := d.Exponent(); e < 0 {
		return d.StringFixed(-e)
	}
	return d.String()
}

func periodName(p aggregate.Period) string {
	return [...]string{"none", "day", "month", "quarter", "year"}[p]
}

func rowKey(group, topic string, p int32, r *aggregate.RowSums) string {
	rate := ""
	if r.HasRate {
		rate = r.Rate.String()
	}
	return fmt.Sprintf("row/%s/%s/%d/%s|%s|%s|%s|%s", group, topic, p, r.Tax.Jurisdiction.Code, r.Tax.ID,
		r.Currency, r.Period, rate)
}

func (mb *member) rowValue(p int32, r *aggregate.RowSums) RowValue {
	j := r.Tax.Jurisdiction
	fig := func(i int) decimal.Decimal { return r.Sums[i].Decimal() }
	v := RowValue{
		Kind: "row", Group: mb.cfg.Group, Topic: mb.cfg.Topic, Partition: p,
		Jurisdiction: j.Code, Name: j.Name, Level: j.Level.String(), Tax: r.Tax.ID,
		Period: r.Period, Currency: r.Currency, Transactions: r.Transactions,
		GrossSales:      money.Format(fig(aggregate.FigGross), r.Digits),
		ExemptSales:     money.Format(fig(aggregate.FigExempt), r.Digits),
		NonTaxableSales: money.Format(fig(aggregate.FigNonTaxable), r.Digits),
		TaxableSales:    money.Format(fig(aggregate.FigTaxable), r.Digits),
		TaxAmount:       money.Format(money.Round(fig(aggregate.FigTax), r.Digits, r.Tax.Rounding.Mode), r.Digits),
		TaxExact:        money.FormatExact(fig(aggregate.FigExact), r.Digits),
		Exact: RowExact{
			Digits: r.Digits, ByRate: r.HasRate,
			Gross: exactText(fig(aggregate.FigGross)), Exempt: exactText(fig(aggregate.FigExempt)),
			NonTaxable: exactText(fig(aggregate.FigNonTaxable)), Taxable: exactText(fig(aggregate.FigTaxable)),
			Tax: exactText(fig(aggregate.FigTax)), TaxExact: exactText(fig(aggregate.FigExact)),
		},
	}
	if !r.Rate.IsZero() || r.HasRate {
		v.Exact.Rate = exactText(r.Rate)
	}
	if r.HasRate {
		v.Rate = r.Rate.String()
	}
	return v
}

// rowSums turns a row record back into the accumulator's row.
func (mb *member) rowSums(v *RowValue) (aggregate.RowSums, error) {
	t := mb.taxes[v.Jurisdiction+"/"+v.Tax]
	if t == nil {
		return aggregate.RowSums{}, fmt.Errorf("tax %s of %s is not in the rules", v.Tax, v.Jurisdiction)
	}
	r := aggregate.RowSums{Tax: t, Currency: v.Currency, Digits: v.Exact.Digits, Period: v.Period,
		HasRate: v.Exact.ByRate, Transactions: v.Transactions}
	var err error
	dec := func(s string) decimal.Decimal {
		if err != nil || s == "" {
			return decimal.Decimal{}
		}
		var d decimal.Decimal
		d, err = decimal.NewFromString(s)
		return d
	}
	r.Rate = dec(v.Exact.Rate)
	for i, s := range [aggregate.NumFigures]string{aggregate.FigGross: v.Exact.Gross, aggregate.FigExempt: v.Exact.Exempt,
		aggregate.FigNonTaxable: v.Exact.NonTaxable, aggregate.FigTaxable: v.Exact.Taxable,
		aggregate.FigTax: v.Exact.Tax, aggregate.FigExact: v.Exact.TaxExact} {
		r.Sums[i].AddDecimal(dec(s))
	}
	return r, err
}

// totalsRecords are the totals changes of one partition's part of a
// batch: its id chunk, its changed rows, then its snapshot.
func (mb *member) totalsRecords(p int32, sg *stage) []*kgo.Record {
	topic := mb.cfg.Topic
	rec := func(key string, v any) *kgo.Record {
		b, _ := json.Marshal(v) // plain structs: cannot fail
		return &kgo.Record{Topic: mb.cfg.Totals, Partition: p, Key: []byte(key), Value: b}
	}
	var out []*kgo.Record
	if len(sg.order) > 0 {
		iv := idsValue{Kind: "ids", Topic: topic, Partition: p, IDs: make([]idValue, len(sg.order))}
		for i, id := range sg.order {
			e := sg.newIDs[id]
			iv.IDs[i] = idValue{ID: id, Digest: fmt.Sprintf("%016x", e.digest), Offset: e.offset}
		}
		out = append(out, rec(fmt.Sprintf("ids/%s/%s/%d/%d", mb.cfg.Group, topic, p, sg.first), iv))
	}
	period := mb.cfg.Aggregate.Period
	changed := map[string]bool{}
	for _, r := range sg.delta.Sums() {
		changed[rowKey(mb.cfg.Group, topic, p, &r)] = true
	}
	rows := sg.acc.Sums()
	var keys []string
	byKey := map[string]*aggregate.RowSums{}
	for i := range rows {
		k := rowKey(mb.cfg.Group, topic, p, &rows[i])
		byKey[k] = &rows[i]
		if changed[k] {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		out = append(out, rec(k, mb.rowValue(p, byKey[k])))
	}
	chunks := sg.st.chunks
	if len(sg.order) > 0 {
		chunks++
	}
	c := sg.counts
	out = append(out, rec(fmt.Sprintf("snap/%s/%s/%d", mb.cfg.Group, topic, p), SnapshotValue{
		Kind: "snapshot", Group: mb.cfg.Group, Topic: topic, Partition: p, NextOffset: sg.next,
		IDChunks: chunks, IDs: int64(len(sg.st.ids) + len(sg.newIDs)), Rows: int64(len(rows)),
		Read: c.Read, Accepted: c.Accepted, Rejected: c.Rejected, Duplicates: c.Duplicates, Skipped: c.Skipped,
		Period: periodName(period), ByRate: mb.cfg.Aggregate.ByRate, RulesSHA256: mb.cfg.Program.SHA256,
	}))
	return out
}

func sourceHeaders(r *kgo.Record) []kgo.RecordHeader {
	return []kgo.RecordHeader{
		{Key: "taxagg-source-topic", Value: []byte(r.Topic)},
		{Key: "taxagg-source-partition", Value: strconv.AppendInt(nil, int64(r.Partition), 10)},
		{Key: "taxagg-source-offset", Value: strconv.AppendInt(nil, r.Offset, 10)},
	}
}

// rejectValue is a dead-letter record: {"topic", "partition", "offset",
// "key", "field", "error", "record"}.
func rejectValue(r *kgo.Record, field string, err error) []byte {
	b := []byte(`{"topic":`)
	b = stream.AppendJSONString(b, r.Topic)
	b = append(b, `,"partition":`...)
	b = strconv.AppendInt(b, int64(r.Partition), 10)
	b = append(b, `,"offset":`...)
	b = strconv.AppendInt(b, r.Offset, 10)
	b = append(b, `,"key":`...)
	if r.Key == nil {
		b = append(b, "null"...)
	} else {
		b = stream.AppendJSONString(b, string(r.Key))
	}
	b = append(b, `,"field":`...)
	b = stream.AppendJSONString(b, field)
	b = append(b, `,"error":`...)
	b = stream.AppendJSONString(b, err.Error())
	b = append(b, `,"record":`...)
	b = stream.AppendJSONString(b, string(r.Value))
	return append(b, '}')
}

// checkTopics makes sure the topics exist and returns the totals topic's
// partition count.
func checkTopics(ctx context.Context, cl *kgo.Client, cfg *Config) (int32, error) {
	// A ping says at once what is wrong with the connection (refused,
	// TLS, SASL), where a request would be retried until it timed out.
	pctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	err := cl.Ping(pctx)
	cancel()
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return 0, fmt.Errorf("connect to %s: the broker closed the connection (%w): check --tls and the SASL mechanism, user and password",
				strings.Join(cfg.Brokers, ","), err)
		}
		return 0, fmt.Errorf("connect to %s: %w", strings.Join(cfg.Brokers, ","), err)
	}
	names := []string{cfg.Topic, cfg.To, cfg.Totals}
	if cfg.Rejects != "" {
		names = append(names, cfg.Rejects)
	}
	req := kmsg.NewPtrMetadataRequest()
	req.AllowAutoTopicCreation = false // a totals topic made by the broker would not be compacted
	for _, n := range names {
		t := kmsg.NewMetadataRequestTopic()
		t.Topic = kmsg.StringPtr(n)
		req.Topics = append(req.Topics, t)
	}
	var resp *kmsg.MetadataResponse
	for try := 0; ; try++ {
		mctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		resp, err = req.RequestWith(mctx, cl)
		cancel()
		if err != nil {
			return 0, fmt.Errorf("kafka metadata from %s: %w", strings.Join(cfg.Brokers, ","), err)
		}
		retry := false
		for _, t := range resp.Topics {
			if e := kerr.ErrorForCode(t.ErrorCode); e != nil && kerr.IsRetriable(e) && !errors.Is(e, kerr.UnknownTopicOrPartition) {
				retry = true
			}
		}
		if !retry || try == 10 {
			break
		}
		sleep(ctx, 200*time.Millisecond)
	}
	var parts int32
	for _, t := range resp.Topics {
		name := ""
		if t.Topic != nil {
			name = *t.Topic
		}
		if err := kerr.ErrorForCode(t.ErrorCode); err != nil {
			if errors.Is(err, kerr.UnknownTopicOrPartition) {
				return 0, fmt.Errorf("topic %q does not exist: create it first (the totals topic with cleanup.policy=compact)", name)
			}
			return 0, fmt.Errorf("topic %q: %w", name, err)
		}
		if name == cfg.Totals {
			parts = int32(len(t.Partitions))
		}
	}
	if parts == 0 {
		return 0, fmt.Errorf("topic %q has no partitions", cfg.Totals)
	}
	if policy, err := cleanupPolicy(ctx, cl, cfg.Totals); err != nil {
		cfg.Logger.Warn("could not read the totals topic's cleanup.policy", "topic", cfg.Totals, "error", err.Error())
	} else if !strings.Contains(policy, "compact") {
		cfg.Logger.Warn("the totals topic is not compacted: old totals records and superseded rows are kept until retention deletes them, and retention deleting id chunks or rows would lose state; set cleanup.policy=compact",
			"topic", cfg.Totals, "cleanup.policy", policy)
	}
	return parts, nil
}

// cleanupPolicy returns a topic's cleanup.policy.
func cleanupPolicy(ctx context.Context, cl *kgo.Client, topic string) (string, error) {
	req := kmsg.NewPtrDescribeConfigsRequest()
	res := kmsg.NewDescribeConfigsRequestResource()
	res.ResourceType = kmsg.ConfigResourceTypeTopic
	res.ResourceName = topic
	res.ConfigNames = []string{"cleanup.policy"}
	req.Resources = append(req.Resources, res)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return "", err
	}
	for _, r := range resp.Resources {
		if err := kerr.ErrorForCode(r.ErrorCode); err != nil {
			return "", err
		}
		for _, c := range r.Configs {
			if c.Name == "cleanup.policy" && c.Value != nil {
				return *c.Value, nil
			}
		}
	}
	return "", errors.New("not in the answer")
}

// ensureState makes sure every input partition of the batch has its state
// at the group's committed offset: the cached state if it is there, else
// restored from the totals topic.
func (mb *member) ensureState(ctx context.Context, cl *kgo.Client, recs []*kgo.Record) error {
	committed := cl.CommittedOffsets()[mb.cfg.Topic]
	need := map[int32]int64{}
	mb.mu.Lock()
	for _, r := range recs {
		if r.Topic != mb.cfg.Topic {
			continue
		}
		st := mb.parts[r.Partition]
		if st != nil && st.verified {
			continue
		}
		o := int64(-1)
		if eo, ok := committed[r.Partition]; ok {
			o = eo.Offset
		}
		if st != nil && st.next == o && o >= 0 {
			st.verified = true // the cache is what was committed last
			continue
		}
		if st != nil && st.next < 0 && o < 0 {
			st.verified = true
			continue
		}
		need[r.Partition] = o
	}
	mb.mu.Unlock()
	if len(need) == 0 {
		return nil
	}
	start := time.Now()
	got, err := mb.restore(ctx, need)
	if err != nil {
		return err
	}
	mb.mu.Lock()
	for p, st := range got {
		st.verified = true
		mb.parts[p] = st
		mb.m.restores.Add(1)
		mb.log.Info("partition state restored from the totals topic", "topic", mb.cfg.Topic, "partition", p,
			"offset", st.next, "ids", len(st.ids), "rows", len(st.acc.Sums()), "seconds", time.Since(start).Seconds())
	}
	mb.mu.Unlock()
	return nil
}

// restoring is one partition's restore in progress.
type restoring struct {
	want   int64 // the committed offset, -1 for none
	tp     int32
	rows   map[string]*RowValue
	ids    map[string]idEntry
	chunks map[string]bool
	snap   *SnapshotValue // the last one read
	done   *partState
}

// restore reads the partitions' state from the totals topic.
func (mb *member) restore(ctx context.Context, need map[int32]int64) (map[int32]*partState, error) {
	ctx, cancel := context.WithTimeout(ctx, mb.cfg.RestoreTimeout)
	defer cancel()
	rs := map[int32]*restoring{}
	tps := map[int32]bool{}
	for p, o := range need {
		tp := p % mb.totalsParts
		rs[p] = &restoring{want: o, tp: tp, rows: map[string]*RowValue{}, ids: map[string]idEntry{}, chunks: map[string]bool{}}
		tps[tp] = true
	}
	cl, err := kgo.NewClient(append(mb.commonOpts(),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.FetchMaxWait(100*time.Millisecond),
	)...)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	ends, err := listEnds(ctx, cl, mb.cfg.Totals, tps)
	if err != nil {
		return nil, err
	}
	offsets := map[int32]kgo.Offset{}
	for tp := range tps {
		offsets[tp] = kgo.NewOffset().AtStart()
	}
	cl.AddConsumePartitions(map[string]map[int32]kgo.Offset{mb.cfg.Totals: offsets})
	// A partition without a committed offset is read to the end of its
	// totals partition as it was when the restore began, to make sure it
	// has no state there.
	reached := map[int32]bool{}
	for tp := range tps {
		reached[tp] = ends[tp] <= 0
	}
	gotData := map[int32]bool{}
	empty := 0
	for {
		pending := 0
		for p, r := range rs {
			if r.done != nil {
				continue
			}
			if r.want < 0 && reached[r.tp] {
				if r.snap != nil {
					return nil, fmt.Errorf("the totals topic %q holds state for %s/%d (up to offset %d) but the group %q has no committed offset for it: the group's offsets were deleted or expired; counting the partition again would count its records twice",
						mb.cfg.Totals, mb.cfg.Topic, p, r.snap.NextOffset, mb.cfg.Group)
				}
				r.done = newPartState(mb.cfg.Aggregate)
				continue
			}
			pending++
		}
		if pending == 0 {
			break
		}
		if ctx.Err() != nil {
			return nil, mb.restoreTimeout(rs)
		}
		pctx, pcancel := context.WithTimeout(ctx, 300*time.Millisecond)
		fetches := cl.PollFetches(pctx)
		pcancel()
		var ferr error
		fetches.EachError(func(_ string, _ int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
				ferr = err
			}
		})
		if ferr != nil {
			mb.log.Warn("reading the totals topic", "error", ferr.Error())
		}
		n := 0
		var perr error
		fetches.EachRecord(func(rec *kgo.Record) {
			n++
			if rec.Offset >= ends[rec.Partition]-1 {
				reached[rec.Partition] = true
			}
			if perr == nil {
				perr = mb.restoreRecord(rs, rec)
			}
		})
		if perr != nil {
			return nil, perr
		}
		fetches.EachPartition(func(fp kgo.FetchTopicPartition) {
			if len(fp.Records) > 0 {
				gotData[fp.Partition] = true
			}
		})
		if n > 0 {
			empty = 0
			continue
		}
		// A poll that waited three fetch rounds for nothing: what is left
		// before the end are transaction markers. (A partition none of
		// whose records came yet gets a second poll.)
		empty++
		for tp := range tps {
			if gotData[tp] || empty >= 2 {
				reached[tp] = true
			}
		}
	}
	out := map[int32]*partState{}
	for p, r := range rs {
		out[p] = r.done
	}
	return out, nil
}

func (mb *member) restoreTimeout(rs map[int32]*restoring) error {
	for p, r := range rs {
		if r.done != nil {
			continue
		}
		found := "no snapshot"
		if r.snap != nil {
			found = fmt.Sprintf("its last snapshot is at offset %d", r.snap.NextOffset)
		}
		return fmt.Errorf("restore %s/%d from the totals topic %q: the group committed offset %d, %s (after %s): is this the group's totals topic?",
			mb.cfg.Topic, p, mb.cfg.Totals, r.want, found, mb.cfg.RestoreTimeout)
	}
	return errors.New("restore timed out")
}

// restoreRecord applies one totals record to the restore it belongs to.
func (mb *member) restoreRecord(rs map[int32]*restoring, rec *kgo.Record) error {
	key := string(rec.Key)
	kind, rest, _ := strings.Cut(key, "/")
	prefix := mb.cfg.Group + "/" + mb.cfg.Topic + "/"
	if !strings.HasPrefix(rest, prefix) {
		return nil
	}
	pstr, _, _ := strings.Cut(rest[len(prefix):], "/")
	p64, err := strconv.ParseInt(pstr, 10, 32)
	if err != nil {
		return nil
	}
	r := rs[int32(p64)]
	if r == nil || r.done != nil {
		return nil
	}
	bad := func(err error) error {
		return fmt.Errorf("totals topic %q, partition %d, offset %d (%s): %w", mb.cfg.Totals, rec.Partition, rec.Offset, key, err)
	}
	switch kind {
	case "row":
		var v RowValue
		if err := json.Unmarshal(rec.Value, &v); err != nil {
			return bad(err)
		}
		r.rows[key] = &v
	case "ids":
		var v idsValue
		if err := json.Unmarshal(rec.Value, &v); err != nil {
			return bad(err)
		}
		r.chunks[key] = true
		for _, e := range v.IDs {
			d, err := strconv.ParseUint(e.Digest, 16, 64)
			if err != nil || len(e.Digest) != 16 {
				return bad(fmt.Errorf("digest %q is not 16 hex digits", e.Digest))
			}
			r.ids[e.ID] = idEntry{digest: d, offset: e.Offset}
		}
	case "snap":
		var v SnapshotValue
		if err := json.Unmarshal(rec.Value, &v); err != nil {
			return bad(err)
		}
		r.snap = &v
		if r.want >= 0 && v.NextOffset == r.want {
			st, err := mb.restoredState(int32(p64), r)
			if err != nil {
				return bad(err)
			}
			r.done = st
		} else if r.want >= 0 && v.NextOffset > r.want {
			return bad(fmt.Errorf("the snapshot is at offset %d, past the group's committed offset %d: another group or a second run writes to this totals topic", v.NextOffset, r.want))
		}
	}
	return nil
}

// restoredState checks what was read against the snapshot and builds the
// partition's state.
func (mb *member) restoredState(p int32, r *restoring) (*partState, error) {
	s := r.snap
	if want := periodName(mb.cfg.Aggregate.Period); s.Period != want || s.ByRate != mb.cfg.Aggregate.ByRate {
		return nil, fmt.Errorf("the totals were kept with period %s, by_rate %v; this run has period %s, by_rate %v",
			s.Period, s.ByRate, want, mb.cfg.Aggregate.ByRate)
	}
	if int64(len(r.chunks)) != s.IDChunks || int64(len(r.ids)) != s.IDs || int64(len(r.rows)) != s.Rows {
		return nil, fmt.Errorf("the snapshot counts %d id chunks, %d ids and %d rows; the topic holds %d, %d and %d",
			s.IDChunks, s.IDs, s.Rows, len(r.chunks), len(r.ids), len(r.rows))
	}
	if s.RulesSHA256 != mb.cfg.Program.SHA256 {
		mb.log.Warn("the partition's totals were computed with other rules", "topic", mb.cfg.Topic, "partition", p,
			"was_rules_sha256", s.RulesSHA256, "rules_sha256", mb.cfg.Program.SHA256)
	}
	st := newPartState(mb.cfg.Aggregate)
	st.next, st.ids, st.chunks = s.NextOffset, r.ids, s.IDChunks
	st.counts = Counts{Read: s.Read, Accepted: s.Accepted, Rejected: s.Rejected, Duplicates: s.Duplicates, Skipped: s.Skipped}
	for _, v := range r.rows {
		rs, err := mb.rowSums(v)
		if err == nil {
			err = st.acc.Restore(rs)
		}
		if err != nil {
			return nil, err
		}
	}
	return st, nil
}

// listEnds returns the last stable offsets of the topic's partitions.
func listEnds(ctx context.Context, cl *kgo.Client, topic string, parts map[int32]bool) (map[int32]int64, error) {
	req := kmsg.NewPtrListOffsetsRequest()
	req.IsolationLevel = 1
	t := kmsg.NewListOffsetsRequestTopic()
	t.Topic = topic
	for p := range parts {
		lp := kmsg.NewListOffsetsRequestTopicPartition()
		lp.Partition = p
		lp.Timestamp = -1
		t.Partitions = append(t.Partitions, lp)
	}
	req.Topics = append(req.Topics, t)
	shards := cl.RequestSharded(ctx, req)
	out := map[int32]int64{}
	for _, sh := range shards {
		if sh.Err != nil {
			return nil, fmt.Errorf("list offsets of %q: %w", topic, sh.Err)
		}
		for _, rt := range sh.Resp.(*kmsg.ListOffsetsResponse).Topics {
			for _, rp := range rt.Partitions {
				if err := kerr.ErrorForCode(rp.ErrorCode); err != nil {
					return nil, fmt.Errorf("list offsets of %s/%d: %w", topic, rp.Partition, err)
				}
				out[rp.Partition] = rp.Offset
			}
		}
	}
	return out, nil
}
