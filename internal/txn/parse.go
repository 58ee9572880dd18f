package txn

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/shopspring/decimal"

	"github.com/taxagg/taxagg/internal/jsonscan"
	"github.com/taxagg/taxagg/internal/money"
)

// ParseOptions configures a Parser.
type ParseOptions struct {
	// Location is the zone (--timezone) in which an RFC 3339 timestamp is
	// turned into a civil date. nil means UTC.
	Location *time.Location
	// StableHashes makes IDHash and ContentHash the same in every process
	// (StableIDHash, StableHash) instead of seeded per process: for ids
	// kept across runs (a durable state).
	StableHashes bool
}

// RawField is one top-level member of a JSON record as written: Key is the
// decoded key, RawKey the key token with its quotes, Value the raw value
// text. See Parser.Fields.
type RawField = jsonscan.Field

// The fields of docs/input.md, in the order they are checked (and so the order in
// which errors are found when a record has several).
const (
	fID = iota
	fDate
	fType
	fOriginalDate
	fCurrency
	fAmount
	fQuantity
	fProduct
	fTaxIncluded
	fCustomer
	fExemptReason
	fCountry
	fState
	fCounty
	fCity
	fPostalCode
	fJurisdictions
	fLines
	fTaxCharged
	nFields
)

var fieldNames = [nFields]string{
	"id", "date", "type", "original_date", "currency", "amount", "quantity", "product",
	"tax_included", "customer", "exempt_reason", "country", "state", "county", "city",
	"postal_code", "jurisdictions", "lines", "tax_charged",
}

// fieldIndex maps a key to its field, or -1 for a key taxagg does not know
// (kept by calc, ignored here). The compiler's switch on a string (by
// length, then a binary search) beat a hand-written dispatch by length and
// one byte followed by a compare (13 against 45 instructions a key).
func fieldIndex(key []byte) int {
	switch string(key) {
	case "id":
		return fID
	case "date":
		return fDate
	case "type":
		return fType
	case "original_date":
		return fOriginalDate
	case "currency":
		return fCurrency
	case "amount":
		return fAmount
	case "quantity":
		return fQuantity
	case "product":
		return fProduct
	case "tax_included":
		return fTaxIncluded
	case "customer":
		return fCustomer
	case "exempt_reason":
		return fExemptReason
	case "country":
		return fCountry
	case "state":
		return fState
	case "county":
		return fCounty
	case "city":
		return fCity
	case "postal_code":
		return fPostalCode
	case "jurisdictions":
		return fJurisdictions
	case "lines":
		return fLines
	case "tax_charged":
		return fTaxCharged
	}
	return -1
}

// val is one field's raw value: a JSON value, or a CSV cell.
type val struct {
	raw  []byte // JSON: the value text; CSV: the cell's bytes (aliasing the cell string)
	kind jsonscan.Kind
	csv  bool
	set  bool
	esc  bool // JSON: a string with escapes
}

func (v *val) absent() bool {
	return !v.set || v.kind == jsonscan.Null || (v.csv && len(v.raw) == 0)
}

// cell is a CSV value's cell string.
func (v *val) cell() string { return unsafeString(v.raw) }

// Parser turns raw records into Transactions. A Parser is reusable and
// allocates little, but it is not safe for concurrent use: give each
// goroutine its own.
type Parser struct {
	zone zoneCache

	sc        jsonscan.Scanner
	fields    []jsonscan.Field
	jsonValid bool // fields hold the last ParseJSON's members
	lineMem   []jsonscan.Field
	elems     [][]byte
	lineDec   [][2][]byte // normalized amount and quantity text per line, for the content hash
	scratch   []byte      // unescaped strings of the current record
	stable    bool        // ParseOptions.StableHashes

	arena  []byte
	batch  *Arena // SetArena's, or nil
	intern *[internSlots]string
	akey   []byte // the address key being built
	currs  map[string]money.Currency
	hbuf   []byte
	hdr    []string
	hdrIdx []int
	hdrErr *FieldError
}

// NewParser returns a Parser.
func NewParser(opt ParseOptions) *Parser {
	p := &Parser{
		intern: new([internSlots]string),
		currs:  make(map[string]money.Currency, 8),
	}
	p.zone.loc = opt.Location
	p.stable = opt.StableHashes
	if p.zone.loc == nil {
		p.zone.loc = time.UTC
	}
	return p
}

