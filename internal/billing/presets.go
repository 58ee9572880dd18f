package billing

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/taxagg/taxagg/internal/jsonscan"
	"github.com/taxagg/taxagg/internal/money"
)

// Presets: how a source's records are read.
const (
	PresetAuto      = "auto"
	PresetCanonical = "canonical"
	PresetStripe    = "stripe"
	PresetChargebee = "chargebee"
)

// object holds the fields of every JSON shape the presets know, decoded
// once; the preset then picks what it needs.
type object struct {
	ID     string `json:"id"`
	Object string `json:"object"`

	// canonical
	IDA      string          `json:"id_a"`
	IDB      string          `json:"id_b"`
	Key      string          `json:"key"`
	Kind     string          `json:"kind"`
	Date     json.RawMessage `json:"date"`
	Updated  string          `json:"updated"`
	Customer json.RawMessage `json:"customer"`
	Currency string          `json:"currency"`
	Amount   json.RawMessage `json:"amount"`
	Tax      json.RawMessage `json:"tax"`
	State    string          `json:"state"`

	// Stripe
	Status            string          `json:"status"`
	Created           json.RawMessage `json:"created"`
	Total             json.RawMessage `json:"total"`
	TotalExcludingTax json.RawMessage `json:"total_excluding_tax"`
	TotalTaxes        []struct {
		Amount json.RawMessage `json:"amount"`
	} `json:"total_taxes"`
	AmountRefunded json.RawMessage `json:"amount_refunded"`
	Refunded       bool            `json:"refunded"`
	// Captured is nil when absent, else whether the charge was captured.
	Captured       *bool           `json:"captured"`
	AmountCaptured json.RawMessage `json:"amount_captured"`
	// Older Stripe API versions: credit_note.tax_amounts and
	// invoice.total_tax_amounts; Chargebee: taxes and line_item_taxes.
	TaxAmounts        []json.RawMessage `json:"tax_amounts"`
	HasTaxAmounts     bool              `json:"-"`
	StatusTransitions *struct {
		FinalizedAt           json.RawMessage `json:"finalized_at"`
		PaidAt                json.RawMessage `json:"paid_at"`
		VoidedAt              json.RawMessage `json:"voided_at"`
		MarkedUncollectibleAt json.RawMessage `json:"marked_uncollectible_at"`
	} `json:"status_transitions"`

	// Chargebee
	CurrencyCode       string          `json:"currency_code"`
	CustomerID         string          `json:"customer_id"`
	UpdatedAt          json.RawMessage `json:"updated_at"`
	Invoice            json.RawMessage `json:"invoice"`
	CreditNote         json.RawMessage `json:"credit_note"`
	ReferenceInvoiceID string          `json:"reference_invoice_id"`
}

// decoder decodes JSON objects into the union of fields the presets know.
// It is not safe for concurrent use.
type decoder struct {
	sc    jsonscan.Scanner
	inner []jsonscan.Field
	elems [][]byte
}

func (d *decoder) decodeObject(b []byte, o *object) error {
	fields, err := d.sc.Object(b)
	if err != nil {
		return err
	}
	// A key written twice is refused, as in transaction input: reading
	// the last one would silently pick one of two ids or amounts.
	if err := checkDuplicateKeys(b); err != nil {
		return err
	}
	return d.fields(fields, o, true)
}

// str reads a string member (null is empty); another kind is an error.
func str(f *jsonscan.Field) (string, error) {
	switch f.Kind {
	case jsonscan.String:
		return unquote(f.Value), nil
	case jsonscan.Null:
		return "", nil
	}
	return "", errField(string(f.Key), "is a JSON %s, want a string", f.Kind)
}

// unquote returns the contents of a valid JSON string token.
func unquote(raw []byte) string {
	body := raw[1 : len(raw)-1]
	if bytes.IndexByte(body, '\\') < 0 {
		return string(body)
	}
	return string(jsonscan.AppendUnquoted(nil, raw))
}

