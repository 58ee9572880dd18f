package importer

import (
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Effective dates carried by official file names:
//
//	WIR2026Q2FEB18.csv, GAB2026Q2FEB19.zip  SST: the quarter 2026Q2 -> 2026-04-01
//	TAXRATES_ZIP5_WA201809.csv              Avalara: year and month -> 2018-09-01
//	SalesTaxRates1-1-26.csv                 CDTFA: month-day-year -> 2026-01-01
//	taxrates-2019Q1.js, Rates_2024Q3.csv    WA DOR: the quarter -> 2019-01-01
var (
	sstNameRE     = regexp.MustCompile(`^[A-Za-z]{2}[RBrb](\d{4})[Qq]([1-4])`)
	avalaraNameRE = regexp.MustCompile(`(?i)TAXRATES_ZIP5_[A-Z]{2}(\d{4})(\d{2})`)
	cdtfaNameRE   = regexp.MustCompile(`(?i)SalesTaxRates(\d{1,2})-(\d{1,2})-(\d{4}|\d{2})`)
	quarterNameRE = regexp.MustCompile(`(?i)(?:^|[^0-9])(\d{4})[-_ ]?Q([1-4])(?:[^0-9]|$)`)
)

// dateFromName returns the effective date a file name carries for the
// format, and false when it carries none. Only the base name counts (for
// an archive member, the member's name, then the archive's).
func dateFromName(format Format, name string) (time.Time, bool) {
	for _, part := range reverse(strings.Split(name, ":")) {
		base := path.Base(strings.ReplaceAll(part, "\\", "/"))
		if t, ok := dateFromBase(format, base); ok {
			return t, true
		}
	}
	return time.Time{}, false
}

func reverse(s []string) []string {
	for i, j := 0, len(s)-1; i < j; i, j = i+1, j-1 {
		s[i], s[j] = s[j], s[i]
	}
	return s
}

func dateFromBase(format Format, base string) (time.Time, bool) {
	atoi := func(s string) int { n, _ := strconv.Atoi(s); return n }
	quarter := func(y, q string) (time.Time, bool) {
		yy := atoi(y)
		if yy < 1990 || yy > 2100 {
			return time.Time{}, false
		}
		return time.Date(yy, time.Month(3*(atoi(q)-1)+1), 1, 0, 0, 0, 0, time.UTC), true
	}
	switch format {
	case FormatSST:
		if m := sstNameRE.FindStringSubmatch(base); m != nil {
			return quarter(m[1], m[2])
		}
	case FormatAvalaraZip:
		if m := avalaraNameRE.FindStringSubmatch(base); m != nil {
			y, mo := atoi(m[1]), atoi(m[2])
			if y >= 1990 && y <= 2100 && mo >= 1 && mo <= 12 {
				return time.Date(y, time.Month(mo), 1, 0, 0, 0, 0, time.UTC), true
			}
		}
	case FormatCDTFA:
		if m := cdtfaNameRE.FindStringSubmatch(base); m != nil {
			mo, d, y := atoi(m[1]), atoi(m[2]), atoi(m[3])
			if y < 100 {
				y += 2000
			}
			t := time.Date(y, time.Month(mo), d, 0, 0, 0, 0, time.UTC)
			if mo >= 1 && mo <= 12 && t.Day() == d {
				return t, true
			}
		}
	case FormatWADOR:
		if m := quarterNameRE.FindStringSubmatch(base); m != nil {
			return quarter(m[1], m[2])
		}
	}
	return time.Time{}, false
}
