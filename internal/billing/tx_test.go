package billing

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/taxagg/taxagg/internal/stream"
	"github.com/taxagg/taxagg/internal/txn"
)

// billingData holds real object shapes (Stripe's published fixtures,
// Chargebee's documented samples) and exports built from them.
const billingData = "../../testdata/billing"

// convertFile runs every record of a file through a converter, in order,
// and returns the transaction texts, the skips and the errors.
func convertFile(t *testing.T, c *TxConverter, path string) (out []string, skips []string, errs []string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return convertReader(t, c, filepath.Base(path), f)
}

func convertReader(t *testing.T, c *TxConverter, name string, r io.Reader) (out []string, skips []string, errs []string) {
	t.Helper()
	sr, err := stream.Open(name, r, stream.FormatAuto, stream.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for {
		rec, err := sr.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		var b []byte
		var skip string
		if rec.CSV != nil {
			b, skip, err = c.ConvertCSV(rec.Source, sr.Header(), rec.CSV, nil)
		} else {
			b, skip, err = c.ConvertJSON(rec.Source, rec.Text, nil)
		}
		switch {
		case err != nil:
			errs = append(errs, err.Error())
		case skip != "":
			skips = append(skips, skip)
		default:
			out = append(out, string(b))
			// What the converter writes is a valid transaction.
			var tx txn.Transaction
			if err := txn.NewParser(txn.ParseOptions{}).ParseJSON(b, &tx); err != nil {
				t.Errorf("%s:%d: converted record does not parse: %v\n%s", rec.Source, rec.Line, err, b)
			}
		}
	}
}

func newConv(t *testing.T, opts TxOptions) *TxConverter {
	t.Helper()
	c, err := NewTxConverter(opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestStripeExport(t *testing.T) {
	c := newConv(t, TxOptions{Preset: PresetStripe, Products: ProductMap{"prod_saas": "saas", "price_ebook": "digital_goods"}})
	out, skips, errs := convertFile(t, c, filepath.Join(billingData, "stripe-export.json"))
	out2, skips2, errs2 := convertFile(t, c, filepath.Join(billingData, "stripe-credit-notes.json"))
	out, skips, errs = append(out, out2...), append(skips, skips2...), append(errs, errs2...)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	want := []string{
		// Seats 200.00 less their 20.00 discount less the 30.00 proration
		// credit; the e-book line is tax-inclusive; effective_at is the date;
		// the customer address; tax charged total - total_excluding_tax.
		`{"id":"in_1TX0000000000000000paid","source_object":"invoice","date":"2026-01-15T12:00:00Z","currency":"USD","customer":"cus_QXg1o8vcGmoR32","country":"US","state":"TX","city":"Austin","postal_code":"78701","lines":[{"amount":"150.00","quantity":"2","product":"saas"},{"amount":"11.00","product":"digital_goods","tax_included":true}],"tax_charged":"11.00"}`,
		// A sale to a customer in London: converted, and unmatched by the
		// US rules (the summary counts it).
		`{"id":"in_1GB0000000000000000paid","source_object":"invoice","date":"2026-01-16T00:00:00Z","currency":"GBP","customer":"cus_GB1","country":"GB","city":"London","postal_code":"WC2N 5HR","lines":[{"amount":"50.00","product":"saas"}],"tax_charged":"0.00"}`,
		// A credit note of an API version before 2025-03-31: its tax is in
		// tax_amounts[] (total_excluding_tax null); original_date, address
		// and product from its invoice, read earlier.
		`{"id":"cn_1TX000000000000000001","source_object":"credit_note","date":"2026-02-01T00:00:00Z","type":"refund","original_date":"2026-01-15T12:00:00Z","currency":"USD","customer":"cus_QXg1o8vcGmoR32","country":"US","state":"TX","city":"Austin","postal_code":"78701","lines":[{"amount":"50.00","product":"saas"}],"tax_charged":"4.13"}`,
	}
	if strings.Join(out, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(out, "\n"), strings.Join(want, "\n"))
	}
	if strings.Join(skips, ",") != "void invoice,draft invoice" {
		t.Errorf("skips = %v", skips)
	}
	if got := FormatSkipped(c.Skipped()); got != "draft invoice 1, void invoice 1" {
		t.Errorf("Skipped = %q", got)
	}
}

// fixture returns a resource of one of Stripe's published fixture files,
// as a map to adjust.
func fixture(t *testing.T, file, resource string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(billingData, file))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Resources map[string]json.RawMessage `json:"resources"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(strings.NewReader(string(doc.Resources[resource])))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var texas = map[string]any{"country": "US", "state": "TX", "city": "Austin", "postal_code": "78701", "line1": "1 Main", "line2": nil}

// Every API version's invoice shape reads: 2022-03 (no effective_at, no
// total_excluding_tax, tax in tax/total_tax_amounts), 2023-12, current.
func TestStripeInvoiceVersions(t *testing.T) {
	for _, file := range []string{"stripe-mock-fixtures3-2022-03.json", "stripe-mock-fixtures3-2023-12.json"} {
		t.Run(file, func(t *testing.T) {
			inv := fixture(t, file, "invoice")
			inv["status"] = "paid"
			inv["customer_address"] = texas
			inv["total_tax_amounts"] = []any{map[string]any{"amount": 62, "inclusive": false, "tax_rate": "txr_1"}}
			delete(inv, "total_excluding_tax")
			c := newConv(t, TxOptions{Preset: PresetStripe})
			b, skip, err := c.ConvertJSON("x", mustJSON(t, inv), nil)
			if err != nil || skip != "" {
				t.Fatal(err, skip)
			}
			s := string(b)
			for _, want := range []string{`"lines":[{"amount":"10.00"}]`, `"tax_charged":"0.62"`, `"state":"TX"`} {
				if !strings.Contains(s, want) {
					t.Errorf("%s lacks %s", s, want)
				}
			}
		})
	}
}

func TestStripeRecords(t *testing.T) {
	tests := []struct {
		name, obj   string
		want, skip  string
		err         string
		wantContain []string
	}{
		{name: "event unwraps", obj: `{"object":"event","type":"invoice.paid","data":{"object":{"object":"invoice","id":"in_e","status":"paid","currency":"usd","created":1767225600,"customer_address":{"country":"US","state":"TX"},"lines":{"object":"list","data":[{"id":"il","amount":1000,"quantity":1}],"has_more":false},"total":1000,"total_excluding_tax":1000}}}`,
			wantContain: []string{`"id":"in_e"`, `"amount":"10.00"`, `"tax_charged":"0.00"`}},
		{name: "event error names the path", obj: `{"object":"event","data":{"object":{"object":"invoice","id":"in_e","status":"sent","currency":"usd"}}}`,
			err: `data.object.status: "sent" is not an invoice status`},
		{name: "uncaptured charge is skipped", obj: `{"object":"charge","id":"ch_1","status":"succeeded","captured":false,"amount":100,"amount_captured":0,"currency":"usd","created":1,"billing_details":{"address":{"country":"US","state":"TX"}}}`,
			skip: "uncaptured charge"},
		{name: "charge of an invoice is skipped", obj: `{"object":"charge","id":"ch_2","status":"succeeded","captured":true,"amount":100,"currency":"usd","created":1,"invoice":"in_1","billing_details":{"address":{"country":"US","state":"TX"}}}`,
			skip: "charge of an invoice"},
		{name: "a one-off charge is a sale", obj: `{"object":"charge","id":"ch_3","status":"succeeded","captured":true,"amount":2500,"amount_captured":2500,"currency":"usd","created":1767225600,"invoice":null,"shipping":{"address":{"country":"US","state":"WA","postal_code":"98101"}}}`,
			want: `{"id":"ch_3","source_object":"charge","date":"2026-01-01T00:00:00Z","currency":"USD","country":"US","state":"WA","postal_code":"98101","lines":[{"amount":"25.00"}]}`},
		{name: "unknown charge status", obj: `{"object":"charge","id":"ch_4","status":"disputed","amount":1,"currency":"usd","created":1}`,
			err: `status: "disputed" is not a charge status`},
		{name: "fractional ISK refused", obj: `{"object":"charge","id":"ch_5","status":"succeeded","captured":true,"amount":4010,"currency":"isk","created":1,"billing_details":{"address":{"country":"IS"}}}`,
			err: `amount: 4010 is ISK 40.1, a fraction of the smallest unit of ISK`},
		{name: "whole ISK read", obj: `{"object":"charge","id":"ch_6","status":"succeeded","captured":true,"amount":4000,"currency":"isk","created":1,"billing_details":{"address":{"country":"IS"}}}`,
			wantContain: []string{`"currency":"ISK"`, `"amount":"40"`}},
		{name: "duplicate key refused", obj: `{"object":"charge","id":"x","id":"y","status":"succeeded","amount":1,"currency":"usd","created":1}`,
			err: `id: duplicate key`},
		{name: "nested duplicate key refused", obj: `{"object":"invoice","id":"in","status":"paid","currency":"usd","created":1,"lines":{"data":[{"amount":1,"amount":2}]}}`,
			err: `lines.data[0].amount: duplicate key`},
		{name: "credit beyond the charges of a product", obj: `{"object":"invoice","id":"in_c","status":"paid","currency":"usd","created":1,"customer_address":{"country":"US","state":"TX"},"lines":{"data":[{"id":"a","amount":1000,"price":{"id":"p1","product":{"id":"prod_a","tax_code":"txcd_10103001"}}},{"id":"b","amount":-1500,"price":{"id":"p2","product":"prod_b"}}]}}`,
			err: `lines: a credit of 15 for product "default" exceeds`},
		{name: "a credit invoice is a refund", obj: `{"object":"invoice","id":"in_n","status":"paid","currency":"usd","created":1,"customer_address":{"country":"US","state":"TX"},"lines":{"data":[{"id":"a","amount":-1500}]},"total":-1500,"total_excluding_tax":-1500}`,
			wantContain: []string{`"type":"refund"`, `"amount":"15.00"`}},
		{name: "no address", obj: `{"object":"invoice","id":"in_x","status":"open","currency":"usd","created":1,"customer_address":{"country":null},"customer_shipping":{},"lines":{"data":[]}}`,
			err: `customer_shipping: no address`},
		{name: "shipping before customer address", obj: `{"object":"invoice","id":"in_s","status":"open","currency":"usd","created":1,"customer_address":{"country":"US","state":"TX"},"customer_shipping":{"address":{"country":"US","state":"NY","postal_code":"10001"}},"lines":{"data":[{"amount":100}]}}`,
			wantContain: []string{`"state":"NY"`}},
		{name: "expanded product tax code", obj: `{"object":"invoice","id":"in_t","status":"paid","currency":"usd","created":1,"customer_address":{"country":"US","state":"TX"},"lines":{"data":[{"amount":100,"price":{"id":"price_1","product":{"id":"prod_1","tax_code":"txcd_10103001"},"tax_behavior":"exclusive"}}]}}`,
			wantContain: []string{`"product":"saas"`}},
		{name: "credit note of an invoice not in the input", obj: `{"object":"credit_note","id":"cn_1","status":"issued","currency":"usd","created":1,"invoice":"in_missing","lines":{"data":[{"amount":100}]}}`,
			err: `invoice: no address: the credit note's invoice "in_missing" is not in the input`},
		{name: "shipping is a line", obj: `{"object":"invoice","id":"in_sh","status":"paid","currency":"usd","created":1,"customer_address":{"country":"US","state":"TX"},"lines":{"data":[{"amount":1000}]},"shipping_cost":{"amount_subtotal":500,"amount_tax":31,"amount_total":531,"shipping_rate":"shr_1"}}`,
			wantContain: []string{`"lines":[{"amount":"10.00"},{"amount":"5.00","product":"shipping"}]`}},
		{name: "exempt customer", obj: `{"object":"invoice","id":"in_ex","status":"paid","currency":"usd","created":1,"customer_tax_exempt":"exempt","customer_address":{"country":"US","state":"TX"},"lines":{"data":[{"amount":100}]}}`,
			wantContain: []string{`"exempt_reason":"customer_tax_exempt"`}},
		{name: "reverse charge is exempt", obj: `{"object":"invoice","id":"in_rc","status":"paid","currency":"eur","created":1,"customer_tax_exempt":"reverse","customer_address":{"country":"DE"},"lines":{"data":[{"amount":100}]}}`,
			wantContain: []string{`"exempt_reason":"reverse_charge"`}},
		{name: "no exemption", obj: `{"object":"invoice","id":"in_no","status":"paid","currency":"usd","created":1,"customer_tax_exempt":"none","customer_address":{"country":"US","state":"TX"},"lines":{"data":[{"amount":100}]}}`,
			want: `{"id":"in_no","source_object":"invoice","date":"1970-01-01T00:00:01Z","currency":"USD","country":"US","state":"TX","lines":[{"amount":"1.00"}]}`},
		{name: "unknown exemption", obj: `{"object":"invoice","id":"in_uk","status":"paid","currency":"usd","created":1,"customer_tax_exempt":"partial","customer_address":{"country":"US","state":"TX"},"lines":{"data":[{"amount":100}]}}`,
			err: `customer_tax_exempt: "partial" is not a tax exemption (none, exempt, reverse)`},
		{name: "deleted invoice skipped", obj: `{"object":"invoice","id":"in_d","deleted":true,"currency":"usd"}`, skip: "deleted invoice"},
		{name: "void credit note skipped", obj: `{"object":"credit_note","id":"cn_2","status":"void","currency":"usd","created":1}`, skip: "void credit note"},
		{name: "not a document", obj: `{"object":"customer","id":"cus_1"}`, err: `object: "customer" is not an invoice, credit_note, charge or refund`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newConv(t, TxOptions{Preset: PresetStripe})
			b, skip, err := c.ConvertJSON("x", []byte(tt.obj), nil)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if skip != tt.skip {
				t.Fatalf("skip = %q, want %q", skip, tt.skip)
			}
			if tt.want != "" && string(b) != tt.want {
				t.Errorf("got  %s\nwant %s", b, tt.want)
			}
			for _, w := range tt.wantContain {
				if !strings.Contains(string(b), w) {
					t.Errorf("%s lacks %s", b, w)
				}
			}
		})
	}
}

