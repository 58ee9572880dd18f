package billing

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// stripeSamples are real Stripe list objects (test mode), copied into testdata.
const stripeSamples = "testdata/stripe"

func readAll(t *testing.T, r io.Reader, name string, opts ReaderOptions) ([]Record, error) {
	t.Helper()
	rd, err := NewReader(r, name, opts)
	if err != nil {
		return nil, err
	}
	var out []Record
	for {
		rec, err := rd.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, rec)
	}
}

// The samples are the real shapes of Stripe's list objects.
func TestStripeSamples(t *testing.T) {
	tests := []struct {
		file                 string
		id, kind, state      string
		amount, tax, updated string
		customer             string
		line                 int
	}{
		// The sample charge is uncaptured (captured false, amount_captured 0): an authorization, not paid.
		{"charges.list.json", "ch_1PgafuB7WZ01zgkWXYmPNZs8", "charge", "open", "1.00", "0.00", "", "", 6},
		{"invoices.list.json", "in_1Pgc6tB7WZ01zgkWu9fdqL6I", "invoice", "draft", "10.00", "0.00", "", "cus_QXg1o8vcGmoR32", 6},
		{"refunds.list.json", "re_1Pgc72B7WZ01zgkWqPvrRrPE", "refund", "refunded", "1.00", "0.00", "", "", 6},
		{"credit_notes.list.json", "cn_1Pgc75B7WZ01zgkWJMPt5riP", "credit_note", "refunded", "16.90", "0.00", "", "cus_QXg1o8vcGmoR32", 6},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			f, err := os.Open(filepath.Join(stripeSamples, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			for _, preset := range []string{PresetAuto, PresetStripe} {
				recs, err := readAll(t, f, tt.file, ReaderOptions{Preset: preset})
				if err != nil {
					t.Fatal(err)
				}
				if len(recs) != 1 {
					t.Fatalf("got %d records, want 1", len(recs))
				}
				r := recs[0]
				if r.ID != tt.id || r.Kind != tt.kind || r.State != tt.state || r.Currency != "USD" ||
					r.FormatAmount(r.Amount) != tt.amount || r.FormatAmount(r.Tax) != tt.tax || r.Customer != tt.customer ||
					r.Line != tt.line || !r.Date.Equal(time.Unix(1234567890, 0)) {
					t.Errorf("got %+v", r)
				}
				f.Seek(0, io.SeekStart)
			}
		})
	}
}

