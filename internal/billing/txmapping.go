package billing

import (
	"fmt"
	"strings"

	"github.com/shopspring/decimal"

	"github.com/taxagg/taxagg/internal/jsonscan"
)

// nodeGetter reads dotted paths of a parsed JSON record, matching the
// first segment's key case-insensitively when no key matches exactly. A
// number's literal is its text (numeric ids).
type nodeGetter struct{ n *node }

func (g nodeGetter) get(path string) (string, bool, error) {
	cur := g.n
	for i, seg := range strings.Split(path, ".") {
		if cur.isObject() {
			next := cur.get(seg)
			if next == nil && i == 0 {
				for j, k := range cur.keys {
					if strings.EqualFold(string(k), seg) {
						next = cur.vals[j]
						break
					}
				}
			}
			cur = next
		} else if cur != nil && cur.kind == jsonscan.Array {
			cur.scan()
			var idx int
			if _, err := fmt.Sscanf(seg, "%d", &idx); err != nil || idx < 0 || idx >= len(cur.elems) {
				return "", false, nil
			}
			cur = cur.elems[idx]
		} else {
			return "", false, nil
		}
	}
	return cur.text()
}

// mappedTx builds a transaction from a mapped record: the reconcile
// mapping's fields (id, date, currency, amount, customer; tax is the tax
// charged unless tax_charged is mapped) and the transaction fields
// (txFields). Ids may be numbers, dates unix seconds.
func mappedTx(m *Mapping, g getter, products ProductMap) (*txRecord, error) {
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
		return strings.TrimSpace(s), ok && strings.TrimSpace(s) != "", nil
	}
	fieldName := func(name string) string {
		if spec := m.Fields[name]; spec.Field != "" {
			return spec.Field
		}
		return name
	}
	required := func(name string) (string, error) {
		s, ok, err := text(name)
		if err != nil {
			return "", err
		}
		if !ok {
			return "", errField(fieldName(name), "is required (mapped to %s)", name)
		}
		return s, nil
	}
	r := &txRecord{}
	var err error
	if status, ok, err := text("status"); err != nil {
		return nil, err
	} else if ok {
		if m.States != nil {
			s, found := m.States[status]
			if !found {
				return nil, errField(fieldName("status"), "%q is not in the mapping's states table", status)
			}
			status = s
		} else if !IsState(status) {
			return nil, errField(fieldName("status"), "%q is not a state (draft, open, paid, void, uncollectible, refunded); give a states table", status)
		}
		switch status {
		case StateDraft, StateVoid:
			return nil, &skipError{status + " record"}
		case StateRefunded:
			r.refund = true
		}
	}
	if r.id, err = required("id"); err != nil {
		return nil, err
	}
	for _, f := range []struct {
		name string
		dst  *string
		req  bool
	}{{"date", &r.date, true}, {"original_date", &r.originalDate, false}} {
		s, ok, err := text(f.name)
		if err != nil {
			return nil, err
		}
		if !ok {
			if f.req {
				return nil, errField(fieldName(f.name), "is required (mapped to %s)", f.name)
			}
			continue
		}
		format := m.Fields[f.name].TimeFormat
		if format == "" && isDigits(s) && len(s) >= 9 {
			format = "unix" // unix seconds, as many exports write them
		}
		t, err := mappedTime(s, format)
		if err != nil {
			return nil, &fieldError{fieldName(f.name), err}
		}
		if len(s) == 10 && format == "" {
			*f.dst = s // a plain date stays a civil date
		} else {
			*f.dst = rfc3339(t)
		}
	}
	if typ, ok, err := text("type"); err != nil {
		return nil, err
	} else if ok {
		switch strings.ToLower(typ) {
		case "sale":
		case "refund":
			r.refund = true
		default:
			return nil, errField(fieldName("type"), "%q is not sale or refund", typ)
		}
	}
	code, err := required("currency")
	if err != nil {
		return nil, err
	}
	if r.cur, err = currencyOf(code); err != nil {
		return nil, &fieldError{fieldName("currency"), err}
	}
	amount := func(name string) (decimal.Decimal, bool, error) {
		s, ok, err := text(name)
		if err != nil || !ok {
			return decimal.Decimal{}, false, err
		}
		var d decimal.Decimal
		if m.Fields[name].MinorUnits {
			d, err = minorUnits(s, r.cur.Digits)
		} else {
			d, err = majorUnits(s, r.cur)
		}
		if err != nil {
			return d, false, &fieldError{fieldName(name), err}
		}
		return d, true, nil
	}
	amt, ok, err := amount("amount")
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, errField(fieldName("amount"), "is required (mapped to amount)")
	}
	if amt.Sign() < 0 {
		// A negative amount is a refund, as many exports write them.
		amt, r.refund = amt.Neg(), true
	}
	ln := txLine{amount: amt, quantity: "1", product: "default"}
	if q, ok, err := text("quantity"); err != nil {
		return nil, err
	} else if ok {
		ln.quantity = q
	}
	if p, ok, err := text("product"); err != nil {
		return nil, err
	} else if ok {
		ln.product = p
		if c, found := products[p]; found {
			ln.product = c
		}
	}
	if ti, ok, err := text("tax_included"); err != nil {
		return nil, err
	} else if ok {
		switch strings.ToLower(ti) {
		case "true", "yes", "1":
			ln.taxIncluded = true
		case "false", "no", "0":
		default:
			return nil, errField(fieldName("tax_included"), "%q is not true or false", ti)
		}
	}
	r.lines = []txLine{ln}
	for _, f := range []struct {
		name string
		dst  *string
	}{{"customer", &r.customer}, {"exempt_reason", &r.exemptReason}, {"country", &r.addr.country},
		{"state", &r.addr.state}, {"county", &r.addr.county}, {"city", &r.addr.city}, {"postal_code", &r.addr.postal}} {
		s, _, err := text(f.name)
		if err != nil {
			return nil, err
		}
		*f.dst = s
	}
	if r.addr.country == "" {
		return nil, errField(fieldName("country"), "is required (mapped to country)")
	}
	charged := "tax_charged"
	if _, ok := m.Fields[charged]; !ok {
		charged = "tax"
	}
	if r.taxCharged, r.hasCharged, err = amount(charged); err != nil {
		return nil, err
	}
	if r.taxCharged.Sign() < 0 {
		r.taxCharged = r.taxCharged.Neg()
	}
	return r, nil
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// skipError says a mapped record is not a transaction.
type skipError struct{ reason string }

