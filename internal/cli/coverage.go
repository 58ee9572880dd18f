package cli

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/shopspring/decimal"

	"github.com/taxagg/taxagg/internal/pipeline"
)

// coverageSummary is the part of the run summary that accounts for the
// accepted transactions: accepted = taxed + untaxed, untaxed = unmatched +
// no_tax, with the gross of each per currency and the places the unmatched
// ones were shipped to, most frequent first.
type coverageSummary struct {
	Taxed           int64                        `json:"taxed"`
	Untaxed         int64                        `json:"untaxed"`
	Unmatched       int64                        `json:"unmatched"`
	NoTax           int64                        `json:"no_tax"`
	Gross           map[string]map[string]string `json:"gross"`
	UnmatchedPlaces []placeSummary               `json:"unmatched_places"`
}

type placeSummary struct {
	Country      string `json:"country"`
	State        string `json:"state,omitempty"`
	Transactions int64  `json:"transactions"`
}

func newCoverageSummary(cv *pipeline.Coverage) coverageSummary {
	s := coverageSummary{
		Taxed: cv.Taxed.Transactions, Untaxed: cv.Untaxed(),
		Unmatched: cv.Unmatched.Transactions, NoTax: cv.NoTax.Transactions,
		Gross: map[string]map[string]string{
			"taxed":     grossMap(cv.Taxed.Gross),
			"untaxed":   grossMap(cv.Unmatched.Gross, cv.NoTax.Gross),
			"unmatched": grossMap(cv.Unmatched.Gross),
			"no_tax":    grossMap(cv.NoTax.Gross),
		},
		UnmatchedPlaces: []placeSummary{},
	}
	for _, p := range cv.Places {
		s.UnmatchedPlaces = append(s.UnmatchedPlaces, placeSummary{Country: p.Country, State: p.State, Transactions: p.Transactions})
	}
	return s
}

// grossMap adds the amounts per currency and prints them at the
// currency's minor unit.
func grossMap(lists ...[]pipeline.Gross) map[string]string {
	sums := map[string]decimal.Decimal{}
	digits := map[string]int32{}
	for _, l := range lists {
		for _, g := range l {
			sums[g.Currency.Code] = sums[g.Currency.Code].Add(g.Amount)
			digits[g.Currency.Code] = g.Currency.Digits
		}
	}
	out := make(map[string]string, len(sums))
	for c, d := range sums {
		out[c] = formatMoney(d, digits[c])
	}
	return out
}

// line is the summary line's second part, after the first identity:
//
//	accepted 3 = taxed 2 + untaxed 1 (unmatched 1 + no_tax 0); gross: taxed USD 20.00, unmatched GBP 10.00; unmatched places: GB 1
func (s *coverageSummary) line() string {
	var b strings.Builder
	fmt.Fprintf(&b, "accepted %d = taxed %d + untaxed %d", s.Taxed+s.Untaxed, s.Taxed, s.Untaxed)
	if s.Untaxed > 0 {
		fmt.Fprintf(&b, " (unmatched %d + no_tax %d)", s.Unmatched, s.NoTax)
	}
	sep := "; gross: "
	for _, class := range []string{"taxed", "unmatched", "no_tax"} {
		g := s.Gross[class]
		if len(g) == 0 {
			continue
		}
		b.WriteString(sep)
		sep = ", "
		b.WriteString(class)
		codes := make([]string, 0, len(g))
		for c := range g {
			codes = append(codes, c)
		}
		sort.Strings(codes)
		for _, c := range codes {
			fmt.Fprintf(&b, " %s %s", c, g[c])
		}
	}
	sep = "; unmatched places: "
	for _, p := range s.UnmatchedPlaces {
		b.WriteString(sep)
		sep = ", "
		b.WriteString(p.Country)
		if p.State != "" {
			b.WriteString("/" + p.State)
		}
		fmt.Fprintf(&b, " %d", p.Transactions)
	}
	return b.String()
}

// openUnmatched creates the --unmatched file (atomically, as --out) and
// returns the writer the pipeline fills and the function that settles the
// file with the run's outcome: kept when the run completed (with or
// without findings), removed when it failed or was interrupted.
func openUnmatched(path string) (io.Writer, func(runErr error) error, error) {
	if path == "" {
		return nil, func(err error) error { return err }, nil
	}
	af, err := createAtomic(path)
	if err != nil {
		return nil, nil, fmt.Errorf("--unmatched: %w", err)
	}
	// The pipeline buffers what it writes and flushes it at the end.
	return af, func(runErr error) error {
		var findings *FindingsError
		if runErr != nil && !errors.As(runErr, &findings) {
			af.abort()
			return runErr
		}
		if err := af.commit(); err != nil {
			return err
		}
		return runErr
	}, nil
}
