package importer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"
)

// Washington DOR location-code rate tables (--from wa-dor).
//
// Inputs, told apart by content:
//
//   - DOR's rate table as CSV, with a header line naming the columns
//     (case and spaces ignored): location name (Location, Name), location
//     code (Location Code, Code, locationCode), state rate (State, State
//     Rate, stateTaxRate), local rate (Local, Local Rate, localTaxRate),
//     RTA (RTA, rta; optional), combined rate (Rate, Combined Sales Tax,
//     Total Rate, TOT_RATE, totalTaxRate; optional), effective and
//     expiration dates (Effective Date, EFF_START, effectiveDate;
//     Expiration Date, EFF_END, expirationDate; optional), county
//     (optional).
//   - the same tables as JavaScript or JSON: an object keyed by location
//     name (no dates: the effective date comes from --effective or the
//     file name), or a list of quarterly blocks {"expires": timestamp,
//     <location name>: {...}} whose entries carry effectiveDate and
//     expirationDate (YYYYMMDD, inclusive) or, in older blocks, only the
//     block's expires (the block is then the calendar quarter in which it
//     expires, in Washington's time).
//   - DOR's ZIP+4 file (ZIP, PLUS4_LOW, PLUS4_HIGH, CODE, STATE, LOCAL,
//     TOT_RATE, EFF_START, EFF_END; with or without a header line), which
//     gives each location code a match on the 5-digit ZIPs it covers.
//
// Output: US-WA (extend: true, tax wa-state, the state rate), and one
// jurisdiction US-WA-LOC-<code> per 4-digit location code, parent US-WA,
// level county for an unincorporated county area (code NN00) and city
// otherwise, with its dated local rate (the local rate includes the RTA
// rate, as DOR's tables do; where the combined rate says otherwise, the
// RTA column is added). Consecutive quarters at the same rate are joined.
// Without a ZIP file a location has no match: transactions name its code
// in their jurisdictions (DOR's address lookup gives it).

// waRow is one location code's rate in one period.
type waRow struct {
	span  rowSpan
	code  string
	name  string
	state decimal.Decimal
	local decimal.Decimal
}

type waZip struct {
	file       string
	line       int
	zip        string
	lo, hi     int // plus-4 range
	code       string
	from, last time.Time // last inclusive; zero: open
}

// waMaxBytes caps a WA DOR file, read whole (DOR's tables are well under
// a megabyte; its ZIP+4 file a few dozen).
const waMaxBytes = 512 << 20

type waImport struct {
	q       *quirks
	opt     Options
	rows    []waRow
	zips    []waZip
	sources []string
	undated int // rows without dates of their own
}

func importWADOR(files []File, opt Options, q *quirks) (*document, error) {
	im := &waImport{q: q, opt: opt}
	for _, f := range files {
		if err := im.readFile(f); err != nil {
			return nil, err
		}
	}
	if len(im.rows) == 0 {
		return nil, errors.New("import wa-dor: no rate table among the inputs (only ZIP files)")
	}
	return im.build()
}

func (im *waImport) readFile(f File) error {
	data, err := io.ReadAll(io.LimitReader(newReader(f.R), waMaxBytes+1))
	if err != nil {
		return &Error{File: f.Name, Err: err}
	}
	if len(data) > waMaxBytes {
		return &Error{File: f.Name, Err: fmt.Errorf("larger than %d MiB", waMaxBytes>>20)}
	}
	trim := bytes.TrimSpace(data)
	if len(trim) == 0 {
		return &Error{File: f.Name, Err: errors.New("empty file: not a WA DOR rate table")}
	}
	if trim[0] == '[' || trim[0] == '{' || trim[0] == '/' || bytes.Contains(data[:min(len(data), 4096)], []byte("module.exports")) {
		n, err := im.readJS(f.Name, data)
		if err != nil {
			return err
		}
		im.sources = append(im.sources, fmt.Sprintf("%s: WA DOR rate table (JavaScript/JSON), %d entries", safeName(f.Name), n))
		return nil
	}
	return im.readCSV(File{Name: f.Name, R: bytes.NewReader(data)})
}

