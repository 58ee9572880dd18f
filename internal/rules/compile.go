package rules

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
)

// Source is one rule file: its name (as errors print it) and its bytes.
type Source struct {
	Name string
	Data []byte
}

// Compile parses, checks and compiles rule files, merged in order. A later
// file may not redefine a jurisdiction code or a tax id. On failure the
// error is an *Issues listing every problem found, sorted.
func Compile(srcs []Source) (*Program, error) {
	issues := &Issues{order: map[string]int{}}
	h := sha256.New()
	var docs []*docFile
	for i, s := range srcs {
		if _, seen := issues.order[s.Name]; !seen {
			issues.order[s.Name] = i
		}
		h.Write(s.Data)
		if d := parseFile(s.Name, s.Data, issues); d != nil {
			docs = append(docs, d)
		}
	}
	prog := &Program{
		SHA256:        hex.EncodeToString(h.Sum(nil)),
		byCode:        map[string]*Jurisdiction{},
		exemptionsFor: map[string][]int{},
	}
	for _, s := range srcs {
		prog.Files = append(prog.Files, s.Name)
	}
	warnings := &Issues{order: issues.order}
	mergeExtensions(docs, warnings)
	c := compiler{prog: prog, issues: issues, codeAt: map[string]pos{}, taxAt: map[string]pos{}, taxes: map[string]*Tax{}}
	for _, d := range docs {
		c.file(d)
	}
	c.link(docs)
	if len(issues.List) > 0 {
		issues.sortAndCap()
		return nil, issues
	}
	prog.Warnings = ruleWarnings(warnings)
	return prog, nil
}

type compiler struct {
	prog   *Program
	issues *Issues
	codeAt map[string]pos
	taxAt  map[string]pos
	taxes  map[string]*Tax
	docTax map[*Tax]*docTax
}

func (c *compiler) errorf(at pos, format string, args ...any) {
	c.issues.add(at.file, at.line, at.col, format, args...)
}

func (c *compiler) file(d *docFile) {
	if c.docTax == nil {
		c.docTax = map[*Tax]*docTax{}
	}
	for _, dj := range d.jurisdictions {
		if dj.code == "" {
			continue
		}
		if prev, dup := c.codeAt[dj.code]; dup {
			c.errorf(dj.codeAt, "jurisdiction %s is already defined at %s", dj.code, prev)
			continue
		}
		c.codeAt[dj.code] = dj.codeAt
		j := &Jurisdiction{
			Code: dj.code, Name: dj.name, Level: dj.level, Parent: dj.parent,
			Nexus: dj.nexus, Source: dj.source, AsOf: dj.asOf, Notes: dj.notes,
			match: dj.match,
		}
		if dj.hasMatch {
			j.Match = describeMatch(dj.match)
		}
		c.prog.byCode[j.Code] = j
		c.prog.Jurisdictions = append(c.prog.Jurisdictions, j)
		for _, dt := range dj.taxes {
			if t := c.tax(dt, j); t != nil {
				j.Taxes = append(j.Taxes, t)
			}
		}
	}
	for _, de := range d.exemptions {
		e := Exemption{
			Customer: de.customer, Jurisdictions: de.jurisdictions, Reason: de.reason,
			From: de.from, To: de.to, HasFrom: de.hasFrom, HasTo: de.hasTo,
		}
		c.prog.exemptionsFor[e.Customer] = append(c.prog.exemptionsFor[e.Customer], len(c.prog.Exemptions))
		c.prog.Exemptions = append(c.prog.Exemptions, e)
	}
}

