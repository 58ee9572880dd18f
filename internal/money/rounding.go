package money

import (
	"fmt"

	"github.com/shopspring/decimal"
)

// RoundingMode names how a figure is brought to a number of places.
type RoundingMode uint8

const (
	// HalfUp rounds to nearest, ties away from zero (the default).
	HalfUp RoundingMode = iota
	// HalfEven rounds to nearest, ties to the even digit (banker's rounding).
	HalfEven
	// Up rounds away from zero.
	Up
	// Down rounds toward zero (truncates).
	Down
)

var modeNames = [...]string{HalfUp: "half_up", HalfEven: "half_even", Up: "up", Down: "down"}

func (m RoundingMode) String() string {
	if int(m) < len(modeNames) {
		return modeNames[m]
	}
	return fmt.Sprintf("RoundingMode(%d)", m)
}

// ParseRoundingMode reads a mode by its rule-file name.
func ParseRoundingMode(s string) (RoundingMode, bool) {
	for i, n := range modeNames {
		if n == s {
			return RoundingMode(i), true
		}
	}
	return 0, false
}

// Round brings d to the given number of decimal places with mode m.
func Round(d decimal.Decimal, places int32, m RoundingMode) decimal.Decimal {
	switch m {
	case HalfEven:
		return d.RoundBank(places)
	case Up:
		return d.RoundUp(places)
	case Down:
		return d.RoundDown(places)
	default:
		return d.Round(places)
	}
}

// Format prints d with exactly the given number of decimal places, which the
// caller has already rounded to. It never prints an exponent.
func Format(d decimal.Decimal, places int32) string {
	return d.StringFixed(places)
}
