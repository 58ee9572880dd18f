package importer

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/taxagg/taxagg/internal/rules"
)

// An excerpt of the current JavaScript layout (quarterly blocks whose
// entries carry their own inclusive dates and an RTA column), as published
// in the washington-state-sales-tax package's taxrates.js.
const waCurrentLayout = `/**
 * WA sales tax rates
 */
module.exports = [
    {
        "expires": "2022-07-01T07:00:00.000Z",
        "ADAMS COUNTY": {
            "locationCode": 100,
            "stateTaxRate": 0.065,
            "localTaxRate": 0.015,
            "rta": 0,
            "totalTaxRate": 0.08,
            "effectiveDate": "20220401",
            "expirationDate": "20220630"
        },
        "OTHELLO": {
            "locationCode": 103,
            "stateTaxRate": 0.065,
            "localTaxRate": 0.017,
            "rta": 0,
            "totalTaxRate": 0.082,
            "effectiveDate": "20220401",
            "expirationDate": "20220630"
        },
    },
];
`

// DOR's rate table as CSV (the columns of its location code and rate
// table), with the Seattle and Aberdeen figures of the 2020 layout.
const waCSV = "Location,County,Location Code,State Rate,Local Rate,RTA,Combined Sales Tax,Effective Date,Expiration Date\n" +
	"Aberdeen,Grays Harbor,1401,0.065,0.0258,0,0.0908,20200101,20200331\n" +
	"Aberdeen,Grays Harbor,1401,0.065,0.0258,0,0.0908,20200401,20200630\n" +
	"Seattle,King,1726,0.065,0.036,0,0.101,20200101,20200630\n" +
	"Seattle,King,1726,0.065,0.037,0,0.102,20200601,20201231\n" + // overlaps the row above
	"Broken,King,17x6,0.065,0.036,0,0.101,20200101,20200630\n" // corrupt

// DOR's ZIP+4 file: ZIP, PLUS4_LOW, PLUS4_HIGH, CODE, STATE, LOCAL,
// TOT_RATE, EFF_START, EFF_END. 98101 lies in Seattle; 98520 mostly in
// Aberdeen, partly elsewhere.
const waZipCSV = "ZIP,PLUS4_LOW,PLUS4_HIGH,CODE,STATE,LOCAL,TOT_RATE,EFF_START,EFF_END\n" +
	"98101,0000,9999,1726,0.065,0.036,0.101,20200101,20201231\n" +
	"98520,0000,7999,1401,0.065,0.0258,0.0908,20200101,20201231\n" +
	"98520,8000,9999,1726,0.065,0.036,0.101,20200101,20201231\n"

