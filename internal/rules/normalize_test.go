package rules

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/taxagg/taxagg/internal/txn"
)

const coverageRules = `
version: 1
jurisdictions:
  - code: US-TX
    name: Texas
    level: state
    match: {country: US, state: TX}
    taxes:
      - id: tx-state
        rates: [{from: 2020-01-01, rate: "6.25%"}]
  - code: US-OR
    name: Oregon
    level: state
    match: {country: US, state: OR}
  - code: US-CA-94103
    name: San Francisco district
    level: district
    match: {country: US, state: CA, postal_code: "94103"}
    taxes:
      - id: sf
        rates: [{from: 2020-01-01, rate: "1%"}]
  - code: CA-ON
    name: Ontario
    level: state
    match: {country: Canada, state: Ontario}
    taxes:
      - id: hst
        rates: [{from: 2020-01-01, rate: "13%"}]
`

// Addresses are normalised before matching, and Result.Coverage says
// whether the sale was taxed, matched nothing, or matched only
// jurisdictions without a tax in force.
func TestCoverageAndNormalisedMatching(t *testing.T) {
	p := mustCompile(t, coverageRules)
	tests := []struct {
		name                   string
		country, state, postal string
		day                    txn.Date
		want                   Coverage
		juris                  string // codes, comma-separated
		norm                   string // normalised country/state/postal
	}{
		{"codes", "US", "TX", "", 0, Taxed, "US-TX", "US/TX/"},
		{"state name", "US", "Texas", "", 0, Taxed, "US-TX", "US/TX/"},
		{"lower case", "us", "texas", "", 0, Taxed, "US-TX", "US/TX/"},
		{"alpha-3", "USA", "TX", "", 0, Taxed, "US-TX", "US/TX/"},
		{"country name", "United States of America", "tx", "", 0, Taxed, "US-TX", "US/TX/"},
		{"ISO 3166-2 state", "US", "US-TX", "", 0, Taxed, "US-TX", "US/TX/"},
		{"ZIP+4", "US", "CA", "94103-1234", 0, Taxed, "US-CA-94103", "US/CA/94103"},
		{"ZIP+4 without hyphen", "USA", "California", "941031234", 0, Taxed, "US-CA-94103", "US/CA/94103"},
		{"spaced ZIP", "US", "CA", " 94103 ", 0, Taxed, "US-CA-94103", "US/CA/94103"},
		{"rule written by name", "CA", "ON", "", 0, Taxed, "CA-ON", "CA/ON/"},
		{"no tax in the state", "US", "Oregon", "", 0, NoTax, "US-OR", "US/OR/"},
		{"before the rates start", "US", "TX", "", txn.DateOf(2019, time.December, 31), NoTax, "US-TX", "US/TX/"},
		{"no jurisdiction", "GB", "", "", 0, Unmatched, "", "GB//"},
		{"country name, no jurisdiction", "United Kingdom", "", "SW1A 1AA", 0, Unmatched, "", "GB//SW1A 1AA"},
		{"unknown state", "US", "Texsa", "", 0, Unmatched, "", "US/Texsa/"},
	}
	e := p.NewEvaluator(false)
	for round := range 2 { // the second round is served by the address cache
		for _, tt := range tests {
			tx := sale(tt.state, "", "10.00", "1", "default")
			tx.Country, tx.PostalCode = tt.country, tt.postal
			if tt.day != 0 {
				tx.Day, tx.RateDay = tt.day, tt.day
			}
			var res Result
			if err := e.Eval(tx, &res); err != nil {
				t.Fatalf("%s: %v", tt.name, err)
			}
			var codes []string
			for _, j := range res.Jurisdictions {
				codes = append(codes, j.Code)
			}
			if got := strings.Join(codes, ","); got != tt.juris || res.Coverage != tt.want {
				t.Errorf("round %d, %s: in %q, %s; want %q, %s", round, tt.name, got, res.Coverage, tt.juris, tt.want)
			}
			if res.Address == nil {
				t.Fatalf("%s: no normalised address", tt.name)
			}
			if got := res.Address.Country + "/" + res.Address.State + "/" + res.Address.PostalCode; got != tt.norm {
				t.Errorf("%s: normalised to %q, want %q", tt.name, got, tt.norm)
			}
			if (tt.want == Taxed) != (len(res.Lines) > 0) {
				t.Errorf("%s: %s with %d tax lines", tt.name, res.Coverage, len(res.Lines))
			}
			if tx.Country != tt.country || tx.State != tt.state || tx.PostalCode != tt.postal {
				t.Errorf("%s: the transaction's address was changed", tt.name)
			}
		}
	}
	// Explicit jurisdictions: no address, coverage as for matching.
	tx := sale("", "", "10.00", "1", "default")
	tx.Jurisdictions = []string{"US-OR"}
	var res Result
	if err := e.Eval(tx, &res); err != nil || res.Coverage != NoTax || res.Address != nil {
		t.Errorf("explicit US-OR: %v, %s, %v", err, res.Coverage, res.Address)
	}
	tx.Jurisdictions = []string{}
	if err := e.Eval(tx, &res); err != nil || res.Coverage != Unmatched {
		t.Errorf("explicit empty list: %v, %s", err, res.Coverage)
	}
}