func TestChargebeeExport(t *testing.T) {
	c := newConv(t, TxOptions{Preset: PresetChargebee, Products: ProductMap{"pro-USD-monthly": "saas"}})
	out, skips, errs := convertFile(t, c, filepath.Join(billingData, "chargebee-export.json"))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	want := []string{
		// 2 seats at 50.00 less their 10.00 discount; the add-on; billing
		// address (no shipping address); tax from tax.
		`{"id":"8","source_object":"invoice","date":"2026-01-15T00:00:00Z","currency":"USD","customer":"8avVGOkx8U1MX","country":"US","state":"TX","city":"Austin","postal_code":"78701","lines":[{"amount":"90.00","quantity":"2","product":"saas"},{"amount":"20.00"}],"tax_charged":"8.25"}`,
		// The credit note has no top-level tax: taxes[]; address and
		// original_date from invoice 8.
		`{"id":"TEST-CN-8","source_object":"credit_note","date":"2026-02-01T00:00:00Z","type":"refund","original_date":"2026-01-15T00:00:00Z","currency":"USD","customer":"8avVGOkx8U1MX","country":"US","state":"TX","city":"Austin","postal_code":"78701","lines":[{"amount":"20.00"}],"tax_charged":"1.65"}`,
	}
	if strings.Join(out, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(out, "\n"), strings.Join(want, "\n"))
	}
	if strings.Join(skips, ",") != "voided invoice" {
		t.Errorf("skips = %v", skips)
	}
}

