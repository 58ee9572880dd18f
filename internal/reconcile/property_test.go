package reconcile

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
)

// genExports builds two overlapping exports with every kind of finding:
// equal pairs, differing pairs, one-sided records, duplicates (some
// groupable), records in several currencies, and near-twins for --fuzzy.
func genExports(seed uint64, n int) (a, b []cr) {
	rng := rand.New(rand.NewPCG(seed, seed^0x5eed))
	curs := []struct {
		code string
		dig  int
	}{{"USD", 2}, {"JPY", 0}, {"BHD", 3}, {"EUR", 2}}
	amount := func(dig int) string {
		v := decimal.New(int64(rng.IntN(5000)+1), -int32(dig))
		return v.StringFixed(int32(dig))
	}
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	states := []string{"paid", "open", "void", "refunded"}
	for i := 0; i < n; i++ {
		c := curs[rng.IntN(len(curs))]
		r := cr{ID: fmt.Sprintf("k%05d", i), Customer: fmt.Sprintf("cus_%d", rng.IntN(n/8+1)), Currency: c.code,
			Amount: amount(c.dig), Tax: amount(c.dig), State: states[rng.IntN(2)],
			Date:    base.Add(time.Duration(rng.IntN(30*24)) * time.Hour).Format(time.RFC3339),
			Updated: base.Add(time.Duration(rng.IntN(60*24)) * time.Hour).Format(time.RFC3339)}
		if rng.IntN(5) == 0 {
			r.Updated = ""
		}
		r2 := r
		switch k := rng.IntN(20); {
		case k < 8: // equal
		case k < 10:
			r2.Amount = amount(c.dig)
		case k < 11:
			r2.State = states[2+rng.IntN(2)]
		case k < 12:
			r2.Date = base.Add(time.Duration(rng.IntN(30*24)) * time.Hour).Format(time.RFC3339)
		case k < 13:
			a = append(a, r)
			continue
		case k < 14:
			b = append(b, r2)
			continue
		case k < 16: // a near-twin under another key
			r2.ID = fmt.Sprintf("z%05d", i)
			r2.Date = base.Add(time.Duration(rng.IntN(30*24)) * time.Hour).Format(time.RFC3339)
		case k < 17: // duplicates on A (split amounts)
			half := r
			half.Updated = ""
			a = append(a, half)
		case k < 18: // duplicates on B, one in another currency
			d := r2
			d.Currency, d.Amount, d.Tax = "USD", "1.00", "0.00"
			b = append(b, d)
		}
		a = append(a, r)
		b = append(b, r2)
	}
	return a, b
}