// SetArena makes the strings of the Transactions p parses next borrowed
// rather than owned: a string field (the id, the customer) is then the
// record's own text where it can be, a JSON string without escapes, and
// a copy in a otherwise, as is the address. They stay valid as long as
// both the record's text and a (until a.Reset) do, not for as long as the
// program runs; interned strings (product, currency, exemption reason, and
// the like) are still the Parser's own. It is for a caller that handles a
// batch of records at a time and reuses their memory (pipeline.Run): code
// that keeps such a string past that clones it. nil restores owned
// strings.
func (p *Parser) SetArena(a *Arena) { p.batch = a }

// Fields returns the top-level members of the record last parsed by
// ParseJSON, in input order and as written, so that a command can write
// every input field back out unchanged. It is valid until the next parse,
// and nil after ParseCSV or when the last record was not valid JSON.
func (p *Parser) Fields() []RawField {
	if !p.jsonValid {
		return nil
	}
	return p.fields
}

// AppendFields appends the fields Fields returns to dst. Unlike those,
// the appended ones stay valid after the next parse, as long as the
// record's text does: a key written with escapes, decoded into the
// Parser's scratch space, is copied out of it.
func (p *Parser) AppendFields(dst []RawField) []RawField {
	n := len(dst)
	dst = append(dst, p.Fields()...)
	for i := n; i < len(dst); i++ {
		if f := &dst[i]; !within(f.Key, f.RawKey) {
			f.Key = bytes.Clone(f.Key)
		}
	}
	return dst
}

// within reports whether sub is a part of s (an empty sub always is).
func within(sub, s []byte) bool {
	if len(sub) == 0 {
		return true
	}
	start := uintptr(unsafe.Pointer(unsafe.SliceData(s)))
	at := uintptr(unsafe.Pointer(unsafe.SliceData(sub)))
	return at >= start && at+uintptr(len(sub)) <= start+uintptr(len(s))
}

func fieldErr(field string, format string, args ...any) *FieldError {
	return &FieldError{Field: field, Err: fmt.Errorf(format, args...)}
}

var errRequired = errors.New("is required")

// ParseJSON parses one JSON object into tx. Errors are *FieldError; invalid
// JSON gives a FieldError without a field.
//
// tx is overwritten entirely; its Lines and Jurisdictions slices are reused
// (truncated and refilled) when they have room, so a caller that keeps a
// Transaction must not pass it again. Strings in tx are copied out of text
// (text may be reused freely after the call).
func (p *Parser) ParseJSON(text []byte, tx *Transaction) error {
	p.jsonValid = false
	fields, err := p.sc.Object(text)
	if err != nil {
		return &FieldError{Err: err}
	}
	p.fields = fields
	p.scratch = p.scratch[:0]
	// The values on the stack, not in the Parser: no write barriers.
	var vals [nFields]val
	for i := range fields {
		f := &fields[i]
		k := fieldIndex(f.Key)
		if k < 0 {
			if err := checkUnknownDup(fields, i); err != nil {
				return err
			}
			continue
		}
		if vals[k].set {
			return &FieldError{Field: fieldNames[k], Err: errors.New("duplicate key")}
		}
		// Field by field, not vals[k] = val{...}: the composite literal is
		// built in a stack temporary with byte stores and then copied with
		// 16-byte loads, which stalls on store forwarding (10% of
		// ParseJSON in a profile).
		vk := &vals[k]
		vk.raw, vk.kind, vk.set, vk.esc = f.Value, f.Kind, true, f.Escaped
	}
	p.jsonValid = true
	return p.build(tx, &vals)
}

// checkUnknownDup rejects a key that is not one of ours and appeared before.
func checkUnknownDup(fields []jsonscan.Field, i int) error {
	key := fields[i].Key
	for j := 0; j < i; j++ {
		if string(fields[j].Key) == string(key) {
			return &FieldError{Field: string(key), Err: errors.New("duplicate key")}
		}
	}
	return nil
}

