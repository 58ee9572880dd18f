package billing

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/shopspring/decimal"

	"github.com/taxagg/taxagg/internal/jsonscan"
	"github.com/taxagg/taxagg/internal/money"
	"github.com/taxagg/taxagg/internal/txn"
)

// This file reads billing exports as taxagg transactions, for the
// transaction commands' --from flag: each Stripe or Chargebee document (or
// record of a mapped export) becomes the text of one transaction record in
// taxagg's own format, which the transaction parser then reads like any
// other input. Documents that are not sales or refunds (draft and void
// invoices, failed charges, ...) are skipped with a reason, and counted.

// TxOptions say how to read billing records as transactions.
type TxOptions struct {
	// Preset is stripe or chargebee; ignored when Mapping is set.
	Preset  string
	Mapping *Mapping
	// Products maps product ids, price ids and tax codes to product
	// categories (see LoadProductMap); nil maps nothing.
	Products ProductMap
	// Warn, when set, receives warnings about an input (a column that
	// looks like a field taxagg reads but is not mapped), once per input.
	Warn func(msg string)
	// Standalone converts every record on its own: a credit note or
	// refund never draws on a record converted before it, so that the
	// same record always gives the same transaction whatever came before
	// (a stream, where what came before depends on restarts and
	// rebalances). It takes what it needs of its invoice or charge from
	// itself (an expanded invoice, customer or charge), as when the
	// invoice is not in the input.
	Standalone bool
}

// TxConverter turns billing records into transaction records. Convert must
// be called for the records in input order, from one goroutine: a credit
// note takes its invoice's date, address and product categories from an
// invoice read earlier.
type TxConverter struct {
	opts TxOptions
	sc   jsonscan.Scanner

	// invoices holds what later documents need of the invoices (and
	// charges) read so far, by id; wanted, the ids credit notes and
	// refunds refer to (NoteReference).
	invoices map[string]*invoiceInfo
	wanted   map[string]bool

	warned map[string]bool
	// csvGet indexes csvHead, the header of the CSV rows being read.
	csvHead []string
	csvGet  *csvGetter

	mu      sync.Mutex
	skipped map[string]int64
}

// invoiceInfo is what a credit note needs of its invoice.
type invoiceInfo struct {
	date  string
	addr  address
	lines map[string]lineInfo // by line item id
}

type lineInfo struct {
	product     string
	taxIncluded bool
}

type address struct {
	country, state, county, city, postal string
}

func (a address) ok() bool { return a.country != "" }

// NewTxConverter checks the options and returns a converter.
func NewTxConverter(opts TxOptions) (*TxConverter, error) {
	if opts.Mapping == nil {
		switch opts.Preset {
		case PresetStripe, PresetChargebee:
		default:
			return nil, fmt.Errorf("unknown source %q (want stripe, chargebee, canonical or a mapping file)", opts.Preset)
		}
	}
	return &TxConverter{
		opts:     opts,
		invoices: map[string]*invoiceInfo{},
		warned:   map[string]bool{},
		skipped:  map[string]int64{},
	}, nil
}

// InputFormat is the input format a mapping file names (auto, json,
// ndjson, csv), "" without a mapping.
func (c *TxConverter) InputFormat() string {
	if c.opts.Mapping == nil {
		return ""
	}
	return c.opts.Mapping.Format
}

// Skipped returns the number of records skipped, by reason.
func (c *TxConverter) Skipped() map[string]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int64, len(c.skipped))
	for k, v := range c.skipped {
		out[k] = v
	}
	return out
}

// A first look over the inputs lets a credit note find an invoice that
// comes after it: NoteReference is called for every record and remembers
// the invoices (and charges) that credit notes and refunds refer to; when
// there are some (Wanted), Index is called for every record on a second
// look and keeps what those documents will need of the ones referred to.
// Both are cheap for the records they do not concern (no full parse).

