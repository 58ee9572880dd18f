package rules

import (
	"fmt"
	"strings"
	"testing"

	"github.com/taxagg/taxagg/internal/txn"
)

// The address cache must give what matching gives, whatever came before:
// more addresses than it holds, addresses that differ in one field only
// (or in where one field ends and the next starts), met in an order that
// evicts and refills its sets.
func TestAddressCacheAgreesWithMatching(t *testing.T) {
	p := mustCompile(t, `
version: 1
jurisdictions:
  - code: US-WA
    name: Washington
    level: state
    match: {country: US, state: WA}
    taxes:
      - id: wa-state
        rates: [{from: 2000-01-01, rate: "6.5%"}]
  - code: US-WA-KING
    name: King County
    level: county
    match: {country: US, state: WA, county: King}
    taxes:
      - id: king
        rates: [{from: 2000-01-01, rate: "1%"}]
  - code: US-WA-KINGS
    name: Kings
    level: county
    match: {country: US, state: WA, county: Kings}
    taxes:
      - id: kings
        rates: [{from: 2000-01-01, rate: "2%"}]
  - code: US-WA-98101
    name: Seattle district
    level: district
    match: {country: US, postal_code: "98101"}
    taxes:
      - id: district
        rates: [{from: 2000-01-01, rate: "0.5%"}]
`)
	type addr struct{ state, county, city, postal string }
	addrs := []addr{
		{"WA", "King", "", "98101"}, {"WA", "Kings", "", "98101"}, {"WA", "King", "S", "98101"},
		{"WA", "KingS", "", "98101"}, {"WA", "King", "", "9810"}, {"WA", "King", "9", "8101"},
		{"WA", "", "King", "98101"}, {"W", "AKing", "", "98101"}, {"OR", "King", "", "98101"},
	}
	for i := range addrCacheWays*addrCacheSets + 100 {
		addrs = append(addrs, addr{"WA", []string{"King", "Kings", "Other"}[i%3], fmt.Sprint("c", i), fmt.Sprint(98000 + i%200)})
	}
	// Transactions come built by hand (the Evaluator builds the address
	// key) or from a Parser. The Parser's strings are borrowed (SetArena):
	// each record's text and arena overwrite the last's, so an Evaluator
	// that kept a string of a transaction instead of a clone (its cache's
	// key, its normalized address, its folding table) would give another
	// address's answer.
	ps := txn.NewParser(txn.ParseOptions{})
	var arena txn.Arena
	ps.SetArena(&arena)
	var ptx txn.Transaction
	var rec []byte
	describe := func(e *Evaluator, a addr, parsed bool) string {
		tx := sale(a.state, a.county, "100.00", "1", "x")
		tx.City, tx.PostalCode = a.city, a.postal
		if parsed {
			arena.Reset()
			rec = fmt.Appendf(rec[:0], `{"id":"t1","date":"2025-06-15","currency":"USD","amount":"100.00","product":"x","country":"US","state":%q,"county":%q,"city":%q,"postal_code":%q}`,
				a.state, a.county, a.city, a.postal)
			if err := ps.ParseJSON(rec, &ptx); err != nil {
				t.Fatal(err)
			}
			if _, _, _, ok := ptx.AddressKey(); !ok {
				t.Fatal("a parsed transaction has no address key")
			}
			tx = &ptx
		}
		var res Result
		if err := e.Eval(tx, &res); err != nil {
			// "9810" is a US ZIP that lost its leading zero: an error
			// each time, cached or not.
			return "error: " + err.Error()
		}
		return fmt.Sprint(res.Jurisdictions, taxByID(&res), res.Coverage, *res.Address)
	}
	// The reference: matching every time (an empty cache before each).
	ref := p.NewEvaluator(false)
	want := make([]string, len(addrs))
	for i, a := range addrs {
		clear(ref.addrCache)
		want[i] = describe(ref, a, false)
	}
	if want[0] == want[1] || want[0] == want[4] || want[0] == want[8] {
		t.Fatalf("the rules do not tell the addresses apart: %q %q %q %q", want[0], want[1], want[4], want[8])
	}
	e := p.NewEvaluator(false)
	for round := range 2 {
		for k := range addrs {
			i := (k*7919 + round) % len(addrs) // a different order each round
			if got := describe(e, addrs[i], k%3 != 0); got != want[i] {
				t.Fatalf("round %d, address %+v: got %s, want %s", round, addrs[i], got, want[i])
			}
		}
	}
}

// FixedOnly leaves the decimals of fast-path lines unset and nothing else
// different.
func TestFixedOnly(t *testing.T) {
	p := mustCompile(t, tennessee)
	tx := sale("TN", "", "3000.00", "2", "default")
	var full, fixed Result
	if err := p.NewEvaluator(false).Eval(tx, &full); err != nil {
		t.Fatal(err)
	}
	e := p.NewEvaluator(false)
	e.FixedOnly()
	if err := e.Eval(tx, &fixed); err != nil {
		t.Fatal(err)
	}
	if len(full.Lines) == 0 || len(full.Lines) != len(fixed.Lines) {
		t.Fatalf("%d lines with FixedOnly, %d without", len(fixed.Lines), len(full.Lines))
	}
	for i := range full.Lines {
		f, x := full.Lines[i], fixed.Lines[i]
		if !f.Fixed.OK || !x.Fixed.OK {
			t.Fatalf("line %d: not from the fast path", i)
		}
		if f.Fixed != x.Fixed || f.Tax != x.Tax || !f.Rate.Equal(x.Rate) || f.Reason != x.Reason {
			t.Errorf("line %d: %+v with FixedOnly, %+v without", i, x, f)
		}
		if !x.Amount.IsZero() || !x.Gross.IsZero() || f.Gross.IsZero() {
			t.Errorf("line %d: decimals %s/%s with FixedOnly, %s without", i, x.Gross, x.Amount, f.Gross)
		}
	}
}

// holds is the cache's only defence against two addresses whose hashes
// agree, so it is tested on its own, with the field boundaries moved.
func TestMatchSetHolds(t *testing.T) {
	e := &Evaluator{}
	var slot [addrCacheWays]addrEntry
	cached := &txn.Transaction{Country: "US", State: "WA", County: "King", City: "S", PostalCode: "98101"}
	key, ends, _ := e.addressKey(cached)
	e.cacheAddress(&slot, 1, strings.Clone(key), ends)
	m := slot[0].set
	for _, tc := range []struct {
		tx   txn.Transaction
		want bool
	}{
		{txn.Transaction{Country: "US", State: "WA", County: "King", City: "S", PostalCode: "98101"}, true},
		{txn.Transaction{Country: "US", State: "WA", County: "KingS", City: "", PostalCode: "98101"}, false},
		{txn.Transaction{Country: "US", State: "WA", County: "King", City: "S9", PostalCode: "8101"}, false},
		{txn.Transaction{Country: "USW", State: "A", County: "King", City: "S", PostalCode: "98101"}, false},
		{txn.Transaction{Country: "US", State: "WA", County: "King", City: "S", PostalCode: "98102"}, false},
		{txn.Transaction{Country: "US", State: "WA", County: "King", City: "S", PostalCode: ""}, false},
	} {
		key, ends, _ := e.addressKey(&tc.tx)
		if got := m.holds(key, ends); got != tc.want {
			t.Errorf("holds(%+v) = %v, want %v", tc.tx, got, tc.want)
		}
	}
}