// A US ZIP that lost its leading zero is bad input naming postal_code,
// whether or not the address was seen before.
func TestZIPLostLeadingZero(t *testing.T) {
	p := mustCompile(t, coverageRules)
	e := p.NewEvaluator(false)
	for range 2 {
		tx := sale("MA", "", "10.00", "1", "default")
		tx.PostalCode = "2134"
		var res Result
		err := e.Eval(tx, &res)
		var fe *txn.FieldError
		if !errors.As(err, &fe) || fe.Field != "postal_code" ||
			fe.Err.Error() != `"2134" has 4 digits; a leading zero was probably lost (02134?)` {
			t.Fatalf("got %v, want a postal_code error with a hint", err)
		}
	}
	// Other countries have four-digit codes.
	tx := sale("", "", "10.00", "1", "default")
	tx.Country, tx.PostalCode = "AU", "2000"
	var res Result
	if err := e.Eval(tx, &res); err != nil || res.Coverage != Unmatched {
		t.Errorf("AU 2000: %v, %s", err, res.Coverage)
	}
}

func TestExplainShowsNormalisedAddress(t *testing.T) {
	p := mustCompile(t, coverageRules)
	for _, tt := range []struct {
		country, state string
		want           []string
	}{
		{"USA", "Texas", []string{`read as country US, state TX`, "in US-TX Texas"}},
		{"GB", "", []string{"no jurisdiction matches", "counted as unmatched"}},
		{"US", "Oregon", []string{"in US-OR Oregon", "no tax in force", "counted as no_tax"}},
	} {
		tx := sale(tt.state, "", "10.00", "1", "default")
		tx.Country = tt.country
		var b strings.Builder
		if err := p.Explain(&b, tx); err != nil {
			t.Fatal(err)
		}
		for _, w := range tt.want {
			if !strings.Contains(b.String(), w) {
				t.Errorf("%s/%s: explain says\n%s\nwant %q in it", tt.country, tt.state, b.String(), w)
			}
		}
	}
}

// FuzzEvalAddress runs arbitrary addresses through the Evaluator: it never
// panics, the address cache gives what a fresh Evaluator gives, Coverage
// agrees with the lines, and the transaction is left as written.
func FuzzEvalAddress(f *testing.F) {
	p, err := Compile([]Source{{Name: "rules.yaml", Data: []byte(coverageRules)}})
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range [][4]string{
		{"USA", "Texas", "", ""}, {"united states", "california", "San Francisco", "94103-1234"},
		{"US", "OR", "", "97201"}, {"GB", "", "", "SW1A 1AA"}, {"US", "MA", "", "2134"},
		{"Canada", "Québec", "", "H2X 1Y4"}, {"", "", "", ""}, {"\xff", "US-", "st", "9 4 1 0 3"},
	} {
		f.Add(s[0], s[1], s[2], s[3])
	}
	warm := p.NewEvaluator(false)
	f.Fuzz(func(t *testing.T, country, state, city, postal string) {
		tx := sale(state, "", "10.00", "1", "default")
		tx.Country, tx.City, tx.PostalCode = country, city, postal
		describe := func(e *Evaluator) string {
			var res Result
			if err := e.Eval(tx, &res); err != nil {
				return "error: " + err.Error()
			}
			if (res.Coverage == Taxed) != (len(res.Lines) > 0) || (res.Coverage == Unmatched) != (len(res.Jurisdictions) == 0) {
				t.Fatalf("coverage %s with %d jurisdictions and %d lines", res.Coverage, len(res.Jurisdictions), len(res.Lines))
			}
			return fmt.Sprint(res.Jurisdictions, taxByID(&res), res.Coverage, *res.Address)
		}
		fresh := describe(p.NewEvaluator(false))
		for range 2 { // a miss, then a hit
			if got := describe(warm); got != fresh {
				t.Fatalf("cached %s, fresh %s", got, fresh)
			}
		}
		if tx.Country != country || tx.State != state || tx.City != city || tx.PostalCode != postal {
			t.Fatalf("the transaction's address was changed")
		}
	})
}