// jsText is a JSON value read as its text: a string's content or a
// number's literal.
type jsText string

func (t *jsText) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*t = jsText(s)
		return nil
	}
	if string(b) == "null" {
		*t = ""
		return nil
	}
	*t = jsText(b)
	return nil
}

type waEntry struct {
	Location       jsText `json:"location"`
	County         jsText `json:"county"`
	LocationCode   jsText `json:"locationCode"`
	StateTaxRate   jsText `json:"stateTaxRate"`
	LocalTaxRate   jsText `json:"localTaxRate"`
	RTA            jsText `json:"rta"`
	TotalTaxRate   jsText `json:"totalTaxRate"`
	EffectiveDate  jsText `json:"effectiveDate"`
	ExpirationDate jsText `json:"expirationDate"`
}

// jsToJSON blanks what JavaScript adds around the JSON of these files
// (comments, "module.exports =", a final ";", trailing commas), keeping
// every byte offset, so that lines still count right.
func jsToJSON(b []byte) []byte {
	out := append([]byte(nil), b...)
	blank := func(i, j int) {
		for k := i; k < j; k++ {
			if out[k] != '\n' {
				out[k] = ' '
			}
		}
	}
	inStr := false
	for i := 0; i < len(out); i++ {
		c := out[i]
		if inStr {
			if c == '\\' {
				i++
			} else if c == '"' {
				inStr = false
			}
			continue
		}
		switch {
		case c == '"':
			inStr = true
		case c == '/' && i+1 < len(out) && out[i+1] == '*':
			j := bytes.Index(out[i+2:], []byte("*/"))
			end := len(out)
			if j >= 0 {
				end = i + 2 + j + 2
			}
			blank(i, end)
			i = end - 1
		case c == '/' && i+1 < len(out) && out[i+1] == '/':
			j := bytes.IndexByte(out[i:], '\n')
			end := len(out)
			if j >= 0 {
				end = i + j
			}
			blank(i, end)
			i = end - 1
		case c == ';':
			out[i] = ' '
		case c == ',':
			k := i + 1
			for k < len(out) && (out[k] == ' ' || out[k] == '\n' || out[k] == '\r' || out[k] == '\t') {
				k++
			}
			if k < len(out) && (out[k] == '}' || out[k] == ']') {
				out[i] = ' '
			}
		}
	}
	if i := bytes.Index(out, []byte("module.exports")); i >= 0 {
		if j := bytes.IndexByte(out[i:], '='); j >= 0 {
			blank(i, i+j+1)
		}
	}
	return out
}

func lineAt(data []byte, off int64) int {
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	return bytes.Count(data[:off], []byte("\n")) + 1
}

func (im *waImport) readJS(name string, raw []byte) (int, error) {
	data := jsToJSON(raw)
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	bad := func(err error) error {
		line := lineAt(data, dec.InputOffset())
		var se *json.SyntaxError
		if errors.As(err, &se) {
			line = lineAt(data, se.Offset)
		}
		return errAt(name, line, "not a WA DOR rate table (JavaScript/JSON): %v", err)
	}
	tok, err := dec.Token()
	if err != nil {
		return 0, bad(err)
	}
	n := 0
	switch tok {
	case json.Delim('{'):
		c, err := im.readBlock(name, data, dec)
		if err != nil {
			return 0, err
		}
		n += c
	case json.Delim('['):
		for dec.More() {
			line := lineAt(data, dec.InputOffset())
			t, err := dec.Token()
			if err != nil {
				return 0, bad(err)
			}
			if t != json.Delim('{') {
				return 0, errAt(name, line, "not a WA DOR rate table: a list of blocks must hold objects")
			}
			c, err := im.readBlock(name, data, dec)
			if err != nil {
				return 0, err
			}
			n += c
		}
		if _, err := dec.Token(); err != nil {
			return 0, bad(err)
		}
	default:
		return 0, errAt(name, 1, "not a WA DOR rate table: want an object or a list, got %v", tok)
	}
	if _, err := dec.Token(); err != io.EOF {
		return 0, errAt(name, lineAt(data, dec.InputOffset()), "not a WA DOR rate table: text after the table")
	}
	if n == 0 {
		return 0, &Error{File: name, Err: errors.New("no location entries")}
	}
	return n, nil
}

