package rules

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/taxagg/taxagg/internal/txn"
)

// TestPrefetchChangesNothing evaluates parsed records (Prefetch reads the
// Parser's address key) under random rule sets twice: one at a time, and
// in batches of records all prefetched before any is evaluated, as the
// pipeline does. The results must be the same, and the prefetches must
// have reached the plans (or the test would prove nothing).
func TestPrefetchChangesNothing(t *testing.T) {
	found, total := 0, 0
	for seed := uint64(0); seed < 60; seed++ {
		r := rand.New(rand.NewPCG(seed, 7))
		src := randomRules(r)
		p, err := Compile([]Source{{Name: "r.yaml", Data: []byte(src)}})
		if err != nil {
			continue
		}
		parser := txn.NewParser(txn.ParseOptions{})
		txs := make([]txn.Transaction, 200)
		for i := range txs {
			rec := fmt.Sprintf(`{"id":"t%d","date":"%d-%02d-%02d","currency":"USD","amount":"%d.%02d","product":%q,"country":"US","state":%q,"city":%q,"postal_code":%q,"customer":%q}`,
				i, 2024+r.IntN(2), 1+r.IntN(12), 1+r.IntN(28), r.IntN(5000), r.IntN(100),
				[]string{"food", "saas", "physical", "Food"}[r.IntN(4)],
				[]string{"TX", "CA", "NY"}[r.IntN(3)], []string{"Austin", "AUSTIN", ""}[r.IntN(3)],
				[]string{"78701", "90210", "78701-1234"}[r.IntN(3)], []string{"", "cus_1", "cus_2"}[r.IntN(3)])
			if err := parser.ParseJSON([]byte(rec), &txs[i]); err != nil {
				t.Fatalf("seed %d: %s: %v", seed, rec, err)
			}
		}
		one, batched := p.NewEvaluator(false), p.NewEvaluator(false)
		one.Compact()
		batched.Compact()
		var want, got Result
		total += len(txs)
		for start := 0; start < len(txs); start += 16 {
			end := min(start+16, len(txs))
			var batch []*txn.Transaction
			for i := start; i < end; i++ {
				batch = append(batch, &txs[i])
			}
			found += batched.Prefetch(batch)
			for i := start; i < end; i++ {
				errW, errG := one.Eval(&txs[i], &want), batched.Eval(&txs[i], &got)
				if (errW == nil) != (errG == nil) || got.Coverage != want.Coverage {
					t.Fatalf("seed %d tx %d: error %v, coverage %v; want %v, %v", seed, i, errG, got.Coverage, errW, want.Coverage)
				}
				if d := diffCompact(&got, &want); d != "" {
					t.Fatalf("seed %d tx %d: %s\nrules:\n%s", seed, i, d, src)
				}
			}
		}
	}
	// 3 × 3 × 3 addresses, 200 records: all but the first of each
	// address (its first batch's) are found.
	if found < total/2 {
		t.Fatalf("Prefetch found %d of %d records in the address cache: the test proves little", found, total)
	}
	t.Logf("Prefetch found %d of %d records in the address cache", found, total)
}

// diffCompact compares two compact Results slot by slot.
func diffCompact(got, want *Result) string {
	if len(got.Slots) != len(want.Slots) || len(got.Lines) != len(want.Lines) {
		return fmt.Sprintf("%d slots, %d lines; want %d, %d", len(got.Slots), len(got.Lines), len(want.Slots), len(want.Lines))
	}
	for i := range got.Slots {
		if got.Slots[i] != want.Slots[i] {
			return fmt.Sprintf("slot %d: %+v, want %+v", i, got.Slots[i], want.Slots[i])
		}
	}
	return diffResults(got, want)
}
