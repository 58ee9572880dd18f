package money

import (
	"math"
	"math/big"
	"math/bits"

	"github.com/shopspring/decimal"
)

// Fixed is an exact decimal C × 10^E held in machine words: the
// allocation-free fast path of the rule engine. Every operation mirrors the
// shopspring/decimal operation of the same name bit for bit, including the
// exponent of the result (which decides how many places are printed), and
// reports ok=false instead of overflowing; callers then redo the whole
// computation with decimal.Decimal. FuzzFixed proves the two agree.
type Fixed struct {
	C int64
	E int32
}

var pow10u = [...]uint64{
	1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
	1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19,
}

func abs64(c int64) uint64 {
	if c < 0 {
		return uint64(-c)
	}
	return uint64(c)
}

// mulPow10 returns c × 10^k.
func mulPow10(c int64, k int32) (int64, bool) {
	if c == 0 {
		return 0, true
	}
	if k < 0 || k > 18 {
		return 0, false
	}
	hi, lo := bits.Mul64(abs64(c), pow10u[k])
	if hi != 0 || lo > math.MaxInt64 {
		return 0, false
	}
	if c < 0 {
		return -int64(lo), true
	}
	return int64(lo), true
}

// align brings a and b to the smaller exponent.
func align(a, b Fixed) (ac, bc int64, e int32, ok bool) {
	switch {
	case a.E == b.E:
		return a.C, b.C, a.E, a.C != math.MinInt64 && b.C != math.MinInt64
	case a.E < b.E:
		bc, ok = mulPow10(b.C, b.E-a.E)
		return a.C, bc, a.E, ok && a.C != math.MinInt64
	default:
		ac, ok = mulPow10(a.C, a.E-b.E)
		return ac, b.C, b.E, ok && b.C != math.MinInt64
	}
}

// Add is decimal.Decimal.Add.
func (a Fixed) Add(b Fixed) (Fixed, bool) {
	ac, bc, e, ok := align(a, b)
	if !ok {
		return Fixed{}, false
	}
	s := ac + bc
	if (s > ac) != (bc > 0) {
		return Fixed{}, false
	}
	return Fixed{s, e}, true
}

// Sub is decimal.Decimal.Sub.
func (a Fixed) Sub(b Fixed) (Fixed, bool) {
	if b.C == math.MinInt64 {
		return Fixed{}, false
	}
	return a.Add(Fixed{-b.C, b.E})
}

// Neg is decimal.Decimal.Neg (MinInt64 never occurs: Add and Mul keep
// coefficients above it).
func (a Fixed) Neg() Fixed { return Fixed{-a.C, a.E} }

// Mul is decimal.Decimal.Mul.
func (a Fixed) Mul(b Fixed) (Fixed, bool) {
	e := int64(a.E) + int64(b.E)
	if e > math.MaxInt32 || e < math.MinInt32 {
		return Fixed{}, false
	}
	hi, lo := bits.Mul64(abs64(a.C), abs64(b.C))
	if hi != 0 || lo > math.MaxInt64 {
		return Fixed{}, false
	}
	c := int64(lo)
	if (a.C < 0) != (b.C < 0) {
		c = -c
	}
	return Fixed{c, int32(e)}, true
}

// Cmp is decimal.Decimal.Cmp.
func (a Fixed) Cmp(b Fixed) (int, bool) {
	ac, bc, _, ok := align(a, b)
	if !ok {
		return 0, false
	}
	switch {
	case ac < bc:
		return -1, true
	case ac > bc:
		return 1, true
	}
	return 0, true
}

// IsZero reports whether a is zero.
func (a Fixed) IsZero() bool { return a.C == 0 }

