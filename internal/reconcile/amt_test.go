package reconcile

import (
	"math/rand/v2"
	"testing"

	"github.com/shopspring/decimal"
)

// TestAmtAgreesWithDecimal checks the int64 fast paths of amt against
// shopspring/decimal, near the edges of int64 too.
func TestAmtAgreesWithDecimal(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	coefs := []int64{0, 1, -1, 5, -5, 999, 1 << 62, -(1 << 62), 999999999999999999, -999999999999999999,
		9223372036854775807, -9223372036854775807}
	gen := func() decimal.Decimal {
		c := coefs[rng.IntN(len(coefs))]
		if rng.IntN(2) == 0 {
			c = rng.Int64N(2_000_000) - 1_000_000
		}
		return decimal.New(c, -rng.Int32N(6))
	}
	for range 20000 {
		x, y, tol := gen(), gen(), gen().Abs()
		a, b, ta := amtOf(x), amtOf(y), amtOf(tol)
		if got, want := cmpAmt(a, b), x.Cmp(y); got != want {
			t.Fatalf("cmp(%s, %s) = %d, want %d", x, y, got, want)
		}
		if got, want := a.add(b).dec(), x.Add(y); !got.Equal(want) {
			t.Fatalf("%s + %s = %s, want %s", x, y, got, want)
		}
		if got, want := within(a, b, ta), x.Sub(y).Abs().Cmp(tol) <= 0; got != want {
			t.Fatalf("within(%s, %s, %s) = %v, want %v", x, y, tol, got, want)
		}
		for places := int32(0); places <= 4; places++ {
			if got, want := a.fixed(places), x.StringFixed(places); got != want {
				t.Fatalf("fixed(%s, %d) = %s, want %s", x, places, got, want)
			}
		}
		var e encoder
		e.amt(a)
		d := decoder{b: e.b}
		if got := d.amt(); cmpAmt(got, a) != 0 || d.err != nil {
			t.Fatalf("codec %s -> %s (%v)", x, got.dec(), d.err)
		}
	}
}
