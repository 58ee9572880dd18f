package billing

import (
	"fmt"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/taxagg/taxagg/internal/money"
)

// Stripe documents as transactions.
//
//   - invoice: a sale, one line per line item. Drafts and voids are
//     skipped. The date is effective_at, else status_transitions.finalized_at,
//     else created.
//   - credit_note: a refund (voids skipped), original_date and address from
//     its invoice when that came earlier in the input.
//   - charge: a sale when it succeeded, was captured and pays no invoice
//     (the invoice is the sale); other charges are skipped.
//   - refund: a refund of its charge (address and original_date from the
//     charge when that came earlier in the input); pending, failed and
//     canceled refunds are skipped.
//   - event: its data.object is read.

func (c *TxConverter) stripeTx(n *node) (*txRecord, string, error) {
	prefix := ""
	if n.get("object").str() == "event" {
		obj := n.at("data", "object")
		if !obj.isObject() {
			return nil, "", errField("data.object", "is missing: an event without its object")
		}
		n, prefix = obj, "data.object."
	}
	r, skip, err := c.stripeObject(n)
	if err != nil && prefix != "" {
		if fe, ok := err.(*fieldError); ok {
			fe.field = prefix + fe.field
		}
	}
	return r, skip, err
}

func (c *TxConverter) stripeObject(n *node) (*txRecord, string, error) {
	object := n.get("object").str()
	switch object {
	case "invoice", "credit_note", "charge", "refund":
	case "":
		return nil, "", errField("object", "is missing; the stripe source reads invoice, credit_note, charge and refund objects (or events carrying them)")
	default:
		return nil, "", errField("object", "%q is not an invoice, credit_note, charge or refund", object)
	}
	r := &txRecord{id: n.get("id").str(), source: object}
	if r.id == "" {
		return nil, "", errField("id", "is required")
	}
	if n.get("deleted").truthy() {
		return nil, "deleted " + strings.ReplaceAll(object, "_", " "), nil
	}
	cur, err := currencyOf(n.get("currency").str())
	if err != nil {
		return nil, "", &fieldError{"currency", err}
	}
	r.cur = cur
	r.customer = n.get("customer").id()
	switch object {
	case "invoice":
		return c.stripeInvoice(n, r)
	case "credit_note":
		return c.stripeCreditNote(n, r)
	case "charge":
		return c.stripeCharge(n, r)
	}
	return c.stripeRefund(n, r)
}

// stripeMinor reads a Stripe amount in minor units of cur (StripeDigits).
// An ISK amount that is not a whole number of krónur (a legacy fractional
// amount, 4010 for ISK 40.10) is refused: ISK has no minor unit to hold it
// and taxagg does not round.
func stripeMinor(field string, n *node, cur money.Currency) (decimal.Decimal, bool, error) {
	d, ok, err := minorAt(field, n, StripeDigits(cur))
	if err != nil || !ok {
		return d, ok, err
	}
	if !d.Equal(d.Truncate(cur.Digits)) {
		s, _, _ := n.text()
		return d, false, errField(field, "%s is %s %s, a fraction of the smallest unit of %s (a legacy fractional amount); taxagg reads it exactly or not at all", s, cur.Code, d.String(), cur.Code)
	}
	return d, true, nil
}

