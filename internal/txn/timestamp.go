package txn

import (
	"errors"
	"fmt"
	"strconv"
	"time"
)

// daysFromCivil returns the days since 1970-01-01 of the proleptic Gregorian
// date y-m-d (H. Hinnant's algorithm); m and d must be in range.
func daysFromCivil(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era = (y - 399) / 400
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era)*146097 + int64(doe) - 719468
}

func daysIn(y, m int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

func digits(b []byte) (int, bool) {
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, len(b) > 0
}

// civilDay parses YYYY-MM-DD at the start of b.
func civilDay(b []byte) (y, m, d int, ok bool) {
	if len(b) < 10 || b[4] != '-' || b[7] != '-' {
		return 0, 0, 0, false
	}
	y, ok1 := digits(b[0:4])
	m, ok2 := digits(b[5:7])
	d, ok3 := digits(b[8:10])
	if !ok1 || !ok2 || !ok3 || m < 1 || m > 12 || d < 1 || d > daysIn(y, m) {
		return 0, 0, 0, false
	}
	return y, m, d, true
}

// zoneCache remembers the UTC offset of the zone period last looked up, so
// that most timestamps need no time-zone database lookup.
type zoneCache struct {
	loc        *time.Location
	start, end int64 // unix seconds [start, end) where offset holds
	offset     int64
	valid      bool
}

func (z *zoneCache) offsetAt(sec int64) int64 {
	if z.loc == nil || z.loc == time.UTC {
		return 0
	}
	if z.valid && sec >= z.start && sec < z.end {
		return z.offset
	}
	t := time.Unix(sec, 0).In(z.loc)
	_, off := t.Zone()
	s, e := t.ZoneBounds()
	z.offset = int64(off)
	z.start, z.end = minSec, maxSec
	if !s.IsZero() {
		z.start = s.Unix()
	}
	if !e.IsZero() {
		z.end = e.Unix()
	}
	z.valid = true
	return z.offset
}

const (
	minSec = -1 << 63
	maxSec = 1<<63 - 1
)

var errDateShape = errors.New("want an RFC 3339 timestamp or YYYY-MM-DD")

// parseDay reads a date field: YYYY-MM-DD is the civil date itself; an RFC
// 3339 timestamp (T, t or a space between date and time; Z, z or ±hh:mm;
// any number of fraction digits; no leap second) is converted to the civil
// date in the zone of z.
func parseDay(b []byte, z *zoneCache) (Date, error) {
	d, _, err := parseStamp(b, z)
	return d, err
}

// parseStamp is parseDay that also returns the instant of a timestamp (the
// zero time for a plain date).
func parseStamp(b []byte, z *zoneCache) (Date, time.Time, error) {
	var at time.Time
	y, m, d, ok := civilDay(b)
	if !ok {
		if len(b) >= 10 && b[4] == '-' && b[7] == '-' {
			return 0, at, fmt.Errorf("%s is not a valid date", quoteShort(b))
		}
		return 0, at, fmt.Errorf("%s is not a date (%w)", quoteShort(b), errDateShape)
	}
	if !YearInRange(y) {
		return 0, at, fmt.Errorf("%s is %w", quoteShort(b), ErrYearRange)
	}
	days := daysFromCivil(y, m, d)
	if len(b) == 10 {
		return Date(days), at, nil
	}
	bad := func() (Date, time.Time, error) {
		return 0, at, fmt.Errorf("%s is not a date (%w)", quoteShort(b), errDateShape)
	}
	t := b[10:]
	if t[0] != 'T' && t[0] != 't' && t[0] != ' ' {
		return bad()
	}
	t = t[1:]
	if len(t) < 9 || t[2] != ':' || t[5] != ':' {
		return bad()
	}
	hh, ok1 := digits(t[0:2])
	mm, ok2 := digits(t[3:5])
	ss, ok3 := digits(t[6:8])
	if !ok1 || !ok2 || !ok3 {
		return bad()
	}
	if hh > 23 || mm > 59 || ss > 59 {
		return 0, at, fmt.Errorf("%s is not a valid time", quoteShort(b))
	}
	t = t[8:]
	var nsec int64
	if t[0] == '.' {
		k := 1
		for k < len(t) && '0' <= t[k] && t[k] <= '9' {
			if k <= 9 {
				nsec = nsec*10 + int64(t[k]-'0')
			}
			k++
		}
		for i := k; i <= 9; i++ {
			nsec *= 10
		}
		if k == 1 {
			return bad()
		}
		t = t[k:]
	}
	var off int64
	switch {
	case len(t) == 1 && (t[0] == 'Z' || t[0] == 'z'):
	case len(t) == 6 && (t[0] == '+' || t[0] == '-') && t[3] == ':':
		oh, ok1 := digits(t[1:3])
		om, ok2 := digits(t[4:6])
		if !ok1 || !ok2 {
			return bad()
		}
		if oh > 23 || om > 59 {
			return 0, at, fmt.Errorf("%s has an invalid zone offset", quoteShort(b))
		}
		off = int64(oh*3600 + om*60)
		if t[0] == '-' {
			off = -off
		}
	default:
		return bad()
	}
	sec := days*86400 + int64(hh*3600+mm*60+ss) - off
	local := sec + z.offsetAt(sec)
	return Date(floorDiv(local, 86400)), time.Unix(sec, nsec).UTC(), nil
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// quoteShort quotes b for an error message, cut to a readable length.
func quoteShort(b []byte) string {
	const max = 40
	if len(b) > max {
		return strconv.Quote(string(b[:max])) + "..."
	}
	return strconv.Quote(string(b))
}
