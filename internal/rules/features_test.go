package rules

import (
	"fmt"
	"strings"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/taxagg/taxagg/internal/money"
	"github.com/taxagg/taxagg/internal/txn"
)

// evalOne compiles rules, evaluates tx and returns the result.
func evalOne(t *testing.T, yaml string, tx *txn.Transaction) *Result {
	t.Helper()
	p := mustCompile(t, yaml)
	var res Result
	if err := p.NewEvaluator(false).Eval(tx, &res); err != nil {
		t.Fatalf("eval: %v", err)
	}
	return &res
}

// summary prints each tax line as "tax reason rate gross/exempt/nontax/taxable tax exact".
func summary(res *Result, digits int32) string {
	var parts []string
	for _, l := range res.Lines {
		rate := "-"
		if l.HasRate {
			rate = l.Rate.String()
		}
		parts = append(parts, fmt.Sprintf("%s %s %s %s/%s/%s/%s %s", l.Tax.ID, l.Reason, rate,
			l.Gross.StringFixed(digits), l.Exempt.StringFixed(digits), l.NonTaxable.StringFixed(digits),
			l.Taxable.StringFixed(digits), formatAmount(l.Amount, digits)))
	}
	return strings.Join(parts, "; ")
}

func tx(date string, lines ...txn.Line) *txn.Transaction {
	d, err := txn.ParseDate(date)
	if err != nil {
		panic(err)
	}
	return &txn.Transaction{ID: "t", Day: d, RateDay: d, Currency: usd(), Country: "US", State: "CA", Lines: lines}
}

func line(amount, qty, product string) txn.Line {
	return txn.Line{Amount: dec(amount), Quantity: dec(qty), Product: product}
}

func oneTax(body string) string {
	return `version: 1
jurisdictions:
  - code: US-CA
    name: California
    level: state
    match: {country: US, state: CA}
    taxes:
      - id: ca
` + body
}