func TestFromStripe(t *testing.T) {
	tests := []struct {
		name, obj       string
		amount, tax     string
		state, currency string
		updated         string
		err             string
	}{
		{name: "JPY is zero-decimal", obj: `{"id":"ch_1","object":"charge","amount":1500,"currency":"jpy","created":1,"status":"succeeded"}`,
			amount: "1500", tax: "0", state: "paid", currency: "JPY"},
		{name: "BHD has three decimals", obj: `{"id":"ch_1","object":"charge","amount":12345,"currency":"bhd","created":1,"status":"succeeded"}`,
			amount: "12.345", tax: "0.000", state: "paid", currency: "BHD"},
		{name: "MGA is zero-decimal in Stripe", obj: `{"id":"ch_1","object":"charge","amount":5000,"currency":"mga","created":1,"status":"succeeded"}`,
			amount: "5000.00", tax: "0.00", state: "paid", currency: "MGA"},
		{name: "ISK is two-decimal in Stripe", obj: `{"id":"ch_1","object":"charge","amount":50000,"currency":"isk","created":1,"status":"succeeded"}`,
			amount: "500", tax: "0", state: "paid", currency: "ISK"},
		{name: "fully refunded charge", obj: `{"id":"ch_1","object":"charge","amount":100,"amount_refunded":100,"refunded":true,"currency":"usd","created":1,"status":"succeeded"}`,
			amount: "1.00", tax: "0.00", state: "refunded", currency: "USD"},
		{name: "partly refunded charge is paid", obj: `{"id":"ch_1","object":"charge","amount":100,"amount_refunded":40,"currency":"usd","created":1,"status":"succeeded"}`,
			amount: "1.00", tax: "0.00", state: "paid", currency: "USD"},
		{name: "failed charge", obj: `{"id":"ch_1","object":"charge","amount":100,"currency":"usd","created":1,"status":"failed"}`,
			amount: "1.00", tax: "0.00", state: "void", currency: "USD"},
		{name: "invoice tax from total_excluding_tax", obj: `{"id":"in_1","object":"invoice","total":10825,"total_excluding_tax":10000,"total_taxes":[{"amount":1}],"currency":"usd","created":1,"status":"paid","status_transitions":{"paid_at":100,"finalized_at":50}}`,
			amount: "108.25", tax: "8.25", state: "paid", currency: "USD", updated: "1970-01-01T00:01:40Z"},
		{name: "invoice tax from total_taxes", obj: `{"id":"in_1","object":"invoice","total":10825,"total_excluding_tax":null,"total_taxes":[{"amount":500},{"amount":325}],"currency":"usd","created":1,"status":"open"}`,
			amount: "108.25", tax: "8.25", state: "open", currency: "USD"},
		{name: "invoice tax from legacy tax", obj: `{"id":"in_1","object":"invoice","total":10825,"tax":825,"currency":"usd","created":1,"status":"void"}`,
			amount: "108.25", tax: "8.25", state: "void", currency: "USD"},
		{name: "uncollectible invoice", obj: `{"id":"in_1","object":"invoice","total":100,"currency":"eur","created":1,"status":"uncollectible"}`,
			amount: "1.00", tax: "0.00", state: "uncollectible", currency: "EUR"},
		{name: "expanded customer", obj: `{"id":"ch_1","object":"charge","amount":1,"currency":"usd","created":1,"status":"pending","customer":{"id":"cus_9","object":"customer"}}`,
			amount: "0.01", tax: "0.00", state: "open", currency: "USD"},
		{name: "unknown currency", obj: `{"id":"ch_1","object":"charge","amount":1,"currency":"xyz","created":1,"status":"succeeded"}`,
			err: `currency: "xyz" is not an ISO 4217 currency`},
		{name: "fractional minor units", obj: `{"id":"ch_1","object":"charge","amount":1.5,"currency":"usd","created":1,"status":"succeeded"}`,
			err: `amount: "1.5" is not a whole number of minor units`},
		{name: "exponent", obj: `{"id":"ch_1","object":"charge","amount":1e3,"currency":"usd","created":1,"status":"succeeded"}`,
			err: `amount: "1e3" is not a decimal: exponents are not allowed`},
		{name: "unknown status", obj: `{"id":"in_1","object":"invoice","total":1,"currency":"usd","created":1,"status":"weird"}`,
			err: `status: "weird" is not an invoice status`},
		{name: "not a Stripe object", obj: `{"id":"cus_1","object":"customer"}`, err: `object: "customer" is not a charge`},
		{name: "wrong type", obj: `{"id":5,"object":"charge"}`, err: `id: is a JSON number, want a string`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := FromStripe([]byte(tt.obj))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := r.FormatAmount(r.Amount); got != tt.amount {
				t.Errorf("amount = %s, want %s", got, tt.amount)
			}
			if got := r.FormatAmount(r.Tax); got != tt.tax {
				t.Errorf("tax = %s, want %s", got, tt.tax)
			}
			if r.State != tt.state || r.Currency != tt.currency {
				t.Errorf("state, currency = %s, %s; want %s, %s", r.State, r.Currency, tt.state, tt.currency)
			}
			if got := FormatTime(r.Updated); got != tt.updated {
				t.Errorf("updated = %q, want %q", got, tt.updated)
			}
		})
	}
}