func (c *TxConverter) stripeInvoice(n *node, r *txRecord) (*txRecord, string, error) {
	status := n.get("status").str()
	switch status {
	case "draft":
		return nil, "draft invoice", nil
	case "void":
		return nil, "void invoice", nil
	case "open", "paid", "uncollectible":
	default:
		return nil, "", errField("status", "%q is not an invoice status (draft, open, paid, void, uncollectible)", status)
	}
	date, err := stripeInvoiceDate(n)
	if err != nil {
		return nil, "", err
	}
	r.date = rfc3339(date)
	switch n.get("customer_tax_exempt").str() {
	case "exempt":
		r.exemptReason = "customer_tax_exempt"
	case "reverse":
		// Reverse charge: the buyer accounts for the tax, so the seller
		// owes none on this invoice (Stripe shows "Reverse charge" and
		// collects nothing). Counted as exempt with its own reason so the
		// summary tells the two apart.
		r.exemptReason = "reverse_charge"
	case "", "none":
	default:
		return nil, "", errField("customer_tax_exempt", "%q is not a tax exemption (none, exempt, reverse)", n.get("customer_tax_exempt").str())
	}
	addr, found := stripeInvoiceAddress(n)
	info := &invoiceInfo{date: r.date, addr: addr, lines: map[string]lineInfo{}}
	var lines []txLine
	for i, l := range n.get("lines").list() {
		field := fmt.Sprintf("lines.data[%d]", i)
		ln, err := c.stripeInvoiceLine(field, l, r.cur)
		if err != nil {
			return nil, "", err
		}
		if id := l.get("id").str(); id != "" {
			info.lines[id] = lineInfo{product: ln.product, taxIncluded: ln.taxIncluded}
		}
		lines = append(lines, ln)
	}
	if n.get("lines").get("has_more").truthy() {
		return nil, "", errField("lines.has_more", "is true: the invoice's lines are not all in the object (fetch them, or expand lines)")
	}
	c.invoices[r.id] = info
	if !found {
		return nil, "", errField("customer_shipping", "no address: the invoice has no customer shipping address, customer address or shipping details with a country")
	}
	r.addr = addr
	if ship, err := stripeShipping(n, r.cur); err != nil {
		return nil, "", err
	} else if ship != nil {
		lines = append(lines, *ship)
	}
	if len(lines) == 0 {
		// An invoice without line items: its subtotal as one line.
		sub, ok, err := stripeMinor("subtotal", n.get("subtotal"), r.cur)
		if err != nil {
			return nil, "", err
		}
		if !ok {
			if sub, _, err = stripeMinor("total", n.get("total"), r.cur); err != nil {
				return nil, "", err
			}
		}
		lines = []txLine{{amount: sub, quantity: "1", product: "default"}}
	}
	if r.lines, r.refund, err = netLines(lines); err != nil {
		return nil, "", err
	}
	if r.taxCharged, r.hasCharged, err = stripeTaxCharged(n, r.cur, "total_tax_amounts"); err != nil {
		return nil, "", err
	}
	return r, "", nil
}

// stripeShipping is the shipping charged on an invoice or credited on a
// credit note (shipping_cost.amount_subtotal, before tax), as a line of
// product category "shipping" (taxed as the rules' default category unless
// they name it); nil when there is none.
func stripeShipping(n *node, cur money.Currency) (*txLine, error) {
	amt, ok, err := stripeMinor("shipping_cost.amount_subtotal", n.at("shipping_cost", "amount_subtotal"), cur)
	if err != nil || !ok || amt.Sign() == 0 {
		return nil, err
	}
	return &txLine{amount: amt, quantity: "1", product: "shipping"}, nil
}

// stripeInvoiceDate is the invoice's tax point: effective_at (the date of
// issue, finalized_at unless overwritten), else finalized_at, else created.
func stripeInvoiceDate(n *node) (time.Time, error) {
	for _, f := range []struct {
		name string
		n    *node
	}{{"effective_at", n.get("effective_at")}, {"status_transitions.finalized_at", n.at("status_transitions", "finalized_at")}, {"created", n.get("created")}} {
		t, ok, err := unixTime(f.name, f.n)
		if err != nil {
			return t, err
		}
		if ok {
			return t, nil
		}
	}
	return time.Time{}, errField("created", "is required")
}

// stripeAddress reads a Stripe address object (country, state, city,
// postal_code); ok is false without a country.
func stripeAddress(n *node) (address, bool) {
	a := address{
		country: n.get("country").str(), state: n.get("state").str(),
		city: n.get("city").str(), postal: n.get("postal_code").str(),
	}
	return a, a.ok()
}