// readBlock reads one object after its '{': entries keyed by location name
// (a flat table, or one element of a flat list of entries), and an
// optional "expires".
func (im *waImport) readBlock(name string, data []byte, dec *json.Decoder) (int, error) {
	var expires time.Time
	type pending struct {
		key  string
		line int
		e    waEntry
	}
	var entries []pending
	flat := false // this object is itself one entry (a list of entries)
	var self waEntry
	for dec.More() {
		line := lineAt(data, dec.InputOffset())
		kt, err := dec.Token()
		if err != nil {
			return 0, errAt(name, line, "not a WA DOR rate table: %v", err)
		}
		key, _ := kt.(string)
		line = lineAt(data, dec.InputOffset())
		if key == "expires" {
			var s string
			if err := dec.Decode(&s); err != nil {
				return 0, errAt(name, line, "expires: %v", err)
			}
			t, err := time.Parse(time.RFC3339, s)
			if err != nil {
				return 0, errAt(name, line, "expires %q is not a timestamp", clip(s))
			}
			expires = t
			continue
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return 0, errAt(name, line, "not a WA DOR rate table: %v", err)
		}
		if len(raw) > 0 && raw[0] == '{' {
			var e waEntry
			if err := json.Unmarshal(raw, &e); err != nil {
				if err := im.q.corrupt(errAt(name, line, "%s: %v", clip(key), err)); err != nil {
					return 0, err
				}
				continue
			}
			entries = append(entries, pending{key, line, e})
			continue
		}
		// A scalar: this object is one entry of a flat list.
		flat = true
		var v jsText
		_ = json.Unmarshal(raw, &v)
		switch strings.ToLower(key) {
		case "location", "name":
			self.Location = v
		case "county":
			self.County = v
		case "locationcode", "code":
			self.LocationCode = v
		case "statetaxrate", "state":
			self.StateTaxRate = v
		case "localtaxrate", "local":
			self.LocalTaxRate = v
		case "rta":
			self.RTA = v
		case "totaltaxrate", "rate":
			self.TotalTaxRate = v
		case "effectivedate":
			self.EffectiveDate = v
		case "expirationdate":
			self.ExpirationDate = v
		}
		if len(entries) == 0 {
			entries = append(entries, pending{"", line, self})
		}
		entries[0].e = self
	}
	endLine := lineAt(data, dec.InputOffset())
	if _, err := dec.Token(); err != nil { // the closing '}'
		return 0, errAt(name, endLine, "not a WA DOR rate table: %v", err)
	}
	if flat && len(entries) > 1 {
		return 0, errAt(name, endLine, "not a WA DOR rate table: an object mixes entries and values")
	}
	var qFrom, qTo time.Time // the block's quarter, from its expires
	if !expires.IsZero() {
		// The quarter in which the block expires, in Washington's time
		// (UTC-8; a timestamp exactly at midnight ends the day before).
		t := expires.Add(-8*time.Hour - time.Nanosecond).UTC()
		qFrom = time.Date(t.Year(), time.Month(3*((int(t.Month())-1)/3)+1), 1, 0, 0, 0, 0, time.UTC)
		qTo = qFrom.AddDate(0, 3, 0)
	}
	n := 0
	for _, p := range entries {
		locName := strings.TrimSpace(string(p.e.Location))
		if locName == "" {
			locName = strings.TrimSpace(p.key)
		}
		r, err := im.row(name, p.line, locName, p.e, qFrom, qTo)
		if err != nil {
			if err := im.q.corrupt(err); err != nil {
				return 0, err
			}
			continue
		}
		im.rows = append(im.rows, r)
		n++
	}
	return n, nil
}