// Round is Round (the package function): d brought to places decimal
// places with mode m; the exponent of the result is always -places.
func (a Fixed) Round(places int32, m RoundingMode) (Fixed, bool) {
	if a.E >= -places {
		c, ok := mulPow10(a.C, a.E+places)
		return Fixed{c, -places}, ok
	}
	k := int64(-places) - int64(a.E)
	if k > 18 {
		return Fixed{}, false
	}
	p := pow10u[k]
	u := abs64(a.C)
	q, r := u/p, u%p
	away := false
	switch m {
	case HalfEven:
		twice := 2 * r // r < 10^18: no overflow
		away = twice > p || twice == p && q&1 == 1
	case Up:
		away = r != 0
	case Down:
	default:
		away = 2*r >= p
	}
	if away {
		q++
	}
	c := int64(q)
	if a.C < 0 {
		c = -c
	}
	return Fixed{c, -places}, true
}

// DivFixed is Div: a / b carried to DivisionPlaces places, ties to even.
// b must not be zero.
func DivFixed(a, b Fixed) (Fixed, bool) {
	if b.C == 0 || a.C == math.MinInt64 || b.C == math.MinInt64 {
		return Fixed{}, false
	}
	e := int64(a.E) - int64(b.E) + DivisionPlaces
	var aa, bb uint64
	if e < 0 {
		if e < -18 {
			return Fixed{}, false
		}
		aa = abs64(a.C)
		hi, lo := bits.Mul64(abs64(b.C), pow10u[-e])
		if hi != 0 || lo > math.MaxInt64 {
			return Fixed{}, false
		}
		bb = lo
	} else {
		if e > 18 {
			return Fixed{}, false
		}
		hi, lo := bits.Mul64(abs64(a.C), pow10u[e])
		if hi != 0 || lo > math.MaxInt64 {
			return Fixed{}, false
		}
		aa, bb = lo, abs64(b.C)
	}
	q, r := aa/bb, aa%bb
	if r != 0 {
		twice := 2 * r // r < bb ≤ MaxInt64: no overflow
		if twice > bb || twice == bb && q&1 == 1 {
			q++
		}
	}
	if q > math.MaxInt64 {
		return Fixed{}, false
	}
	c := int64(q)
	if (a.C < 0) != (b.C < 0) {
		c = -c
	}
	return Fixed{c, -DivisionPlaces}, true
}

// FixedOf returns d as a Fixed when its coefficient fits.
func FixedOf(d decimal.Decimal) (Fixed, bool) {
	if d.NumDigits() > 18 {
		return Fixed{}, false
	}
	return Fixed{d.CoefficientInt64(), d.Exponent()}, true
}

// Decimal returns a as a decimal.Decimal (allocating; see DecimalSlab for
// the hot path).
func (a Fixed) Decimal() decimal.Decimal {
	if a.C == 0 && a.E == 0 {
		return decimal.Decimal{}
	}
	return decimal.New(a.C, a.E)
}

// DecimalSlab turns Fixed values into decimal.Decimal values without an
// allocation per value: the big.Ints and their words come from slabs that
// are reused after Reset. A Decimal it made is valid until the next Reset
// of its slab.
type DecimalSlab struct {
	ints  []big.Int
	words []big.Word
	n     int
}

// Reset lets the slab reuse its storage.
func (s *DecimalSlab) Reset() { s.n = 0 }

// Decimal returns a as a decimal.Decimal backed by the slab.
func (s *DecimalSlab) Decimal(a Fixed) decimal.Decimal {
	if a.C == 0 && a.E == 0 {
		return decimal.Decimal{}
	}
	if !mirrorOK {
		return decimal.New(a.C, a.E)
	}
	if s.n == len(s.ints) {
		// Earlier slabs stay with the Decimals made from them.
		size := max(8, 2*len(s.ints))
		s.ints = make([]big.Int, size)
		s.words = make([]big.Word, size)
		s.n = 0
	}
	b := &s.ints[s.n]
	if a.C == 0 {
		b.SetInt64(0)
	} else {
		w := s.words[s.n : s.n+1 : s.n+1]
		w[0] = big.Word(abs64(a.C))
		b.SetBits(w)
		if a.C < 0 {
			b.Neg(b)
		}
	}
	s.n++
	return fromParts(b, a.E)
}
