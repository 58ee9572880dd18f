// Package address normalises the ship-to address of a transaction before it
// is matched against the rules: a country written as an ISO 3166-1 alpha-2
// or alpha-3 code or by its name becomes its alpha-2 code, a US state or
// territory (or a Canadian province) written by name becomes its postal
// code, and a US ZIP+4 or spaced ZIP becomes the five-digit ZIP. A US ZIP
// that lost its leading zeros (a spreadsheet read it as a number) is an
// error with a hint.
//
// Lookups ignore case, accents, punctuation (dots, commas, apostrophes,
// parentheses) and runs of spaces, hyphens and underscores; a leading or
// trailing "the" and "St"/"Saint" are equivalent. What the tables do not
// know is returned as given: an unknown country or state is not an error
// (it simply matches no rule that names another).
package address

import (
	"fmt"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

type country struct {
	alpha2, alpha3, name string
}

// Country returns the ISO 3166-1 alpha-2 code (upper case) of a country
// written as an alpha-2 or alpha-3 code or by name, and true; for a country
// it does not know, s unchanged and false.
func Country(s string) (string, bool) {
	if len(s) == 2 && isUpperASCII(s) {
		// The common case, already a code: no key to build.
		if _, ok := tables().countries[s]; ok {
			return s, true
		}
	}
	if len(s) == 2 {
		// A two-letter code in any case is that code, before any reading
		// as a word ("st" is São Tomé and Príncipe, not "Saint").
		if up := strings.ToUpper(s); isUpperASCII(up) {
			if code, ok := tables().countries[up]; ok && code == up {
				return code, true
			}
		}
	}
	if code, ok := tables().countries[key(s)]; ok {
		return code, true
	}
	return s, false
}

// State returns the postal code (upper case) of a US state, district,
// territory or military "state", or of a Canadian province or territory,
// written by name, by code or as an ISO 3166-2 code ("US-TX"), and true.
// country is an alpha-2 code as Country returns it. For any other country,
// and for a name the tables do not know, it returns s unchanged and false.
func State(country, s string) (string, bool) {
	t := tables()
	var m map[string]string
	switch country {
	case "US":
		m = t.usStates
	case "CA":
		m = t.caProvinces
	default:
		return s, false
	}
	if len(s) == 2 && isUpperASCII(s) {
		if _, ok := m[s]; ok {
			return s, true
		}
	}
	k := key(s)
	if code, ok := m[k]; ok {
		return code, true
	}
	// ISO 3166-2: "US-TX", "us tx" once keyed.
	if p := strings.ToLower(country) + " "; strings.HasPrefix(k, p) {
		if code, ok := m[k[len(p):]]; ok {
			return code, true
		}
	}
	return s, false
}

// PostalCodeError is a US ZIP that lost its leading zeros.
type PostalCodeError struct {
	Text  string // as given
	Guess string // the ZIP it probably was
	Lost  int    // zeros lost
}

func (e *PostalCodeError) Error() string {
	digits := 0
	for i := 0; i < len(e.Text); i++ {
		if isDigit(e.Text[i]) {
			digits++
		}
	}
	lost := "a leading zero was"
	if e.Lost > 1 {
		lost = "two leading zeros were"
	}
	return fmt.Sprintf("%q has %d digits; %s probably lost (%s?)", e.Text, digits, lost, e.Guess)
}

// PostalCode normalises the postal code s of country (an alpha-2 code as
// Country returns it). A US ZIP+4 ("94103-1234", "941031234", "94103
// 1234") becomes its five-digit ZIP, and spaces around or inside a ZIP go.
// A US ZIP of three or four digits (or a ZIP+4 of seven or eight) is a
// *PostalCodeError. Other codes, and other countries' codes, are returned
// as given.
func PostalCode(country, s string) (string, error) {
	if country != "US" || s == "" {
		return s, nil
	}
	if len(s) == 5 && isDigits(s) {
		return s, nil // the common case
	}
	var buf [16]byte
	d := buf[:0]
	hyphens := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case isDigit(c):
			if len(d) == len(buf) {
				return s, nil
			}
			d = append(d, c)
		case c == '-':
			hyphens++
			if hyphens > 1 {
				return s, nil
			}
		case c == ' ' || c == '\t':
		default:
			return s, nil
		}
	}
	switch len(d) {
	case 5:
		return string(d), nil
	case 9:
		return string(d[:5]), nil
	case 3, 4:
		pad := 5 - len(d)
		return s, &PostalCodeError{Text: s, Guess: strings.Repeat("0", pad) + string(d), Lost: pad}
	case 7, 8:
		pad := 9 - len(d)
		full := strings.Repeat("0", pad) + string(d)
		return s, &PostalCodeError{Text: s, Guess: full[:5] + "-" + full[5:], Lost: pad}
	}
	return s, nil
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return s != ""
}

func isUpperASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	return true
}

// key is the form names and codes are looked up by: lower case, accents
// off, dots, commas, apostrophes and parentheses dropped, "&" read as
// "and", spaces, hyphens, underscores and slashes as one space, "st" as
// "saint", and no "the" at either end.
func key(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for _, r := range s {
		r = unicode.ToLower(r)
		if r >= utf8.RuneSelf {
			r = unaccent(r)
		}
		switch {
		case r == '.' || r == ',' || r == '\'' || r == '’' || r == '(' || r == ')' || r == '"':
			continue
		case r == '&':
			if b.Len() > 0 {
				b.WriteByte(' ')
			}
			b.WriteString("and")
			space = true
			continue
		case unicode.IsSpace(r) || r == '-' || r == '_' || r == '/':
			space = b.Len() > 0
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(r)
	}
	k := b.String()
	k = strings.TrimPrefix(k, "the ")
	k = strings.TrimSuffix(k, " the")
	if k == "st" || strings.HasPrefix(k, "st ") || strings.Contains(k, " st ") || strings.HasSuffix(k, " st") {
		words := strings.Fields(k)
		for i, w := range words {
			if w == "st" {
				words[i] = "saint"
			}
		}
		k = strings.Join(words, " ")
	}
	return k
}

// unaccent maps the accented Latin letters of country and state names to
// their plain letters.
func unaccent(r rune) rune {
	switch r {
	case 'à', 'á', 'â', 'ã', 'ä', 'å', 'ā':
		return 'a'
	case 'ç':
		return 'c'
	case 'è', 'é', 'ê', 'ë':
		return 'e'
	case 'ì', 'í', 'î', 'ï':
		return 'i'
	case 'ñ':
		return 'n'
	case 'ò', 'ó', 'ô', 'õ', 'ö', 'ø':
		return 'o'
	case 'ù', 'ú', 'û', 'ü':
		return 'u'
	case 'ý', 'ÿ':
		return 'y'
	}
	return r
}

type lookup struct {
	countries   map[string]string // key or code → alpha-2
	usStates    map[string]string // key or code → USPS code
	caProvinces map[string]string
	conflicts   []string // keys given two codes (a test keeps this empty)
}

var tables = sync.OnceValue(buildTables)

func buildTables() *lookup {
	t := &lookup{
		countries:   map[string]string{},
		usStates:    map[string]string{},
		caProvinces: map[string]string{},
	}
	add := func(m map[string]string, k, code string) {
		if k == "" {
			return
		}
		if old, ok := m[k]; ok && old != code {
			t.conflicts = append(t.conflicts, fmt.Sprintf("%q: %s and %s", k, old, code))
			return
		}
		m[k] = code
	}
	for _, c := range countries {
		add(t.countries, c.alpha2, c.alpha2)
		add(t.countries, strings.ToLower(c.alpha2), c.alpha2)
		add(t.countries, strings.ToLower(c.alpha3), c.alpha2)
		for _, n := range nameForms(c.name) {
			add(t.countries, key(n), c.alpha2)
		}
	}
	for code, names := range countryAliases {
		for _, n := range names {
			add(t.countries, key(n), code)
		}
	}
	for _, m := range []struct {
		m     map[string]string
		table []subdivision
	}{{t.usStates, usStates}, {t.usStates, usAbbreviations}, {t.caProvinces, caProvinces}} {
		for _, s := range m.table {
			add(m.m, s.code, s.code)
			add(m.m, strings.ToLower(s.code), s.code)
			for _, n := range s.names {
				add(m.m, key(n), s.code)
			}
		}
	}
	return t
}

// nameForms are the ways an ISO short name is written: as listed, without
// its parenthesised part ("Falkland Islands"), the part in parentheses
// alone ("Vatican City State"), the part before the comma ("Bolivia",
// unless that is ambiguous) and the inverted form ("Islamic Republic of
// Iran", "British Virgin Islands").
func nameForms(name string) []string {
	forms := []string{name}
	if i := strings.Index(name, " ("); i > 0 {
		if j := strings.Index(name[i:], ")"); j > 0 {
			forms = append(forms, name[:i]+name[i+j+1:], name[i+2:i+j])
		}
	}
	if head, tail, ok := strings.Cut(name, ", "); ok {
		if !ambiguousHeads[head] {
			forms = append(forms, head)
		}
		forms = append(forms, tail+" "+head)
	}
	return forms
}

// ambiguousHeads name more than one country before their comma.
var ambiguousHeads = map[string]bool{"Korea": true, "Congo": true, "Virgin Islands": true}

// countryAliases are names in common use that the ISO short names do not
// give: current official names, short forms, and names billing systems
// write. "UK" is reserved by ISO 3166 for the United Kingdom; "XK" (Kosovo)
// is not in ISO 3166-1 but is the code billing systems use.
var countryAliases = map[string][]string{
	"US": {"United States of America", "America", "US of A"},
	"GB": {"UK", "Great Britain", "Britain", "United Kingdom of Great Britain and Northern Ireland",
		"England", "Scotland", "Wales", "Northern Ireland"},
	"BO": {"Plurinational State of Bolivia"},
	"BN": {"Brunei"},
	"CV": {"Cabo Verde"},
	"CD": {"Democratic Republic of the Congo", "DR Congo", "DRC", "Congo-Kinshasa"},
	"CG": {"Republic of the Congo", "Congo-Brazzaville"},
	"CI": {"Ivory Coast"},
	"CZ": {"Czechia"},
	"SZ": {"Eswatini"},
	"FK": {"Falklands"},
	"VA": {"Vatican", "Vatican City"},
	"IR": {"Iran"},
	"KP": {"North Korea"},
	"KR": {"South Korea", "Korea"},
	"LA": {"Laos"},
	"MK": {"North Macedonia", "Macedonia"},
	"MD": {"Moldova"},
	"FM": {"Micronesia"},
	"MM": {"Burma"},
	"MO": {"Macau"},
	"NL": {"Holland"},
	"PS": {"Palestine"},
	"RU": {"Russia"},
	"SH": {"Saint Helena"},
	"ST": {"São Tomé and Príncipe"},
	"SY": {"Syria"},
	"TW": {"Taiwan"},
	"TZ": {"Tanzania"},
	"TL": {"East Timor"},
	"TR": {"Türkiye"},
	"AE": {"UAE", "Emirates"},
	"VE": {"Venezuela"},
	"VN": {"Vietnam"},
	"VG": {"British Virgin Islands", "BVI"},
	"VI": {"US Virgin Islands", "USVI"},
	"XK": {"XK", "XKX", "Kosovo"},
}

type subdivision struct {
	code  string
	names []string
}

// usAbbreviations are the states' traditional abbreviations (those that
// are not their USPS codes), as free-text addresses write them: "Calif.",
// "Mass.", "Tex.".
var usAbbreviations = []subdivision{
	{"AL", []string{"Ala"}},
	{"AR", []string{"Ark"}},
	{"AZ", []string{"Ariz"}},
	{"CA", []string{"Calif", "Cal"}},
	{"CO", []string{"Colo"}},
	{"CT", []string{"Conn"}},
	{"DE", []string{"Del"}},
	{"FL", []string{"Fla"}},
	{"IL", []string{"Ill"}},
	{"IN", []string{"Ind"}},
	{"KS", []string{"Kan", "Kans"}},
	{"MA", []string{"Mass"}},
	{"MI", []string{"Mich"}},
	{"MN", []string{"Minn"}},
	{"MS", []string{"Miss"}},
	{"MT", []string{"Mont"}},
	{"NE", []string{"Neb", "Nebr"}},
	{"NV", []string{"Nev"}},
	{"OK", []string{"Okla"}},
	{"OR", []string{"Ore", "Oreg"}},
	{"PA", []string{"Penn", "Penna"}},
	{"TN", []string{"Tenn"}},
	{"TX", []string{"Tex"}},
	{"WA", []string{"Wash"}},
	{"WI", []string{"Wis", "Wisc"}},
	{"WV", []string{"W. Va."}},
	{"WY", []string{"Wyo"}},
}

// usStates are the USPS codes: the states, the District of Columbia, the
// territories, the freely associated states, and the armed forces'
// "states".
var usStates = []subdivision{
	{"AL", []string{"Alabama"}}, {"AK", []string{"Alaska"}}, {"AZ", []string{"Arizona"}},
	{"AR", []string{"Arkansas"}}, {"CA", []string{"California"}}, {"CO", []string{"Colorado"}},
	{"CT", []string{"Connecticut"}}, {"DE", []string{"Delaware"}},
	{"DC", []string{"District of Columbia", "Washington DC", "Washington D.C."}},
	{"FL", []string{"Florida"}}, {"GA", []string{"Georgia"}}, {"HI", []string{"Hawaii", "Hawai'i"}},
	{"ID", []string{"Idaho"}}, {"IL", []string{"Illinois"}}, {"IN", []string{"Indiana"}},
	{"IA", []string{"Iowa"}}, {"KS", []string{"Kansas"}}, {"KY", []string{"Kentucky"}},
	{"LA", []string{"Louisiana"}}, {"ME", []string{"Maine"}}, {"MD", []string{"Maryland"}},
	{"MA", []string{"Massachusetts"}}, {"MI", []string{"Michigan"}}, {"MN", []string{"Minnesota"}},
	{"MS", []string{"Mississippi"}}, {"MO", []string{"Missouri"}}, {"MT", []string{"Montana"}},
	{"NE", []string{"Nebraska"}}, {"NV", []string{"Nevada"}}, {"NH", []string{"New Hampshire"}},
	{"NJ", []string{"New Jersey"}}, {"NM", []string{"New Mexico"}}, {"NY", []string{"New York"}},
	{"NC", []string{"North Carolina"}}, {"ND", []string{"North Dakota"}}, {"OH", []string{"Ohio"}},
	{"OK", []string{"Oklahoma"}}, {"OR", []string{"Oregon"}}, {"PA", []string{"Pennsylvania"}},
	{"RI", []string{"Rhode Island"}}, {"SC", []string{"South Carolina"}}, {"SD", []string{"South Dakota"}},
	{"TN", []string{"Tennessee"}}, {"TX", []string{"Texas"}}, {"UT", []string{"Utah"}},
	{"VT", []string{"Vermont"}}, {"VA", []string{"Virginia"}}, {"WA", []string{"Washington"}},
	{"WV", []string{"West Virginia"}}, {"WI", []string{"Wisconsin"}}, {"WY", []string{"Wyoming"}},
	{"AS", []string{"American Samoa"}}, {"GU", []string{"Guam"}},
	{"MP", []string{"Northern Mariana Islands"}}, {"PR", []string{"Puerto Rico"}},
	{"VI", []string{"Virgin Islands", "U.S. Virgin Islands", "US Virgin Islands"}},
	{"UM", []string{"U.S. Minor Outlying Islands", "United States Minor Outlying Islands"}},
	{"FM", []string{"Federated States of Micronesia", "Micronesia"}},
	{"MH", []string{"Marshall Islands"}}, {"PW", []string{"Palau"}},
	{"AA", []string{"Armed Forces Americas"}}, {"AE", []string{"Armed Forces Europe"}},
	{"AP", []string{"Armed Forces Pacific"}},
}

// caProvinces are Canada Post's codes for the provinces and territories.
var caProvinces = []subdivision{
	{"AB", []string{"Alberta"}}, {"BC", []string{"British Columbia"}}, {"MB", []string{"Manitoba"}},
	{"NB", []string{"New Brunswick"}}, {"NL", []string{"Newfoundland and Labrador", "Newfoundland"}},
	{"NS", []string{"Nova Scotia"}}, {"NT", []string{"Northwest Territories"}}, {"NU", []string{"Nunavut"}},
	{"ON", []string{"Ontario"}}, {"PE", []string{"Prince Edward Island"}}, {"QC", []string{"Quebec", "Québec"}},
	{"SK", []string{"Saskatchewan"}}, {"YT", []string{"Yukon"}},
}
