package address

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestCountry(t *testing.T) {
	tests := []struct {
		in   string
		want string
		ok   bool
	}{
		{"US", "US", true},
		{"us", "US", true},
		{"USA", "US", true},
		{"usa", "US", true},
		{"U.S.", "US", true},
		{"U.S.A.", "US", true},
		{"United States", "US", true},
		{"united  states", "US", true},
		{" United States of America ", "US", true},
		{"GB", "GB", true},
		{"GBR", "GB", true},
		{"UK", "GB", true},
		{"Great Britain", "GB", true},
		{"United Kingdom", "GB", true},
		{"England", "GB", true},
		{"DEU", "DE", true},
		{"Germany", "DE", true},
		{"Côte d'Ivoire", "CI", true},
		{"Cote d’Ivoire", "CI", true},
		{"Ivory Coast", "CI", true},
		{"Korea, Republic of", "KR", true},
		{"Republic of Korea", "KR", true},
		{"South Korea", "KR", true},
		{"North Korea", "KP", true},
		{"Congo, the Democratic Republic of the", "CD", true},
		{"Congo", "CG", true},
		{"British Virgin Islands", "VG", true},
		{"Virgin Islands, U.S.", "VI", true},
		{"The Netherlands", "NL", true},
		{"Netherlands", "NL", true},
		{"Bahamas, The", "BS", true},
		{"St. Lucia", "LC", true},
		{"St Kitts & Nevis", "KN", true},
		{"Guinea Bissau", "GW", true},
		{"Falkland Islands", "FK", true},
		{"Vatican City State", "VA", true},
		{"Bolivia", "BO", true},
		{"Czechia", "CZ", true},
		{"Türkiye", "TR", true},
		{"Réunion", "RE", true},
		{"Aland Islands", "AX", true},
		{"XK", "XK", true},
		{"Narnia", "Narnia", false},
		{"ZZ", "ZZ", false},
		{"", "", false},
	}
	for _, tt := range tests {
		got, ok := Country(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("Country(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestCountryTableComplete(t *testing.T) {
	if n := len(countries); n != 249 {
		t.Errorf("%d ISO 3166-1 entries, want 249", n)
	}
	seen2, seen3 := map[string]bool{}, map[string]bool{}
	for _, c := range countries {
		if len(c.alpha2) != 2 || len(c.alpha3) != 3 || !isUpperASCII(c.alpha2) || !isUpperASCII(c.alpha3) {
			t.Errorf("bad entry %+v", c)
		}
		if seen2[c.alpha2] || seen3[c.alpha3] {
			t.Errorf("duplicate entry %+v", c)
		}
		seen2[c.alpha2], seen3[c.alpha3] = true, true
		for _, in := range []string{c.alpha2, c.alpha3, c.name, strings.ToUpper(c.name), strings.ToLower(c.alpha3)} {
			if got, ok := Country(in); !ok || got != c.alpha2 {
				t.Errorf("Country(%q) = %q, %v; want %s", in, got, ok, c.alpha2)
			}
		}
	}
	if c := tables().conflicts; len(c) > 0 {
		t.Errorf("names given two codes: %v", c)
	}
}

func TestState(t *testing.T) {
	tests := []struct {
		country, in, want string
		ok                bool
	}{
		{"US", "TX", "TX", true},
		{"US", "tx", "TX", true},
		{"US", "Texas", "TX", true},
		{"US", "texas", "TX", true},
		{"US", " TEXAS ", "TX", true},
		{"US", "US-TX", "TX", true},
		{"US", "New  York", "NY", true},
		{"US", "new-york", "NY", true},
		{"US", "District of Columbia", "DC", true},
		{"US", "Washington, D.C.", "DC", true},
		{"US", "Washington", "WA", true},
		{"US", "Puerto Rico", "PR", true},
		{"US", "Guam", "GU", true},
		{"US", "U.S. Virgin Islands", "VI", true},
		{"US", "Armed Forces Europe", "AE", true},
		{"US", "Hawai'i", "HI", true},
		{"US", "Calif.", "CA", true},
		{"US", "Mass", "MA", true},
		{"US", "W. Va.", "WV", true},
		{"US", "N.Y.", "NY", true},
		{"US", "Tex.", "TX", true},
		{"US", "Texsa", "Texsa", false},
		{"US", "", "", false},
		{"CA", "Ontario", "ON", true},
		{"CA", "Québec", "QC", true},
		{"CA", "qc", "QC", true},
		{"GB", "Texas", "Texas", false},
		{"DE", "Bayern", "Bayern", false},
	}
	for _, tt := range tests {
		got, ok := State(tt.country, tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("State(%q, %q) = %q, %v; want %q, %v", tt.country, tt.in, got, ok, tt.want, tt.ok)
		}
	}
	if n := len(usStates); n != 63 {
		t.Errorf("%d US codes, want 63 (50 states, DC, 5 territories, UM, 3 freely associated, 3 military)", n)
	}
}

func TestPostalCode(t *testing.T) {
	tests := []struct {
		country, in, want, err string
	}{
		{"US", "94103", "94103", ""},
		{"US", "94103-1234", "94103", ""},
		{"US", "941031234", "94103", ""},
		{"US", "94103 1234", "94103", ""},
		{"US", " 94103 ", "94103", ""},
		{"US", "02134", "02134", ""},
		{"US", "2134", "2134", `"2134" has 4 digits; a leading zero was probably lost (02134?)`},
		{"US", "501", "501", `"501" has 3 digits; two leading zeros were probably lost (00501?)`},
		{"US", "2134-5678", "2134-5678", `"2134-5678" has 8 digits; a leading zero was probably lost (02134-5678?)`},
		{"US", "ABCDE", "ABCDE", ""},
		{"US", "1", "1", ""},
		{"US", "94103--1234", "94103--1234", ""},
		{"US", "", "", ""},
		{"GB", "SW1A 1AA", "SW1A 1AA", ""},
		{"AU", "2000", "2000", ""},
		{"CH", "8001", "8001", ""},
	}
	for _, tt := range tests {
		got, err := PostalCode(tt.country, tt.in)
		gotErr := ""
		if err != nil {
			gotErr = err.Error()
			var pe *PostalCodeError
			if !errors.As(err, &pe) {
				t.Errorf("PostalCode(%q, %q): error %T, want *PostalCodeError", tt.country, tt.in, err)
			}
		}
		if got != tt.want || gotErr != tt.err {
			t.Errorf("PostalCode(%q, %q) = %q, %q; want %q, %q", tt.country, tt.in, got, gotErr, tt.want, tt.err)
		}
	}
}

// FuzzNormalize checks that the normaliser never panics, is idempotent
// (a normalised address normalises to itself), ignores ASCII case, and
// gives codes only from its tables.
func FuzzNormalize(f *testing.F) {
	for _, s := range [][3]string{
		{"USA", "Texas", "94103-1234"}, {"United States", "texas", "941031234"}, {"GB", "", "SW1A 1AA"},
		{"us", "US-TX", "2134"}, {"Côte d'Ivoire", "", ""}, {"U.S.A.", "St. Louis", "501"},
		{"St Kitts & Nevis", "", ""}, {"the", "st", " - "}, {"\xff", "\xfe", "9\t4103"},
	} {
		f.Add(s[0], s[1], s[2])
	}
	f.Fuzz(func(t *testing.T, country, state, postal string) {
		c, cok := Country(country)
		if !cok && c != country {
			t.Fatalf("Country(%q) = %q for an unknown country", country, c)
		}
		if c2, ok2 := Country(c); c2 != c || ok2 != cok {
			t.Fatalf("Country not idempotent: %q → %q → %q", country, c, c2)
		}
		if isASCII(country) {
			u, uok := Country(strings.ToUpper(country))
			l, lok := Country(strings.ToLower(country))
			if uok != lok || uok && u != l {
				t.Fatalf("Country(%q): upper case gives %q, %v; lower case %q, %v", country, u, uok, l, lok)
			}
		}
		s, sok := State(c, state)
		if s2, ok2 := State(c, s); s2 != s || ok2 != sok {
			t.Fatalf("State not idempotent: %q → %q → %q", state, s, s2)
		}
		if sok && (len(s) != 2 || !isUpperASCII(s)) {
			t.Fatalf("State(%q, %q) = %q", c, state, s)
		}
		p, err := PostalCode(c, postal)
		if err != nil {
			if p != postal {
				t.Fatalf("PostalCode(%q, %q) failed but changed the code to %q", c, postal, p)
			}
			return
		}
		if p2, err := PostalCode(c, p); err != nil || p2 != p {
			t.Fatalf("PostalCode not idempotent: %q → %q → %q, %v", postal, p, p2, err)
		}
		if c == "US" && p != postal && (len(p) != 5 || !isDigits(p)) {
			t.Fatalf("PostalCode(US, %q) = %q", postal, p)
		}
	})
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
