package reconcile

import (
	"cmp"
	"math"
	"math/bits"
	"strconv"

	"github.com/shopspring/decimal"
)

// amt is an exact amount: c × 10^e while that fits an int64, else the
// decimal in big. Records keep their amounts this way so that matching a
// million records allocates nothing per amount; only the value matters
// (1.0 equals 1.00), never the exponent it was written with.
type amt struct {
	c   int64
	e   int32
	big *decimal.Decimal
}

// amtOf converts a decimal.
func amtOf(d decimal.Decimal) amt {
	if d.NumDigits() <= 18 {
		return amt{c: d.CoefficientInt64(), e: d.Exponent()}
	}
	return amt{big: &d}
}

// dec returns the amount as a decimal.
func (a amt) dec() decimal.Decimal {
	if a.big != nil {
		return *a.big
	}
	return decimal.New(a.c, a.e)
}

func (a amt) isZero() bool {
	if a.big != nil {
		return a.big.IsZero()
	}
	return a.c == 0
}

// scale10 returns c × 10^k, false when it overflows.
func scale10(c int64, k int32) (int64, bool) {
	if k < 0 || k > 18 {
		return 0, k == 0
	}
	p := pow10[k]
	if c == 0 {
		return 0, true
	}
	hi, lo := bits.Mul64(uint64(abs64(c)), uint64(p))
	if hi != 0 || lo > math.MaxInt64 {
		return 0, false
	}
	if c < 0 {
		return -int64(lo), true
	}
	return int64(lo), true
}

func abs64(c int64) int64 {
	if c < 0 {
		if c == math.MinInt64 {
			return c // caught by the overflow check of the callers
		}
		return -c
	}
	return c
}

// align brings two small amounts to one exponent; ok is false when one of
// them does not fit.
func align(a, b amt) (ac, bc int64, e int32, ok bool) {
	if a.big != nil || b.big != nil || a.c == math.MinInt64 || b.c == math.MinInt64 {
		return 0, 0, 0, false
	}
	switch {
	case a.e == b.e:
		return a.c, b.c, a.e, true
	case a.e > b.e:
		ac, ok = scale10(a.c, a.e-b.e)
		return ac, b.c, b.e, ok
	default:
		bc, ok = scale10(b.c, b.e-a.e)
		return a.c, bc, a.e, ok
	}
}

// cmpAmt compares values.
func cmpAmt(a, b amt) int {
	if ac, bc, _, ok := align(a, b); ok {
		return cmp.Compare(ac, bc)
	}
	return a.dec().Cmp(b.dec())
}

// add returns a + b exactly.
func (a amt) add(b amt) amt {
	if ac, bc, e, ok := align(a, b); ok {
		s := ac + bc
		if (bc >= 0) == (s >= ac) && s != math.MinInt64 {
			return amt{c: s, e: e}
		}
	}
	return amtOf(a.dec().Add(b.dec()))
}

// within reports whether |a - b| <= tol.
func within(a, b, tol amt) bool {
	if ac, bc, e, ok := align(a, b); ok {
		d := ac - bc
		if (bc >= 0) == (d <= ac) && d != math.MinInt64 {
			if d < 0 {
				d = -d
			}
			return cmpAmt(amt{c: d, e: e}, tol) <= 0
		}
	}
	return a.dec().Sub(b.dec()).Abs().Cmp(tol.dec()) <= 0
}

// fixed prints the amount with exactly places decimals, as
// decimal.StringFixed does.
func (a amt) fixed(places int32) string {
	var buf [32]byte
	return string(appendAmt(buf[:0], a, places))
}

// appendAmt appends a with exactly places decimals, as StringFixed does,
// without allocating when the coefficient is small.
func appendAmt(b []byte, a amt, places int32) []byte {
	if a.big != nil || places < 0 || places > 18 || a.e < -places || a.e > 0 || a.c == math.MinInt64 {
		return append(b, a.dec().StringFixed(places)...)
	}
	c, ok := scale10(a.c, a.e+places)
	if !ok || abs64(c) >= pow10[18] {
		return append(b, a.dec().StringFixed(places)...)
	}
	if c < 0 {
		b = append(b, '-')
		c = -c
	}
	if places == 0 {
		return strconv.AppendInt(b, c, 10)
	}
	ip, fp := c/pow10[places], c%pow10[places]
	b = strconv.AppendInt(b, ip, 10)
	b = append(b, '.')
	var tmp [20]byte
	f := strconv.AppendInt(tmp[:0], fp, 10)
	for i := int32(len(f)); i < places; i++ {
		b = append(b, '0')
	}
	return append(b, f...)
}

// appendFixed appends d with exactly places decimals, as StringFixed does.
func appendFixed(b []byte, d decimal.Decimal, places int32) []byte {
	return appendAmt(b, amtOf(d), places)
}
