package txn

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/taxagg/taxagg/internal/money"
)

const base = `"id":"t1","date":"2025-03-04","currency":"USD","country":"US"`

func obj(fields string) string {
	if fields == "" {
		return "{" + base + "}"
	}
	return "{" + base + "," + fields + "}"
}

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func TestParseJSONErrors(t *testing.T) {
	tests := []struct {
		in   string
		want string // FieldError text
	}{
		// JSON itself
		{``, "invalid JSON at byte 0: empty record, want an object"},
		{`[]`, "invalid JSON at byte 0: record is not a JSON object"},
		{`{"id":"a"`, "invalid JSON at byte 9: unexpected end of record"},
		{`{"id":"a"} x`, "invalid JSON at byte 11: unexpected 'x' after the object"},
		{`{"id":"a\x"}`, `invalid JSON at byte 8: invalid escape "\\x" in string`},
		{"{\"id\":\"a\xff\"}", "invalid JSON at byte 8: invalid UTF-8 in string"},
		{"{\"id\":\"a\nb\"}", "invalid JSON at byte 8: control character 0x0a in string"},
		{`{"id":01}`, "invalid JSON at byte 6: invalid number"},
		{`{"id":tru}`, "invalid JSON at byte 6: invalid literal (want true, false or null)"},
		{`{"id" "a"}`, `invalid JSON at byte 6: unexpected '"' after an object key`},
		{`{"a":1,}`, `invalid JSON at byte 7: unexpected '}' where an object key should be`},
		{`{"a":[1,]}`, `invalid JSON at byte 8: unexpected ']' where a value should be`},
		{`{"a":` + strings.Repeat("[", 300) + strings.Repeat("]", 300) + `}`, "invalid JSON at byte 260: nesting deeper than 256"},
		// duplicates
		{`{"id":"a","id":"b"}`, "id: duplicate key"},
		{`{"x":1,"x":2}`, "x: duplicate key"},
		{`{"id":"a","\u0069d":"b"}`, "id: duplicate key"},
		// id
		{`{"date":"2025-01-01"}`, "id: is required"},
		{`{"id":null}`, "id: is required"},
		{`{"id":""}`, "id: is empty"},
		{`{"id":42}`, "id: 42 is not a string"},
		// date
		{`{"id":"a"}`, "date: is required"},
		{`{"id":"a","date":"2025-02-30"}`, `date: "2025-02-30" is not a valid date`},
		{`{"id":"a","date":"2025-13-01"}`, `date: "2025-13-01" is not a valid date`},
		{`{"id":"a","date":"2025-1-01"}`, `date: "2025-1-01" is not a date (want an RFC 3339 timestamp or YYYY-MM-DD)`},
		{`{"id":"a","date":"2025-01-01T25:00:00Z"}`, `date: "2025-01-01T25:00:00Z" is not a valid time`},
		{`{"id":"a","date":"2025-01-01T10:00:00"}`, `date: "2025-01-01T10:00:00" is not a date (want an RFC 3339 timestamp or YYYY-MM-DD)`},
		{`{"id":"a","date":"2025-01-01T10:00:00+25:00"}`, `date: "2025-01-01T10:00:00+25:00" has an invalid zone offset`},
		{`{"id":"a","date":20250101}`, `date: 20250101 is not a string`},
		// type, original_date
		{obj(`"type":"gift"`), `type: "gift" is not sale or refund`},
		{obj(`"type":1`), `type: 1 is not a string`},
		{obj(`"original_date":"2025-02-29"`), `original_date: "2025-02-29" is not a valid date`},
		// currency
		{`{"id":"a","date":"2025-01-01"}`, "currency: is required"},
		{`{"id":"a","date":"2025-01-01","currency":"XYZ"}`, `currency: "XYZ" is not an ISO 4217 currency code`},
		{`{"id":"a","date":"2025-01-01","currency":"XAU"}`, `currency: "XAU" is not an ISO 4217 currency code`},
		// amount
		{obj(``), "amount: is required"},
		{obj(`"amount":"12.3.4"`), `amount: "12.3.4" is not a decimal`},
		{obj(`"amount":"1e3"`), `amount: "1e3" is not a decimal: exponents are not allowed`},
		{obj(`"amount":1e3`), `amount: "1e3" is not a decimal: exponents are not allowed`},
		{obj(`"amount":"NaN"`), `amount: "NaN" is not a decimal`},
		{obj(`"amount":"Infinity"`), `amount: "Infinity" is not a decimal`},
		{obj(`"amount":""`), `amount: "" is empty, not a decimal`},
		{obj(`"amount":"+5"`), `amount: "+5" is not a decimal`},
		{obj(`"amount":".5"`), `amount: ".5" is not a decimal`},
		{obj(`"amount":"5."`), `amount: "5." is not a decimal`},
		{obj(`"amount":"1,234.50"`), `amount: "1,234.50" is not a decimal: write 1234.50 (digits and a point, without thousands separators or spaces)`},
		{obj(`"amount":"1234567890123456789"`), `amount: "1234567890123456789" has more than 18 integer digits`},
		{obj(`"amount":"1.234"`), `amount: "1.234" has 3 fraction digits; USD allows 2`},
		{obj(`"amount":1.234`), `amount: "1.234" has 3 fraction digits; USD allows 2`},
		{obj(`"amount":"-5"`), `amount: "-5" is negative: amounts are given positive (a refund has type refund)`},
		{obj(`"amount":-0`), `amount: "-0" is negative: amounts are given positive (a refund has type refund)`},
		{obj(`"amount":true`), `amount: true is not a decimal`},
		{obj(`"amount":{"v":1}`), `amount: {"v":1} is not a decimal`},
		// quantity
		{obj(`"amount":"1","quantity":"0"`), `quantity: "0" is not positive`},
		{obj(`"amount":"1","quantity":"-2"`), `quantity: "-2" is not positive`},
		{obj(`"amount":"1","quantity":"0.000"`), `quantity: "0.000" is not positive`},
		{obj(`"amount":"1","quantity":"x"`), `quantity: "x" is not a decimal`},
		// tax_included, product, strings
		{obj(`"amount":"1","tax_included":"yes"`), `tax_included: "yes" is not true or false`},
		{obj(`"amount":"1","tax_included":1`), `tax_included: 1 is not true or false`},
		{obj(`"amount":"1","product":5`), `product: 5 is not a string`},
		{obj(`"amount":"1","customer":["c"]`), `customer: ["c"] is not a string`},
		{`{"id":"a","date":"2025-01-01","currency":"USD","amount":"1"}`, "country: is required"},
		{`{"id":"a","date":"2025-01-01","currency":"USD","amount":"1","country":""}`, "country: is empty"},
		{obj(`"amount":"1","state":false`), `state: false is not a string`},
		// jurisdictions
		{obj(`"amount":"1","jurisdictions":"US-TX"`), `jurisdictions: "US-TX" is not a list of codes`},
		{obj(`"amount":"1","jurisdictions":["US-TX",7]`), `jurisdictions[1]: 7 is not a string`},
		{obj(`"amount":"1","jurisdictions":[""]`), `jurisdictions[0]: is empty`},
		// lines
		{obj(`"lines":{}`), `lines: {} is not a list of lines`},
		{obj(`"lines":[]`), `lines: is empty`},
		{obj(`"lines":[{"amount":"1"},5]`), `lines[1]: 5 is not an object`},
		{obj(`"lines":[{"amount":"1"},{}]`), `lines[1].amount: is required`},
		{obj(`"lines":[{"amount":"1"},{"amount":"12.3.4"}]`), `lines[1].amount: "12.3.4" is not a decimal`},
		{obj(`"lines":[{"amount":"1","quantity":0}]`), `lines[0].quantity: "0" is not positive`},
		{obj(`"lines":[{"amount":"1","product":1}]`), `lines[0].product: 1 is not a string`},
		{obj(`"lines":[{"amount":"1","tax_included":"no"}]`), `lines[0].tax_included: "no" is not true or false`},
		{obj(`"lines":[{"amount":"1","amount":"2"}]`), `lines[0].amount: duplicate key`},
		{obj(`"lines":[{"amount":"1","x":1,"x":2}]`), `lines[0].x: duplicate key`},
		{obj(`"amount":"1","lines":[{"amount":"1"}]`), `amount: is not allowed together with lines`},
		{obj(`"quantity":"1","lines":[{"amount":"1"}]`), `quantity: is not allowed together with lines`},
	}
	p := NewParser(ParseOptions{})
	for _, tt := range tests {
		var tx Transaction
		err := p.ParseJSON([]byte(tt.in), &tx)
		var fe *FieldError
		if err == nil || !errors.As(err, &fe) {
			t.Errorf("%s: got %v, want FieldError %q", tt.in, err, tt.want)
			continue
		}
		if err.Error() != tt.want {
			t.Errorf("%s:\n got %s\nwant %s", tt.in, err, tt.want)
		}
	}
}