func TestChargebeeRecords(t *testing.T) {
	cn, err := os.ReadFile(filepath.Join(billingData, "credit_note_doc_sample_TEST-CN-1.json"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, obj   string
		err         string
		wantContain []string
	}{
		// Chargebee documents every non-zero-decimal currency x100:
		// 1357 BHD is 13.570, not 1.357.
		{name: "BHD x100", obj: `{"invoice":{"id":"b1","status":"paid","date":1767225600,"currency_code":"BHD","total":1357,"tax":123,"line_items":[{"id":"l","amount":1234,"quantity":1}],"shipping_address":{"country":"BH"}}}`,
			wantContain: []string{`"amount":"12.340"`, `"tax_charged":"1.230"`, `"country":"BH"`}},
		// Multi-decimal pricing: amount_in_decimal is exact, in major units.
		{name: "BHD amount_in_decimal", obj: `{"invoice":{"id":"b2","status":"paid","date":1767225600,"currency_code":"BHD","total":1235,"line_items":[{"id":"l","amount":1235,"amount_in_decimal":"12.345","quantity_in_decimal":"1.5"}],"shipping_address":{"country":"BH"}}}`,
			wantContain: []string{`"amount":"12.345","quantity":"1.5"`}},
		{name: "JPY in major units", obj: `{"id":"j1","object":"invoice","status":"paid","date":1767225600,"currency_code":"JPY","total":1650,"tax":150,"line_items":[{"id":"l","amount":1500}],"billing_address":{"country":"JP"}}`,
			wantContain: []string{`"amount":"1500"`, `"tax_charged":"150"`}},
		{name: "tax inclusive, line_item_discounts, line_item_taxes", obj: `{"id":"i2","object":"invoice","status":"payment_due","price_type":"tax_inclusive","date":1767225600,"currency_code":"USD","line_items":[{"id":"l1","amount":10825}],"line_item_discounts":[{"line_item_id":"l1","discount_type":"item_level_coupon","discount_amount":825}],"line_item_taxes":[{"line_item_id":"l1","tax_amount":762}],"shipping_address":{"country":"US","state_code":"TX","state":"Texas","zip":"78701"}}`,
			wantContain: []string{`"amount":"100.00","tax_included":true`, `"tax_charged":"7.62"`, `"state":"TX"`}},
		{name: "documented credit note sample, its invoice absent", obj: string(cn), err: `reference_invoice_id: no address`},
		{name: "unknown status", obj: `{"id":"i3","object":"invoice","status":"sent","date":1,"currency_code":"USD"}`, err: `status: "sent" is not an invoice status`},
		{name: "duplicate key", obj: `{"invoice":{"id":"i4","id":"i5","status":"paid"}}`, err: `invoice.id: duplicate key`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newConv(t, TxOptions{Preset: PresetChargebee})
			b, skip, err := c.ConvertJSON("x", []byte(tt.obj), nil)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || skip != "" {
				t.Fatal(err, skip)
			}
			for _, w := range tt.wantContain {
				if !strings.Contains(string(b), w) {
					t.Errorf("%s lacks %s", b, w)
				}
			}
		})
	}
}

