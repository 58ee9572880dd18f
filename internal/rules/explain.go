package rules

import (
	"fmt"
	"io"
	"strings"

	"github.com/taxagg/taxagg/internal/money"
	"github.com/taxagg/taxagg/internal/txn"
)

// Explain writes, for a person, why each tax applied to tx or did not:
// which jurisdictions matched and which did not (and on what), which taxes
// were not in force, and how every line was treated.
func (p *Program) Explain(w io.Writer, tx *txn.Transaction) error {
	ev := p.NewEvaluator(true)
	var res Result
	evalErr := ev.Eval(tx, &res)
	typ := "sale"
	if tx.Refund {
		typ = "refund"
	}
	fmt.Fprintf(w, "transaction %s: %s of %s, %s", tx.ID, typ, tx.Day, tx.Currency.Code)
	if tx.RateDay != tx.Day {
		fmt.Fprintf(w, ", rates as of %s (original_date)", tx.RateDay)
	}
	fmt.Fprintln(w)
	if tx.Jurisdictions != nil {
		fmt.Fprintf(w, "  jurisdictions given explicitly: %s (address matching skipped; each brings its parent chain)\n", strings.Join(tx.Jurisdictions, ", "))
	} else {
		fmt.Fprintf(w, "  ship-to: country=%q state=%q county=%q city=%q postal_code=%q\n",
			tx.Country, tx.State, tx.County, tx.City, tx.PostalCode)
	}
	if evalErr != nil {
		fmt.Fprintf(w, "  cannot be evaluated: %v\n", evalErr)
		return nil
	}
	if n := res.Address; n != nil {
		if read := n.readAs(tx); read != "" {
			fmt.Fprintf(w, "  read as %s\n", read)
		}
	}
	matched := map[*Jurisdiction]bool{}
	for _, j := range res.Jurisdictions {
		matched[j] = true
	}
	if len(res.Jurisdictions) == 0 {
		fmt.Fprintln(w, "  no jurisdiction matches: no tax applies (counted as unmatched)")
	}
	for _, j := range res.Jurisdictions {
		how := "match " + j.Match
		if tx.Jurisdictions != nil {
			how = "given explicitly"
		}
		fmt.Fprintf(w, "  in %s %s (%s): %s\n", j.Code, j.Name, j.Level, how)
	}
	if tx.Jurisdictions == nil {
		// Near misses: jurisdictions of the same country and state that
		// did not match (on county, city or postal code). Other states'
		// jurisdictions are noise.
		country := ev.addr.fields[fieldCountry]
		shown := 0
		for _, j := range p.Jurisdictions {
			if matched[j] || j.match == nil || !j.sameCountry(country) {
				continue
			}
			why := j.whyNot(&ev.addr)
			if why == "" {
				continue
			}
			if shown == 10 {
				fmt.Fprintln(w, "  (more jurisdictions did not match)")
				break
			}
			shown++
			fmt.Fprintf(w, "  not in %s %s: %s\n", j.Code, j.Name, why)
		}
	}
	for _, j := range res.Jurisdictions {
		for _, t := range j.Taxes {
			if _, ok := t.RateAt(tx.RateDay); !ok {
				fmt.Fprintf(w, "  %s / %s: no rate in force on %s: does not apply\n", j.Code, t.ID, tx.RateDay)
			}
		}
	}
	if res.Coverage == NoTax {
		fmt.Fprintf(w, "  no tax in force in these jurisdictions on %s (counted as no_tax)\n", tx.RateDay)
	}
	digits := tx.Currency.Digits
	for _, tr := range res.Trace {
		rate := "fixed " + tr.Tax.fixedText()
		if tr.HasRate {
			rate = percent(tr.Rate.String())
		}
		fmt.Fprintf(w, "  %s / %s, line %d (%s %s): %s",
			tr.Tax.Jurisdiction.Code, tr.Tax.ID, tr.Line+1, money.Format(tr.Amount, digits),
			tx.Lines[tr.Line].Product, tr.Reason)
		switch tr.Reason {
		case ReasonCustomerExempt:
			if tx.ExemptReason != "" {
				fmt.Fprintf(w, " (exempt_reason %q)", tx.ExemptReason)
			} else {
				fmt.Fprintf(w, " (customer %s has an exemption)", tx.Customer)
			}
		case ReasonProductExempt:
			fmt.Fprintf(w, " (product %q is exempt)", tx.Lines[tr.Line].Product)
		case ReasonBelowThreshold:
			fmt.Fprintf(w, " (unit price below the exempt_below threshold)")
		default:
			fmt.Fprintf(w, " at %s: taxable %s, tax %s", rate, money.Format(tr.Taxable, digits), tr.Exact.String())
		}
		if tx.Lines[tr.Line].TaxIncluded {
			fmt.Fprint(w, " [tax included: amount is the net]")
		}
		fmt.Fprintln(w)
	}
	total := res.totalTax()
	for _, l := range res.Lines {
		fmt.Fprintf(w, "  = %s / %s %s: tax %s (%s, rounded %s per %s)\n", l.Tax.Jurisdiction.Code, l.Tax.ID,
			l.Reason, formatAmount(l.Amount, digits), l.rateText(), l.Tax.Rounding.Mode, l.Tax.Rounding.Level)
	}
	fmt.Fprintf(w, "  tax total %s %s\n", formatAmount(total, digits), tx.Currency.Code)
	return nil
}

