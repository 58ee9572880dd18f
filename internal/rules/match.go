package rules

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

type matchField uint8

const (
	fieldCountry matchField = iota
	fieldState
	fieldCounty
	fieldCity
	fieldPostalCode
	// fieldNot is an exclusion: the key holds when the address fits none
	// of its sets of keys (match: {county: X, not: {city: [A, B]}}).
	fieldNot
)

var matchFields = []struct {
	name string
	id   matchField
}{
	{"country", fieldCountry}, {"state", fieldState}, {"county", fieldCounty},
	{"city", fieldCity}, {"postal_code", fieldPostalCode},
}

// matchKey is one key of a match: the address field must equal one of the
// values (already folded), or fit one of the postal patterns.
type matchKey struct {
	field  matchField
	values []string
	postal []postalPattern
	not    [][]matchKey // fieldNot: each set is ANDed; the key fails when any set holds
	raw    []string     // the values as written, for rules show --format yaml
}

type postalKind uint8

const (
	postalExact postalKind = iota
	postalPrefix
	postalRange
)

type postalPattern struct {
	kind   postalKind
	lo, hi string // exact: lo; prefix: lo; range: lo..hi inclusive
}

func (p postalPattern) String() string {
	switch p.kind {
	case postalPrefix:
		return p.lo + "*"
	case postalRange:
		return p.lo + "-" + p.hi
	}
	return p.lo
}

func parsePostalPattern(s string) (postalPattern, error) {
	v := fold(s)
	if v == "" {
		return postalPattern{}, fmt.Errorf("empty postal code pattern")
	}
	if strings.HasSuffix(v, "*") {
		pre := strings.TrimSuffix(v, "*")
		if strings.Contains(pre, "*") {
			return postalPattern{}, fmt.Errorf("%q: '*' may only end a prefix pattern", s)
		}
		return postalPattern{kind: postalPrefix, lo: pre}, nil
	}
	if strings.Contains(v, "*") {
		return postalPattern{}, fmt.Errorf("%q: '*' may only end a prefix pattern", s)
	}
	if lo, hi, ok := strings.Cut(v, "-"); ok && isDigits(lo) && isDigits(hi) && len(lo) == len(hi) && len(lo) != 4 {
		// "91101-91107" is a range; "91101-1234" (ZIP+4) is an exact code.
		if hi < lo {
			return postalPattern{}, fmt.Errorf("%q: range ends below its start", s)
		}
		return postalPattern{kind: postalRange, lo: lo, hi: hi}, nil
	}
	return postalPattern{kind: postalExact, lo: v}, nil
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func (p postalPattern) matches(code string) bool {
	switch p.kind {
	case postalPrefix:
		return strings.HasPrefix(code, p.lo)
	case postalRange:
		return len(code) == len(p.lo) && p.lo <= code && code <= p.hi
	}
	return code == p.lo
}

// fold normalises text for matching: lower case, runs of white space folded
// to one space, no leading or trailing space. Plain ASCII that is already
// folded is returned without allocating.
func fold(s string) string {
	clean := true
	prevSpace := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf || ('A' <= c && c <= 'Z') || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f' {
			clean = false
			break
		}
		if c == ' ' {
			if prevSpace {
				clean = false
				break
			}
			prevSpace = true
		} else {
			prevSpace = false
		}
	}
	if clean && (s == "" || s[len(s)-1] != ' ') {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for _, r := range s {
		if unicode.IsSpace(r) {
			space = b.Len() > 0
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

// address is a transaction's ship-to address, folded once per transaction.
type address struct {
	fields [5]string // by matchField
}

func (k *matchKey) holds(a *address) bool {
	if k.field == fieldNot {
		for _, set := range k.not {
			if allHold(set, a) {
				return false
			}
		}
		return true
	}
	v := a.fields[k.field]
	if k.field == fieldPostalCode {
		for _, p := range k.postal {
			if p.matches(v) {
				return true
			}
		}
		return false
	}
	for _, want := range k.values {
		if v == want {
			return true
		}
	}
	return false
}

func (j *Jurisdiction) matches(a *address) bool {
	if j.match == nil {
		return false
	}
	return allHold(j.match, a)
}

func allHold(keys []matchKey, a *address) bool {
	for i := range keys {
		if !keys[i].holds(a) {
			return false
		}
	}
	return true
}

// matchIndex narrows the jurisdictions a transaction can fall in without
// testing every rule: jurisdictions are filed under the most selective key
// they require (an exact postal code, else country+state, else country),
// and only the buckets the address hits are tested.
type matchIndex struct {
	byPostal  map[string][]int // zip5 → jurisdictions requiring one of these exact codes
	byState   map[[2]string][]int
	byCountry map[string][]int
	anywhere  []int
}

func buildIndex(js []*Jurisdiction) matchIndex {
	ix := matchIndex{
		byPostal:  map[string][]int{},
		byState:   map[[2]string][]int{},
		byCountry: map[string][]int{},
	}
	for i, j := range js {
		if j.match == nil {
			continue
		}
		var countries, states []string
		var exactPostal []string
		postalAllExact := false
		for _, k := range j.match {
			switch k.field {
			case fieldCountry:
				countries = k.values
			case fieldState:
				states = k.values
			case fieldPostalCode:
				postalAllExact = true
				exactPostal = exactPostal[:0]
				for _, p := range k.postal {
					if p.kind != postalExact {
						postalAllExact = false
						break
					}
					exactPostal = append(exactPostal, p.lo)
				}
			}
		}
		switch {
		case postalAllExact:
			seen := map[string]bool{}
			for _, z := range exactPostal {
				if !seen[z] {
					seen[z] = true
					ix.byPostal[z] = append(ix.byPostal[z], i)
				}
			}
		case countries != nil && states != nil:
			for _, c := range countries {
				for _, s := range states {
					k := [2]string{c, s}
					ix.byState[k] = append(ix.byState[k], i)
				}
			}
		case countries != nil:
			for _, c := range countries {
				ix.byCountry[c] = append(ix.byCountry[c], i)
			}
		default:
			ix.anywhere = append(ix.anywhere, i)
		}
	}
	return ix
}