func TestParseJSON(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Skip("no tz database:", err)
	}
	tests := []struct {
		in   string
		loc  *time.Location
		want Transaction
	}{
		{obj(`"amount":"129.99"`), nil, Transaction{ID: "t1", Day: DateOf(2025, 3, 4), RateDay: DateOf(2025, 3, 4),
			Currency: usd, Country: "US", Lines: []Line{{Amount: dec("129.99"), Quantity: dec("1"), Product: "default"}}}},
		{`{"id":"r\u00e9f","date":"2025-03-04T23:30:00-05:00","type":"Refund","original_date":"2024-12-31",` +
			`"currency":"jpy","amount":1500,"quantity":"2.5","product":"saas","tax_included":true,"customer":"cus_1",` +
			`"exempt_reason":"resale","country":"US","state":"NY","county":"Kings","city":"Brooklyn","postal_code":"11201",` +
			`"jurisdictions":["US-NY","US-NY-KINGS"],"unknown":{"deep":[1,2]}}`, nil,
			Transaction{ID: "réf", Day: DateOf(2025, 3, 5), RateDay: DateOf(2024, 12, 31), Refund: true,
				Currency: jpy, Customer: "cus_1", ExemptReason: "resale", Country: "US", State: "NY", County: "Kings",
				City: "Brooklyn", PostalCode: "11201", Jurisdictions: []string{"US-NY", "US-NY-KINGS"},
				Lines: []Line{{Amount: dec("1500"), Quantity: dec("2.5"), Product: "saas", TaxIncluded: true}}}},
		// The same timestamp in New York is still the 4th.
		{`{"id":"a","date":"2025-03-04T23:30:00-05:00","currency":"USD","country":"US","amount":"0"}`, ny,
			Transaction{ID: "a", Day: DateOf(2025, 3, 4), RateDay: DateOf(2025, 3, 4), Currency: usd, Country: "US",
				Lines: []Line{{Amount: dec("0"), Quantity: dec("1"), Product: "default"}}}},
		// A date-only value is the civil date whatever the zone.
		{`{"id":"a","date":"2025-03-04","currency":"USD","country":"US","amount":"0"}`, ny,
			Transaction{ID: "a", Day: DateOf(2025, 3, 4), RateDay: DateOf(2025, 3, 4), Currency: usd, Country: "US",
				Lines: []Line{{Amount: dec("0"), Quantity: dec("1"), Product: "default"}}}},
		// original_date on a sale does not move the rate date; nulls are absent.
		{obj(`"original_date":"2020-01-01","amount":"1.5","customer":null,"jurisdictions":[],"product":""`), nil,
			Transaction{ID: "t1", Day: DateOf(2025, 3, 4), RateDay: DateOf(2025, 3, 4), Currency: usd, Country: "US",
				Lines: []Line{{Amount: dec("1.5"), Quantity: dec("1"), Product: "default"}}}},
		// lines, with record-level defaults
		{obj(`"product":"food","tax_included":true,"lines":[{"amount":"10.00"},{"amount":5,"quantity":"3","product":"saas","tax_included":false}]`), nil,
			Transaction{ID: "t1", Day: DateOf(2025, 3, 4), RateDay: DateOf(2025, 3, 4), Currency: usd, Country: "US",
				Lines: []Line{{Amount: dec("10"), Quantity: dec("1"), Product: "food", TaxIncluded: true},
					{Amount: dec("5"), Quantity: dec("3"), Product: "saas"}}}},
		// Leap day, fractions of a second, lower-case t/z, space separator.
		{`{"id":"a","date":"2024-02-29t10:00:00.123456789z","currency":"USD","country":"US","amount":"0"}`, nil,
			Transaction{ID: "a", Day: DateOf(2024, 2, 29), RateDay: DateOf(2024, 2, 29), Currency: usd, Country: "US",
				Lines: []Line{{Amount: dec("0"), Quantity: dec("1"), Product: "default"}}}},
		{`{"id":"a","date":"2024-12-31 23:00:00-02:00","currency":"USD","country":"US","amount":"0"}`, nil,
			Transaction{ID: "a", Day: DateOf(2025, 1, 1), RateDay: DateOf(2025, 1, 1), Currency: usd, Country: "US",
				Lines: []Line{{Amount: dec("0"), Quantity: dec("1"), Product: "default"}}}},
	}
	for _, tt := range tests {
		p := NewParser(ParseOptions{Location: tt.loc})
		var tx Transaction
		if err := p.ParseJSON([]byte(tt.in), &tx); err != nil {
			t.Errorf("%s: %v", tt.in, err)
			continue
		}
		if !sameTx(tx, tt.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", tt.in, tx, tt.want)
		}
		if tx.IDHash != HashID(tx.ID) || tx.ContentHash == 0 {
			t.Errorf("%s: hashes %x %x", tt.in, tx.IDHash, tx.ContentHash)
		}
	}
}

