// Package rules compiles tax rule files (YAML) into an immutable Program and
// evaluates transactions against it.
//
// Compilation and evaluation are separate phases, as in cel-go: Compile
// parses and checks every file, reports every issue at once as
// FILE:LINE:COL: message, and builds the indexes; the resulting Program is
// never modified afterwards, so one Program serves any number of goroutines,
// each with its own Evaluator.
package rules

import (
	"github.com/shopspring/decimal"

	"github.com/taxagg/taxagg/internal/money"
	"github.com/taxagg/taxagg/internal/txn"
)

// Level is a jurisdiction's level of government.
type Level uint8

const (
	LevelCountry Level = iota
	LevelState
	LevelCounty
	LevelCity
	LevelDistrict
)

var levelNames = [...]string{"country", "state", "county", "city", "district"}

func (l Level) String() string { return levelNames[l] }

func parseLevel(s string) (Level, bool) {
	for i, n := range levelNames {
		if n == s {
			return Level(i), true
		}
	}
	return 0, false
}

// Combine says how a nexus test joins its two thresholds.
type Combine uint8

const (
	CombineAny Combine = iota // either threshold crosses
	CombineAll                // both must cross
)

func (c Combine) String() string { return [...]string{"any", "all"}[c] }

// Window is the period a nexus threshold is measured over.
type Window uint8

const (
	WindowCalendarYear Window = iota
	WindowRolling12Months
)

func (w Window) String() string { return [...]string{"calendar_year", "rolling_12_months"}[w] }

// Nexus is a jurisdiction's economic-nexus threshold.
type Nexus struct {
	Sales        decimal.Decimal
	HasSales     bool
	Transactions int64 // 0: no transaction-count threshold
	Combine      Combine
	Window       Window
}

// TaxabilityKind is whether a product category bears a tax at all.
type TaxabilityKind uint8

const (
	Taxable TaxabilityKind = iota
	Exempt
)

// Taxability is how one product category is treated by one tax.
type Taxability struct {
	Kind           TaxabilityKind
	Rate           decimal.Decimal // a reduced (or other) rate, when HasRate
	HasRate        bool
	Portion        decimal.Decimal // the taxable share of the amount, when HasPortion
	HasPortion     bool
	ExemptBelow    decimal.Decimal // unit prices below this are non-taxable, when HasExemptBelow
	HasExemptBelow bool
}

// TierBase is what a tax's brackets split.
type TierBase uint8

const (
	PerUnit TierBase = iota
	PerLine
	PerTransaction
)

func (b TierBase) String() string { return [...]string{"unit", "line", "transaction"}[b] }

// Tiers split a base into brackets taxed at their own rates.
type Tiers struct {
	Per      TierBase
	Brackets []Bracket
}

// Bracket is one tier: the base up to UpTo (the rest when !HasUpTo).
type Bracket struct {
	UpTo    decimal.Decimal
	HasUpTo bool
	Rate    decimal.Decimal // the tax's rate in force when !HasRate
	HasRate bool
}

// RoundingLevel is where a tax's amounts are rounded to the minor unit.
type RoundingLevel uint8

const (
	LevelLine        RoundingLevel = iota // each line's tax
	LevelTransaction                      // the sum of a transaction's lines, once
	LevelAggregate                        // exact sums, rounded when totals are printed
)

var roundingLevelNames = [...]string{"line", "transaction", "aggregate"}

func (l RoundingLevel) String() string { return roundingLevelNames[l] }

func parseRoundingLevel(s string) (RoundingLevel, bool) {
	for i, n := range roundingLevelNames {
		if n == s {
			return RoundingLevel(i), true
		}
	}
	return 0, false
}

// Rounding is a tax's rounding mode and level.
type Rounding struct {
	Mode  money.RoundingMode
	Level RoundingLevel
}

// RateEntry is a rate in force from From (inclusive) to To (exclusive, open
// when !HasTo).
type RateEntry struct {
	From  txn.Date
	To    txn.Date
	HasTo bool
	Rate  decimal.Decimal
}

// Jurisdiction is one taxing authority.
type Jurisdiction struct {
	Code   string
	Name   string
	Level  Level
	Parent string
	Nexus  *Nexus
	Source string
	AsOf   string
	Notes  string
	Taxes  []*Tax
	// Match describes the address test in words; empty when the
	// jurisdiction is reached only through explicit codes.
	Match string

	index     int // position in Program.Jurisdictions
	match     []matchKey
	ancestors []int // indexes of the parent chain, nearest first
}

// Tax is one tax levied by a jurisdiction.
type Tax struct {
	ID           string
	Name         string
	Jurisdiction *Jurisdiction
	Rates        []RateEntry // sorted by From, never overlapping
	Taxability   map[string]Taxability
	// TaxabilityFrom is the tax whose taxability fills the categories this
	// one does not list (already merged into Taxability).
	TaxabilityFrom string
	Tiers          *Tiers
	CompoundOn     []*Tax
	Fixed          *decimal.Decimal // per-unit amount instead of a rate
	Rounding       Rounding
	Notes          string

	order       int // position in Program.Taxes (dependency order)
	defaultTB   Taxability
	compoundIdx []int // orders of CompoundOn
}

// Exemption exempts a customer's sales in matching jurisdictions.
type Exemption struct {
	Customer      string
	Jurisdictions []string // codes; a trailing * matches any suffix
	Reason        string
	From, To      txn.Date
	HasFrom       bool
	HasTo         bool
}

// Program is a compiled, immutable set of rules.
type Program struct {
	// Jurisdictions sorted by code.
	Jurisdictions []*Jurisdiction
	// Taxes in dependency order: every tax comes after the taxes it
	// compounds on; otherwise by jurisdiction code and file order.
	Taxes      []*Tax
	Exemptions []Exemption
	// SHA256 is the hex SHA-256 of the rule files' bytes, concatenated in
	// the order given.
	SHA256 string
	// Files names the rule files in the order given.
	Files []string
	// Warnings are positioned notes about how the files were layered
	// (FILE:LINE:COL: message): where an extending entry disagrees with
	// the one it extends, and which one was used.
	Warnings []string

	byCode        map[string]*Jurisdiction
	index         matchIndex
	exemptionsFor map[string][]int // customer → indexes into Exemptions
}

// Jurisdiction returns the jurisdiction with the given code.
func (p *Program) Jurisdiction(code string) (*Jurisdiction, bool) {
	j, ok := p.byCode[code]
	return j, ok
}

// RateAt returns the rate entry in force on day d.
func (t *Tax) RateAt(d txn.Date) (RateEntry, bool) {
	for i := len(t.Rates) - 1; i >= 0; i-- {
		r := t.Rates[i]
		if d >= r.From {
			if r.HasTo && d >= r.To {
				return RateEntry{}, false
			}
			return r, true
		}
	}
	return RateEntry{}, false
}

// TaxabilityOf returns how the tax treats a product category: its own
// entry, else the default entry, else taxable at the tax's rate. Category
// names are compared case-insensitively.
func (t *Tax) TaxabilityOf(product string) Taxability {
	if tb, ok := t.Taxability[product]; ok {
		return tb
	}
	if len(t.Taxability) > 0 {
		if tb, ok := t.Taxability[fold(product)]; ok {
			return tb
		}
	}
	return t.defaultTB
}

type decimalT = decimal.Decimal