// row checks one entry and dates it: its own dates, else the block's
// quarter, else the effective date (open-ended).
func (im *waImport) row(file string, line int, locName string, e waEntry, qFrom, qTo time.Time) (waRow, error) {
	r := waRow{span: rowSpan{file: file, line: line}, name: cleanText(locName)}
	code, err := waCode(string(e.LocationCode))
	if err != nil {
		return r, errAt(file, line, "location code: %v", err)
	}
	r.code = code
	if r.state, err = parseRate(string(e.StateTaxRate)); err != nil {
		return r, errAt(file, line, "state rate: %v", err)
	}
	if r.local, err = parseRate(string(e.LocalTaxRate)); err != nil {
		return r, errAt(file, line, "local rate: %v", err)
	}
	if s := strings.TrimSpace(string(e.TotalTaxRate)); s != "" {
		total, err := parseRate(s)
		if err != nil {
			return r, errAt(file, line, "combined rate: %v", err)
		}
		if !r.state.Add(r.local).Equal(total) {
			rta := decimal.Zero
			if s := strings.TrimSpace(string(e.RTA)); s != "" {
				if rta, err = parseRate(s); err != nil {
					return r, errAt(file, line, "RTA rate: %v", err)
				}
			}
			if !r.state.Add(r.local).Add(rta).Equal(total) {
				return r, errAt(file, line, "combined rate %s is not state %s + local %s (+ RTA %s)",
					renderRate(total), renderRate(r.state), renderRate(r.local), renderRate(rta))
			}
			r.local = r.local.Add(rta)
		}
	}
	eff, exp := strings.TrimSpace(string(e.EffectiveDate)), strings.TrimSpace(string(e.ExpirationDate))
	switch {
	case eff != "":
		from, ok := parseWADate(eff)
		if !ok {
			return r, errAt(file, line, "effective date %q is not a date (YYYYMMDD)", clip(eff))
		}
		r.span.from = from
		if exp != "" && !sstOpenEnds[exp] {
			last, ok := parseWADate(exp)
			if !ok {
				return r, errAt(file, line, "expiration date %q is not a date (YYYYMMDD)", clip(exp))
			}
			if last.Before(from) {
				return r, errAt(file, line, "expiration date %s is before effective date %s", exp, eff)
			}
			r.span.to = last.AddDate(0, 0, 1) // inclusive in the file
		}
	case !qFrom.IsZero():
		r.span.from, r.span.to = qFrom, qTo
	default:
		if im.opt.Effective.IsZero() {
			return r, fmt.Errorf("import wa-dor: %w: %s has no dates; give the date the rates take effect (--effective YYYY-MM-DD)",
				ErrNoEffective, safeName(file))
		}
		im.undated++
		r.span.from = dateOf(im.opt.Effective)
	}
	return r, nil
}

// waCode reads a location code: 1 to 4 digits, written as a number or as
// text ("0100", 100), made 4 digits.
func waCode(s string) (string, error) {
	s = strings.TrimSpace(s)
	if !isDigits(s, 1, 4) {
		return "", fmt.Errorf("%q is not a 4-digit location code", clip(s))
	}
	n, _ := strconv.Atoi(s)
	return fmt.Sprintf("%04d", n), nil
}

