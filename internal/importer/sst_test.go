package importer

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestSSTGeorgiaCounts(t *testing.T) {
	rf, _ := run(t, FormatSST, Options{}, testFile(t, "GAR2026Q2FEB19.csv"))
	if got, want := len(rf.Jurisdictions), 170; got != want {
		t.Errorf("jurisdictions = %d, want %d", got, want)
	}
	wantLevels := map[string]int{"state": 1, "county": 159, "city": 6, "district": 4}
	if got := countLevels(rf); !reflect.DeepEqual(got, wantLevels) {
		t.Errorf("levels = %v, want %v", got, wantLevels)
	}
	ga := rf.jur(t, "US-GA")
	if ga.Name != "Georgia" || ga.Level != "state" || ga.Match == nil || ga.Match.State != "GA" || ga.Match.Country != "US" {
		t.Errorf("US-GA = %+v", ga)
	}
	for _, j := range rf.Jurisdictions {
		if j.Level != "state" && j.Match != nil {
			t.Errorf("%s has a match without a boundary file", j.Code)
		}
		if j.Level != "state" && j.Parent != "US-GA" {
			t.Errorf("%s parent = %q, want US-GA", j.Code, j.Parent)
		}
	}
	d := rf.jur(t, "US-GA-DISTRICT-63-00060")
	if d.Level != "district" {
		t.Errorf("district level = %q", d.Level)
	}
	// Columns 4-7 are general intrastate, general interstate, food/drug
	// intrastate, food/drug interstate: Georgia's state row is
	// 0.04,0.04,0,0, so food and drugs are exempt from the state tax.
	if got := ga.Taxes[0].Taxability; !reflect.DeepEqual(got, map[string]string{"drug": "exempt", "food": "exempt"}) {
		t.Errorf("US-GA taxability = %v, want food and drug exempt", got)
	}
	if got := ga.Taxes[0].ID; got != "ga-state" {
		t.Errorf("US-GA tax id = %q, want ga-state (the embedded pack's, so that they merge)", got)
	}
	if got := rf.jur(t, "US-GA-COUNTY-121").Name; got != "Fulton County" {
		t.Errorf("county 121 name = %q, want Fulton County", got)
	}
}

