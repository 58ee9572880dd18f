package rules

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/shopspring/decimal"
	yaml "go.yaml.in/yaml/v3"

	"github.com/taxagg/taxagg/internal/money"
	"github.com/taxagg/taxagg/internal/txn"
	"github.com/taxagg/taxagg/internal/yamldoc"
)

// pos is where something was written in a rule file.
type pos struct {
	file      string
	line, col int
}

func (p pos) String() string { return fmt.Sprintf("%s:%d:%d", p.file, p.line, p.col) }

// The parsed document: every field as written, with positions for the
// checks that span entries (overlaps, duplicates, cycles).
type docFile struct {
	name          string
	jurisdictions []*docJurisdiction
	exemptions    []*docExemption
}

type docJurisdiction struct {
	at       pos
	code     string
	codeAt   pos
	name     string
	level    Level
	parent   string
	parentAt pos
	match    []matchKey // nil: reached only through explicit codes
	hasMatch bool
	// extend: this entry adds to a jurisdiction of the same code defined
	// in an earlier file, if there is one (extend.go).
	extend bool
	nexus  *Nexus
	source string
	asOf   string
	notes  string
	taxes  []*docTax
}

type docTax struct {
	at         pos
	id         string
	idAt       pos
	name       string
	rates      []docRate
	taxability map[string]Taxability
	// taxabilityFrom names a tax whose taxability entries this tax takes
	// for the categories it does not list itself (a local tax on the
	// state's base).
	taxabilityFrom   string
	taxabilityFromAt pos
	tiers            *Tiers
	tiersAt          pos
	compoundOn       []string
	compoundAt       []pos
	fixed            *decimal.Decimal
	fixedAt          pos
	rounding         Rounding
	notes            string
	jurisdiction     *docJurisdiction
}

type docRate struct {
	at       pos
	from, to txn.Date
	hasTo    bool
	rate     decimal.Decimal
	hasRate  bool
}

type docExemption struct {
	at            pos
	customer      string
	jurisdictions []string
	reason        string
	from, to      txn.Date
	hasFrom       bool
	hasTo         bool
}

// parser walks yaml.Node trees and records every issue it meets.
type parser struct {
	file   string
	issues *Issues
}

func (p *parser) at(n *yaml.Node) pos { return pos{p.file, n.Line, n.Column} }

func (p *parser) errorf(n *yaml.Node, format string, args ...any) {
	p.issues.add(p.file, n.Line, n.Column, format, args...)
}

// parseFile reads one rule file into a docFile. Problems are added to issues.
func parseFile(name string, data []byte, issues *Issues) *docFile {
	p := &parser{file: name, issues: issues}
	var root yaml.Node
	rest, err := yamldoc.Decode(data, &root)
	if err != nil {
		line, msg := yamlErrorLine(err)
		issues.add(name, line, 1, "%s", msg)
		return nil
	}
	if rest != nil {
		// The rest would be silently dropped: refused, in the pass that
		// decoded the first document.
		issues.add(name, rest.Line, 1, "%s", yamldoc.SecondMsg)
		return nil
	}
	doc := &docFile{name: name}
	if root.Kind == 0 || len(root.Content) == 0 {
		issues.add(name, 1, 1, "empty rule file")
		return nil
	}
	if hasAlias(&root) {
		// Aliases are refused outright: they are never needed in a rule file
		// and are the vehicle of "billion laughs" expansion attacks.
		p.errorf(aliasNode(&root), "aliases (*name) are not allowed in rule files")
		return nil
	}
	top := root.Content[0]
	fields := p.mapping(top, "rule file", map[string]bool{
		"version": true, "name": false, "source": false, "as_of": false,
		"jurisdictions": true, "exemptions": false,
	})
	if fields == nil {
		return nil
	}
	if v := fields["version"]; v != nil {
		if v.Kind != yaml.ScalarNode || v.Value != "1" {
			p.errorf(v, "unsupported version %q (want 1)", v.Value)
		}
	}
	if n := fields["as_of"]; n != nil {
		p.date(n, "as_of")
	}
	for _, k := range []string{"name", "source"} {
		if n := fields[k]; n != nil {
			p.str(n, k)
		}
	}
	if js := fields["jurisdictions"]; js != nil {
		for _, jn := range p.seq(js, "jurisdictions") {
			if j := p.jurisdiction(jn); j != nil {
				doc.jurisdictions = append(doc.jurisdictions, j)
			}
		}
	}
	if es := fields["exemptions"]; es != nil {
		for _, en := range p.seq(es, "exemptions") {
			if e := p.exemption(en); e != nil {
				doc.exemptions = append(doc.exemptions, e)
			}
		}
	}
	return doc
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

func yamlErrorLine(err error) (int, string) {
	msg := err.Error()
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return line, "invalid YAML: " + m[2]
	}
	return 1, "invalid YAML: " + strings.TrimPrefix(msg, "yaml: ")
}