var (
	usd = mustCur("USD")
	jpy = mustCur("JPY")
)

// sameTx compares transactions, decimals by value and hashes ignored.
func sameTx(a, b Transaction) bool {
	if len(a.Lines) != len(b.Lines) {
		return false
	}
	for i := range a.Lines {
		x, y := a.Lines[i], b.Lines[i]
		if !x.Amount.Equal(y.Amount) || !x.Quantity.Equal(y.Quantity) || x.Product != y.Product || x.TaxIncluded != y.TaxIncluded {
			return false
		}
	}
	return a.ID == b.ID && a.Day == b.Day && a.RateDay == b.RateDay && a.Refund == b.Refund &&
		a.Currency == b.Currency && a.Customer == b.Customer && a.ExemptReason == b.ExemptReason &&
		a.Country == b.Country && a.State == b.State && a.County == b.County && a.City == b.City &&
		a.PostalCode == b.PostalCode && reflect.DeepEqual(a.Jurisdictions, b.Jurisdictions)
}

func TestFields(t *testing.T) {
	p := NewParser(ParseOptions{})
	in := `{ "id" : "a", "x\u0079":  [1, {"z":2}] ,"date":"2025-01-01","currency":"USD","country":"US","amount":12.50}`
	var tx Transaction
	if err := p.ParseJSON([]byte(in), &tx); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range p.Fields() {
		got = append(got, string(f.Key)+"|"+string(f.RawKey)+"|"+string(f.Value))
	}
	want := []string{`id|"id"|"a"`, `xy|"x\u0079"|[1, {"z":2}]`, `date|"date"|"2025-01-01"`, `currency|"currency"|"USD"`,
		`country|"country"|"US"`, `amount|"amount"|12.50`}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
	if err := p.ParseCSV([]string{"id"}, []string{"x"}, &tx); err == nil || p.Fields() != nil {
		t.Errorf("Fields after CSV: %v", p.Fields())
	}
}

