package importer

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"
)

// SST jurisdiction types (the rate file's second column, the boundary
// file's "type of taxing authority").
const (
	sstTypeState  = "45"
	sstTypeCounty = "00"
	sstTypeCity   = "01"
)

// sstRateColumns names the nine columns of an SST rate file, for messages.
const sstRateColumns = "state FIPS, jurisdiction type, jurisdiction code, general rate intrastate, " +
	"general rate interstate, food/drug rate intrastate, food/drug rate interstate, effective from, effective to (YYYYMMDD)"

// sstColumnNames names the four rate columns (4 to 7).
var sstColumnNames = [4]string{"general rate intrastate", "general rate interstate", "food/drug rate intrastate", "food/drug rate interstate"}

// The open-end sentinels of the "effective to" column.
var sstOpenEnds = map[string]bool{"29991231": true, "99991231": true}

// sstRow is one dated row of a rate file.
type sstRow struct {
	span    rowSpan            // from, to (exclusive; zero: open-ended), file, line
	rates   [4]decimal.Decimal // the four rate columns, in file order
	general decimal.Decimal    // the general rate of the pair in use
	food    decimal.Decimal    // the food/drug rate of the pair in use
	raw     string             // the row's fields joined, to spot exact duplicates
}

// sstJur gathers the rows of one (state, type, code).
type sstJur struct {
	state usState
	typ   string
	code  string
	rows  []sstRow
	seq   int // order of first appearance, for messages
}

// ruleCode is the jurisdiction's code in the rule file (see doc.go).
func (j *sstJur) ruleCode() string {
	base := "US-" + j.state.usps
	switch j.typ {
	case sstTypeState:
		return base
	case sstTypeCounty:
		return base + "-COUNTY-" + j.code
	case sstTypeCity:
		return base + "-CITY-" + j.code
	default:
		return base + "-DISTRICT-" + j.typ + "-" + j.code
	}
}

// sstZip is a boundary file's ZIP-level (z) record.
type sstZip struct {
	file      string
	line      int
	from      time.Time
	to        time.Time // inclusive last day; zero: open-ended
	lo, hi    int       // ZIP range, inclusive
	state     string    // FIPS
	county    string    // FIPS county code, may be empty
	place     string    // FIPS place code, may be empty
	districts [][2]string
}

// The SST boundary record layout (0-based columns).
const (
	bndType      = 0
	bndFrom      = 1
	bndTo        = 2
	bndZipLow    = 17
	bndZipHigh   = 19
	bndState     = 22
	bndCounty    = 24
	bndPlace     = 25
	bndDistricts = 29 // then (source, code, type) triples
	bndMinFields = 26
)

type sstImport struct {
	q          *quirks
	intrastate bool
	jurs       map[string]*sstJur
	zips       []sstZip
	sources    []string
	duplicates int
	skipped    int // boundary address and ZIP+4 records
	rateFiles  int
	bndFiles   int
}

func importSST(files []File, opt Options, q *quirks) (*document, error) {
	im := &sstImport{jurs: map[string]*sstJur{}, q: q, intrastate: opt.Intrastate}
	for _, f := range files {
		if err := im.readFile(f); err != nil {
			return nil, err
		}
	}
	if im.rateFiles == 0 {
		return nil, fmt.Errorf("import sst: no rate file among the inputs (only boundary files)")
	}
	return im.build(opt)
}

