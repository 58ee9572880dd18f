package rules

import (
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/taxagg/taxagg/internal/money"
	"github.com/taxagg/taxagg/internal/txn"
)

// FuzzRulesCompile feeds arbitrary bytes to the rule compiler as a rule
// file. It must never panic: it either compiles a Program that evaluates
// transactions with consistent figures, or returns an *Issues whose every
// issue is positioned in the file (FILE:LINE:COL), sorted and capped.
func FuzzRulesCompile(f *testing.F) {
	for _, s := range []string{
		"",
		"version: 1\njurisdictions: []\n",
		oneTax("        rates: [{from: 2020-01-01, rate: \"6%\"}]\n"),
		oneTax("        rates: [{from: 2020-01-01, to: 2021-01-01, rate: 0.05}, {from: 2020-06-01, rate: \"7%\"}]\n"),
		oneTax("        rates: [{from: 2020-01-01, rate: \"6%\"}]\n        tiers: {per: unit, brackets: [{up_to: 1600, rate: \"2.25%\"}, {up_to: \"100\"}]}\n"),
		oneTax("        fixed: \"0.50\"\n        compound_on: [ca]\n"),
		"version: 1\na: &a [x, x]\nb: &b [*a, *a]\njurisdictions: *b\n",
		"version: 1\njurisdictions:\n  - {code: X, name: X, level: state, taxes: [{id: a, rates: [{from: 2020-01-01, rate: \"1%\"}], compound_on: [b]}, {id: b, rates: [{from: 2020-01-01, rate: \"1%\"}], compound_on: [a]}]}\n",
		"version: 1\njurisdictions:\n  - {code: X, name: X, level: state, match: {postal_code: [\"911*\", \"91101-91107\"]}, taxes: [{id: a, rates: [{from: 2020-01-01, rate: \"abc%\"}]}]}\nexemptions:\n  - {customer: c, jurisdictions: [\"X*\"], from: 2025-01-01, to: 2024-01-01}\n",
		"\t- :\n",
		"version: 1\njurisdictions:\n  - code: X\n    code: Y\n",
		// Layering, exclusions, parents, inherited taxability.
		basePack + strings.TrimPrefix(gaImport, "version: 1\njurisdictions:\n"),
		"version: 1\njurisdictions:\n  - {code: A, name: A, level: state, parent: B, match: {state: X, not: [{city: a}, {postal_code: \"9*\"}]}}\n  - {code: B, name: B, level: state, parent: A, extend: true}\n  - {code: A, extend: true, name: A, level: city, taxes: [{id: t, rates: [{from: 2020-01-01, rate: \"1%\"}], taxability_from: t}]}\n",
	} {
		f.Add([]byte(s))
	}
	if b, err := os.ReadFile(filepath.Join("..", "pack", "us.yaml")); err == nil {
		// The head of the embedded pack: real rules, cut anywhere.
		f.Add(b[:min(len(b), 3000)])
	}
	if files, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "bad", "rules-*.yaml")); len(files) > 0 {
		for _, name := range files {
			if b, err := os.ReadFile(name); err == nil {
				f.Add(b)
			}
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 4; i++ {
		f.Add([]byte(randomRules(r)))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		prog, err := Compile([]Source{{Name: "fuzz.yaml", Data: data}})
		if err != nil {
			checkIssues(t, err, data)
			return
		}
		if prog.SHA256 == "" || len(prog.Files) != 1 {
			t.Fatalf("program without provenance: %v %v", prog.SHA256, prog.Files)
		}
		fuzzEval(t, prog)
	})
}

func checkIssues(t *testing.T, err error, data []byte) {
	var issues *Issues
	if !errors.As(err, &issues) {
		t.Fatalf("error %T %v, want *Issues", err, err)
	}
	if len(issues.List) == 0 || len(issues.List) > maxIssues {
		t.Fatalf("%d issues", len(issues.List))
	}
	// YAML breaks lines at \n, \r, \r\n and the Unicode line breaks: an
	// upper bound of the number of lines.
	lines := 1
	for _, br := range []string{"\n", "\r", "\u0085", "\u2028", "\u2029"} {
		lines += strings.Count(string(data), br)
	}
	for _, is := range issues.List {
		if is.File != "fuzz.yaml" || is.Line < 1 || is.Col < 1 || is.Line > lines || is.Msg == "" {
			t.Fatalf("issue not positioned in the file (%d lines): %+v", lines, is)
		}
		if !strings.HasPrefix(is.String(), "fuzz.yaml:") {
			t.Fatalf("issue prints as %q", is.String())
		}
	}
	if !sort.SliceIsSorted(issues.List, func(i, j int) bool {
		a, b := issues.List[i], issues.List[j]
		return a.Line < b.Line || a.Line == b.Line && a.Col < b.Col
	}) {
		t.Fatalf("issues not sorted: %v", issues.List)
	}
}

// fuzzEval evaluates a few transactions against a fuzzed program: through
// address matching and through each of its jurisdiction codes. Evaluation
// may reject a transaction with a field error, never panic, and every tax
// line keeps gross = exempt + non_taxable + taxable.
func fuzzEval(t *testing.T, prog *Program) {
	usd, _ := money.LookupCurrency("USD")
	jpy, _ := money.LookupCurrency("JPY")
	day := txn.DateOf(2025, 6, 1)
	mk := func(cur money.Currency, lines ...txn.Line) *txn.Transaction {
		return &txn.Transaction{ID: "t", Day: day, RateDay: day, Currency: cur, Country: "US", State: "CA",
			County: "Los Angeles", City: "Pasadena", PostalCode: "91101", Customer: "c", Lines: lines}
	}
	txs := []*txn.Transaction{
		mk(usd, line("129.99", "1", "default")),
		mk(usd, line("4000.00", "2", "food"), line("0.01", "1.5", "saas")),
		mk(jpy, line("1000", "3", "physical")),
	}
	refund := mk(usd, line("50.00", "1", "default"))
	refund.Refund, refund.RateDay = true, txn.DateOf(2021, 1, 1)
	txs = append(txs, refund)
	incl := mk(usd, txn.Line{Amount: dec("107.25"), Quantity: dec("1"), Product: "default", TaxIncluded: true})
	txs = append(txs, incl)
	for i, j := range prog.Jurisdictions {
		if i == 4 {
			break
		}
		x := mk(usd, line("10.00", "1", "default"))
		x.Jurisdictions = []string{j.Code}
		txs = append(txs, x)
	}
	ev := prog.NewEvaluator(true)
	for _, x := range txs {
		var res Result
		if err := ev.Eval(x, &res); err != nil {
			var fe *txn.FieldError
			if !errors.As(err, &fe) || fe.Field == "" {
				t.Fatalf("eval error %T %v, want a field error", err, err)
			}
			continue
		}
		for _, l := range res.Lines {
			if !l.Gross.Equal(l.Exempt.Add(l.NonTaxable).Add(l.Taxable)) {
				t.Fatalf("tax %s: gross %s != exempt %s + non_taxable %s + taxable %s",
					l.Tax.ID, l.Gross, l.Exempt, l.NonTaxable, l.Taxable)
			}
		}
	}
}
