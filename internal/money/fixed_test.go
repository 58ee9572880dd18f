package money

import (
	"testing"

	"github.com/shopspring/decimal"
)

// same reports whether f and d are the same decimal, exponent included
// (the exponent decides how many places are printed).
func same(f Fixed, d decimal.Decimal) bool {
	if f.C == 0 && d.IsZero() && f.E == d.Exponent() {
		return true
	}
	return d.Exponent() == f.E && d.NumDigits() <= 19 && d.CoefficientInt64() == f.C && d.Coefficient().IsInt64()
}

// FuzzFixed checks every Fixed operation against shopspring/decimal: where
// the fast path answers, it answers exactly what decimal does.
func FuzzFixed(f *testing.F) {
	f.Add(int64(12999), int32(-2), int64(725), int32(-4), int32(2), uint8(0))
	f.Add(int64(-5), int32(-1), int64(3), int32(0), int32(0), uint8(1))
	f.Add(int64(25), int32(-3), int64(-1), int32(-2), int32(2), uint8(2))
	f.Add(int64(160000), int32(-2), int64(3), int32(0), int32(2), uint8(3))
	f.Add(int64(1)<<62, int32(0), int64(7), int32(5), int32(-1), uint8(0))
	f.Fuzz(func(t *testing.T, ac int64, ae int32, bc int64, be int32, places int32, mode uint8) {
		ae, be = ae%25, be%25
		places %= 20
		a, b := Fixed{ac, ae}, Fixed{bc, be}
		da, db := decimal.New(ac, ae), decimal.New(bc, be)
		if got, ok := a.Add(b); ok && !same(got, da.Add(db)) {
			t.Fatalf("%v + %v = %v, decimal says %v", da, db, got, da.Add(db))
		}
		if got, ok := a.Sub(b); ok && !same(got, da.Sub(db)) {
			t.Fatalf("%v - %v = %v, decimal says %v", da, db, got, da.Sub(db))
		}
		if got, ok := a.Mul(b); ok && !same(got, da.Mul(db)) {
			t.Fatalf("%v * %v = %v, decimal says %v", da, db, got, da.Mul(db))
		}
		if got, ok := a.Cmp(b); ok && got != da.Cmp(db) {
			t.Fatalf("cmp(%v, %v) = %d, decimal says %d", da, db, got, da.Cmp(db))
		}
		m := RoundingMode(mode % 4)
		if got, ok := a.Round(places, m); ok && !same(got, Round(da, places, m)) {
			t.Fatalf("round(%v, %d, %v) = %v, decimal says %v", da, places, m, got, Round(da, places, m))
		}
		if bc != 0 {
			if got, ok := DivFixed(a, b); ok && !same(got, Div(da, db)) {
				t.Fatalf("%v / %v = %v, decimal says %v", da, db, got, Div(da, db))
			}
		}
		if got, ok := FixedOf(da); ok && got != a || !ok && abs64(ac) < 1e18 {
			t.Fatalf("FixedOf(%v) = %v, %v", da, got, ok)
		}
		var s DecimalSlab
		if d := s.Decimal(a); !d.Equal(da) || d.Exponent() != da.Exponent() && ac != 0 {
			t.Fatalf("slab decimal of %v = %v", a, d)
		}
	})
}

func TestMirror(t *testing.T) {
	if !mirrorOK {
		t.Fatal("decimal.Decimal's layout changed: DecimalSlab falls back to allocating")
	}
}

// FuzzSum checks Sum against decimal.Decimal.Add, value and exponent.
func FuzzSum(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18})
	f.Fuzz(func(t *testing.T, data []byte) {
		var s, m Sum
		var want decimal.Decimal
		for i := 0; i+9 <= len(data); i += 9 {
			c := int64(0)
			for _, b := range data[i : i+8] {
				c = c<<8 | int64(b)
			}
			if data[i]&1 == 0 {
				c >>= data[i+1] % 64 // small values too
			}
			e := int32(int8(data[i+8])) % 20
			v := Fixed{c, e}
			if v.C == -1<<63 {
				continue
			}
			want = want.Add(v.Decimal())
			if i%2 == 0 {
				s.Add(v)
			} else {
				m.Add(v)
			}
		}
		s.Merge(&m)
		got := s.Decimal()
		if !got.Equal(want) || got.Exponent() != want.Exponent() && !want.IsZero() {
			t.Fatalf("sum = %v (exp %d), decimal says %v (exp %d)", got, got.Exponent(), want, want.Exponent())
		}
	})
}

// formatMoneyRef is the CLI's formatMoney, the reference for AppendMoney.
func formatMoneyRef(d decimal.Decimal, digits int32) string {
	if d.Exponent() >= -digits || d.Equal(d.Truncate(digits)) {
		return d.StringFixed(digits)
	}
	return d.String()
}

func FuzzAppendMoney(f *testing.F) {
	f.Add(int64(12999), int32(-2), int32(2))
	f.Add(int64(-5), int32(-6), int32(2))
	f.Add(int64(1234567), int32(-6), int32(2))
	f.Add(int64(7), int32(3), int32(0))
	f.Add(int64(0), int32(-8), int32(3))
	f.Fuzz(func(t *testing.T, c int64, e, digits int32) {
		e %= 25
		digits = (digits%5 + 5) % 5
		if c == -1<<63 {
			return
		}
		fx := Fixed{c, e}
		got := string(AppendMoney(nil, fx, digits))
		if want := formatMoneyRef(fx.Decimal(), digits); got != want {
			t.Fatalf("AppendMoney(%d×10^%d, %d) = %q, want %q", c, e, digits, got, want)
		}
	})
}

func BenchmarkFormatMoney(b *testing.B) {
	f := Fixed{1234567891, -6}
	d := f.Decimal()
	b.Run("decimal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = formatMoneyRef(d, 2)
		}
	})
	b.Run("fixed", func(b *testing.B) {
		b.ReportAllocs()
		var buf []byte
		for b.Loop() {
			buf = AppendMoney(buf[:0], f, 2)
		}
	})
}

// FuzzAppendScaled checks the stack buffer's digits against strconv's, for
// every number of places on either side of maxScaledPlaces.
func FuzzAppendScaled(f *testing.F) {
	f.Add(uint64(0), 2, false)
	f.Add(uint64(5), 2, true)
	f.Add(uint64(12999), 2, false)
	f.Add(uint64(1<<64-1), 0, true)
	f.Add(uint64(1<<64-1), maxScaledPlaces, false)
	f.Add(uint64(7), maxScaledPlaces+1, false)
	f.Fuzz(func(t *testing.T, v uint64, places int, neg bool) {
		places = (places%50 + 50) % 50
		got := string(appendScaled([]byte("x"), neg, v, places))
		if want := string(appendScaledLong([]byte("x"), neg, v, places)); got != want {
			t.Fatalf("appendScaled(%v, %d, %d) = %q, want %q", neg, v, places, got, want)
		}
	})
}
