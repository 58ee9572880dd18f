package billing

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"
	"go.yaml.in/yaml/v3"

	"github.com/taxagg/taxagg/internal/jsonscan"
)

// Mapping tells how to read a source that no preset knows: for each
// canonical field, the source field (a dotted path into JSON, or a CSV
// column), whether amounts are in minor units, and how states translate.
//
//	format: csv                 # auto (default), json, ndjson, csv
//	fields:
//	  id: order_ref
//	  date: {field: created_at, format: unix}   # rfc3339 (default, also YYYY-MM-DD), unix, unix_ms, or a Go layout
//	  customer: buyer.id
//	  currency: {value: EUR}                    # a constant
//	  amount: {field: total_cents, minor_units: true}
//	  tax: {field: vat_cents, minor_units: true}
//	  state: status
//	  updated: modified_at
//	states: {settled: paid, cancelled: void}   # source value -> canonical state
type Mapping struct {
	Name   string
	Format string
	Fields map[string]FieldSpec
	States map[string]string
}

// FieldSpec is where one canonical field comes from.
type FieldSpec struct {
	Field      string // source path or column
	Value      string // a constant, when Field is empty
	MinorUnits bool   // amount/tax: an integer count of minor units
	TimeFormat string // date/updated: rfc3339, unix, unix_ms, or a Go layout
}

// canonicalFields are the fields a mapping may fill for reconcile.
var canonicalFields = []string{"id", "kind", "date", "updated", "customer", "currency", "amount", "tax", "state"}

// txFields are the further fields a mapping may fill for the transaction
// commands (--from MAPPING.yaml). There "state" is the ship-to address's
// state, and "status" the document's state (draft and void are skipped).
var txFields = []string{"type", "original_date", "quantity", "product", "tax_included", "exempt_reason",
	"country", "county", "city", "postal_code", "tax_charged", "status"}

// MappingError is a problem in a mapping file, at a line and column.
type MappingError struct {
	File      string
	Line, Col int
	Msg       string
}

func (e *MappingError) Error() string {
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Col, e.Msg)
}

// LoadMapping reads a mapping file. Unknown keys are errors.
func LoadMapping(r io.Reader, name string) (*Mapping, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read mapping %s: %w", name, err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, yamlErr(name, err)
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, &MappingError{File: name, Line: 1, Col: 1, Msg: "a mapping file is a YAML mapping with a fields key"}
	}
	m := &Mapping{Name: name, Format: FormatAuto, Fields: map[string]FieldSpec{}}
	root := doc.Content[0]
	at := func(n *yaml.Node, format string, args ...any) error {
		return &MappingError{File: name, Line: n.Line, Col: n.Column, Msg: fmt.Sprintf(format, args...)}
	}
	var fieldsNode *yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		switch k.Value {
		case "format":
			switch v.Value {
			case FormatAuto, FormatJSON, FormatNDJSON, FormatCSV:
				m.Format = v.Value
			default:
				return nil, at(v, "format %q is not auto, json, ndjson or csv", v.Value)
			}
		case "fields":
			if v.Kind != yaml.MappingNode {
				return nil, at(v, "fields must be a mapping of canonical field to source field")
			}
			fieldsNode = v
		case "states":
			if v.Kind != yaml.MappingNode {
				return nil, at(v, "states must be a mapping of source value to state")
			}
			m.States = map[string]string{}
			for j := 0; j+1 < len(v.Content); j += 2 {
				sk, sv := v.Content[j], v.Content[j+1]
				if !IsState(sv.Value) {
					return nil, at(sv, "%q is not a state (draft, open, paid, void, uncollectible, refunded)", sv.Value)
				}
				m.States[sk.Value] = sv.Value
			}
		default:
			return nil, at(k, "unknown key %q (want format, fields, states)", k.Value)
		}
	}
	if fieldsNode == nil {
		return nil, at(root, "fields is required")
	}
	for j := 0; j+1 < len(fieldsNode.Content); j += 2 {
		k, v := fieldsNode.Content[j], fieldsNode.Content[j+1]
		if !isCanonicalField(k.Value) {
			return nil, at(k, "unknown canonical field %q (want one of %s)", k.Value, strings.Join(append(canonicalFields[:len(canonicalFields):len(canonicalFields)], txFields...), ", "))
		}
		var spec FieldSpec
		switch v.Kind {
		case yaml.ScalarNode:
			spec.Field = v.Value
		case yaml.MappingNode:
			for i := 0; i+1 < len(v.Content); i += 2 {
				sk, sv := v.Content[i], v.Content[i+1]
				switch sk.Value {
				case "field":
					spec.Field = sv.Value
				case "value":
					spec.Value = sv.Value
				case "minor_units":
					b, err := strconv.ParseBool(sv.Value)
					if err != nil {
						return nil, at(sv, "minor_units must be true or false")
					}
					if k.Value != "amount" && k.Value != "tax" && k.Value != "tax_charged" {
						return nil, at(sk, "minor_units applies to amount, tax and tax_charged only")
					}
					spec.MinorUnits = b
				case "format":
					if k.Value != "date" && k.Value != "updated" && k.Value != "original_date" {
						return nil, at(sk, "format applies to date, updated and original_date only")
					}
					spec.TimeFormat = sv.Value
				default:
					return nil, at(sk, "unknown key %q (want field, value, minor_units, format)", sk.Value)
				}
			}
		default:
			return nil, at(v, "%s: want a source field name or {field: ..., ...}", k.Value)
		}
		if (spec.Field == "") == (spec.Value == "") {
			return nil, at(v, "%s: give exactly one of field and value", k.Value)
		}
		m.Fields[k.Value] = spec
	}
	for _, req := range []string{"id", "date", "currency", "amount"} {
		if _, ok := m.Fields[req]; !ok {
			return nil, at(fieldsNode, "fields: %s is required", req)
		}
	}
	return m, nil
}

