package rules

import (
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/taxagg/taxagg/internal/money"
	"github.com/taxagg/taxagg/internal/txn"
)

func mustCompile(t *testing.T, yaml string) *Program {
	t.Helper()
	p, err := Compile([]Source{{Name: "rules.yaml", Data: []byte(yaml)}})
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	return p
}

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func usd() money.Currency { c, _ := money.LookupCurrency("USD"); return c }

// sale builds a one-line US sale on 2025-06-15.
func sale(state, county, amount, qty, product string) *txn.Transaction {
	d := txn.DateOf(2025, time.June, 15)
	return &txn.Transaction{
		ID: "t1", Day: d, RateDay: d, Currency: usd(), Country: "US", State: state, County: county,
		Lines: []txn.Line{{Amount: dec(amount), Quantity: dec(qty), Product: product}},
	}
}

// taxByID sums the tax amount of each tax over the result's lines.
func taxByID(res *Result) map[string]string {
	out := map[string]string{}
	sums := map[string]decimal.Decimal{}
	for _, l := range res.Lines {
		sums[l.Tax.ID] = sums[l.Tax.ID].Add(l.Amount)
	}
	for id, s := range sums {
		out[id] = s.StringFixed(2)
	}
	return out
}

const tennessee = `
version: 1
jurisdictions:
  - code: US-TN
    name: Tennessee
    level: state
    match: {country: US, state: TN}
    taxes:
      - id: tn-state
        rates: [{from: 2002-07-15, rate: "7%"}]
        taxability: {default: taxable, food: "4%"}
      - id: tn-single-article
        name: state single-article tax on 1,600.01 to 3,200 per item
        rates: [{from: 2002-07-15, rate: "2.75%"}]
        tiers:
          per: unit
          brackets: [{up_to: "1600.00", rate: "0%"}, {up_to: "3200.00"}]
  - code: US-TN-SHELBY
    name: Shelby County
    level: county
    parent: US-TN
    match: {country: US, state: TN, county: Shelby}
    taxes:
      - id: tn-shelby-local
        rates: [{from: 2010-01-01, rate: "2.25%"}]
        tiers:
          per: unit
          brackets: [{up_to: "1600.00", rate: "2.25%"}]
`

func TestTennesseeSingleArticle(t *testing.T) {
	p := mustCompile(t, tennessee)
	tests := []struct {
		name, amount, qty string
		want              map[string]string
		total             string
	}{
		{"one item at 4000", "4000.00", "1",
			map[string]string{"tn-state": "280.00", "tn-shelby-local": "36.00", "tn-single-article": "44.00"}, "360.00"},
		{"two items at 2000 in one line", "4000.00", "2",
			map[string]string{"tn-state": "280.00", "tn-shelby-local": "72.00", "tn-single-article": "22.00"}, "374.00"},
		{"under the first bracket", "100.00", "1",
			map[string]string{"tn-state": "7.00", "tn-shelby-local": "2.25", "tn-single-article": "0.00"}, "9.25"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var res Result
			if err := p.NewEvaluator(false).Eval(sale("TN", "Shelby", tt.amount, tt.qty, "default"), &res); err != nil {
				t.Fatal(err)
			}
			got := taxByID(&res)
			total := decimal.Decimal{}
			for id, want := range tt.want {
				if got[id] != want {
					t.Errorf("%s = %s, want %s", id, got[id], want)
				}
				total = total.Add(dec(got[id]))
			}
			if total.StringFixed(2) != tt.total {
				t.Errorf("total = %s, want %s", total.StringFixed(2), tt.total)
			}
			for _, l := range res.Lines {
				if sum := l.Exempt.Add(l.NonTaxable).Add(l.Taxable); !sum.Equal(l.Gross) {
					t.Errorf("%s: exempt+non_taxable+taxable = %s, gross %s", l.Tax.ID, sum, l.Gross)
				}
			}
		})
	}
}

func TestCompileIssues(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       []string // substrings of the error, in order
	}{
		{"overlapping rates", `version: 1
jurisdictions:
  - code: US-X
    name: X
    level: state
    taxes:
      - id: x
        rates:
          - {from: 2020-01-01, rate: "5%"}
          - {from: 2021-01-01, rate: "6%"}
`, []string{"rules.yaml:9:13: rate overlaps the entry at line 10", "rules.yaml:10:13: rate overlaps the entry at line 9"}},
		{"unknown key", `version: 1
jurisdictions:
  - code: US-X
    name: X
    level: state
    taxes:
      - id: x
        rate: [{from: 2020-01-01, rate: "5%"}]
`, []string{`rules.yaml:7:9: tax "x" needs rates`, `rules.yaml:8:9: unknown key "rate" in tax`}},
		{"cycle", `version: 1
jurisdictions:
  - code: US-X
    name: X
    level: state
    taxes:
      - {id: a, rates: [{from: 2020-01-01, rate: "1%"}], compound_on: [b]}
      - {id: b, rates: [{from: 2020-01-01, rate: "1%"}], compound_on: [a]}
`, []string{"compound taxes form a cycle: a -> b -> a"}},
		{"bad rate", `version: 1
jurisdictions:
  - {code: US-X, name: X, level: state, taxes: [{id: a, rates: [{from: 2020-01-01, rate: "abc%"}]}]}
`, []string{`rules.yaml:3:90: rate: "abc%" is not a rate`}},
		{"decreasing tiers", `version: 1
jurisdictions:
  - code: US-X
    name: X
    level: state
    taxes:
      - id: a
        rates: [{from: 2020-01-01, rate: "1%"}]
        tiers: {per: line, brackets: [{up_to: "100"}, {up_to: "50"}]}
`, []string{`up_to 50 must be above the previous bracket's 100`}},
		{"alias", "version: 1\nx: &a [1]\njurisdictions: *a\n", []string{"aliases (*name) are not allowed"}},
		{"empty", "# nothing\n", []string{"rules.yaml:1:1: empty rule file"}},
		{"a lone marker", "---", []string{"rules.yaml:1:1: empty rule file"}},
		{"a marker and a null", "--- ~\n", []string{"rules.yaml:1:5: rule file must be a mapping"}},
		{"text after a flow mapping", "{version: 1}\njurisdictions: []\n", []string{"rules.yaml:2:1: a second YAML document"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Compile([]Source{{Name: "rules.yaml", Data: []byte(tt.yaml)}})
			if err == nil {
				t.Fatal("compiled, want an error")
			}
			msg := err.Error()
			at := 0
			for _, w := range tt.want {
				i := strings.Index(msg[at:], w)
				if i < 0 {
					t.Fatalf("error %q\nlacks (in order) %q", msg, w)
				}
				at += i + len(w)
			}
		})
	}
}
