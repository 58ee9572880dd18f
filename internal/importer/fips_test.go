package importer

import (
	"strings"
	"testing"
)

// TestSSTCityNames imports the real Georgia and Minnesota SST rate files and
// checks that their city jurisdictions carry the municipalities' names from
// the Census place lists, and that a code the lists do not have is named by
// its code (GA 05000 and 17780, MN 05354 are in the SST files but are no
// Census place).
func TestSSTCityNames(t *testing.T) {
	tests := []struct {
		file string
		want map[string]string // code -> name
	}{
		{"GAR2026Q2FEB19.csv", map[string]string{
			"US-GA-CITY-04000": "City of Atlanta",
			"US-GA-CITY-17776": "City of College Park",
			"US-GA-CITY-25720": "City of East Point",
			"US-GA-CITY-36472": "City of Hapeville",
			"US-GA-CITY-05000": "GA city 05000 (FIPS place 1305000)",
			"US-GA-CITY-17780": "GA city 17780 (FIPS place 1317780)",
		}},
		{"MNR2026Q2FEB18.csv", map[string]string{
			"US-MN-CITY-43000": "City of Minneapolis",
			"US-MN-CITY-58000": "City of St. Paul",
			"US-MN-CITY-17000": "City of Duluth",
			"US-MN-CITY-54880": "City of Rochester",
			"US-MN-CITY-69700": "City of West St. Paul",
			"US-MN-CITY-17612": "City of East Grand Forks",
			"US-MN-CITY-05354": "MN city 05354 (FIPS place 2705354)",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			rf, _ := run(t, FormatSST, Options{}, testFile(t, tt.file))
			for code, want := range tt.want {
				j := rf.jur(t, code)
				if j.Name != want {
					t.Errorf("%s name = %q, want %q", code, j.Name, want)
				}
				if got, wantTax := j.Taxes[0].Name, want+" local sales tax"; got != wantTax {
					t.Errorf("%s tax name = %q, want %q", code, got, wantTax)
				}
			}
			// Every other city of the file is named from the table.
			for _, j := range rf.Jurisdictions {
				if _, pinned := tt.want[j.Code]; !pinned && j.Level == "city" && strings.Contains(j.Name, "FIPS place") {
					t.Errorf("%s is named by its code: %q", j.Code, j.Name)
				}
			}
		})
	}
}

// TestPlaceNames pins the style each legal description is written in, for
// places of several states and kinds.
func TestPlaceNames(t *testing.T) {
	tests := []struct {
		usps, code, want string
	}{
		{"GA", "04000", "City of Atlanta"},
		{"GA", "04392", "Town of Avalon"},                               // "Avalon town"
		{"GA", "72122", "City of South Fulton"},                         // incorporated 2017: from the 2020 list
		{"GA", "03440", "Athens-Clarke County Unified Government"},      // "(balance)" dropped
		{"KY", "48006", "Louisville/Jefferson County Metro Government"}, // consolidated
		{"TN", "52006", "Nashville-Davidson Metropolitan Government"},   // consolidated
		{"NV", "09700", "Carson City"},                                  // no description
		{"AK", "03000", "Municipality of Anchorage"},                    // "Anchorage municipality"
		{"OH", "18000", "City of Columbus"},
		{"WI", "53000", "City of Milwaukee"},
		{"NJ", "51000", "City of Newark"},
		{"NJ", "13045", "City of Orange Township"},       // set by hand
		{"IN", "76256", "Town of Pines"},                 // "Town of Pines town"
		{"MI", "03020", "Charter Township of Ann Arbor"}, // minor civil division, 2010 list
		{"VT", "00475", "Town of Albany"},                // New England town (MCD)
		{"VT", "00400", "Village of Albany"},             // the village in it
		{"ME", "02970", "Baring Plantation"},
		{"UT", "47290", "Magna Metro Township"},
		{"CO", "11810", "City of Cañon City"},                 // UTF-8 from the 2020 list
		{"TX", "99999", "TX city 99999 (FIPS place 4899999)"}, // not a place
		{"CA", "22846", "CA city 22846 (FIPS place 0622846)"}, // Esparto CDP: not a municipality
	}
	for _, tt := range tests {
		st, ok := stateByUSPS(tt.usps)
		if !ok {
			t.Fatalf("no state %s", tt.usps)
		}
		if got := placeName(st, tt.code); got != tt.want {
			t.Errorf("placeName(%s, %s) = %q, want %q", tt.usps, tt.code, got, tt.want)
		}
	}
}

// TestPlacesTable checks the embedded table's form: 7-digit codes of a known
// state, in order, once each, a name that is not a bare Census description,
// and places for every Streamlined Sales Tax member state.
func TestPlacesTable(t *testing.T) {
	perState := map[string]int{}
	prev := ""
	for i, line := range strings.Split(placesTxt, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		code, name, ok := strings.Cut(line, "|")
		if !ok || len(code) != 7 || strings.Trim(code, "0123456789") != "" {
			t.Fatalf("places.txt:%d: %q is not SSPPPPP|Name", i+1, line)
		}
		if code <= prev {
			t.Errorf("places.txt:%d: %s is not after %s", i+1, code, prev)
		}
		prev = code
		if name == "" || name != strings.TrimSpace(name) || strings.Contains(name, "|") || strings.Contains(name, "\uFFFD") {
			t.Errorf("places.txt:%d: bad name %q", i+1, name)
		}
		for _, d := range []string{" city", " town", " village", " borough", " township", " CDP", " (balance)"} {
			if strings.HasSuffix(name, d) {
				t.Errorf("places.txt:%d: %q ends in the Census description %q", i+1, name, d)
			}
		}
		st, ok := stateByFIPS(code[:2])
		if !ok {
			t.Errorf("places.txt:%d: no state has FIPS %s", i+1, code[:2])
		}
		perState[st.usps]++
	}
	// At least this many municipalities (2020 incorporated places alone).
	for usps, min := range map[string]int{
		"AR": 500, "GA": 530, "IN": 560, "IA": 940, "KS": 620, "KY": 410, "MI": 530, "MN": 850,
		"NE": 520, "NV": 19, "NJ": 320, "NC": 550, "ND": 350, "OH": 920, "OK": 590, "RI": 8,
		"SD": 310, "TN": 340, "UT": 250, "VT": 42, "WA": 280, "WV": 230, "WI": 600, "WY": 99,
	} {
		if perState[usps] < min {
			t.Errorf("%s has %d places, want at least %d", usps, perState[usps], min)
		}
	}
}
