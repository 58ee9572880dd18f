package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// fuzzRules is the rule set of FuzzAggregate: small, but with overlapping
// jurisdictions, dated rates, taxability, tiers, a compound and a fixed
// tax, an exemption and each rounding level, so that random records reach
// every part of the engine.
const fuzzRules = `version: 1
jurisdictions:
  - code: US-TX
    name: Texas
    level: state
    match: {country: US, state: TX}
    taxes:
      - id: tx
        rates: [{from: 2020-01-01, to: 2025-01-01, rate: "6.25%"}, {from: 2025-01-01, rate: "6.5%"}]
        taxability: {food: exempt, saas: {rate: "5%", portion: "80%"}, toys: {exempt_below: "10.00"}}
  - code: US-TX-AUS
    name: Austin
    level: city
    match: {country: US, state: TX, city: Austin}
    taxes:
      - id: aus
        rates: [{from: 2020-01-01, rate: "2%"}]
        tiers: {per: unit, brackets: [{up_to: "1600.00"}, {up_to: "3200.00", rate: "1%"}]}
        rounding: {mode: half_even, level: transaction}
      - id: aus-c
        rates: [{from: 2020-01-01, rate: "0.5%"}]
        compound_on: [tx]
        rounding: {mode: up, level: aggregate}
  - code: US-X
    name: Excise
    level: district
    taxes:
      - id: fee
        fixed: "0.25"
        rounding: {mode: down}
exemptions:
  - {customer: cus_1, jurisdictions: ["US-TX*"], reason: resale, from: 2025-01-01}
`

// positioned is the shape of every error a bad input may stop a run
// with: SOURCE:LINE: [FIELD: ]REASON, possibly behind the reject limit.
var positioned = regexp.MustCompile(`^stdin:\d+: \S`)

// FuzzAggregate drives the whole aggregate path — format detection, gzip,
// the readers, transaction parsing, the rules, the pipeline, aggregation
// and output — with arbitrary bytes on stdin. Whatever the bytes, the run
// either succeeds (0, or 1 with quarantined records) with rows that add
// up, or stops with exit 2 and a positioned error; it never panics, and
// read = accepted + rejected + duplicates and accepted = taxed + untaxed
// hold in its summary.
func FuzzAggregate(f *testing.F) {
	for _, s := range []string{
		"",
		`{"id":"a","date":"2025-03-01","currency":"USD","amount":"100.00","country":"US","state":"TX","city":"Austin"}` + "\n" +
			`{"id":"b","date":"2024-03-01","type":"refund","currency":"USD","lines":[{"amount":"5000","quantity":"2"},{"amount":"3.50","product":"saas"}],"country":"US","state":"TX","city":"Austin","customer":"cus_1"}` + "\n" +
			`{"id":"a","date":"2025-03-01","currency":"USD","amount":"100.0","country":"US","state":"TX","city":"Austin"}` + "\n",
		`[{"id":"x","date":"2025-01-01T23:00:00-06:00","currency":"JPY","amount":1000,"country":"US","jurisdictions":["US-X","US-TX"]}]`,
		"id,date,currency,amount,country,state,product,tax_included\nr1,2025-02-01,USD,9.99,US,TX,toys,true\nr2,2025-02-01,USD,\"1,0\",US,TX,,\n",
		`{"id":"a","date":"2025-02-30","currency":"USD","amount":"1e3","country":"US"}`,
		"\xef\xbb\xbf{\"id\":\"a\"}\r\n\r\n[",
	} {
		f.Add([]byte(s))
	}
	// The bad-input corpus, except the rule files.
	if files, err := filepath.Glob(filepath.Join(badDir, "*")); err == nil {
		for _, name := range files {
			if strings.HasSuffix(name, ".yaml") {
				continue
			}
			if b, err := os.ReadFile(name); err == nil && len(b) < 4096 {
				f.Add(b)
			}
		}
	}
	rules := filepath.Join(f.TempDir(), "rules.yaml")
	if err := os.WriteFile(rules, []byte(fuzzRules), 0o644); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rej := filepath.Join(t.TempDir(), "rejects.ndjson")

		// Without --rejects.
		code, out, stderr := hardRun(t, string(data), "aggregate", "--rules", rules, "--format", "ndjson", "--workers", "2")
		noCrash(t, stderr)
		s := stderrSummary(t, stderr)
		switch code {
		case ExitOK:
			if s.Rejected != 0 {
				t.Fatalf("exit 0 with rejects: %+v", s)
			}
			checkRows(t, out)
		case ExitError:
			msg := lastLine(stderr)
			if !positioned.MatchString(msg) {
				t.Fatalf("unpositioned error %q; stderr:\n%s", msg, stderr)
			}
			if out != "" {
				t.Fatalf("failed run wrote output:\n%s", out)
			}
		default:
			t.Fatalf("exit %d; stderr:\n%s", code, stderr)
		}

		// With --rejects the run reads everything; it stops only when the
		// input cannot be read further at all (a bad CSV header).
		code2, out2, stderr2 := hardRun(t, string(data), "aggregate", "--rules", rules, "--format", "ndjson", "--workers", "3", "--rejects", rej)
		noCrash(t, stderr2)
		s2 := stderrSummary(t, stderr2)
		switch code2 {
		case ExitOK, ExitFindings:
			if (code2 == ExitFindings) != (s2.Rejected > 0) {
				t.Fatalf("exit %d with %+v", code2, s2)
			}
			if n := int64(len(readRejects(t, rej))); n != s2.Rejected {
				t.Fatalf("%d records in the rejects file, %d rejected", n, s2.Rejected)
			}
			checkRows(t, out2)
			if code == ExitOK && (code2 != ExitOK || out2 != out || s2 != s) {
				t.Fatalf("--rejects changed a clean run: exit %d %+v\n%s\nwant\n%s", code2, s2, out2, out)
			}
		case ExitError:
			if msg := lastLine(stderr2); !positioned.MatchString(msg) || s2.Read != 0 {
				t.Fatalf("with --rejects: exit 2 after %+v: %q", s2, msg)
			}
		default:
			t.Fatalf("with --rejects: exit %d; stderr:\n%s", code2, stderr2)
		}
	})
}

