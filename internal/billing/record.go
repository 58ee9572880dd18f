// Package billing turns billing-system exports into canonical records: the
// Stripe and Chargebee presets, user mapping files, and taxagg's own
// canonical NDJSON/JSON/CSV. It knows nothing about matching; `reconcile`
// and `fetch` both build on it.
//
// Amounts are exact decimals in major units. Minor-unit sources are
// converted with the exponent of each record's own currency (JPY 0, USD 2,
// BHD 3), never by a fixed 100.
package billing

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/taxagg/taxagg/internal/money"
)

// The canonical states of a billing document (docs/reconcile.md).
const (
	StateDraft         = "draft"
	StateOpen          = "open"
	StatePaid          = "paid"
	StateVoid          = "void"
	StateUncollectible = "uncollectible"
	StateRefunded      = "refunded"
)

// IsState reports whether s is one of the canonical states.
func IsState(s string) bool {
	switch s {
	case StateDraft, StateOpen, StatePaid, StateVoid, StateUncollectible, StateRefunded:
		return true
	}
	return false
}

// Record is one canonical billing record.
type Record struct {
	// ID is the source system's identifier of the document.
	ID string
	// Kind is the source object type when known: charge, invoice, refund,
	// credit_note; empty for canonical input.
	Kind string
	// Date is when the document was created, in UTC.
	Date time.Time
	// Updated is when the document last changed, in UTC; zero when the
	// source does not say.
	Updated  time.Time
	Customer string
	// Currency is the upper-case ISO 4217 code.
	Currency string
	// Amount and Tax are in major units of Currency, exact, as the source
	// gives them (refunds and credit notes are positive).
	Amount decimal.Decimal
	Tax    decimal.Decimal
	// State is one of the canonical states, or empty when the source has none.
	State string

	// Fixed says that the amounts are in AmountFixed and TaxFixed, Amount
	// and Tax being left zero: only when ReaderOptions.Fixed asked for it,
	// and only for the canonical records the reader's fast path reads.
	Fixed                 bool
	AmountFixed, TaxFixed money.Fixed

	// Extra holds the values of the source paths asked for in
	// ReaderOptions.Extract, in the same order ("" when absent).
	Extra []string

	// Source and Line locate the record in its input (1-based line).
	Source string
	Line   int
}

// Digits returns the minor-unit digits of the record's currency (2 when the
// currency is unknown, which a Reader never yields).
func (r *Record) Digits() int32 {
	if c, ok := money.LookupCurrency(r.Currency); ok {
		return c.Digits
	}
	return 2
}

// FormatAmount prints d with the minor-unit digits of the record's currency.
func (r *Record) FormatAmount(d decimal.Decimal) string {
	return d.StringFixed(r.Digits())
}

// Pos is "source:line".
func (r *Record) Pos() string { return fmt.Sprintf("%s:%d", r.Source, r.Line) }

// FormatTime prints a record time as RFC 3339 in UTC ("" for the zero time).
func FormatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// canonicalJSON is the canonical form of a record, as `fetch` writes it and
// the canonical reader reads it.
type canonicalJSON struct {
	ID       string `json:"id"`
	Kind     string `json:"kind,omitempty"`
	Date     string `json:"date"`
	Updated  string `json:"updated,omitempty"`
	Customer string `json:"customer,omitempty"`
	Currency string `json:"currency"`
	Amount   string `json:"amount"`
	Tax      string `json:"tax"`
	State    string `json:"state,omitempty"`
}

// MarshalJSON writes the canonical form: id, kind, date, updated, customer,
// currency, amount and tax (strings with the currency's minor unit), state.
// The canonical reader reads it back unchanged.
func (r Record) MarshalJSON() ([]byte, error) {
	return json.Marshal(canonicalJSON{
		ID: r.ID, Kind: r.Kind, Date: FormatTime(r.Date), Updated: FormatTime(r.Updated),
		Customer: r.Customer, Currency: r.Currency,
		Amount: r.FormatAmount(r.Amount), Tax: r.FormatAmount(r.Tax), State: r.State,
	})
}

// InputError is a bad record: where it is, which field, and why. It prints
// as "source:line: field: reason".
type InputError struct {
	Source string
	Line   int
	Field  string
	Err    error
}

func (e *InputError) Error() string {
	var b strings.Builder
	b.WriteString(e.Source)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Err.Error())
	return b.String()
}

func (e *InputError) Unwrap() error { return e.Err }

// fieldError is an error about one field, before the position is known.
type fieldError struct {
	field string
	err   error
}

func (e *fieldError) Error() string { return e.field + ": " + e.err.Error() }
func (e *fieldError) Unwrap() error { return e.err }

func errField(field, format string, args ...any) error {
	return &fieldError{field: field, err: fmt.Errorf(format, args...)}
}
