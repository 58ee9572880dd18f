package importer

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestAvalaraCounts(t *testing.T) {
	opt := Options{Effective: day("2018-09-01")}
	tests := []struct {
		name      string
		files     []string
		want      int
		noTax     int // ZIPs without local tax
		wantRates map[string]string
	}{
		{"TN", []string{"TAXRATES_ZIP5_TN201809.csv"}, 783, 0, map[string]string{
			"US-TN":           "7%",
			"US-TN-ZIP-37010": "2.5%",
			"US-TN-ZIP-37011": "2.25%",
		}},
		{"CO", []string{"TAXRATES_ZIP5_CO201809.csv"}, 643, 53, map[string]string{
			"US-CO":           "2.9%",
			"US-CO-ZIP-80001": "5.06%", // 7.96% - 2.9%
			"US-CO-ZIP-80422": "",      // combined = state
		}},
		{"TN and CO", []string{"TAXRATES_ZIP5_TN201809.csv", "TAXRATES_ZIP5_CO201809.csv"}, 783 + 643, 53, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var files []File
			for _, f := range tt.files {
				files = append(files, testFile(t, f))
			}
			rf, _ := run(t, FormatAvalaraZip, opt, files...)
			if got := len(rf.Jurisdictions); got != tt.want {
				t.Errorf("jurisdictions = %d, want %d", got, tt.want)
			}
			noTax := 0
			for _, j := range rf.Jurisdictions {
				if len(j.Taxes) == 0 {
					noTax++
				}
			}
			if noTax != tt.noTax {
				t.Errorf("jurisdictions without tax = %d, want %d", noTax, tt.noTax)
			}
			if rf.AsOf != "2018-09-01" {
				t.Errorf("as_of = %q", rf.AsOf)
			}
			for code, want := range tt.wantRates {
				j := rf.jur(t, code)
				if got := j.rateAt(t, "2018-09-01"); got != want {
					t.Errorf("%s rate = %q, want %q", code, got, want)
				}
				if got := j.rateAt(t, "2018-08-31"); got != "" {
					t.Errorf("%s in force before the effective date: %q", code, got)
				}
				if len(j.Taxes) > 0 && j.Taxes[0].Rates[0].To != "" {
					t.Errorf("%s has a to: %+v", code, j.Taxes[0].Rates)
				}
			}
		})
	}
}

func TestAvalaraMatch(t *testing.T) {
	rf, _ := run(t, FormatAvalaraZip, Options{Effective: day("2018-09-01")}, testFile(t, "avalara-small.csv"))
	z := rf.jur(t, "US-CO-ZIP-80001")
	want := ruleMatch{Country: "US", State: "CO", PostalCode: "80001"}
	if z.Match == nil || !reflect.DeepEqual(*z.Match, want) {
		t.Errorf("match = %+v, want %+v", z.Match, want)
	}
	if z.Level != "district" || z.Parent != "US-CO" || z.Name != "ARVADA (JEFFERSON CO) (CO ZIP 80001)" {
		t.Errorf("jurisdiction = %+v", z)
	}
	s := rf.jur(t, "US-CO")
	if s.Match == nil || !reflect.DeepEqual(*s.Match, ruleMatch{Country: "US", State: "CO"}) {
		t.Errorf("state match = %+v", s.Match)
	}
}

// Columns are found by name: a table with another column order gives the
// same rules.
func TestAvalaraColumnOrder(t *testing.T) {
	a := "State,ZipCode,TaxRegionName,StateRate,EstimatedCombinedRate,EstimatedCountyRate,EstimatedCityRate,EstimatedSpecialRate,RiskLevel\n" +
		"TN,37010,MONTGOMERY COUNTY,0.070000,0.095000,0.025000,0,0,1\n"
	b := "\ufeffRiskLevel,ZIPCODE,CombinedRate,StateRate,State,TaxRegionName\n" +
		"1,37010,0.095000,0.070000,tn,MONTGOMERY COUNTY\n"
	opt := Options{Effective: day("2018-09-01")}
	_, outA := run(t, FormatAvalaraZip, opt, text("x.csv", a))
	_, outB := run(t, FormatAvalaraZip, opt, text("x.csv", b))
	if string(outA) != string(outB) {
		t.Errorf("column order changes the output:\n%s\n---\n%s", outA, outB)
	}
}

func TestAvalaraErrors(t *testing.T) {
	hdr := "State,ZipCode,TaxRegionName,StateRate,EstimatedCombinedRate,EstimatedCountyRate,EstimatedCityRate,EstimatedSpecialRate,RiskLevel\n"
	row := "TN,37010,MONTGOMERY COUNTY,0.070000,0.095000,0.025000,0,0,1\n"
	// Strict: each quirk is the error it was before quirks were resolved.
	eff := Options{Effective: day("2018-09-01"), Strict: true}
	tests := []struct {
		name string
		opt  Options
		file File
		want string
	}{
		{"no effective date", Options{}, text("TN.csv", hdr+row),
			"import avalara-zip: no effective date: Avalara ZIP5 tables carry no date"},
		{"malformed NY rows", eff, testFile(t, "TAXRATES_ZIP5_NY201809-excerpt.csv"),
			`TAXRATES_ZIP5_NY201809-excerpt.csv:7: EstimatedCombinedRate: rate "MDJB" is not a decimal fraction`},
		{"sst file", eff, testFile(t, "GAR2026Q2FEB19.csv"),
			`GAR2026Q2FEB19.csv:1: not an Avalara ZIP5 rate table: the header line has no State column`},
		{"cdtfa file", eff, testFile(t, "SalesTaxRates1-1-26.csv"),
			`SalesTaxRates1-1-26.csv:1: not an Avalara ZIP5 rate table: the header line has no State column`},
		{"empty", eff, text("E.csv", ""), "E.csv: empty file: not an Avalara ZIP5 rate table"},
		{"bad state", eff, text("X.csv", hdr+"XX,37010,M,0.07,0.095,0,0,0,1\n"), `X.csv:2: State: "XX" is not a US state abbreviation`},
		{"bad zip", eff, text("X.csv", hdr+"TN,3701,M,0.07,0.095,0,0,0,1\n"), `X.csv:2: ZipCode: "3701" is not a 5-digit ZIP code`},
		{"combined below state", eff, text("X.csv", hdr+"TN,37010,M,0.07,0.05,0,0,0,1\n"), "X.csv:2: combined rate 0.05 is below the state rate 0.07"},
		{"state rate differs", eff, text("X.csv", hdr+row+"TN,37011,M,0.06,0.095,0,0,0,1\n"), "X.csv:3: StateRate 0.06 differs from 0.07 at X.csv:2"},
		{"duplicate zip", eff, text("X.csv", hdr+row+row), "X.csv:3: duplicate of ZIP 37010 at X.csv:2 dropped (--strict)"},
		{"header only", eff, text("X.csv", hdr), "X.csv:1: no valid data rows after the header line"},
		{"short row", eff, text("X.csv", hdr+"TN,37010,M,0.07\n"), "X.csv:2: has 4 columns, the header 9"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := importErr(t, FormatAvalaraZip, tt.opt, tt.file)
			if !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("error =\n%q\nwant prefix\n%q", err, tt.want)
			}
		})
	}
	if err := importErr(t, FormatAvalaraZip, Options{}, text("TN.csv", hdr+row)); !errors.Is(err, ErrNoEffective) {
		t.Errorf("missing effective date: %v is not ErrNoEffective", err)
	}
}
