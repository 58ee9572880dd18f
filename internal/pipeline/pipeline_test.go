package pipeline

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/taxagg/taxagg/internal/rules"
	"github.com/taxagg/taxagg/internal/stream"
)

func TestDedupHint(t *testing.T) {
	for _, tc := range []struct {
		sizes []int64
		want  int
	}{
		{nil, 0},
		{[]int64{0}, 0},                // stdin: unknown
		{[]int64{255}, 0},              // less than one record's worth
		{[]int64{256 * 1000, 0}, 1000}, // a file and stdin
		{[]int64{256 * 600, 256 * 400}, 1000},
		{[]int64{-1, 256 * 10}, 10},      // a nonsense size counts as unknown
		{[]int64{1 << 40}, maxDedupHint}, // a huge file reserves at most the cap
	} {
		var ins []Input
		for _, s := range tc.sizes {
			ins = append(ins, Input{Size: s})
		}
		if got := dedupHint(ins); got != tc.want {
			t.Errorf("dedupHint(%v) = %d, want %d", tc.sizes, got, tc.want)
		}
	}
}

// TestRecordsHint checks the duplicate set's second sizing, from the
// first batch's records: the inputs' sizes over its bytes per record, and
// no guess for gzip input or an input of unknown size.
func TestRecordsHint(t *testing.T) {
	row := strings.Repeat("x", 99) // 100 bytes with its line end
	plain := strings.Repeat(row+"\n", 10)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(plain))
	zw.Close()
	for _, tc := range []struct {
		name  string
		data  []byte
		sizes []int64
		want  int
	}{
		{"plain", []byte(plain), []int64{100 * 5000}, 5000},
		{"two files", []byte(plain), []int64{100 * 3000, 100 * 2000}, 5000},
		{"stdin too", []byte(plain), []int64{100 * 3000, 0}, 0},
		{"gzip", gz.Bytes(), []int64{int64(gz.Len()) * 1000}, 0},
		{"huge", []byte(plain), []int64{1 << 50}, maxDedupHint},
	} {
		r, err := stream.Open("in.csv", bytes.NewReader(tc.data), stream.FormatCSV, stream.Options{})
		if err != nil {
			t.Fatal(err)
		}
		var b stream.Batch
		if err := r.ReadBatch(&b, batchSize); err != nil {
			t.Fatal(err)
		}
		var ins []Input
		for _, s := range tc.sizes {
			ins = append(ins, Input{Size: s})
		}
		if got := recordsHint(ins, r, &b); got != tc.want {
			t.Errorf("%s: recordsHint = %d, want %d (%d records read)", tc.name, got, tc.want, b.Len())
		}
	}
}

// TestNextItemResets fills every field of an item, hands its slot to
// nextItem and checks that each field is back to its zero value but for
// the buffers kept for reuse (emptied): a field added to Item and not
// reset would carry one record's state into the next.
func TestNextItemResets(t *testing.T) {
	b := &batch{items: make([]Item, 1)}
	it := &b.items[0]
	v := reflect.ValueOf(it).Elem()
	for i := range v.NumField() {
		f := v.Field(i)
		f = reflect.NewAt(f.Type(), f.Addr().UnsafePointer()).Elem() // unexported fields too
		switch f.Kind() {
		case reflect.String:
			f.SetString("x")
		case reflect.Int, reflect.Uint8:
			if f.CanInt() {
				f.SetInt(3)
			} else {
				f.SetUint(3)
			}
		case reflect.Bool:
			f.SetBool(true)
		case reflect.Slice:
			f.Set(reflect.MakeSlice(f.Type(), 1, 1))
		case reflect.Interface:
			f.Set(reflect.ValueOf(errors.New("x")))
		case reflect.Struct:
			// Tx and Result: their own Reset and the truncations below.
		default:
			t.Fatalf("field %s of kind %s: teach this test to fill it", v.Type().Field(i).Name, f.Kind())
		}
	}
	it.Tx.ID = "x"
	it.Result.Lines = make([]rules.TaxLine, 1)
	b.items = b.items[:0]
	got := nextItem(b)
	if got != it {
		t.Fatal("nextItem did not reuse the slot")
	}
	kept := map[string]bool{"Fields": true, "Out": true, "Conv": true}
	for i := range v.NumField() {
		name := v.Type().Field(i).Name
		f := v.Field(i)
		switch {
		case f.Kind() == reflect.Struct:
		case kept[name]:
			if f.Len() != 0 || f.Cap() == 0 {
				t.Errorf("%s: len %d cap %d, want emptied and kept", name, f.Len(), f.Cap())
			}
		case !f.IsZero():
			t.Errorf("%s not reset", name)
		}
	}
	if it.Tx.ID != "" || len(it.Result.Lines) != 0 {
		t.Errorf("transaction or result not reset")
	}
}