func TestWADORLayouts(t *testing.T) {
	tests := []struct {
		name  string
		files []File
		opt   Options
		sales []struct {
			s    sale
			want string
		}
	}{
		{name: "2019Q1 object, dated from the file name", files: []File{testFile(t, "taxrates-2019Q1-layout.js")},
			sales: []struct {
				s    sale
				want string
			}{
				{sale{day: "2019-01-01", explicit: []string{"US-WA-LOC-1401"}}, "8.93"}, // totalTaxRate 0.0893
				{sale{day: "2019-01-01", explicit: []string{"US-WA-LOC-0100"}}, "7.70"}, // Adams County unincorporated 0.077
				{sale{day: "2018-12-31", explicit: []string{"US-WA-LOC-1401"}}, "0.00"},
			}},
		{name: "2020 quarterly blocks", files: []File{testFile(t, "taxrates-2020-layout.js")},
			sales: []struct {
				s    sale
				want string
			}{
				{sale{day: "2019-12-31", explicit: []string{"US-WA-LOC-1401"}}, "8.98"}, // block expiring 2020-01-01: Q4 2019
				{sale{day: "2020-03-31", explicit: []string{"US-WA-LOC-1401"}}, "8.98"}, // block expiring 2020-03-31: Q1 2020
				{sale{day: "2020-04-01", explicit: []string{"US-WA-LOC-1401"}}, "9.08"}, // block expiring 2020-06-30: Q2 2020
				{sale{day: "2020-09-30", explicit: []string{"US-WA-LOC-1726"}}, "10.10"},
				{sale{day: "2020-10-01", explicit: []string{"US-WA-LOC-1726"}}, "6.50"}, // after the last block: the state alone
			}},
		{name: "current layout", files: []File{text("taxrates.js", waCurrentLayout)},
			sales: []struct {
				s    sale
				want string
			}{
				{sale{day: "2022-04-01", explicit: []string{"US-WA-LOC-0103"}}, "8.20"},
				{sale{day: "2022-06-30", explicit: []string{"US-WA-LOC-0100"}}, "8.00"}, // expiration inclusive
				{sale{day: "2022-07-01", explicit: []string{"US-WA-LOC-0100"}}, "6.50"},
			}},
		{name: "DOR CSV with a ZIP file", files: []File{text("Rates.csv", waCSV), text("ZIP4.csv", waZipCSV)},
			sales: []struct {
				s    sale
				want string
			}{
				{sale{day: "2020-05-01", state: "WA", postal: "98101"}, "10.10"},
				{sale{day: "2020-06-01", state: "WA", postal: "98101-1234"}, "10.20"}, // the later row took over
				{sale{day: "2020-05-01", state: "WA", postal: "98520"}, "9.08"},       // most of 98520 is Aberdeen
				{sale{day: "2020-05-01", state: "WA", postal: "98520", explicit: []string{"US-WA-LOC-1726"}}, "10.10"},
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, _ := importBytes(t, FormatWADOR, tt.opt, tt.files...)
			prog := compile(t, rules.Source{Name: "wa.yaml", Data: out})
			for _, s := range tt.sales {
				if s.s.state == "" {
					s.s.state = "WA"
				}
				if got := totalTax(t, prog, s.s); got != s.want {
					t.Errorf("%+v: tax %s, want %s", s.s, got, s.want)
				}
			}
		})
	}
}

func TestWADORQuirksAndNames(t *testing.T) {
	out, notices := importBytes(t, FormatWADOR, Options{}, text("Rates.csv", waCSV), text("ZIP4.csv", waZipCSV))
	want := []string{
		`Rates.csv:6: corrupt row skipped: location code: "17x6" is not a 4-digit location code`,
		"Rates.csv:5: US-WA-LOC-1726: this row (from 2020-06-01) overlaps the one on line 4 (from 2020-01-01 to 2020-06-30 inclusive): that row now ends on 2020-05-31",
	}
	if strings.Join(notices, "\n") != strings.Join(want, "\n") {
		t.Errorf("notices =\n%s\nwant\n%s", strings.Join(notices, "\n"), strings.Join(want, "\n"))
	}
	rf := parseRules(t, out)
	a := rf.jur(t, "US-WA-LOC-1401")
	if a.Name != "Aberdeen" || a.Level != "city" || a.Parent != "US-WA" || len(a.Taxes[0].Rates) != 1 {
		t.Errorf("Aberdeen = %+v (two quarters at one rate make one entry)", a)
	}
	if !bytes.Contains(out, []byte("ZIPs split between location codes, matched to the code covering most of their ZIP+4 ranges: 1")) {
		t.Errorf("header does not count the split ZIP:\n%s", firstLines(out, 14))
	}
	if err := importErr(t, FormatWADOR, Options{Strict: true}, text("Rates.csv", waCSV)); !strings.HasPrefix(err.Error(), `Rates.csv:6: location code: "17x6"`) {
		t.Errorf("strict: %v", err)
	}
	err := importErr(t, FormatWADOR, Options{}, text("t.js", `module.exports = {"A": {"locationCode": 100, "localTaxRate": 0.012, "stateTaxRate": 0.065}};`))
	if !errors.Is(err, ErrNoEffective) {
		t.Errorf("undated table without --effective: %v", err)
	}
	for _, bad := range []struct{ in, want string }{
		{"module.exports = [1, 2];", "t.js:1: not a WA DOR rate table: a list of blocks must hold objects"},
		{"{\n\"A\": {\"locationCode\": 100,\n", "t.js:"},
		{"Name,Code\nx,1\n", "t.js:1: not a WA DOR rate table: the header line needs Location Code, State and Local columns"},
	} {
		err := importErr(t, FormatWADOR, Options{Effective: day("2020-01-01")}, text("t.js", bad.in))
		if !strings.HasPrefix(err.Error(), bad.want) {
			t.Errorf("%q: %v, want %s", bad.in, err, bad.want)
		}
	}
}