// TestAppendFieldsOutliveTheParse checks that AppendFields' copies stay
// the record's after the next parse, keys decoded from escapes included
// (those live in the parser's scratch space, which the next parse reuses).
func TestAppendFieldsOutliveTheParse(t *testing.T) {
	p := NewParser(ParseOptions{})
	var tx Transaction
	parse := func(in string) {
		t.Helper()
		if err := p.ParseJSON([]byte(in), &tx); err != nil {
			t.Fatal(err)
		}
	}
	parse(`{"id":"a","x\u0079":1,"date":"2025-01-01","currency":"USD","country":"US","amount":"1"}`)
	kept := p.AppendFields([]RawField{{Key: []byte("before")}})
	parse(`{"id":"b","q\u0071":2,"date":"2025-01-02","currency":"USD","country":"US","amount":"2"}`)
	var got []string
	for _, f := range kept {
		got = append(got, string(f.Key)+"="+string(f.Value))
	}
	want := []string{"before=", `id="a"`, "xy=1", `date="2025-01-01"`, `currency="USD"`, `country="US"`, `amount="1"`}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("after the next parse: %q\nwant %q", got, want)
	}
}

func TestParseCSV(t *testing.T) {
	header := []string{"id", "date", "type", "original_date", "currency", "amount", "quantity", "product",
		"tax_included", "customer", "exempt_reason", "country", "state", "county", "city", "postal_code", "jurisdictions", "note"}
	row := func(mod map[string]string) []string {
		vals := map[string]string{"id": "t1", "date": "2025-03-04", "currency": "USD", "amount": "10.00", "country": "US"}
		for k, v := range mod {
			vals[k] = v
		}
		out := make([]string, len(header))
		for i, h := range header {
			out[i] = vals[h]
		}
		return out
	}
	p := NewParser(ParseOptions{})
	var tx Transaction
	if err := p.ParseCSV(header, row(map[string]string{"type": "refund", "original_date": "2025-01-01T00:00:00Z",
		"quantity": "2", "tax_included": "TRUE", "jurisdictions": "US-TX; US-TX-AUSTIN", "note": "whatever", "state": "TX"}), &tx); err != nil {
		t.Fatal(err)
	}
	want := Transaction{ID: "t1", Day: DateOf(2025, 3, 4), RateDay: DateOf(2025, 1, 1), Refund: true, Currency: usd,
		Country: "US", State: "TX", Jurisdictions: []string{"US-TX", "US-TX-AUSTIN"},
		Lines: []Line{{Amount: dec("10"), Quantity: dec("2"), Product: "default", TaxIncluded: true}}}
	if !sameTx(tx, want) {
		t.Errorf("got %+v\nwant %+v", tx, want)
	}

	errs := []struct {
		mod  map[string]string
		want string
	}{
		{map[string]string{"id": ""}, "id: is required"},
		{map[string]string{"amount": ""}, "amount: is required"},
		{map[string]string{"amount": " 1"}, `amount: " 1" is not a decimal: write 1, without the spaces around it`},
		{map[string]string{"amount": "12.3.4"}, `amount: "12.3.4" is not a decimal`},
		{map[string]string{"tax_included": "yes"}, `tax_included: "yes" is not true or false`},
		{map[string]string{"quantity": "0"}, `quantity: "0" is not positive`},
		{map[string]string{"jurisdictions": "US-TX;;US"}, `jurisdictions: "US-TX;;US" has an empty code`},
		{map[string]string{"date": "2025-02-30"}, `date: "2025-02-30" is not a valid date`},
		{map[string]string{"currency": "usdx"}, `currency: "usdx" is not an ISO 4217 currency code`},
	}
	for _, tt := range errs {
		err := p.ParseCSV(header, row(tt.mod), &tx)
		if err == nil || err.Error() != tt.want {
			t.Errorf("%v: got %v, want %s", tt.mod, err, tt.want)
		}
	}
	if err := p.ParseCSV(header, []string{"a"}, &tx); err == nil || err.Error() != "row has 1 fields, the header has 18" {
		t.Errorf("ragged: %v", err)
	}
	if err := p.ParseCSV([]string{"id", "lines"}, []string{"a", "x"}, &tx); err == nil || err.Error() != "lines: is not available in CSV" {
		t.Errorf("lines: %v", err)
	}
	if err := p.ParseCSV([]string{"id", "id"}, []string{"a", "b"}, &tx); err == nil || err.Error() != "id: duplicate column" {
		t.Errorf("dup: %v", err)
	}
}