func hasAlias(n *yaml.Node) bool { return aliasNode(n) != nil }

func aliasNode(n *yaml.Node) *yaml.Node {
	if n.Kind == yaml.AliasNode {
		return n
	}
	for _, c := range n.Content {
		if a := aliasNode(c); a != nil {
			return a
		}
	}
	return nil
}

// mapping checks n is a mapping whose keys are all known; keys marked true
// are required. It returns the values by key, or nil if n is not a mapping.
func (p *parser) mapping(n *yaml.Node, what string, known map[string]bool) map[string]*yaml.Node {
	if n.Kind != yaml.MappingNode {
		p.errorf(n, "%s must be a mapping", what)
		return nil
	}
	out := make(map[string]*yaml.Node, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if _, ok := known[k.Value]; !ok {
			p.errorf(k, "unknown key %q in %s", k.Value, what)
			continue
		}
		if _, dup := out[k.Value]; dup {
			p.errorf(k, "key %q given twice in %s", k.Value, what)
			continue
		}
		out[k.Value] = v
	}
	for k, req := range known {
		if req && out[k] == nil {
			p.errorf(n, "%s: missing required key %q", what, k)
		}
	}
	return out
}

func (p *parser) seq(n *yaml.Node, what string) []*yaml.Node {
	if n.Kind != yaml.SequenceNode {
		p.errorf(n, "%s must be a list", what)
		return nil
	}
	return n.Content
}

func (p *parser) str(n *yaml.Node, what string) (string, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		p.errorf(n, "%s must be a text value", what)
		return "", false
	}
	return n.Value, true
}

// strList accepts a single string or a list of strings.
func (p *parser) strList(n *yaml.Node, what string) []string {
	if n.Kind == yaml.ScalarNode {
		s, ok := p.str(n, what)
		if !ok {
			return nil
		}
		return []string{s}
	}
	var out []string
	for _, c := range p.seq(n, what) {
		if s, ok := p.str(c, what); ok {
			out = append(out, s)
		}
	}
	if n.Kind == yaml.SequenceNode && len(out) == 0 {
		p.errorf(n, "%s must not be an empty list", what)
	}
	return out
}

func (p *parser) date(n *yaml.Node, what string) (txn.Date, bool) {
	s, ok := p.str(n, what)
	if !ok {
		return 0, false
	}
	d, err := txn.ParseDate(s)
	if err != nil {
		p.errorf(n, "%s: %v", what, err)
		return 0, false
	}
	return d, true
}

// decimalValue reads a decimal written as YAML text or an unquoted number,
// from its literal text.
func (p *parser) decimalValue(n *yaml.Node, what string) (decimal.Decimal, bool) {
	s, ok := p.str(n, what)
	if !ok {
		return decimal.Decimal{}, false
	}
	d, err := money.ParseDecimal(strings.TrimSpace(s))
	if err != nil {
		p.errorf(n, "%s: %v", what, err)
		return decimal.Decimal{}, false
	}
	if d.Sign() < 0 {
		p.errorf(n, "%s: %q must not be negative", what, s)
		return decimal.Decimal{}, false
	}
	return d, true
}

// rate reads "7.25%" or a fraction "0.0725".
func (p *parser) rate(n *yaml.Node, what string) (decimal.Decimal, bool) {
	s, ok := p.str(n, what)
	if !ok {
		return decimal.Decimal{}, false
	}
	d, err := ParseRate(s)
	if err != nil {
		p.errorf(n, "%s: %v", what, err)
		return decimal.Decimal{}, false
	}
	return d, true
}

