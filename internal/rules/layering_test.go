package rules

import (
	"bytes"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/taxagg/taxagg/internal/txn"
)

const basePack = `version: 1
jurisdictions:
  - code: US-GA
    name: Georgia
    level: state
    match: {country: US, state: GA}
    nexus: {sales: "100000", transactions: 200}
    taxes:
      - id: ga-state
        rates: [{from: 2019-01-01, rate: "4%"}]
        taxability: {default: taxable, saas: exempt}
`

const gaImport = `version: 1
jurisdictions:
  - code: US-GA
    extend: true
    name: Georgia
    level: state
    match: {country: US, state: GA}
    taxes:
      - id: ga-state
        rates:
          - {from: 2011-01-01, to: 2020-01-01, rate: "4%"}
          - {from: 2020-01-01, rate: "4.5%"}
        taxability: {food: exempt, saas: taxable}
  - code: US-GA-COUNTY-121
    extend: true
    name: Fulton County
    level: county
    parent: US-GA
    match: {country: US, state: GA, county: Fulton, not: {city: [Atlanta, "East Point"]}}
    taxes:
      - id: us-ga-county-121
        rates: [{from: 2011-01-01, rate: "3%"}]
        taxability: {food: taxable}
        taxability_from: ga-state
  - code: US-GA-CITY-04000
    name: City of Atlanta
    level: city
    parent: US-GA-COUNTY-121
    taxes:
      - id: us-ga-city-04000
        rates: [{from: 2011-01-01, rate: "1.9%"}]
`

func compileAll(t *testing.T, files ...string) *Program {
	t.Helper()
	var srcs []Source
	for i, f := range files {
		srcs = append(srcs, Source{Name: []string{"pack.yaml", "ga.yaml", "c.yaml"}[i], Data: []byte(f)})
	}
	p, err := Compile(srcs)
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	return p
}

func evalTax(t *testing.T, p *Program, tx *txn.Transaction) (string, []string) {
	t.Helper()
	var res Result
	if err := p.NewEvaluator(false).Eval(tx, &res); err != nil {
		t.Fatalf("eval: %v", err)
	}
	total := dec("0")
	for _, l := range res.Lines {
		total = total.Add(l.Amount)
	}
	var codes []string
	for _, j := range res.Jurisdictions {
		codes = append(codes, j.Code)
	}
	sort.Strings(codes)
	return total.StringFixed(2), codes
}

func gaTx(date, product string, explicit ...string) *txn.Transaction {
	x := tx(date, line("100.00", "1", product))
	x.State = "GA"
	x.Jurisdictions = explicit
	return x
}

func TestExtendFoldsIntoTheFirstDefinition(t *testing.T) {
	p := compileAll(t, basePack, gaImport)
	ga, _ := p.Jurisdiction("US-GA")
	if ga.Nexus == nil || len(ga.Taxes) != 1 {
		t.Fatalf("US-GA = %+v", ga)
	}
	st := ga.Taxes[0]
	// The pack's 4% from 2019 wins; the import fills 2011-2019.
	if got := describeRates(st); got != "4% from 2011-01-01 to 2019-01-01; 4% from 2019-01-01" {
		t.Errorf("rates = %s", got)
	}
	if got := describeTaxability(st); got != "default=taxable food=exempt saas=exempt" {
		t.Errorf("taxability = %s", got)
	}
	want := []string{
		"ga.yaml:9:9: US-GA: tax ga-state: taxability of saas differs from the one at pack.yaml:9:9; the first file's is used",
		"ga.yaml:12:13: US-GA: tax ga-state: the rate 4.5% given here from 2020-01-01 differs from 4% at pack.yaml:10:17; the first file's rate is used (rule files merge in the order given: put the one to trust first)",
	}
	if strings.Join(p.Warnings, "\n") != strings.Join(want, "\n") {
		t.Errorf("warnings =\n%s\nwant\n%s", strings.Join(p.Warnings, "\n"), strings.Join(want, "\n"))
	}
	// In the other order, the import is the authority.
	p2 := compileAll(t, gaImport, basePack)
	ga2, _ := p2.Jurisdiction("US-GA")
	if got := describeRates(ga2.Taxes[0]); !strings.HasSuffix(got, "4.5% from 2020-01-01") || ga2.Nexus == nil {
		t.Errorf("import first: rates %s, nexus %v", got, ga2.Nexus)
	}
	// A plain redefinition is still an error.
	if _, err := Compile([]Source{{Name: "a.yaml", Data: []byte(basePack)}, {Name: "b.yaml", Data: []byte(basePack)}}); err == nil ||
		!strings.Contains(err.Error(), "b.yaml:3:11: jurisdiction US-GA is already defined at a.yaml:3:11") {
		t.Errorf("redefinition: %v", err)
	}
}

