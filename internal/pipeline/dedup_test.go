package pipeline

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/taxagg/taxagg/internal/stream"
	"github.com/taxagg/taxagg/internal/txn"
)

// acceptSink records every accepted record (source, line, id, amount).
type acceptSink struct {
	mu  sync.Mutex
	got []string
}

func (s *acceptSink) NewWorker() WorkerSink { return acceptWorker{s} }
func (s *acceptSink) Ordered() bool         { return false }
func (s *acceptSink) Emit(*Item) error      { return nil }

type acceptWorker struct{ s *acceptSink }

func (acceptWorker) Render(*Item) {}
func (w acceptWorker) Accept(it *Item) {
	w.s.mu.Lock()
	w.s.got = append(w.s.got, fmt.Sprintf("%s:%d %s %s", it.Source, it.Line, it.Tx.ID, it.Tx.Lines[0].Amount))
	w.s.mu.Unlock()
}

// TestDuplicatesByInputPosition runs inputs full of replays and
// conflicting replays, near each other (in the same batch or the next
// ones, where parallel workers claim ids out of input order) and far
// apart, through any number of workers, and checks every verdict against
// the serial reference: txn.Dedup.CheckHash over the records in input
// order. The second input is a JSON array on one line, so that records of
// one id share a position and only the batch order tells them apart.
func TestDuplicatesByInputPosition(t *testing.T) {
	rng := rand.New(rand.NewPCG(14, 3))
	rec := func(id, amount int) string {
		return fmt.Sprintf(`{"id":"t%d","date":"2026-01-05","currency":"USD","amount":"%d.00","country":"US","state":"TX"}`, id, amount)
	}
	var nd strings.Builder
	var texts [][]string // per input, the records in order
	var ids []string
	for i := range 6000 {
		id := i
		switch r := rng.IntN(10); {
		case r < 3:
			id = max(0, i-rng.IntN(300)) // a replay of a recent id
		case r < 4:
			id = rng.IntN(6000) // of any id, even one still to come
		}
		s := rec(id, 1+rng.IntN(2))
		nd.WriteString(s + "\n")
		ids = append(ids, s)
	}
	texts = append(texts, ids)
	var arr []string
	for range 2000 {
		arr = append(arr, rec(rng.IntN(6500), 1+rng.IntN(2)))
	}
	texts = append(texts, arr)
	inputs := func() []Input {
		return []Input{
			{Name: "a.ndjson", R: strings.NewReader(nd.String())},
			{Name: "b.json", R: strings.NewReader("[" + strings.Join(arr, ",") + "]\n")},
		}
	}

	// The reference.
	p := newParser()
	d := txn.NewDedup(0)
	var wantRejects bytes.Buffer
	var wantAccepted []string
	var want Counts
	names := []string{"a.ndjson", "b.json"}
	for src, recs := range texts {
		for i, text := range recs {
			line := i + 1
			if src == 1 {
				line = 1
			}
			var tx txn.Transaction
			if err := p.ParseJSON([]byte(text), &tx); err != nil {
				t.Fatal(err)
			}
			want.Read++
			v, first := d.CheckHash(tx.IDHash, tx.ContentHash, txn.Pos{Source: src, Line: line})
			switch v {
			case txn.New:
				want.Accepted++
				wantAccepted = append(wantAccepted, fmt.Sprintf("%s:%d %s %s", names[src], line, tx.ID, tx.Lines[0].Amount))
			case txn.Duplicate:
				want.Duplicates++
			default:
				want.Rejected++
				it := &Item{Source: names[src], Line: line, Text: []byte(text), field: "id"}
				if first.Source == src {
					it.err = fmt.Errorf("conflicting duplicate of line %d", first.Line)
				} else {
					it.err = fmt.Errorf("conflicting duplicate of %s:%d", names[first.Source], first.Line)
				}
				if err := writeReject(&wantRejects, it); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	slices.Sort(wantAccepted)
	if want.Duplicates == 0 || want.Rejected == 0 {
		t.Fatalf("the input has no duplicates or no conflicts: %+v", want)
	}

	for _, workers := range []int{1, 2, 3, 8, 32} {
		for round := range 3 {
			sink := &acceptSink{}
			var rejects bytes.Buffer
			got, err := Run(context.Background(), inputs(), Options{
				Program: compile(t), Format: stream.FormatAuto, Workers: workers,
				Rejects: &rejects, MaxRejects: -1,
			}, sink)
			if err != nil {
				t.Fatal(err)
			}
			if got.Read != want.Read || got.Accepted != want.Accepted || got.Duplicates != want.Duplicates || got.Rejected != want.Rejected {
				t.Fatalf("workers %d round %d: counts %+v, want %+v", workers, round, got, want)
			}
			if rejects.String() != wantRejects.String() {
				t.Fatalf("workers %d round %d: rejects differ from the reference", workers, round)
			}
			slices.Sort(sink.got)
			if !slices.Equal(sink.got, wantAccepted) {
				t.Fatalf("workers %d round %d: accepted records differ from the reference", workers, round)
			}
		}
	}
}