// ParseCSV parses one CSV row into tx; header names the columns. Columns
// taxagg does not know are ignored. An empty cell is an absent field.
//
// Strings in tx alias the given cells (Go strings are immutable, so this is
// safe). Lines and Jurisdictions are reused as in ParseJSON.
func (p *Parser) ParseCSV(header, fields []string, tx *Transaction) error {
	return p.parseCSV(header, fields, false, tx)
}

// ParseCSVRow is ParseCSV for fields cut from text, the row as a
// stream.Reader read it (Record.Text and Record.CSV). A cell is the row's
// bytes between separators, less its quotes: all cut and removed bytes are
// ASCII, so a cell of a row that is valid UTF-8 is valid UTF-8 too (a
// sequence cannot straddle an ASCII byte), and one check of the row
// replaces a check per cell. A row that is not valid UTF-8 has its cells
// checked one by one, as ParseCSV does: a row with invalid bytes only in a
// column taxagg ignores is not refused. The caller vouches that fields
// come from text.
func (p *Parser) ParseCSVRow(header, fields []string, text []byte, tx *Transaction) error {
	return p.parseCSV(header, fields, len(text) > 0 && utf8.Valid(text), tx)
}

// parseCSV is ParseCSV; valid says that every field is valid UTF-8.
func (p *Parser) parseCSV(header, fields []string, valid bool, tx *Transaction) error {
	p.jsonValid = false
	if len(header) != len(p.hdr) || len(header) == 0 || unsafe.SliceData(header) != unsafe.SliceData(p.hdr) {
		p.mapHeader(header)
	}
	if p.hdrErr != nil {
		return p.hdrErr
	}
	if len(fields) != len(header) {
		return &FieldError{Err: fmt.Errorf("row has %d fields, the header has %d", len(fields), len(header))}
	}
	p.scratch = p.scratch[:0]
	var vals [nFields]val
	for i, k := range p.hdrIdx {
		if k < 0 {
			continue
		}
		s := fields[i]
		if !valid && !utf8.ValidString(s) {
			// As in JSON records: text that is not UTF-8 is refused, not
			// silently turned into U+FFFD.
			return &FieldError{Field: fieldNames[k], Err: errors.New("is not valid UTF-8")}
		}
		// Field by field, as in ParseJSON (no stack temporary).
		vk := &vals[k]
		vk.raw, vk.csv, vk.set = unsafe.Slice(unsafe.StringData(s), len(s)), true, true
	}
	if v := &vals[fLines]; !v.absent() {
		return &FieldError{Field: "lines", Err: errors.New("is not available in CSV")}
	}
	return p.build(tx, &vals)
}

func (p *Parser) mapHeader(header []string) {
	p.hdr = header
	p.hdrErr = nil
	p.hdrIdx = p.hdrIdx[:0]
	var seen [nFields]bool
	for _, h := range header {
		k := fieldIndex([]byte(h))
		if k >= 0 {
			if seen[k] {
				p.hdrErr = &FieldError{Field: h, Err: errors.New("duplicate column")}
			}
			seen[k] = true
		}
		p.hdrIdx = append(p.hdrIdx, k)
	}
}

