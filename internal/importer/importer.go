// Package importer turns official sales-tax rate files into a taxagg rule
// file (docs/rules.md).
//
// Four formats are read:
//
//   - FormatSST: Streamlined Sales Tax rate files (and boundary files, told
//     apart by their content);
//   - FormatAvalaraZip: Avalara's ZIP5 rate tables;
//   - FormatCDTFA: California's CDTFA rate list;
//   - FormatWADOR: Washington DOR's location-code rate tables.
//
// Import reads every file completely, checks it, and only then writes one
// YAML rule document to w; on any error nothing is written. Errors name the
// file and the line: "GAR.csv:17: effective to 20170230 is not a date".
//
// See doc.go for the jurisdiction-code scheme and the modelling choices of
// each format.
package importer

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/shopspring/decimal"
)

// Format names an input format of Import.
type Format string

// The formats Import reads.
const (
	FormatSST        Format = "sst"
	FormatAvalaraZip Format = "avalara-zip"
	FormatCDTFA      Format = "cdtfa"
	FormatWADOR      Format = "wa-dor"
)

// Formats lists the formats Import reads, in the order help text shows them.
var Formats = []Format{FormatSST, FormatAvalaraZip, FormatCDTFA, FormatWADOR}

// File is one input file: its name (as the user gave it, used in messages
// and in the header comment) and its content. A .zip archive (one or more
// data files inside) or a gzip stream is recognised by its first bytes and
// read directly.
type File struct {
	Name string
	R    io.Reader
}

// Options tune an import.
type Options struct {
	// Effective is the date the imported rates take effect (--effective).
	// Zero: taken from the file names when they carry one (see
	// filedate.go), else from the file's content where it has one.
	Effective time.Time
	// Intrastate picks SST's intrastate rate pair instead of the
	// interstate one (the rates for sellers located in the state).
	Intrastate bool
	// Strict refuses a file with any quirk (overlapping rows, duplicate
	// rows, corrupt rows) instead of resolving it and saying so.
	Strict bool
	// Notice, when set, is called with every quirk resolved, as
	// "file:line: what was done", in input order (the CLI prints them on
	// stderr). They are also listed in the output's header comment.
	Notice func(string)

	// effectiveFromName: Effective was taken from a file name, not given.
	effectiveFromName bool
}

