package nexus

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/taxagg/taxagg/internal/money"
	"github.com/taxagg/taxagg/internal/rules"
	"github.com/taxagg/taxagg/internal/txn"
)

// sale is a test transaction: "2025-03-04" or "2025-03-04T10:00:00Z".
type sale struct {
	id, date, amount string
	refund           bool
	currency         string // USD when empty
	jur              []*rules.Jurisdiction
}

func day(s string) txn.Date {
	d, err := txn.ParseDate(s[:10])
	if err != nil {
		panic(err)
	}
	return d
}

func (s sale) tx() (txn.Transaction, rules.Result) {
	code := s.currency
	if code == "" {
		code = "USD"
	}
	cur, _ := money.LookupCurrency(code)
	tx := txn.Transaction{
		ID: s.id, Day: day(s.date), Refund: s.refund, Currency: cur,
		Lines: []txn.Line{{Amount: decimal.RequireFromString(s.amount), Quantity: decimal.New(1, 0)}},
	}
	if len(s.date) > 10 {
		at, err := time.Parse(time.RFC3339Nano, s.date)
		if err != nil {
			panic(err)
		}
		tx.Time = at
	}
	return tx, rules.Result{Jurisdictions: s.jur}
}

func jur(code string, n rules.Nexus) *rules.Jurisdiction {
	return &rules.Jurisdiction{Code: code, Name: code, Nexus: &n}
}