func (im *sstImport) readFile(f File) error {
	src := newCSVSource(f)
	rec, line, err := src.next()
	if err == io.EOF {
		return &Error{File: f.Name, Err: errors.New("empty file: not an SST rate or boundary file")}
	}
	if err != nil {
		return err
	}
	switch {
	case len(rec) >= bndMinFields && isBoundaryType(rec[0]):
		im.bndFiles++
		for err == nil {
			if err = im.boundaryRecord(f.Name, line, rec); err != nil {
				if err = im.q.corrupt(err); err != nil {
					return err
				}
			}
			rec, line, err = im.q.nextRow(src) // a line that is not valid CSV is a corrupt row too
		}
		if err != io.EOF {
			return err
		}
		im.sources = append(im.sources, fmt.Sprintf("%s: SST boundary file, %d records", safeName(f.Name), src.records))
	case len(trimEmpty(rec)) == 9:
		im.rateFiles++
		if looksLikeHeader(rec) {
			return errAt(f.Name, line, "not an SST rate file: %q looks like a header line, but SST rate files have none "+
				"(is this an Avalara or CDTFA file?); expected 9 columns: %s", clip(strings.Join(rec, ",")), sstRateColumns)
		}
		good := 0
		for err == nil {
			err = im.rateRecord(f.Name, line, rec)
			if err == nil {
				good++
			} else if err = im.q.corrupt(err); err != nil {
				return err
			}
			rec, line, err = im.q.nextRow(src) // a line that is not valid CSV is a corrupt row too
		}
		if err != io.EOF {
			return err
		}
		if good == 0 {
			return &Error{File: f.Name, Err: fmt.Errorf("no valid rate row (9 columns: %s)", sstRateColumns)}
		}
		im.sources = append(im.sources, fmt.Sprintf("%s: SST rate file, %d records", safeName(f.Name), src.records))
	default:
		return errAt(f.Name, line, "not an SST rate file (9 columns: %s) nor a boundary file (records of type A, 4 or Z): "+
			"this line has %d columns", sstRateColumns, len(rec))
	}
	return nil
}

func isBoundaryType(s string) bool {
	switch s {
	case "A", "a", "4", "Z", "z":
		return true
	}
	return false
}

// looksLikeHeader tells a header line (a letter-only first field, such as
// "State") from SST data, whose first field is a FIPS code.
func looksLikeHeader(rec []string) bool {
	if rec[0] == "" {
		return false
	}
	for _, r := range rec[0] {
		if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r == ' ' || r == '_') {
			return false
		}
	}
	return len(rec[0]) > 2
}

func (im *sstImport) rateRecord(file string, line int, rec []string) error {
	rec = trimEmpty(rec) // a trailing comma (empty 10th column) is harmless
	if len(rec) != 9 {
		if len(rec) >= bndMinFields && isBoundaryType(rec[0]) {
			return errAt(file, line, "boundary record in a rate file (give boundary files as files of their own)")
		}
		return errAt(file, line, "has %d columns, want 9: %s", len(rec), sstRateColumns)
	}
	st, err := fipsState(rec[0])
	if err != nil {
		return errAt(file, line, "%v", err)
	}
	typ := rec[1]
	if !isDigits(typ, 2, 2) {
		return errAt(file, line, "jurisdiction type %q is not a 2-digit code (45 state, 00 county, 01 city, other: district)", clip(typ))
	}
	code := strings.ToUpper(rec[2])
	if !isAlnum(code, 1, 10) {
		return errAt(file, line, "jurisdiction code %q is not 1 to 10 letters or digits", clip(rec[2]))
	}
	row := sstRow{span: rowSpan{file: file, line: line}, raw: strings.Join(rec, ",")}
	for i := range 4 {
		r, err := parseRate(rec[3+i])
		if err != nil {
			return errAt(file, line, "%s: %v", sstColumnNames[i], err)
		}
		row.rates[i] = r
	}
	if im.intrastate {
		row.general, row.food = row.rates[0], row.rates[2]
	} else {
		row.general, row.food = row.rates[1], row.rates[3]
	}
	from, ok := parseYYYYMMDD(rec[7])
	if !ok {
		return errAt(file, line, "effective from %q is not a date (YYYYMMDD)", clip(rec[7]))
	}
	row.span.from = from
	if !sstOpenEnds[rec[8]] {
		last, ok := parseYYYYMMDD(rec[8])
		if !ok {
			return errAt(file, line, "effective to %q is not a date (YYYYMMDD, or 29991231 / 99991231 for open-ended)", clip(rec[8]))
		}
		if last.Before(from) {
			return errAt(file, line, "effective to %s is before effective from %s", rec[8], rec[7])
		}
		row.span.to = last.AddDate(0, 0, 1) // the file gives the last day in force; rules want the day after
	}
	k := st.fips + "|" + typ + "|" + code
	j := im.jurs[k]
	if j == nil {
		j = &sstJur{state: st, typ: typ, code: code, seq: len(im.jurs)}
		im.jurs[k] = j
	}
	for _, r := range j.rows {
		if r.raw == row.raw {
			im.duplicates++
			return im.q.note(file, line, "exact duplicate of line %d dropped", r.span.line)
		}
	}
	j.rows = append(j.rows, row)
	return nil
}

