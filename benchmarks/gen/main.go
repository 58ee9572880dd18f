// Command gen writes the benchmark inputs deterministically.
//
//	go run ./benchmarks/gen -n 1000000 -seed 1 -format ndjson > tx.ndjson
//	go run ./benchmarks/gen -n 1000000 -seed 1 -format csv > tx.csv
//	go run ./benchmarks/gen -n 1000000 -seed 1 -pair -a a.ndjson -b b.ndjson
//	go run ./benchmarks/gen -rules > benchmarks/rules.yaml
package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/taxagg/taxagg/benchmarks/internal/benchdata"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("gen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	n := fs.Int("n", 1000, "number of transactions (or records per side with -pair)")
	seed := fs.Uint64("seed", 1, "random seed; the same seed gives the same bytes")
	format := fs.String("format", "ndjson", "ndjson or csv")
	out := fs.String("o", "", "output file (default stdout)")
	rules := fs.Bool("rules", false, "write the benchmark rule set instead")
	pair := fs.Bool("pair", false, "write two billing exports for reconcile, to -a and -b")
	a := fs.String("a", "a.ndjson", "with -pair: export A")
	b := fs.String("b", "b.ndjson", "with -pair: export B")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	fail := func(err error) int { fmt.Fprintln(stderr, "gen:", err); return 2 }
	if *pair {
		fa, err := os.Create(*a)
		if err != nil {
			return fail(err)
		}
		defer fa.Close()
		fb, err := os.Create(*b)
		if err != nil {
			return fail(err)
		}
		defer fb.Close()
		if err := benchdata.Pair(fa, fb, *n, *seed); err != nil {
			return fail(err)
		}
		return 0
	}
	w := stdout
	if *out != "" {
		f, err := os.Create(*out)
		if err != nil {
			return fail(err)
		}
		defer f.Close()
		w = f
	}
	if *rules {
		if err := benchdata.Rules(w); err != nil {
			return fail(err)
		}
		return 0
	}
	var f benchdata.Format
	switch *format {
	case "ndjson":
		f = benchdata.NDJSON
	case "csv":
		f = benchdata.CSV
	default:
		return fail(fmt.Errorf("format %q must be ndjson or csv", *format))
	}
	if err := benchdata.Transactions(w, *n, *seed, f); err != nil {
		return fail(err)
	}
	return 0
}