// The city 04000 rate goes 1% -> 1.5% -> 1.9% -> 1.5% -> 1.9%: every dated
// step must survive, with the file's inclusive end turned into the
// exclusive day after.
func TestSSTGeorgiaDatedSteps(t *testing.T) {
	rf, _ := run(t, FormatSST, Options{}, testFile(t, "GAR2026Q2FEB19.csv"))
	j := rf.jur(t, "US-GA-CITY-04000")
	wantRates := []ruleRate{
		{From: "2011-01-01", To: "2017-03-01", Rate: "1%"},
		{From: "2017-03-01", To: "2017-04-01", Rate: "1.5%"},
		{From: "2017-04-01", To: "2022-04-01", Rate: "1.9%"},
		{From: "2022-04-01", To: "2022-10-01", Rate: "1.5%"},
		{From: "2022-10-01", Rate: "1.9%"},
	}
	if !reflect.DeepEqual(j.Taxes[0].Rates, wantRates) {
		t.Errorf("US-GA-CITY-04000 rates =\n%+v\nwant\n%+v", j.Taxes[0].Rates, wantRates)
	}
	tests := []struct {
		code, day, want string
	}{
		{"US-GA-CITY-04000", "2010-12-31", ""},
		{"US-GA-CITY-04000", "2011-01-01", "1%"},
		{"US-GA-CITY-04000", "2017-02-28", "1%"}, // last day of 20170228 row
		{"US-GA-CITY-04000", "2017-03-01", "1.5%"},
		{"US-GA-CITY-04000", "2017-03-31", "1.5%"},
		{"US-GA-CITY-04000", "2017-04-01", "1.9%"},
		{"US-GA-CITY-04000", "2020-06-15", "1.9%"},
		{"US-GA-CITY-04000", "2022-03-31", "1.9%"},
		{"US-GA-CITY-04000", "2022-04-01", "1.5%"},
		{"US-GA-CITY-04000", "2022-09-30", "1.5%"},
		{"US-GA-CITY-04000", "2022-10-01", "1.9%"},
		{"US-GA-CITY-04000", "2999-12-31", "1.9%"}, // open-ended sentinel
		{"US-GA-CITY-05000", "2018-03-31", ""},
		{"US-GA-CITY-05000", "2018-04-01", "1.9%"},
		{"US-GA-CITY-05000", "2022-04-01", "1.5%"},
		{"US-GA-CITY-05000", "2022-10-01", "1.9%"},
		{"US-GA", "2011-01-01", "4%"},
		{"US-GA", "2026-04-01", "4%"},
		{"US-GA-COUNTY-007", "2013-12-31", "3%"},
		{"US-GA-COUNTY-007", "2014-01-01", "2%"},
		{"US-GA-COUNTY-007", "2015-04-01", "3%"},
		{"US-GA-COUNTY-007", "2024-04-01", "4%"},
		{"US-GA-DISTRICT-63-00060", "2017-04-01", "0.75%"},
		{"US-GA-DISTRICT-63-00031", "2023-01-01", "0%"},
	}
	for _, tt := range tests {
		t.Run(tt.code+"@"+tt.day, func(t *testing.T) {
			if got := rf.jur(t, tt.code).rateAt(t, tt.day); got != tt.want {
				t.Errorf("rate = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSSTSentinelsAndDayAfter(t *testing.T) {
	in := "13,45,13,0.04,0.04,0.04,0.04,20110101,29991231\n" +
		"13,00,001,0.01,0.01,0.01,0.01,20110101,99991231\n" +
		"13,00,002,0.01,0.01,0.01,0.01,20111231,20111231\n" + // one day
		"13,00,003,0.01,0.01,0.01,0.01,20120101,20120228\n" + // leap year
		"13,00,003,0.02,0.02,0.02,0.02,20120229,20120229\n" +
		"13,00,004,0.01,0.01,0.01,0.01,20190101,20191231\n" // year end
	rf, _ := run(t, FormatSST, Options{}, text("S.csv", in))
	tests := []struct {
		code string
		want []ruleRate
	}{
		{"US-GA", []ruleRate{{From: "2011-01-01", Rate: "4%"}}},
		{"US-GA-COUNTY-001", []ruleRate{{From: "2011-01-01", Rate: "1%"}}},
		{"US-GA-COUNTY-002", []ruleRate{{From: "2011-12-31", To: "2012-01-01", Rate: "1%"}}},
		{"US-GA-COUNTY-003", []ruleRate{{From: "2012-01-01", To: "2012-02-29", Rate: "1%"}, {From: "2012-02-29", To: "2012-03-01", Rate: "2%"}}},
		{"US-GA-COUNTY-004", []ruleRate{{From: "2019-01-01", To: "2020-01-01", Rate: "1%"}}},
	}
	for _, tt := range tests {
		if got := rf.jur(t, tt.code).Taxes[0].Rates; !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s rates = %+v, want %+v", tt.code, got, tt.want)
		}
	}
}

func TestSSTBOM(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "testdata", "import", "GAR2026Q2FEB19.csv"))
	if err != nil {
		t.Fatal(err)
	}
	_, plain := run(t, FormatSST, Options{}, File{Name: "GAR.csv", R: bytes.NewReader(raw)})
	bom := append([]byte("\xEF\xBB\xBF"), raw...)
	_, withBOM := run(t, FormatSST, Options{}, File{Name: "GAR.csv", R: bytes.NewReader(bom)})
	if !bytes.Equal(plain, withBOM) {
		t.Error("a UTF-8 BOM changes the output")
	}
	// A boundary file with a BOM is still recognised as one.
	mnb, err := os.ReadFile(filepath.Join("..", "..", "testdata", "import", "MNB2026Q2FEB18-sample.csv"))
	if err != nil {
		t.Fatal(err)
	}
	rf, _ := run(t, FormatSST, Options{}, testFile(t, "MNR2026Q2FEB18.csv"),
		File{Name: "MNB.csv", R: bytes.NewReader(append([]byte("\xEF\xBB\xBF"), mnb...))})
	if rf.jur(t, "US-MN-CITY-43000").Match == nil {
		t.Error("boundary file with a BOM was not applied")
	}
}

func TestSSTMinnesotaBoundary(t *testing.T) {
	tests := []struct {
		name      string
		effective string
		files     []string
		want      map[string][]string // code -> postal codes; nil: no match
	}{
		{
			name:  "latest snapshot",
			files: []string{"MNR2026Q2FEB18.csv", "MNB2026Q2FEB18-sample.csv"},
			want: map[string][]string{
				"US-MN-CITY-43000":        {"55401-55405", "55407", "55409", "55455-55472"},
				"US-MN-CITY-58000":        {"55103", "55105"},
				"US-MN-CITY-17000":        {"55802"},
				"US-MN-COUNTY-025":        {"55012-55013"},
				"US-MN-COUNTY-053":        {"55401-55411", "55417", "55422-55429", "55431", "55441-55443", "55446-55447", "55450-55472"},
				"US-MN-COUNTY-123":        {"55103-55105", "55113-55114"},
				"US-MN-COUNTY-137":        {"55801-55802"},
				"US-MN-COUNTY-163":        {"55129"},
				"US-MN-DISTRICT-63-80004": {"55401-55411", "55417", "55422-55429", "55431", "55441-55443", "55446-55447", "55450-55472"},
				"US-MN-CITY-41426":        nil, // only in ZIP+4 records
				"US-MN-COUNTY-031":        nil,
			},
		},
		{
			name:  "boundary file first",
			files: []string{"MNB2026Q2FEB18-sample.csv", "MNR2026Q2FEB18.csv"},
			want: map[string][]string{
				"US-MN-CITY-43000": {"55401-55405", "55407", "55409", "55455-55472"},
			},
		},
		{
			name:      "in force at the effective date",
			effective: "2018-01-01",
			files:     []string{"MNR2026Q2FEB18.csv", "MNB2026Q2FEB18-sample.csv"},
			want: map[string][]string{
				// 55455-55472 only from 2018-04-01; Duluth's records from 2019.
				"US-MN-CITY-43000": {"55401-55405", "55407", "55409"},
				"US-MN-CITY-17000": nil,
				"US-MN-COUNTY-123": {"55103", "55105"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var opt Options
			if tt.effective != "" {
				opt.Effective = day(tt.effective)
			}
			var files []File
			for _, f := range tt.files {
				files = append(files, testFile(t, f))
			}
			rf, _ := run(t, FormatSST, opt, files...)
			if got := len(rf.Jurisdictions); got != 140 {
				t.Errorf("jurisdictions = %d, want 140", got)
			}
			mn := rf.jur(t, "US-MN")
			if mn.Match == nil || mn.Match.State != "MN" || mn.Match.PostalCode != nil {
				t.Errorf("US-MN match = %+v, want {country: US, state: MN}", mn.Match)
			}
			for code, want := range tt.want {
				j := rf.jur(t, code)
				if want == nil {
					if j.Match != nil {
						t.Errorf("%s match = %+v, want none", code, j.Match)
					}
					continue
				}
				if j.Match == nil {
					t.Errorf("%s has no match, want %v", code, want)
					continue
				}
				if j.Match.Country != "US" || j.Match.State != "MN" {
					t.Errorf("%s match = %+v", code, j.Match)
				}
				if got := postalCodes(j.Match.PostalCode); !reflect.DeepEqual(got, want) {
					t.Errorf("%s postal_code = %v, want %v", code, got, want)
				}
			}
		})
	}
}

func postalCodes(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, e := range v {
			s, _ := e.(string)
			out = append(out, s)
		}
		return out
	}
	return nil
}

func TestSSTBoundaryNotInForce(t *testing.T) {
	err := importErr(t, FormatSST, Options{Effective: day("2026-04-01")},
		testFile(t, "MNR2026Q2FEB18.csv"), testFile(t, "MNB2026Q2FEB18-sample.csv"))
	want := "import sst: no boundary z record is in force at 2026-04-01 (the effective date); the z records span 2016-10-01 to 2019-03-31"
	if err.Error() != want {
		t.Errorf("error = %q, want %q", err, want)
	}
}

// Reduced-rate columns: equal to general -> nothing; constant -> a
// taxability entry; changing over time -> a tax of its own.
func TestSSTReducedRates(t *testing.T) {
	tests := []struct {
		name      string
		in        string
		code      string
		wantTax   map[string]string // taxability of the main tax
		wantExtra []ruleTax         // further taxes
	}{
		{
			name:    "food equals general",
			in:      "13,00,001,0.03,0.03,0.03,0.03,20110101,20121231\n13,00,001,0.04,0.04,0.04,0.04,20130101,29991231\n",
			code:    "US-GA-COUNTY-001",
			wantTax: nil,
		},
		{
			name:    "food always zero",
			in:      "13,00,001,0.03,0.03,0,0,20110101,20121231\n13,00,001,0.04,0.04,0,0,20130101,29991231\n",
			code:    "US-GA-COUNTY-001",
			wantTax: map[string]string{"food": "exempt", "drug": "exempt"},
		},
		{
			name:    "food constant reduced",
			in:      "27,45,27,0.06875,0.06875,0.02,0.02,20090701,29991231\n",
			code:    "US-MN",
			wantTax: map[string]string{"food": "2%", "drug": "2%"},
		},
		{
			name:    "food changes over time",
			in:      "13,00,007,0.03,0.03,0.03,0.03,20110101,20131231\n13,00,007,0.02,0.02,0,0,20140101,29991231\n",
			code:    "US-GA-COUNTY-007",
			wantTax: map[string]string{"food": "exempt", "drug": "exempt"},
			wantExtra: []ruleTax{{
				ID:         "us-ga-county-007-food-drug",
				Name:       "Baker County local sales tax (food and drugs)",
				Rates:      []ruleRate{{From: "2011-01-01", To: "2014-01-01", Rate: "3%"}, {From: "2014-01-01", Rate: "0%"}},
				Taxability: map[string]string{"default": "exempt", "food": "taxable", "drug": "taxable"},
			}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rf, _ := run(t, FormatSST, Options{}, text("R.csv", tt.in))
			j := rf.jur(t, tt.code)
			if got := j.Taxes[0].Taxability; !reflect.DeepEqual(got, tt.wantTax) {
				t.Errorf("taxability = %v, want %v", got, tt.wantTax)
			}
			if got := j.Taxes[1:]; !reflect.DeepEqual(got, tt.wantExtra) && !(len(got) == 0 && len(tt.wantExtra) == 0) {
				t.Errorf("extra taxes = %+v, want %+v", got, tt.wantExtra)
			}
		})
	}
}

func TestSSTErrors(t *testing.T) {
	avalara, err := os.ReadFile(filepath.Join("..", "..", "testdata", "import", "TAXRATES_ZIP5_TN201809.csv"))
	if err != nil {
		t.Fatal(err)
	}
	cdtfa, err := os.ReadFile(filepath.Join("..", "..", "testdata", "import", "SalesTaxRates1-1-26.csv"))
	if err != nil {
		t.Fatal(err)
	}
	ok := "13,45,13,0.04,0.04,0.04,0.04,20110101,29991231\n"
	tests := []struct {
		name  string
		files []File
		want  string
	}{
		{"avalara file", []File{{Name: "TN.csv", R: bytes.NewReader(avalara)}},
			`TN.csv:1: not an SST rate file: "State,ZipCode,TaxRegionName,StateRate,Es..." looks like a header line, but SST rate files have none (is this an Avalara or CDTFA file?)`},
		{"cdtfa file", []File{{Name: "CA.csv", R: bytes.NewReader(cdtfa)}},
			"CA.csv:1: not an SST rate file (9 columns: state FIPS, jurisdiction type, jurisdiction code, general rate intrastate, general rate interstate, food/drug rate intrastate, food/drug rate interstate, effective from, effective to (YYYYMMDD)) nor a boundary file (records of type A, 4 or Z): this line has 1 columns"},
		{"empty", []File{text("E.csv", "\n\n")}, "E.csv: empty file: not an SST rate or boundary file"},
		{"short row", []File{text("R.csv", ok+"13,00,001,0.01,0.01,0.01,20110101,29991231\n")},
			"R.csv:2: has 8 columns, want 9"},
		{"bad FIPS", []File{text("R.csv", ok+"GA,00,001,0.01,0.01,0.01,0.01,20110101,29991231\n")},
			`R.csv:2: state FIPS "GA" is not a 2-digit code`},
		{"unknown FIPS", []File{text("R.csv", "03,45,03,0.04,0.04,0.04,0.04,20110101,29991231\n")},
			`R.csv:1: state FIPS "03" is not a known state`},
		{"bad type", []File{text("R.csv", ok+"13,X,001,0.01,0.01,0.01,0.01,20110101,29991231\n")},
			`R.csv:2: jurisdiction type "X" is not a 2-digit code`},
		{"bad rate", []File{text("R.csv", ok+"13,00,001,1%,0.01,0.01,0.01,20110101,29991231\n")},
			`R.csv:2: general rate intrastate: rate "1%" is not a decimal fraction`},
		{"percent not fraction", []File{text("R.csv", ok+"13,00,001,0.01,4,0.01,0.01,20110101,29991231\n")},
			`R.csv:2: general rate interstate: rate "4" is not a fraction below 1`},
		{"bad date", []File{text("R.csv", ok+"13,00,001,0.01,0.01,0.01,0.01,20110230,29991231\n")},
			`R.csv:2: effective from "20110230" is not a date (YYYYMMDD)`},
		{"bad to", []File{text("R.csv", ok+"13,00,001,0.01,0.01,0.01,0.01,20110101,2999\n")},
			`R.csv:2: effective to "2999" is not a date`},
		{"to before from", []File{text("R.csv", ok+"13,00,001,0.01,0.01,0.01,0.01,20110101,20101231\n")},
			"R.csv:2: effective to 20101231 is before effective from 20110101"},
		{"overlap", []File{text("R.csv", ok+
			"13,00,001,0.01,0.01,0.01,0.01,20110101,20111231\n"+
			"13,00,001,0.02,0.02,0.02,0.02,20111201,29991231\n")},
			"R.csv:3: US-GA-COUNTY-001: this row (from 2011-12-01) overlaps the one on line 2 (from 2011-01-01 to 2011-12-31 inclusive): that row now ends on 2011-11-30 (--strict)"},
		{"overlap across files", []File{text("A.csv", ok), text("B.csv", "13,45,13,0.05,0.05,0.05,0.05,20200101,29991231\n")},
			"B.csv:1: US-GA: this row (from 2020-01-01) overlaps the one on A.csv:1"},
		{"two state records", []File{text("R.csv", ok+"13,45,0,0.04,0.04,0.04,0.04,20110101,29991231\n")},
			"R.csv:2: a second state record for GA: jurisdiction code 0, but R.csv:1 has 13"},
		{"bad csv", []File{text("R.csv", ok+"13,00,\"001,0.01\n")}, "R.csv:2: not valid CSV"},
		{"only boundary", []File{testFile(t, "MNB2026Q2FEB18-sample.csv")}, "import sst: no rate file among the inputs (only boundary files)"},
		{"boundary without rates of its state", []File{text("R.csv", ok), testFile(t, "MNB2026Q2FEB18-sample.csv")},
			"MNB2026Q2FEB18-sample.csv:1: boundary record for MN (FIPS 27), but no rate file for that state was given"},
		{"boundary bad zip", []File{text("R.csv", ok), text("B.csv", "z,20160101,29991231,,,,,,,,,,,,,,,3030,,30303,,,13,13,007,,,,\n")},
			`B.csv:1: low ZIP code: "3030" is not a 5-digit ZIP code`},
		{"rate row in boundary", []File{text("R.csv", ok), text("B.csv", "z,20160101,29991231,,,,,,,,,,,,,,,30301,,30303,,,13,13,007,,,,\n"+ok)},
			"B.csv:2: rate record in a boundary file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Strict: a quirk (corrupt row, overlap) is the error.
			err := importErr(t, FormatSST, Options{Strict: true}, tt.files...)
			if !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("error =\n%q\nwant prefix\n%q", err, tt.want)
			}
		})
	}
}

