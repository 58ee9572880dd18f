package cli

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/taxagg/taxagg/internal/money"
)

// Property tests over random rule sets and random transaction streams,
// each drawn from a fixed seed so that a failure names the seed that
// reproduces it:
//
//   - aggregate's output does not depend on the input order or --workers;
//   - calc's totals equal aggregate's;
//   - gross = exempt + non_taxable + taxable in every row;
//   - read = accepted + rejected + duplicates and accepted = taxed +
//     untaxed (unmatched + no_tax) in every summary;
//   - a stream replayed (twice in one file, or the file given twice) gives
//     the same aggregate as once.

const propSeeds = 16

// genRules writes a random rule set within the rule language: dated rates,
// taxability (exempt, reduced, portion, exempt_below), tiers per unit, line
// and transaction, compound taxes (on earlier taxes only, so never a
// cycle), fixed amounts, exemptions, every rounding mode and level. It
// returns the YAML and each tax's rounding mode.
func genRules(r *rand.Rand) (string, map[string]money.RoundingMode) {
	var b strings.Builder
	modes := map[string]money.RoundingMode{}
	b.WriteString("version: 1\njurisdictions:\n")
	rates := []string{`"0%"`, `"1%"`, `"2.5%"`, `"4.7%"`, `"6.25%"`, `"7.375%"`, `"0.0825"`, `"10%"`, `0.03`}
	pick := func(s []string) string { return s[r.IntN(len(s))] }
	dates := []string{"2024-01-01", "2024-07-01", "2025-01-01", "2025-04-01", "2025-10-01", "2026-01-01"}
	var taxIDs []string
	type jur struct{ code, level, match string }
	jurs := []jur{
		{"ZZ-A", "state", "{country: ZZ, state: A}"},
		{"ZZ-B", "state", "{country: ZZ, state: [B, C]}"},
		{"ZZ-A-X", "county", "{country: ZZ, state: A, county: X}"},
		{"ZZ", "country", "{country: ZZ}"},
		{"ZZ-EXPL", "district", ""},
	}
	r.Shuffle(len(jurs), func(i, j int) { jurs[i], jurs[j] = jurs[j], jurs[i] })
	jurs = jurs[:2+r.IntN(len(jurs)-1)]
	for _, j := range jurs {
		fmt.Fprintf(&b, "  - code: %s\n    name: Jurisdiction %s\n    level: %s\n", j.code, j.code, j.level)
		if j.match != "" {
			fmt.Fprintf(&b, "    match: %s\n", j.match)
		}
		b.WriteString("    taxes:\n")
		for n := 1 + r.IntN(2); n > 0; n-- {
			id := fmt.Sprintf("%s-t%d", strings.ToLower(j.code), len(taxIDs))
			fmt.Fprintf(&b, "      - id: %s\n", id)
			// Dated entries, never overlapping: consecutive spans, maybe
			// with gaps, the last maybe open.
			start := r.IntN(3)
			nEntries := 1 + r.IntN(3)
			fixed := r.IntN(6) == 0
			b.WriteString("        rates:\n")
			d := start
			for e := 0; e < nEntries && d < len(dates); e++ {
				fmt.Fprintf(&b, "          - {from: %s", dates[d])
				next := d + 1 + r.IntN(2)
				if e < nEntries-1 || r.IntN(3) == 0 {
					if next < len(dates) {
						fmt.Fprintf(&b, ", to: %s", dates[next])
					}
				}
				if !fixed {
					fmt.Fprintf(&b, ", rate: %s", pick(rates))
				}
				b.WriteString("}\n")
				if r.IntN(3) == 0 {
					next++ // a gap
				}
				d = next
			}
			if fixed {
				fmt.Fprintf(&b, "        fixed: %s\n", pick([]string{`"0.50"`, `"1.25"`, `"0.005"`}))
			}
			if r.IntN(2) == 0 {
				b.WriteString("        taxability:\n")
				for i, cat := range []string{"default", "physical", "saas", "food"} {
					if i < 3 && r.IntN(2) == 0 {
						continue
					}
					tb := pick([]string{"taxable", "exempt", `"2%"`, `"0.04"`,
						`{rate: "3%", portion: "80%"}`, `{portion: "50%"}`, `{exempt_below: "110.00"}`,
						`{rate: "1.5%", exempt_below: 20}`})
					fmt.Fprintf(&b, "          %s: %s\n", cat, tb)
				}
			}
			if !fixed && r.IntN(3) == 0 {
				fmt.Fprintf(&b, "        tiers:\n          per: %s\n          brackets:\n", pick([]string{"unit", "line", "transaction"}))
				up := 0
				for k := 1 + r.IntN(3); k > 0; k-- {
					up += 50 + r.IntN(500)
					fmt.Fprintf(&b, "            - {up_to: \"%d.%02d\"", up, r.IntN(100))
					if r.IntN(2) == 0 {
						fmt.Fprintf(&b, ", rate: %s", pick(rates))
					}
					b.WriteString("}\n")
				}
				if r.IntN(2) == 0 {
					fmt.Fprintf(&b, "            - {rate: %s}\n", pick(rates))
				}
			}
			if !fixed && len(taxIDs) > 0 && r.IntN(3) == 0 {
				fmt.Fprintf(&b, "        compound_on: [%s]\n", taxIDs[r.IntN(len(taxIDs))])
			}
			mode := pick([]string{"half_up", "half_even", "up", "down"})
			m, _ := money.ParseRoundingMode(mode)
			modes[id] = m
			if r.IntN(3) > 0 {
				fmt.Fprintf(&b, "        rounding: {mode: %s, level: %s}\n", mode, pick([]string{"line", "transaction", "aggregate"}))
			} else {
				modes[id] = money.HalfUp
			}
			taxIDs = append(taxIDs, id)
		}
	}
	if r.IntN(2) == 0 {
		fmt.Fprintf(&b, "exemptions:\n  - {customer: cus_1, jurisdictions: [\"%s*\"], reason: resale, from: 2025-01-01}\n", jurs[0].code)
	}
	return b.String(), modes
}