// ParseRate reads a rate written as a percentage ("7.25%") or a fraction
// ("0.0725"), exactly. A rate must lie between 0 and 1 (100%).
func ParseRate(s string) (decimal.Decimal, error) {
	t := strings.TrimSpace(s)
	percent := strings.HasSuffix(t, "%")
	if percent {
		t = strings.TrimSpace(strings.TrimSuffix(t, "%"))
	}
	d, err := money.ParseDecimal(t)
	if err != nil {
		return decimal.Decimal{}, fmt.Errorf("%q is not a rate (write \"7.25%%\" or \"0.0725\")", s)
	}
	if percent {
		d = d.Shift(-2)
	}
	if d.Sign() < 0 {
		return decimal.Decimal{}, fmt.Errorf("rate %q must not be negative", s)
	}
	if d.GreaterThan(decimal.New(1, 0)) {
		if percent {
			return decimal.Decimal{}, fmt.Errorf("rate %q is above 100%%", s)
		}
		return decimal.Decimal{}, fmt.Errorf("rate %q is %s%%; write %q for a percentage", s, d.Shift(2).String(), s+"%")
	}
	return d, nil
}

var codeRE = regexp.MustCompile(`^[A-Z0-9-]+$`)
var taxIDRE = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

func (p *parser) jurisdiction(n *yaml.Node) *docJurisdiction {
	f := p.mapping(n, "jurisdiction", map[string]bool{
		"code": true, "name": true, "level": true, "parent": false, "match": false,
		"nexus": false, "taxes": false, "source": false, "as_of": false, "notes": false,
		"extend": false,
	})
	if f == nil {
		return nil
	}
	j := &docJurisdiction{at: p.at(n)}
	if c := f["extend"]; c != nil {
		switch s, _ := p.str(c, "extend"); s {
		case "true":
			j.extend = true
		case "false":
		default:
			p.errorf(c, "extend %q must be true or false", s)
		}
	}
	if c := f["code"]; c != nil {
		j.codeAt = p.at(c)
		if s, ok := p.str(c, "code"); ok {
			if !codeRE.MatchString(s) {
				p.errorf(c, "code %q must be upper-case letters, digits and '-'", s)
			}
			j.code = s
		}
	}
	if c := f["name"]; c != nil {
		j.name, _ = p.str(c, "name")
	}
	if c := f["level"]; c != nil {
		if s, ok := p.str(c, "level"); ok {
			lv, ok := parseLevel(s)
			if !ok {
				p.errorf(c, "level %q must be one of country, state, county, city, district", s)
			}
			j.level = lv
		}
	}
	if c := f["parent"]; c != nil {
		j.parentAt = p.at(c)
		j.parent, _ = p.str(c, "parent")
	}
	if c := f["match"]; c != nil {
		j.hasMatch = true
		j.match = p.match(c)
	}
	if c := f["nexus"]; c != nil {
		j.nexus = p.nexus(c)
	}
	for _, k := range []string{"source", "notes"} {
		if c := f[k]; c != nil {
			s, _ := p.str(c, k)
			if k == "source" {
				j.source = s
			} else {
				j.notes = s
			}
		}
	}
	if c := f["as_of"]; c != nil {
		if d, ok := p.date(c, "as_of"); ok {
			j.asOf = d.String()
		}
	}
	if c := f["taxes"]; c != nil {
		for _, tn := range p.seq(c, "taxes") {
			if t := p.tax(tn); t != nil {
				t.jurisdiction = j
				j.taxes = append(j.taxes, t)
			}
		}
	}
	return j
}

func (p *parser) match(n *yaml.Node) []matchKey {
	return p.matchKeys(n, "match", true, "")
}