// parseWADate reads YYYYMMDD, or M/D/YYYY and YYYY-MM-DD as spreadsheets
// write them.
func parseWADate(s string) (time.Time, bool) {
	if t, ok := parseYYYYMMDD(s); ok {
		return t, true
	}
	for _, layout := range []string{"1/2/2006", "2006-01-02", "01/02/2006"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// waColumns are the CSV columns, by normalised header name.
var waColumns = map[string][]string{
	"name":    {"location", "name", "locationname", "locationcodename"},
	"code":    {"locationcode", "code", "loccode"},
	"state":   {"state", "staterate", "statetaxrate"},
	"local":   {"local", "localrate", "localtaxrate"},
	"rta":     {"rta", "rtarate"},
	"total":   {"rate", "combinedsalestax", "combinedrate", "totalrate", "totrate", "totaltaxrate", "combined"},
	"eff":     {"effectivedate", "effstart", "effective", "startdate"},
	"exp":     {"expirationdate", "effend", "expiration", "enddate"},
	"county":  {"county"},
	"zip":     {"zip", "zipcode", "zip5"},
	"plus4lo": {"plus4low", "plus4lo"},
	"plus4hi": {"plus4high", "plus4hi"},
}

func normHeader(h string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(h) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func (im *waImport) readCSV(f File) error {
	src := newCSVSource(f)
	hdr, hline, err := src.next()
	if err == io.EOF {
		return &Error{File: f.Name, Err: errors.New("empty file: not a WA DOR rate table")}
	}
	if err != nil {
		return err
	}
	col := map[string]int{}
	for k, names := range waColumns {
		col[k] = -1
		for i, h := range hdr {
			for _, n := range names {
				if normHeader(h) == n && col[k] < 0 {
					col[k] = i
				}
			}
		}
	}
	headerless := isDigits(hdr[0], 5, 5) && len(hdr) >= 4
	switch {
	case headerless || (col["zip"] >= 0 && col["code"] >= 0 && col["name"] < 0):
		return im.readZipCSV(f.Name, src, hdr, hline, col, headerless)
	case col["code"] < 0 || col["local"] < 0 || col["state"] < 0:
		return errAt(f.Name, hline, "not a WA DOR rate table: the header line needs Location Code, State and Local columns (got %q)",
			clip(strings.Join(hdr, ",")))
	}
	n := 0
	for {
		rec, line, err := src.next()
		if err == io.EOF {
			break
		}
		if isRowError(err) {
			if err := im.q.corrupt(err); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
		get := func(k string) jsText {
			if i := col[k]; i >= 0 && i < len(rec) {
				return jsText(rec[i])
			}
			return ""
		}
		if len(rec) != len(hdr) {
			if err := im.q.corrupt(errAt(f.Name, line, "has %d columns, the header %d", len(rec), len(hdr))); err != nil {
				return err
			}
			continue
		}
		e := waEntry{LocationCode: get("code"), StateTaxRate: get("state"), LocalTaxRate: get("local"), RTA: get("rta"),
			TotalTaxRate: get("total"), EffectiveDate: get("eff"), ExpirationDate: get("exp"), County: get("county")}
		r, err := im.row(f.Name, line, string(get("name")), e, time.Time{}, time.Time{})
		if err != nil {
			if errors.Is(err, ErrNoEffective) {
				return err
			}
			if err := im.q.corrupt(err); err != nil {
				return err
			}
			continue
		}
		im.rows = append(im.rows, r)
		n++
	}
	if n == 0 {
		return errAt(f.Name, hline, "no valid rate rows after the header line")
	}
	im.sources = append(im.sources, fmt.Sprintf("%s: WA DOR rate table (CSV), %d rows", safeName(f.Name), n))
	return nil
}

// readZipCSV reads DOR's ZIP+4 file: ZIP, PLUS4_LOW, PLUS4_HIGH, CODE,
// then rates and EFF_START, EFF_END (by header name, or in that order).
func (im *waImport) readZipCSV(name string, src *csvSource, first []string, line int, col map[string]int, headerless bool) error {
	if headerless {
		col = map[string]int{"zip": 0, "plus4lo": 1, "plus4hi": 2, "code": 3, "eff": 7, "exp": 8}
	}
	n := 0
	rec := first
	var err error
	if !headerless {
		rec, line, err = src.next()
	}
	for err == nil {
		get := func(k string) string {
			if i, ok := col[k]; ok && i >= 0 && i < len(rec) {
				return rec[i]
			}
			return ""
		}
		z, rerr := waZipRow(name, line, get)
		if rerr != nil {
			if err := im.q.corrupt(rerr); err != nil {
				return err
			}
		} else {
			im.zips = append(im.zips, z)
			n++
		}
		rec, line, err = im.q.nextRow(src) // a line that is not valid CSV is a corrupt row too
	}
	if err != io.EOF {
		return err
	}
	if n == 0 {
		return &Error{File: name, Err: errors.New("no valid ZIP rows")}
	}
	im.sources = append(im.sources, fmt.Sprintf("%s: WA DOR ZIP+4 to location code file, %d rows", safeName(name), n))
	return nil
}

func waZipRow(name string, line int, get func(string) string) (waZip, error) {
	z := waZip{file: name, line: line}
	zip := strings.TrimSpace(get("zip"))
	if len(zip) == 10 && zip[5] == '-' {
		zip = zip[:5]
	}
	if !isDigits(zip, 5, 5) {
		return z, errAt(name, line, "ZIP %q is not a 5-digit ZIP code", clip(zip))
	}
	z.zip = zip
	z.lo, z.hi = 0, 9999
	if lo := strings.TrimSpace(get("plus4lo")); lo != "" {
		if !isDigits(lo, 1, 4) {
			return z, errAt(name, line, "PLUS4_LOW %q is not 4 digits", clip(lo))
		}
		z.lo, _ = strconv.Atoi(lo)
		z.hi = z.lo
	}
	if hi := strings.TrimSpace(get("plus4hi")); hi != "" {
		if !isDigits(hi, 1, 4) {
			return z, errAt(name, line, "PLUS4_HIGH %q is not 4 digits", clip(hi))
		}
		z.hi, _ = strconv.Atoi(hi)
	}
	if z.hi < z.lo {
		return z, errAt(name, line, "ZIP+4 range %04d-%04d is reversed", z.lo, z.hi)
	}
	code, err := waCode(get("code"))
	if err != nil {
		return z, errAt(name, line, "location code: %v", err)
	}
	z.code = code
	if s := strings.TrimSpace(get("eff")); s != "" {
		t, ok := parseWADate(s)
		if !ok {
			return z, errAt(name, line, "EFF_START %q is not a date", clip(s))
		}
		z.from = t
	}
	if s := strings.TrimSpace(get("exp")); s != "" && !sstOpenEnds[s] {
		t, ok := parseWADate(s)
		if !ok {
			return z, errAt(name, line, "EFF_END %q is not a date", clip(s))
		}
		z.last = t
	}
	return z, nil
}

func (im *waImport) build() (*document, error) {
	doc := &document{sources: im.sources}
	byCode := map[string][]waRow{}
	var state decimal.Decimal
	var stateAt rowSpan
	var minFrom time.Time
	for i, r := range im.rows {
		if i == 0 {
			state, stateAt = r.state, r.span
		} else if !r.state.Equal(state) {
			if err := im.q.note(r.span.file, r.span.line, "state rate %s differs from %s at %s:%d: the first is used",
				renderRate(r.state), renderRate(state), stateAt.file, stateAt.line); err != nil {
				return nil, err
			}
		}
		if minFrom.IsZero() || r.span.from.Before(minFrom) {
			minFrom = r.span.from
		}
		byCode[r.code] = append(byCode[r.code], r)
	}
	doc.jurisdictions = append(doc.jurisdictions, &jurisdiction{
		extend: true,
		code:   "US-WA",
		name:   "Washington",
		level:  "state",
		match:  &match{country: "US", state: "WA"},
		taxes: []*tax{{
			id:    "wa-state", // the embedded pack's id: they merge
			name:  "Washington state retail sales tax",
			rates: []rateEntry{{from: minFrom, rate: state}},
		}},
	})
	zipMatch, notes := im.zipMatches(byCode)
	codes := make([]string, 0, len(byCode))
	for c := range byCode {
		codes = append(codes, c)
	}
	sort.Strings(codes)
	for _, c := range codes {
		rows, err := resolveOverlaps(im.q, "US-WA-LOC-"+c, byCode[c], func(r *waRow) *rowSpan { return &r.span })
		if err != nil {
			return nil, err
		}
		last := rows[len(rows)-1]
		level := "city"
		if strings.HasSuffix(c, "00") {
			level = "county"
		}
		name := last.name
		if name == "" {
			name = "Location " + c
		}
		j := &jurisdiction{
			code:   "US-WA-LOC-" + c,
			name:   name,
			level:  level,
			parent: "US-WA",
		}
		if zs := zipMatch[c]; len(zs) > 0 {
			j.match = &match{country: "US", state: "WA", postalCodes: zs}
		}
		t := &tax{id: "us-wa-loc-" + c, name: name + " local sales tax (location code " + c + ")",
			taxabilityFrom: "wa-state"} // local taxes are on the state's base
		for _, r := range rows {
			if n := len(t.rates); n > 0 && t.rates[n-1].rate.Equal(r.local) && t.rates[n-1].to.Equal(r.span.from) {
				t.rates[n-1].to = r.span.to // the same rate next quarter: one entry
				continue
			}
			t.rates = append(t.rates, rateEntry{from: r.span.from, to: r.span.to, rate: r.local, file: r.span.file, line: r.span.line})
		}
		j.taxes = []*tax{t}
		doc.jurisdictions = append(doc.jurisdictions, j)
	}
	doc.notes = append(doc.notes,
		"One jurisdiction per location code (US-WA-LOC-<code>): the local rate, which includes the RTA rate.")
	if im.undated > 0 {
		doc.notes = append(doc.notes, fmt.Sprintf("Entries without dates, in force from the effective date, open-ended: %d.", im.undated))
	}
	if len(im.zips) == 0 {
		doc.notes = append(doc.notes, "No ZIP file: locations have no match (name US-WA-LOC-<code> in a transaction's jurisdictions).")
	}
	doc.notes = append(doc.notes, notes...)
	doc.name = "Washington local sales tax rates by location code (DOR)"
	doc.source = "Washington State Department of Revenue location code and rate tables"
	if !im.opt.Effective.IsZero() {
		doc.asOf = dateOf(im.opt.Effective)
	}
	return doc, nil
}

// zipMatches gives each location code the 5-digit ZIPs it covers in the
// ZIP file (records in force at the effective date, else at the latest
// start date in the file). A ZIP whose plus-4 ranges fall in several codes
// goes to the code covering most of them (ties: the lower code), and is
// counted in a note: rules match on 5-digit ZIPs.
func (im *waImport) zipMatches(byCode map[string][]waRow) (map[string][]string, []string) {
	if len(im.zips) == 0 {
		return nil, nil
	}
	day := dateOf(im.opt.Effective)
	if im.opt.Effective.IsZero() {
		for _, z := range im.zips {
			if z.from.After(day) {
				day = z.from
			}
		}
	}
	share := map[string]map[string]int{} // zip -> code -> plus-4 count
	used, unknown := 0, map[string]bool{}
	for _, z := range im.zips {
		if (!z.from.IsZero() && z.from.After(day)) || (!z.last.IsZero() && z.last.Before(day)) {
			continue
		}
		if byCode[z.code] == nil {
			unknown[z.code] = true
			continue
		}
		used++
		if share[z.zip] == nil {
			share[z.zip] = map[string]int{}
		}
		share[z.zip][z.code] += z.hi - z.lo + 1
	}
	out := map[string][]string{}
	split := 0
	zips := make([]string, 0, len(share))
	for z := range share {
		zips = append(zips, z)
	}
	sort.Strings(zips)
	for _, z := range zips {
		best, bestN := "", -1
		for c, n := range share[z] {
			if n > bestN || (n == bestN && c < best) {
				best, bestN = c, n
			}
		}
		if len(share[z]) > 1 {
			split++
		}
		out[best] = append(out[best], z)
	}
	notes := []string{fmt.Sprintf("ZIP file: %d records in force at %s used; %d ZIPs.", used, day.Format(dateLayout), len(zips))}
	if split > 0 {
		notes = append(notes, fmt.Sprintf("ZIPs split between location codes, matched to the code covering most of their ZIP+4 ranges: %d "+
			"(for an address in another part, name its code in the transaction's jurisdictions).", split))
	}
	if len(unknown) > 0 {
		notes = append(notes, fmt.Sprintf("Location codes in the ZIP file without a rate row (skipped): %d.", len(unknown)))
	}
	return out, notes
}
