package money

import (
	"fmt"
	"math/big"
	"strings"

	"github.com/shopspring/decimal"
)

// MaxIntegerDigits is the most integer digits an input amount may carry.
const MaxIntegerDigits = 18

// DivisionPlaces is how many decimal places a division is carried to (half
// even) before its result is used further.
const DivisionPlaces = 12

// ParseDecimal reads a decimal written as [-]digits[.digits]: no exponent, no
// plus sign, no grouping separators, no NaN or Infinity, no leading or
// trailing point, at most MaxIntegerDigits integer digits. The text is read
// exactly; it never passes through a binary float.
func ParseDecimal(s string) (decimal.Decimal, error) {
	f, fits, fracDigits, err := parseFixed(s)
	if err != nil || fits {
		return decimal.New(f.C, f.E), err
	}
	var b big.Int
	b.SetString(strings.Replace(strings.TrimPrefix(s, "-"), ".", "", 1), 10)
	if s[0] == '-' {
		b.Neg(&b)
	}
	return decimal.NewFromBigInt(&b, -int32(fracDigits)), nil
}

// ParseFixed is ParseDecimal into a Fixed, without allocating: the same
// grammar and errors, the coefficient and exponent that ParseDecimal's
// result has. fits is false (with no error) for a valid decimal of more
// than 18 digits, which only ParseDecimal can hold.
func ParseFixed(s string) (f Fixed, fits bool, err error) {
	f, fits, _, err = parseFixed(s)
	return f, fits, err
}

// parseFixed is ParseFixed that also returns the number of fraction digits.
func parseFixed(s string) (f Fixed, fits bool, fracDigits int, err error) {
	_, fracDigits, err = checkDecimal(s)
	if err != nil {
		return Fixed{}, false, 0, err
	}
	neg := s[0] == '-'
	digits := s
	if neg {
		digits = s[1:]
	}
	// Build the coefficient from the digits alone, skipping the point;
	// leading zeros do not count towards the 18 digits that fit.
	var coef int64
	n := 0
	for i := 0; i < len(digits); i++ {
		c := digits[i]
		if c == '.' || c == '0' && coef == 0 {
			continue
		}
		if n++; n > 18 {
			return Fixed{}, false, fracDigits, nil
		}
		coef = coef*10 + int64(c-'0')
	}
	if neg {
		coef = -coef
	}
	return Fixed{coef, -int32(fracDigits)}, true, fracDigits, nil
}

// checkDecimal validates the grammar and returns the number of integer
// digits (ignoring leading zeros) and fraction digits.
func checkDecimal(s string) (intDigits, fracDigits int, err error) {
	if s == "" {
		return 0, 0, errDecimal(s, "is empty, not a decimal")
	}
	i := 0
	if s[0] == '-' {
		i++
	}
	start := i
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	intLen := i - start
	if i < len(s) && s[i] == '.' {
		i++
		fstart := i
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		fracDigits = i - fstart
		if fracDigits == 0 {
			return 0, 0, errDecimal(s, "is not a decimal")
		}
	}
	if intLen == 0 || i != len(s) {
		lower := strings.ToLower(s)
		switch {
		case strings.ContainsAny(lower, "e") && !strings.Contains(lower, "n"):
			return 0, 0, errDecimal(s, "is not a decimal: exponents are not allowed")
		case strings.Contains(lower, "nan") || strings.Contains(lower, "inf"):
			return 0, 0, errDecimal(s, "is not a decimal")
		}
		if hint := formattedHint(s); hint != "" {
			return 0, 0, errDecimal(s, "is not a decimal: "+hint)
		}
		return 0, 0, errDecimal(s, "is not a decimal")
	}
	// Significant integer digits: leading zeros do not count.
	sig := intLen
	for j := start; j < start+intLen-1 && s[j] == '0'; j++ {
		sig--
	}
	if sig > MaxIntegerDigits {
		return 0, 0, errDecimal(s, fmt.Sprintf("has more than %d integer digits", MaxIntegerDigits))
	}
	return sig, fracDigits, nil
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// formattedHint explains a number written for people: with a currency
// symbol or code, thousands separators or spaces. It suggests the plain
// form when the text is unambiguous (commas grouping thousands, a point
// before the decimals): "$1,234.50" → write 1234.50.
func formattedHint(s string) string {
	if t := strings.TrimSpace(s); t != s {
		if _, _, err := checkDecimal(t); err == nil {
			return fmt.Sprintf("write %s, without the spaces around it", t)
		}
		s = t
	}
	var symbol, sep bool
	var plain strings.Builder
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9', r == '.', r == '-':
			plain.WriteRune(r)
		case r == ',' || r == ' ' || r == '\'' || r == '_' || r == '\u00a0' || r == '\u202f':
			sep = true
		case r == '$' || r == '€' || r == '£' || r == '¥' || r == '₹' || (r >= 'A' && r <= 'Z') || (r >= 'a' && r <= 'z'):
			symbol = true
		default:
			return ""
		}
	}
	if (!symbol && !sep) || !strings.ContainsAny(s, "0123456789") {
		return ""
	}
	what := "a currency symbol"
	switch {
	case symbol && sep:
		what = "a currency symbol or thousands separators"
	case sep:
		what = "thousands separators or spaces"
	}
	if p := plain.String(); p != "" && (!sep || thousandsGrouped(s)) {
		if _, _, err := checkDecimal(p); err == nil {
			return fmt.Sprintf("write %s (digits and a point, without %s)", p, what)
		}
	}
	return "write digits and a point only, without " + what + " (1234.50)"
}

