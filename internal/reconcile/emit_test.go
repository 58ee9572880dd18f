package reconcile

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// The ledger formatted a chunk ahead by emitRows' goroutine is the ledger
// formatted row by row, with the same review, report and rows seen by the
// hook, in every encoded format and with fuzzy pairing and groups.
func TestEmitRowsParallelIsSerial(t *testing.T) {
	a, b := genExports(7, 3*emitChunk)
	for _, opts := range []Options{
		{Format: FormatNDJSON},
		{Format: FormatJSON},
		{Format: FormatNDJSON, Fuzzy: true, Duplicates: DupGroup, Prefer: PreferB},
		{Format: FormatCSV},
	} {
		t.Run(opts.Format+","+optName(opts), func(t *testing.T) {
			var outs [2][3]string
			var seqs [2][]int64
			for i, serial := range []bool{false, true} {
				o := opts
				o.serialEmit = serial
				var ledger, review, report bytes.Buffer
				if _, err := run(context.Background(), o,
					Input{Name: "a.ndjson", R: strings.NewReader(ndjsonOf(a...))},
					Input{Name: "b.ndjson", R: strings.NewReader(ndjsonOf(b...))},
					Outputs{Ledger: &ledger, Review: &review, Report: &report},
					func(r *Row) { seqs[i] = append(seqs[i], r.seq()) }); err != nil {
					t.Fatal(err)
				}
				outs[i] = [3]string{ledger.String(), review.String(), report.String()}
			}
			if n := strings.Count(outs[1][0], "\n"); n < 2*emitChunk {
				t.Fatalf("ledger has %d lines: too few to format in chunks", n)
			}
			for k, name := range []string{"ledger", "review", "report"} {
				if outs[0][k] != outs[1][k] {
					t.Errorf("%s differs between chunked and row-by-row formatting", name)
				}
			}
			if len(seqs[0]) != len(seqs[1]) {
				t.Fatalf("hook saw %d rows, row by row %d", len(seqs[0]), len(seqs[1]))
			}
			for i := range seqs[0] {
				if seqs[0][i] != seqs[1][i] {
					t.Fatalf("hook's row %d differs", i)
				}
			}
		})
	}
}