// matchKeys reads a match mapping; top allows a "not" key: one mapping of
// keys, or a list of them, each an exclusion (the address must fit none),
// read in the outer match's country.
func (p *parser) matchKeys(n *yaml.Node, what string, top bool, outerCountry string) []matchKey {
	known := map[string]bool{
		"country": false, "state": false, "county": false, "city": false, "postal_code": false,
	}
	if top {
		known["not"] = false
	}
	f := p.mapping(n, what, known)
	if f == nil {
		return nil
	}
	var keys []matchKey
	country := outerCountry // the rule's one country, for normalizeMatchValue
	for _, field := range matchFields {
		c := f[field.name]
		if c == nil {
			continue
		}
		vals := p.strList(c, "match."+field.name)
		if len(vals) == 0 {
			continue
		}
		mk := matchKey{field: field.id, raw: vals}
		for _, v := range vals {
			if field.id == fieldPostalCode {
				pat, err := parsePostalPattern(v)
				if err != nil {
					p.errorf(c, "match.postal_code: %v", err)
					continue
				}
				mk.postal = append(mk.postal, pat)
			} else {
				mk.values = append(mk.values, fold(normalizeMatchValue(field.id, country, v)))
			}
		}
		if field.id == fieldCountry && len(vals) == 1 {
			country = normalizeMatchValue(fieldCountry, "", vals[0])
		}
		keys = append(keys, mk)
	}
	if len(keys) == 0 {
		p.errorf(n, "%s must name at least one of country, state, county, city, postal_code", what)
	}
	if c := f["not"]; c != nil {
		nk := matchKey{field: fieldNot}
		sets := []*yaml.Node{c}
		if c.Kind == yaml.SequenceNode {
			sets = c.Content
			if len(sets) == 0 {
				p.errorf(c, "match.not must not be an empty list")
			}
		}
		for _, sn := range sets {
			if set := p.matchKeys(sn, "match.not", false, country); len(set) > 0 {
				nk.not = append(nk.not, set)
			}
		}
		if len(nk.not) > 0 {
			keys = append(keys, nk)
		}
	}
	return keys
}

func (p *parser) nexus(n *yaml.Node) *Nexus {
	f := p.mapping(n, "nexus", map[string]bool{
		"sales": false, "transactions": false, "combine": false, "window": false,
	})
	if f == nil {
		return nil
	}
	nx := &Nexus{Combine: CombineAny, Window: WindowCalendarYear}
	if c := f["sales"]; c != nil {
		if d, ok := p.decimalValue(c, "nexus.sales"); ok {
			nx.Sales = d
			nx.HasSales = true
		}
	}
	if c := f["transactions"]; c != nil {
		if s, ok := p.str(c, "nexus.transactions"); ok {
			v, err := strconv.ParseInt(s, 10, 64)
			if err != nil || v <= 0 {
				p.errorf(c, "nexus.transactions: %q must be a positive whole number", s)
			} else {
				nx.Transactions = v
			}
		}
	}
	if !nx.HasSales && nx.Transactions == 0 && f["sales"] == nil && f["transactions"] == nil {
		p.errorf(n, "nexus needs a sales or transactions threshold")
	}
	if c := f["combine"]; c != nil {
		if s, ok := p.str(c, "nexus.combine"); ok {
			switch s {
			case "any":
				nx.Combine = CombineAny
			case "all":
				nx.Combine = CombineAll
			default:
				p.errorf(c, "nexus.combine %q must be any or all", s)
			}
		}
	}
	if c := f["window"]; c != nil {
		if s, ok := p.str(c, "nexus.window"); ok {
			switch s {
			case "calendar_year":
				nx.Window = WindowCalendarYear
			case "rolling_12_months":
				nx.Window = WindowRolling12Months
			default:
				p.errorf(c, "nexus.window %q must be calendar_year or rolling_12_months", s)
			}
		}
	}
	return nx
}