// fieldsSink checks, in Render, that a record's Fields are its own: the
// "id" member's value is the parsed id.
type fieldsSink struct {
	mu    sync.Mutex
	wrong []string
	seen  int
}

func (s *fieldsSink) NewWorker() WorkerSink { return fieldsWorker{s} }
func (s *fieldsSink) Ordered() bool         { return false }
func (s *fieldsSink) Emit(*Item) error      { return nil }

type fieldsWorker struct{ s *fieldsSink }

func (fieldsWorker) Accept(*Item) {}
func (w fieldsWorker) Render(it *Item) {
	id := ""
	for _, f := range it.Fields {
		if string(f.Key) == "id" {
			id = strings.Trim(string(f.Value), `"`)
		}
	}
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	w.s.seen++
	if id != it.Tx.ID {
		w.s.wrong = append(w.s.wrong, fmt.Sprintf("line %d: Fields of %q, transaction %q", it.Line, id, it.Tx.ID))
	}
}

// TestRenderFieldsAreTheRecords checks Options.RenderFields: a worker
// parses a whole batch before it renders any record, so each item must
// keep its own fields (the parser's last until its next parse).
func TestRenderFieldsAreTheRecords(t *testing.T) {
	var in strings.Builder
	const n = 3*batchSize + 5
	for i := range n {
		// Some records write keys with escapes. Those are decoded into
		// the parser's scratch space, which the next parse reuses: a
		// record's "date" there overwrites the "id" an earlier one's
		// Fields would still point at.
		id, date := `"id"`, `"date"`
		switch i % 6 {
		case 0:
			id, date = `"\u0069d"`, `"d\u0061te"`
		case 3:
			date = `"d\u0061te"`
		}
		fmt.Fprintf(&in, `{%s:"t%d",%s:"2026-01-05","currency":"USD","amount":"1.00","country":"US","state":"TX"}`+"\n", id, i, date)
	}
	for _, workers := range []int{1, 3} {
		sink := &fieldsSink{}
		c, err := Run(context.Background(), []Input{{Name: "in.ndjson", R: strings.NewReader(in.String())}},
			Options{Program: compile(t), Workers: workers, RenderFields: true}, sink)
		if err != nil {
			t.Fatal(err)
		}
		if c.Accepted != n || sink.seen != n {
			t.Fatalf("workers %d: accepted %d, rendered %d, want %d", workers, c.Accepted, sink.seen, n)
		}
		if len(sink.wrong) > 0 {
			t.Fatalf("workers %d: %d records rendered with another's fields, first %s", workers, len(sink.wrong), sink.wrong[0])
		}
	}
}

// runWithRejects runs NDJSON input through sink with a rejects file, and
// checks that the input did have rejects and duplicates for the test.
func runWithRejects(t *testing.T, input string, workers int, sink Sink) {
	t.Helper()
	var rejects strings.Builder
	c, err := Run(context.Background(), []Input{{Name: "in.ndjson", R: strings.NewReader(input)}},
		Options{Program: compile(t), Workers: workers, Rejects: &rejects, MaxRejects: -1}, sink)
	if err != nil {
		t.Fatal(err)
	}
	if c.Rejected == 0 || c.Duplicates == 0 {
		t.Fatalf("counts %+v: the input should have rejects and duplicates", c)
	}
}

// prefetchSink records what goes wrong in the order of PrefetchRender and
// Render, PrefetchAccept and Accept calls.
type prefetchSink struct {
	mu     sync.Mutex
	events []string
}

func (s *prefetchSink) NewWorker() WorkerSink { return &prefetchWorker{s: s} }
func (s *prefetchSink) Ordered() bool         { return false }
func (s *prefetchSink) Emit(*Item) error      { return nil }

func (s *prefetchSink) wrong(format string, args ...any) {
	s.mu.Lock()
	s.events = append(s.events, fmt.Sprintf(format, args...))
	s.mu.Unlock()
}

type prefetchWorker struct {
	s                *prefetchSink
	render, accepted handoff
}

// handoff is one prefetcher's protocol: the items handed over must each
// be fit for the call that follows, and each item of that call must have
// been handed over first.
type handoff map[*Item]bool

func (h *handoff) hand(s *prefetchSink, items []*Item, fit func(*Item) bool, call string) {
	*h = handoff{}
	for _, it := range items {
		if !fit(it) {
			s.wrong("line %d handed to Prefetch%s unfit for it", it.Line, call)
		}
		(*h)[it] = true
	}
}

func (h handoff) use(s *prefetchSink, it *Item, call string) {
	if !h[it] {
		s.wrong("line %d: %s without a Prefetch%[2]s first", it.Line, call)
	}
	delete(h, it)
}