// Error is an import error positioned in an input file.
type Error struct {
	File string // the file's name as given
	Line int    // 1-based; 0 when the error concerns the whole file
	Err  error
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.File, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// ErrNoEffective is returned (wrapped) when a format whose files carry no
// date is imported without Options.Effective.
var ErrNoEffective = errors.New("no effective date")

func errAt(file string, line int, format string, args ...any) error {
	return &Error{File: file, Line: line, Err: fmt.Errorf(format, args...)}
}

// Import reads the official rate files and writes one rule file (YAML) to w,
// starting with a header comment naming the source files, the options and
// every quirk resolved. Output is deterministic: the same input bytes give
// the same output bytes. Nothing is written when an error is returned.
func Import(w io.Writer, format Format, files []File, opt Options) error {
	if len(files) == 0 {
		return fmt.Errorf("import %s: no input files", format)
	}
	files, err := expandFiles(files)
	if err != nil {
		return err
	}
	q := &quirks{strict: opt.Strict, notice: opt.Notice}
	effectiveFrom := ""
	if opt.Effective.IsZero() {
		for _, f := range files {
			// Several files (two quarters, say): the latest date.
			if t, ok := dateFromName(format, f.Name); ok && t.After(opt.Effective) {
				opt.Effective = t
				opt.effectiveFromName = true
				effectiveFrom = f.Name
			}
		}
	}
	var doc *document
	switch format {
	case FormatSST:
		doc, err = importSST(files, opt, q)
	case FormatAvalaraZip:
		doc, err = importAvalara(files, opt, q)
	case FormatCDTFA:
		doc, err = importCDTFA(files, opt, q)
	case FormatWADOR:
		doc, err = importWADOR(files, opt, q)
	default:
		return fmt.Errorf("import: unknown format %q (want sst, avalara-zip, cdtfa or wa-dor)", string(format))
	}
	if err != nil {
		return err
	}
	doc.format = format
	doc.opt = opt
	doc.effectiveFrom = effectiveFrom
	doc.quirks = q.sorted()
	var buf bytes.Buffer
	if err := doc.write(&buf); err != nil {
		return fmt.Errorf("import %s: %w", format, err)
	}
	_, err = w.Write(buf.Bytes())
	return err
}

// quirks collects what was resolved in the input files: each one a
// positioned line for the header comment and for Options.Notice. With
// Strict, the first one is the import's error instead.
type quirks struct {
	strict bool
	notice func(string)
	list   []quirk
}

type quirk struct {
	file string
	line int
	msg  string
}

// sorted lists the quirks by file (in the order first met) and line.
func (q *quirks) sorted() []string {
	order := map[string]int{}
	for _, x := range q.list {
		if _, ok := order[x.file]; !ok {
			order[x.file] = len(order)
		}
	}
	l := append([]quirk(nil), q.list...)
	sort.SliceStable(l, func(i, j int) bool {
		if l[i].file != l[j].file {
			return order[l[i].file] < order[l[j].file]
		}
		return l[i].line < l[j].line
	})
	out := make([]string, len(l))
	for i, x := range l {
		out[i] = x.msg
	}
	return out
}

// note records a quirk at file:line, or returns it as an error when strict.
func (q *quirks) note(file string, line int, format string, args ...any) error {
	e := errAt(file, line, format, args...)
	if q.strict {
		return fmt.Errorf("%w (--strict)", e)
	}
	msg := e.Error()
	q.list = append(q.list, quirk{file, line, msg})
	if q.notice != nil {
		q.notice(msg)
	}
	return nil
}

// corrupt records a row skipped for the error err (an *Error), or returns
// err when strict.
func (q *quirks) corrupt(err error) error {
	if q.strict {
		return err
	}
	var e *Error
	if errors.As(err, &e) {
		return q.note(e.File, e.Line, "corrupt row skipped: %v", e.Err)
	}
	return err
}

// nextRow reads src's next record, skipping (and noting) the lines that are
// not valid CSV as corrupt rows: under --strict the first one is the error.
func (q *quirks) nextRow(src *csvSource) ([]string, int, error) {
	rec, line, err := src.next()
	for isRowError(err) {
		if err = q.corrupt(err); err != nil {
			return nil, 0, err
		}
		rec, line, err = src.next()
	}
	return rec, line, err
}

// resolveOverlaps sorts one jurisdiction's dated rows by start (file order
// for equal starts) and lets each row take over from its start date: an
// earlier row still in force then ends the day before (noted), and an
// earlier row starting the same day is dropped (noted).
func resolveOverlaps[T any](q *quirks, code string, rows []T, span func(*T) *rowSpan) ([]T, error) {
	sort.SliceStable(rows, func(i, j int) bool { return span(&rows[i]).from.Before(span(&rows[j]).from) })
	out := rows[:0]
	for i := range rows {
		c := span(&rows[i])
		for len(out) > 0 {
			p := span(&out[len(out)-1])
			if !p.to.IsZero() && !p.to.After(c.from) {
				break
			}
			at := fmt.Sprintf("line %d", p.line)
			if p.file != c.file {
				at = fmt.Sprintf("%s:%d", p.file, p.line)
			}
			if !p.from.Before(c.from) {
				if err := q.note(c.file, c.line, "%s: this row starts on the same day as the one on %s (%s): it replaces that row",
					code, at, p.describe()); err != nil {
					return nil, err
				}
				out = out[:len(out)-1]
				continue
			}
			was := p.describe()
			if err := q.note(c.file, c.line, "%s: this row (from %s) overlaps the one on %s (%s): that row now ends on %s",
				code, c.from.Format(dateLayout), at, was, c.from.AddDate(0, 0, -1).Format(dateLayout)); err != nil {
				return nil, err
			}
			p.to = c.from
			break
		}
		out = append(out, rows[i])
	}
	return out, nil
}

// rowSpan is the dated part of an input row: from inclusive, to exclusive
// (zero: open-ended), and where the row was read.
type rowSpan struct {
	from, to time.Time
	file     string
	line     int
}

func (r *rowSpan) describe() string {
	return describeSpan(rateEntry{from: r.from, to: r.to})
}

// document is the format-independent result of an import.
type document struct {
	format        Format
	opt           Options
	effectiveFrom string   // the file whose name gave the effective date, if one did
	quirks        []string // what was resolved, positioned
	name          string
	source        string
	asOf          time.Time
	sources       []string // one line per input file for the header comment
	notes         []string // more header comment lines
	jurisdictions []*jurisdiction
}

type jurisdiction struct {
	extend bool // extend: true (layers on an earlier definition, e.g. the embedded pack)
	code   string
	name   string
	level  string // country | state | county | city | district
	parent string
	match  *match
	notes  string
	taxes  []*tax
}

type match struct {
	country, state string
	county, city   []string
	notCity        []string // not: {city: [...]}
	postalCodes    []string
}

type tax struct {
	id         string
	name       string
	rates      []rateEntry
	taxability []taxability // in output order
	// taxabilityFrom: the state tax whose taxability covers the categories
	// this one does not list (locals tax the state's base).
	taxabilityFrom string
	notes          string
}

type rateEntry struct {
	from time.Time
	to   time.Time // zero: open-ended
	rate decimal.Decimal
	file string // source file and line, for overlap messages
	line int
}

type taxability struct {
	category string
	value    string // "taxable", "exempt" or a rendered rate ("4%")
}

func (d *document) sortJurisdictions() {
	sort.Slice(d.jurisdictions, func(i, j int) bool {
		return d.jurisdictions[i].code < d.jurisdictions[j].code
	})
}

func describeSpan(r rateEntry) string {
	if r.to.IsZero() {
		return "from " + r.from.Format(dateLayout) + ", open-ended"
	}
	return "from " + r.from.Format(dateLayout) + " to " + r.to.AddDate(0, 0, -1).Format(dateLayout) + " inclusive"
}

const dateLayout = "2006-01-02"

var (
	hundred = decimal.NewFromInt(100)
	one     = decimal.NewFromInt(1)
)

// renderRate writes a fraction as a percentage with no trailing zeros:
// 0.0190 -> "1.9%", 0.06875 -> "6.875%", 0 -> "0%".
func renderRate(r decimal.Decimal) string {
	return r.Mul(hundred).String() + "%"
}

// parseRate reads a rate written as a plain decimal fraction ("0.0475",
// ".04", "0"): no sign, no exponent, at most 20 digits. It must be below 1.
func parseRate(s string) (decimal.Decimal, error) {
	s = strings.TrimSpace(s)
	if !isPlainDecimal(s) {
		return decimal.Decimal{}, fmt.Errorf("rate %q is not a decimal fraction", clip(s))
	}
	d, err := decimal.NewFromString(s)
	if err != nil {
		return decimal.Decimal{}, fmt.Errorf("rate %q is not a decimal fraction", clip(s))
	}
	if !d.LessThan(one) {
		return decimal.Decimal{}, fmt.Errorf("rate %q is not a fraction below 1 (write 0.07 for 7%%)", clip(s))
	}
	return d, nil
}

// isPlainDecimal accepts digits with at most one point and at least one
// digit, up to 20 characters.
func isPlainDecimal(s string) bool {
	if s == "" || len(s) > 20 {
		return false
	}
	digits, points := 0, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			digits++
		case c == '.':
			points++
		default:
			return false
		}
	}
	return digits > 0 && points <= 1
}