func TestExplicitCodesBringTheirParents(t *testing.T) {
	p := compileAll(t, basePack, gaImport)
	tests := []struct {
		name     string
		tx       *txn.Transaction
		wantTax  string
		wantJurs string
	}{
		{"city brings county and state", gaTx("2026-01-01", "default", "US-GA-CITY-04000"), "8.90", "US-GA US-GA-CITY-04000 US-GA-COUNTY-121"},
		{"!US-GA leaves the state out", gaTx("2026-01-01", "default", "US-GA-CITY-04000", "!US-GA"), "4.90", "US-GA-CITY-04000 US-GA-COUNTY-121"},
		{"food: state exempt, locals taxable", gaTx("2026-01-01", "food", "US-GA-CITY-04000"), "4.90", "US-GA US-GA-CITY-04000 US-GA-COUNTY-121"},
		// The county takes the state's saas exemption (taxability_from);
		// the city tax, without one, taxes it.
		{"saas follows the state where taxability_from", gaTx("2026-01-01", "saas", "US-GA-CITY-04000"), "1.90", "US-GA US-GA-CITY-04000 US-GA-COUNTY-121"},
	}
	for _, tt := range tests {
		got, codes := evalTax(t, p, tt.tx)
		if got != tt.wantTax || strings.Join(codes, " ") != tt.wantJurs {
			t.Errorf("%s: tax %s in %v, want %s in %s", tt.name, got, codes, tt.wantTax, tt.wantJurs)
		}
	}
	x := gaTx("2026-01-01", "default", "!US-XX")
	if err := p.NewEvaluator(false).Eval(x, &Result{}); err == nil || !strings.Contains(err.Error(), `unknown jurisdiction code "!US-XX"`) {
		t.Errorf("unknown excluded code: %v", err)
	}
}

func TestMatchNot(t *testing.T) {
	p := compileAll(t, basePack, gaImport)
	tests := []struct {
		county, city string
		want         string
	}{
		{"Fulton", "Sandy Springs", "US-GA US-GA-COUNTY-121"},
		{"fulton", "  sandy  springs ", "US-GA US-GA-COUNTY-121"},
		{"Fulton", "Atlanta", "US-GA"},
		{"Fulton", "east point", "US-GA"},
		{"DeKalb", "Decatur", "US-GA"},
	}
	for _, tt := range tests {
		x := gaTx("2026-01-01", "default")
		x.County, x.City = tt.county, tt.city
		_, codes := evalTax(t, p, x)
		if strings.Join(codes, " ") != tt.want {
			t.Errorf("%s/%s: %v, want %s", tt.county, tt.city, codes, tt.want)
		}
	}
	for _, bad := range []struct{ match, want string }{
		{`{state: GA, not: {}}`, "match.not must name at least one of"},
		{`{state: GA, not: []}`, "match.not must not be an empty list"},
		{`{state: GA, not: {not: {city: A}}}`, `unknown key "not" in match.not`},
		{`{not: {city: A}}`, "match must name at least one of"},
	} {
		y := strings.Replace(oneTax(`rates: [{from: 2020-01-01, rate: "1%"}]`), "match: {country: US, state: CA}", "match: "+bad.match, 1)
		if _, err := Compile([]Source{{Name: "m.yaml", Data: []byte(y)}}); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%s: %v, want %s", bad.match, err, bad.want)
		}
	}
}

func TestParentCycleAndTaxabilityFromErrors(t *testing.T) {
	y := `version: 1
jurisdictions:
  - {code: A, name: A, level: state, parent: B, taxes: [{id: a, rates: [{from: 2020-01-01, rate: "1%"}], taxability_from: b}]}
  - {code: B, name: B, level: state, parent: A, taxes: [{id: b, rates: [{from: 2020-01-01, rate: "1%"}], taxability_from: a}]}
  - {code: C, name: C, level: state, taxes: [{id: c, rates: [{from: 2020-01-01, rate: "1%"}], taxability_from: nope}]}
`
	_, err := Compile([]Source{{Name: "c.yaml", Data: []byte(y)}})
	if err == nil {
		t.Fatal("compiled")
	}
	for _, want := range []string{"parent chain forms a cycle: A -> B -> A", "taxability_from of tax", "taxability_from names nope, which is not a defined tax"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

// rules show --format yaml: the compiled rules as a rule file that
// compiles back to the same rules.
func TestWriteYAMLRoundTrip(t *testing.T) {
	p := compileAll(t, basePack, gaImport)
	var a bytes.Buffer
	if err := p.WriteYAML(&a); err != nil {
		t.Fatal(err)
	}
	q, err := Compile([]Source{{Name: "shown.yaml", Data: a.Bytes()}})
	if err != nil {
		t.Fatalf("the shown rules do not compile: %v\n%s", err, a.String())
	}
	var b bytes.Buffer
	if err := q.WriteYAML(&b); err != nil {
		t.Fatal(err)
	}
	if a.String() != b.String() {
		t.Errorf("not stable:\n%s\n---\n%s", a.String(), b.String())
	}
	if !reflect.DeepEqual(p.ShowRows(), q.ShowRows()) || !reflect.DeepEqual(p.ShowExemptions(), q.ShowExemptions()) {
		t.Errorf("shown rules compile to other rules:\n%v\n---\n%v", p.ShowRows(), q.ShowRows())
	}
	for _, want := range []string{"not: {city: [Atlanta, East Point]}", "taxability_from: ga-state", `nexus: {sales: "100000", transactions: 200, combine: any, window: calendar_year}`} {
		if !strings.Contains(a.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, a.String())
		}
	}
}