// build checks the collected values and fills tx.
func (p *Parser) build(tx *Transaction, v *[nFields]val) error {
	// Reuse tx's storage; Lines and Jurisdictions stay nil unless given.
	tx.Reset()
	lines, juris := tx.Lines, tx.Jurisdictions
	tx.Lines, tx.Jurisdictions = nil, nil
	p.lineDec = p.lineDec[:0]

	// id
	if v[fID].absent() {
		return &FieldError{Field: "id", Err: errRequired}
	}
	b, err := p.text(&v[fID], "id")
	if err != nil {
		return err
	}
	if len(b) == 0 {
		return &FieldError{Field: "id", Err: errors.New("is empty")}
	}
	tx.ID = p.keep(&v[fID], b, false)

	// date
	if v[fDate].absent() {
		return &FieldError{Field: "date", Err: errRequired}
	}
	if tx.Day, tx.Time, err = p.dateTime(&v[fDate], "date"); err != nil {
		return err
	}
	tx.RateDay = tx.Day

	// type
	if !v[fType].absent() {
		b, err := p.text(&v[fType], "type")
		if err != nil {
			return err
		}
		switch {
		case strings.EqualFold(string(b), "sale"):
		case strings.EqualFold(string(b), "refund"):
			tx.Refund = true
		default:
			return fieldErr("type", "%s is not sale or refund", quoteShort(b))
		}
	}

	// original_date
	if !v[fOriginalDate].absent() {
		d, err := p.date(&v[fOriginalDate], "original_date")
		if err != nil {
			return err
		}
		if tx.Refund {
			tx.RateDay = d
		}
	}

	// currency
	if v[fCurrency].absent() {
		return &FieldError{Field: "currency", Err: errRequired}
	}
	if b, err = p.text(&v[fCurrency], "currency"); err != nil {
		return err
	}
	cur, ok := p.currs[string(b)]
	if !ok {
		cur, ok = money.LookupCurrency(string(b))
		if !ok {
			return fieldErr("currency", "%s is not an ISO 4217 currency code", quoteShort(b))
		}
		if len(p.currs) < 64 {
			p.currs[string(b)] = cur
		}
	}
	tx.Currency = cur

	// The record's own line fields: the one line of a flat record, or the
	// defaults (product, tax_included) of the lines of a multi-line one.
	hasLines := !v[fLines].absent()
	top := Line{Quantity: one, Product: defaultProduct, QuantityFixed: money.Fixed{C: 1}}
	var topAmt, topQty []byte = nil, oneText
	amtFits, qtyFits := true, true
	if !v[fAmount].absent() {
		if hasLines {
			return &FieldError{Field: "amount", Err: errors.New("is not allowed together with lines")}
		}
		if topAmt, amtFits, err = p.amount(&v[fAmount], "amount", cur, tx, &top); err != nil {
			return err
		}
	} else if !hasLines {
		return &FieldError{Field: "amount", Err: errRequired}
	}
	if !v[fQuantity].absent() {
		if hasLines {
			return &FieldError{Field: "quantity", Err: errors.New("is not allowed together with lines")}
		}
		if topQty, qtyFits, err = p.quantity(&v[fQuantity], "quantity", tx, &top); err != nil {
			return err
		}
	}
	top.Fixed = amtFits && qtyFits
	if !v[fProduct].absent() {
		if top.Product, err = p.product(&v[fProduct], "product"); err != nil {
			return err
		}
	}
	if !v[fTaxIncluded].absent() {
		if top.TaxIncluded, err = p.boolean(&v[fTaxIncluded], "tax_included"); err != nil {
			return err
		}
	}

	// plain strings
	if tx.Customer, err = p.optString(&v[fCustomer], "customer", false); err != nil {
		return err
	}
	if tx.ExemptReason, err = p.optString(&v[fExemptReason], "exempt_reason", true); err != nil {
		return err
	}
	if v[fCountry].absent() {
		return &FieldError{Field: "country", Err: errRequired}
	}
	if err := p.address(tx, v); err != nil {
		return err
	}

	// jurisdictions
	if jv := &v[fJurisdictions]; !jv.absent() {
		if juris, err = p.jurisdictions(jv, juris); err != nil {
			return err
		}
		if len(juris) > 0 {
			tx.Jurisdictions = juris
		}
	}

	// lines
	if hasLines {
		if lines, err = p.lines(&v[fLines], lines, top, cur, tx); err != nil {
			return err
		}
	} else {
		lines = append(lines, top)
		p.lineDec = append(p.lineDec, [2][]byte{topAmt, topQty})
	}
	tx.Lines = lines

	// tax_charged: the tax the source says it charged (kept to compare
	// with the tax owed).
	if tv := &v[fTaxCharged]; !tv.absent() {
		b, err := p.decText(tv, "tax_charged")
		if err != nil {
			return err
		}
		if tx.TaxCharged, err = money.ParseAmount(string(b), cur); err != nil {
			return &FieldError{Field: "tax_charged", Err: err}
		}
		tx.HasTaxCharged = true
	}
	if p.stable {
		tx.IDHash = StableIDHash(tx.ID)
	} else {
		tx.IDHash = HashID(tx.ID)
	}
	tx.ContentHash = p.contentHash(tx)
	return nil
}

// addrFields are the address fields in address key order (address.go).
var addrFields = [5]int{fCountry, fState, fCounty, fCity, fPostalCode}