func (r *Result) totalTax() (sum decimalT) {
	for _, l := range r.Lines {
		sum = sum.Add(l.Amount)
	}
	return sum
}

func (l *TaxLine) rateText() string {
	if !l.HasRate {
		return "fixed " + l.Tax.fixedText()
	}
	return percent(l.Rate.String())
}

func (t *Tax) fixedText() string {
	if t.Fixed == nil {
		return ""
	}
	return t.Fixed.String() + " per unit"
}

// percent prints a fraction as a percentage: "0.0725" → "7.25%".
func percent(frac string) string {
	d, err := money.ParseDecimal(frac)
	if err != nil {
		return frac
	}
	return d.Shift(2).String() + "%"
}

func formatAmount(d decimalT, digits int32) string {
	if d.Equal(d.Truncate(digits)) {
		return d.StringFixed(digits)
	}
	return d.String()
}

func (j *Jurisdiction) sameCountry(country string) bool {
	for _, k := range j.match {
		if k.field == fieldCountry {
			for _, v := range k.values {
				if v == country {
					return true
				}
			}
			return false
		}
	}
	return true
}

// whyNot names the first match key the address fails, or "" when it fails
// on country or state (a different place altogether).
func (j *Jurisdiction) whyNot(a *address) string {
	for i := range j.match {
		k := &j.match[i]
		if k.holds(a) {
			continue
		}
		if k.field == fieldCountry || k.field == fieldState {
			return ""
		}
		if k.field == fieldNot {
			return "the address is excluded (" + describeMatch([]matchKey{*k}) + ")"
		}
		var want []string
		if k.field == fieldPostalCode {
			for _, p := range k.postal {
				want = append(want, p.String())
			}
		} else {
			want = k.values
		}
		if len(want) > 5 {
			want = append(want[:5:5], "…")
		}
		return fmt.Sprintf("%s is %q, want %s", matchFields[k.field].name, a.fields[k.field], strings.Join(want, " or "))
	}
	return ""
}

// readAs says how the address was read where normalising changed it
// ("country US, state TX"), or "".
func (n *Address) readAs(tx *txn.Transaction) string {
	var parts []string
	for _, f := range [...]struct{ name, given, norm string }{
		{"country", tx.Country, n.Country}, {"state", tx.State, n.State}, {"postal_code", tx.PostalCode, n.PostalCode},
	} {
		if f.given != f.norm {
			parts = append(parts, f.name+" "+f.norm)
		}
	}
	return strings.Join(parts, ", ")
}