func (e *skipError) Error() string { return "skipped: " + e.reason }

// lookalikes are column names taxagg does not read but that probably mean
// one of its fields.
var lookalikes = map[string]string{
	"zip": "postal_code", "zipcode": "postal_code", "zip_code": "postal_code", "postcode": "postal_code",
	"postal": "postal_code", "postalcode": "postal_code",
	"total": "amount", "amount_total": "amount", "subtotal": "amount", "net": "amount", "price": "amount",
	"tax_code": "product", "product_id": "product", "sku": "product", "category": "product",
	"state": "state", "province": "state", "region": "state", "state_code": "state",
	"country": "country", "country_code": "country",
	"qty": "quantity", "quantity": "quantity",
	"tax": "tax_charged", "vat": "tax_charged", "tax_amount": "tax_charged", "sales_tax": "tax_charged",
	"city": "city", "county": "county",
	"customer_id": "customer", "order_date": "date", "invoice_date": "date", "created_at": "date",
}

// warnColumns names the columns (or top-level keys) of an input that look
// like a field taxagg reads but that the mapping does not read.
func (c *TxConverter) warnColumns(source string, names []string) {
	if c.opts.Warn == nil || c.opts.Mapping == nil {
		return
	}
	read := map[string]bool{}
	for _, spec := range c.opts.Mapping.Fields {
		if spec.Field != "" {
			read[strings.ToLower(spec.Field)] = true
		}
	}
	for _, name := range names {
		low := strings.ToLower(strings.TrimSpace(name))
		field, ok := lookalikes[low]
		if !ok || read[low] {
			continue
		}
		if _, mapped := c.opts.Mapping.Fields[field]; mapped {
			continue
		}
		c.opts.Warn(fmt.Sprintf("%s: column %q is not read; it looks like %s (map it in the mapping file: %s: %s)", source, name, field, field, name))
	}
}