// NoteReference remembers the invoice or charge a credit note or refund
// refers to.
func (c *TxConverter) NoteReference(text []byte) {
	if c.opts.Mapping != nil || !(bytes.Contains(text, []byte(`"credit_note"`)) || bytes.Contains(text, []byte(`"refund"`))) {
		return
	}
	n, err := parseNode(&c.sc, text)
	if err != nil || n.kind != jsonscan.Object {
		return
	}
	if c.wanted == nil {
		c.wanted = map[string]bool{}
	}
	if c.opts.Preset == PresetStripe {
		if n.get("object").str() == "event" {
			n = n.at("data", "object")
		}
		switch n.get("object").str() {
		case "credit_note":
			c.wanted[n.get("invoice").id()] = true
		case "refund":
			c.wanted[n.get("charge").id()] = true
		}
		return
	}
	if cn := n.get("credit_note"); cn.isObject() {
		n = cn
	}
	if id := n.get("reference_invoice_id").str(); id != "" {
		c.wanted[id] = true
	}
}

// Wanted reports whether NoteReference found documents referred to.
func (c *TxConverter) Wanted() bool { return len(c.wanted) > 0 }

// Index keeps what the credit notes and refunds noted will need of this
// record, when it is one of the invoices or charges they refer to.
func (c *TxConverter) Index(text []byte) {
	if len(c.wanted) == 0 {
		return
	}
	fields, err := c.sc.Object(text)
	if err != nil {
		return
	}
	var id, object string
	wrapped := false
	for _, f := range fields {
		switch string(f.Key) {
		case "id":
			if f.Kind == jsonscan.String {
				id = unquote(f.Value)
			}
		case "object":
			if f.Kind == jsonscan.String {
				object = unquote(f.Value)
			}
		case "invoice", "data":
			wrapped = wrapped || f.Kind == jsonscan.Object
		}
	}
	if !c.wanted[id] && !wrapped && object != "event" {
		return
	}
	n, err := parseNode(&c.sc, text)
	if err != nil {
		return
	}
	switch c.opts.Preset {
	case PresetStripe:
		obj := n
		if obj.get("object").str() == "event" {
			obj = n.at("data", "object")
		}
		if o := obj.get("object").str(); (o == "invoice" || o == "charge") && c.wanted[obj.get("id").str()] {
			c.stripeTx(n)
		}
	case PresetChargebee:
		obj := n
		if inv := n.get("invoice"); inv.isObject() {
			obj = inv
		}
		if c.wanted[obj.get("id").str()] && obj.get("object").str() != "credit_note" && obj.get("reference_invoice_id").null() {
			c.chargebeeTx(n)
		}
	}
}

// ConvertJSON converts one JSON record, appending the transaction's text
// to dst. skip, when not empty, says why the record is not a transaction
// (out is then empty). Errors are *txn.FieldError naming the field of the
// source record at fault.
func (c *TxConverter) ConvertJSON(source string, text []byte, dst []byte) (out []byte, skip string, err error) {
	if c.opts.Standalone && len(c.invoices) > 0 {
		clear(c.invoices)
	}
	out, skip, err = c.convertJSON(source, text, dst)
	return c.finish(out, skip, err)
}

// ConvertCSV converts one CSV row whose columns header names.
func (c *TxConverter) ConvertCSV(source string, header, row []string, dst []byte) (out []byte, skip string, err error) {
	if c.opts.Mapping == nil {
		return dst, "", &txn.FieldError{Err: fmt.Errorf("the %s source reads JSON, not CSV", c.opts.Preset)}
	}
	if len(row) != len(header) {
		return dst, "", &txn.FieldError{Err: fmt.Errorf("row has %d fields, the header has %d", len(row), len(header))}
	}
	if len(header) == 0 || len(c.csvHead) != len(header) || &c.csvHead[0] != &header[0] {
		c.csvHead, c.csvGet = header, newCSVGetter(header)
	}
	g := c.csvGet
	g.row = row
	if !c.warned[source] {
		c.warned[source] = true
		c.warnColumns(source, header)
	}
	r, err := mappedTx(c.opts.Mapping, g, c.opts.Products)
	if err != nil {
		return c.finish(dst, "", err)
	}
	return c.finish(r.appendJSON(dst), "", nil)
}

func (c *TxConverter) finish(out []byte, skip string, err error) ([]byte, string, error) {
	var se *skipError
	if errors.As(err, &se) {
		out, skip, err = out[:0:0], se.reason, nil
	}
	if err != nil {
		var fe *fieldError
		if errors.As(err, &fe) {
			return out, "", &txn.FieldError{Field: fe.field, Err: fe.err}
		}
		var te *txn.FieldError
		if !errors.As(err, &te) {
			err = &txn.FieldError{Err: err}
		}
		return out, "", err
	}
	if skip != "" {
		c.mu.Lock()
		c.skipped[skip]++
		c.mu.Unlock()
	}
	return out, skip, nil
}