func (im *sstImport) boundaryRecord(file string, line int, rec []string) error {
	if len(rec) < bndMinFields || !isBoundaryType(rec[bndType]) {
		if len(rec) == 9 {
			return errAt(file, line, "rate record in a boundary file (give rate files as files of their own)")
		}
		return errAt(file, line, "not an SST boundary record: want record type A, 4 or Z and at least %d columns, got %q with %d columns",
			bndMinFields, clip(rec[0]), len(rec))
	}
	if rec[bndType] != "z" && rec[bndType] != "Z" {
		im.skipped++
		return nil
	}
	z := sstZip{file: file, line: line}
	var ok bool
	if z.from, ok = parseYYYYMMDD(rec[bndFrom]); !ok {
		return errAt(file, line, "beginning effective date %q is not a date (YYYYMMDD)", clip(rec[bndFrom]))
	}
	if !sstOpenEnds[rec[bndTo]] {
		if z.to, ok = parseYYYYMMDD(rec[bndTo]); !ok {
			return errAt(file, line, "ending effective date %q is not a date (YYYYMMDD)", clip(rec[bndTo]))
		}
		if z.to.Before(z.from) {
			return errAt(file, line, "ending effective date %s is before beginning date %s", rec[bndTo], rec[bndFrom])
		}
	}
	var err error
	if z.lo, err = zip5(rec[bndZipLow]); err != nil {
		return errAt(file, line, "low ZIP code: %v", err)
	}
	z.hi = z.lo
	if rec[bndZipHigh] != "" {
		if z.hi, err = zip5(rec[bndZipHigh]); err != nil {
			return errAt(file, line, "high ZIP code: %v", err)
		}
	}
	if z.hi < z.lo {
		return errAt(file, line, "ZIP range %05d-%05d is reversed", z.lo, z.hi)
	}
	st, err := fipsState(rec[bndState])
	if err != nil {
		return errAt(file, line, "%v", err)
	}
	z.state = st.fips
	z.county = strings.ToUpper(rec[bndCounty])
	if z.county != "" && !isAlnum(z.county, 1, 10) {
		return errAt(file, line, "FIPS county code %q is not letters or digits", clip(rec[bndCounty]))
	}
	z.place = strings.ToUpper(rec[bndPlace])
	if z.place != "" && !isAlnum(z.place, 1, 10) {
		return errAt(file, line, "FIPS place code %q is not letters or digits", clip(rec[bndPlace]))
	}
	for i := bndDistricts; i+2 < len(rec); i += 3 {
		code, typ := strings.ToUpper(rec[i+1]), rec[i+2]
		if code == "" && typ == "" {
			continue
		}
		if !isAlnum(code, 1, 10) || !isDigits(typ, 2, 2) {
			return errAt(file, line, "special tax district %q of type %q: want a code of letters or digits and a 2-digit type",
				clip(rec[i+1]), clip(typ))
		}
		z.districts = append(z.districts, [2]string{code, typ})
	}
	im.zips = append(im.zips, z)
	return nil
}