// genTransactions writes a random NDJSON stream: sales and refunds, three
// currencies with their minor units, flat and multi-line records, explicit
// jurisdictions, customers with and without exemptions, tax-included
// amounts, time stamps with zones, exact replays (some spelled otherwise)
// and a few bad records. Ids are unique apart from the replays, so no
// record conflicts with another.
func genTransactions(r *rand.Rand, n int) []string {
	type cur struct {
		code   string
		digits int
	}
	curs := []cur{{"USD", 2}, {"USD", 2}, {"JPY", 0}, {"BHD", 3}}
	amount := func(c cur) string {
		s := fmt.Sprintf("%d", r.IntN(3000))
		if c.digits > 0 && r.IntN(4) > 0 {
			s += "." + fmt.Sprintf("%0*d", c.digits, r.IntN(pow10(c.digits)))
		}
		return s
	}
	date := func() string {
		day := 19723 + r.IntN(900) // 2024-01-01 to mid-2026
		d := propDate(day)
		if r.IntN(5) == 0 {
			return d + pick(r, []string{"T23:30:00-05:00", "T00:15:00+09:00", "T12:00:00Z"})
		}
		return d
	}
	var out []string
	for i := 0; i < n; i++ {
		if len(out) > 0 && r.IntN(20) == 0 {
			// An exact replay of an earlier record.
			out = append(out, out[r.IntN(len(out))])
			continue
		}
		c := curs[r.IntN(len(curs))]
		f := []string{fmt.Sprintf(`"id":"t%d"`, i), `"date":"` + date() + `"`, `"currency":"` + c.code + `"`, `"country":"ZZ"`}
		if r.IntN(5) == 0 {
			f = append(f, `"type":"refund"`)
			if r.IntN(2) == 0 {
				f = append(f, `"original_date":"`+propDate(19723+r.IntN(900))+`"`)
			}
		}
		f = append(f, `"state":"`+pick(r, []string{"A", "A", "B", "C", "D"})+`"`)
		if r.IntN(2) == 0 {
			f = append(f, `"county":"`+pick(r, []string{"X", "Y"})+`"`)
		}
		if r.IntN(8) == 0 {
			f = append(f, `"jurisdictions":["ZZ-A","ZZ-EXPL"]`)
		}
		if r.IntN(3) == 0 {
			f = append(f, `"customer":"`+pick(r, []string{"cus_1", "cus_2"})+`"`)
		}
		if r.IntN(25) == 0 {
			f = append(f, `"exempt_reason":"resale"`)
		}
		line := func() []string {
			l := []string{`"amount":"` + amount(c) + `"`}
			if r.IntN(3) == 0 {
				l = append(l, `"quantity":"`+pick(r, []string{"2", "3", "1.5", "10"})+`"`)
			}
			if r.IntN(4) > 0 {
				l = append(l, `"product":"`+pick(r, []string{"physical", "saas", "food", "toys"})+`"`)
			}
			if r.IntN(15) == 0 {
				l = append(l, `"tax_included":true`)
			}
			return l
		}
		if r.IntN(4) == 0 {
			var ls []string
			for k := 1 + r.IntN(3); k > 0; k-- {
				ls = append(ls, "{"+strings.Join(line(), ",")+"}")
			}
			f = append(f, `"lines":[`+strings.Join(ls, ",")+`]`)
		} else {
			f = append(f, line()...)
		}
		if r.IntN(30) == 0 {
			// Bad input: quarantined with --rejects.
			f = append(f, pick(r, []string{`"amount":"1e3"`, `"quantity":"0"`, `"tax_included":"maybe"`}))
		}
		r.Shuffle(len(f), func(i, j int) { f[i], f[j] = f[j], f[i] })
		out = append(out, "{"+strings.Join(f, ",")+"}")
	}
	return out
}

