package money

import (
	"math/big"
	"math/bits"

	"github.com/shopspring/decimal"
)

// Sum adds Fixed values exactly in 128 bits without allocating, with the
// exponent decimal.Decimal.Add would give the same sum (the smallest of
// zero's and the values'). When 128 bits would overflow it carries on in a
// decimal.Decimal. The zero Sum is zero.
type Sum struct {
	hi  int64
	lo  uint64
	e   int32
	big bool            // the sum lives in dec
	dec decimal.Decimal // when big
}

func neg128(hi int64, lo uint64) (int64, uint64) {
	lo = ^lo + 1
	h := ^uint64(hi)
	if lo == 0 {
		h++
	}
	return int64(h), lo
}

// mul128 returns (hi, lo) × 10^k, or false on overflow.
func mul128(hi int64, lo uint64, k int32) (int64, uint64, bool) {
	if k == 0 {
		return hi, lo, true
	}
	if k < 0 || k > 19 {
		return 0, 0, false
	}
	neg := hi < 0
	if neg {
		hi, lo = neg128(hi, lo)
	}
	p := pow10u[k]
	h1, l := bits.Mul64(lo, p)
	h2, x := bits.Mul64(uint64(hi), p)
	h, c := bits.Add64(h1, x, 0)
	if h2 != 0 || c != 0 || h >= 1<<63 {
		return 0, 0, false
	}
	if neg {
		nh, nl := neg128(int64(h), l)
		return nh, nl, true
	}
	return int64(h), l, true
}

func add128(ah int64, al uint64, bh int64, bl uint64) (int64, uint64, bool) {
	lo, c := bits.Add64(al, bl, 0)
	hi := ah + bh + int64(c)
	// Signed overflow: operands of one sign, result of the other.
	if (ah >= 0) == (bh >= 0) && (hi >= 0) != (ah >= 0) {
		return 0, 0, false
	}
	return hi, lo, true
}

// Add adds v to the sum.
func (s *Sum) Add(v Fixed) {
	// The usual case, inlined: the same exponent, and a sum far enough
	// from the 128-bit limits that no int64 can carry it past them.
	if v.E == s.e && !s.big && uint64(s.hi+1<<62) < 1<<63 {
		lo, c := bits.Add64(s.lo, uint64(v.C), 0)
		s.hi += v.C>>63 + int64(c)
		s.lo = lo
		return
	}
	s.addSlow(v)
}

func (s *Sum) addSlow(v Fixed) {
	if s.big || !s.add128(int64(v.C>>63), uint64(v.C), v.E) {
		s.dec = s.Decimal().Add(v.Decimal())
		s.big = true
	}
}

// AddDecimal adds a decimal.Decimal to the sum.
func (s *Sum) AddDecimal(d decimal.Decimal) {
	if f, ok := FixedOf(d); ok {
		s.Add(f)
		return
	}
	s.dec = s.Decimal().Add(d)
	s.big = true
}

// Merge adds t into s.
func (s *Sum) Merge(t *Sum) {
	if s.big || t.big || !s.add128(t.hi, t.lo, t.e) {
		s.dec = s.Decimal().Add(t.Decimal())
		s.big = true
	}
}

// add128 adds the 128-bit coefficient vh:vl at exponent ve to s at the
// smaller of the two exponents, as decimal.Add does. It leaves s as it was
// and returns false when the result does not fit in 128 bits.
func (s *Sum) add128(vh int64, vl uint64, ve int32) bool {
	hi, lo, e := s.hi, s.lo, s.e
	ok := true
	switch {
	case ve < e:
		hi, lo, ok = mul128(hi, lo, e-ve)
		e = ve
	case ve > e:
		vh, vl, ok = mul128(vh, vl, ve-e)
	}
	if ok {
		hi, lo, ok = add128(hi, lo, vh, vl)
	}
	if ok {
		s.hi, s.lo, s.e = hi, lo, e
	}
	return ok
}

// Decimal returns the sum as decimal.Decimal.Add would have built it.
func (s *Sum) Decimal() decimal.Decimal {
	if s.big {
		return s.dec
	}
	if s.hi == 0 && s.lo == 0 && s.e == 0 {
		return decimal.Decimal{}
	}
	if (s.hi == 0 && s.lo < 1<<63) || (s.hi == -1 && s.lo >= 1<<63) {
		return decimal.New(int64(s.lo), s.e)
	}
	hi, lo := s.hi, s.lo
	neg := hi < 0
	if neg {
		hi, lo = neg128(hi, lo)
	}
	var b big.Int
	b.SetUint64(uint64(hi))
	b.Lsh(&b, 64)
	b.Or(&b, new(big.Int).SetUint64(lo))
	if neg {
		b.Neg(&b)
	}
	return decimal.NewFromBigInt(&b, s.e)
}