func (im *sstImport) build(opt Options) (*document, error) {
	doc := &document{sources: im.sources}
	keys := make([]string, 0, len(im.jurs))
	for k := range im.jurs {
		keys = append(keys, k)
	}
	sort.Strings(keys)

	states := map[string]bool{} // FIPS codes with a state (type 45) record
	stateNames := []string{}
	for _, k := range keys {
		if j := im.jurs[k]; j.typ == sstTypeState {
			states[j.state.fips] = true
			stateNames = append(stateNames, j.state.usps)
		}
	}

	byKey := map[string]*jurisdiction{}
	byCode := map[string]*sstJur{}
	for _, k := range keys {
		sj := im.jurs[k]
		j, err := sj.jurisdiction(states[sj.state.fips], im.q)
		if err != nil {
			return nil, err
		}
		if o := byCode[j.code]; o != nil {
			// Only the state's own records can clash: their code column is
			// not part of the rule code.
			first, second := o, sj
			if first.seq > second.seq {
				first, second = second, first
			}
			r, fr := second.rows[0].span, first.rows[0].span
			return nil, errAt(r.file, r.line, "a second state record for %s: jurisdiction code %s, but %s:%d has %s",
				sj.state.usps, second.code, fr.file, fr.line, first.code)
		}
		byCode[j.code] = sj
		byKey[k] = j
		doc.jurisdictions = append(doc.jurisdictions, j)
	}

	if len(im.zips) > 0 || im.bndFiles > 0 {
		notes, err := im.applyBoundary(opt, byKey)
		if err != nil {
			return nil, err
		}
		doc.notes = append(doc.notes, notes...)
	} else {
		doc.notes = append(doc.notes, "No boundary file: local jurisdictions have no match (name their codes in a transaction's jurisdictions).")
	}
	if im.intrastate {
		doc.notes = append(doc.notes, "Rates used (--intrastate): column 4, general rate intrastate, as each tax's rate; column 6, "+
			"food/drug rate intrastate, as the taxability of food and drug.")
	} else {
		doc.notes = append(doc.notes, "Rates used: column 5, general rate interstate, as each tax's rate; column 7, food/drug rate "+
			"interstate, as the taxability of food and drug (--intrastate uses columns 4 and 6).")
	}
	doc.notes = append(doc.notes, "Names: counties from the US Census Bureau's county FIPS code list; cities from its place "+
		"code lists (2020 incorporated places; 2010 towns and townships that are governments) where listed, else named by their FIPS place code.")
	if im.duplicates > 0 {
		doc.notes = append(doc.notes, fmt.Sprintf("Identical duplicate rows dropped: %d.", im.duplicates))
	}
	doc.name = "Streamlined Sales Tax rates"
	if len(stateNames) > 0 {
		doc.name += ": " + strings.Join(stateNames, ", ")
	}
	doc.source = "Streamlined Sales Tax rate and boundary files (streamlinedsalestax.org)"
	if !opt.Effective.IsZero() {
		doc.asOf = dateOf(opt.Effective)
	}
	return doc, nil
}

// jurisdiction builds the rule jurisdiction of one (state, type, code).
func (sj *sstJur) jurisdiction(haveState bool, q *quirks) (*jurisdiction, error) {
	code := sj.ruleCode()
	j := &jurisdiction{code: code}
	st := sj.state
	taxID := strings.ToLower(code)
	switch sj.typ {
	case sstTypeState:
		j.name, j.level = st.name, "state"
		j.match = &match{country: "US", state: st.usps}
		// The embedded pack's convention: the state's tax is <xx>-state,
		// so that the pack and this file merge into one tax.
		j.extend = true
		taxID = strings.ToLower(st.usps) + "-state"
	case sstTypeCounty:
		j.name, j.level = countyName(st, sj.code), "county"
	case sstTypeCity:
		j.name, j.level = placeName(st, sj.code), "city"
	default:
		j.name, j.level = fmt.Sprintf("%s special district %s (SST jurisdiction type %s)", st.usps, sj.code, sj.typ), "district"
	}
	if sj.typ != sstTypeState && haveState {
		j.parent = "US-" + st.usps
	}
	taxName := j.name + " sales tax"
	if sj.typ == sstTypeState {
		taxName = st.name + " state sales tax"
	} else if sj.typ == sstTypeCounty || sj.typ == sstTypeCity {
		taxName = j.name + " local sales tax"
	}
	rows, err := resolveOverlaps(q, code, sj.rows, func(r *sstRow) *rowSpan { return &r.span })
	if err != nil {
		return nil, err
	}
	sj.rows = rows
	main := &tax{id: taxID, name: taxName}
	for _, r := range sj.rows {
		main.rates = append(main.rates, rateEntry{from: r.span.from, to: r.span.to, rate: r.general, file: r.span.file, line: r.span.line})
	}
	j.taxes = []*tax{main}

	// The food/drug rate becomes taxability of food and drug (see doc.go).
	same, constant := true, true
	first := sj.rows[0].food
	for _, r := range sj.rows {
		if !r.food.Equal(r.general) {
			same = false
		}
		if !r.food.Equal(first) {
			constant = false
		}
	}
	local := sj.typ != sstTypeState && haveState
	if local {
		// A local tax is on the state's base (SST requires it): the
		// categories it does not list follow the state tax.
		main.taxabilityFrom = strings.ToLower(st.usps) + "-state"
	}
	switch {
	case same && local:
		// Say so, or the state's food/drug exemption would be inherited.
		main.taxability = append(main.taxability, taxability{"drug", "taxable"}, taxability{"food", "taxable"})
	case same:
	case constant:
		v := renderRate(first)
		if first.IsZero() {
			v = "exempt"
		}
		main.taxability = append(main.taxability, taxability{"drug", v}, taxability{"food", v})
	default:
		// The food/drug rate changes over time differently from the
		// general rate: food and drug are exempt from the main tax and
		// bear a tax of their own with the column's dated rates.
		main.taxability = append(main.taxability, taxability{"drug", "exempt"}, taxability{"food", "exempt"})
		t := &tax{
			id:         taxID + "-food-drug",
			name:       taxName + " (food and drugs)",
			taxability: []taxability{{"default", "exempt"}, {"drug", "taxable"}, {"food", "taxable"}},
		}
		for _, r := range sj.rows {
			t.rates = append(t.rates, rateEntry{from: r.span.from, to: r.span.to, rate: r.food, file: r.span.file, line: r.span.line})
		}
		j.taxes = append(j.taxes, t)
	}
	return j, nil
}

