package money

import (
	"slices"
	"strconv"
)

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
	if f.C == 0 && digits >= 0 && digits <= 8 {
		// Zero, at any exponent, prints with the currency's places.
		if digits == 0 {
			return append(dst, '0')
		}
		return append(dst, zeros[:digits+2]...)
	}
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

// appendScaled appends v × 10^-places with exactly places decimals. It
// counts the digits first and writes them backwards straight into dst,
// two at a time; a zero is a constant. Past maxScaledPlaces (a figure of
// that many places is not money but a fuzzer's) it goes through strconv.
func appendScaled(dst []byte, neg bool, v uint64, places int) []byte {
	if places > maxScaledPlaces {
		return appendScaledLong(dst, neg, v, places)
	}
	if v == 0 && !neg && places+2 <= len(zeros) {
		if places == 0 {
			return append(dst, '0')
		}
		return append(dst, zeros[:places+2]...)
	}
	n := 1 // digits of v
	for n < len(pow10u) && v >= pow10u[n] {
		n++
	}
	width := n
	if places > 0 {
		width = max(n, places+1) + 1
	}
	if neg {
		width++
	}
	dst = slices.Grow(dst, width)
	start := len(dst)
	dst = dst[:start+width]
	b := dst[start:]
	i := width
	if places > 0 {
		k := places
		for ; k >= 2; k -= 2 {
			q := v / 100
			d := 2 * (v - q*100)
			i -= 2
			b[i], b[i+1] = twoDigits[d], twoDigits[d+1]
			v = q
		}
		if k == 1 {
			i--
			b[i] = byte('0' + v%10)
			v /= 10
		}
		i--
		b[i] = '.'
	}
	for v >= 100 {
		q := v / 100
		d := 2 * (v - q*100)
		i -= 2
		b[i], b[i+1] = twoDigits[d], twoDigits[d+1]
		v = q
	}
	if v >= 10 {
		i -= 2
		b[i], b[i+1] = twoDigits[2*v], twoDigits[2*v+1]
	} else {
		i--
		b[i] = byte('0' + v)
	}
	if neg {
		b[0] = '-' // i is 1 here: width counted the sign
	}
	return dst
}

// maxScaledPlaces bounds the places appendScaled writes itself.
const maxScaledPlaces = 40

// zeros is zero with up to 8 places: zeros[:places+2].
const zeros = "0.00000000"

// twoDigits holds "00" to "99", for writing two digits at a time.
const twoDigits = "0001020304050607080910111213141516171819" +
	"2021222324252627282930313233343536373839" +
	"4041424344454647484950515253545556575859" +
	"6061626364656667686970717273747576777879" +
	"8081828384858687888990919293949596979899"

// appendScaledLong is appendScaled for any number of places.
func appendScaledLong(dst []byte, neg bool, v uint64, places int) []byte {
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
