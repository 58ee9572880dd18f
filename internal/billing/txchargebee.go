package billing

import (
	"fmt"
	"strings"

	"github.com/shopspring/decimal"

	"github.com/taxagg/taxagg/internal/money"
)

// ChargebeeDigits returns the exponent of Chargebee's integer amounts in a
// currency. Chargebee documents (API "Currencies" page) that amounts of
// zero-decimal currencies (JPY, KRW, ...) are in major units, and that
// every other currency is given with two decimal places multiplied by
// 100 — three-decimal currencies (BHD, JOD, KWD, OMR, TND) included: 1.530
// BHD is 153, not 1530.
func ChargebeeDigits(c money.Currency) int32 {
	if c.Digits == 0 {
		return 0
	}
	return 2
}

// Chargebee invoices and credit notes as transactions: one line per
// line_items[] entry (amount, or amount_in_decimal with multi-decimal
// pricing, less its discount_amount, or its share in
// line_item_discounts[]), tax-inclusive when price_type is tax_inclusive,
// the ship-to address (shipping_address, else billing_address), the tax
// charged from tax, else taxes[], else line_item_taxes[].
func (c *TxConverter) chargebeeTx(n *node) (*txRecord, string, error) {
	kind, prefix := "", ""
	for _, k := range []string{"invoice", "credit_note"} {
		if inner := n.get(k); inner.isObject() {
			n, kind, prefix = inner, k, k+"."
			break
		}
	}
	if kind == "" {
		kind = "invoice"
		if n.get("object").str() == "credit_note" || !n.get("reference_invoice_id").null() {
			kind = "credit_note"
		}
	}
	r, skip, err := c.chargebeeDoc(n, kind)
	if fe, ok := err.(*fieldError); ok && prefix != "" {
		fe.field = prefix + fe.field
	}
	return r, skip, err
}