func (p *parser) tax(n *yaml.Node) *docTax {
	f := p.mapping(n, "tax", map[string]bool{
		"id": true, "name": false, "rates": false, "taxability": false, "tiers": false,
		"compound_on": false, "fixed": false, "rounding": false, "notes": false,
		"taxability_from": false,
	})
	if f == nil {
		return nil
	}
	t := &docTax{at: p.at(n), rounding: Rounding{Mode: money.HalfUp, Level: LevelLine}}
	if c := f["id"]; c != nil {
		t.idAt = p.at(c)
		if s, ok := p.str(c, "id"); ok {
			if !taxIDRE.MatchString(s) {
				p.errorf(c, "tax id %q must be letters, digits, '_', '.' and '-'", s)
			}
			t.id = s
		}
	}
	if c := f["name"]; c != nil {
		t.name, _ = p.str(c, "name")
	}
	if c := f["notes"]; c != nil {
		t.notes, _ = p.str(c, "notes")
	}
	if c := f["rates"]; c != nil {
		for _, rn := range p.seq(c, "rates") {
			if r, ok := p.rateEntry(rn); ok {
				t.rates = append(t.rates, r)
			}
		}
	}
	if c := f["fixed"]; c != nil {
		t.fixedAt = p.at(c)
		if d, ok := p.decimalValue(c, "fixed"); ok {
			t.fixed = &d
		}
	}
	if f["rates"] == nil && f["fixed"] == nil {
		p.errorf(n, "tax %q needs rates (or a fixed amount)", t.id)
	}
	if c := f["taxability"]; c != nil {
		t.taxability = p.taxability(c)
	}
	if c := f["taxability_from"]; c != nil {
		t.taxabilityFromAt = p.at(c)
		t.taxabilityFrom, _ = p.str(c, "taxability_from")
	}
	if c := f["tiers"]; c != nil {
		t.tiersAt = p.at(c)
		t.tiers = p.tiers(c)
	}
	if c := f["compound_on"]; c != nil {
		for _, e := range p.seq(c, "compound_on") {
			if s, ok := p.str(e, "compound_on"); ok {
				t.compoundOn = append(t.compoundOn, s)
				t.compoundAt = append(t.compoundAt, p.at(e))
			}
		}
	}
	if c := f["rounding"]; c != nil {
		rf := p.mapping(c, "rounding", map[string]bool{"mode": false, "level": false})
		if rf != nil {
			if m := rf["mode"]; m != nil {
				if s, ok := p.str(m, "rounding.mode"); ok {
					mode, ok := money.ParseRoundingMode(s)
					if !ok {
						p.errorf(m, "rounding.mode %q must be one of half_up, half_even, up, down", s)
					}
					t.rounding.Mode = mode
				}
			}
			if l := rf["level"]; l != nil {
				if s, ok := p.str(l, "rounding.level"); ok {
					lv, ok := parseRoundingLevel(s)
					if !ok {
						p.errorf(l, "rounding.level %q must be one of line, transaction, aggregate", s)
					}
					t.rounding.Level = lv
				}
			}
		}
	}
	return t
}

func (p *parser) rateEntry(n *yaml.Node) (docRate, bool) {
	f := p.mapping(n, "rate entry", map[string]bool{"from": true, "to": false, "rate": false})
	if f == nil {
		return docRate{}, false
	}
	r := docRate{at: p.at(n)}
	ok := true
	if c := f["from"]; c != nil {
		r.from, ok = p.date(c, "from")
	} else {
		ok = false
	}
	if c := f["to"]; c != nil {
		var okTo bool
		r.to, okTo = p.date(c, "to")
		r.hasTo = okTo
		ok = ok && okTo
		if okTo && f["from"] != nil && r.to <= r.from {
			p.errorf(c, "to %s must be after from %s", r.to, r.from)
			ok = false
		}
	}
	if c := f["rate"]; c != nil {
		var okRate bool
		r.rate, okRate = p.rate(c, "rate")
		r.hasRate = okRate
		ok = ok && okRate
	}
	return r, ok
}

