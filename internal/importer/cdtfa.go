package importer

import (
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	"github.com/shopspring/decimal"
)

// cdtfaBase is California's statewide base rate: 6% state plus the 1.25%
// uniform local (Bradley-Burns) rate. Every location's rate is this plus
// its district taxes.
var cdtfaBase = decimal.RequireFromString("0.0725")

// cdtfaPlaces is the number of decimal places a CDTFA rate is read back to.
// The list is exported from a spreadsheet, which prints binary floats:
// 7.7499999999999999E-2 is the float nearest 0.0775. Real rates have at
// most 5 places (0.07375 and 0.086250 appear), so 6 places keep every real
// digit and drop the float noise, which is below 1e-15.
const cdtfaPlaces = 6

// cdtfaNoise is the largest difference between the printed value and its
// rounding to cdtfaPlaces that is taken as float noise; anything larger
// means the figure has real digits beyond cdtfaPlaces, and is refused.
var cdtfaNoise = decimal.New(1, -12)

const cdtfaHeaderSearch = 50 // lines searched for the header line

var cdtfaDateRE = regexp.MustCompile(`(?i)\b(January|February|March|April|May|June|July|August|September|October|November|December)\s+(\d{1,2}),?\s+(\d{4})\b`)

func importCDTFA(files []File, opt Options, q *quirks) (*document, error) {
	doc := &document{}
	type seen struct {
		file string
		line int
	}
	codes := map[string]seen{}
	var (
		fileDate      time.Time
		zero          int
		pointers      []seen
		pointerCounty []string
		counties      = map[string]bool{}
		rows          []cdtfaRow
	)
	for _, f := range files {
		rs, d, ptr, err := readCDTFA(f, q)
		if err != nil {
			return nil, err
		}
		if !d.IsZero() {
			fileDate = d
		}
		for _, p := range ptr {
			pointers = append(pointers, seen{f.Name, p.line})
			pointerCounty = append(pointerCounty, p.county)
		}
		rows = append(rows, rs...)
		doc.sources = append(doc.sources, fmt.Sprintf("%s: CDTFA sales and use tax rate list, %d locations", safeName(f.Name), len(rs)))
	}
	from := dateOf(opt.Effective)
	switch {
	case opt.effectiveFromName && !fileDate.IsZero():
		// The list's own date wins over its file name's.
		if !fileDate.Equal(from) {
			doc.notes = append(doc.notes, "The file name says "+from.Format(dateLayout)+"; the list's own date "+
				fileDate.Format(dateLayout)+" is used.")
		}
		from = fileDate
	case !opt.Effective.IsZero():
		if !fileDate.IsZero() && !fileDate.Equal(from) {
			doc.notes = append(doc.notes, "The file names "+fileDate.Format(dateLayout)+" as its date; --effective overrides it.")
		}
	case !fileDate.IsZero():
		from = fileDate
	default:
		return nil, fmt.Errorf("import cdtfa: %w: the CDTFA list carries no date", ErrNoEffective)
	}

	state := &jurisdiction{
		extend: true,
		code:   "US-CA",
		name:   "California",
		level:  "state",
		match:  &match{country: "US", state: "CA"},
		notes: "Statewide base rate: 6% state plus the uniform 1.25% local (Bradley-Burns) rate; " +
			"each location's district taxes are in a jurisdiction of its own.",
		taxes: []*tax{{
			id:    "ca-state", // the embedded pack's id: they merge
			name:  "California statewide sales tax (state and uniform local)",
			rates: []rateEntry{{from: from, rate: cdtfaBase}},
		}},
	}
	doc.jurisdictions = append(doc.jurisdictions, state)
	citiesIn := map[string][]string{} // county (lower case) -> its cities, as the list gives them
	for _, r := range rows {
		if r.county {
			counties[strings.ToLower(r.countyName)] = true
		} else if r.countyName != "" {
			k := strings.ToLower(r.countyName)
			citiesIn[k] = append(citiesIn[k], r.location)
		}
	}
	for i, c := range pointerCounty {
		if !counties[strings.ToLower(c)] {
			return nil, errAt(pointers[i].file, pointers[i].line,
				"%s: the row gives no rate and refers to an unincorporated-area row that the list lacks", c)
		}
	}
	for _, r := range rows {
		var j *jurisdiction
		if r.county {
			j = &jurisdiction{
				code:   "US-CA-COUNTY-" + slug(r.countyName),
				name:   r.countyName + " County (unincorporated area)",
				level:  "county",
				parent: "US-CA",
				match: &match{country: "US", state: "CA", county: []string{r.countyName, r.countyName + " County"},
					notCity: citiesIn[strings.ToLower(r.countyName)]},
				notes: "Unincorporated area: an address in the county whose city is none of the county's cities in the list. " +
					"An address without a county matches only its city (or the state).",
			}
		} else {
			j = &jurisdiction{
				code:   "US-CA-CITY-" + slug(r.location),
				name:   r.location,
				level:  "city",
				parent: "US-CA",
				match:  &match{country: "US", state: "CA", city: []string{r.location}},
			}
		}
		if p, dup := codes[j.code]; dup {
			return nil, errAt(r.file, r.line, "%s gives code %s, as does %s:%d", r.location, j.code, p.file, p.line)
		}
		codes[j.code] = seen{r.file, r.line}
		doc.jurisdictions = append(doc.jurisdictions, j)
		addOn := r.rate.Sub(cdtfaBase)
		if addOn.IsZero() {
			zero++
			j.notes = strings.TrimSpace(j.notes + " No district tax: the total rate is the statewide 7.25%.")
			continue
		}
		j.taxes = []*tax{{
			id:    strings.ToLower(j.code),
			name:  j.name + " district taxes",
			rates: []rateEntry{{from: from, rate: addOn}},
			notes: "Total rate " + renderRate(r.rate) + " less the statewide 7.25%.",
			// District taxes are on the state's base.
			taxabilityFrom: "ca-state",
		}}
	}
	doc.name = "California sales and use tax rates (CDTFA)"
	doc.source = "California Department of Tax and Fee Administration, sales and use tax rates by location"
	doc.asOf = from
	doc.notes = append(doc.notes,
		"US-CA carries the statewide 7.25%; each city and each county's unincorporated area carries its",
		"district add-on (total - 7.25%). Cities match on state and city (city names are unique in California);",
		"unincorporated areas have no match (see their notes).",
		fmt.Sprintf("Locations at exactly 7.25%% (no district tax; jurisdictions without taxes): %d.", zero),
		fmt.Sprintf("Rows without a rate that refer to other rows (county overviews), skipped: %d.", len(pointers)),
	)
	return doc, nil
}

