package billing

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/taxagg/taxagg/internal/money"
	"github.com/taxagg/taxagg/internal/txn"
)

var errMissing = errors.New("is required")

// rawText returns the text of a JSON scalar: a string's content, a number's
// literal, "true"/"false". ok is false for null or an absent value.
func rawText(raw json.RawMessage) (text string, ok bool, err error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", false, nil
	}
	switch raw[0] {
	case '"':
		return unquote(raw), true, nil
	case '{', '[':
		return "", false, fmt.Errorf("is %s, not a scalar", kindOf(raw[0]))
	}
	return string(raw), true, nil
}

func kindOf(c byte) string {
	if c == '{' {
		return "an object"
	}
	return "an array"
}

// currencyOf checks an ISO 4217 code and returns it upper-cased with its
// minor-unit digits.
func currencyOf(code string) (money.Currency, error) {
	if code == "" {
		return money.Currency{}, errMissing
	}
	c, ok := money.LookupCurrency(code)
	if !ok {
		return money.Currency{}, fmt.Errorf("%q is not an ISO 4217 currency", code)
	}
	return internCurrency(c), nil
}

// internCurrency shares one string per code among records.
func internCurrency(c money.Currency) money.Currency {
	switch c.Code {
	case "USD":
		c.Code = "USD"
	case "EUR":
		c.Code = "EUR"
	case "GBP":
		c.Code = "GBP"
	case "JPY":
		c.Code = "JPY"
	case "CAD":
		c.Code = "CAD"
	}
	return c
}

// minorUnits reads an integer count of minor units and converts it to major
// units with the given number of digits.
func minorUnits(text string, digits int32) (decimal.Decimal, error) {
	if strings.IndexByte(text, '.') >= 0 {
		return decimal.Decimal{}, fmt.Errorf("%q is not a whole number of minor units", text)
	}
	d, err := money.ParseDecimal(text)
	if err != nil {
		return d, err
	}
	return d.Shift(-digits), nil
}

// majorUnits reads a decimal in major units of cur.
func majorUnits(text string, cur money.Currency) (decimal.Decimal, error) {
	return money.ParseAmount(text, cur)
}

// parseTime reads an RFC 3339 timestamp or a YYYY-MM-DD date (midnight UTC).
func parseTime(s string) (time.Time, error) {
	if t, ok := parseDate(s); ok {
		return t, nil
	}
	if len(s) == 10 {
		t, err := time.Parse("2006-01-02", s)
		if err != nil {
			return time.Time{}, fmt.Errorf("%q is not a valid date", s)
		}
		return inYears(t, s)
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not an RFC 3339 timestamp or a YYYY-MM-DD date", s)
	}
	return inYears(t.UTC(), s)
}

// parseUnix reads unix seconds.
func parseUnix(s string) (time.Time, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not unix seconds", s)
	}
	return inYears(time.Unix(n, 0).UTC(), s)
}

// inYears refuses a time outside the years taxagg accepts (txn.MinYear to
// txn.MaxYear): a far date is a typing or export error, and one near the
// ends of time.Time's range would break date arithmetic downstream.
func inYears(t time.Time, s string) (time.Time, error) {
	if !txn.YearInRange(t.Year()) {
		return time.Time{}, fmt.Errorf("%q is %w", s, txn.ErrYearRange)
	}
	return t, nil
}

// parseDate reads YYYY-MM-DD quickly; ok is false for anything else (and
// for dates time.Parse would reject), which parseTime then reads the slow
// way.
func parseDate(s string) (time.Time, bool) {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return time.Time{}, false
	}
	n := 0
	for i, c := range []byte(s) {
		if i == 4 || i == 7 {
			continue
		}
		if c < '0' || c > '9' {
			return time.Time{}, false
		}
		n = n*10 + int(c-'0')
	}
	y, m, d := n/10000, n/100%100, n%100
	if !txn.YearInRange(y) || m < 1 || m > 12 || d < 1 || d > 28 && d > daysIn(time.Month(m), y) {
		return time.Time{}, false
	}
	return time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC), true
}

func daysIn(m time.Month, year int) int {
	return time.Date(year, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}
