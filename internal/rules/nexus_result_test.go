package rules

import "testing"

// TestResultNexus: Result.Nexus lists the jurisdictions with a threshold,
// in order, for a result of a cached address (the list kept with it), of
// explicit codes, and of a Result made by hand, also after its
// Jurisdictions are assigned anew.
func TestResultNexus(t *testing.T) {
	p := mustCompile(t, `
version: 1
jurisdictions:
  - code: US-TX
    name: Texas
    level: state
    match: {country: US, state: TX}
    nexus: {sales: "500000", window: rolling_12_months}
  - code: US-TX-TRAVIS
    name: Travis County
    level: county
    parent: US-TX
    match: {country: US, state: TX, county: Travis}
  - code: US-TX-TRAVIS-X
    name: Travis district
    level: district
    parent: US-TX-TRAVIS
    match: {country: US, state: TX, county: Travis}
    nexus: {transactions: 200, window: rolling_12_months}
`)
	codes := func(js []*Jurisdiction) string {
		s := ""
		for _, j := range js {
			s += j.Code + " "
		}
		return s
	}
	ev := p.NewEvaluator(false)
	var res Result
	for i := 0; i < 3; i++ { // the first matches, the others hit the address cache
		if err := ev.Eval(sale("TX", "Travis", "10.00", "1", ""), &res); err != nil {
			t.Fatal(err)
		}
		if got := codes(res.Nexus()); got != "US-TX US-TX-TRAVIS-X " {
			t.Fatalf("eval %d: Nexus() = %q (jurisdictions %q)", i, got, codes(res.Jurisdictions))
		}
	}
	tx := sale("TX", "", "10.00", "1", "")
	tx.Jurisdictions = []string{"US-TX-TRAVIS"}
	if err := ev.Eval(tx, &res); err != nil {
		t.Fatal(err)
	}
	if got := codes(res.Nexus()); got != "US-TX " {
		t.Fatalf("explicit codes: Nexus() = %q (jurisdictions %q)", got, codes(res.Jurisdictions))
	}
	// Other explicit codes into the same Result: the same storage, a new
	// list.
	tx.Jurisdictions = []string{"US-TX-TRAVIS-X", "!US-TX"}
	if err := ev.Eval(tx, &res); err != nil {
		t.Fatal(err)
	}
	if got := codes(res.Nexus()); got != "US-TX-TRAVIS-X " {
		t.Fatalf("explicit codes again: Nexus() = %q (jurisdictions %q)", got, codes(res.Jurisdictions))
	}
	// By hand, reused: each new list is filtered anew.
	var hand Result
	hand.Jurisdictions = p.Jurisdictions[1:]
	if got := codes(hand.Nexus()); got != "US-TX-TRAVIS-X " {
		t.Fatalf("by hand: Nexus() = %q", got)
	}
	hand.Jurisdictions = p.Jurisdictions[:2]
	if got := codes(hand.Nexus()); got != "US-TX " {
		t.Fatalf("assigned anew: Nexus() = %q", got)
	}
	hand.Jurisdictions = nil
	if got := hand.Nexus(); len(got) != 0 {
		t.Fatalf("no jurisdictions: Nexus() = %q", codes(got))
	}
}
