package importer

import (
	"sort"
	"strings"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/taxagg/taxagg/internal/money"
	"github.com/taxagg/taxagg/internal/rules"
	"github.com/taxagg/taxagg/internal/txn"
)

// Every importer's output must be accepted by the rule compiler as it is
// (docs/rules.md), and must tax sample transactions as the source files say.
func TestImportedRulesCompile(t *testing.T) {
	type sale struct {
		state, day, postal, county, city, product string
		explicit                                  []string
		wantJur                                   []string // codes the sale falls in
		wantTax                                   string   // total tax on 100.00 USD
	}
	tests := []struct {
		name   string
		format Format
		opt    Options
		files  []string
		sales  []sale
	}{
		{"sst georgia", FormatSST, Options{}, []string{"GAR2026Q2FEB19.csv"}, []sale{
			{state: "GA", day: "2022-05-01", explicit: []string{"US-GA", "US-GA-CITY-04000"}, wantJur: []string{"US-GA", "US-GA-CITY-04000"}, wantTax: "5.50"},
			{state: "GA", day: "2022-10-01", explicit: []string{"US-GA", "US-GA-CITY-04000"}, wantJur: []string{"US-GA", "US-GA-CITY-04000"}, wantTax: "5.90"},
			{state: "GA", day: "2017-03-15", explicit: []string{"US-GA", "US-GA-CITY-04000"}, wantJur: []string{"US-GA", "US-GA-CITY-04000"}, wantTax: "5.50"},
			{state: "GA", day: "2022-10-01", postal: "30301", wantJur: []string{"US-GA"}, wantTax: "4.00"},
			{state: "GA", day: "2022-10-01", product: "drug", explicit: []string{"US-GA", "US-GA-CITY-04000"}, wantJur: []string{"US-GA", "US-GA-CITY-04000"}, wantTax: "1.90"},
			// Food: Georgia's state rate on food is 0% (columns 6-7 of its
			// row), locals apply; an explicit city brings its parent US-GA.
			{state: "GA", day: "2022-10-01", product: "food", explicit: []string{"US-GA-CITY-04000"}, wantJur: []string{"US-GA", "US-GA-CITY-04000"}, wantTax: "1.90"},
			{state: "GA", day: "2026-04-01", product: "food", explicit: []string{"US-GA-COUNTY-121", "US-GA-CITY-04000"}, wantJur: []string{"US-GA", "US-GA-CITY-04000", "US-GA-COUNTY-121"}, wantTax: "4.90"},
			{state: "GA", day: "2026-04-01", explicit: []string{"US-GA-COUNTY-121", "US-GA-CITY-04000"}, wantJur: []string{"US-GA", "US-GA-CITY-04000", "US-GA-COUNTY-121"}, wantTax: "8.90"},
			// "!US-GA" leaves the state out of an explicit list.
			{state: "GA", day: "2026-04-01", explicit: []string{"US-GA-CITY-04000", "!US-GA"}, wantJur: []string{"US-GA-CITY-04000"}, wantTax: "1.90"},
		}},
		{"sst minnesota with boundary", FormatSST, Options{}, []string{"MNR2026Q2FEB18.csv", "MNB2026Q2FEB18-sample.csv"}, []sale{
			// 6.875% + Minneapolis 0.5% + Hennepin 0.15% + district 80004 0.5%
			{state: "MN", day: "2019-01-15", postal: "55401", wantJur: []string{"US-MN", "US-MN-CITY-43000", "US-MN-COUNTY-053", "US-MN-DISTRICT-63-80004"}, wantTax: "8.03"},
			{state: "MN", day: "2019-01-15", postal: "55401-1234", wantJur: []string{"US-MN", "US-MN-CITY-43000", "US-MN-COUNTY-053", "US-MN-DISTRICT-63-80004"}, wantTax: "8.03"},
			// St. Paul 0.5% until 2024-03-31, 1.5% after; Ramsey 0.5%
			{state: "MN", day: "2024-03-31", postal: "55103", wantJur: []string{"US-MN", "US-MN-CITY-58000", "US-MN-COUNTY-123"}, wantTax: "7.88"},
			{state: "MN", day: "2024-04-01", postal: "55103", wantJur: []string{"US-MN", "US-MN-CITY-58000", "US-MN-COUNTY-123"}, wantTax: "8.88"},
			{state: "MN", day: "2019-01-15", postal: "56000", wantJur: []string{"US-MN"}, wantTax: "6.88"},
		}},
		{"sst small with food split", FormatSST, Options{}, []string{"sst-small.csv", "sst-small-boundary.csv"}, []sale{
			// Food: state 0%, county 007's food/drug rate 0% in 2014, 3% in 2016.
			{state: "GA", day: "2014-06-01", postal: "30310", product: "food", wantJur: []string{"US-GA", "US-GA-COUNTY-007", "US-GA-DISTRICT-63-00044"}, wantTax: "0.00"},
			{state: "GA", day: "2016-06-01", postal: "30310", product: "food", wantJur: []string{"US-GA", "US-GA-COUNTY-007", "US-GA-DISTRICT-63-00044"}, wantTax: "3.00"},
			{state: "GA", day: "2016-06-01", postal: "30310", wantJur: []string{"US-GA", "US-GA-COUNTY-007", "US-GA-DISTRICT-63-00044"}, wantTax: "7.00"},
		}},
		{"avalara", FormatAvalaraZip, Options{Effective: day("2018-09-01")}, []string{"TAXRATES_ZIP5_TN201809.csv", "TAXRATES_ZIP5_CO201809.csv"}, []sale{
			{state: "CO", day: "2018-09-01", postal: "80001", wantJur: []string{"US-CO", "US-CO-ZIP-80001"}, wantTax: "7.96"},
			{state: "TN", day: "2018-09-01", postal: "37010", wantJur: []string{"US-TN", "US-TN-ZIP-37010"}, wantTax: "9.50"},
			{state: "TN", day: "2018-08-31", postal: "37010", wantJur: []string{"US-TN", "US-TN-ZIP-37010"}, wantTax: "0.00"},
		}},
		{"cdtfa", FormatCDTFA, Options{Effective: day("2026-01-01")}, []string{"SalesTaxRates1-1-26.csv"}, []sale{
			{state: "CA", day: "2026-01-01", city: "Adelanto", wantJur: []string{"US-CA", "US-CA-CITY-ADELANTO"}, wantTax: "7.75"},
			{state: "CA", day: "2026-01-01", city: "la  cañada flintridge", wantJur: []string{"US-CA", "US-CA-CITY-LA-CANADA-FLINTRIDGE"}, wantTax: "10.50"},
			{state: "CA", day: "2026-01-01", explicit: []string{"US-CA", "US-CA-COUNTY-ALAMEDA"}, wantJur: []string{"US-CA", "US-CA-COUNTY-ALAMEDA"}, wantTax: "10.25"},
			{state: "CA", day: "2026-01-01", city: "Castro Valley", wantJur: []string{"US-CA"}, wantTax: "7.25"},
			// Unincorporated Alameda County: in the county, in none of its cities.
			{state: "CA", day: "2026-01-01", county: "Alameda", city: "Castro Valley", wantJur: []string{"US-CA", "US-CA-COUNTY-ALAMEDA"}, wantTax: "10.25"},
			{state: "CA", day: "2026-01-01", county: "Alameda County", city: "Castro Valley", wantJur: []string{"US-CA", "US-CA-COUNTY-ALAMEDA"}, wantTax: "10.25"},
			{state: "CA", day: "2026-01-01", county: "Alameda", city: "Oakland", wantJur: []string{"US-CA", "US-CA-CITY-OAKLAND"}, wantTax: "10.75"},
		}},
	}
	usd, ok := money.LookupCurrency("USD")
	if !ok {
		t.Fatal("no USD")
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var files []File
			for _, f := range tt.files {
				files = append(files, testFile(t, f))
			}
			_, out := run(t, tt.format, tt.opt, files...)
			prog, err := rules.Compile([]rules.Source{{Name: tt.name + ".yaml", Data: out}})
			if err != nil {
				t.Fatalf("rules.Compile: %v", err)
			}
			ev := prog.NewEvaluator(false)
			var res rules.Result
			for _, s := range tt.sales {
				d, err := txn.ParseDate(s.day)
				if err != nil {
					t.Fatal(err)
				}
				product := s.product
				if product == "" {
					product = "default"
				}
				tx := &txn.Transaction{
					ID: "t", Day: d, RateDay: d, Currency: usd,
					Country: "US", State: s.state, County: s.county, City: s.city, PostalCode: s.postal,
					Jurisdictions: s.explicit,
					Lines:         []txn.Line{{Amount: decimal.RequireFromString("100.00"), Quantity: decimal.NewFromInt(1), Product: product}},
				}
				if err := ev.Eval(tx, &res); err != nil {
					t.Errorf("%+v: Eval: %v", s, err)
					continue
				}
				var codes []string
				for _, j := range res.Jurisdictions {
					codes = append(codes, j.Code)
				}
				sort.Strings(codes)
				if strings.Join(codes, " ") != strings.Join(s.wantJur, " ") {
					t.Errorf("%s %s%s%v: jurisdictions %v, want %v", s.day, s.postal, s.city, s.explicit, codes, s.wantJur)
				}
				total := decimal.Zero
				for _, l := range res.Lines {
					total = total.Add(l.Amount)
				}
				if total.StringFixed(2) != s.wantTax {
					t.Errorf("%s %s%s%v %s: tax %s, want %s", s.day, s.postal, s.city, s.explicit, product, total.StringFixed(2), s.wantTax)
				}
			}
		})
	}
}