// address checks the five address fields (country present) and sets them
// in tx from the address key, copied into the arena.
func (p *Parser) address(tx *Transaction, vals *[nFields]val) error {
	key := p.akey[:0]
	var ends AddrEnds
	for i, f := range addrFields {
		if v := &vals[f]; !v.absent() {
			b, err := p.text(v, fieldNames[f])
			if err != nil {
				return err
			}
			if i == 0 && len(b) == 0 {
				return &FieldError{Field: "country", Err: errors.New("is empty")}
			}
			key = append(key, b...)
		}
		ends[i] = uint32(len(key))
	}
	p.akey = key
	k := ""
	if p.batch != nil && len(key) <= arenaMax {
		k = p.batch.copy(key)
	} else {
		k = p.copyString(key)
	}
	tx.setAddress(k, ends, AddressHash(key, ends))
	return nil
}

// smallInts holds the decimals 0..99, shared (decimals are immutable), so
// that common quantities cost no allocation.
var smallInts = func() (t [100]decimal.Decimal) {
	for i := range t {
		t[i] = decimal.New(int64(i), 0)
	}
	return t
}()

var (
	one            = smallInts[1]
	oneText        = []byte("1")
	defaultProduct = "default"
)

// text returns the text of a string field.
func (p *Parser) text(v *val, field string) ([]byte, error) {
	if v.csv {
		return v.raw, nil
	}
	if v.kind != jsonscan.String {
		return nil, fieldErr(field, "%s is not a string", shortRaw(v.raw))
	}
	return p.unquote(v.raw, v.esc), nil
}

// unquote returns the contents of a JSON string token: inside raw when it
// has no escapes (esc, as the scanner found), else decoded into scratch.
func (p *Parser) unquote(raw []byte, esc bool) []byte {
	if !esc {
		return raw[1 : len(raw)-1]
	}
	off := len(p.scratch)
	p.scratch = jsonscan.AppendUnquoted(p.scratch, raw)
	return p.scratch[off:len(p.scratch):len(p.scratch)]
}

// keep turns field text into a string that outlives the record: interned
// (low-cardinality fields) or copied into the parser's arena; with
// SetArena borrowed instead of copied. CSV cells are already strings, the
// caller's: kept as they are, except that with SetArena, where they are
// taken to be borrowed too (the batch's), interned fields are interned.
func (p *Parser) keep(v *val, b []byte, intern bool) string {
	if v.csv && len(b) == len(v.raw) && (!intern || p.batch == nil) {
		return v.cell() // the caller's string: borrowed with SetArena (pipeline's batch), else owned
	}
	if intern {
		// A direct-mapped cache: a hit costs a short hash and one compare.
		h := uint32(2166136261)
		for _, c := range b {
			h = (h ^ uint32(c)) * 16777619
		}
		slot := &p.intern[(h^h>>16)&(internSlots-1)]
		if *slot == string(b) && len(b) > 0 {
			return *slot
		}
		s := p.copyString(b)
		*slot = s
		return s
	}
	if p.batch != nil && len(b) <= arenaMax {
		if !v.csv && !v.esc {
			return unsafeString(b) // the record's text (SetArena)
		}
		return p.batch.copy(b)
	}
	return p.copyString(b)
}

const (
	internSlots = 4096 // low-cardinality strings (country, state, product, ...) kept per parser
	arenaChunk  = 32 << 10
	arenaMax    = 512 // longer strings get their own allocation
)

// copyString copies b into the arena: many small strings share one
// allocation. The arena's bytes are never written again once handed out,
// so the strings are immutable like any other.
func (p *Parser) copyString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if len(b) > arenaMax {
		return string(b)
	}
	if cap(p.arena)-len(p.arena) < len(b) {
		p.arena = make([]byte, 0, arenaChunk)
	}
	off := len(p.arena)
	p.arena = append(p.arena, b...)
	return unsafe.String(&p.arena[off], len(b))
}

func (p *Parser) optString(v *val, field string, intern bool) (string, error) {
	if v.absent() {
		return "", nil
	}
	b, err := p.text(v, field)
	if err != nil {
		return "", err
	}
	return p.keep(v, b, intern), nil
}