func pick(r *rand.Rand, s []string) string { return s[r.IntN(len(s))] }

func pow10(n int) int {
	p := 1
	for ; n > 0; n-- {
		p *= 10
	}
	return p
}

func propDate(daysSinceEpoch int) string {
	return time.Unix(int64(daysSinceEpoch)*86400, 0).UTC().Format("2006-01-02")
}

// propCase is one seed's rules and stream, written to files.
type propCase struct {
	dir, rules, input string
	lines             []string
	modes             map[string]money.RoundingMode
}

func newPropCase(t *testing.T, seed uint64, n int) *propCase {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 0x7a7a))
	y, modes := genRules(r)
	c := &propCase{dir: t.TempDir(), modes: modes, lines: genTransactions(r, n)}
	c.rules = filepath.Join(c.dir, "rules.yaml")
	c.input = c.writeInput("input.ndjson", c.lines)
	if err := os.WriteFile(c.rules, []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := hardRun(t, "", "rules", "check", c.rules); code != 0 {
		t.Fatalf("seed %d: the generator wrote bad rules:\n%s\n%s", seed, stderr, y)
	}
	return c
}

func (c *propCase) writeInput(name string, lines []string) string {
	path := filepath.Join(c.dir, name)
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		panic(err)
	}
	return path
}

// run runs a transaction command over the case's rules and returns its
// output and summary. Every run's summary must keep the accounting
// identity, and only findings (quarantined records) may stop it.
func (c *propCase) run(t *testing.T, cmd string, extra []string, inputs ...string) (string, hardSummary) {
	t.Helper()
	sum := filepath.Join(c.dir, "summary.json")
	rej := filepath.Join(c.dir, "rejects.ndjson")
	os.Remove(rej)
	args := append([]string{cmd, "--rules", c.rules, "--format", "ndjson", "--summary", sum, "--rejects", rej}, extra...)
	args = append(args, inputs...)
	code, stdout, stderr := hardRun(t, "", args...)
	noCrash(t, stderr)
	s := readSummary(t, sum) // checks both accounting identities
	if code != 0 && code != ExitFindings || (code == ExitFindings) != (s.Rejected > 0) {
		t.Fatalf("%v: exit %d, summary %+v, stderr:\n%s", args, code, s, stderr)
	}
	if rejs := readRejects(t, rej); int64(len(rejs)) != s.Rejected {
		t.Fatalf("%v: %d records in the rejects file, %d rejected", args, len(rejs), s.Rejected)
	}
	return stdout, s
}

// aggRow is one aggregate row as printed.
type aggRow struct {
	Jurisdiction string          `json:"jurisdiction"`
	Tax          string          `json:"tax"`
	Period       string          `json:"period"`
	Currency     string          `json:"currency"`
	Rate         string          `json:"rate"`
	Transactions int64           `json:"transactions"`
	Gross        decimal.Decimal `json:"gross_sales"`
	Exempt       decimal.Decimal `json:"exempt_sales"`
	NonTaxable   decimal.Decimal `json:"non_taxable_sales"`
	Taxable      decimal.Decimal `json:"taxable_sales"`
	TaxAmount    decimal.Decimal `json:"tax_amount"`
	TaxExact     decimal.Decimal `json:"tax_exact"`
}

func parseRows(t *testing.T, out string) []aggRow {
	t.Helper()
	var rows []aggRow
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r aggRow
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("row %q: %v", sc.Text(), err)
		}
		if !r.Gross.Equal(r.Exempt.Add(r.NonTaxable).Add(r.Taxable)) {
			t.Errorf("row breaks gross = exempt + non_taxable + taxable: %s", sc.Text())
		}
		rows = append(rows, r)
	}
	return rows
}