func TestMatching(t *testing.T) {
	rules := `version: 1
jurisdictions:
  - {code: US-CA, name: California, level: state, match: {country: US, state: [CA, "Calif ornia"]}, taxes: [{id: ca, rates: [{from: 2020-01-01, rate: "6%"}]}]}
  - {code: US-CA-LA, name: Los Angeles, level: county, match: {country: US, state: CA, county: "Los   Angeles"}, taxes: [{id: la, rates: [{from: 2020-01-01, rate: "1%"}]}]}
  - {code: US-CA-PAS, name: Pasadena, level: city, match: {country: US, postal_code: ["91101-91107", "9112*"]}, taxes: [{id: pas, rates: [{from: 2020-01-01, rate: "0.5%"}]}]}
  - {code: US-CA-Z, name: Zip exact, level: district, match: {country: US, postal_code: "90210"}, taxes: [{id: z, rates: [{from: 2020-01-01, rate: "0.25%"}]}]}
  - {code: US-NX, name: Nowhere, level: district, taxes: [{id: nx, rates: [{from: 2020-01-01, rate: "9%"}]}]}
`
	p := mustCompile(t, rules)
	tests := []struct {
		name                        string
		country, state, county, zip string
		explicit                    []string
		want                        string
	}{
		{"state only", "US", "CA", "", "", nil, "US-CA"},
		{"case and space folding", "us", " Ca ", "los  ANGELES", "", nil, "US-CA US-CA-LA"},
		{"a list is any of its values (OR)", "US", "calif  ORNIA", "", "", nil, "US-CA"},
		{"county needs state too (AND)", "US", "NV", "Los Angeles", "", nil, ""},
		{"zip range", "US", "CA", "", "91105", nil, "US-CA US-CA-PAS"},
		{"zip range end inclusive", "US", "CA", "", "91107", nil, "US-CA US-CA-PAS"},
		{"zip outside range", "US", "CA", "", "91108", nil, "US-CA"},
		{"zip prefix", "US", "CA", "", "91123", nil, "US-CA US-CA-PAS"},
		{"zip+4 matches on five digits", "US", "CA", "", "90210-1234", nil, "US-CA US-CA-Z"},
		{"zip exact", "US", "CA", "", "90211", nil, "US-CA"},
		{"explicit codes replace matching", "US", "CA", "", "90210", []string{"US-NX"}, "US-NX"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := tx("2025-01-01", line("10.00", "1", "default"))
			x.Country, x.State, x.County, x.PostalCode, x.Jurisdictions = tt.country, tt.state, tt.county, tt.zip, tt.explicit
			var res Result
			if err := p.NewEvaluator(false).Eval(x, &res); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, j := range res.Jurisdictions {
				got = append(got, j.Code)
			}
			if g := strings.Join(got, " "); g != tt.want {
				t.Errorf("matched %q, want %q", g, tt.want)
			}
		})
	}
	t.Run("unknown explicit code is bad input", func(t *testing.T) {
		x := tx("2025-01-01", line("10.00", "1", "default"))
		x.Jurisdictions = []string{"US-CA", "US-XX"}
		var res Result
		err := p.NewEvaluator(false).Eval(x, &res)
		if err == nil || err.Error() != `jurisdictions[1]: unknown jurisdiction code "US-XX"` {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestRatesByDate(t *testing.T) {
	rules := oneTax(`        rates:
          - {from: 2019-01-01, to: 2023-07-01, rate: "4.5%"}
          - {from: 2023-07-01, to: 2025-01-01, rate: 0.042}
`)
	tests := []struct{ date, want string }{
		{"2018-12-31", ""},
		{"2019-01-01", "ca standard_rated 0.045 100.00/0.00/0.00/100.00 4.50"},
		{"2023-06-30", "ca standard_rated 0.045 100.00/0.00/0.00/100.00 4.50"},
		{"2023-07-01", "ca standard_rated 0.042 100.00/0.00/0.00/100.00 4.20"},
		{"2025-01-01", ""}, // to is exclusive: no rate in force, the tax does not apply
	}
	for _, tt := range tests {
		res := evalOne(t, rules, tx(tt.date, line("100.00", "1", "default")))
		if got := summary(res, 2); got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.date, got, tt.want)
		}
	}
	t.Run("refund takes rates at original_date", func(t *testing.T) {
		x := tx("2024-02-01", line("100.00", "1", "default"))
		x.Refund = true
		x.RateDay, _ = txn.ParseDate("2023-01-15")
		res := evalOne(t, rules, x)
		if got, want := summary(res, 2), "ca standard_rated 0.045 -100.00/0.00/0.00/-100.00 -4.50"; got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	})
}

func TestTaxability(t *testing.T) {
	rules := oneTax(`        rates: [{from: 2020-01-01, rate: "10%"}]
        taxability:
          default: taxable
          food: exempt
          clothing: {exempt_below: "110.00"}
          saas: {portion: "80%"}
          candy: "4%"
          mixed: {rate: "5%", portion: "50%"}
`)
	tests := []struct {
		name string
		l    txn.Line
		want string
	}{
		{"taxable", line("100.00", "1", "physical"), "ca standard_rated 0.1 100.00/0.00/0.00/100.00 10.00"},
		{"exempt product", line("100.00", "1", "food"), "ca product_exempt 0.1 100.00/0.00/100.00/0.00 0.00"},
		{"below threshold per unit", line("200.00", "2", "clothing"), "ca below_threshold 0.1 200.00/0.00/200.00/0.00 0.00"},
		{"at threshold is taxable", line("220.00", "2", "clothing"), "ca standard_rated 0.1 220.00/0.00/0.00/220.00 22.00"},
		{"portion 80%", line("99.99", "1", "saas"), "ca portion_taxable 0.1 99.99/0.00/20.00/79.99 8.00"},
		{"reduced rate", line("100.00", "1", "candy"), "ca reduced_rated 0.04 100.00/0.00/0.00/100.00 4.00"},
		{"rate and portion", line("100.00", "1", "mixed"), "ca portion_taxable 0.05 100.00/0.00/50.00/50.00 2.50"},
		{"category names ignore case", line("100.00", "1", "FOOD"), "ca product_exempt 0.1 100.00/0.00/100.00/0.00 0.00"},
	}
	for _, tt := range tests {
		res := evalOne(t, rules, tx("2025-01-01", tt.l))
		if got := summary(res, 2); got != tt.want {
			t.Errorf("%s: got %q\nwant %q", tt.name, got, tt.want)
		}
	}
}

func TestTiers(t *testing.T) {
	t.Run("per line cap", func(t *testing.T) {
		rules := oneTax(`        rates: [{from: 2020-01-01, rate: "2%"}]
        tiers: {per: line, brackets: [{up_to: "1000.00"}]}
`)
		res := evalOne(t, rules, tx("2025-01-01", line("1500.00", "3", "x")))
		if got, want := summary(res, 2), "ca capped 0.02 1500.00/0.00/500.00/1000.00 20.00"; got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	})
	t.Run("per transaction brackets across lines", func(t *testing.T) {
		rules := oneTax(`        rates: [{from: 2020-01-01, rate: "1%"}]
        tiers: {per: transaction, brackets: [{up_to: "100", rate: "10%"}, {up_to: "300", rate: "5%"}, {rate: "0%"}]}
`)
		// Base 150 + 200 = 350: 100 at 10% (10) + 200 at 5% (10) + 50 at 0% = 20.00; all taxable.
		res := evalOne(t, rules, tx("2025-01-01", line("150.00", "1", "a"), line("200.00", "1", "b")))
		if got, want := summary(res, 2), "ca capped 0.01 350.00/0.00/0.00/350.00 20.00"; got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	})
	t.Run("per unit with remainder above the last bracket non-taxable", func(t *testing.T) {
		rules := oneTax(`        rates: [{from: 2020-01-01, rate: "2.25%"}]
        tiers: {per: unit, brackets: [{up_to: "1600.00"}]}
`)
		// 3 units at 2,000.00: each taxed on 1,600 at 2.25% = 36.00, ×3 = 108.00; taxable 4,800.
		res := evalOne(t, rules, tx("2025-01-01", line("6000.00", "3", "x")))
		if got, want := summary(res, 2), "ca capped 0.0225 6000.00/0.00/1200.00/4800.00 108.00"; got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	})
}

func TestExemptions(t *testing.T) {
	rules := `version: 1
jurisdictions:
  - {code: US-TX, name: Texas, level: state, match: {country: US, state: TX}, taxes: [{id: tx, rates: [{from: 2020-01-01, rate: "6.25%"}]}]}
  - {code: US-TX-AUS, name: Austin, level: city, match: {country: US, state: TX, city: Austin}, taxes: [{id: aus, rates: [{from: 2020-01-01, rate: "1%"}]}]}
  - {code: US-CA, name: California, level: state, match: {country: US, state: CA}, taxes: [{id: ca, rates: [{from: 2020-01-01, rate: "7.25%"}]}]}
exemptions:
  - {customer: cus_42, jurisdictions: ["US-TX*"], reason: resale, from: 2025-01-01}
`
	tests := []struct {
		name, customer, reason, state, date, want string
	}{
		{"customer exempt in TX and its cities", "cus_42", "", "TX", "2025-03-01",
			"tx customer_exempt 0.0625 100.00/100.00/0.00/0.00 0.00; aus customer_exempt 0.01 100.00/100.00/0.00/0.00 0.00"},
		{"not before the exemption starts", "cus_42", "", "TX", "2024-12-31",
			"tx standard_rated 0.0625 100.00/0.00/0.00/100.00 6.25; aus standard_rated 0.01 100.00/0.00/0.00/100.00 1.00"},
		{"not outside its jurisdictions", "cus_42", "", "CA", "2025-03-01", "ca standard_rated 0.0725 100.00/0.00/0.00/100.00 7.25"},
		{"exempt_reason exempts everywhere", "", "resale", "CA", "2025-03-01", "ca customer_exempt 0.0725 100.00/100.00/0.00/0.00 0.00"},
	}
	for _, tt := range tests {
		x := tx(tt.date, line("100.00", "1", "default"))
		x.Customer, x.ExemptReason, x.State, x.City = tt.customer, tt.reason, tt.state, "Austin"
		if got := summary(evalOne(t, rules, x), 2); got != tt.want {
			t.Errorf("%s: got %q\nwant %q", tt.name, got, tt.want)
		}
	}
}

func TestCompoundAndFixed(t *testing.T) {
	rules := `version: 1
jurisdictions:
  - code: CA-QC
    name: Quebec
    level: state
    match: {country: CA, state: QC}
    taxes:
      - {id: gst, rates: [{from: 2020-01-01, rate: "5%"}]}
      - {id: excise, fixed: "0.50"}
      - {id: qst, rates: [{from: 2020-01-01, rate: "9.975%"}], compound_on: [gst, excise]}
      - {id: exact-base, rates: [{from: 2020-01-01, rate: "10%"}], rounding: {level: transaction}}
      - {id: on-exact, rates: [{from: 2020-01-01, rate: "10%"}], compound_on: [exact-base]}
`
	x := tx("2025-01-01", line("10.01", "2", "default"))
	x.Country, x.State = "CA", "QC"
	x.Currency, _ = money.LookupCurrency("CAD")
	res := evalOne(t, rules, x)
	// gst: 10.01 × 5% = 0.5005 → 0.50 (line). excise: 2 × 0.50 = 1.00.
	// qst base: 10.01 + 0.50 + 1.00 = 11.51 × 9.975% = 1.14812… → 1.15.
	// exact-base: 1.001 (transaction level, exact in the compound base);
	// on-exact: (10.01 + 1.001) × 10% = 1.1011 → 1.10.
	want := "gst standard_rated 0.05 10.01/0.00/0.00/10.01 0.50; excise fixed - 10.01/0.00/0.00/10.01 1.00; " +
		"qst compound 0.09975 10.01/0.00/0.00/10.01 1.15; exact-base standard_rated 0.1 10.01/0.00/0.00/10.01 1.00; " +
		"on-exact compound 0.1 10.01/0.00/0.00/10.01 1.10"
	if got := summary(res, 2); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	// Dependency order: taxes come after what they compound on.
	p := mustCompile(t, rules)
	seen := map[string]bool{}
	for _, tax := range p.Taxes {
		for _, dep := range tax.CompoundOn {
			if !seen[dep.ID] {
				t.Errorf("%s evaluated before %s, which it compounds on", tax.ID, dep.ID)
			}
		}
		seen[tax.ID] = true
	}
}

func TestTaxIncluded(t *testing.T) {
	rules := `version: 1
jurisdictions:
  - {code: US-CA, name: California, level: state, match: {country: US, state: CA}, taxes: [{id: ca, rates: [{from: 2020-01-01, rate: "6%"}]}]}
  - {code: US-CA-X, name: District, level: district, match: {country: US, state: CA}, taxes: [{id: x, rates: [{from: 2020-01-01, rate: "1.25%"}]}]}
`
	l := line("100.00", "1", "default")
	l.TaxIncluded = true
	res := evalOne(t, rules, tx("2025-01-01", l))
	// R = 7.25%: net = 100 / 1.0725 = 93.2400932… → 93.24; ca 5.5944 → 5.59;
	// x 1.1655 → 1.17; remainder 100 − 93.24 − 6.76 = 0.00.
	want := "ca standard_rated 0.06 93.24/0.00/0.00/93.24 5.59; x standard_rated 0.0125 93.24/0.00/0.00/93.24 1.17"
	if got := summary(res, 2); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	t.Run("remainder goes to net", func(t *testing.T) {
		// 10.00 at 6% + 1.25% twice over: net = 10/1.0725 = 9.32 ; taxes 0.5592→0.56, 0.1165→0.12;
		// 9.32 + 0.68 = 10.00 exactly.
		l := line("10.00", "1", "default")
		l.TaxIncluded = true
		res := evalOne(t, rules, tx("2025-01-01", l))
		total := res.Lines[0].Gross
		for _, tl := range res.Lines {
			total = total.Add(tl.Amount)
		}
		if !total.Equal(dec("10.00")) {
			t.Errorf("net + taxes = %s, want 10.00 (%s)", total, summary(res, 2))
		}
	})
	t.Run("needs plain rates", func(t *testing.T) {
		p := mustCompile(t, oneTax(`        rates: [{from: 2020-01-01, rate: "1%"}]
        tiers: {per: line, brackets: [{up_to: "5"}]}
`))
		var res Result
		err := p.NewEvaluator(false).Eval(tx("2025-01-01", l), &res)
		if err == nil || !strings.Contains(err.Error(), "tax_included: tax-included amounts need plain rates, but tax ca has tiers") {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestRounding(t *testing.T) {
	tests := []struct {
		mode, level string
		amounts     []string
		want        string
	}{
		// 3 lines of 0.15 at 10%: 0.015 each.
		{"half_up", "line", []string{"0.15", "0.15", "0.15"}, "0.06"},
		{"half_even", "line", []string{"0.15", "0.15", "0.15"}, "0.06"}, // 0.015 → 0.02 (even)
		{"down", "line", []string{"0.15", "0.15", "0.15"}, "0.03"},
		{"up", "line", []string{"0.11", "0.11", "0.11"}, "0.06"},
		{"half_up", "transaction", []string{"0.15", "0.15", "0.15"}, "0.05"}, // 0.045 → 0.05
		{"half_even", "transaction", []string{"0.15", "0.15", "0.15"}, "0.04"},
		{"half_up", "aggregate", []string{"0.15", "0.15", "0.15"}, "0.045"}, // exact until printed
	}
	for _, tt := range tests {
		rules := oneTax(fmt.Sprintf(`        rates: [{from: 2020-01-01, rate: "10%%"}]
        rounding: {mode: %s, level: %s}
`, tt.mode, tt.level))
		var lines []txn.Line
		for _, a := range tt.amounts {
			lines = append(lines, line(a, "1", "default"))
		}
		res := evalOne(t, rules, tx("2025-01-01", lines...))
		got := decimal.Decimal{}
		for _, l := range res.Lines {
			got = got.Add(l.Amount)
		}
		if formatAmount(got, 2) != tt.want {
			t.Errorf("%s/%s: tax %s, want %s", tt.mode, tt.level, got, tt.want)
		}
	}
}

func TestCurrencyMinorUnits(t *testing.T) {
	rules := `version: 1
jurisdictions:
  - {code: JP, name: Japan, level: country, match: {country: JP}, taxes: [{id: jct, rates: [{from: 2019-10-01, rate: "10%"}]}]}
  - {code: BH, name: Bahrain, level: country, match: {country: BH}, taxes: [{id: vat, rates: [{from: 2022-01-01, rate: "10%"}]}]}
`
	jpy, _ := money.LookupCurrency("JPY")
	x := tx("2025-01-01", line("1995", "1", "x"))
	x.Country, x.Currency = "JP", jpy
	if got, want := summary(evalOne(t, rules, x), 0), "jct standard_rated 0.1 1995/0/0/1995 200"; got != want {
		t.Errorf("JPY: got %q, want %q", got, want)
	}
	bhd, _ := money.LookupCurrency("BHD")
	x = tx("2025-01-01", line("1.995", "1", "x"))
	x.Country, x.Currency = "BH", bhd
	if got, want := summary(evalOne(t, rules, x), 3), "vat standard_rated 0.1 1.995/0.000/0.000/1.995 0.200"; got != want {
		t.Errorf("BHD: got %q, want %q", got, want)
	}
}