// thousandsGrouped reports whether the digits before the point are grouped
// by commas in threes (1,234 or 12,345,678), so that dropping the commas
// keeps the value.
func thousandsGrouped(s string) bool {
	start := strings.IndexFunc(s, func(r rune) bool { return r >= '0' && r <= '9' })
	if start < 0 {
		return false
	}
	end := strings.IndexByte(s, '.')
	if end < 0 {
		end = len(s)
	}
	end = strings.LastIndexFunc(s[:end], func(r rune) bool { return r >= '0' && r <= '9' || r == ',' }) + 1
	if end <= start || strings.ContainsAny(s[end:], ",") {
		return false
	}
	groups := strings.Split(s[start:end], ",")
	if len(groups) < 2 || len(groups[0]) > 3 {
		return false
	}
	for _, g := range groups[1:] {
		if len(g) != 3 {
			return false
		}
	}
	return true
}

// DecimalError says why a text is not an acceptable decimal.
type DecimalError struct {
	Text   string
	Reason string
}

func (e *DecimalError) Error() string { return fmt.Sprintf("%q %s", e.Text, e.Reason) }

func errDecimal(s, reason string) error {
	const maxShown = 40
	if len(s) > maxShown {
		s = s[:maxShown] + "..."
	}
	return &DecimalError{Text: s, Reason: reason}
}

// ParseAmount reads an amount of the given currency: a decimal with at most
// the currency's minor-unit digits after the point.
func ParseAmount(s string, cur Currency) (decimal.Decimal, error) {
	d, err := ParseDecimal(s)
	if err != nil {
		return d, err
	}
	if err := checkPlaces(s, cur); err != nil {
		return decimal.Decimal{}, err
	}
	return d, nil
}

// ParseAmountFixed is ParseAmount into a Fixed, as ParseFixed is to
// ParseDecimal.
func ParseAmountFixed(s string, cur Currency) (f Fixed, fits bool, err error) {
	if f, fits, err = ParseFixed(s); err != nil {
		return Fixed{}, false, err
	}
	if err := checkPlaces(s, cur); err != nil {
		return Fixed{}, false, err
	}
	return f, fits, nil
}

// checkPlaces checks that an amount has no more fraction digits than its
// currency's minor unit.
func checkPlaces(s string, cur Currency) error {
	if places := fractionDigits(s); places > int(cur.Digits) {
		return errDecimal(s, fmt.Sprintf("has %d fraction digits; %s allows %d", places, cur.Code, cur.Digits))
	}
	return nil
}

func fractionDigits(s string) int {
	if i := strings.IndexByte(s, '.'); i >= 0 {
		return len(s) - i - 1
	}
	return 0
}

// Div divides a by b, carried to DivisionPlaces decimal places with ties to
// even, as the contract prescribes for every division. b must not be zero.
func Div(a, b decimal.Decimal) decimal.Decimal {
	q, r := a.QuoRem(b, DivisionPlaces)
	if r.IsZero() {
		return q
	}
	// |r| < |b|·10^-places; compare the dropped fraction with one half.
	unit := decimal.New(1, -DivisionPlaces)
	twice := r.Abs().Mul(decimal.NewFromInt(2))
	bound := b.Abs().Mul(unit)
	away := false
	switch twice.Cmp(bound) {
	case 1:
		away = true
	case 0:
		// A tie: keep the even last digit.
		last := q.Shift(DivisionPlaces).Abs().BigInt()
		away = last.Bit(0) == 1
	}
	if !away {
		return q
	}
	// The quotient's sign is the sign of a/b.
	if a.Sign()*b.Sign() < 0 {
		return q.Sub(unit)
	}
	return q.Add(unit)
}
