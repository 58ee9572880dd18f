package money

import "github.com/shopspring/decimal"

// FormatExact prints an amount with the currency's minor unit, or exactly
// when it carries more digits (a tax rounded only in aggregate): how
// tax_exact and unrounded tax amounts are printed.
func FormatExact(d decimal.Decimal, digits int32) string {
	if d.Exponent() >= -digits || d.Equal(d.Truncate(digits)) {
		return d.StringFixed(digits)
	}
	return d.String()
}
