package importer

import (
	_ "embed"
	"strings"
	"sync"
)

// County and place names for SST jurisdictions, whose files carry only
// FIPS codes.
//
// fipsdata/counties.txt is the US Census Bureau's county FIPS code list
// (national_county.txt, 2010 codes: state and county FIPS, county name),
// reduced to "SSCCC|Name" lines. fipsdata/places.txt holds the names of
// municipalities (incorporated places, and the towns and townships that are
// governments) from the Census Bureau's 2020 and 2010 place code lists as
// "SSPPPPP|Name" lines, the name written as it goes on a return ("City of
// Atlanta", "Town of Avalon", "Charter Township of Ann Arbor"); the file's
// header says how. A place it does not list is named by its code.
var (
	//go:embed fipsdata/counties.txt
	countiesTxt string
	//go:embed fipsdata/places.txt
	placesTxt string
)

var fipsNames = sync.OnceValue(func() map[string]string {
	m := map[string]string{}
	for _, txt := range []string{countiesTxt, placesTxt} {
		for _, line := range strings.Split(txt, "\n") {
			line = strings.TrimSpace(line)
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			code, name, ok := strings.Cut(line, "|")
			if ok {
				m[code] = strings.TrimSpace(name)
			}
		}
	}
	return m
})

// countyName is "Fulton County" for GA county 121, or a description of the
// code when the table does not know it.
func countyName(st usState, code string) string {
	if n, ok := fipsNames()[st.fips+code]; ok {
		return n
	}
	return st.usps + " county " + code + " (FIPS " + st.fips + code + ")"
}

// placeName is "City of Atlanta" for GA place 04000 ("Town of Avalon" for
// 04392), or a description of the code when the table does not know it.
func placeName(st usState, code string) string {
	if n, ok := fipsNames()[st.fips+code]; ok {
		return n
	}
	return st.usps + " city " + code + " (FIPS place " + st.fips + code + ")"
}