func (p *parser) taxability(n *yaml.Node) map[string]Taxability {
	if n.Kind != yaml.MappingNode {
		p.errorf(n, "taxability must be a mapping of product category to taxable, exempt, a rate or {rate, portion, exempt_below}")
		return nil
	}
	out := make(map[string]Taxability)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		cat := fold(k.Value)
		if _, dup := out[cat]; dup {
			p.errorf(k, "product category %q given twice", k.Value)
			continue
		}
		var tb Taxability
		switch v.Kind {
		case yaml.ScalarNode:
			switch v.Value {
			case "taxable":
				tb.Kind = Taxable
			case "exempt":
				tb.Kind = Exempt
			default:
				r, err := ParseRate(v.Value)
				if err != nil {
					p.errorf(v, "taxability %q: want taxable, exempt or a rate: %v", k.Value, err)
					continue
				}
				tb.Kind = Taxable
				tb.Rate, tb.HasRate = r, true
			}
		case yaml.MappingNode:
			f := p.mapping(v, "taxability entry", map[string]bool{"rate": false, "portion": false, "exempt_below": false})
			if f == nil {
				continue
			}
			tb.Kind = Taxable
			if c := f["rate"]; c != nil {
				if r, ok := p.rate(c, "rate"); ok {
					tb.Rate, tb.HasRate = r, true
				}
			}
			if c := f["portion"]; c != nil {
				if r, ok := p.rate(c, "portion"); ok {
					tb.Portion, tb.HasPortion = r, true
				}
			}
			if c := f["exempt_below"]; c != nil {
				if d, ok := p.decimalValue(c, "exempt_below"); ok {
					tb.ExemptBelow, tb.HasExemptBelow = d, true
				}
			}
		default:
			p.errorf(v, "taxability %q: want taxable, exempt, a rate or {rate, portion, exempt_below}", k.Value)
			continue
		}
		out[cat] = tb
	}
	return out
}

func (p *parser) tiers(n *yaml.Node) *Tiers {
	f := p.mapping(n, "tiers", map[string]bool{"per": true, "brackets": true})
	if f == nil {
		return nil
	}
	t := &Tiers{}
	if c := f["per"]; c != nil {
		if s, ok := p.str(c, "tiers.per"); ok {
			switch s {
			case "unit":
				t.Per = PerUnit
			case "line":
				t.Per = PerLine
			case "transaction":
				t.Per = PerTransaction
			default:
				p.errorf(c, "tiers.per %q must be unit, line or transaction", s)
			}
		}
	}
	c := f["brackets"]
	if c == nil {
		return t
	}
	items := p.seq(c, "tiers.brackets")
	if c.Kind == yaml.SequenceNode && len(items) == 0 {
		p.errorf(c, "tiers.brackets must list at least one bracket")
	}
	var prev *yaml.Node
	var prevUpTo decimal.Decimal
	for i, bn := range items {
		bf := p.mapping(bn, "bracket", map[string]bool{"up_to": false, "rate": false})
		if bf == nil {
			continue
		}
		var b Bracket
		if u := bf["up_to"]; u != nil {
			if d, ok := p.decimalValue(u, "up_to"); ok {
				b.UpTo, b.HasUpTo = d, true
				if prev != nil && !d.GreaterThan(prevUpTo) {
					p.errorf(u, "up_to %s must be above the previous bracket's %s (line %d)", d, prevUpTo, prev.Line)
				}
				prev, prevUpTo = u, d
			}
		} else if i != len(items)-1 {
			p.errorf(bn, "only the last bracket may omit up_to")
		}
		if r := bf["rate"]; r != nil {
			if d, ok := p.rate(r, "rate"); ok {
				b.Rate, b.HasRate = d, true
			}
		}
		t.Brackets = append(t.Brackets, b)
	}
	return t
}

func (p *parser) exemption(n *yaml.Node) *docExemption {
	f := p.mapping(n, "exemption", map[string]bool{
		"customer": true, "jurisdictions": true, "reason": false, "from": false, "to": false,
	})
	if f == nil {
		return nil
	}
	e := &docExemption{at: p.at(n)}
	if c := f["customer"]; c != nil {
		e.customer, _ = p.str(c, "customer")
	}
	if c := f["jurisdictions"]; c != nil {
		e.jurisdictions = p.strList(c, "jurisdictions")
	}
	if c := f["reason"]; c != nil {
		e.reason, _ = p.str(c, "reason")
	}
	if c := f["from"]; c != nil {
		e.from, e.hasFrom = p.date(c, "from")
	}
	if c := f["to"]; c != nil {
		e.to, e.hasTo = p.date(c, "to")
		if e.hasFrom && e.hasTo && e.to <= e.from {
			p.errorf(c, "to %s must be after from %s", e.to, e.from)
		}
	}
	return e
}