func (w *prefetchWorker) PrefetchRender(items []*Item) {
	w.render.hand(w.s, items, func(it *Item) bool { return it.err == nil }, "Render")
}
func (w *prefetchWorker) Render(it *Item) { w.render.use(w.s, it, "Render") }
func (w *prefetchWorker) PrefetchAccept(items []*Item) {
	w.accepted.hand(w.s, items, func(it *Item) bool { return it.verdict == vAccepted }, "Accept")
}
func (w *prefetchWorker) Accept(it *Item) { w.accepted.use(w.s, it, "Accept") }

// TestPrefetchers checks that a worker hands a RenderPrefetcher each
// batch's evaluated records before it renders any, and an
// AcceptPrefetcher each settled batch's accepted records, and only those,
// before it accepts any.
func TestPrefetchers(t *testing.T) {
	var in strings.Builder
	const n = 5*batchSize + 7
	for i := range n {
		if i%10 == 3 {
			in.WriteString("{not json\n") // rejected: never handed over
			continue
		}
		fmt.Fprintf(&in, `{"id":"t%d","date":"2026-01-05","currency":"USD","amount":"1.00","country":"US","state":"TX"}`+"\n", i%(n-40))
	}
	for _, workers := range []int{1, 2} {
		sink := &prefetchSink{}
		runWithRejects(t, in.String(), workers, sink)
		if len(sink.events) > 0 {
			t.Fatalf("workers %d: %d wrong calls, first: %s", workers, len(sink.events), sink.events[0])
		}
	}
}

// lineSink renders each record as its id on a line, some padded past the
// batch's render buffer, and writes the accepted ones as calc does: runs
// of records that lie one after another, held until EndBatch.
type lineSink struct {
	out          strings.Builder
	held         [][]byte // Out of the records emitted since the last EndBatch
	want         []string // what each held Out said when it was emitted
	runs, emits  int
	wrong        []string
	endedBatches int
}

func (s *lineSink) NewWorker() WorkerSink { return lineWorker{} }
func (s *lineSink) Ordered() bool         { return true }

func (s *lineSink) Emit(it *Item) error {
	s.emits++
	if n := len(s.held); n == 0 || !Follows(s.held[n-1], it.Out) {
		s.runs++
	}
	s.held = append(s.held, it.Out)
	s.want = append(s.want, string(it.Out))
	return nil
}

func (s *lineSink) EndBatch() error {
	s.endedBatches++
	for i, out := range s.held {
		if string(out) != s.want[i] {
			s.wrong = append(s.wrong, fmt.Sprintf("%q became %q before EndBatch", s.want[i], out))
		}
		s.out.Write(out)
	}
	s.held, s.want = s.held[:0], s.want[:0]
	return nil
}

type lineWorker struct{}

func (lineWorker) Accept(*Item) {}
func (lineWorker) Render(it *Item) {
	it.Out = append(it.Out[:0], it.Tx.ID...)
	if it.Line%97 == 0 {
		it.Out = append(it.Out, strings.Repeat(" ", 3000)...) // more than a batch buffer sized by the first batch holds
	}
	it.Out = append(it.Out, '\n')
}

// TestBatchEmitter checks that a batch's rendered records lie one after
// another in memory, stay intact until EndBatch, and come out in input
// order, accepted records only, for any number of workers.
func TestBatchEmitter(t *testing.T) {
	var in, want strings.Builder
	const n = 6*batchSize + 11
	seen := map[string]bool{}
	for i := range n {
		line := i + 1
		if i%10 == 3 {
			in.WriteString("{not json\n")
			continue
		}
		id := fmt.Sprintf("t%d", i%(n-50))
		fmt.Fprintf(&in, `{"id":"%s","date":"2026-01-05","currency":"USD","amount":"1.00","country":"US","state":"TX"}`+"\n", id)
		if !seen[id] {
			seen[id] = true
			want.WriteString(id)
			if line%97 == 0 {
				want.WriteString(strings.Repeat(" ", 3000))
			}
			want.WriteByte('\n')
		}
	}
	for _, workers := range []int{1, 3} {
		sink := &lineSink{}
		runWithRejects(t, in.String(), workers, sink)
		if len(sink.wrong) > 0 {
			t.Fatalf("workers %d: %d records changed before EndBatch, first: %s", workers, len(sink.wrong), sink.wrong[0])
		}
		if sink.out.String() != want.String() {
			t.Fatalf("workers %d: output differs from the accepted records in input order", workers)
		}
		if sink.endedBatches < n/batchSize {
			t.Errorf("workers %d: EndBatch called %d times for %d batches", workers, sink.endedBatches, n/batchSize+1)
		}
		// Rejects, duplicates and spilled records cut runs; the rest are
		// one run per batch.
		if sink.runs > sink.emits/4 {
			t.Errorf("workers %d: %d emits in %d runs: the batch's records are not one after another", workers, sink.emits, sink.runs)
		}
	}
}