func (c *TxConverter) convertJSON(source string, text []byte, dst []byte) ([]byte, string, error) {
	n, err := parseNode(&c.sc, text)
	if err != nil {
		return dst, "", err
	}
	if n.kind != jsonscan.Object {
		return dst, "", errors.New("record is not a JSON object")
	}
	if m := c.opts.Mapping; m != nil {
		if !c.warned[source] {
			c.warned[source] = true
			c.warnColumns(source, n.keyNames())
		}
		r, err := mappedTx(m, nodeGetter{n}, c.opts.Products)
		if err != nil {
			return dst, "", err
		}
		return r.appendJSON(dst), "", nil
	}
	var r *txRecord
	var skip string
	switch c.opts.Preset {
	case PresetStripe:
		r, skip, err = c.stripeTx(n)
	default:
		r, skip, err = c.chargebeeTx(n)
	}
	if err != nil || skip != "" {
		return dst, skip, err
	}
	return r.appendJSON(dst), "", nil
}

// beforeHint says where a credit note's invoice (or a refund's charge)
// must be for the converter to find it.
func (c *TxConverter) beforeHint(doc string) string {
	if c.opts.Standalone {
		return "each message is converted on its own: the " + doc + " must carry what it needs of it"
	}
	return "through a pipe, it must come before the " + doc
}

// ---- the transaction record written ----

type txLine struct {
	amount      decimal.Decimal
	quantity    string
	product     string
	taxIncluded bool
}

type txRecord struct {
	id, source         string
	date, originalDate string
	refund             bool
	cur                money.Currency
	customer           string
	exemptReason       string
	addr               address
	lines              []txLine
	taxCharged         decimal.Decimal
	hasCharged         bool
}

// appendJSON writes the record in taxagg's transaction format.
func (r *txRecord) appendJSON(dst []byte) []byte {
	digits := r.cur.Digits
	w := jsonWriter{b: dst}
	w.b = append(w.b, '{')
	w.str("id", r.id)
	if r.source != "" {
		w.str("source_object", r.source)
	}
	w.str("date", r.date)
	if r.refund {
		w.str("type", "refund")
		if r.originalDate != "" {
			w.str("original_date", r.originalDate)
		}
	}
	w.str("currency", r.cur.Code)
	if r.customer != "" {
		w.str("customer", r.customer)
	}
	if r.exemptReason != "" {
		w.str("exempt_reason", r.exemptReason)
	}
	w.str("country", r.addr.country)
	for _, f := range [][2]string{{"state", r.addr.state}, {"county", r.addr.county}, {"city", r.addr.city}, {"postal_code", r.addr.postal}} {
		if f[1] != "" {
			w.str(f[0], f[1])
		}
	}
	w.key("lines")
	w.b = append(w.b, '[')
	for i, ln := range r.lines {
		if i > 0 {
			w.b = append(w.b, ',')
		}
		w.b = append(w.b, `{"amount":"`...)
		w.b = append(w.b, ln.amount.StringFixed(digits)...)
		w.b = append(w.b, '"')
		if ln.quantity != "" && ln.quantity != "1" {
			w.b = append(w.b, `,"quantity":"`...)
			w.b = append(w.b, ln.quantity...)
			w.b = append(w.b, '"')
		}
		if ln.product != "" && ln.product != "default" {
			w.b = append(w.b, `,"product":`...)
			w.b = appendJSONString(w.b, ln.product)
		}
		if ln.taxIncluded {
			w.b = append(w.b, `,"tax_included":true`...)
		}
		w.b = append(w.b, '}')
	}
	w.b = append(w.b, ']')
	if r.hasCharged {
		w.str("tax_charged", r.taxCharged.StringFixed(digits))
	}
	w.b = append(w.b, '}')
	return w.b
}

type jsonWriter struct{ b []byte }

func (w *jsonWriter) key(k string) {
	if len(w.b) > 0 && w.b[len(w.b)-1] != '{' {
		w.b = append(w.b, ',')
	}
	w.b = appendJSONString(w.b, k)
	w.b = append(w.b, ':')
}