func TestSSTErrorType(t *testing.T) {
	err := importErr(t, FormatSST, Options{Strict: true}, text("R.csv", "13,45,13,x,0.04,0.04,0.04,20110101,29991231\n"))
	var ie *Error
	if !errors.As(err, &ie) || ie.File != "R.csv" || ie.Line != 1 {
		t.Errorf("error %v: want *Error at R.csv:1, got %#v", err, ie)
	}
}

func TestSSTDuplicateRowsAndCRLF(t *testing.T) {
	in := "13,45,13,0.04,0.04,0.04,0.04,20110101,29991231\r\n13,45,13,0.04,0.04,0.04,0.04,20110101,29991231\r\n\r\n"
	rf, out := run(t, FormatSST, Options{}, text("R.csv", in))
	if len(rf.Jurisdictions) != 1 || len(rf.Jurisdictions[0].Taxes[0].Rates) != 1 {
		t.Errorf("duplicates not collapsed: %+v", rf.Jurisdictions)
	}
	if !bytes.Contains(out, []byte("# Identical duplicate rows dropped: 1.")) || !bytes.Contains(out, []byte("#   R.csv:2: exact duplicate of line 1 dropped")) {
		t.Errorf("header does not count the duplicate:\n%s", firstLines(out, 12))
	}
}

func TestImportUnknownFormatAndNoFiles(t *testing.T) {
	if err := Import(io.Discard, "xml", []File{text("a", "")}, Options{}); err == nil || !strings.Contains(err.Error(), `unknown format "xml"`) {
		t.Errorf("unknown format: %v", err)
	}
	if err := Import(io.Discard, FormatSST, nil, Options{}); err == nil || !strings.Contains(err.Error(), "no input files") {
		t.Errorf("no files: %v", err)
	}
}
