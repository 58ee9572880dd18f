package aggregate

import (
	"fmt"
	"testing"
	"unsafe"

	"github.com/taxagg/taxagg/internal/money"
	"github.com/taxagg/taxagg/internal/rules"
	"github.com/taxagg/taxagg/internal/txn"
)

// A transaction's strings may be borrowed from memory the next batch
// overwrites (txn.Parser.SetArena): the report keeps clones of the
// country and state it groups by.
func TestChargedKeepsNoBorrowedString(t *testing.T) {
	c := NewCharged(PeriodNone)
	buf := []byte("USWA")
	borrowed := func() (country, state string) {
		return unsafe.String(&buf[0], 2), unsafe.String(&buf[2], 2)
	}
	var res rules.Result
	for i, st := range []string{"WA", "OR", "WA", "CA"} {
		copy(buf[2:], st)
		tx := &txn.Transaction{ID: fmt.Sprint(i), Currency: money.Currency{Code: "USD", Digits: 2}}
		tx.Country, tx.State = borrowed()
		c.Add(tx, &res)
	}
	copy(buf, "ZZZZ")
	var got []string
	for _, r := range c.Rows() {
		got = append(got, fmt.Sprintf("%s/%s:%d", r.Country, r.State, r.Transactions))
	}
	if want := "[US/CA:1 US/OR:1 US/WA:2]"; fmt.Sprint(got) != want {
		t.Fatalf("rows %v, want %s", got, want)
	}
}