func TestPropertyOrderAndWorkers(t *testing.T) {
	for seed := uint64(1); seed <= propSeeds; seed++ {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			t.Parallel()
			c := newPropCase(t, seed, 400)
			r := rand.New(rand.NewPCG(seed, 1))
			var extra []string
			switch r.IntN(4) {
			case 1:
				extra = append(extra, "--period", "month")
			case 2:
				extra = append(extra, "--period", "quarter", "--timezone", "America/New_York")
			}
			if r.IntN(2) == 0 {
				extra = append(extra, "--by-rate")
			}
			want, wsum := c.run(t, "aggregate", append([]string{"--workers", "1"}, extra...), c.input)
			parseRows(t, want)
			if wsum.Accepted == 0 {
				t.Fatalf("nothing accepted: %+v", wsum)
			}
			shuffled := append([]string(nil), c.lines...)
			r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
			shufFile := c.writeInput("shuffled.ndjson", shuffled)
			for _, v := range []struct {
				workers string
				input   string
			}{{"2", c.input}, {"7", c.input}, {"1", shufFile}, {"3", shufFile}} {
				got, gsum := c.run(t, "aggregate", append([]string{"--workers", v.workers}, extra...), v.input)
				if got != want {
					t.Errorf("%v --workers %s on %s: output differs\n got:\n%s\nwant:\n%s", extra, v.workers, filepath.Base(v.input), got, want)
				}
				if gsum.Read != wsum.Read || gsum.Accepted != wsum.Accepted || gsum.Rejected != wsum.Rejected || gsum.Duplicates != wsum.Duplicates {
					t.Errorf("--workers %s on %s: summary %+v, want %+v", v.workers, filepath.Base(v.input), gsum, wsum)
				}
			}
		})
	}
}

func TestPropertyCalcMatchesAggregate(t *testing.T) {
	for seed := uint64(1); seed <= propSeeds; seed++ {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			t.Parallel()
			c := newPropCase(t, seed, 400)
			aggOut, asum := c.run(t, "aggregate", nil, c.input)
			calcOut, csum := c.run(t, "calc", nil, c.input)
			if asum.Read != csum.Read || asum.Accepted != csum.Accepted || asum.Rejected != csum.Rejected || asum.Duplicates != csum.Duplicates {
				t.Fatalf("calc summary %+v, aggregate %+v", csum, asum)
			}
			type key struct{ j, tax, cur string }
			type tot struct {
				tx                          int64
				exempt, nonTaxable, taxable decimal.Decimal
				tax                         decimal.Decimal
			}
			totals := map[key]*tot{}
			var records, withTaxes int64
			sc := bufio.NewScanner(strings.NewReader(calcOut))
			sc.Buffer(nil, 1<<20)
			for sc.Scan() {
				records++
				var rec struct {
					Currency string `json:"currency"`
					Taxes    []struct {
						Jurisdiction string          `json:"jurisdiction"`
						Tax          string          `json:"tax"`
						Taxable      decimal.Decimal `json:"taxable"`
						Exempt       decimal.Decimal `json:"exempt"`
						NonTaxable   decimal.Decimal `json:"non_taxable"`
						TaxAmount    decimal.Decimal `json:"tax_amount"`
					} `json:"taxes"`
					TaxTotal decimal.Decimal `json:"tax_total"`
				}
				if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
					t.Fatalf("calc record %q: %v", sc.Text(), err)
				}
				seen := map[key]bool{}
				sum := decimal.Zero
				for _, tx := range rec.Taxes {
					k := key{tx.Jurisdiction, tx.Tax, rec.Currency}
					tt := totals[k]
					if tt == nil {
						tt = &tot{}
						totals[k] = tt
					}
					if !seen[k] {
						seen[k] = true
						tt.tx++
					}
					tt.exempt = tt.exempt.Add(tx.Exempt)
					tt.nonTaxable = tt.nonTaxable.Add(tx.NonTaxable)
					tt.taxable = tt.taxable.Add(tx.Taxable)
					tt.tax = tt.tax.Add(tx.TaxAmount)
					sum = sum.Add(tx.TaxAmount)
				}
				if !sum.Equal(rec.TaxTotal) {
					t.Errorf("calc record's tax_total %s, its taxes add up to %s: %s", rec.TaxTotal, sum, sc.Text())
				}
				if len(rec.Taxes) > 0 {
					withTaxes++
				}
			}
			if records != csum.Accepted {
				t.Errorf("calc wrote %d records, accepted %d", records, csum.Accepted)
			}
			// taxed: the records with a tax line; untaxed: the others.
			if withTaxes != csum.Taxed || records-withTaxes != csum.Untaxed {
				t.Errorf("calc wrote %d records with taxes and %d without; summary: taxed %d, untaxed %d",
					withTaxes, records-withTaxes, csum.Taxed, csum.Untaxed)
			}
			rows := parseRows(t, aggOut)
			t.Logf("%+v, %d rows", asum, len(rows))
			if len(rows) == 0 {
				t.Fatalf("no rows: the generated rules and stream never meet")
			}
			if len(rows) != len(totals) {
				t.Errorf("aggregate has %d rows, calc touches %d (jurisdiction, tax, currency)", len(rows), len(totals))
			}
			for _, row := range rows {
				k := key{row.Jurisdiction, row.Tax, row.Currency}
				tt := totals[k]
				if tt == nil {
					t.Errorf("row %+v: not in calc", k)
					continue
				}
				digits := map[string]int32{"USD": 2, "JPY": 0, "BHD": 3}[row.Currency]
				// calc prints a tax rounded in aggregate exactly; aggregate
				// rounds the row's sum once, with the tax's mode.
				calcTax := money.Round(tt.tax, digits, c.modes[row.Tax])
				if row.Transactions != tt.tx || !row.Exempt.Equal(tt.exempt) || !row.NonTaxable.Equal(tt.nonTaxable) ||
					!row.Taxable.Equal(tt.taxable) || !row.TaxAmount.Equal(calcTax) {
					t.Errorf("%v: aggregate tx %d exempt %s non_taxable %s taxable %s tax %s;\n  calc tx %d exempt %s non_taxable %s taxable %s tax %s (exact %s)",
						k, row.Transactions, row.Exempt, row.NonTaxable, row.Taxable, row.TaxAmount,
						tt.tx, tt.exempt, tt.nonTaxable, tt.taxable, calcTax, tt.tax)
				}
			}
		})
	}
}

