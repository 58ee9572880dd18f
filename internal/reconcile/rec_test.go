package reconcile

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/taxagg/taxagg/internal/billing"
	"github.com/taxagg/taxagg/internal/money"
)

// The compact fields of a record give back what the reader gave, also for
// what they cannot hold themselves (a currency or state outside their
// tables, amounts of more than 18 digits or with a large exponent), and so
// does the spill encoding.
func TestRecCompactRoundTrip(t *testing.T) {
	for i, c := range recCurrencies {
		var r rec
		if r.setCurrency(c); r.Currency() != c || int(r.cur) != i {
			t.Errorf("currency %q: got %q at %d", c, r.Currency(), r.cur)
		}
	}
	big, _ := decimal.NewFromString("123456789012345678901234.5678")
	tiny := decimal.New(7, -200)
	for _, br := range []billing.Record{
		{ID: "a", Currency: "USD", State: billing.StatePaid, Amount: decimal.New(12345, -2), Tax: decimal.New(5, -1),
			Date: time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)},
		{ID: "b", Currency: "XOF", State: "", Amount: big, Tax: tiny, Kind: "invoice",
			Date: time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC), Updated: time.Date(2999, 12, 31, 23, 59, 59, 999999999, time.UTC)},
		{ID: "c", Currency: "BHD", State: "weird", Amount: decimal.New(-1, 30), Tax: decimal.Zero, Line: 1 << 40},
	} {
		var r rec
		pos := int64(7)
		if br.Line > 0 {
			pos = 1<<33 + 5
		}
		r.set(&br, sideB, pos, "k-"+br.ID)
		check := func(what string, r *rec) {
			t.Helper()
			if r.line() != br.Line || r.position() != pos {
				t.Errorf("%s %s: line %d position %d", what, br.ID, r.line(), r.position())
			}
			if r.Currency() != br.Currency || r.State() != br.State || r.Kind() != br.Kind || r.key() != "k-"+br.ID {
				t.Errorf("%s %s: currency %q state %q kind %q key %q", what, br.ID, r.Currency(), r.State(), r.Kind(), r.key())
			}
			if !r.Date().time().Equal(br.Date) || !r.Updated().time().Equal(br.Updated) {
				t.Errorf("%s %s: dates %v %v", what, br.ID, r.Date().time(), r.Updated().time())
			}
			if r.Amount().Cmp(money.AmountOf(br.Amount)) != 0 || r.Tax().Cmp(money.AmountOf(br.Tax)) != 0 ||
				r.Amount().Decimal().String() != br.Amount.String() {
				t.Errorf("%s %s: amounts %v %v", what, br.ID, r.Amount().Decimal(), r.Tax().Decimal())
			}
		}
		check("set", &r)
		var e encoder
		e.rec(&r)
		d := decoder{b: e.b}
		back := d.rec()
		if d.err != nil {
			t.Fatal(d.err)
		}
		check("decoded", back)
		// A group keeps the currency and state of its latest member.
		sum := (&matcher{}).group([]*rec{&r, back})
		if len(sum) != 1 || sum[0].Currency() != br.Currency || sum[0].State() != br.State ||
			sum[0].Amount().Cmp(money.AmountOf(br.Amount.Mul(decimal.NewFromInt(2)))) != 0 {
			t.Errorf("group of %s: %+v", br.ID, sum[0])
		}
	}
}

// sortRows (sixteen key bytes after the common prefix, then rowCmp) gives
// the order of rowCmp alone, also for keys that end in zero bytes, are
// prefixes of each other or empty, in both its serial and parallel forms.
func TestSortRowsMatchesRowCmp(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	alphabet := []string{"\x00", "a", "b", "\xff", "inv-0000", "0"}
	for _, n := range []int{2, 100, 1 << 15} {
		rows := make([]*Row, n)
		m := &matcher{}
		for i := range rows {
			var k strings.Builder
			k.WriteString("common-prefix-")
			for range rng.IntN(6) {
				k.WriteString(alphabet[rng.IntN(len(alphabet))])
			}
			key := k.String()
			if n == 100 && rng.IntN(50) == 0 { // else all keys share a prefix
				key = ""
			}
			r := &rec{ID: fmt.Sprintf("id%d", rng.IntN(n)), side: uint8(rng.IntN(2))}
			r.setPosition(int64(i))
			r.setKey(key)
			rows[i] = m.onlyRow(r)
		}
		want := slices.Clone(rows)
		slices.SortFunc(want, rowCmp)
		sortRows(rows)
		for i := range rows {
			if rows[i] != want[i] {
				t.Fatalf("n=%d: row %d: key %q, want %q", n, i, rows[i].Key(), want[i].Key())
			}
		}
	}
}

// blockBuffer reads back what was written, across blocks and in pieces of
// any size.
func TestBlockBuffer(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	var want []byte
	var b blockBuffer
	for range 2000 {
		p := make([]byte, rng.IntN(3000))
		for i := range p {
			p[i] = byte(rng.IntN(256))
		}
		if n, err := b.Write(p); n != len(p) || err != nil {
			t.Fatal(n, err)
		}
		want = append(want, p...)
	}
	var got []byte
	buf := make([]byte, 7000)
	for {
		n, err := b.Read(buf[:1+rng.IntN(len(buf)-1)])
		got = append(got, buf[:n]...)
		if err == io.EOF {
			break
		}
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("read %d bytes, wrote %d", len(got), len(want))
	}
}