func TestFromChargebee(t *testing.T) {
	tests := []struct {
		name, obj          string
		id, amount, tax    string
		state, kind, updat string
		err                string
	}{
		{name: "wrapped invoice", obj: `{"invoice":{"id":"inv_1","customer_id":"c","status":"paid","date":1700000000,"updated_at":1700000100,"currency_code":"USD","total":10825,"tax":825}}`,
			id: "inv_1", amount: "108.25", tax: "8.25", state: "paid", kind: "invoice", updat: "2023-11-14T22:15:00Z"},
		{name: "bare invoice, JPY", obj: `{"id":"inv_2","customer_id":"c","status":"payment_due","date":1700000000,"currency_code":"JPY","total":1650,"tax":150}`,
			id: "inv_2", amount: "1650", tax: "150", state: "open", kind: "invoice"},
		// Chargebee sends every non-zero-decimal currency x100, KWD too
		// (its Currencies page): 1500 is 15.000 KWD, not 1.500.
		{name: "KWD", obj: `{"id":"inv_3","status":"not_paid","date":1,"currency_code":"KWD","total":1500,"tax":0}`,
			id: "inv_3", amount: "15.000", tax: "0.000", state: "open", kind: "invoice"},
		{name: "BHD", obj: `{"id":"inv_6","status":"paid","date":1,"currency_code":"BHD","total":1357,"tax":123}`,
			id: "inv_6", amount: "13.570", tax: "1.230", state: "paid", kind: "invoice"},
		{name: "voided", obj: `{"id":"inv_4","status":"voided","date":1,"currency_code":"EUR","total":1}`,
			id: "inv_4", amount: "0.01", tax: "0.00", state: "void", kind: "invoice"},
		{name: "posted", obj: `{"id":"inv_5","status":"posted","date":1,"currency_code":"EUR","total":1}`,
			id: "inv_5", amount: "0.01", tax: "0.00", state: "open", kind: "invoice"},
		{name: "pending", obj: `{"id":"inv_6","status":"pending","date":1,"currency_code":"EUR","total":1}`,
			id: "inv_6", amount: "0.01", tax: "0.00", state: "draft", kind: "invoice"},
		{name: "credit note", obj: `{"credit_note":{"id":"cn_1","status":"refunded","date":1,"currency_code":"USD","total":500,"tax":0}}`,
			id: "cn_1", amount: "5.00", tax: "0.00", state: "refunded", kind: "credit_note"},
		{name: "bare credit note", obj: `{"id":"cn_2","object":"credit_note","reference_invoice_id":"inv_1","status":"refund_due","date":1,"currency_code":"USD","total":500}`,
			id: "cn_2", amount: "5.00", tax: "0.00", state: "open", kind: "credit_note"},
		{name: "bad status inside wrapper", obj: `{"invoice":{"id":"i","status":"odd","date":1,"currency_code":"USD","total":1}}`,
			err: `invoice.status: "odd" is not an invoice status`},
		{name: "missing total", obj: `{"id":"i","status":"paid","date":1,"currency_code":"USD"}`, err: "total: is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := FromChargebee([]byte(tt.obj))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.ID != tt.id || r.FormatAmount(r.Amount) != tt.amount || r.FormatAmount(r.Tax) != tt.tax ||
				r.State != tt.state || r.Kind != tt.kind || FormatTime(r.Updated) != tt.updat {
				t.Errorf("got %+v", r)
			}
		})
	}
}

func TestReaderShapesAndPositions(t *testing.T) {
	inv := `{"id":"i1","status":"paid","date":1,"currency_code":"USD","total":100}`
	can := `{"id":"k1","date":"2026-01-01","currency":"EUR","amount":"1.50","tax":0.25}`
	tests := []struct {
		name, in string
		opts     ReaderOptions
		ids      []string
		lines    []int
	}{
		{"chargebee list", "{\"list\": [\n{\"invoice\": " + inv + "},\n{\"invoice\": " + strings.Replace(inv, "i1", "i2", 1) + "}\n], \"next_offset\": \"x\"}",
			ReaderOptions{}, []string{"i1", "i2"}, []int{2, 3}},
		{"json array", "[\n" + inv + ",\n\n" + can + "\n]", ReaderOptions{}, []string{"i1", "k1"}, []int{2, 4}},
		{"bare chargebee objects (fetch --raw)", `{"id":"i9","object":"invoice","status":"paid","date":1,"currency_code":"USD","total":100}` + "\n" +
			`{"id":"cn9","object":"credit_note","reference_invoice_id":"i9","status":"refunded","date":1,"currency_code":"USD","total":100}` + "\n",
			ReaderOptions{}, []string{"i9", "cn9"}, []int{1, 2}},
		{"ndjson", inv + "\n\n" + can + "\n", ReaderOptions{}, []string{"i1", "k1"}, []int{1, 3}},
		{"two stripe pages", `{"object":"list","data":[{"id":"ch_1","object":"charge","amount":1,"currency":"usd","created":1,"status":"succeeded"}],"has_more":true}` + "\n" +
			`{"object":"list","data":[{"id":"ch_2","object":"charge","amount":1,"currency":"usd","created":1,"status":"succeeded"}],"has_more":false}`,
			ReaderOptions{}, []string{"ch_1", "ch_2"}, []int{1, 2}},
		{"canonical csv", "\ufeffid,date,currency,amount,tax,customer\nk1,2026-01-01,USD,1.00,,c\n\"k2\",2026-01-02T10:00:00+02:00,JPY,5,1,c\n",
			ReaderOptions{}, []string{"k1", "k2"}, []int{2, 3}},
		{"extract path", `{"id":"ch_1","object":"charge","amount":1,"currency":"usd","created":1,"status":"succeeded","metadata":{"order_id":"o-9"}}`,
			ReaderOptions{Extract: []string{"metadata.order_id", "missing.path"}}, []string{"ch_1"}, []int{1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recs, err := readAll(t, strings.NewReader(tt.in), "in", tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) != len(tt.ids) {
				t.Fatalf("got %d records, want %d", len(recs), len(tt.ids))
			}
			for i, r := range recs {
				if r.ID != tt.ids[i] || r.Line != tt.lines[i] || r.Source != "in" {
					t.Errorf("record %d: id %s line %d, want %s line %d", i, r.ID, r.Line, tt.ids[i], tt.lines[i])
				}
			}
			if len(tt.opts.Extract) > 0 && (recs[0].Extra[0] != "o-9" || recs[0].Extra[1] != "") {
				t.Errorf("extra = %q", recs[0].Extra)
			}
		})
	}
}