func isCanonicalField(s string) bool {
	for _, f := range canonicalFields {
		if f == s {
			return true
		}
	}
	for _, f := range txFields {
		if f == s {
			return true
		}
	}
	return false
}

func yamlErr(name string, err error) error {
	msg := err.Error()
	line := 1
	// yaml.v3 errors read "yaml: line N: message".
	if rest, ok := strings.CutPrefix(msg, "yaml: line "); ok {
		if i := strings.IndexByte(rest, ':'); i > 0 {
			if n, e := strconv.Atoi(rest[:i]); e == nil {
				line = n
				msg = strings.TrimSpace(rest[i+1:])
			}
		}
	}
	return &MappingError{File: name, Line: line, Col: 1, Msg: msg}
}

// identityMapping reads the canonical fields by their own names (canonical CSV).
func identityMapping() *Mapping {
	m := &Mapping{Name: "canonical", Fields: map[string]FieldSpec{}}
	for _, f := range canonicalFields {
		m.Fields[f] = FieldSpec{Field: f}
	}
	return m
}

// getter reads a source value by path; ok is false when absent or null.
type getter interface {
	get(path string) (string, bool, error)
}

// jsonGetter walks dotted paths in a JSON object already validated by the
// decoder's scanner; a numeric segment indexes an array.
type jsonGetter struct {
	d   *decoder
	raw []byte
}

// value returns the raw JSON object at path (ok false when absent).
func (g jsonGetter) value(path string) ([]byte, bool, error) {
	cur := g.raw
	for seg := range strings.SplitSeq(path, ".") {
		if jsonscan.KindOf(cur) != jsonscan.Object {
			return nil, false, nil
		}
		members, err := g.d.sc.Members(cur, nil)
		if err != nil {
			return nil, false, err
		}
		var next []byte
		for _, m := range members {
			if string(m.Key) == seg {
				next = m.Value
			}
		}
		if next == nil {
			return nil, false, nil
		}
		cur = next
	}
	return cur, jsonscan.KindOf(cur) == jsonscan.Object, nil
}

func (g jsonGetter) get(path string) (string, bool, error) {
	cur := g.raw
	for seg := range strings.SplitSeq(path, ".") {
		switch jsonscan.KindOf(cur) {
		case jsonscan.Object:
			members, err := g.d.sc.Members(cur, g.d.inner[:0])
			g.d.inner = members[:0]
			if err != nil {
				return "", false, err
			}
			var next []byte
			for _, m := range members {
				if string(m.Key) == seg {
					next = m.Value
				}
			}
			if next == nil {
				return "", false, nil
			}
			cur = next
		case jsonscan.Array:
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 {
				return "", false, nil
			}
			elems, err := g.d.sc.Elements(cur, g.d.elems[:0])
			g.d.elems = elems[:0]
			if err != nil {
				return "", false, err
			}
			if i >= len(elems) {
				return "", false, nil
			}
			cur = elems[i]
		default:
			return "", false, nil
		}
	}
	switch jsonscan.KindOf(cur) {
	case jsonscan.Null, jsonscan.Invalid:
		return "", false, nil
	case jsonscan.String:
		return unquote(cur), true, nil
	case jsonscan.Object:
		return "", false, errors.New("is an object, not a scalar")
	case jsonscan.Array:
		return "", false, errors.New("is an array, not a scalar")
	}
	return string(cur), true, nil
}

// csvGetter reads columns by header name, matched case-insensitively; an
// empty cell is absent.
type csvGetter struct {
	index map[string]int
	row   []string
}

