package money

import (
	"math/rand/v2"
	"testing"

	"github.com/shopspring/decimal"
)

// TestAmountAgreesWithDecimal checks the int64 fast paths of Amount against
// shopspring/decimal, near the edges of int64 too.
func TestAmountAgreesWithDecimal(t *testing.T) {
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
		a, b, ta := AmountOf(x), AmountOf(y), AmountOf(tol)
		if got, want := a.Cmp(b), x.Cmp(y); got != want {
			t.Fatalf("Cmp(%s, %s) = %d, want %d", x, y, got, want)
		}
		if got, want := a.Add(b).Decimal(), x.Add(y); !got.Equal(want) || got.Exponent() != want.Exponent() {
			t.Fatalf("%s + %s = %s, want %s", x, y, got, want)
		}
		if got, want := a.Within(b, ta), x.Sub(y).Abs().Cmp(tol) <= 0; got != want {
			t.Fatalf("Within(%s, %s, %s) = %v, want %v", x, y, tol, got, want)
		}
		if got, want := a.IsZero(), x.IsZero(); got != want {
			t.Fatalf("IsZero(%s) = %v", x, got)
		}
		for places := int32(0); places <= 4; places++ {
			if got, want := a.StringFixed(places), x.StringFixed(places); got != want {
				t.Fatalf("StringFixed(%s, %d) = %s, want %s", x, places, got, want)
			}
		}
	}
	for _, c := range []int64{-9223372036854775807 - 1, 9223372036854775807} {
		a := AmountOfFixed(Fixed{C: c, E: -2})
		if got, want := a.Add(a).Decimal(), decimal.New(c, -2).Add(decimal.New(c, -2)); !got.Equal(want) {
			t.Errorf("%d + %d = %s, want %s", c, c, got, want)
		}
	}
}
