package rules

import (
	"io"
	"sort"
	"strconv"

	yaml "go.yaml.in/yaml/v3"

	"github.com/taxagg/taxagg/internal/money"
)

// WriteYAML writes the compiled rules as one rule file a person can edit
// and give back to --rules: every jurisdiction (extensions already folded
// in), tax, dated rate, taxability entry, tier, nexus threshold and
// exemption. Comments of the source files are not kept.
func (p *Program) WriteYAML(w io.Writer) error {
	root := ymap()
	yadd(root, "version", yplain("1"))
	js := yseq()
	for _, j := range p.Jurisdictions {
		js.Content = append(js.Content, j.yamlNode())
	}
	yadd(root, "jurisdictions", js)
	if len(p.Exemptions) > 0 {
		es := yseq()
		for _, e := range p.Exemptions {
			n := ymap()
			n.Style = yaml.FlowStyle
			yadd(n, "customer", ystr(e.Customer))
			l := yseq()
			l.Style = yaml.FlowStyle
			for _, c := range e.Jurisdictions {
				l.Content = append(l.Content, ystr(c))
			}
			yadd(n, "jurisdictions", l)
			if e.Reason != "" {
				yadd(n, "reason", ystr(e.Reason))
			}
			if e.HasFrom {
				yadd(n, "from", yplain(e.From.String()))
			}
			if e.HasTo {
				yadd(n, "to", yplain(e.To.String()))
			}
			es.Content = append(es.Content, n)
		}
		yadd(root, "exemptions", es)
	}
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(&yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{root}}); err != nil {
		return err
	}
	return enc.Close()
}

func (j *Jurisdiction) yamlNode() *yaml.Node {
	n := ymap()
	yadd(n, "code", ystr(j.Code))
	yadd(n, "name", ystr(j.Name))
	yadd(n, "level", ystr(j.Level.String()))
	if j.Parent != "" {
		yadd(n, "parent", ystr(j.Parent))
	}
	if j.match != nil {
		yadd(n, "match", matchNode(j.match))
	}
	if nx := j.Nexus; nx != nil {
		m := ymap()
		m.Style = yaml.FlowStyle
		if nx.HasSales {
			yadd(m, "sales", yquoted(nx.Sales.String()))
		}
		if nx.Transactions > 0 {
			yadd(m, "transactions", yplain(strconv.FormatInt(nx.Transactions, 10)))
		}
		yadd(m, "combine", ystr(nx.Combine.String()))
		yadd(m, "window", ystr(nx.Window.String()))
		yadd(n, "nexus", m)
	}
	for _, kv := range [][2]string{{"source", j.Source}, {"as_of", j.AsOf}, {"notes", j.Notes}} {
		if kv[1] != "" {
			if kv[0] == "as_of" {
				yadd(n, kv[0], yplain(kv[1]))
			} else {
				yadd(n, kv[0], ystr(kv[1]))
			}
		}
	}
	if len(j.Taxes) > 0 {
		ts := yseq()
		for _, t := range j.Taxes {
			ts.Content = append(ts.Content, t.yamlNode())
		}
		yadd(n, "taxes", ts)
	}
	return n
}

func matchNode(keys []matchKey) *yaml.Node {
	m := ymap()
	m.Style = yaml.FlowStyle
	for _, k := range keys {
		if k.field == fieldNot {
			var v *yaml.Node
			if len(k.not) == 1 {
				v = matchNode(k.not[0])
			} else {
				v = yseq()
				v.Style = yaml.FlowStyle
				for _, set := range k.not {
					v.Content = append(v.Content, matchNode(set))
				}
			}
			yadd(m, "not", v)
			continue
		}
		vals := k.raw
		if len(vals) == 0 { // built without parsing
			vals = k.values
			if k.field == fieldPostalCode {
				vals = nil
				for _, p := range k.postal {
					vals = append(vals, p.String())
				}
			}
		}
		if len(vals) > 3 {
			m.Style = 0
		}
		if len(vals) == 1 {
			yadd(m, matchFields[k.field].name, yquotedIf(k.field == fieldPostalCode, vals[0]))
			continue
		}
		l := yseq()
		l.Style = yaml.FlowStyle
		for _, v := range vals {
			l.Content = append(l.Content, yquotedIf(k.field == fieldPostalCode, v))
		}
		yadd(m, matchFields[k.field].name, l)
	}
	return m
}