// stripeInvoiceAddress picks the ship-to address of an invoice: the
// customer's shipping address (customer_shipping, or shipping of an
// expanded customer), else the customer's address (customer_address, or
// address of an expanded customer), else the invoice's shipping_details.
func stripeInvoiceAddress(n *node) (address, bool) {
	for _, a := range []*node{
		n.at("customer_shipping", "address"), n.at("customer", "shipping", "address"),
		n.get("customer_address"), n.at("customer", "address"),
		n.at("shipping_details", "address"),
	} {
		if addr, ok := stripeAddress(a); ok {
			return addr, true
		}
	}
	return address{}, false
}

// stripeInvoiceLine reads one invoice line item: its amount less the
// discounts Stripe allocated to it (discount_amounts) and its pretax
// credits (pretax_credit_amounts of type credit_balance_transaction),
// negative for proration credits and credit lines.
func (c *TxConverter) stripeInvoiceLine(field string, l *node, cur money.Currency) (txLine, error) {
	amt, ok, err := stripeMinor(field+".amount", l.get("amount"), cur)
	if err != nil {
		return txLine{}, err
	}
	if !ok {
		return txLine{}, errField(field+".amount", "is required")
	}
	for j, d := range l.get("discount_amounts").list() {
		v, _, err := stripeMinor(fmt.Sprintf("%s.discount_amounts[%d].amount", field, j), d.get("amount"), cur)
		if err != nil {
			return txLine{}, err
		}
		amt = amt.Sub(v)
	}
	for j, p := range l.get("pretax_credit_amounts").list() {
		if p.get("type").str() != "credit_balance_transaction" {
			continue // discounts are in discount_amounts already
		}
		v, _, err := stripeMinor(fmt.Sprintf("%s.pretax_credit_amounts[%d].amount", field, j), p.get("amount"), cur)
		if err != nil {
			return txLine{}, err
		}
		amt = amt.Sub(v)
	}
	qty := l.get("quantity_decimal")
	if qty.null() {
		qty = l.get("quantity")
	}
	price := l.get("price")
	if price.null() {
		price = l.get("plan")
	}
	details := l.at("pricing", "price_details")
	product := price.get("product")
	if product.null() {
		product = details.get("product")
	}
	taxCode := product.get("tax_code").id()
	if taxCode == "" {
		taxCode = l.get("tax_code").id()
	}
	priceID := price.id()
	if priceID == "" {
		priceID = details.get("price").id()
	}
	return txLine{
		amount:      amt,
		quantity:    quantityText(qty),
		product:     c.opts.Products.category(taxCode, priceID, product.id()),
		taxIncluded: stripeInclusive(l, price),
	}, nil
}

// stripeInclusive reads a line's tax behaviour: the price's tax_behavior,
// or its taxes (taxes[].tax_behavior of current API versions, the
// inclusive flag of tax_amounts[] in older ones).
func stripeInclusive(l, price *node) bool {
	if price.get("tax_behavior").str() == "inclusive" {
		return true
	}
	for _, t := range l.get("taxes").list() {
		if t.get("tax_behavior").str() == "inclusive" {
			return true
		}
	}
	for _, t := range l.get("tax_amounts").list() {
		if t.get("inclusive").truthy() {
			return true
		}
	}
	return false
}