func TestContentHash(t *testing.T) {
	p := NewParser(ParseOptions{})
	hash := func(in string) uint64 {
		var tx Transaction
		if err := p.ParseJSON([]byte(in), &tx); err != nil {
			t.Fatal(err)
		}
		return tx.ContentHash
	}
	a := hash(`{"id":"a","date":"2025-01-01","currency":"USD","country":"US","amount":"12.50","x":1}`)
	same := []string{
		`{"country":"US","amount":12.5,"currency":"usd","date":"2025-01-01","id":"a"}`,
		`{"id":"a","date":"2025-01-01T12:00:00Z","currency":"USD","country":"US","amount":"012.50","quantity":"1.0","product":"default"}`,
		`{"id":"a","date":"2025-01-01","currency":"USD","country":"US","lines":[{"amount":"12.5"}]}`,
	}
	for _, s := range same {
		if hash(s) != a {
			t.Errorf("hash differs for %s", s)
		}
	}
	diff := []string{
		`{"id":"a","date":"2025-01-01","currency":"USD","country":"US","amount":"12.51"}`,
		`{"id":"a","date":"2025-01-02","currency":"USD","country":"US","amount":"12.50"}`,
		`{"id":"a","date":"2025-01-01","currency":"USD","country":"US","amount":"12.50","type":"refund"}`,
		`{"id":"a","date":"2025-01-01","currency":"USD","country":"US","amount":"12.50","quantity":"2"}`,
		`{"id":"a","date":"2025-01-01","currency":"USD","country":"US","amount":"1250"}`,
		`{"id":"a","date":"2025-01-01","currency":"USD","country":"US","state":"","city":"TX","amount":"12.50"}`,
		`{"id":"a","date":"2025-01-01","currency":"USD","country":"US","state":"TX","amount":"12.50"}`,
	}
	for _, s := range diff {
		if hash(s) == a {
			t.Errorf("hash same for %s", s)
		}
	}
	var tx Transaction
	p.ParseCSV([]string{"id", "date", "currency", "country", "amount"}, []string{"a", "2025-01-01", "USD", "US", "12.50"}, &tx)
	if tx.ContentHash != a {
		t.Errorf("CSV hash differs")
	}
}