func (t *Tax) yamlNode() *yaml.Node {
	n := ymap()
	yadd(n, "id", ystr(t.ID))
	if t.Name != "" {
		yadd(n, "name", ystr(t.Name))
	}
	if t.Fixed != nil {
		yadd(n, "fixed", yquoted(t.Fixed.String()))
	}
	rs := yseq()
	for _, r := range t.Rates {
		if t.Fixed != nil && r.From == minDate {
			continue
		}
		e := ymap()
		e.Style = yaml.FlowStyle
		yadd(e, "from", yplain(r.From.String()))
		if r.HasTo {
			yadd(e, "to", yplain(r.To.String()))
		}
		if t.Fixed == nil {
			yadd(e, "rate", yquoted(percent(r.Rate.String())))
		}
		rs.Content = append(rs.Content, e)
	}
	if len(rs.Content) > 0 || t.Fixed == nil {
		yadd(n, "rates", rs)
	}
	if len(t.Taxability) > 0 {
		tb := ymap()
		cats := make([]string, 0, len(t.Taxability))
		for c := range t.Taxability {
			cats = append(cats, c)
		}
		sort.Slice(cats, func(a, b int) bool {
			// default first, then by name
			if (cats[a] == "default") != (cats[b] == "default") {
				return cats[a] == "default"
			}
			return cats[a] < cats[b]
		})
		for _, c := range cats {
			yadd(tb, c, taxabilityNode(t.Taxability[c]))
		}
		yadd(n, "taxability", tb)
	}
	if t.TaxabilityFrom != "" {
		yadd(n, "taxability_from", ystr(t.TaxabilityFrom))
	}
	if t.Tiers != nil {
		tn := ymap()
		yadd(tn, "per", ystr(t.Tiers.Per.String()))
		bs := yseq()
		for _, b := range t.Tiers.Brackets {
			bn := ymap()
			bn.Style = yaml.FlowStyle
			if b.HasUpTo {
				yadd(bn, "up_to", yquoted(b.UpTo.String()))
			}
			if b.HasRate {
				yadd(bn, "rate", yquoted(percent(b.Rate.String())))
			}
			bs.Content = append(bs.Content, bn)
		}
		yadd(tn, "brackets", bs)
		yadd(n, "tiers", tn)
	}
	if len(t.CompoundOn) > 0 {
		l := yseq()
		l.Style = yaml.FlowStyle
		for _, c := range t.CompoundOn {
			l.Content = append(l.Content, ystr(c.ID))
		}
		yadd(n, "compound_on", l)
	}
	if t.Rounding.Mode != money.HalfUp || t.Rounding.Level != LevelLine {
		r := ymap()
		r.Style = yaml.FlowStyle
		yadd(r, "mode", ystr(t.Rounding.Mode.String()))
		yadd(r, "level", ystr(t.Rounding.Level.String()))
		yadd(n, "rounding", r)
	}
	if t.Notes != "" {
		yadd(n, "notes", ystr(t.Notes))
	}
	return n
}

func taxabilityNode(tb Taxability) *yaml.Node {
	if tb.Kind == Exempt {
		return ystr("exempt")
	}
	if !tb.HasPortion && !tb.HasExemptBelow {
		if tb.HasRate {
			return yquoted(percent(tb.Rate.String()))
		}
		return ystr("taxable")
	}
	m := ymap()
	m.Style = yaml.FlowStyle
	if tb.HasRate {
		yadd(m, "rate", yquoted(percent(tb.Rate.String())))
	}
	if tb.HasPortion {
		yadd(m, "portion", yquoted(percent(tb.Portion.String())))
	}
	if tb.HasExemptBelow {
		yadd(m, "exempt_below", yquoted(tb.ExemptBelow.String()))
	}
	return m
}

func ymap() *yaml.Node { return &yaml.Node{Kind: yaml.MappingNode} }
func yseq() *yaml.Node { return &yaml.Node{Kind: yaml.SequenceNode} }

func ystr(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s} }

func yquoted(s string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s, Style: yaml.DoubleQuotedStyle}
}

func yquotedIf(q bool, s string) *yaml.Node {
	if q {
		return yquoted(s)
	}
	return ystr(s)
}

func yplain(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Value: s} }

func yadd(m *yaml.Node, key string, v *yaml.Node) {
	m.Content = append(m.Content, ystr(key), v)
}