// A mapping reads another export (or taxagg's own format under other
// column names): headers case-insensitive, numeric ids, unix-second
// dates, negative amounts as refunds, and a warning for a column that
// looks like a field taxagg reads but is not mapped.
func TestMappedTransactions(t *testing.T) {
	m, err := LoadMapping(strings.NewReader(`
fields:
  id: Order_ID
  date: Created
  currency: {value: USD}
  amount: Total
  country: {value: US}
  state: Region
  postal_code: ZIP
  tax_charged: {field: tax_cents, minor_units: true}
  status: Status
states: {complete: paid, cancelled: void}
`), "shop.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var warnings []string
	c := newConv(t, TxOptions{Mapping: m, Warn: func(s string) { warnings = append(warnings, s) }})
	in := "order_id,created,TOTAL,region,zip,tax_cents,status,Tax_Code\n" +
		"1001,1767225600,100.00,TX,78701,625,complete,txcd_10103001\n" +
		"1002,2026-01-03,-40.00,TX,78701,250,complete,\n" +
		"1003,2026-01-04,5.00,TX,78701,0,cancelled,\n"
	out, skips, errs := convertReader(t, c, "shop.csv", strings.NewReader(in))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	want := `{"id":"1001","date":"2026-01-01T00:00:00Z","currency":"USD","country":"US","state":"TX","postal_code":"78701","lines":[{"amount":"100.00"}],"tax_charged":"6.25"}` + "\n" +
		`{"id":"1002","date":"2026-01-03","type":"refund","currency":"USD","country":"US","state":"TX","postal_code":"78701","lines":[{"amount":"40.00"}],"tax_charged":"2.50"}`
	if got := strings.Join(out, "\n"); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if len(skips) != 1 || skips[0] != "void record" {
		t.Errorf("skips = %v", skips)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], `column "Tax_Code" is not read; it looks like product`) {
		t.Errorf("warnings = %q", warnings)
	}
}