func (p *Parser) product(v *val, field string) (string, error) {
	s, err := p.optString(v, field, true)
	if s == "" {
		s = defaultProduct
	}
	return s, err
}

func (p *Parser) date(v *val, field string) (Date, error) {
	b, err := p.text(v, field)
	if err != nil {
		return 0, err
	}
	d, err := parseDay(b, &p.zone)
	if err != nil {
		return 0, &FieldError{Field: field, Err: err}
	}
	return d, nil
}

// dateTime is date that also returns a timestamp's instant (zero for a
// plain date).
func (p *Parser) dateTime(v *val, field string) (Date, time.Time, error) {
	b, err := p.text(v, field)
	if err != nil {
		return 0, time.Time{}, err
	}
	d, at, err := parseStamp(b, &p.zone)
	if err != nil {
		return 0, time.Time{}, &FieldError{Field: field, Err: err}
	}
	return d, at, nil
}

// decText returns the text of a decimal: a JSON string's contents, a JSON
// number's literal, or a CSV cell.
func (p *Parser) decText(v *val, field string) ([]byte, error) {
	switch {
	case v.csv:
		return v.raw, nil
	case v.kind == jsonscan.String:
		return p.unquote(v.raw, v.esc), nil
	case v.kind == jsonscan.Number:
		return v.raw, nil
	}
	return nil, fieldErr(field, "%s is not a decimal", shortRaw(v.raw))
}

// amount reads a money amount into ln.Amount and ln.AmountFixed: a
// decimal with at most the currency's minor digits, not negative. It
// returns the normalized text for hashing, and whether the amount fits a
// Fixed. The decimal comes from tx's slab: no allocation.
func (p *Parser) amount(v *val, field string, cur money.Currency, tx *Transaction, ln *Line) ([]byte, bool, error) {
	b, err := p.decText(v, field)
	if err != nil {
		return nil, false, err
	}
	f, fits, err := money.ParseAmountFixed(unsafeString(b), cur)
	if err == nil && !fits {
		ln.Amount, err = money.ParseAmount(unsafeString(b), cur)
	}
	if err != nil {
		// Parse again from a copy: the error keeps the text.
		_, err = money.ParseAmount(string(b), cur)
		return nil, false, &FieldError{Field: field, Err: err}
	}
	if b[0] == '-' {
		return nil, false, fieldErr(field, "%s is negative: amounts are given positive (a refund has type refund)", quoteShort(b))
	}
	if fits {
		ln.Amount, ln.AmountFixed = tx.decs.Decimal(f), f
	}
	return normDecimal(b), fits, nil
}

// quantity reads a positive decimal into ln.Quantity and ln.QuantityFixed,
// as amount does.
func (p *Parser) quantity(v *val, field string, tx *Transaction, ln *Line) ([]byte, bool, error) {
	b, err := p.decText(v, field)
	if err != nil {
		return nil, false, err
	}
	if len(b) <= 2 {
		if n, ok := digits(b); ok && n > 0 {
			ln.Quantity, ln.QuantityFixed = smallInts[n], money.Fixed{C: int64(n)}
			return normDecimal(b), true, nil
		}
	}
	f, fits, err := money.ParseFixed(unsafeString(b))
	if err == nil && !fits {
		ln.Quantity, err = money.ParseDecimal(unsafeString(b))
	}
	if err != nil {
		_, err = money.ParseDecimal(string(b))
		return nil, false, &FieldError{Field: field, Err: err}
	}
	if fits {
		ln.Quantity, ln.QuantityFixed = tx.decs.Decimal(f), f
	}
	if ln.Quantity.Sign() <= 0 || b[0] == '-' {
		return nil, false, fieldErr(field, "%s is not positive", quoteShort(b))
	}
	return normDecimal(b), fits, nil
}

func (p *Parser) boolean(v *val, field string) (bool, error) {
	if !v.csv {
		switch v.kind {
		case jsonscan.True:
			return true, nil
		case jsonscan.False:
			return false, nil
		case jsonscan.String:
		default:
			return false, fieldErr(field, "%s is not true or false", shortRaw(v.raw))
		}
	}
	b, err := p.text(v, field)
	if err != nil {
		return false, err
	}
	switch {
	case strings.EqualFold(string(b), "true"):
		return true, nil
	case strings.EqualFold(string(b), "false"):
		return false, nil
	}
	return false, fieldErr(field, "%s is not true or false", quoteShort(b))
}

