package rules

import (
	"fmt"
	"io"
	"sort"
	"strings"
)

// ShowRow is one line of `taxagg rules show`: a jurisdiction with one of
// its taxes, or alone (Tax empty) when it has none.
type ShowRow struct {
	Code, Name, Level, Tax, Rates, Taxability, Nexus string
}

// ShowRows describes the compiled jurisdictions and their taxes, in
// jurisdiction order, for a person.
func (p *Program) ShowRows() []ShowRow {
	var rows []ShowRow
	for _, j := range p.Jurisdictions {
		r := ShowRow{Code: j.Code, Name: j.Name, Level: j.Level.String(), Nexus: describeNexus(j.Nexus)}
		if len(j.Taxes) == 0 {
			rows = append(rows, r)
			continue
		}
		for _, t := range j.Taxes {
			r.Tax, r.Rates, r.Taxability = t.ID, describeRates(t), describeTaxability(t)
			rows = append(rows, r)
		}
	}
	return rows
}

// ShowExemptions describes the customer exemptions, one line each.
func (p *Program) ShowExemptions() []string {
	var lines []string
	for _, e := range p.Exemptions {
		var b strings.Builder
		fmt.Fprintf(&b, "customer %s in %s", e.Customer, strings.Join(e.Jurisdictions, ", "))
		if e.Reason != "" {
			fmt.Fprintf(&b, " (%s)", e.Reason)
		}
		if e.HasFrom {
			fmt.Fprintf(&b, " from %s", e.From)
		}
		if e.HasTo {
			fmt.Fprintf(&b, " to %s", e.To)
		}
		lines = append(lines, b.String())
	}
	return lines
}

func describeRates(t *Tax) string {
	if t.Fixed != nil {
		return "fixed " + t.Fixed.String() + "/unit"
	}
	var parts []string
	for _, r := range t.Rates {
		s := percent(r.Rate.String()) + " from " + r.From.String()
		if r.HasTo {
			s += " to " + r.To.String()
		}
		parts = append(parts, s)
	}
	if len(parts) > 3 {
		parts = append([]string{fmt.Sprintf("(%d earlier)", len(parts)-2)}, parts[len(parts)-2:]...)
	}
	out := strings.Join(parts, "; ")
	if t.Tiers != nil {
		out += fmt.Sprintf(" [tiers per %s]", t.Tiers.Per)
	}
	if len(t.CompoundOn) > 0 {
		var ids []string
		for _, c := range t.CompoundOn {
			ids = append(ids, c.ID)
		}
		out += " [compound on " + strings.Join(ids, ",") + "]"
	}
	return out
}

func describeTaxability(t *Tax) string {
	if len(t.Taxability) == 0 {
		return "all taxable"
	}
	cats := make([]string, 0, len(t.Taxability))
	for c := range t.Taxability {
		cats = append(cats, c)
	}
	sort.Strings(cats)
	var parts []string
	for _, c := range cats {
		tb := t.Taxability[c]
		var s string
		switch {
		case tb.Kind == Exempt:
			s = "exempt"
		case tb.HasPortion:
			s = percent(tb.Portion.String()) + " taxable"
		case tb.HasRate:
			s = percent(tb.Rate.String())
		default:
			s = "taxable"
		}
		if tb.HasPortion && tb.HasRate {
			s += " at " + percent(tb.Rate.String())
		}
		if tb.HasExemptBelow {
			s += " (exempt below " + tb.ExemptBelow.String() + ")"
		}
		parts = append(parts, c+"="+s)
	}
	return strings.Join(parts, " ")
}

func describeNexus(n *Nexus) string {
	if n == nil {
		return ""
	}
	var parts []string
	if n.HasSales {
		parts = append(parts, "$"+n.Sales.String())
	}
	if n.Transactions > 0 {
		parts = append(parts, fmt.Sprintf("%d transactions", n.Transactions))
	}
	join := " or "
	if n.Combine == CombineAll {
		join = " and "
	}
	return strings.Join(parts, join) + " (" + n.Window.String() + ")"
}

// Graph writes the compound-tax dependency graph in Graphviz DOT: one node
// per tax, grouped by jurisdiction, and an edge from each tax to the taxes
// whose amounts enter its base.
func (p *Program) Graph(w io.Writer) error {
	var b strings.Builder
	b.WriteString("digraph taxes {\n  rankdir=LR;\n  node [shape=box];\n")
	for _, j := range p.Jurisdictions {
		if len(j.Taxes) == 0 {
			continue
		}
		fmt.Fprintf(&b, "  subgraph %q {\n    label=%q;\n", "cluster_"+j.Code, j.Code+" "+j.Name)
		for _, t := range j.Taxes {
			fmt.Fprintf(&b, "    %q [label=%q];\n", t.ID, t.ID+"\n"+describeRates(t))
		}
		b.WriteString("  }\n")
	}
	for _, t := range p.Taxes {
		for _, dep := range t.CompoundOn {
			fmt.Fprintf(&b, "  %q -> %q [label=\"compound on\"];\n", t.ID, dep.ID)
		}
	}
	b.WriteString("}\n")
	_, err := io.WriteString(w, b.String())
	return err
}