func shuffled(rs []cr, seed uint64) []cr {
	out := slices.Clone(rs)
	rng := rand.New(rand.NewPCG(seed, 7))
	rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

type runOut struct {
	ledger, review, report string
	rows                   []*Row
	res                    *Result
}

func runAll(t *testing.T, opts Options, a, b []cr) runOut {
	t.Helper()
	var ledger, review, report bytes.Buffer
	var o runOut
	res, err := run(context.Background(), opts,
		Input{Name: "a.ndjson", R: strings.NewReader(ndjsonOf(a...))},
		Input{Name: "b.ndjson", R: strings.NewReader(ndjsonOf(b...))},
		Outputs{Ledger: &ledger, Review: &review, Report: &report},
		func(r *Row) { o.rows = append(o.rows, r) })
	if err != nil {
		t.Fatal(err)
	}
	o.ledger, o.review, o.report, o.res = ledger.String(), review.String(), report.String(), res
	return o
}

func propertyOptions() []Options {
	var out []Options
	for _, fuzzy := range []bool{false, true} {
		for _, dups := range []Duplicates{DupReport, DupGroup} {
			for _, prefer := range []Prefer{PreferA, PreferB} {
				o := baseOptions()
				o.Fuzzy, o.Duplicates, o.Prefer = fuzzy, dups, prefer
				if fuzzy {
					o.AmountTolerance = decimal.New(1, -2)
				}
				out = append(out, o)
			}
		}
	}
	return out
}

func optName(o Options) string {
	return fmt.Sprintf("fuzzy=%v,dups=%d,prefer=%d", o.Fuzzy, o.Duplicates, o.Prefer)
}

// Every input record appears exactly once in the ledger (in the records
// behind its rows), and the ledger's totals are the chosen side's totals.
func TestPropertyExactlyOnceAndTotals(t *testing.T) {
	a, b := genExports(1, 400)
	for _, opts := range propertyOptions() {
		t.Run(optName(opts), func(t *testing.T) {
			o := runAll(t, opts, a, b)
			seen := map[[2]int64]int{}
			chosen := Totals{}
			for _, r := range o.rows {
				for _, x := range r.A() {
					seen[[2]int64{0, x.position()}]++
				}
				for _, x := range r.B() {
					seen[[2]int64{1, x.position()}]++
				}
				side := r.A()
				switch {
				case r.Status == StatusOnlyB || (r.Status == StatusDuplicate && r.Source() == "b"):
					side = r.B()
				case (r.Status == StatusMatch || r.Status == StatusDiff) && opts.Prefer == PreferB:
					side = r.B()
				}
				for _, x := range side {
					chosen.add(x.Currency(), x.Amount(), x.Tax())
				}
			}
			if int64(len(seen)) != o.res.ReadA+o.res.ReadB || o.res.ReadA != int64(len(a)) || o.res.ReadB != int64(len(b)) {
				t.Errorf("ledger holds %d records, read %d + %d (inputs %d + %d)", len(seen), o.res.ReadA, o.res.ReadB, len(a), len(b))
			}
			for k, n := range seen {
				if n != 1 {
					t.Errorf("record %v appears %d times", k, n)
				}
			}
			chosen.finish()
			for cur, x := range o.res.Ledger {
				c := chosen[cur]
				if c == nil || !c.Amount.Equal(x.Amount) || !c.Tax.Equal(x.Tax) {
					t.Errorf("%s: ledger totals %s/%s, chosen side's %v", cur, x.Amount, x.Tax, c)
				}
			}
			var rows int64
			for _, c := range o.res.Counts {
				rows += c
			}
			if rows != int64(len(o.rows)) {
				t.Errorf("counts add to %d, ledger has %d rows", rows, len(o.rows))
			}
			if o.res.Counts[StatusMatch] == 0 || o.res.Findings() == 0 {
				t.Errorf("generator gave a degenerate case: %v", o.res.Counts)
			}
			if opts.Fuzzy && o.res.FuzzyPairs == 0 {
				t.Errorf("no fuzzy pairs")
			}
			if opts.Duplicates == DupGroup && o.res.Groups == 0 {
				t.Errorf("no groups")
			}
		})
	}
}

// The ledger is the same for every input order.
func TestPropertyInputOrder(t *testing.T) {
	a, b := genExports(2, 300)
	for _, opts := range propertyOptions() {
		want := runAll(t, opts, a, b)
		for seed := uint64(1); seed <= 3; seed++ {
			got := runAll(t, opts, shuffled(a, seed), shuffled(b, seed+10))
			if got.ledger != want.ledger {
				t.Fatalf("%s: ledger differs after shuffling (seed %d):\n%s", optName(opts), seed, firstDiff(want.ledger, got.ledger))
			}
		}
	}
}

// Swapping A and B swaps only_a/only_b, id_a/id_b, source a/b and a/b in
// diffs, and nothing else (with --prefer swapped too).
func TestPropertySwap(t *testing.T) {
	a, b := genExports(3, 300)
	for _, opts := range propertyOptions() {
		ab := runAll(t, opts, a, b)
		sw := opts
		sw.Prefer = PreferB - opts.Prefer
		ba := runAll(t, sw, b, a)
		want := canonLines(decodeLedger(t, ab.ledger), false)
		got := canonLines(decodeLedger(t, ba.ledger), true)
		if want != got {
			t.Fatalf("%s: swapped ledger differs:\n%s", optName(opts), firstDiff(want, got))
		}
	}
}

func canonLines(rows []ledgerRow, swap bool) string {
	lines := make([]string, len(rows))
	for i, r := range rows {
		if swap {
			r.IDA, r.IDB = r.IDB, r.IDA
			switch r.Source {
			case "a":
				r.Source = "b"
			case "b":
				r.Source = "a"
			}
			switch r.Status {
			case "only_a":
				r.Status = "only_b"
			case "only_b":
				r.Status = "only_a"
			}
			for j := range r.Diffs {
				r.Diffs[j].A, r.Diffs[j].B = r.Diffs[j].B, r.Diffs[j].A
			}
		}
		lines[i] = fmt.Sprintf("%+v", r)
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

// A tiny --memory forces spilling (with nested splits); the ledger, review
// queue and report are the same as in memory, and no temporary file is
// left behind.
func TestSpillMatchesMemory(t *testing.T) {
	a, b := genExports(4, 400)
	for _, opts := range propertyOptions() {
		// Both preferences: a run file keeps only what the row shows of
		// the other side.
		mem := runAll(t, opts, a, b)
		if mem.res.Partitions != 0 {
			t.Fatalf("default budget spilled")
		}
		for _, budget := range []int64{1, 64 << 10} {
			sp := opts
			sp.Memory = budget
			if budget == 1 && opts.Fuzzy && opts.Duplicates == DupGroup {
				sp.splitMin = 16 // nested splits too
			}
			sp.TempDir = t.TempDir()
			got := runAll(t, sp, a, b)
			if got.res.Partitions == 0 {
				t.Fatalf("--memory %d did not spill", budget)
			}
			if got.ledger != mem.ledger {
				t.Fatalf("%s memory %d: spilled ledger differs:\n%s", optName(opts), budget, firstDiff(mem.ledger, got.ledger))
			}
			if got.review != mem.review {
				t.Fatalf("%s: spilled review differs:\n%s", optName(opts), firstDiff(mem.review, got.review))
			}
			if got.report != mem.report {
				t.Fatalf("%s: spilled report differs:\n%s", optName(opts), firstDiff(mem.report, got.report))
			}
			if left, _ := os.ReadDir(sp.TempDir); len(left) != 0 {
				t.Errorf("temporary files left: %v", left)
			}
			// Ledger only: the runs then drop the input records.
			var ledger bytes.Buffer
			if _, err := Run(context.Background(), sp,
				Input{Name: "a.ndjson", R: strings.NewReader(ndjsonOf(a...))},
				Input{Name: "b.ndjson", R: strings.NewReader(ndjsonOf(b...))},
				Outputs{Ledger: &ledger}); err != nil {
				t.Fatal(err)
			}
			if ledger.String() != mem.ledger {
				t.Fatalf("%s: spilled ledger-only run differs:\n%s", optName(opts), firstDiff(mem.ledger, ledger.String()))
			}
		}
	}
}

// Temporary files are removed when the run fails after spilling.
func TestSpillCleanupOnError(t *testing.T) {
	a, b := genExports(5, 200)
	bad := ndjsonOf(b...) + `{"id":"x","date":"2026-01-01","currency":"USD","amount":"1e3"}` + "\n"
	opts := baseOptions()
	opts.Memory = 1
	opts.TempDir = t.TempDir()
	_, err := Run(context.Background(), opts,
		Input{Name: "a.ndjson", R: strings.NewReader(ndjsonOf(a...))}, Input{Name: "b.ndjson", R: strings.NewReader(bad)},
		Outputs{Ledger: &bytes.Buffer{}})
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("b.ndjson:%d: amount:", len(b)+1)) {
		t.Fatalf("err = %v", err)
	}
	if left, _ := os.ReadDir(opts.TempDir); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
	// And when the context is cancelled.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = Run(ctx, opts,
		Input{Name: "a.ndjson", R: strings.NewReader(ndjsonOf(a...))}, Input{Name: "b.ndjson", R: strings.NewReader(ndjsonOf(b...))},
		Outputs{Ledger: &bytes.Buffer{}})
	if err == nil {
		t.Fatal("cancelled run succeeded")
	}
	if left, _ := os.ReadDir(opts.TempDir); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

func firstDiff(want, got string) string {
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(wl) || i < len(gl); i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			return fmt.Sprintf("line %d:\nwant %s\ngot  %s", i+1, w, g)
		}
	}
	return "(same)"
}