func (w *jsonWriter) str(k, v string) {
	w.key(k)
	w.b = appendJSONString(w.b, v)
}

func appendJSONString(dst []byte, s string) []byte {
	b, _ := json.Marshal(s) // a string always marshals
	return append(dst, b...)
}

// rfc3339 prints unix seconds as an RFC 3339 UTC timestamp.
func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// unixTime reads unix seconds from a node; ok is false when absent/null.
func unixTime(field string, n *node) (time.Time, bool, error) {
	s, ok, err := n.text()
	if err != nil {
		return time.Time{}, false, &fieldError{field, err}
	}
	if !ok {
		return time.Time{}, false, nil
	}
	t, err := parseUnix(s)
	if err != nil {
		return t, false, &fieldError{field, err}
	}
	return t, true, nil
}

// minorAt reads an integer count of minor units with the given digits
// (ok false when absent or null).
func minorAt(field string, n *node, digits int32) (decimal.Decimal, bool, error) {
	s, ok, err := n.text()
	if err != nil {
		return decimal.Decimal{}, false, &fieldError{field, err}
	}
	if !ok {
		return decimal.Decimal{}, false, nil
	}
	d, err := minorUnits(s, digits)
	if err != nil {
		return d, false, &fieldError{field, err}
	}
	return d, true, nil
}

// category picks a line's product category: its tax code (through the
// product map, then the built-in table of well-known tax codes), else the
// product map entry of its price id or product id, else "default".
func (pm ProductMap) category(taxCode string, ids ...string) string {
	if taxCode != "" {
		if c, ok := pm[taxCode]; ok {
			return c
		}
		if c, ok := knownTaxCodes[taxCode]; ok {
			return c
		}
	}
	for _, id := range ids {
		if id == "" {
			continue
		}
		if c, ok := pm[id]; ok {
			return c
		}
	}
	return "default"
}

// netLines turns lines whose amounts may be negative (proration credits,
// credit lines) into the non-negative lines of a sale or of a refund: a
// negative line reduces the lines of the same product category and tax
// behaviour, in order; when every line is negative or zero the document is
// a refund of their amounts. It fails when a credit is left over against a
// sale in another category, which taxagg cannot split without guessing.
func netLines(lines []txLine) ([]txLine, bool, error) {
	var pos, neg []txLine
	for _, ln := range lines {
		switch ln.amount.Sign() {
		case 1:
			pos = append(pos, ln)
		case -1:
			neg = append(neg, ln)
		}
	}
	if len(pos) == 0 {
		for i := range neg {
			neg[i].amount = neg[i].amount.Neg()
		}
		if len(neg) == 0 {
			return []txLine{{amount: decimal.Zero, quantity: "1", product: "default"}}, false, nil
		}
		return neg, true, nil
	}
	for _, n := range neg {
		left := n.amount.Neg()
		for i := range pos {
			if left.Sign() == 0 {
				break
			}
			p := &pos[i]
			if p.product != n.product || p.taxIncluded != n.taxIncluded || p.amount.Sign() == 0 {
				continue
			}
			take := decimal.Min(p.amount, left)
			p.amount = p.amount.Sub(take)
			left = left.Sub(take)
		}
		if left.Sign() != 0 {
			return nil, false, errField("lines", "a credit of %s for product %q exceeds the charges for that product on the same document; taxagg does not move a credit to another product", left.String(), n.product)
		}
	}
	out := pos[:0]
	for _, p := range pos {
		if p.amount.Sign() > 0 {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		out = append(out, txLine{amount: decimal.Zero, quantity: "1", product: "default"})
	}
	return out, false, nil
}

// quantityText reads a line's quantity: a positive decimal, else "1".
func quantityText(n *node) string {
	s, ok, err := n.text()
	if err != nil || !ok {
		return "1"
	}
	d, err := money.ParseDecimal(s)
	if err != nil || d.Sign() <= 0 {
		return "1"
	}
	return d.String()
}

func sortedKeys(m map[string]int64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// FormatSkipped prints skip counts as "draft invoice 2, void invoice 1".
func FormatSkipped(m map[string]int64) string {
	var parts []string
	for _, k := range sortedKeys(m) {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}
