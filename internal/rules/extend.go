package rules

import (
	"fmt"
	"sort"
	"strings"

	"github.com/taxagg/taxagg/internal/txn"
)

// Layering rule files: `extend: true`.
//
// A jurisdiction entry with `extend: true` whose code is already defined by
// an entry earlier in the files (in the order given) is not a second
// definition: it is folded into the first one, which stays the authority.
// Where no earlier entry has the code, the extending entry simply defines
// the jurisdiction, so a file that extends still works on its own. The
// same holds the other way round: a plain entry after an extending one of
// the same code is folded into it. What the fold keeps:
//
//   - name, level, parent, match, nexus, source, as_of, notes: the first
//     entry's; the later one's only where the first gives none.
//   - a later tax whose id is a tax of the first entry merges with it:
//     the first's rate entries stay; the later one's fill the dates the
//     first leaves without a rate (a pack that starts in 2019 gains an
//     official file's history from 2011). Where both give a rate for the
//     same days and the rates differ, the first file's is used and a
//     warning names both. Taxability categories the first does not list
//     are added (an official file's food: exempt); a category both list
//     keeps the first's value, with a warning when they differ. Tiers come
//     from the later tax only when the first has none.
//   - any other later tax is added to the jurisdiction.
//
// Warnings are positioned like issues and end up in Program.Warnings.

// mergeExtensions folds extending entries into the first entry of their
// code, removing them from their files' lists.
func mergeExtensions(docs []*docFile, warn *Issues) {
	first := map[string]*docJurisdiction{}
	for _, d := range docs {
		kept := d.jurisdictions[:0]
		for _, dj := range d.jurisdictions {
			if dj.code == "" {
				kept = append(kept, dj)
				continue
			}
			f, seen := first[dj.code]
			if !seen {
				first[dj.code] = dj
				kept = append(kept, dj)
				continue
			}
			if !dj.extend && !f.extend {
				kept = append(kept, dj) // a plain redefinition: compile reports it
				continue
			}
			foldJurisdiction(f, dj, warn)
		}
		d.jurisdictions = kept
	}
}

func foldJurisdiction(f, l *docJurisdiction, warn *Issues) {
	w := func(at pos, format string, args ...any) {
		warn.add(at.file, at.line, at.col, format, args...)
	}
	if f.name == "" {
		f.name = l.name
	}
	if l.level != f.level {
		w(l.at, "%s extends the jurisdiction defined at %s, which has level %s: the level %s given here is ignored",
			l.code, f.codeAt, f.level, l.level)
	}
	if f.parent == "" {
		f.parent, f.parentAt = l.parent, l.parentAt
	} else if l.parent != "" && l.parent != f.parent {
		w(l.parentAt, "%s extends the jurisdiction defined at %s, whose parent is %s: the parent %s given here is ignored",
			l.code, f.codeAt, f.parent, l.parent)
	}
	if !f.hasMatch && l.hasMatch {
		f.match, f.hasMatch = l.match, true
	}
	if f.nexus == nil {
		f.nexus = l.nexus
	}
	if f.source == "" {
		f.source = l.source
	}
	if f.asOf == "" {
		f.asOf = l.asOf
	}
	if f.notes == "" {
		f.notes = l.notes
	}
	for _, lt := range l.taxes {
		var ft *docTax
		for _, t := range f.taxes {
			if t.id == lt.id {
				ft = t
			}
		}
		if ft == nil {
			if len(f.taxes) > 0 && lt.taxability["default"].Kind != Exempt {
				var ids []string
				for _, t := range f.taxes {
					ids = append(ids, t.id)
				}
				w(lt.idAt, "%s: tax %s is added to the jurisdiction defined at %s, which already levies %s: both apply "+
					"(give this tax the id of the one it stands for to merge them instead)",
					l.code, lt.id, f.codeAt, strings.Join(ids, ", "))
			}
			lt.jurisdiction = f
			f.taxes = append(f.taxes, lt)
			continue
		}
		foldTax(l.code, ft, lt, w)
	}
}

const endOfTime txn.Date = 1<<31 - 1

func rateEnd(r docRate) txn.Date {
	if r.hasTo {
		return r.to
	}
	return endOfTime
}

func foldTax(code string, ft, lt *docTax, w func(pos, string, ...any)) {
	if ft.name == "" {
		ft.name = lt.name
	}
	if ft.notes == "" {
		ft.notes = lt.notes
	}
	if ft.taxabilityFrom == "" && lt.taxabilityFrom != "" {
		ft.taxabilityFrom, ft.taxabilityFromAt = lt.taxabilityFrom, lt.taxabilityFromAt
	}
	if ft.tiers == nil && lt.tiers != nil {
		ft.tiers, ft.tiersAt = lt.tiers, lt.tiersAt
	}
	// Rates: the first tax's entries win; the later one's fill the gaps.
	var fill []docRate
	for _, lr := range lt.rates {
		pieces := []docRate{lr}
		for _, fr := range ft.rates {
			var next []docRate
			for _, p := range pieces {
				lo, hi := max(p.from, fr.from), min(rateEnd(p), rateEnd(fr))
				if lo >= hi {
					next = append(next, p)
					continue
				}
				if p.hasRate && fr.hasRate && !p.rate.Equal(fr.rate) {
					span := "from " + lo.String()
					if hi != endOfTime {
						span += " to " + hi.String()
					}
					w(lr.at, "%s: tax %s: the rate %s given here %s differs from %s at %s; the first file's rate is used "+
						"(rule files merge in the order given: put the one to trust first)",
						code, lt.id, percent(p.rate.String()), span, percent(fr.rate.String()), fr.at)
				}
				if p.from < lo {
					left := p
					left.to, left.hasTo = lo, true
					next = append(next, left)
				}
				if hi < rateEnd(p) {
					right := p
					right.from = hi
					next = append(next, right)
				}
			}
			pieces = next
		}
		fill = append(fill, pieces...)
	}
	ft.rates = append(ft.rates, fill...)
	sort.SliceStable(ft.rates, func(a, b int) bool { return ft.rates[a].from < ft.rates[b].from })
	// Taxability: categories the first does not list are added.
	if len(lt.taxability) > 0 && ft.taxability == nil {
		ft.taxability = map[string]Taxability{}
	}
	cats := make([]string, 0, len(lt.taxability))
	for c := range lt.taxability {
		cats = append(cats, c)
	}
	sort.Strings(cats)
	for _, c := range cats {
		tb := lt.taxability[c]
		if have, ok := ft.taxability[c]; ok {
			if !sameTaxability(have, tb) {
				w(lt.at, "%s: tax %s: taxability of %s differs from the one at %s; the first file's is used",
					code, lt.id, c, ft.at)
			}
			continue
		}
		ft.taxability[c] = tb
	}
}

// ruleWarnings returns the warnings as sorted strings.
func ruleWarnings(w *Issues) []string {
	if len(w.List) == 0 {
		return nil
	}
	w.sortAndCap()
	out := make([]string, 0, len(w.List)+1)
	for _, is := range w.List {
		out = append(out, is.String())
	}
	if w.More > 0 {
		out = append(out, fmt.Sprintf("(and %d more warnings)", w.More))
	}
	return out
}

func sameTaxability(a, b Taxability) bool {
	return a.Kind == b.Kind && a.HasRate == b.HasRate && a.Rate.Equal(b.Rate) &&
		a.HasPortion == b.HasPortion && a.Portion.Equal(b.Portion) &&
		a.HasExemptBelow == b.HasExemptBelow && a.ExemptBelow.Equal(b.ExemptBelow)
}