func TestReaderGzip(t *testing.T) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write([]byte(`{"id":"k1","date":"2026-01-01","currency":"USD","amount":"1.00"}` + "\n"))
	zw.Close()
	recs, err := readAll(t, &buf, "in.gz", ReaderOptions{})
	if err != nil || len(recs) != 1 || recs[0].ID != "k1" {
		t.Fatalf("recs %v, err %v", recs, err)
	}
}

func TestReaderErrors(t *testing.T) {
	tests := []struct {
		name, in string
		opts     ReaderOptions
		want     string
	}{
		{"bad decimal", `{"id":"k0","date":"2026-01-01","currency":"USD","amount":"1.00"}` + "\n" +
			`{"id":"k1","date":"2026-01-01","currency":"USD","amount":"12.3.4"}`, ReaderOptions{}, `in:2: amount: "12.3.4" is not a decimal`},
		{"too many fraction digits", `{"id":"k1","date":"2026-01-01","currency":"JPY","amount":"1.5"}`, ReaderOptions{},
			`in:1: amount: "1.5" has 1 fraction digits; JPY allows 0`},
		{"bad date", `{"id":"k1","date":"2026-02-30","currency":"USD","amount":"1"}`, ReaderOptions{}, `in:1: date: "2026-02-30" is not a valid date`},
		{"missing id", `{"date":"2026-01-01","currency":"USD","amount":"1"}`, ReaderOptions{}, `in:1: id: is required`},
		{"bad state", `{"id":"k","date":"2026-01-01","currency":"USD","amount":"1","state":"gone"}`, ReaderOptions{}, `in:1: state: "gone" is not a state`},
		{"syntax", "[\n{\"id\":\"k\",\n\"date\": }\n]", ReaderOptions{}, `in:2: invalid JSON at byte 19: unexpected '}' where a value should be`},
		{"truncated", "[\n{\"id\":\"k\"", ReaderOptions{}, `in:2: unexpected end of input inside the record starting on this line`},
		{"not an object", "[1]", ReaderOptions{}, `in:1: array element is not an object`},
		{"csv missing column", "id,date,amount\nk,2026-01-01,1\n", ReaderOptions{}, `in:1: header lacks column "currency" (for currency)`},
		{"csv bad row", "id,date,currency,amount\nk,2026-01-01,USD,1\nk2,2026-01-01,USD,x\n", ReaderOptions{}, `in:3: amount: "x" is not a decimal`},
		{"csv ragged", "id,date,currency,amount\nk,2026-01-01,USD\n", ReaderOptions{}, `in:2: row has 3 fields, the header has 4`},
		{"stripe preset on csv", "id,date,currency,amount\n", ReaderOptions{Preset: PresetStripe}, `in:1: the stripe preset reads JSON, not CSV`},
		{"stripe preset on canonical", `{"id":"k","date":"2026-01-01","currency":"USD","amount":"1"}`, ReaderOptions{Preset: PresetStripe}, `in:1: object: is missing`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := readAll(t, strings.NewReader(tt.in), "in", tt.opts)
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("err = %v, want prefix %q", err, tt.want)
			}
			var ie *InputError
			if !errors.As(err, &ie) {
				t.Errorf("err is %T, want *InputError", err)
			}
		})
	}
}