func TestProductMap(t *testing.T) {
	pm, err := LoadProductMap(strings.NewReader("products:\n  prod_1: saas\n  txcd_99999999: default\n"), "p.yaml")
	if err != nil || pm["prod_1"] != "saas" || len(pm) != 2 {
		t.Fatalf("pm = %v, err %v", pm, err)
	}
	for _, empty := range []string{"", "# nothing yet\n"} {
		if pm, err := LoadProductMap(strings.NewReader(empty), "p.yaml"); err != nil || len(pm) != 0 {
			t.Errorf("%q: pm = %v, err %v, want an empty map", empty, pm, err)
		}
	}
	for _, tt := range []struct{ in, err string }{
		{"a: x\na: y\n", `p.yaml:2:1: "a" is given twice`},
		{"a: x\n---\nb: y\n", `p.yaml:2:1: a second YAML document`},
		{"{a: x}\nb: y\n", `p.yaml:2:1: a second YAML document`},   // once silently dropped
		{"---\n---\nb: y\n", `p.yaml:2:1: a second YAML document`}, // after an empty first document
		{"- a\n", `p.yaml:1:1: a product map is a mapping`},
	} {
		if _, err := LoadProductMap(strings.NewReader(tt.in), "p.yaml"); err == nil || !strings.HasPrefix(err.Error(), tt.err) {
			t.Errorf("%q: err = %v, want %q", tt.in, err, tt.err)
		}
	}
}