// stripeTaxCharged reads the tax a document charged: total -
// total_excluding_tax when both are given, else the sum of total_taxes[]
// (current API versions), else of the older list (total_tax_amounts[] on
// invoices, tax_amounts[] on credit notes), else tax.
func stripeTaxCharged(n *node, cur money.Currency, older string) (decimal.Decimal, bool, error) {
	total, hasTotal, err := stripeMinor("total", n.get("total"), cur)
	if err != nil {
		return total, false, err
	}
	excl, hasExcl, err := stripeMinor("total_excluding_tax", n.get("total_excluding_tax"), cur)
	if err != nil {
		return excl, false, err
	}
	if hasTotal && hasExcl {
		return total.Sub(excl), true, nil
	}
	for _, key := range []string{"total_taxes", older} {
		list := n.get(key)
		if list.null() {
			continue
		}
		sum := decimal.Zero
		for i, t := range list.list() {
			v, _, err := stripeMinor(fmt.Sprintf("%s[%d].amount", key, i), t.get("amount"), cur)
			if err != nil {
				return sum, false, err
			}
			sum = sum.Add(v)
		}
		return sum, true, nil
	}
	tax, ok, err := stripeMinor("tax", n.get("tax"), cur)
	return tax, ok, err
}

func (c *TxConverter) stripeCreditNote(n *node, r *txRecord) (*txRecord, string, error) {
	switch status := n.get("status").str(); status {
	case "void":
		return nil, "void credit note", nil
	case "issued":
	default:
		return nil, "", errField("status", "%q is not a credit note status (issued, void)", status)
	}
	r.refund = true
	date, ok, err := unixTime("effective_at", n.get("effective_at"))
	if err != nil {
		return nil, "", err
	}
	if !ok {
		if date, ok, err = unixTime("created", n.get("created")); err != nil {
			return nil, "", err
		} else if !ok {
			return nil, "", errField("created", "is required")
		}
	}
	r.date = rfc3339(date)
	invID := n.get("invoice").id()
	inv := c.invoices[invID]
	if inv != nil {
		r.originalDate, r.addr = inv.date, inv.addr
	}
	if !r.addr.ok() {
		if n.get("invoice").isObject() {
			r.addr, _ = stripeInvoiceAddress(n.get("invoice"))
		}
		if !r.addr.ok() {
			r.addr, _ = stripeAddress(n.at("customer", "shipping", "address"))
		}
		if !r.addr.ok() {
			r.addr, _ = stripeAddress(n.at("customer", "address"))
		}
	}
	if !r.addr.ok() {
		return nil, "", errField("invoice", "no address: the credit note's invoice %q is not in the input (%s) and no expanded customer carries one", invID, c.beforeHint("credit note"))
	}
	if n.get("lines").get("has_more").truthy() {
		return nil, "", errField("lines.has_more", "is true: the credit note's lines are not all in the object (fetch them, or expand lines)")
	}
	var lines []txLine
	for i, l := range n.get("lines").list() {
		field := fmt.Sprintf("lines.data[%d]", i)
		amt, ok, err := stripeMinor(field+".amount", l.get("amount"), r.cur)
		if err != nil {
			return nil, "", err
		}
		if !ok {
			return nil, "", errField(field+".amount", "is required")
		}
		if list := l.get("discount_amounts").list(); len(list) > 0 {
			for j, d := range list {
				v, _, err := stripeMinor(fmt.Sprintf("%s.discount_amounts[%d].amount", field, j), d.get("amount"), r.cur)
				if err != nil {
					return nil, "", err
				}
				amt = amt.Sub(v)
			}
		} else if v, _, err := stripeMinor(field+".discount_amount", l.get("discount_amount"), r.cur); err != nil {
			return nil, "", err
		} else {
			amt = amt.Sub(v)
		}
		ln := txLine{amount: amt, quantity: quantityText(l.get("quantity")), product: "default", taxIncluded: stripeInclusive(l, nil)}
		if inv != nil {
			if li, ok := inv.lines[l.get("invoice_line_item").id()]; ok {
				ln.product, ln.taxIncluded = li.product, li.taxIncluded
			}
		}
		lines = append(lines, ln)
	}
	if ship, err := stripeShipping(n, r.cur); err != nil {
		return nil, "", err
	} else if ship != nil {
		lines = append(lines, *ship)
	}
	if len(lines) == 0 {
		sub, _, err := stripeMinor("subtotal", n.get("subtotal"), r.cur)
		if err != nil {
			return nil, "", err
		}
		lines = []txLine{{amount: sub, quantity: "1", product: "default"}}
	}
	lines, negative, err := netLines(lines)
	if err != nil {
		return nil, "", err
	}
	if negative {
		return nil, "", errField("lines", "the credit note's lines are negative")
	}
	r.lines = lines
	if r.taxCharged, r.hasCharged, err = stripeTaxCharged(n, r.cur, "tax_amounts"); err != nil {
		return nil, "", err
	}
	return r, "", nil
}

