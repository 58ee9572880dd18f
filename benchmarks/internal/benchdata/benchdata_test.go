package benchdata

import (
	"bytes"
	"os"
	"testing"

	"github.com/taxagg/taxagg/internal/rules"
	"github.com/taxagg/taxagg/internal/stream"
	"github.com/taxagg/taxagg/internal/txn"
)

// TestRulesFileUpToDate: benchmarks/rules.yaml is what the generator writes.
func TestRulesFileUpToDate(t *testing.T) {
	var b bytes.Buffer
	if err := Rules(&b); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("../../rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, b.Bytes()) {
		t.Fatal("benchmarks/rules.yaml is stale: run go run ./benchmarks/gen -rules > benchmarks/rules.yaml")
	}
}

// TestEverySaleInFourJurisdictions checks the rule set's promise and that
// the generator is deterministic.
func TestEverySaleInFourJurisdictions(t *testing.T) {
	var r bytes.Buffer
	if err := Rules(&r); err != nil {
		t.Fatal(err)
	}
	prog, err := rules.Compile([]rules.Source{{Name: "rules.yaml", Data: r.Bytes()}})
	if err != nil {
		t.Fatal(err)
	}
	var a, b bytes.Buffer
	if err := Transactions(&a, 2000, 7, NDJSON); err != nil {
		t.Fatal(err)
	}
	if err := Transactions(&b, 2000, 7, NDJSON); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("same seed, different bytes")
	}
	rd, err := stream.Open("tx.ndjson", &a, stream.FormatAuto, stream.Options{})
	if err != nil {
		t.Fatal(err)
	}
	p := txn.NewParser(txn.ParseOptions{})
	ev := prog.NewEvaluator(false)
	var tx txn.Transaction
	var res rules.Result
	n := 0
	for {
		rec, err := rd.Next()
		if err != nil {
			break
		}
		if err := p.ParseJSON(rec.Text, &tx); err != nil {
			t.Fatalf("line %d: %v", rec.Line, err)
		}
		if err := ev.Eval(&tx, &res); err != nil {
			t.Fatalf("line %d: %v", rec.Line, err)
		}
		if len(res.Jurisdictions) < 4 {
			t.Fatalf("line %d falls in %d jurisdictions, want >= 4", rec.Line, len(res.Jurisdictions))
		}
		n++
	}
	if n != 2000 {
		t.Fatalf("read %d records, want 2000", n)
	}
}