// isRowError reports whether err concerns one line of the input (a row
// that can be skipped), not the whole file.
func isRowError(err error) bool {
	var e *Error
	return err != nil && err != io.EOF && errors.As(err, &e) && e.Line > 0
}

// applyBoundary sets postal_code matches from the boundary's z records in
// force at the snapshot date, and returns header notes.
func (im *sstImport) applyBoundary(opt Options, byKey map[string]*jurisdiction) ([]string, error) {
	if len(im.zips) == 0 {
		return nil, fmt.Errorf("import sst: the boundary files hold no ZIP-level (z) records")
	}
	var day time.Time
	fromName := false
	if !opt.Effective.IsZero() {
		day = dateOf(opt.Effective)
		if opt.effectiveFromName {
			// A file name's quarter is when the file was published; a
			// boundary sample may end before it: then its newest snapshot.
			fromName = true
			for _, z := range im.zips {
				if !z.from.After(day) && (z.to.IsZero() || !z.to.Before(day)) {
					fromName = false
					break
				}
			}
			if fromName {
				day = time.Time{}
			}
		}
	}
	if day.IsZero() {
		for _, z := range im.zips {
			end := z.to
			if end.IsZero() {
				end = time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)
			}
			if end.After(day) {
				day = end
			}
		}
	}
	open := day.Year() == 9999
	ranges := map[string][][2]int{}
	missing := map[string]bool{}
	used := 0
	var minFrom, maxTo time.Time
	for _, z := range im.zips {
		if minFrom.IsZero() || z.from.Before(minFrom) {
			minFrom = z.from
		}
		if !z.to.IsZero() && z.to.After(maxTo) {
			maxTo = z.to
		}
		if z.from.After(day) || (!z.to.IsZero() && z.to.Before(day)) {
			continue
		}
		used++
		st, _ := stateByFIPS(z.state)
		if !im.hasState(z.state) {
			return nil, errAt(z.file, z.line, "boundary record for %s (FIPS %s), but no rate file for that state was given", st.usps, z.state)
		}
		refs := [][2]string{}
		if z.county != "" {
			refs = append(refs, [2]string{sstTypeCounty, z.county})
		}
		if z.place != "" {
			refs = append(refs, [2]string{sstTypeCity, z.place})
		}
		for _, d := range z.districts {
			refs = append(refs, [2]string{d[1], d[0]})
		}
		for _, ref := range refs {
			k := z.state + "|" + ref[0] + "|" + ref[1]
			if byKey[k] == nil {
				missing[st.usps+" "+typeWord(ref[0])+" "+ref[1]] = true
				continue
			}
			ranges[k] = append(ranges[k], [2]int{z.lo, z.hi})
		}
	}
	if used == 0 {
		span := minFrom.Format(dateLayout) + " to "
		if maxTo.IsZero() {
			span += "open end"
		} else {
			span += maxTo.Format(dateLayout)
		}
		return nil, fmt.Errorf("import sst: no boundary z record is in force at %s (the effective date); the z records span %s",
			day.Format(dateLayout), span)
	}
	unmatched := 0
	keys := make([]string, 0, len(byKey))
	for k := range byKey {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		j := byKey[k]
		if j.level == "state" {
			continue
		}
		rs, ok := ranges[k]
		if !ok {
			unmatched++
			continue
		}
		j.match = &match{country: "US", state: im.jurs[k].state.usps, postalCodes: renderZipRanges(rs)}
	}
	var when string
	switch {
	case fromName && open:
		when = "still in force (open-ended; none is in force at the file name's date " + dateOf(opt.Effective).Format(dateLayout) + ")"
	case fromName:
		when = "in force at " + day.Format(dateLayout) + " (the latest day the boundary files cover; none is in force at the file name's date " +
			dateOf(opt.Effective).Format(dateLayout) + ")"
	case opt.effectiveFromName:
		when = "in force at " + day.Format(dateLayout) + " (the file name's date)"
	case !opt.Effective.IsZero():
		when = "in force at " + day.Format(dateLayout) + " (the effective date)"
	case open:
		when = "still in force (open-ended; no effective date given)"
	default:
		when = "in force at " + day.Format(dateLayout) + " (the latest day the boundary files cover; no effective date given)"
	}
	notes := []string{
		fmt.Sprintf("Boundary: ZIP-level (z) records %s: %d used; %d address and ZIP+4 records skipped (matching is by 5-digit ZIP).",
			when, used, im.skipped),
	}
	if unmatched > 0 {
		notes = append(notes, fmt.Sprintf("Local jurisdictions in no z record in force, so without match: %d.", unmatched))
	}
	if len(missing) > 0 {
		ms := make([]string, 0, len(missing))
		for m := range missing {
			ms = append(ms, m)
		}
		sort.Strings(ms)
		more := ""
		if len(ms) > 20 {
			more = fmt.Sprintf(" and %d more", len(ms)-20)
			ms = ms[:20]
		}
		notes = append(notes, "Boundary codes without a rate row (no local tax there): "+strings.Join(ms, ", ")+more+".")
	}
	return notes, nil
}