func TestMapping(t *testing.T) {
	yml := `format: csv
fields:
  id: ref
  date: {field: ts, format: unix}
  customer: buyer
  currency: {value: KWD}
  amount: {field: total_fils, minor_units: true}
  tax: vat
  state: status
states:
  settled: paid
  cancelled: void
`
	m, err := LoadMapping(strings.NewReader(yml), "m.yaml")
	if err != nil {
		t.Fatal(err)
	}
	csv := "ref,ts,buyer,total_fils,vat,status\nr1,1700000000,b1,1500,0.150,settled\nr2,1700000000,b1,1,,cancelled\nr3,1700000000,b1,1,,lost\n"
	recs, err := readAll(t, strings.NewReader(csv), "x.csv", ReaderOptions{Mapping: m})
	if err == nil || err.Error() != `x.csv:4: status: "lost" is not in the mapping's states table` {
		t.Fatalf("err = %v", err)
	}
	if len(recs) != 2 || recs[0].FormatAmount(recs[0].Amount) != "1.500" || recs[0].FormatAmount(recs[0].Tax) != "0.150" ||
		recs[0].State != "paid" || recs[1].State != "void" || recs[0].Currency != "KWD" || recs[0].Customer != "b1" {
		t.Errorf("got %+v", recs)
	}

	// JSON with dotted paths.
	m2, err := LoadMapping(strings.NewReader("fields:\n  id: order.ref\n  date: order.placed\n  currency: money.cur\n  amount: money.value\n  tax: money.tax\n"), "m2.yaml")
	if err != nil {
		t.Fatal(err)
	}
	recs, err = readAll(t, strings.NewReader(`{"order":{"ref":"o1","placed":"2026-01-01"},"money":{"cur":"usd","value":12.5,"tax":"1.25"}}`), "x.json", ReaderOptions{Mapping: m2})
	if err != nil || len(recs) != 1 || recs[0].FormatAmount(recs[0].Amount) != "12.50" || recs[0].Currency != "USD" {
		t.Fatalf("recs %+v err %v", recs, err)
	}
}

func TestMappingErrors(t *testing.T) {
	tests := []struct{ yml, want string }{
		{"fields:\n  id: a\n  date: b\n  currency: c\n  amount: d\n  colour: e\n", `m.yaml:6:3: unknown canonical field "colour"`},
		{"fields:\n  id: a\n  date: b\n  currency: c\n", `m.yaml:2:3: fields: amount is required`},
		{"fields:\n  id: a\n  date: b\n  currency: c\n  amount: {field: d, minor: true}\n", `m.yaml:5:22: unknown key "minor"`},
		{"states: {x: lost}\nfields: {id: a, date: b, currency: c, amount: d}\n", `m.yaml:1:13: "lost" is not a state`},
		{"format: xml\n", `m.yaml:1:9: format "xml" is not auto, json, ndjson or csv`},
		{"fields: [\n", `m.yaml:1:1: did not find expected node content`},
		{"colour: red\n", `m.yaml:1:1: unknown key "colour"`},
	}
	for _, tt := range tests {
		_, err := LoadMapping(strings.NewReader(tt.yml), "m.yaml")
		if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("%q: err = %v, want prefix %q", tt.yml, err, tt.want)
		}
	}
}

// MarshalJSON writes the canonical form, which the canonical reader reads
// back unchanged (what `fetch` writes, `reconcile` reads).
func TestCanonicalRoundTrip(t *testing.T) {
	r, err := FromStripe([]byte(`{"id":"in_1","object":"invoice","total":13579,"total_excluding_tax":12345,"currency":"bhd","created":1767225600,"status":"paid","customer":"c","status_transitions":{"paid_at":1767225700}}`))
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":"in_1","kind":"invoice","date":"2026-01-01T00:00:00Z","updated":"2026-01-01T00:01:40Z","customer":"c","currency":"BHD","amount":"13.579","tax":"1.234","state":"paid"}`
	if string(b) != want {
		t.Fatalf("got  %s\nwant %s", b, want)
	}
	back, err := readAll(t, bytes.NewReader(b), "x", ReaderOptions{Preset: PresetCanonical})
	if err != nil {
		t.Fatal(err)
	}
	b2, _ := json.Marshal(back[0])
	if string(b2) != want {
		t.Errorf("round trip: %s", b2)
	}
}

func FuzzReader(f *testing.F) {
	f.Add([]byte(`{"object":"list","data":[{"id":"ch_1","object":"charge","amount":1,"currency":"usd","created":1,"status":"succeeded"}]}`))
	f.Add([]byte(`{"list":[{"invoice":{"id":"i","status":"paid","date":1,"currency_code":"USD","total":1}}]}`))
	f.Add([]byte("id,date,currency,amount\nk,2026-01-01,USD,1\n"))
	f.Add([]byte(`{"id":"k","date":"2026-01-01","currency":"USD","amount":"1"}` + "\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rd, err := NewReader(bytes.NewReader(data), "fuzz", ReaderOptions{Extract: []string{"metadata.x"}})
		if err != nil {
			return
		}
		for i := 0; i < 1000; i++ {
			r, err := rd.Next()
			if err != nil {
				return
			}
			if r.ID == "" || r.Currency == "" || r.Line < 1 {
				t.Fatalf("bad record %+v", r)
			}
		}
	})
}