// parseYYYYMMDD reads a calendar date written YYYYMMDD.
func parseYYYYMMDD(s string) (time.Time, bool) {
	if len(s) != 8 {
		return time.Time{}, false
	}
	for i := 0; i < 8; i++ {
		if s[i] < '0' || s[i] > '9' {
			return time.Time{}, false
		}
	}
	t, err := time.Parse("20060102", s)
	if err != nil {
		return time.Time{}, false
	}
	return t, true
}

// dateOf drops the clock and zone of t, keeping its calendar date.
func dateOf(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// clip shortens a value quoted in an error message.
func clip(s string) string {
	s = cleanText(s)
	if utf8.RuneCountInString(s) > 40 {
		r := []rune(s)
		return string(r[:40]) + "..."
	}
	return s
}

// cleanText makes a field from an input file fit for a name: invalid UTF-8
// is read as Latin-1 (Windows exports), control characters become spaces,
// runs of white space fold to one, and the ends are trimmed.
func cleanText(s string) string {
	if !utf8.ValidString(s) {
		var b strings.Builder
		for i := 0; i < len(s); {
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && n <= 1 {
				r = rune(s[i])
				n = 1
			}
			b.WriteRune(r)
			i += n
		}
		s = b.String()
	}
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '\uFEFF' {
			return ' '
		}
		return r
	}, s)
	return strings.Join(strings.Fields(s), " ")
}

// slug turns a name into a code part: "La Cañada Flintridge" ->
// "LA-CANADA-FLINTRIDGE". Letters are folded to ASCII where a base letter
// is known; other characters separate words.
func slug(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range cleanText(s) {
		r = foldLetter(r)
		switch {
		case r >= 'a' && r <= 'z':
			r -= 'a' - 'A'
			fallthrough
		case r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(r)
		default:
			dash = true
		}
	}
	return b.String()
}

// foldLetter maps common Latin-1 accented letters to their base letter.
func foldLetter(r rune) rune {
	if r < 0xC0 || r > 0xFF {
		return r
	}
	const from = "ÀÁÂÃÄÅÇÈÉÊËÌÍÎÏÑÒÓÔÕÖÙÚÛÜÝàáâãäåçèéêëìíîïñòóôõöùúûüýÿ"
	const to = "AAAAAACEEEEIIIINOOOOOUUUUYaaaaaaceeeeiiiinooooouuuuyy"
	i := 0
	for _, f := range from {
		if f == r {
			return rune(to[i])
		}
		i++
	}
	return r
}

// newReader strips a UTF-8 byte-order mark from the start of r.
func newReader(r io.Reader) *bufio.Reader {
	br := bufio.NewReaderSize(r, 64<<10)
	if b, err := br.Peek(3); err == nil && bytes.Equal(b, []byte("\xEF\xBB\xBF")) {
		_, _ = br.Discard(3)
	}
	return br
}

// safeName renders a file name for the header comment on one line.
func safeName(name string) string {
	s := cleanText(name)
	if s == "" {
		return `""`
	}
	return s
}