// newCSVGetter indexes a header; of two names equal but for case, the first wins.
func newCSVGetter(header []string) *csvGetter {
	index := make(map[string]int, len(header))
	for i, h := range header {
		k := strings.ToLower(strings.TrimSpace(h))
		if _, dup := index[k]; !dup {
			index[k] = i
		}
	}
	return &csvGetter{index: index}
}

func (g *csvGetter) get(path string) (string, bool, error) {
	i, ok := g.index[strings.ToLower(path)]
	if !ok || i >= len(g.row) || g.row[i] == "" {
		return "", false, nil
	}
	return g.row[i], true, nil
}

// mappedRecord builds a record from a getter and a mapping.
func mappedRecord(m *Mapping, g getter) (Record, error) {
	var r Record
	text := func(name string) (string, bool, error) {
		spec, ok := m.Fields[name]
		if !ok {
			return "", false, nil
		}
		if spec.Field == "" {
			return spec.Value, true, nil
		}
		s, ok, err := g.get(spec.Field)
		if err != nil {
			return "", false, &fieldError{spec.Field, err}
		}
		return s, ok, nil
	}
	fieldName := func(name string) string {
		if spec := m.Fields[name]; spec.Field != "" {
			return spec.Field
		}
		return name
	}
	var err error
	var ok bool
	if r.ID, ok, err = text("id"); err != nil {
		return r, err
	} else if !ok || r.ID == "" {
		return r, errField(fieldName("id"), "is required")
	}
	if r.Kind, _, err = text("kind"); err != nil {
		return r, err
	}
	if r.Customer, _, err = text("customer"); err != nil {
		return r, err
	}
	state, ok, err := text("state")
	if err != nil {
		return r, err
	}
	if ok {
		if m.States != nil {
			s, found := m.States[state]
			if !found {
				return r, errField(fieldName("state"), "%q is not in the mapping's states table", state)
			}
			state = s
		} else if !IsState(state) {
			return r, errField(fieldName("state"), "%q is not a state (draft, open, paid, void, uncollectible, refunded); give a states table", state)
		}
		r.State = state
	}
	for _, f := range []struct {
		name string
		dst  *time.Time
		req  bool
	}{{"date", &r.Date, true}, {"updated", &r.Updated, false}} {
		s, ok, err := text(f.name)
		if err != nil {
			return r, err
		}
		if !ok || s == "" {
			if f.req {
				return r, errField(fieldName(f.name), "is required")
			}
			continue
		}
		t, err := mappedTime(s, m.Fields[f.name].TimeFormat)
		if err != nil {
			return r, &fieldError{fieldName(f.name), err}
		}
		*f.dst = t
	}
	code, ok, err := text("currency")
	if err != nil {
		return r, err
	}
	if !ok {
		code = ""
	}
	cur, err := currencyOf(strings.TrimSpace(code))
	if err != nil {
		return r, &fieldError{fieldName("currency"), err}
	}
	r.Currency = cur.Code
	for _, f := range []struct {
		name string
		dst  *decimal.Decimal
		req  bool
	}{{"amount", &r.Amount, true}, {"tax", &r.Tax, false}} {
		s, ok, err := text(f.name)
		if err != nil {
			return r, err
		}
		if !ok || s == "" {
			if f.req {
				return r, errField(fieldName(f.name), "is required")
			}
			continue
		}
		if m.Fields[f.name].MinorUnits {
			*f.dst, err = minorUnits(s, cur.Digits)
		} else {
			*f.dst, err = majorUnits(s, cur)
		}
		if err != nil {
			return r, &fieldError{fieldName(f.name), err}
		}
	}
	return r, nil
}

func mappedTime(s, format string) (time.Time, error) {
	switch format {
	case "", "rfc3339":
		return parseTime(s)
	case "unix":
		return parseUnix(s)
	case "unix_ms":
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return time.Time{}, fmt.Errorf("%q is not unix milliseconds", s)
		}
		return inYears(time.UnixMilli(n).UTC(), s)
	}
	t, err := time.Parse(format, s)
	if err != nil {
		return t, fmt.Errorf("%q does not match the layout %q", s, format)
	}
	return inYears(t.UTC(), s)
}

// checkColumns verifies that a CSV header has every column a mapping names.
func checkColumns(m *Mapping, index map[string]int, required []string) error {
	var missing []string
	for _, name := range required {
		spec, ok := m.Fields[name]
		if !ok || spec.Field == "" {
			continue
		}
		if _, ok := index[strings.ToLower(spec.Field)]; !ok {
			missing = append(missing, fmt.Sprintf("%q (for %s)", spec.Field, name))
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return errors.New("header lacks column " + strings.Join(missing, ", "))
	}
	return nil
}