func (c *TxConverter) chargebeeDoc(n *node, kind string) (*txRecord, string, error) {
	r := &txRecord{id: n.get("id").str(), source: kind, customer: n.get("customer_id").str()}
	if r.id == "" {
		if s, ok, _ := n.get("id").text(); ok {
			r.id = s // a numeric id
		} else {
			return nil, "", errField("id", "is required")
		}
	}
	if n.get("deleted").truthy() {
		return nil, "deleted " + strings.ReplaceAll(kind, "_", " "), nil
	}
	status := n.get("status").str()
	if kind == "credit_note" {
		switch status {
		case "voided":
			return nil, "voided credit note", nil
		case "refunded", "adjusted", "refund_due":
		default:
			return nil, "", errField("status", "%q is not a credit note status (adjusted, refunded, refund_due, voided)", status)
		}
		r.refund = true
	} else {
		switch status {
		case "voided":
			return nil, "voided invoice", nil
		case "pending":
			return nil, "pending invoice", nil
		case "paid", "posted", "payment_due", "not_paid":
		default:
			return nil, "", errField("status", "%q is not an invoice status (paid, posted, payment_due, not_paid, voided, pending)", status)
		}
	}
	cur, err := currencyOf(n.get("currency_code").str())
	if err != nil {
		return nil, "", &fieldError{"currency_code", err}
	}
	r.cur = cur
	digits := ChargebeeDigits(cur)
	date, ok, err := unixTime("date", n.get("date"))
	if err != nil {
		return nil, "", err
	}
	if !ok {
		return nil, "", errField("date", "is required")
	}
	r.date = rfc3339(date)
	r.addr = chargebeeAddress(n.get("shipping_address"))
	if !r.addr.ok() {
		r.addr = chargebeeAddress(n.get("billing_address"))
	}
	info := &invoiceInfo{date: r.date, addr: r.addr, lines: map[string]lineInfo{}}
	var inv *invoiceInfo
	if kind == "credit_note" {
		if inv = c.invoices[n.get("reference_invoice_id").str()]; inv != nil {
			r.originalDate = inv.date
			if !r.addr.ok() {
				r.addr = inv.addr
			}
		}
	}
	inclusive := n.get("price_type").str() == "tax_inclusive"
	// Discounts allocated per line, when a line does not carry its own.
	allocated := map[string]decimal.Decimal{}
	for i, d := range n.get("line_item_discounts").list() {
		v, _, err := minorAt(fmt.Sprintf("line_item_discounts[%d].discount_amount", i), d.get("discount_amount"), digits)
		if err != nil {
			return nil, "", err
		}
		id := d.get("line_item_id").str()
		allocated[id] = allocated[id].Add(v)
	}
	var lines []txLine
	for i, l := range n.get("line_items").list() {
		field := fmt.Sprintf("line_items[%d]", i)
		amt, ok, err := minorAt(field+".amount", l.get("amount"), digits)
		if err != nil {
			return nil, "", err
		}
		if d := l.get("amount_in_decimal"); !d.null() {
			// Multi-decimal pricing: the exact amount in major units.
			s, _, err := d.text()
			if err == nil {
				amt, err = majorUnits(s, cur)
			}
			if err != nil {
				return nil, "", &fieldError{field + ".amount_in_decimal", err}
			}
			ok = true
		}
		if !ok {
			return nil, "", errField(field+".amount", "is required")
		}
		disc, hasDisc, err := minorAt(field+".discount_amount", l.get("discount_amount"), digits)
		if err != nil {
			return nil, "", err
		}
		if !hasDisc {
			disc = allocated[l.get("id").str()]
		}
		amt = amt.Sub(disc)
		entity := l.get("entity_id").str()
		qty := l.get("quantity_in_decimal")
		if qty.null() {
			qty = l.get("quantity")
		}
		ln := txLine{amount: amt, quantity: quantityText(qty), taxIncluded: inclusive,
			product: c.opts.Products.category(l.get("tax_code").str(), entity, l.get("item_price_id").str())}
		if id := l.get("id").str(); id != "" {
			info.lines[id] = lineInfo{product: ln.product, taxIncluded: ln.taxIncluded}
		}
		lines = append(lines, ln)
	}
	if kind == "invoice" {
		c.invoices[r.id] = info
	}
	if !r.addr.ok() {
		if kind == "credit_note" {
			return nil, "", errField("reference_invoice_id", "no address: the credit note carries none and its invoice %q is not in the input (%s)", n.get("reference_invoice_id").str(), c.beforeHint("credit note"))
		}
		return nil, "", errField("shipping_address", "no address: neither shipping_address nor billing_address has a country")
	}
	if len(lines) == 0 {
		sub, ok, err := minorAt("sub_total", n.get("sub_total"), digits)
		if err != nil {
			return nil, "", err
		}
		if !ok {
			if sub, _, err = minorAt("total", n.get("total"), digits); err != nil {
				return nil, "", err
			}
		}
		lines = []txLine{{amount: sub, quantity: "1", product: "default", taxIncluded: inclusive}}
	}
	lines, negative, err := netLines(lines)
	if err != nil {
		return nil, "", err
	}
	if negative {
		return nil, "", errField("line_items", "the document's lines are negative")
	}
	r.lines = lines
	r.taxCharged, r.hasCharged, err = chargebeeTax(n, digits)
	if err != nil {
		return nil, "", err
	}
	return r, "", nil
}

// chargebeeAddress reads a Chargebee address (country, state_code or
// state, city, zip).
func chargebeeAddress(n *node) address {
	a := address{country: n.get("country").str(), state: n.get("state_code").str(), city: n.get("city").str(), postal: n.get("zip").str()}
	if a.state == "" {
		a.state = n.get("state").str()
	}
	return a
}

// chargebeeTax is the tax a Chargebee document charged: tax (invoices),
// else the sum of taxes[].amount, else of line_item_taxes[].tax_amount
// (credit notes carry no top-level tax), else of line_items[].tax_amount.
func chargebeeTax(n *node, digits int32) (decimal.Decimal, bool, error) {
	if t, ok, err := minorAt("tax", n.get("tax"), digits); err != nil || ok {
		return t, ok, err
	}
	for _, src := range []struct{ list, field string }{{"taxes", "amount"}, {"line_item_taxes", "tax_amount"}, {"line_items", "tax_amount"}} {
		list := n.get(src.list).list()
		if len(list) == 0 {
			continue
		}
		sum := decimal.Zero
		for i, t := range list {
			v, _, err := minorAt(fmt.Sprintf("%s[%d].%s", src.list, i, src.field), t.get(src.field), digits)
			if err != nil {
				return sum, false, err
			}
			sum = sum.Add(v)
		}
		return sum, true, nil
	}
	if !n.get("taxes").null() || !n.get("line_item_taxes").null() {
		return decimal.Zero, true, nil // empty lists: no tax charged
	}
	return decimal.Zero, false, nil
}
