package rules

import (
	addrnorm "github.com/taxagg/taxagg/internal/address"
	"github.com/taxagg/taxagg/internal/txn"
	"strings"
)

// Coverage is what became of a transaction's sale, for the accounting of a
// run: accepted = taxed + untaxed, untaxed = unmatched + no_tax.
type Coverage uint8

const (
	// Unmatched: the transaction fell in no jurisdiction.
	Unmatched Coverage = iota
	// NoTax: it fell only in jurisdictions with no tax in force on its
	// rate date (a state without a sales tax, a date before the rules'
	// rates start).
	NoTax
	// Taxed: at least one tax in force applies to it, so it is in the
	// totals (even where it is exempt or taxed at 0%).
	Taxed
)

var coverageNames = [...]string{"unmatched", "no_tax", "taxed"}

func (c Coverage) String() string { return coverageNames[c] }

// Address is a ship-to address as normalised for matching: the country as
// an ISO 3166-1 alpha-2 code, a US state or Canadian province as its postal
// code, a US ZIP+4 as its ZIP, where the input wrote them in another way;
// anything not recognised as written. County and city are as written.
type Address struct {
	Country, State, County, City, PostalCode string
	// KnownCountry: some jurisdiction of the rules names this country.
	KnownCountry bool
}

// clone returns a with strings of its own, in one allocation: the address
// cache keeps it past the transaction, whose strings may be borrowed
// (txn.Parser.SetArena).
func (a *Address) clone() Address {
	c := *a
	fields := [...]*string{&c.Country, &c.State, &c.County, &c.City, &c.PostalCode}
	n := 0
	for _, f := range fields {
		n += len(*f)
	}
	var b strings.Builder
	b.Grow(n)
	for _, f := range fields {
		b.WriteString(*f)
	}
	all := b.String()
	for _, f := range fields {
		*f, all = all[:len(*f)], all[len(*f):]
	}
	return c
}

// normalizeAddress normalises tx's address and folds it into e.addr for
// matching. It runs once per distinct address (on an address cache miss);
// the error is a *txn.FieldError for a US ZIP that lost its leading zeros.
//
// The address is built in e.normBuf; cacheAddress moves it into the cache
// entry, so that it costs no allocation of its own.
func (e *Evaluator) normalizeAddress(tx *txn.Transaction) (*Address, error) {
	country, _ := addrnorm.Country(tx.Country)
	state, _ := addrnorm.State(country, tx.State)
	pc, err := addrnorm.PostalCode(country, tx.PostalCode)
	if err != nil {
		return nil, &txn.FieldError{Field: "postal_code", Err: err}
	}
	e.normBuf = Address{Country: country, State: state, County: tx.County, City: tx.City, PostalCode: pc}
	a := &e.normBuf
	e.addr.fields[fieldCountry] = e.fold(country)
	e.addr.fields[fieldState] = e.fold(state)
	e.addr.fields[fieldCounty] = e.fold(tx.County)
	e.addr.fields[fieldCity] = e.fold(tx.City)
	e.addr.fields[fieldPostalCode] = e.fold(pc)
	a.KnownCountry = e.knownCountry(e.addr.fields[fieldCountry])
	return a, nil
}

// knownCountry reports whether a jurisdiction of the program names the
// (folded) country, or matches without naming any.
func (e *Evaluator) knownCountry(c string) bool {
	if e.countries == nil {
		e.countries = map[string]bool{}
		for _, j := range e.p.Jurisdictions {
			for _, k := range j.match {
				if k.field == fieldCountry {
					for _, v := range k.values {
						e.countries[v] = true
					}
				}
			}
		}
	}
	return e.countries[c]
}

// normalizeMatchValue normalises a rule's match value as addresses are, so
// that a rule may say "USA" or "Texas" too. country is the rule's country
// when it names exactly one (already normalised), else "".
func normalizeMatchValue(field matchField, country, v string) string {
	switch field {
	case fieldCountry:
		v, _ = addrnorm.Country(v)
	case fieldState:
		v, _ = addrnorm.State(country, v)
	}
	return v
}