// run feeds the sales to workers workers in the given order and renders
// the rows as text, one line each.
func run(t *testing.T, sales []sale, workers int, rng *rand.Rand) string {
	t.Helper()
	tr := New(Options{TempDir: t.TempDir()})
	defer func() {
		if err := tr.Close(); err != nil {
			t.Error(err)
		}
	}()
	ws := make([]*Worker, workers)
	for i := range ws {
		ws[i] = tr.NewWorker()
	}
	for i, s := range sales {
		w := ws[i%workers]
		if rng != nil {
			w = ws[rng.IntN(workers)]
		}
		tx, res := s.tx()
		w.Add(&tx, &res)
	}
	rows, err := tr.Rows(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return render(rows)
}

func render(rows []Row) string {
	var b strings.Builder
	for i := range rows {
		r := &rows[i]
		fmt.Fprintf(&b, "%s %s %s sales=%s n=%d other=%d %s", r.Jurisdiction.Code, r.Period, r.AsOf,
			r.Sales.StringFixed(2), r.Transactions, r.OtherCurrency, r.Status)
		if r.CarriedOver {
			b.WriteString(" carried")
		}
		if r.Crossed {
			fmt.Fprintf(&b, " crossed=%s/%s", r.CrossedDate, r.CrossedID)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

var (
	calSales = jur("CAL", rules.Nexus{Sales: decimal.NewFromInt(100000), HasSales: true, Window: rules.WindowCalendarYear})
	calAny   = jur("ANY", rules.Nexus{Sales: decimal.NewFromInt(100000), HasSales: true, Transactions: 3,
		Combine: rules.CombineAny, Window: rules.WindowCalendarYear})
	calAll = jur("ALL", rules.Nexus{Sales: decimal.NewFromInt(100000), HasSales: true, Transactions: 3,
		Combine: rules.CombineAll, Window: rules.WindowCalendarYear})
	roll = jur("ROLL", rules.Nexus{Sales: decimal.NewFromInt(100000), HasSales: true, Window: rules.WindowRolling12Months})
)

func one(j *rules.Jurisdiction) []*rules.Jurisdiction { return []*rules.Jurisdiction{j} }

func TestRows(t *testing.T) {
	tests := []struct {
		name  string
		sales []sale
		want  string
	}{
		{
			name: "calendar year crossing on the third day",
			sales: []sale{
				{id: "a", date: "2025-01-10", amount: "40000", jur: one(calSales)},
				{id: "b", date: "2025-02-10", amount: "40000", jur: one(calSales)},
				{id: "c", date: "2025-03-10", amount: "30000", jur: one(calSales)},
				{id: "d", date: "2025-04-10", amount: "30000", jur: one(calSales)},
			},
			want: "CAL 2025 2025-04-10 sales=140000.00 n=4 other=0 exceeded crossed=2025-03-10/c\n",
		},
		{
			name: "met means greater than or equal",
			sales: []sale{
				{id: "a", date: "2025-01-10", amount: "99999.99", jur: one(calSales)},
				{id: "b", date: "2025-01-11", amount: "0.01", jur: one(calSales)},
			},
			want: "CAL 2025 2025-01-11 sales=100000.00 n=2 other=0 exceeded crossed=2025-01-11/b\n",
		},
		{
			name:  "85% is upcoming",
			sales: []sale{{id: "a", date: "2025-01-10", amount: "85000", jur: one(calSales)}},
			want:  "CAL 2025 2025-01-10 sales=85000.00 n=1 other=0 upcoming\n",
		},
		{
			name:  "just below 85% is monitoring",
			sales: []sale{{id: "a", date: "2025-01-10", amount: "84999.99", jur: one(calSales)}},
			want:  "CAL 2025 2025-01-10 sales=84999.99 n=1 other=0 monitoring\n",
		},
		{
			name: "refunds subtract and are not transactions",
			sales: []sale{
				{id: "a", date: "2025-01-10", amount: "90000", jur: one(calSales)},
				{id: "r", date: "2025-01-11", amount: "10000", refund: true, jur: one(calSales)},
				{id: "b", date: "2025-01-12", amount: "15000", jur: one(calSales)},
				{id: "c", date: "2025-01-13", amount: "5000", jur: one(calSales)},
			},
			want: "CAL 2025 2025-01-13 sales=100000.00 n=3 other=0 exceeded crossed=2025-01-13/c\n",
		},
		{
			name: "combine any: the transaction count alone crosses",
			sales: []sale{
				{id: "a", date: "2025-01-10", amount: "1", jur: one(calAny)},
				{id: "b", date: "2025-01-11", amount: "1", jur: one(calAny)},
				{id: "c", date: "2025-01-12", amount: "1", jur: one(calAny)},
			},
			want: "ANY 2025 2025-01-12 sales=3.00 n=3 other=0 exceeded crossed=2025-01-12/c\n",
		},
		{
			name: "combine all: sales alone do not cross, upcoming needs both at 85%",
			sales: []sale{
				{id: "a", date: "2025-01-10", amount: "200000", jur: one(calAll)},
			},
			want: "ALL 2025 2025-01-10 sales=200000.00 n=1 other=0 monitoring\n",
		},
		{
			name: "combine all: crosses when the count is met too",
			sales: []sale{
				{id: "a", date: "2025-01-10", amount: "200000", jur: one(calAll)},
				{id: "b", date: "2025-01-11", amount: "1", jur: one(calAll)},
				{id: "c", date: "2025-01-12", amount: "1", jur: one(calAll)},
			},
			want: "ALL 2025 2025-01-12 sales=200002.00 n=3 other=0 exceeded crossed=2025-01-12/c\n",
		},
		{
			name: "calendar year: crossing carries over into the next year only",
			sales: []sale{
				{id: "a", date: "2024-06-01", amount: "100000", jur: one(calSales)},
				{id: "b", date: "2025-02-01", amount: "10", jur: one(calSales)},
				{id: "c", date: "2027-02-01", amount: "10", jur: one(calSales)},
			},
			want: "CAL 2024 2024-12-31 sales=100000.00 n=1 other=0 exceeded crossed=2024-06-01/a\n" +
				"CAL 2025 2025-12-31 sales=10.00 n=1 other=0 exceeded carried\n" +
				"CAL 2026 2026-12-31 sales=0.00 n=0 other=0 monitoring\n" +
				"CAL 2027 2027-02-01 sales=10.00 n=1 other=0 monitoring\n",
		},
		{
			name: "calendar year: a year with no data of its own is still carried",
			sales: []sale{
				{id: "a", date: "2024-06-01", amount: "100000", jur: one(calSales)},
				{id: "z", date: "2025-03-01", amount: "1", jur: one(calAny)},
			},
			want: "ANY 2025 2025-03-01 sales=1.00 n=1 other=0 monitoring\n" +
				"CAL 2024 2024-12-31 sales=100000.00 n=1 other=0 exceeded crossed=2024-06-01/a\n" +
				"CAL 2025 2025-03-01 sales=0.00 n=0 other=0 exceeded carried\n",
		},
		{
			name: "rolling: tested at each day, old days leave the window",
			sales: []sale{
				{id: "old", date: "2024-01-10", amount: "60000", jur: one(roll)},
				{id: "b", date: "2025-01-10", amount: "30000", jur: one(roll)}, // window 2024-01-11..: 30000
				{id: "a", date: "2025-01-09", amount: "50000", jur: one(roll)}, // window 2024-01-10..: 110000
				{id: "c", date: "2025-06-01", amount: "10000", jur: one(roll)},
			},
			want: "ROLL 2024-06-02/2025-06-01 2025-06-01 sales=90000.00 n=3 other=0 exceeded crossed=2025-01-09/a\n",
		},
		{
			name: "rolling: never crossed although a calendar year would have been",
			sales: []sale{
				{id: "a", date: "2024-01-10", amount: "60000", jur: one(roll)},
				{id: "b", date: "2025-01-10", amount: "60000", jur: one(roll)},
			},
			want: "ROLL 2024-01-11/2025-01-10 2025-01-10 sales=60000.00 n=1 other=0 monitoring\n",
		},
		{
			name: "rolling: upcoming as of the last day",
			sales: []sale{
				{id: "a", date: "2024-03-01", amount: "50000", jur: one(roll)},
				{id: "b", date: "2025-02-28", amount: "40000", jur: one(roll)},
			},
			want: "ROLL 2024-02-29/2025-02-28 2025-02-28 sales=90000.00 n=2 other=0 upcoming\n",
		},
		{
			name: "rolling: a refund day leaving the window crosses at the next sale",
			sales: []sale{
				{id: "s", date: "2023-12-01", amount: "50000", jur: one(roll)},
				{id: "r", date: "2024-01-05", amount: "50000", refund: true, jur: one(roll)},
				{id: "b", date: "2024-06-01", amount: "99000", jur: one(roll)},
				{id: "c", date: "2025-01-06", amount: "1000", refund: true, jur: one(roll)},
			},
			// At 2025-01-06 the window starts 2024-01-07: the refund r has
			// left it, b alone is 99000, minus c: 98000. Never 100000.
			want: "ROLL 2024-01-07/2025-01-06 2025-01-06 sales=98000.00 n=1 other=0 upcoming\n",
		},
		{
			name: "within a day: time order, not id or input order",
			sales: []sale{
				{id: "z", date: "2025-05-01T09:00:00Z", amount: "50000", jur: one(calSales)},
				{id: "y", date: "2025-05-01T10:00:00Z", amount: "50000", jur: one(calSales)},
				{id: "x", date: "2025-05-01T11:00:00Z", amount: "50000", jur: one(calSales)},
			},
			want: "CAL 2025 2025-05-01 sales=150000.00 n=3 other=0 exceeded crossed=2025-05-01/y\n",
		},
		{
			name: "within a day: sub-second instants, then date-only first, ties by id",
			sales: []sale{
				{id: "b", date: "2025-05-01T09:00:00.000000002Z", amount: "40000", jur: one(calSales)},
				{id: "a", date: "2025-05-01T09:00:00.000000001Z", amount: "40000", jur: one(calSales)},
				{id: "q", date: "2025-05-01", amount: "10000", jur: one(calSales)},
				{id: "p", date: "2025-05-01", amount: "10000", jur: one(calSales)},
			},
			// p, q (date only, by id) 20000, a 60000, b 100000.
			want: "CAL 2025 2025-05-01 sales=100000.00 n=4 other=0 exceeded crossed=2025-05-01/b\n",
		},
		{
			name: "within a day: a later refund does not undo the crossing sale",
			sales: []sale{
				{id: "a", date: "2025-05-01T09:00:00Z", amount: "60000", jur: one(calSales)},
				{id: "b", date: "2025-05-01T10:00:00Z", amount: "50000", jur: one(calSales)},
				{id: "r", date: "2025-05-01T11:00:00Z", amount: "5000", refund: true, jur: one(calSales)},
			},
			want: "CAL 2025 2025-05-01 sales=105000.00 n=2 other=0 exceeded crossed=2025-05-01/b\n",
		},
		{
			name: "other currencies are left out and counted",
			sales: []sale{
				{id: "a", date: "2025-01-10", amount: "90000", currency: "EUR", jur: one(calSales)},
				{id: "b", date: "2025-01-11", amount: "10", jur: one(calSales)},
			},
			want: "CAL 2025 2025-01-11 sales=10.00 n=1 other=1 monitoring\n",
		},
		{
			name: "a transaction counts in each jurisdiction it falls in; none without nexus",
			sales: []sale{
				{id: "a", date: "2025-01-10", amount: "100000",
					jur: []*rules.Jurisdiction{calSales, roll, {Code: "NONE"}}},
			},
			want: "CAL 2025 2025-01-10 sales=100000.00 n=1 other=0 exceeded crossed=2025-01-10/a\n" +
				"ROLL 2024-01-11/2025-01-10 2025-01-10 sales=100000.00 n=1 other=0 exceeded crossed=2025-01-10/a\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := run(t, tt.sales, 1, nil); got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

// TestShuffled: any input order and any number of workers give the same
// rows.
func TestShuffled(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	jurs := []*rules.Jurisdiction{calSales, calAny, calAll, roll}
	var sales []sale
	start := day("2024-01-01")
	for i := 0; i < 3000; i++ {
		d := start + txn.Date(rng.IntN(800))
		date := d.String()
		if rng.IntN(2) == 0 {
			date += fmt.Sprintf("T%02d:%02d:00Z", rng.IntN(24), rng.IntN(4)*15) // collisions on purpose
		}
		s := sale{
			id: fmt.Sprintf("t%05d", i), date: date,
			amount: fmt.Sprintf("%d.%02d", rng.IntN(400), rng.IntN(100)),
			refund: rng.IntN(10) == 0,
		}
		if rng.IntN(50) == 0 {
			s.currency = "EUR"
		}
		for _, j := range jurs {
			if rng.IntN(2) == 0 {
				s.jur = append(s.jur, j)
			}
		}
		sales = append(sales, s)
	}
	want := run(t, sales, 1, nil)
	if !strings.Contains(want, "crossed=") {
		t.Fatalf("the data should cross some threshold:\n%s", want)
	}
	for i := 0; i < 8; i++ {
		perm := append([]sale(nil), sales...)
		rng.Shuffle(len(perm), func(a, b int) { perm[a], perm[b] = perm[b], perm[a] })
		workers := 1 + rng.IntN(6)
		if got := run(t, perm, workers, rng); got != want {
			t.Fatalf("permutation %d with %d workers: got\n%s\nwant\n%s", i, workers, got, want)
		}
	}
}

func TestWindowStart(t *testing.T) {
	tests := []struct{ day, want string }{
		{"2025-03-14", "2024-03-15"},
		{"2025-12-31", "2025-01-01"}, // the calendar year
		{"2024-02-29", "2023-03-01"},
		{"2025-02-28", "2024-02-29"},
		{"2025-03-01", "2024-03-02"},
		{"2025-01-01", "2024-01-02"},
	}
	for _, tt := range tests {
		if got := WindowStart(day(tt.day)).String(); got != tt.want {
			t.Errorf("WindowStart(%s) = %s, want %s", tt.day, got, tt.want)
		}
	}
}

func TestPercent(t *testing.T) {
	tests := []struct{ v, of, want string }{
		{"84999.99", "100000", "84.9"},
		{"85000", "100000", "85.0"},
		{"0", "500000", "0.0"},
		{"1000000", "500000", "200.0"},
		{"-10", "100", "-10.0"},
		{"2", "3", "66.6"},
	}
	for _, tt := range tests {
		got := percent(decimal.RequireFromString(tt.v), decimal.RequireFromString(tt.of))
		if got != tt.want {
			t.Errorf("percent(%s, %s) = %s, want %s", tt.v, tt.of, got, tt.want)
		}
	}
}

// TestSpillRemoved: no scratch file is left behind, whether Rows ran or
// not.
func TestSpillRemoved(t *testing.T) {
	for _, callRows := range []bool{true, false} {
		dir := t.TempDir()
		tr := New(Options{TempDir: dir})
		w := tr.NewWorker()
		tx, res := sale{id: "a", date: "2025-01-10", amount: "100000", jur: one(calSales)}.tx()
		w.Add(&tx, &res)
		if callRows {
			if _, err := tr.Rows(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		if err := tr.Close(); err != nil {
			t.Fatal(err)
		}
		ents, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		if len(ents) != 0 {
			t.Errorf("left behind: %v", ents)
		}
	}
}