func (c *compiler) tax(dt *docTax, j *Jurisdiction) *Tax {
	if dt.id == "" {
		return nil
	}
	if prev, dup := c.taxAt[dt.id]; dup {
		c.errorf(dt.idAt, "tax id %s is already defined at %s", dt.id, prev)
		return nil
	}
	c.taxAt[dt.id] = dt.idAt
	t := &Tax{
		ID: dt.id, Name: dt.name, Jurisdiction: j, Taxability: dt.taxability,
		Tiers: dt.tiers, Fixed: dt.fixed, Rounding: dt.rounding, Notes: dt.notes,
	}
	if t.Taxability == nil {
		t.Taxability = map[string]Taxability{}
	}
	if tb, ok := t.Taxability["default"]; ok {
		t.defaultTB = tb
	}
	// Rates: sorted by start; an entry may not overlap the next one.
	rates := append([]docRate(nil), dt.rates...)
	sort.SliceStable(rates, func(a, b int) bool { return rates[a].from < rates[b].from })
	for i, r := range rates {
		if t.Fixed == nil && !r.hasRate {
			c.errorf(r.at, "rate entry needs a rate")
		}
		if t.Fixed != nil && r.hasRate {
			c.errorf(r.at, "tax %s has a fixed amount; its rate entries give only the dates it is in force (drop rate)", t.ID)
		}
		if i > 0 {
			prev := rates[i-1]
			if !prev.hasTo || prev.to > r.from {
				c.errorf(r.at, "rate overlaps the entry at line %d", prev.at.line)
				c.errorf(prev.at, "rate overlaps the entry at line %d", r.at.line)
			}
		}
		t.Rates = append(t.Rates, RateEntry{From: r.from, To: r.to, HasTo: r.hasTo, Rate: r.rate})
	}
	if t.Fixed != nil && len(t.Rates) == 0 {
		// A fixed amount without dates is always in force.
		t.Rates = []RateEntry{{From: minDate}}
	}
	if t.Fixed != nil {
		if t.Tiers != nil {
			c.errorf(dt.tiersAt, "tax %s: a fixed amount cannot have tiers", t.ID)
		}
		if len(dt.compoundOn) > 0 {
			c.errorf(dt.fixedAt, "tax %s: a fixed amount cannot be compound", t.ID)
		}
	}
	if t.Tiers != nil && t.Tiers.Per == PerTransaction && t.Rounding.Level == LevelLine {
		// "Rounded once per transaction" (docs/rules.md).
		t.Rounding.Level = LevelTransaction
	}
	c.taxes[t.ID] = t
	c.docTax[t] = dt
	return t
}

// minDate is a date before any transaction.
const minDate = -1 << 30

// link resolves references across files (parents, compound taxes), orders
// the taxes by dependency and builds the indexes.
func (c *compiler) link(docs []*docFile) {
	p := c.prog
	sort.Slice(p.Jurisdictions, func(a, b int) bool { return p.Jurisdictions[a].Code < p.Jurisdictions[b].Code })
	for i, j := range p.Jurisdictions {
		j.index = i
	}
	for _, d := range docs {
		for _, dj := range d.jurisdictions {
			if dj.parent == "" {
				continue
			}
			if _, ok := p.byCode[dj.parent]; !ok {
				c.errorf(dj.parentAt, "parent %s is not a defined jurisdiction", dj.parent)
			} else if dj.parent == dj.code {
				c.errorf(dj.parentAt, "jurisdiction %s cannot be its own parent", dj.code)
			}
		}
		for _, de := range d.exemptions {
			for _, pat := range de.jurisdictions {
				if !c.patternMatchesAny(pat) {
					c.errorf(de.at, "exemption names %s, which matches no jurisdiction", pat)
				}
			}
		}
	}
	c.ancestors()
	// Compound references.
	var all []*Tax
	for _, j := range p.Jurisdictions {
		all = append(all, j.Taxes...)
	}
	for _, t := range all {
		dt := c.docTax[t]
		for i, id := range dt.compoundOn {
			dep, ok := c.taxes[id]
			if !ok {
				c.errorf(dt.compoundAt[i], "compound_on names %s, which is not a defined tax", id)
				continue
			}
			t.CompoundOn = append(t.CompoundOn, dep)
		}
	}
	c.inheritTaxability(all)
	p.Taxes = c.order(all)
	for i, t := range p.Taxes {
		t.order = i
	}
	for _, t := range p.Taxes {
		for _, dep := range t.CompoundOn {
			t.compoundIdx = append(t.compoundIdx, dep.order)
		}
	}
	p.index = buildIndex(p.Jurisdictions)
}

func (c *compiler) patternMatchesAny(pat string) bool {
	for code := range c.prog.byCode {
		if codeMatches(pat, code) {
			return true
		}
	}
	return false
}

// codeMatches reports whether a jurisdiction code fits an exemption pattern
// ("US-TX" exactly, or "US-TX*" for any code starting with US-TX).
func codeMatches(pattern, code string) bool {
	if strings.HasSuffix(pattern, "*") {
		return strings.HasPrefix(code, pattern[:len(pattern)-1])
	}
	return pattern == code
}