func TestNormDecimal(t *testing.T) {
	for in, want := range map[string]string{"0": "0", "00": "0", "0.50": "0.5", "012.50": "12.5", "1.000": "1", "100": "100", "0.0": "0", "10.01": "10.01"} {
		if got := string(normDecimal([]byte(in))); got != want {
			t.Errorf("%s: got %s, want %s", in, got, want)
		}
	}
}

func TestParseReuse(t *testing.T) {
	// Strings taken from one record survive the next parse into the same buffer.
	p := NewParser(ParseOptions{})
	buf := []byte(obj(`"amount":"1","customer":"cus_AAAA"`))
	var tx1, tx2 Transaction
	if err := p.ParseJSON(buf, &tx1); err != nil {
		t.Fatal(err)
	}
	copy(buf, obj(`"amount":"1","customer":"cus_BBBB"`))
	if err := p.ParseJSON(buf, &tx2); err != nil {
		t.Fatal(err)
	}
	if tx1.Customer != "cus_AAAA" || tx2.Customer != "cus_BBBB" || tx1.ID != "t1" {
		t.Errorf("%q %q", tx1.Customer, tx2.Customer)
	}
}

func TestDateEdges(t *testing.T) {
	var z zoneCache
	z.loc = time.UTC
	for _, tt := range []struct {
		in   string
		want Date
	}{
		{"1970-01-01", 0},
		{"1969-12-31", -1},
		{"1900-01-01", DateOf(1900, 1, 1)},
		{"2999-12-31", DateOf(2999, 12, 31)},
		{"2000-02-29", DateOf(2000, 2, 29)},
		{"1970-01-01T00:30:00+01:00", -1},
	} {
		got, err := parseDay([]byte(tt.in), &z)
		if err != nil || got != tt.want {
			t.Errorf("%s: %v %v, want %v", tt.in, got, err, tt.want)
		}
	}
	for _, in := range []string{"1900-02-29", "2025-04-31", "2025-00-10", "2025-01-00", "2025-01-01T", "2025-01-01T10:00:60Z", "2025-01-01T10:00:00.Z", "2025-01-01T10:00Z", "２025-01-01",
		"0000-01-01", "0001-01-01", "1899-12-31", "3000-01-01", "9999-12-31", "9999-12-31T23:59:59Z"} {
		if _, err := parseDay([]byte(in), &z); err == nil {
			t.Errorf("%s accepted", in)
		}
	}
}