type cdtfaRow struct {
	file       string
	line       int
	location   string
	countyName string
	county     bool // an unincorporated county area (Type County)
	rate       decimal.Decimal
}

type cdtfaPointer struct {
	line   int
	county string
}

// readCDTFA reads one list: the preamble (searched for a date), the header
// line, and the location rows.
func readCDTFA(f File, q *quirks) (rows []cdtfaRow, date time.Time, ptrs []cdtfaPointer, err error) {
	src := newCSVSource(f)
	var (
		hdr   []string
		hline int
	)
	for {
		rec, line, err := src.next()
		if err == io.EOF {
			if src.records == 0 {
				return nil, time.Time{}, nil, &Error{File: f.Name, Err: errors.New("empty file: not a CDTFA rate list")}
			}
			return nil, time.Time{}, nil, errAt(f.Name, 1, "not a CDTFA rate list: no header line Location,Rate,County,Type")
		}
		if err != nil {
			return nil, time.Time{}, nil, err
		}
		if hasField(rec, "location") >= 0 && hasField(rec, "rate") >= 0 {
			hdr, hline = rec, line
			break
		}
		if src.records >= cdtfaHeaderSearch {
			return nil, time.Time{}, nil, errAt(f.Name, line, "not a CDTFA rate list: no header line Location,Rate,County,Type in the first %d lines", cdtfaHeaderSearch)
		}
		if m := cdtfaDateRE.FindStringSubmatch(strings.Join(rec, " ")); m != nil {
			if t, err := time.Parse("January 2 2006", m[1]+" "+m[2]+" "+m[3]); err == nil {
				date = t
			}
		}
	}
	col := map[string]int{}
	for _, name := range []string{"location", "rate", "county", "type"} {
		if col[name] = hasField(hdr, name); col[name] < 0 {
			return nil, time.Time{}, nil, errAt(f.Name, hline, "not a CDTFA rate list: the header line has no %s column", name)
		}
	}
	for {
		rec, line, err := src.next()
		if err == io.EOF {
			if len(rows) == 0 {
				return nil, time.Time{}, nil, errAt(f.Name, hline, "no location rows after the header line")
			}
			return rows, date, ptrs, nil
		}
		if isRowError(err) {
			if e := q.corrupt(err); e != nil {
				return nil, time.Time{}, nil, e
			}
			continue
		}
		if err != nil {
			return nil, time.Time{}, nil, err
		}
		get := func(k string) string {
			if i := col[k]; i < len(rec) {
				return rec[i]
			}
			return ""
		}
		loc := cleanText(get("location"))
		if loc == "" {
			if e := q.corrupt(errAt(f.Name, line, "Location is empty")); e != nil {
				return nil, time.Time{}, nil, e
			}
			continue
		}
		rate, rerr := parseFloatRate(get("rate"))
		if rerr != nil {
			if refersElsewhere(rec) {
				ptrs = append(ptrs, cdtfaPointer{line, strings.TrimSuffix(loc, " County")})
				continue
			}
			if e := q.corrupt(errAt(f.Name, line, "Rate: %v", rerr)); e != nil {
				return nil, time.Time{}, nil, e
			}
			continue
		}
		row := cdtfaRow{file: f.Name, line: line, location: loc, rate: rate}
		switch strings.ToLower(get("type")) {
		case "city":
			row.countyName = cleanText(get("county"))
		case "county":
			row.county = true
			row.countyName = cleanText(get("county"))
			if row.countyName == "" {
				row.countyName = strings.TrimSuffix(strings.TrimSuffix(loc, " Unincorporated Area"), " County")
			}
			if slug(row.countyName) == "" {
				if e := q.corrupt(errAt(f.Name, line, "County %q gives no code", clip(row.countyName))); e != nil {
					return nil, time.Time{}, nil, e
				}
				continue
			}
		default:
			if e := q.corrupt(errAt(f.Name, line, "Type %q is neither City nor County", clip(get("type")))); e != nil {
				return nil, time.Time{}, nil, e
			}
			continue
		}
		if slug(loc) == "" {
			if e := q.corrupt(errAt(f.Name, line, "Location %q gives no code", clip(loc))); e != nil {
				return nil, time.Time{}, nil, e
			}
			continue
		}
		if rate.LessThan(cdtfaBase) {
			if e := q.corrupt(errAt(f.Name, line, "Rate %s is below the statewide 7.25%%", renderRate(rate))); e != nil {
				return nil, time.Time{}, nil, e
			}
			continue
		}
		rows = append(rows, row)
	}
}