func (d *decoder) fields(fields []jsonscan.Field, o *object, top bool) error {
	var err error
	for i := range fields {
		f := &fields[i]
		switch string(f.Key) {
		case "id":
			o.ID, err = str(f)
		case "object":
			o.Object, err = str(f)
		case "id_a":
			o.IDA, err = str(f)
		case "id_b":
			o.IDB, err = str(f)
		case "key":
			o.Key, err = str(f)
		case "kind":
			o.Kind, err = str(f)
		case "date":
			o.Date = f.Value
		case "updated":
			o.Updated, err = str(f)
		case "customer":
			o.Customer = f.Value
		case "currency":
			o.Currency, err = str(f)
		case "amount":
			o.Amount = f.Value
		case "tax":
			o.Tax = f.Value
		case "state":
			o.State, err = str(f)
		case "status":
			o.Status, err = str(f)
		case "created":
			o.Created = f.Value
		case "total":
			o.Total = f.Value
		case "total_excluding_tax":
			o.TotalExcludingTax = f.Value
		case "total_taxes":
			err = d.totalTaxes(f, o)
		case "amount_refunded":
			o.AmountRefunded = f.Value
		case "refunded":
			o.Refunded = f.Kind == jsonscan.True
		case "captured":
			c := f.Kind == jsonscan.True
			o.Captured = &c
		case "amount_captured":
			o.AmountCaptured = f.Value
		case "tax_amounts", "total_tax_amounts", "taxes", "line_item_taxes":
			err = d.taxList(f, o)
		case "status_transitions":
			err = d.transitions(f, o)
		case "currency_code":
			o.CurrencyCode, err = str(f)
		case "customer_id":
			o.CustomerID, err = str(f)
		case "updated_at":
			o.UpdatedAt = f.Value
		case "invoice":
			o.Invoice = f.Value
		case "credit_note":
			o.CreditNote = f.Value
		case "reference_invoice_id":
			o.ReferenceInvoiceID, err = str(f)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (d *decoder) totalTaxes(f *jsonscan.Field, o *object) error {
	switch f.Kind {
	case jsonscan.Null:
		return nil
	case jsonscan.Array:
	default:
		return errField("total_taxes", "is a JSON %s, want an array", f.Kind)
	}
	elems, err := d.sc.Elements(f.Value, d.elems[:0])
	d.elems = elems[:0]
	if err != nil {
		return &fieldError{"total_taxes", err}
	}
	o.TotalTaxes = make([]struct {
		Amount json.RawMessage `json:"amount"`
	}, len(elems))
	for i, e := range elems {
		if jsonscan.KindOf(e) != jsonscan.Object {
			return errField(fmt.Sprintf("total_taxes[%d]", i), "is not an object")
		}
		members, err := d.sc.Members(e, d.inner[:0])
		d.inner = members[:0]
		if err != nil {
			return &fieldError{"total_taxes", err}
		}
		for _, m := range members {
			if string(m.Key) == "amount" {
				o.TotalTaxes[i].Amount = m.Value
			}
		}
	}
	return nil
}

// taxList collects the amounts of a list of taxes: amount (Stripe's
// tax_amounts[] and total_tax_amounts[], Chargebee's taxes[]) or
// tax_amount (Chargebee's line_item_taxes[]). Of several such lists on one
// object the first non-empty one is kept.
func (d *decoder) taxList(f *jsonscan.Field, o *object) error {
	key := string(f.Key)
	switch f.Kind {
	case jsonscan.Null:
		return nil
	case jsonscan.Array:
	default:
		return errField(key, "is a JSON %s, want an array", f.Kind)
	}
	elems, err := d.sc.Elements(f.Value, nil)
	if err != nil {
		return &fieldError{key, err}
	}
	if o.HasTaxAmounts && len(o.TaxAmounts) > 0 {
		return nil
	}
	o.HasTaxAmounts = true
	o.TaxAmounts = o.TaxAmounts[:0]
	for i, e := range elems {
		if jsonscan.KindOf(e) != jsonscan.Object {
			return errField(fmt.Sprintf("%s[%d]", key, i), "is not an object")
		}
		members, err := d.sc.Members(e, d.inner[:0])
		d.inner = members[:0]
		if err != nil {
			return &fieldError{key, err}
		}
		var amt json.RawMessage
		for _, m := range members {
			if string(m.Key) == "amount" || string(m.Key) == "tax_amount" {
				amt = m.Value
			}
		}
		o.TaxAmounts = append(o.TaxAmounts, amt)
	}
	return nil
}

func (d *decoder) transitions(f *jsonscan.Field, o *object) error {
	switch f.Kind {
	case jsonscan.Null:
		return nil
	case jsonscan.Object:
	default:
		return errField("status_transitions", "is a JSON %s, want an object", f.Kind)
	}
	members, err := d.sc.Members(f.Value, d.inner[:0])
	d.inner = members[:0]
	if err != nil {
		return &fieldError{"status_transitions", err}
	}
	st := &o.StatusTransitions
	*st = new(struct {
		FinalizedAt           json.RawMessage `json:"finalized_at"`
		PaidAt                json.RawMessage `json:"paid_at"`
		VoidedAt              json.RawMessage `json:"voided_at"`
		MarkedUncollectibleAt json.RawMessage `json:"marked_uncollectible_at"`
	})
	for _, m := range members {
		switch string(m.Key) {
		case "finalized_at":
			(*st).FinalizedAt = m.Value
		case "paid_at":
			(*st).PaidAt = m.Value
		case "voided_at":
			(*st).VoidedAt = m.Value
		case "marked_uncollectible_at":
			(*st).MarkedUncollectibleAt = m.Value
		}
	}
	return nil
}

// stripeKinds are the Stripe objects the preset reads.
func isStripeObject(s string) bool {
	switch s {
	case "charge", "invoice", "refund", "credit_note":
		return true
	}
	return false
}

// chargebeeInner returns the wrapped object of a Chargebee list entry
// ({"invoice": {...}} or {"credit_note": {...}}) and its kind.
func chargebeeInner(o *object) (json.RawMessage, string) {
	if len(o.Invoice) > 0 && o.Invoice[0] == '{' {
		return o.Invoice, "invoice"
	}
	if len(o.CreditNote) > 0 && o.CreditNote[0] == '{' {
		return o.CreditNote, "credit_note"
	}
	return nil, ""
}

// classify picks the preset of one JSON object for --from auto.
// Chargebee objects carry currency_code (Stripe's never do) and may also
// say "object": "invoice", so they are recognised first.
func classify(o *object) string {
	if o.CurrencyCode != "" {
		return PresetChargebee
	}
	if inner, _ := chargebeeInner(o); inner != nil {
		return PresetChargebee
	}
	switch {
	case isStripeObject(o.Object):
		return PresetStripe
	case o.Object != "":
		return ""
	}
	return PresetCanonical
}

// FromStripe turns one Stripe charge, invoice, refund or credit-note object
// into a canonical record. Amounts are minor units, converted with the
// currency's exponent as Stripe defines it (see StripeDigits).
func FromStripe(obj []byte) (Record, error) {
	var o object
	var d decoder
	if err := d.decodeObject(obj, &o); err != nil {
		return Record{}, err
	}
	return stripeRecord(&o)
}

// FromChargebee turns one Chargebee invoice or credit note, bare or wrapped
// as in list responses ({"invoice": {...}}), into a canonical record.
func FromChargebee(obj []byte) (Record, error) {
	var o object
	var d decoder
	if err := d.decodeObject(obj, &o); err != nil {
		return Record{}, err
	}
	return d.chargebeeRecord(&o)
}

// StripeDigits returns the exponent Stripe uses for amounts of a currency:
// the ISO 4217 minor unit, except where Stripe's API differs from it —
// MGA is zero-decimal in Stripe (ISO: 2), and ISK is sent as a two-decimal
// amount for backwards compatibility (ISO: 0).
func StripeDigits(c money.Currency) int32 {
	switch c.Code {
	case "MGA":
		return 0
	case "ISK":
		return 2
	}
	return c.Digits
}

func stripeRecord(o *object) (Record, error) {
	if !isStripeObject(o.Object) {
		if o.Object == "" {
			return Record{}, errField("object", "is missing; the stripe preset reads charge, invoice, refund and credit_note objects")
		}
		return Record{}, errField("object", "%q is not a charge, invoice, refund or credit_note", o.Object)
	}
	r := Record{ID: o.ID, Kind: o.Object}
	if r.ID == "" {
		return r, errField("id", "is required")
	}
	cur, err := currencyOf(o.Currency)
	if err != nil {
		return r, &fieldError{"currency", err}
	}
	r.Currency = cur.Code
	digits := StripeDigits(cur)
	minor := func(field string, raw json.RawMessage) (decimal.Decimal, bool, error) {
		s, ok, err := rawText(raw)
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
		if !d.Equal(d.Truncate(cur.Digits)) {
			return d, false, errField(field, "%s is %s %s, a fraction of the smallest unit of %s (a legacy fractional amount); taxagg reads it exactly or not at all", s, cur.Code, d.String(), cur.Code)
		}
		return d, true, nil
	}
	if r.Date, err = unixField("created", o.Created, true); err != nil {
		return r, err
	}
	if r.Customer, err = stripeCustomer(o.Customer); err != nil {
		return r, err
	}
	switch o.Object {
	case "charge", "refund":
		amt, ok, err := minor("amount", o.Amount)
		if err != nil {
			return r, err
		}
		if !ok {
			return r, errField("amount", "is required")
		}
		r.Amount = amt
		if o.Object == "charge" {
			refunded, _, rerr := minor("amount_refunded", o.AmountRefunded)
			if rerr != nil {
				return r, rerr
			}
			// An uncaptured charge (captured false, amount_captured 0) is
			// an authorization, not a payment.
			uncaptured := o.Captured != nil && !*o.Captured
			r.State, err = stripeChargeState(o.Status, o.Refunded || (amt.Sign() > 0 && refunded.Equal(amt)), uncaptured)
		} else {
			r.State, err = stripeRefundState(o.Status)
		}
		if err != nil {
			return r, err
		}
	case "invoice", "credit_note":
		total, ok, err := minor("total", o.Total)
		if err != nil {
			return r, err
		}
		if !ok {
			if total, ok, err = minor("amount", o.Amount); err != nil {
				return r, err
			} else if !ok {
				return r, errField("total", "is required")
			}
		}
		r.Amount = total
		excl, hasExcl, err := minor("total_excluding_tax", o.TotalExcludingTax)
		if err != nil {
			return r, err
		}
		switch {
		case hasExcl:
			r.Tax = total.Sub(excl)
		case o.HasTaxAmounts && len(o.TaxAmounts) > 0 && o.TotalTaxes == nil:
			// API versions before 2025-03-31: credit_note.tax_amounts[],
			// invoice.total_tax_amounts[] (total_excluding_tax null or absent).
			for i, t := range o.TaxAmounts {
				d, _, err := minor(fmt.Sprintf("tax_amounts[%d].amount", i), t)
				if err != nil {
					return r, err
				}
				r.Tax = r.Tax.Add(d)
			}
		case o.TotalTaxes != nil:
			for i, t := range o.TotalTaxes {
				d, _, err := minor(fmt.Sprintf("total_taxes[%d].amount", i), t.Amount)
				if err != nil {
					return r, err
				}
				r.Tax = r.Tax.Add(d)
			}
		default:
			if r.Tax, _, err = minor("tax", o.Tax); err != nil {
				return r, err
			}
		}
		if o.Object == "invoice" {
			r.State, err = stripeInvoiceState(o.Status)
		} else {
			r.State, err = stripeCreditNoteState(o.Status)
		}
		if err != nil {
			return r, err
		}
		if st := o.StatusTransitions; st != nil {
			for _, f := range []struct {
				name string
				raw  json.RawMessage
			}{{"status_transitions.finalized_at", st.FinalizedAt}, {"status_transitions.paid_at", st.PaidAt},
				{"status_transitions.voided_at", st.VoidedAt}, {"status_transitions.marked_uncollectible_at", st.MarkedUncollectibleAt}} {
				t, err := unixField(f.name, f.raw, false)
				if err != nil {
					return r, err
				}
				if t.After(r.Updated) {
					r.Updated = t
				}
			}
		}
	}
	return r, nil
}

// stripeCustomer reads "customer": an id, or an expanded customer object.
func stripeCustomer(raw json.RawMessage) (string, error) {
	if len(raw) > 0 && raw[0] == '{' {
		var c struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			return "", &fieldError{"customer", err}
		}
		return c.ID, nil
	}
	s, _, err := rawText(raw)
	if err != nil {
		return "", &fieldError{"customer", err}
	}
	return s, nil
}

func unixField(field string, raw json.RawMessage, required bool) (time.Time, error) {
	s, ok, err := rawText(raw)
	if err != nil {
		return time.Time{}, &fieldError{field, err}
	}
	if !ok {
		if required {
			return time.Time{}, errField(field, "is required")
		}
		return time.Time{}, nil
	}
	t, err := parseUnix(s)
	if err != nil {
		return t, &fieldError{field, err}
	}
	return t, nil
}

// Stripe statuses onto canonical states (docs/reconcile.md documents these).
func stripeChargeState(status string, refunded, uncaptured bool) (string, error) {
	switch status {
	case "succeeded":
		if refunded {
			return StateRefunded, nil
		}
		if uncaptured {
			return StateOpen, nil
		}
		return StatePaid, nil
	case "pending":
		return StateOpen, nil
	case "failed":
		return StateVoid, nil
	}
	return "", errField("status", "%q is not a charge status (succeeded, pending, failed)", status)
}

func stripeRefundState(status string) (string, error) {
	switch status {
	case "succeeded":
		return StateRefunded, nil
	case "pending", "requires_action":
		return StateOpen, nil
	case "failed", "canceled":
		return StateVoid, nil
	}
	return "", errField("status", "%q is not a refund status (succeeded, pending, requires_action, failed, canceled)", status)
}

func stripeInvoiceState(status string) (string, error) {
	switch status {
	case "draft", "open", "paid", "void", "uncollectible":
		return status, nil
	}
	return "", errField("status", "%q is not an invoice status (draft, open, paid, void, uncollectible)", status)
}

func stripeCreditNoteState(status string) (string, error) {
	switch status {
	case "issued":
		return StateRefunded, nil
	case "void":
		return StateVoid, nil
	}
	return "", errField("status", "%q is not a credit note status (issued, void)", status)
}

func (d *decoder) chargebeeRecord(o *object) (Record, error) {
	kind := "invoice"
	if inner, k := chargebeeInner(o); inner != nil {
		var in object
		members, err := d.sc.Members(inner, d.inner[:0])
		d.inner = members[:0]
		if err == nil {
			err = d.fields(members, &in, false)
		}
		if err != nil {
			var fe *fieldError
			if errors.As(err, &fe) {
				fe.field = k + "." + fe.field
			}
			return Record{}, err
		}
		r, err := chargebeeFields(&in, k)
		var fe *fieldError
		if errors.As(err, &fe) {
			fe.field = k + "." + fe.field
		}
		return r, err
	}
	if o.Object == "credit_note" || o.ReferenceInvoiceID != "" {
		kind = "credit_note" // a bare credit note
	}
	return chargebeeFields(o, kind)
}

func chargebeeFields(o *object, kind string) (Record, error) {
	r := Record{ID: o.ID, Kind: kind, Customer: o.CustomerID}
	if r.ID == "" {
		return r, errField("id", "is required")
	}
	cur, err := currencyOf(o.CurrencyCode)
	if err != nil {
		return r, &fieldError{"currency_code", err}
	}
	r.Currency = cur.Code
	minor := func(field string, raw json.RawMessage, required bool) (decimal.Decimal, error) {
		s, ok, err := rawText(raw)
		if err != nil {
			return decimal.Decimal{}, &fieldError{field, err}
		}
		if !ok {
			if required {
				return decimal.Decimal{}, errField(field, "is required")
			}
			return decimal.Decimal{}, nil
		}
		d, err := minorUnits(s, ChargebeeDigits(cur))
		if err != nil {
			return d, &fieldError{field, err}
		}
		return d, nil
	}
	if r.Amount, err = minor("total", o.Total, true); err != nil {
		return r, err
	}
	if len(o.Tax) > 0 && string(o.Tax) != "null" {
		if r.Tax, err = minor("tax", o.Tax, false); err != nil {
			return r, err
		}
	} else {
		// Credit notes carry no top-level tax: it is in taxes[] (or
		// line_item_taxes[]).
		for i, t := range o.TaxAmounts {
			d, err := minor(fmt.Sprintf("taxes[%d].amount", i), t, false)
			if err != nil {
				return r, err
			}
			r.Tax = r.Tax.Add(d)
		}
	}
	if r.Date, err = unixField("date", o.Date, true); err != nil {
		return r, err
	}
	if r.Updated, err = unixField("updated_at", o.UpdatedAt, false); err != nil {
		return r, err
	}
	if kind == "credit_note" {
		r.State, err = chargebeeCreditNoteState(o.Status)
	} else {
		r.State, err = chargebeeInvoiceState(o.Status)
	}
	return r, err
}

func chargebeeInvoiceState(status string) (string, error) {
	switch status {
	case "paid":
		return StatePaid, nil
	case "posted", "payment_due", "not_paid":
		return StateOpen, nil
	case "voided":
		return StateVoid, nil
	case "pending":
		return StateDraft, nil
	}
	return "", errField("status", "%q is not an invoice status (paid, posted, payment_due, not_paid, voided, pending)", status)
}

func chargebeeCreditNoteState(status string) (string, error) {
	switch status {
	case "refunded", "adjusted":
		return StateRefunded, nil
	case "refund_due":
		return StateOpen, nil
	case "voided":
		return StateVoid, nil
	}
	return "", errField("status", "%q is not a credit note status (adjusted, refunded, refund_due, voided)", status)
}

// canonicalRecord reads taxagg's own canonical form (what `fetch` writes,
// and the ledger itself): id (or id_a, id_b, key), date, updated, customer,
// currency, amount and tax in major units, state.
func canonicalRecord(o *object) (Record, error) {
	r := Record{ID: o.ID, Kind: o.Kind, State: o.State}
	for _, alt := range []string{o.IDA, o.IDB, o.Key} {
		if r.ID == "" {
			r.ID = alt
		}
	}
	if r.ID == "" {
		return r, errField("id", "is required")
	}
	var err error
	if r.Customer, err = stripeCustomer(o.Customer); err != nil {
		return r, err
	}
	date, ok, err := rawText(o.Date)
	if err != nil {
		return r, &fieldError{"date", err}
	}
	if !ok {
		date = ""
	}
	return r, canonicalValues(&r, date, o.Updated, o.Currency, rawOrEmpty(o.Amount), rawOrEmpty(o.Tax))
}

func rawOrEmpty(raw json.RawMessage) func() (string, bool, error) {
	return func() (string, bool, error) { return rawText(raw) }
}

// canonicalValues fills the typed fields of a canonical record from text.
func canonicalValues(r *Record, date, updated, currency string, amount, tax func() (string, bool, error)) error {
	var err error
	if date == "" {
		return errField("date", "is required")
	}
	if r.Date, err = parseTime(date); err != nil {
		return &fieldError{"date", err}
	}
	if updated != "" {
		if r.Updated, err = parseTime(updated); err != nil {
			return &fieldError{"updated", err}
		}
	}
	cur, err := currencyOf(strings.TrimSpace(currency))
	if err != nil {
		return &fieldError{"currency", err}
	}
	r.Currency = cur.Code
	s, ok, err := amount()
	if err == nil && !ok {
		err = errMissing
	}
	if err == nil {
		r.Amount, err = majorUnits(s, cur)
	}
	if err != nil {
		return &fieldError{"amount", err}
	}
	s, ok, err = tax()
	if err == nil && ok && s != "" {
		r.Tax, err = majorUnits(s, cur)
	}
	if err != nil {
		return &fieldError{"tax", err}
	}
	if r.State != "" && !IsState(r.State) {
		return errField("state", "%q is not a state (draft, open, paid, void, uncollectible, refunded)", r.State)
	}
	return nil
}