// stderrSummary reads the counts of the summary line on stderr (cheaper
// than --summary, which syncs a file) and checks the accounting identity.
func stderrSummary(t *testing.T, stderr string) hardSummary {
	t.Helper()
	var s hardSummary
	first, _, _ := strings.Cut(stderr, "\n")
	if _, err := fmt.Sscanf(first, "taxagg aggregate: read %d = accepted %d + rejected %d + duplicates %d",
		&s.Read, &s.Accepted, &s.Rejected, &s.Duplicates); err != nil {
		t.Fatalf("no summary on stderr (%v):\n%s", err, stderr)
	}
	if s.Read != s.Accepted+s.Rejected+s.Duplicates {
		t.Fatalf("summary breaks read = accepted + rejected + duplicates: %q", first)
	}
	_, cov, _ := strings.Cut(first, "; accepted ")
	var accepted int64
	if _, err := fmt.Sscanf(cov, "%d = taxed %d + untaxed %d", &accepted, &s.Taxed, &s.Untaxed); err != nil {
		t.Fatalf("no accepted = taxed + untaxed in the summary (%v): %q", err, first)
	}
	if s.Untaxed > 0 {
		_, split, _ := strings.Cut(cov, "(")
		if _, err := fmt.Sscanf(split, "unmatched %d + no_tax %d", &s.Unmatched, &s.NoTax); err != nil {
			t.Fatalf("no untaxed = unmatched + no_tax in the summary (%v): %q", err, first)
		}
	}
	if accepted != s.Accepted || s.Accepted != s.Taxed+s.Untaxed || s.Untaxed != s.Unmatched+s.NoTax {
		t.Fatalf("summary breaks accepted = taxed + untaxed (unmatched + no_tax): %q", first)
	}
	return s
}

func lastLine(s string) string {
	s = strings.TrimRight(s, "\n")
	return s[strings.LastIndexByte(s, '\n')+1:]
}

// checkRows parses aggregate's NDJSON rows and checks each adds up.
func checkRows(t *testing.T, out string) {
	t.Helper()
	parseRows(t, out)
}
