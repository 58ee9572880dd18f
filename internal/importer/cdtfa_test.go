package importer

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// The CDTFA list prints rates as binary floats; they must come back as the
// intended decimals.
func TestParseFloatRate(t *testing.T) {
	tests := []struct {
		in, want, err string
	}{
		{in: "7.7499999999999999E-2", want: "0.0775"},
		{in: "7.2499999999999995E-2", want: "0.0725"},
		{in: "8.7499999999999994E-2", want: "0.0875"},
		{in: "9.375E-2", want: "0.09375"},
		{in: "7.3749999999999996E-2", want: "0.07375"},
		{in: "8.6249999999999993E-2", want: "0.08625"},
		{in: "0.10249999999999999", want: "0.1025"},
		{in: "0.1075", want: "0.1075"},
		{in: "0.08", want: "0.08"},
		{in: "0.1", want: "0.1"},
		{in: "1E-1", want: "0.1"},
		{in: "7.75e-2", want: "0.0775"},
		{in: " 0.0725 ", want: "0.0725"},
		{in: "0.0725000", want: "0.0725"},
		{in: "", err: `"" is not a number`},
		{in: "Yuba", err: `"Yuba" is not a number`},
		{in: "7.75%", err: `"7.75%" is not a number`},
		{in: "-0.08", err: `"-0.08" is not a number`},
		{in: "1e", err: `"1e" is not a number`},
		{in: "1E-1234", err: `"1E-1234" is not a number`},
		{in: "NaN", err: `"NaN" is not a number`},
		{in: "0.0712345", err: `"0.0712345" has digits beyond 6 decimal places`},
		{in: "7.75", err: `"7.75" is not a fraction below 1`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseFloatRate(tt.in)
			if tt.err != "" {
				if err == nil || err.Error() != tt.err && !strings.HasPrefix(err.Error(), tt.err) {
					t.Errorf("error = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("error %v", err)
			}
			if got.String() != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}

func TestCDTFASample(t *testing.T) {
	rf, out := run(t, FormatCDTFA, Options{Effective: day("2026-01-01")}, testFile(t, "SalesTaxRates1-1-26.csv"))
	// 541 locations (483 cities, 58 unincorporated county areas) + US-CA.
	if got := len(rf.Jurisdictions); got != 542 {
		t.Errorf("jurisdictions = %d, want 542", got)
	}
	if got, want := countLevels(rf), map[string]int{"state": 1, "city": 483, "county": 58}; !reflect.DeepEqual(got, want) {
		t.Errorf("levels = %v, want %v", got, want)
	}
	tests := []struct {
		code, want string
	}{
		{"US-CA", "7.25%"},
		{"US-CA-CITY-ADELANTO", "0.5%"},     // 7.7499999999999999E-2
		{"US-CA-CITY-AGOURA-HILLS", "2.5%"}, // 9.7500000000000003E-2
		{"US-CA-CITY-ALAMEDA", "3.5%"},      // 0.1075
		{"US-CA-COUNTY-ALAMEDA", "3%"},      // 0.10249999999999999
		{"US-CA-CITY-LA-CANADA-FLINTRIDGE", "3.25%"},
		{"US-CA-COUNTY-YUBA", "1%"},          // Yuba County Unincorporated Area 8.25%
		{"US-CA-COUNTY-SANTA-CRUZ", "2.25%"}, // 9.5000000000000001E-2
		{"US-CA-COUNTY-ALPINE", ""},          // exactly 7.25%: no tax
		{"US-CA-CITY-YUBA-CITY", ""},
	}
	for _, tt := range tests {
		if got := rf.jur(t, tt.code).rateAt(t, "2026-01-01"); got != tt.want {
			t.Errorf("%s rate = %q, want %q", tt.code, got, tt.want)
		}
	}
	city := rf.jur(t, "US-CA-CITY-LA-CANADA-FLINTRIDGE")
	if city.Name != "La Cañada Flintridge" || city.Level != "city" || city.Parent != "US-CA" ||
		city.Match == nil || !reflect.DeepEqual(*city.Match, ruleMatch{Country: "US", State: "CA", City: "La Cañada Flintridge"}) {
		t.Errorf("city = %+v", city)
	}
	county := rf.jur(t, "US-CA-COUNTY-ALAMEDA")
	wantMatch := ruleMatch{Country: "US", State: "CA", County: []any{"Alameda", "Alameda County"},
		Not: map[string]any{"city": []any{"Alameda", "Albany", "Berkeley", "Dublin", "Emeryville", "Fremont", "Hayward",
			"Livermore", "Newark", "Oakland", "Piedmont", "Pleasanton", "San Leandro", "Union City"}}}
	if county.Match == nil || !reflect.DeepEqual(*county.Match, wantMatch) || county.Level != "county" {
		t.Errorf("unincorporated area = %+v, match %+v", county, county.Match)
	}
	if !strings.Contains(string(out), "# Rows without a rate that refer to other rows (county overviews), skipped: 5.") {
		t.Errorf("header does not report the skipped rows:\n%s", firstLines(out, 14))
	}
}

func TestCDTFAEffectiveDate(t *testing.T) {
	body := "Location,Rate,County,Type\nAdelanto,7.7499999999999999E-2,San Bernardino,City\n"
	err := importErr(t, FormatCDTFA, Options{}, text("C.csv", "Effective Sales and Use Tax Rates\n"+body))
	if !errors.Is(err, ErrNoEffective) || !strings.Contains(err.Error(), "the CDTFA list carries no date") {
		t.Errorf("error = %v, want ErrNoEffective asking for the date", err)
	}
	// A date in the preamble is used when --effective is not given...
	rf, _ := run(t, FormatCDTFA, Options{}, text("C.csv", "Effective Sales and Use Tax Rates, January 1, 2026\n"+body))
	if got := rf.jur(t, "US-CA-CITY-ADELANTO").Taxes[0].Rates[0].From; got != "2026-01-01" {
		t.Errorf("from = %s, want the preamble's 2026-01-01", got)
	}
	// ...and --effective wins over it.
	rf, out := run(t, FormatCDTFA, Options{Effective: day("2026-04-01")}, text("C.csv", "Effective April 1 2025\n"+body))
	if got := rf.jur(t, "US-CA").Taxes[0].Rates[0].From; got != "2026-04-01" {
		t.Errorf("from = %s, want 2026-04-01", got)
	}
	if !strings.Contains(string(out), "The file names 2025-04-01 as its date; --effective overrides it.") {
		t.Error("header does not say --effective overrode the file's date")
	}
}

func TestCDTFAErrors(t *testing.T) {
	eff := Options{Effective: day("2026-01-01"), Strict: true} // strict: a corrupt row is the error
	hdr := "Effective Sales and Use Tax Rates\r\nLocation,Rate,County,Type,Notes\r\n"
	tests := []struct {
		name string
		file File
		want string
	}{
		{"sst file", testFile(t, "GAR2026Q2FEB19.csv"),
			"GAR2026Q2FEB19.csv:50: not a CDTFA rate list: no header line Location,Rate,County,Type in the first 50 lines"},
		{"short sst file", text("G.csv", "13,45,13,0.04,0.04,0,0,20110101,29991231\n"),
			"G.csv:1: not a CDTFA rate list: no header line Location,Rate,County,Type"},
		{"avalara file", testFile(t, "TAXRATES_ZIP5_TN201809.csv"),
			"TAXRATES_ZIP5_TN201809.csv:50: not a CDTFA rate list"},
		{"empty", text("E.csv", "\r\n"), "E.csv: empty file: not a CDTFA rate list"},
		{"missing column", text("C.csv", "Location,Rate,County\r\n"), "C.csv:1: not a CDTFA rate list: the header line has no type column"},
		{"bad rate", text("C.csv", hdr+"Adelanto,7.7.5,San Bernardino,City\r\n"), `C.csv:3: Rate: "7.7.5" is not a number`},
		{"percent rate", text("C.csv", hdr+"Adelanto,7.75,San Bernardino,City\r\n"), `C.csv:3: Rate: "7.75" is not a fraction below 1`},
		{"below base", text("C.csv", hdr+"Adelanto,0.07,San Bernardino,City\r\n"), "C.csv:3: Rate 7% is below the statewide 7.25%"},
		{"bad type", text("C.csv", hdr+"Adelanto,0.0775,San Bernardino,Town\r\n"), `C.csv:3: Type "Town" is neither City nor County`},
		{"header only", text("C.csv", hdr), "C.csv:2: no location rows after the header line"},
		{"empty location", text("C.csv", hdr+",0.0775,San Bernardino,City\r\n"), "C.csv:3: Location is empty"},
		{"duplicate", text("C.csv", hdr+"Adelanto,0.0775,San Bernardino,City\r\nADELANTO,0.08,San Bernardino,City\r\n"),
			"C.csv:4: ADELANTO gives code US-CA-CITY-ADELANTO, as does C.csv:3"},
		{"pointer without target", text("C.csv", hdr+"Yuba County,Yuba,County,Please refer to the applicable tax rates within Yuba County.\r\nAdelanto,0.0775,San Bernardino,City\r\n"),
			"C.csv:3: Yuba: the row gives no rate and refers to an unincorporated-area row that the list lacks"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := importErr(t, FormatCDTFA, eff, tt.file)
			if !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("error =\n%q\nwant prefix\n%q", err, tt.want)
			}
		})
	}
}

func TestCDTFALatin1(t *testing.T) {
	in := "Location,Rate,County,Type\nLa Ca\xf1ada Flintridge,0.105,Los Angeles,City\n"
	rf, _ := run(t, FormatCDTFA, Options{Effective: day("2026-01-01")}, text("C.csv", in))
	if j := rf.jur(t, "US-CA-CITY-LA-CANADA-FLINTRIDGE"); j.Name != "La Cañada Flintridge" {
		t.Errorf("name = %q", j.Name)
	}
}

func TestSlug(t *testing.T) {
	tests := []struct{ in, want string }{
		{"La Cañada Flintridge", "LA-CANADA-FLINTRIDGE"},
		{"  San Luis  Obispo ", "SAN-LUIS-OBISPO"},
		{"St. Helena", "ST-HELENA"},
		{"Ventura (San Buenaventura)", "VENTURA-SAN-BUENAVENTURA"},
		{"Çàéîõü", "CAEIOU"},
		{"日本", ""},
	}
	for _, tt := range tests {
		if got := slug(tt.in); got != tt.want {
			t.Errorf("slug(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
