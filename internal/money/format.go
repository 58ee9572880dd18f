package money

import "strconv"

// AppendMoney appends f as taxagg prints a money figure: with exactly
// digits decimal places when that drops no non-zero digit, else with all
// its places, trailing zeros trimmed (a tax_exact such as "1.234567"). It
// is the CLI's formatMoney(d, digits) —
//
//	if d.Exponent() >= -digits || d.Equal(d.Truncate(digits)) { return d.StringFixed(digits) }
//	return d.String()
//
// — on f's decimal, without allocating; FuzzAppendMoney checks it.
func AppendMoney(dst []byte, f Fixed, digits int32) []byte {
	u := abs64(f.C)
	neg := f.C < 0
	if f.E >= -digits {
		k := f.E + digits
		if u != 0 {
			if k > 19 {
				return append(dst, formatDecimal(f, digits)...)
			}
			hi, lo := mulU64(u, pow10u[k])
			if hi != 0 {
				return append(dst, formatDecimal(f, digits)...)
			}
			u = lo
		}
		return appendScaled(dst, neg, u, int(digits))
	}
	k := int64(-digits) - int64(f.E)
	if u == 0 || k <= 19 && u%pow10u[k] == 0 {
		if u != 0 {
			u /= pow10u[k]
		}
		return appendScaled(dst, neg, u, int(digits))
	}
	places := int(-f.E)
	for places > 0 && u%10 == 0 {
		u /= 10
		places--
	}
	return appendScaled(dst, neg, u, places)
}

func mulU64(a, b uint64) (hi, lo uint64) {
	if a == 0 || b == 0 {
		return 0, 0
	}
	lo = a * b
	if lo/b != a {
		return 1, lo
	}
	return 0, lo
}

// formatDecimal is the slow path of AppendMoney, for figures past 64 bits.
func formatDecimal(f Fixed, digits int32) string {
	d := f.Decimal()
	if d.Exponent() >= -digits || d.Equal(d.Truncate(digits)) {
		return d.StringFixed(digits)
	}
	return d.String()
}

// appendScaled appends v × 10^-places with exactly places decimals.
func appendScaled(dst []byte, neg bool, v uint64, places int) []byte {
	if neg {
		dst = append(dst, '-')
	}
	var buf [24]byte
	s := strconv.AppendUint(buf[:0], v, 10)
	if places == 0 {
		return append(dst, s...)
	}
	if len(s) <= places {
		dst = append(dst, '0', '.')
		for i := len(s); i < places; i++ {
			dst = append(dst, '0')
		}
		return append(dst, s...)
	}
	dst = append(dst, s[:len(s)-places]...)
	dst = append(dst, '.')
	return append(dst, s[len(s)-places:]...)
}