// jurisdictions reads a JSON list of codes or a CSV cell of ;-separated codes.
func (p *Parser) jurisdictions(v *val, dst []string) ([]string, error) {
	if v.csv {
		s := v.cell()
		for i := 0; ; i++ {
			j := strings.IndexByte(s, ';')
			code := s
			if j >= 0 {
				code = s[:j]
			}
			code = strings.TrimSpace(code)
			if code == "" {
				return dst, fieldErr("jurisdictions", "%s has an empty code", strconv.Quote(v.cell()))
			}
			if p.batch != nil {
				code = p.keep(&val{}, unsafe.Slice(unsafe.StringData(code), len(code)), true)
			}
			dst = append(dst, code)
			if j < 0 {
				return dst, nil
			}
			s = s[j+1:]
		}
	}
	if v.kind != jsonscan.Array {
		return dst, fieldErr("jurisdictions", "%s is not a list of codes", shortRaw(v.raw))
	}
	elems, err := p.sc.Elements(v.raw, p.elems[:0])
	p.elems = elems
	if err != nil {
		return dst, &FieldError{Field: "jurisdictions", Err: err}
	}
	for i, e := range elems {
		name := "jurisdictions[" + strconv.Itoa(i) + "]"
		if jsonscan.KindOf(e) != jsonscan.String {
			return dst, fieldErr(name, "%s is not a string", shortRaw(e))
		}
		b := p.unquote(e, jsonscan.HasEscape(e))
		if len(b) == 0 {
			return dst, &FieldError{Field: name, Err: errors.New("is empty")}
		}
		dst = append(dst, p.keep(&val{}, b, true))
	}
	return dst, nil
}

// lines reads the lines list; top carries the record-level defaults
// (product, tax_included).
func (p *Parser) lines(v *val, dst []Line, top Line, cur money.Currency, tx *Transaction) ([]Line, error) {
	if v.kind != jsonscan.Array {
		return dst, fieldErr("lines", "%s is not a list of lines", shortRaw(v.raw))
	}
	elems, err := p.sc.Elements(v.raw, p.elems[:0])
	p.elems = elems
	if err != nil {
		return dst, &FieldError{Field: "lines", Err: err}
	}
	if len(elems) == 0 {
		return dst, &FieldError{Field: "lines", Err: errors.New("is empty")}
	}
	// elems is reused by jurisdictions, which ran before; copy not needed.
	for i, e := range elems {
		prefix := "lines[" + strconv.Itoa(i) + "]"
		if jsonscan.KindOf(e) != jsonscan.Object {
			return dst, fieldErr(prefix, "%s is not an object", shortRaw(e))
		}
		mem, err := p.sc.Members(e, p.lineMem[:0])
		p.lineMem = mem
		if err != nil {
			return dst, &FieldError{Field: prefix, Err: err}
		}
		var lv [4]val // amount, quantity, product, tax_included
		for j := range mem {
			m := &mem[j]
			k := -1
			switch string(m.Key) {
			case "amount":
				k = 0
			case "quantity":
				k = 1
			case "product":
				k = 2
			case "tax_included":
				k = 3
			default:
				if err := checkUnknownDup(mem, j); err != nil {
					err.(*FieldError).Field = prefix + "." + err.(*FieldError).Field
					return dst, err
				}
				continue
			}
			if lv[k].set {
				return dst, &FieldError{Field: prefix + "." + string(m.Key), Err: errors.New("duplicate key")}
			}
			// Field by field, as in ParseJSON (no stack temporary).
			lk := &lv[k]
			lk.raw, lk.kind, lk.set, lk.esc = m.Value, m.Kind, true, m.Escaped
		}
		ln := Line{Quantity: one, Product: top.Product, TaxIncluded: top.TaxIncluded, QuantityFixed: money.Fixed{C: 1}}
		amt, qty := []byte(nil), oneText
		if lv[0].absent() {
			return dst, &FieldError{Field: prefix + ".amount", Err: errRequired}
		}
		amtFits, qtyFits := false, true
		if amt, amtFits, err = p.amount(&lv[0], prefix+".amount", cur, tx, &ln); err != nil {
			return dst, err
		}
		if !lv[1].absent() {
			if qty, qtyFits, err = p.quantity(&lv[1], prefix+".quantity", tx, &ln); err != nil {
				return dst, err
			}
		}
		ln.Fixed = amtFits && qtyFits
		if !lv[2].absent() {
			if ln.Product, err = p.product(&lv[2], prefix+".product"); err != nil {
				return dst, err
			}
		}
		if !lv[3].absent() {
			if ln.TaxIncluded, err = p.boolean(&lv[3], prefix+".tax_included"); err != nil {
				return dst, err
			}
		}
		dst = append(dst, ln)
		p.lineDec = append(p.lineDec, [2][]byte{amt, qty})
	}
	return dst, nil
}