func (c *TxConverter) stripeCharge(n *node, r *txRecord) (*txRecord, string, error) {
	status := n.get("status").str()
	switch status {
	case "succeeded":
	case "pending":
		return nil, "pending charge", nil
	case "failed":
		return nil, "failed charge", nil
	default:
		return nil, "", errField("status", "%q is not a charge status (succeeded, pending, failed)", status)
	}
	if c := n.get("captured"); c != nil && !c.truthy() {
		return nil, "uncaptured charge", nil
	}
	addr, ok := stripeAddress(n.at("shipping", "address"))
	if !ok {
		addr, ok = stripeAddress(n.at("billing_details", "address"))
	}
	date, hasDate, err := unixTime("created", n.get("created"))
	if err != nil {
		return nil, "", err
	}
	if !hasDate {
		return nil, "", errField("created", "is required")
	}
	r.date = rfc3339(date)
	if ok {
		c.invoices[r.id] = &invoiceInfo{date: r.date, addr: addr}
	}
	if !n.get("invoice").null() {
		return nil, "charge of an invoice", nil
	}
	amtNode := n.get("amount_captured")
	if amtNode.null() {
		amtNode = n.get("amount")
	}
	amt, has, err := stripeMinor("amount", amtNode, r.cur)
	if err != nil {
		return nil, "", err
	}
	if !has {
		return nil, "", errField("amount", "is required")
	}
	if !ok {
		return nil, "", errField("shipping", "no address: the charge has no shipping or billing_details address with a country")
	}
	r.addr = addr
	r.lines = []txLine{{amount: amt, quantity: "1", product: "default"}}
	return r, "", nil
}

func (c *TxConverter) stripeRefund(n *node, r *txRecord) (*txRecord, string, error) {
	switch status := n.get("status").str(); status {
	case "succeeded":
	case "pending", "requires_action":
		return nil, "pending refund", nil
	case "failed":
		return nil, "failed refund", nil
	case "canceled":
		return nil, "canceled refund", nil
	default:
		return nil, "", errField("status", "%q is not a refund status (succeeded, pending, requires_action, failed, canceled)", status)
	}
	r.refund = true
	date, ok, err := unixTime("created", n.get("created"))
	if err != nil {
		return nil, "", err
	}
	if !ok {
		return nil, "", errField("created", "is required")
	}
	r.date = rfc3339(date)
	amt, ok, err := stripeMinor("amount", n.get("amount"), r.cur)
	if err != nil {
		return nil, "", err
	}
	if !ok {
		return nil, "", errField("amount", "is required")
	}
	chargeID := n.get("charge").id()
	if ch := c.invoices[chargeID]; ch != nil {
		r.addr, r.originalDate = ch.addr, ch.date
	}
	if !r.addr.ok() && n.get("charge").isObject() {
		ch := n.get("charge")
		if r.addr, ok = stripeAddress(ch.at("shipping", "address")); !ok {
			r.addr, _ = stripeAddress(ch.at("billing_details", "address"))
		}
	}
	if !r.addr.ok() {
		return nil, "", errField("charge", "no address: the refund's charge %q is not in the input with a shipping or billing address (%s)", chargeID, c.beforeHint("refund"))
	}
	r.lines = []txLine{{amount: amt, quantity: "1", product: "default"}}
	return r, "", nil
}