// order sorts taxes so that each comes after the taxes it compounds on,
// keeping the given order otherwise (Kahn's algorithm, always taking the
// earliest ready tax). A cycle is reported with its path.
func (c *compiler) order(all []*Tax) []*Tax {
	pos := make(map[*Tax]int, len(all))
	for i, t := range all {
		pos[t] = i
	}
	indeg := make([]int, len(all))
	users := make([][]int, len(all))
	for i, t := range all {
		for _, dep := range t.CompoundOn {
			indeg[i]++
			users[pos[dep]] = append(users[pos[dep]], i)
		}
	}
	done := make([]bool, len(all))
	out := make([]*Tax, 0, len(all))
	for len(out) < len(all) {
		next := -1
		for i := range all {
			if !done[i] && indeg[i] == 0 {
				next = i
				break
			}
		}
		if next < 0 {
			break
		}
		done[next] = true
		out = append(out, all[next])
		for _, u := range users[next] {
			indeg[u]--
		}
	}
	if len(out) == len(all) {
		return out
	}
	// What is left holds at least one cycle: walk dependencies from the
	// first remaining tax until one repeats.
	for i := range all {
		if done[i] {
			continue
		}
		seen := map[*Tax]int{}
		var path []*Tax
		t := all[i]
		for {
			if k, ok := seen[t]; ok {
				cycle := append(path[k:], t)
				names := make([]string, len(cycle))
				for n, ct := range cycle {
					names[n] = ct.ID
				}
				c.errorf(c.docTax[cycle[0]].idAt, "compound taxes form a cycle: %s", strings.Join(names, " -> "))
				break
			}
			seen[t] = len(path)
			path = append(path, t)
			var nextT *Tax
			for _, dep := range t.CompoundOn {
				if !done[pos[dep]] {
					nextT = dep
					break
				}
			}
			if nextT == nil {
				break
			}
			t = nextT
		}
		break
	}
	for i := range all {
		if !done[i] {
			out = append(out, all[i])
		}
	}
	return out
}

func describeMatch(keys []matchKey) string {
	var parts []string
	for _, k := range keys {
		if k.field == fieldNot {
			var sets []string
			for _, set := range k.not {
				sets = append(sets, "("+describeMatch(set)+")")
			}
			parts = append(parts, "not "+strings.Join(sets, " or "))
			continue
		}
		name := matchFields[k.field].name
		var vals []string
		if k.field == fieldPostalCode {
			for _, p := range k.postal {
				vals = append(vals, p.String())
			}
		} else {
			vals = k.values
		}
		if len(vals) > 4 {
			vals = append(vals[:4:4], fmt.Sprintf("… %d more", len(vals)-4))
		}
		parts = append(parts, name+"="+strings.Join(vals, "|"))
	}
	return strings.Join(parts, " ")
}

// ancestors lists each jurisdiction's parent chain (nearest first), which
// explicit jurisdiction codes on a transaction bring with them; a chain
// that comes back on itself is an error.
func (c *compiler) ancestors() {
	p := c.prog
	for _, j := range p.Jurisdictions {
		seen := map[string]bool{j.Code: true}
		path := []string{j.Code}
		for code := j.Parent; code != ""; {
			a, ok := p.byCode[code]
			if !ok {
				break // reported above
			}
			path = append(path, code)
			if seen[code] {
				if code == j.Code && len(path) > 2 {
					c.errorf(c.codeAt[j.Code], "parent chain forms a cycle: %s", strings.Join(path, " -> "))
				}
				j.ancestors = nil
				break
			}
			seen[code] = true
			j.ancestors = append(j.ancestors, a.index)
			code = a.Parent
		}
	}
}

// inheritTaxability gives each tax with taxability_from the entries of the
// named tax (after that one's own inheritance) for every category it does
// not list itself.
func (c *compiler) inheritTaxability(all []*Tax) {
	state := map[*Tax]int{} // 1: in progress, 2: done
	var resolve func(t *Tax)
	resolve = func(t *Tax) {
		if state[t] != 0 {
			if state[t] == 1 {
				dt := c.docTax[t]
				c.errorf(dt.taxabilityFromAt, "taxability_from of tax %s leads back to itself", t.ID)
			}
			return
		}
		state[t] = 1
		dt := c.docTax[t]
		if dt.taxabilityFrom != "" {
			from, ok := c.taxes[dt.taxabilityFrom]
			switch {
			case !ok:
				c.errorf(dt.taxabilityFromAt, "taxability_from names %s, which is not a defined tax", dt.taxabilityFrom)
			case from == t:
				c.errorf(dt.taxabilityFromAt, "tax %s cannot take its taxability from itself", t.ID)
			default:
				resolve(from)
				own := make(map[string]Taxability, len(t.Taxability)+len(from.Taxability))
				for k, v := range from.Taxability {
					own[k] = v
				}
				for k, v := range t.Taxability {
					own[k] = v
				}
				t.Taxability = own
				if tb, ok := own["default"]; ok {
					t.defaultTB = tb
				}
				t.TaxabilityFrom = from.ID
			}
		}
		state[t] = 2
	}
	for _, t := range all {
		resolve(t)
	}
}