func TestZoneDST(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Skip(err)
	}
	z := zoneCache{loc: ny}
	// Walk across DST changes hour by hour and compare with package time.
	start := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	for h := 0; h < 24*300; h += 7 {
		ts := start.Add(time.Duration(h) * time.Hour)
		got, err := parseDay([]byte(ts.Format(time.RFC3339)), &z)
		if err != nil {
			t.Fatal(err)
		}
		if want := CivilDate(ts.In(ny)); got != want {
			t.Fatalf("%v: got %v, want %v", ts, got, want)
		}
	}
}

func mustCur(code string) money.Currency {
	c, ok := money.LookupCurrency(code)
	if !ok {
		panic(code)
	}
	return c
}

// Reset leaves an empty Transaction that parses like a new one and keeps
// the storage it had.
func TestTransactionReset(t *testing.T) {
	p := NewParser(ParseOptions{})
	in := []byte(`{"id":"a","date":"2025-01-02","currency":"USD","country":"US","lines":[{"amount":"1.25"},{"amount":"2","quantity":"1.5"}],"jurisdictions":["X"]}`)
	var tx, fresh Transaction
	if err := p.ParseJSON(in, &tx); err != nil {
		t.Fatal(err)
	}
	lines := &tx.Lines[0]
	tx.Reset()
	if tx.ID != "" || tx.Day != 0 || len(tx.Lines) != 0 || len(tx.Jurisdictions) != 0 || tx.ContentHash != 0 {
		t.Fatalf("after Reset: %+v", tx)
	}
	if err := p.ParseJSON(in, &tx); err != nil {
		t.Fatal(err)
	}
	if err := p.ParseJSON(in, &fresh); err != nil {
		t.Fatal(err)
	}
	if &tx.Lines[0] != lines {
		t.Error("Reset dropped the lines' array")
	}
	if tx.ContentHash != fresh.ContentHash || len(tx.Lines) != 2 || !tx.Lines[1].Quantity.Equal(fresh.Lines[1].Quantity) ||
		tx.Lines[1].QuantityFixed != (money.Fixed{C: 15, E: -1}) || !tx.Lines[1].Fixed {
		t.Fatalf("parsed after Reset: %+v, fresh: %+v", tx.Lines, fresh.Lines)
	}
}

// tax_charged is read as an amount of the record's currency, in JSON and
// CSV, and is part of what makes two records with one id the same.
func TestTaxCharged(t *testing.T) {
	p := NewParser(ParseOptions{})
	var tx Transaction
	if err := p.ParseJSON([]byte(`{"id":"a","date":"2026-01-05","currency":"USD","amount":"10.00","country":"US","tax_charged":"0.83"}`), &tx); err != nil {
		t.Fatal(err)
	}
	if !tx.HasTaxCharged || tx.TaxCharged.String() != "0.83" {
		t.Errorf("tax_charged = %v %v", tx.HasTaxCharged, tx.TaxCharged)
	}
	h1 := tx.ContentHash
	if err := p.ParseCSV([]string{"id", "date", "currency", "amount", "country", "tax_charged"}, []string{"a", "2026-01-05", "USD", "10.00", "US", "0.84"}, &tx); err != nil {
		t.Fatal(err)
	}
	if tx.TaxCharged.String() != "0.84" || tx.ContentHash == h1 {
		t.Errorf("csv tax_charged = %v, hash same %v", tx.TaxCharged, tx.ContentHash == h1)
	}
	err := p.ParseJSON([]byte(`{"id":"a","date":"2026-01-05","currency":"JPY","amount":"10","country":"US","tax_charged":"0.5"}`), &tx)
	if err == nil || err.Error() != `tax_charged: "0.5" has 1 fraction digits; JPY allows 0` {
		t.Errorf("err = %v", err)
	}
}
