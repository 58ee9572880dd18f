package importer

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/shopspring/decimal"
)

// avalaraColumns maps the columns Import uses to the header names that
// carry them (case-insensitive). Old tables named the combined rate
// "CombinedRate".
var avalaraColumns = []struct {
	key      string
	names    []string
	required bool
}{
	{"state", []string{"State"}, true},
	{"zip", []string{"ZipCode", "Zip", "Zip Code"}, true},
	{"region", []string{"TaxRegionName"}, false},
	{"staterate", []string{"StateRate"}, true},
	{"combined", []string{"EstimatedCombinedRate", "CombinedRate"}, true},
	{"risk", []string{"RiskLevel"}, false},
}

type avalaraState struct {
	st   usState
	rate decimal.Decimal
	file string
	line int
}

type avalaraZip struct {
	state  string
	zip    string
	region string
	local  decimal.Decimal
	risk   string
	file   string
	line   int
}

func importAvalara(files []File, opt Options, q *quirks) (*document, error) {
	if opt.Effective.IsZero() {
		return nil, fmt.Errorf("import avalara-zip: %w: Avalara ZIP5 tables carry no date", ErrNoEffective)
	}
	from := dateOf(opt.Effective)
	states := map[string]*avalaraState{}
	zips := map[string]*avalaraZip{}
	doc := &document{}
	zero := 0
	for _, f := range files {
		n, z, err := readAvalara(f, states, zips, q)
		if err != nil {
			return nil, err
		}
		zero += z
		doc.sources = append(doc.sources, fmt.Sprintf("%s: Avalara ZIP5 rate table, %d rows", safeName(f.Name), n))
	}

	var names []string
	for _, s := range states {
		names = append(names, s.st.usps)
		code := "US-" + s.st.usps
		doc.jurisdictions = append(doc.jurisdictions, &jurisdiction{
			extend: true,
			code:   code,
			name:   s.st.name,
			level:  "state",
			match:  &match{country: "US", state: s.st.usps},
			taxes: []*tax{{
				id:    strings.ToLower(s.st.usps) + "-state", // the embedded pack's id: they merge
				name:  s.st.name + " state sales tax",
				rates: []rateEntry{{from: from, rate: s.rate}},
			}},
		})
	}
	sort.Strings(names)
	for _, z := range zips {
		code := "US-" + z.state + "-ZIP-" + z.zip
		name := z.state + " ZIP " + z.zip
		if z.region != "" {
			name = z.region + " (" + name + ")"
		}
		j := &jurisdiction{
			code:   code,
			name:   name,
			level:  "district",
			parent: "US-" + z.state,
			match:  &match{country: "US", state: z.state, postalCodes: []string{z.zip}},
		}
		if z.local.IsZero() {
			j.notes = "No local tax: the combined rate is the state rate."
		} else {
			j.taxes = []*tax{{
				id:    strings.ToLower(code),
				name:  name + " combined local sales tax (estimate)",
				rates: []rateEntry{{from: from, rate: z.local}},
				// Local taxes are on the state's base.
				taxabilityFrom: strings.ToLower(z.state) + "-state",
			}}
		}
		if isDigits(z.risk, 1, 3) && strings.TrimLeft(z.risk, "0") != "1" && strings.TrimLeft(z.risk, "0") != "" {
			j.notes = strings.TrimSpace(j.notes + " Avalara RiskLevel " + z.risk + ": the ZIP may span several local rate areas; the rate is an estimate.")
		}
		doc.jurisdictions = append(doc.jurisdictions, j)
	}
	doc.name = "Avalara ZIP5 rates: " + strings.Join(names, ", ")
	doc.source = "Avalara free ZIP5 sales tax rate tables (estimates)"
	doc.asOf = from
	doc.notes = []string{
		"One state jurisdiction per state (StateRate) and one local jurisdiction per ZIP with",
		"the combined local rate (EstimatedCombinedRate - StateRate), matched on postal_code.",
		fmt.Sprintf("ZIPs whose combined rate equals the state rate (no local tax; jurisdictions without taxes): %d.", zero),
	}
	return doc, nil
}