// refersElsewhere tells an informational row ("Please refer to the
// applicable tax rates for the unincorporated area and incorporated cities
// within Yuba County.") from a broken one.
func refersElsewhere(rec []string) bool {
	for _, f := range rec[1:] {
		if strings.Contains(strings.ToLower(f), "refer to") {
			return true
		}
	}
	return false
}

func hasField(rec []string, name string) int {
	for i, f := range rec {
		if strings.EqualFold(f, name) {
			return i
		}
	}
	return -1
}

// parseFloatRate reads a rate printed by a spreadsheet, possibly with an
// exponent ("7.7499999999999999E-2"), exactly, and rounds it to
// cdtfaPlaces decimal places: "0.0775". A figure with real digits beyond
// those places is refused rather than silently changed.
func parseFloatRate(s string) (decimal.Decimal, error) {
	s = strings.TrimSpace(s)
	mant, exp := s, ""
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		mant, exp = s[:i], s[i+1:]
		if strings.HasPrefix(exp, "-") || strings.HasPrefix(exp, "+") {
			exp = exp[1:]
		}
		if !isDigits(exp, 1, 3) {
			return decimal.Decimal{}, fmt.Errorf("%q is not a number", clip(s))
		}
	}
	if len(s) > 40 || !isPlainDecimal(mant) {
		return decimal.Decimal{}, fmt.Errorf("%q is not a number", clip(s))
	}
	d, err := decimal.NewFromString(s)
	if err != nil {
		return decimal.Decimal{}, fmt.Errorf("%q is not a number", clip(s))
	}
	r := d.Round(cdtfaPlaces)
	if d.Sub(r).Abs().GreaterThan(cdtfaNoise) {
		return decimal.Decimal{}, fmt.Errorf("%q has digits beyond %d decimal places", clip(s), cdtfaPlaces)
	}
	if !r.LessThan(one) {
		return decimal.Decimal{}, fmt.Errorf("%q is not a fraction below 1 (write 0.0775 for 7.75%%)", clip(s))
	}
	return r, nil
}
