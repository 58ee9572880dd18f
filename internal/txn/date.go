package txn

import (
	"errors"
	"fmt"
	"time"
)

// Date is a civil date (no time, no zone), counted in days since 1970-01-01.
// It orders and compares as an integer, which keeps rate lookups cheap.
type Date int32

// MinYear and MaxYear bound the dates taxagg accepts in its inputs
// (transactions, billing records, ledgers): a year outside them is bad
// input, not a date to compute with. Far dates are typing or export errors
// (0000-01-01, a unix time of 2^63-1) that would otherwise give zero tax
// silently, break date arithmetic or make nexus emit centuries of rows.
const (
	MinYear = 1900
	MaxYear = 2999
)

// YearInRange reports whether y lies within MinYear..MaxYear.
func YearInRange(y int) bool { return MinYear <= y && y <= MaxYear }

// ErrYearRange is the reason given for a date outside MinYear..MaxYear.
var ErrYearRange = errors.New("outside the years 1900-2999")

// DateOf returns the civil date of y-m-d.
func DateOf(y int, m time.Month, d int) Date {
	t := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	return Date(t.Unix() / 86400)
}

// CivilDate returns the civil date of t in t's own location.
func CivilDate(t time.Time) Date {
	y, m, d := t.Date()
	return DateOf(y, m, d)
}

// Time returns midnight UTC of the date.
func (d Date) Time() time.Time { return time.Unix(int64(d)*86400, 0).UTC() }

// String prints the date as YYYY-MM-DD.
func (d Date) String() string { return d.Time().Format("2006-01-02") }

// ParseDate reads a strict YYYY-MM-DD date, rejecting impossible days such as
// 2025-02-30.
func ParseDate(s string) (Date, error) {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return 0, fmt.Errorf("%q is not a date (want YYYY-MM-DD)", s)
	}
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a valid date", s)
	}
	return CivilDate(t), nil
}