// readAvalara reads one table into states and zips; it returns the number
// of data rows and of rows without local tax.
func readAvalara(f File, states map[string]*avalaraState, zips map[string]*avalaraZip, q *quirks) (rows, zero int, err error) {
	src := newCSVSource(f)
	hdr, hline, err := src.next()
	if err == io.EOF {
		return 0, 0, &Error{File: f.Name, Err: errors.New("empty file: not an Avalara ZIP5 rate table")}
	}
	if err != nil {
		return 0, 0, err
	}
	col := map[string]int{}
	for _, c := range avalaraColumns {
		col[c.key] = -1
		for i, h := range hdr {
			for _, n := range c.names {
				if strings.EqualFold(h, n) {
					col[c.key] = i
				}
			}
		}
		if c.required && col[c.key] < 0 {
			return 0, 0, errAt(f.Name, hline, "not an Avalara ZIP5 rate table: the header line has no %s column "+
				"(want State,ZipCode,TaxRegionName,StateRate,EstimatedCombinedRate,...; got %q)", c.names[0], clip(strings.Join(hdr, ",")))
		}
	}
	for {
		rec, line, err := src.next()
		if err == io.EOF {
			if rows == 0 {
				return 0, 0, errAt(f.Name, hline, "no valid data rows after the header line")
			}
			return rows, zero, nil
		}
		if isRowError(err) {
			if err := q.corrupt(err); err != nil {
				return 0, 0, err
			}
			continue
		}
		if err != nil {
			return 0, 0, err
		}
		z, err := avalaraRow(f.Name, line, hdr, col, rec, states, zips, q)
		if err != nil {
			if err := q.corrupt(err); err != nil {
				return 0, 0, err
			}
			continue
		}
		if z == nil {
			continue // an exact duplicate, noted
		}
		rows++
		if z.local.IsZero() {
			zero++
		}
	}
}

// avalaraRow reads one data row; a nil row with a nil error is an exact
// duplicate of an earlier row (noted and dropped).
func avalaraRow(file string, line int, hdr []string, col map[string]int, rec []string,
	states map[string]*avalaraState, zips map[string]*avalaraZip, q *quirks) (*avalaraZip, error) {
	f := File{Name: file}
	{
		get := func(k string) string {
			if i := col[k]; i >= 0 && i < len(rec) {
				return rec[i]
			}
			return ""
		}
		if len(rec) != len(hdr) {
			return nil, errAt(f.Name, line, "has %d columns, the header %d", len(rec), len(hdr))
		}
		usps := strings.ToUpper(get("state"))
		st, ok := stateByUSPS(usps)
		if !ok {
			return nil, errAt(f.Name, line, "State: %q is not a US state abbreviation", clip(get("state")))
		}
		zip := get("zip")
		if !isDigits(zip, 5, 5) {
			return nil, errAt(f.Name, line, "ZipCode: %q is not a 5-digit ZIP code", clip(zip))
		}
		srate, err := parseRate(get("staterate"))
		if err != nil {
			return nil, errAt(f.Name, line, "StateRate: %v", err)
		}
		combined, err := parseRate(get("combined"))
		if err != nil {
			return nil, errAt(f.Name, line, "%s: %v", hdr[col["combined"]], err)
		}
		local := combined.Sub(srate)
		if local.IsNegative() {
			return nil, errAt(f.Name, line, "combined rate %s is below the state rate %s", combined, srate)
		}
		if s := states[usps]; s == nil {
			states[usps] = &avalaraState{st: st, rate: srate, file: f.Name, line: line}
		} else if !s.rate.Equal(srate) {
			return nil, errAt(f.Name, line, "StateRate %s differs from %s at %s:%d", srate, s.rate, s.file, s.line)
		}
		nz := &avalaraZip{state: usps, zip: zip, region: cleanText(get("region")), local: local,
			risk: clip(get("risk")), file: f.Name, line: line}
		if z := zips[usps+zip]; z != nil {
			if z.state == nz.state && z.region == nz.region && z.local.Equal(nz.local) && z.risk == nz.risk {
				return nil, q.note(f.Name, line, "duplicate of ZIP %s at %s:%d dropped", zip, z.file, z.line)
			}
			return nil, errAt(f.Name, line, "ZIP %s already given, with other rates, at %s:%d", zip, z.file, z.line)
		}
		zips[usps+zip] = nz // a ZIP on a state line is in both states' tables
		return nz, nil
	}
}