// A run reading a pipe that never ends returns when its context is
// cancelled.
func TestCancelWhileReading(t *testing.T) {
	pr, pw := io.Pipe()
	defer pw.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var summary bytes.Buffer
	go func() {
		res, err := Run(ctx, baseOptions(), Input{Name: "stdin", R: pr},
			Input{Name: "b.ndjson", R: strings.NewReader(ndjsonOf(cr{ID: "k"}))}, Outputs{Ledger: io.Discard, Summary: &summary})
		if res == nil || !res.Interrupted {
			err = fmt.Errorf("no partial result (%v)", err)
		}
		done <- err
	}()
	time.Sleep(20 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
		if !strings.Contains(summary.String(), "interrupted") {
			t.Errorf("summary:\n%s", summary.String())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

// Matching in parallel parts gives the ledger, review queue and report of
// matching on one goroutine, for every option, and the same error under
// --duplicates error.
func TestParallelMatchesSerial(t *testing.T) {
	a, b := genExports(6, 400)
	opts := propertyOptions()
	dupErr := baseOptions()
	dupErr.Duplicates = DupError
	for _, o := range append(opts, dupErr) {
		serial := o
		serial.matchParts = 1
		for _, parts := range []int{2, 8, 64} {
			par := o
			par.matchParts = parts
			if o.Duplicates == DupError {
				run := func(o Options) error {
					_, err := Run(context.Background(), o,
						Input{Name: "a.ndjson", R: strings.NewReader(ndjsonOf(a...))},
						Input{Name: "b.ndjson", R: strings.NewReader(ndjsonOf(b...))},
						Outputs{Ledger: io.Discard})
					return err
				}
				want, got := run(serial), run(par)
				if want == nil || got == nil || want.Error() != got.Error() {
					t.Errorf("%d parts: error %v, serial %v", parts, got, want)
				}
				continue
			}
			want, got := runAll(t, serial, a, b), runAll(t, par, a, b)
			if got.ledger != want.ledger || got.review != want.review || got.report != want.report {
				t.Fatalf("%s, %d parts: differs from serial:\n%s%s%s", optName(o), parts,
					firstDiff(want.ledger, got.ledger), firstDiff(want.review, got.review), firstDiff(want.report, got.report))
			}
		}
	}
}
