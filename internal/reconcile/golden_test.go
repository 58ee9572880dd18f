package reconcile

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/taxagg/taxagg/internal/billing"
)

var update = flag.Bool("update", false, "rewrite the golden files")

const testdata = "../../testdata/reconcile"

// Golden runs on Stripe- and Chargebee-shaped exports built from the shared
// samples (testdata/reconcile): the ledger, review queue, report and
// summary must stay byte for byte the same. Run with -update to rewrite.
func TestGolden(t *testing.T) {
	tests := []struct {
		name         string
		a, b         string
		fromA, fromB string
		opts         func(*Options)
	}{
		{name: "stripe_vs_chargebee", a: "stripe_invoices.json", b: "chargebee_invoices.json",
			opts: func(o *Options) { o.KeyA = []string{"metadata.order_id"} }},
		{name: "stripe_vs_chargebee_prefer_newest", a: "stripe_invoices.json", b: "chargebee_invoices.json",
			fromA: billing.PresetStripe, fromB: billing.PresetChargebee,
			opts: func(o *Options) {
				o.KeyA = []string{"metadata.order_id"}
				o.Prefer = PreferNewest
				o.Format = FormatCSV
			}},
		{name: "refunds_grouped", a: "stripe_refunds.json", b: "ledger_refunds.ndjson",
			opts: func(o *Options) {
				o.Key = []string{"charge"}
				o.Duplicates = DupGroup
			}},
		{name: "charges_vs_bank_fuzzy", a: "stripe_charges.json", b: "bank.csv", fromB: "bank_mapping.yaml",
			opts: func(o *Options) {
				o.Fuzzy = true
				o.DateWindow = 12 * time.Hour
				o.Format = FormatJSON
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := Options{DateWindow: 24 * time.Hour, Format: FormatNDJSON, Version: "test"}
			tt.opts(&opts)
			open := func(name, from string) Input {
				f, err := os.Open(filepath.Join(testdata, name))
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { f.Close() })
				in := Input{Name: name, R: f, Preset: from}
				if filepath.Ext(from) == ".yaml" {
					mf, err := os.Open(filepath.Join(testdata, from))
					if err != nil {
						t.Fatal(err)
					}
					defer mf.Close()
					if in.Mapping, err = billing.LoadMapping(mf, from); err != nil {
						t.Fatal(err)
					}
				}
				return in
			}
			var ledger, review, report, summary bytes.Buffer
			_, err := Run(context.Background(), opts, open(tt.a, tt.fromA), open(tt.b, tt.fromB),
				Outputs{Ledger: &ledger, Review: &review, Report: &report, Summary: &summary})
			if err != nil {
				t.Fatal(err)
			}
			ext := map[string]string{FormatNDJSON: "ndjson", FormatJSON: "json", FormatCSV: "csv"}[opts.Format]
			for _, g := range []struct {
				file string
				got  []byte
			}{{tt.name + ".ledger." + ext, ledger.Bytes()}, {tt.name + ".review.ndjson", review.Bytes()},
				{tt.name + ".report.json", report.Bytes()}, {tt.name + ".summary.txt", summary.Bytes()}} {
				path := filepath.Join(testdata, "golden", g.file)
				if *update {
					if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(path, g.got, 0o644); err != nil {
						t.Fatal(err)
					}
					continue
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("%v (run go test -update to create it)", err)
				}
				if !bytes.Equal(g.got, want) {
					t.Errorf("%s differs (run go test -update if intended):\n%s", g.file, firstDiff(string(want), string(g.got)))
				}
			}
		})
	}
}
