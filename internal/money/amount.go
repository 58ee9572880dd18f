package money

import (
	"math"

	"github.com/shopspring/decimal"
)

// Amount is an exact amount of any size: a Fixed while its coefficient
// fits in 18 digits, else a decimal.Decimal. Billing records keep their
// amounts this way so that matching a million records allocates nothing
// per amount. Only the value matters to Cmp and Within (1.0 equals 1.00);
// Add keeps the exponent decimal.Decimal.Add would give. The zero Amount
// is zero.
type Amount struct {
	f   Fixed
	big *decimal.Decimal
}

// AmountOf returns d as an Amount.
func AmountOf(d decimal.Decimal) Amount {
	if f, ok := FixedOf(d); ok {
		return Amount{f: f}
	}
	return Amount{big: &d}
}

// AmountOfFixed returns f as an Amount.
func AmountOfFixed(f Fixed) Amount {
	if f.C == math.MinInt64 {
		d := f.Decimal()
		return Amount{big: &d}
	}
	return Amount{f: f}
}

// Fixed returns the amount as a Fixed, when it is one.
func (a Amount) Fixed() (Fixed, bool) { return a.f, a.big == nil }

// Decimal returns the amount as a decimal.Decimal.
func (a Amount) Decimal() decimal.Decimal {
	if a.big != nil {
		return *a.big
	}
	return a.f.Decimal()
}

// IsZero reports whether the amount is zero.
func (a Amount) IsZero() bool {
	if a.big != nil {
		return a.big.IsZero()
	}
	return a.f.C == 0
}

// Add returns a + b exactly.
func (a Amount) Add(b Amount) Amount {
	if a.big == nil && b.big == nil {
		if s, ok := a.f.Add(b.f); ok && s.C != math.MinInt64 {
			return Amount{f: s}
		}
	}
	return AmountOf(a.Decimal().Add(b.Decimal()))
}

// Cmp compares the values of a and b: -1, 0 or +1.
func (a Amount) Cmp(b Amount) int {
	if a.big == nil && b.big == nil {
		if c, ok := a.f.Cmp(b.f); ok {
			return c
		}
	}
	return a.Decimal().Cmp(b.Decimal())
}

// Within reports whether |a − b| ≤ tol.
func (a Amount) Within(b, tol Amount) bool {
	if a.big == nil && b.big == nil && tol.big == nil {
		if d, ok := a.f.Sub(b.f); ok && d.C != math.MinInt64 {
			if d.C < 0 {
				d.C = -d.C
			}
			if c, ok := d.Cmp(tol.f); ok {
				return c <= 0
			}
		}
	}
	return a.Decimal().Sub(b.Decimal()).Abs().Cmp(tol.Decimal()) <= 0
}

// StringFixed is decimal.Decimal.StringFixed: the amount with exactly
// places decimals.
func (a Amount) StringFixed(places int32) string {
	var buf [32]byte
	return string(a.AppendFixed(buf[:0], places))
}

// AppendFixed appends the amount with exactly places decimals, as
// decimal.Decimal.StringFixed prints it, without allocating when it needs
// no rounding and fits.
func (a Amount) AppendFixed(dst []byte, places int32) []byte {
	if a.big == nil && places >= 0 && places <= 18 && a.f.E >= -places && a.f.E <= 0 {
		if c, ok := mulPow10(a.f.C, a.f.E+places); ok && abs64(c) < pow10u[18] {
			return appendScaled(dst, c < 0, abs64(c), int(places))
		}
	}
	return append(dst, a.Decimal().StringFixed(places)...)
}