// The reconcile presets read the same real shapes right.
func TestPresetRealShapes(t *testing.T) {
	cn23 := fixture(t, "stripe-mock-fixtures3-2023-12.json", "credit_note")
	cn22 := fixture(t, "stripe-mock-fixtures3-2022-03.json", "credit_note")
	tests := []struct {
		name          string
		obj           []byte
		state, amount string
		tax, err      string
	}{
		// Before API 2025-03-31 a credit note's tax is in tax_amounts[] and
		// total_excluding_tax is null (2023-12) or absent (2022-03).
		{name: "credit note 2023-12", obj: mustJSON(t, cn23), state: "refunded", amount: "16.90", tax: "1.90"},
		{name: "credit note 2022-03", obj: mustJSON(t, cn22), state: "refunded", amount: "16.90", tax: "1.90"},
		{name: "uncaptured charge", obj: []byte(`{"object":"charge","id":"ch","status":"succeeded","captured":false,"amount":100,"amount_captured":0,"currency":"usd","created":1}`), state: "open", amount: "1.00", tax: "0.00"},
		{name: "unknown charge status", obj: []byte(`{"object":"charge","id":"ch","status":"disputed","amount":100,"currency":"usd","created":1}`), err: `status: "disputed" is not a charge status`},
		{name: "fractional ISK", obj: []byte(`{"object":"charge","id":"ch","status":"succeeded","amount":4010,"currency":"isk","created":1}`), err: `amount: 4010 is ISK 40.1, a fraction`},
		{name: "duplicate id", obj: []byte(`{"object":"charge","id":"x","id":"y","status":"succeeded","amount":1,"currency":"usd","created":1}`), err: `id: duplicate key`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recs, err := readAll(t, strings.NewReader(string(tt.obj)), "in", ReaderOptions{Preset: PresetStripe})
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || len(recs) != 1 {
				t.Fatal(err, recs)
			}
			r := recs[0]
			if r.State != tt.state || r.FormatAmount(r.Amount) != tt.amount || r.FormatAmount(r.Tax) != tt.tax {
				t.Errorf("got state %s amount %s tax %s, want %s %s %s", r.State, r.FormatAmount(r.Amount), r.FormatAmount(r.Tax), tt.state, tt.amount, tt.tax)
			}
		})
	}
	// Chargebee credit note: no top-level tax; taxes[].
	recs, err := readAll(t, strings.NewReader(`{"credit_note":{"id":"cn","status":"refunded","date":1,"currency_code":"USD","total":1165,"taxes":[{"name":"t","amount":165}]}}`), "in", ReaderOptions{Preset: PresetChargebee})
	if err != nil || len(recs) != 1 || recs[0].FormatAmount(recs[0].Tax) != "1.65" {
		t.Errorf("chargebee credit note: %v %+v", err, recs)
	}
}