func (im *sstImport) hasState(fips string) bool {
	for _, j := range im.jurs {
		if j.state.fips == fips {
			return true
		}
	}
	return false
}

func typeWord(typ string) string {
	switch typ {
	case sstTypeCounty:
		return "county"
	case sstTypeCity:
		return "city"
	}
	return "district " + typ
}

// renderZipRanges sorts and merges ZIP ranges (adjacent ones too) and
// writes them as "55401-55406" or "55103".
func renderZipRanges(rs [][2]int) []string {
	sort.Slice(rs, func(a, b int) bool {
		if rs[a][0] != rs[b][0] {
			return rs[a][0] < rs[b][0]
		}
		return rs[a][1] < rs[b][1]
	})
	merged := [][2]int{rs[0]}
	for _, r := range rs[1:] {
		last := &merged[len(merged)-1]
		if r[0] <= last[1]+1 {
			if r[1] > last[1] {
				last[1] = r[1]
			}
			continue
		}
		merged = append(merged, r)
	}
	out := make([]string, 0, len(merged))
	for _, r := range merged {
		if r[0] == r[1] {
			out = append(out, fmt.Sprintf("%05d", r[0]))
		} else {
			out = append(out, fmt.Sprintf("%05d-%05d", r[0], r[1]))
		}
	}
	return out
}

func fipsState(s string) (usState, error) {
	if !isDigits(s, 2, 2) {
		return usState{}, fmt.Errorf("state FIPS %q is not a 2-digit code", clip(s))
	}
	st, ok := stateByFIPS(s)
	if !ok {
		return usState{}, fmt.Errorf("state FIPS %q is not a known state", s)
	}
	return st, nil
}

func zip5(s string) (int, error) {
	if !isDigits(s, 5, 5) {
		return 0, fmt.Errorf("%q is not a 5-digit ZIP code", clip(s))
	}
	n, _ := strconv.Atoi(s)
	return n, nil
}

func isDigits(s string, min, max int) bool {
	if len(s) < min || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func isAlnum(s string, min, max int) bool {
	if len(s) < min || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z') {
			return false
		}
	}
	return true
}

// trimEmpty drops empty fields at the end of a record.
func trimEmpty(rec []string) []string {
	for len(rec) > 0 && rec[len(rec)-1] == "" {
		rec = rec[:len(rec)-1]
	}
	return rec
}