func TestPropertyReplay(t *testing.T) {
	for seed := uint64(1); seed <= propSeeds; seed++ {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			t.Parallel()
			c := newPropCase(t, seed, 300)
			once, s1 := c.run(t, "aggregate", nil, c.input)
			twice := c.writeInput("twice.ndjson", append(append([]string(nil), c.lines...), c.lines...))
			for _, inputs := range [][]string{{twice}, {c.input, c.input}} {
				got, s2 := c.run(t, "aggregate", nil, inputs...)
				if got != once {
					t.Errorf("%v: output differs from one pass\n got:\n%s\nwant:\n%s", inputs, got, once)
				}
				// The second pass adds nothing: its good records are
				// duplicates, its bad ones are rejected again.
				want := hardSummary{Read: 2 * s1.Read, Accepted: s1.Accepted, Rejected: 2 * s1.Rejected,
					Duplicates: 2*s1.Duplicates + s1.Accepted}
				if s2.Read != want.Read || s2.Accepted != want.Accepted || s2.Rejected != want.Rejected || s2.Duplicates != want.Duplicates {
					t.Errorf("%v: summary %+v, want %+v", inputs, s2, want)
				}
			}
		})
	}
}

// TestPropertyGenerators keeps the generators honest: over the seeds they
// reach every feature the properties are meant to cover.
func TestPropertyGenerators(t *testing.T) {
	var all strings.Builder
	var lines []string
	for seed := uint64(1); seed <= propSeeds; seed++ {
		r := rand.New(rand.NewPCG(seed, 0x7a7a))
		y, _ := genRules(r)
		all.WriteString(y)
		lines = append(lines, genTransactions(r, 400)...)
	}
	for _, want := range []string{"to: ", "exempt\n", "portion", "exempt_below", "per: unit", "per: line", "per: transaction",
		"compound_on", "fixed", "exemptions", "half_even", "level: transaction", "level: aggregate", "mode: up", "mode: down"} {
		if !strings.Contains(all.String(), want) {
			t.Errorf("no generated rule set has %q", want)
		}
	}
	stream := strings.Join(lines, "\n")
	for _, want := range []string{`"type":"refund"`, `"original_date"`, `"lines"`, `"JPY"`, `"BHD"`, `"tax_included":true`,
		`"jurisdictions"`, `"cus_1"`, `"exempt_reason"`, "T23:30:00-05:00", `"1e3"`} {
		if !strings.Contains(stream, want) {
			t.Errorf("no generated stream has %s", want)
		}
	}
	sort.Strings(lines)
	dups := 0
	for i := 1; i < len(lines); i++ {
		if lines[i] == lines[i-1] {
			dups++
		}
	}
	if dups == 0 {
		t.Error("no generated stream replays a record")
	}
}
