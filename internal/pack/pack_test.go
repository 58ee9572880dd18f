package pack_test

import (
	"testing"

	"github.com/shopspring/decimal"

	"github.com/taxagg/taxagg/internal/money"
	"github.com/taxagg/taxagg/internal/pack"
	"github.com/taxagg/taxagg/internal/rules"
	"github.com/taxagg/taxagg/internal/txn"
)

func compile(t *testing.T) *rules.Program {
	t.Helper()
	p, err := rules.Compile([]rules.Source{{Name: pack.Name, Data: pack.US()}})
	if err != nil {
		t.Fatalf("embedded pack: %v", err)
	}
	return p
}

func TestEveryStateAndDC(t *testing.T) {
	p := compile(t)
	if got := len(p.Jurisdictions); got != 51 {
		t.Errorf("%d jurisdictions, want 51 (50 states and DC)", got)
	}
	for _, j := range p.Jurisdictions {
		if j.Source == "" || j.AsOf == "" {
			t.Errorf("%s: source %q, as_of %q: every entry names its source and date", j.Code, j.Source, j.AsOf)
		}
		if j.Level != rules.LevelState {
			t.Errorf("%s: level %s, want state", j.Code, j.Level)
		}
	}
	for _, code := range []string{"US-AK", "US-DE", "US-MT", "US-NH", "US-OR"} {
		j, ok := p.Jurisdiction(code)
		if !ok || len(j.Taxes) != 0 {
			t.Errorf("%s: want a jurisdiction with no statewide sales tax", code)
		}
	}
}

// taxOn evaluates one 100.00 sale of product in state on date and returns
// the state tax.
func taxOn(t *testing.T, p *rules.Program, state, product, date string) string {
	t.Helper()
	d, err := txn.ParseDate(date)
	if err != nil {
		t.Fatal(err)
	}
	usd, _ := money.LookupCurrency("USD")
	tx := &txn.Transaction{ID: "x", Day: d, RateDay: d, Currency: usd, Country: "US", State: state,
		Lines: []txn.Line{{Amount: decimal.RequireFromString("100.00"), Quantity: decimal.New(1, 0), Product: product}}}
	var res rules.Result
	if err := p.NewEvaluator(false).Eval(tx, &res); err != nil {
		t.Fatal(err)
	}
	sum := decimal.Decimal{}
	for _, l := range res.Lines {
		sum = sum.Add(l.Amount)
	}
	return sum.StringFixed(2)
}

func TestWellKnownValues(t *testing.T) {
	p := compile(t)
	tests := []struct {
		name, state, product, date, want string
	}{
		{"CA 7.25%", "CA", "physical", "2026-01-15", "7.25"},
		{"CA SaaS not taxable", "CA", "saas", "2026-01-15", "0.00"},
		{"TX 6.25%", "TX", "physical", "2026-01-15", "6.25"},
		{"TX SaaS 80% taxable", "TX", "saas", "2026-01-15", "5.00"},
		{"NY 4%", "NY", "physical", "2026-01-15", "4.00"},
		{"WA 6.5%", "WA", "physical", "2026-01-15", "6.50"},
		{"FL 6%", "FL", "physical", "2026-01-15", "6.00"},
		{"PA 6% on SaaS", "PA", "saas", "2026-01-15", "6.00"},
		{"SD 4.5% before July 2023", "SD", "physical", "2023-06-30", "4.50"},
		{"SD 4.2% from July 2023", "SD", "physical", "2023-07-01", "4.20"},
		{"NM 4.875% from July 2023", "NM", "physical", "2024-01-01", "4.88"},
		{"unknown categories are tangible goods", "TX", "widgets", "2026-01-15", "6.25"},
		{"OR has no sales tax", "OR", "physical", "2026-01-15", "0.00"},
	}
	for _, tt := range tests {
		if got := taxOn(t, p, tt.state, tt.product, tt.date); got != tt.want {
			t.Errorf("%s: tax on 100.00 = %s, want %s", tt.name, got, tt.want)
		}
	}
}

func TestNexusThresholds(t *testing.T) {
	p := compile(t)
	tests := []struct {
		code         string
		sales        string
		transactions int64
		combine      rules.Combine
	}{
		{"US-CA", "500000", 0, rules.CombineAny},
		{"US-TX", "500000", 0, rules.CombineAny},
		{"US-NY", "500000", 100, rules.CombineAll},
		{"US-FL", "100000", 0, rules.CombineAny},
	}
	for _, tt := range tests {
		j, ok := p.Jurisdiction(tt.code)
		if !ok || j.Nexus == nil {
			t.Errorf("%s: no nexus threshold", tt.code)
			continue
		}
		n := j.Nexus
		if !n.HasSales || n.Sales.String() != tt.sales || n.Transactions != tt.transactions || n.Combine != tt.combine {
			t.Errorf("%s: nexus %s / %d / %s, want %s / %d / %s", tt.code, n.Sales, n.Transactions, n.Combine,
				tt.sales, tt.transactions, tt.combine)
		}
	}
}