// With a first look (NoteReference, then Index), a credit note read before
// its invoice finds it; only the invoices referred to are kept.
func TestIndexForwardReference(t *testing.T) {
	for _, tt := range []struct {
		preset, file string
		first        []string // converted first: the credit notes
	}{
		{PresetStripe, "stripe-export.json", []string{"stripe-credit-notes.json"}},
		{PresetChargebee, "chargebee-export.json", nil},
	} {
		c := newConv(t, TxOptions{Preset: tt.preset})
		files := append(tt.first, tt.file)
		read := func(fn func([]byte)) {
			for _, name := range files {
				f, err := os.Open(filepath.Join(billingData, name))
				if err != nil {
					t.Fatal(err)
				}
				sr, err := stream.Open(name, f, stream.FormatAuto, stream.Options{})
				if err != nil {
					t.Fatal(err)
				}
				for {
					rec, err := sr.Next()
					if err != nil {
						break
					}
					fn(rec.Text)
				}
				f.Close()
			}
		}
		read(c.NoteReference)
		if !c.Wanted() {
			t.Fatalf("%s: no reference noted", tt.preset)
		}
		read(c.Index)
		if len(c.invoices) != 1 {
			t.Errorf("%s: %d invoices kept, want the 1 referred to", tt.preset, len(c.invoices))
		}
		if tt.preset == PresetChargebee {
			// The credit note first, then the invoice.
			b, _, err := c.ConvertJSON("x", []byte(`{"credit_note":{"id":"CN-9","reference_invoice_id":"8","status":"refunded","date":1769904000,"currency_code":"USD","total":100,"line_items":[{"id":"l","amount":100}]}}`), nil)
			if err != nil || !strings.Contains(string(b), `"original_date":"2026-01-15T00:00:00Z"`) {
				t.Errorf("chargebee credit note: %v %s", err, b)
			}
			continue
		}
		out, _, errs := convertFile(t, c, filepath.Join(billingData, tt.first[0]))
		if len(errs) > 0 || len(out) != 1 || !strings.Contains(out[0], `"original_date":"2026-01-15T12:00:00Z"`) {
			t.Errorf("stripe credit note: %v %v", errs, out)
		}
	}
}

// TestStandalone: with Standalone, a credit note does not draw on the
// invoice converted before it; it is converted as when its invoice is not
// in the input, whatever came before.
func TestStandalone(t *testing.T) {
	for _, tt := range []struct {
		standalone bool
		wantErr    string
		want       string
	}{
		{false, "", `"original_date":"2026-01-15T12:00:00Z"`},
		{true, `invoice: no address: the credit note's invoice "in_1TX0000000000000000paid" is not in the input (each message is converted on its own: the credit note must carry what it needs of it) and no expanded customer carries one`, ""},
	} {
		c := newConv(t, TxOptions{Preset: PresetStripe, Standalone: tt.standalone})
		convertFile(t, c, filepath.Join(billingData, "stripe-export.json"))
		out, _, errs := convertFile(t, c, filepath.Join(billingData, "stripe-credit-notes.json"))
		if tt.wantErr != "" {
			if len(errs) != 1 || errs[0] != tt.wantErr {
				t.Errorf("standalone %v: errors %q, want %q", tt.standalone, errs, tt.wantErr)
			}
			continue
		}
		if len(errs) > 0 || len(out) != 1 || !strings.Contains(out[0], tt.want) {
			t.Errorf("standalone %v: %v %v, want %s", tt.standalone, errs, out, tt.want)
		}
	}
	// A standalone refund of a charge converted before it.
	c := newConv(t, TxOptions{Preset: PresetStripe, Standalone: true})
	charge := `{"object":"charge","id":"ch_1","status":"succeeded","currency":"usd","amount":1000,"created":1769904000,"invoice":null,"billing_details":{"address":{"country":"US","state":"TX"}}}`
	if _, _, err := c.ConvertJSON("x", []byte(charge), nil); err != nil {
		t.Fatal(err)
	}
	_, _, err := c.ConvertJSON("x", []byte(`{"object":"refund","id":"re_1","status":"succeeded","currency":"usd","amount":500,"created":1769990400,"charge":"ch_1"}`), nil)
	if err == nil || !strings.Contains(err.Error(), "each message is converted on its own: the refund must carry") {
		t.Errorf("standalone refund: %v", err)
	}
}