// normDecimal returns the canonical form of a valid, non-negative decimal
// text as a sub-slice: no leading zeros before the units digit, no trailing
// fraction zeros, no point when no fraction is left ("012.50" → "12.5").
func normDecimal(b []byte) []byte {
	i := 0
	for i < len(b)-1 && b[i] == '0' && b[i+1] != '.' {
		i++
	}
	b = b[i:]
	for k := 0; k < len(b); k++ {
		if b[k] == '.' {
			j := len(b)
			for j > k+1 && b[j-1] == '0' {
				j--
			}
			if j == k+1 {
				j = k
			}
			return b[:j]
		}
	}
	return b
}

func unsafeString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// shortRaw shows a raw JSON value in an error, cut to a readable length.
func shortRaw(raw []byte) string {
	const max = 40
	if len(raw) > max {
		return string(raw[:max]) + "..."
	}
	return string(raw)
}

// hashSeed seeds every hash of this package in one process. It is chosen at
// random when the process starts and never changes.
var hashSeed = maphash.MakeSeed()

// HashID returns the 64-bit hash of a transaction id used by Dedup.
func HashID(id string) uint64 { return maphash.String(hashSeed, id) }

// contentHash hashes what a transaction means (not how it was written):
// every field that the tax computation reads, with decimals in canonical
// form, so that the same transaction replayed in CSV or with its keys in
// another order, "12.50" for "12.5", or with different unknown fields,
// hashes the same.
func (p *Parser) contentHash(tx *Transaction) uint64 {
	b := p.hbuf[:0]
	str := func(s string) {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(s)))
		b = append(b, s...)
	}
	byt := func(s []byte) {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(s)))
		b = append(b, s...)
	}
	flag := func(v bool) {
		if v {
			b = append(b, 1)
		} else {
			b = append(b, 0)
		}
	}
	str(tx.ID)
	b = binary.LittleEndian.AppendUint32(b, uint32(tx.Day))
	b = binary.LittleEndian.AppendUint32(b, uint32(tx.RateDay))
	flag(tx.Refund)
	str(tx.Currency.Code)
	str(tx.Customer)
	str(tx.ExemptReason)
	// The address from the key as built (p.akey): the fields' bytes.
	ak, ae := p.akey, &tx.addrEnds
	byt(ak[:ae[0]])
	byt(ak[ae[0]:ae[1]])
	byt(ak[ae[1]:ae[2]])
	byt(ak[ae[2]:ae[3]])
	byt(ak[ae[3]:ae[4]])
	b = binary.LittleEndian.AppendUint32(b, uint32(len(tx.Jurisdictions)))
	for _, j := range tx.Jurisdictions {
		str(j)
	}
	b = binary.LittleEndian.AppendUint32(b, uint32(len(tx.Lines)))
	for i := range tx.Lines {
		ln := &tx.Lines[i]
		byt(p.lineDec[i][0])
		byt(p.lineDec[i][1])
		str(ln.Product)
		flag(ln.TaxIncluded)
	}
	if tx.HasTaxCharged {
		// Only then: records without one hash as they always have (a
		// durable state keeps their hashes).
		flag(true)
		str(tx.TaxCharged.String())
	}
	p.hbuf = b
	if p.stable {
		return StableHash(b)
	}
	return maphash.Bytes(hashSeed, b)
}
