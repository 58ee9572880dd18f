// Package txn turns raw input records into validated transactions: typed
// fields, exact decimals, and errors that name the field at fault.
package txn

import (
	"time"

	"github.com/shopspring/decimal"

	"github.com/taxagg/taxagg/internal/money"
)

// Transaction is one validated input record (docs/input.md).
type Transaction struct {
	ID string
	// Day is the civil date of the sale in the run's time zone: it picks the
	// rates in force and the period.
	Day Date
	// RateDay is the date rates are taken at: OriginalDate for a refund that
	// gives one, else Day.
	RateDay Date
	// Time is the instant of the sale when date is an RFC 3339 timestamp,
	// the zero time for a plain YYYY-MM-DD. It plays no part in the tax
	// (nor in ContentHash); nexus uses it to order the sales of one day.
	Time     time.Time
	Refund   bool
	Currency money.Currency
	Customer string
	// ExemptReason, when set, makes the whole transaction exempt everywhere.
	ExemptReason string

	Country, State, County, City, PostalCode string
	// Jurisdictions, when non-nil, are explicit codes that replace address
	// matching. They are checked against the rules by the engine.
	Jurisdictions []string

	Lines []Line

	// TaxCharged is the tax the source says was charged (tax_charged),
	// when HasTaxCharged: calc and aggregate --charged compare it with the
	// tax owed. It plays no part in the tax computed.
	TaxCharged    decimal.Decimal
	HasTaxCharged bool

	// IDHash is HashID(ID) and ContentHash a hash of everything the tax
	// computation reads (canonical decimals, resolved defaults; not the
	// spelling of the record, nor unknown fields). Both are set by Parser and
	// feed Dedup (docs/accounting.md). They are seeded per process: compare them
	// within one run only.
	IDHash, ContentHash uint64

	// addrKey is the address key (address.go) that Country, State,
	// County, City and PostalCode are substrings of, when a Parser made
	// them; addrEnds where each ends in it, addrHash its AddressHash.
	addrKey  string
	addrEnds AddrEnds
	addrHash uint64

	// decs backs the decimals of Lines made by Parser, which allocates
	// none per record: they stay valid until the Transaction is parsed
	// into again (as Lines itself).
	decs money.DecimalSlab
}

// Reset empties tx for reuse and keeps its storage for the next parse into
// it: the arrays behind Lines and Jurisdictions (left empty, not nil) and
// the slab behind the lines' decimals.
func (tx *Transaction) Reset() {
	lines, juris, decs := tx.Lines[:0], tx.Jurisdictions[:0], tx.decs
	*tx = Transaction{Lines: lines, Jurisdictions: juris, decs: decs}
	tx.decs.Reset()
}

// Line is one line of a transaction. Amounts are as given (positive); a
// refund's lines count negative downstream.
type Line struct {
	Amount      decimal.Decimal
	Quantity    decimal.Decimal // 1 when not given; always > 0
	Product     string          // "default" when not given
	TaxIncluded bool

	// Fixed says that AmountFixed and QuantityFixed hold Amount and
	// Quantity exactly (same coefficient and exponent). Parser sets it
	// when both fit in 18 digits; the rules' fixed-point path then reads
	// them instead of converting the decimals.
	Fixed                      bool
	AmountFixed, QuantityFixed money.Fixed
}

// FieldError says which field of a record is bad and why. The stream layer
// adds the source and line.
type FieldError struct {
	Field string
	Err   error
}

func (e *FieldError) Error() string {
	if e.Field == "" {
		return e.Err.Error()
	}
	return e.Field + ": " + e.Err.Error()
}

func (e *FieldError) Unwrap() error { return e.Err }
