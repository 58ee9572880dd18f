package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// Property tests of --state, --shard, --partial and merge: random inputs
// with replays and conflicting duplicates, split at random into days,
// shards and orders, must give byte for byte the table of one run over the
// whole input. TAXAGG_STATE_PROPERTY_N sets the number of random cases
// (default 12).

type stateCase struct {
	t    *testing.T
	dir  string
	recs []string // the whole input, in order
	ids  []string
}

func (p *stateCase) taxagg(args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	code := Main(args, &IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut})
	return code, out.String(), errOut.String()
}

func (p *stateCase) must(args ...string) string {
	p.t.Helper()
	code, out, errOut := p.taxagg(args...)
	if code != 0 && code != 1 {
		p.t.Fatalf("taxagg %s: exit %d: %s", strings.Join(args, " "), code, errOut)
	}
	return out
}

func (p *stateCase) write(name string, recs []string) string {
	p.t.Helper()
	path := filepath.Join(p.dir, name)
	if err := os.WriteFile(path, []byte(strings.Join(recs, "")), 0o644); err != nil {
		p.t.Fatal(err)
	}
	return path
}

func (p *stateCase) path(name string) string { return filepath.Join(p.dir, name) }

// genProp makes n records: new ones, exact replays of earlier ones and
// conflicting duplicates (an earlier id with another amount).
func genProp(rng *rand.Rand, n int, conflicts bool) ([]string, []string) {
	var recs, ids []string
	rec := func(id string, amount int, st int, day int, refund bool) string {
		s := crashStates[st]
		typ := ""
		if refund {
			typ = `"type":"refund",`
		}
		return fmt.Sprintf(`{"id":"%s",%s"date":"2026-%02d-%02d","currency":"USD","amount":"%d.%02d","country":"US","state":"%s",%s}`+"\n",
			id, typ, 1+day/28, 1+day%28, amount/100, amount%100, s.state, s.extra)
	}
	for len(recs) < n {
		switch r := rng.IntN(20); {
		case r == 0 && len(recs) > 0:
			recs = append(recs, recs[rng.IntN(len(recs))])
		case r == 1 && len(ids) > 0 && conflicts:
			id := ids[rng.IntN(len(ids))]
			recs = append(recs, rec(id, 1+rng.IntN(90000), rng.IntN(len(crashStates)), rng.IntN(300), false))
		default:
			id := fmt.Sprintf("p-%d-%d", len(recs), rng.IntN(1000))
			ids = append(ids, id)
			recs = append(recs, rec(id, rng.IntN(100000), rng.IntN(len(crashStates)), rng.IntN(300), rng.IntN(15) == 0))
		}
	}
	return recs, ids
}

// cuts splits n into k random contiguous parts.
func cuts(rng *rand.Rand, n, k int) []int {
	c := map[int]bool{}
	for len(c) < k-1 && len(c) < n-1 {
		c[1+rng.IntN(n-1)] = true
	}
	out := []int{0}
	for x := range c {
		out = append(out, x)
	}
	out = append(out, n)
	sort.Ints(out)
	return out
}

func TestStateProperties(t *testing.T) {
	trials := envInt("TAXAGG_STATE_PROPERTY_N", 12)
	for trial := 0; trial < trials; trial++ {
		t.Run(fmt.Sprint(trial), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(trial), 99))
			p := &stateCase{t: t, dir: t.TempDir()}
			period := []string{"none", "month", "quarter"}[rng.IntN(3)]
			byRate := rng.IntN(3) == 0
			conflicts := trial%2 == 1
			p.recs, p.ids = genProp(rng, 100+rng.IntN(400), conflicts)
			all := p.write("all.ndjson", p.recs)
			common := []string{"-q", "--format", "csv", "--period", period, "--workers", fmt.Sprint(1 + rng.IntN(3))}
			if byRate {
				common = append(common, "--by-rate")
			}
			agg := func(extra ...string) []string { return append(append([]string{"aggregate"}, common...), extra...) }
			ref := p.must(agg("--rejects", p.path("ref.rej"), all)...)

			// Days, run one after another against one state.
			k := 1 + rng.IntN(5)
			cs := cuts(rng, len(p.recs), k)
			var days []string
			for i := 0; i+1 < len(cs); i++ {
				days = append(days, p.write(fmt.Sprintf("day%d.ndjson", i), p.recs[cs[i]:cs[i+1]]))
			}
			var got string
			for _, d := range days {
				got = p.must(agg("--state", p.path("days.db"), "--rejects", p.path("days.rej"), d)...)
			}
			if got != ref {
				t.Fatalf("%d days against a state differ from one run:\n%s\nwant:\n%s", len(days), got, ref)
			}
			// The same records are rejected; a bad record replayed in a later
			// day is a duplicate of its first rejection there.
			if a, b := rejectedSet(t, p.path("ref.rej")), rejectedSet(t, p.path("days.rej")); a != b {
				t.Fatalf("rejected in one run:\n%s\nover the days:\n%s", a, b)
			}
			// Running a day again changes nothing.
			if again := p.must(agg("--state", p.path("days.db"), "--rejects", p.path("days.rej"), days[rng.IntN(len(days))])...); again != ref {
				t.Fatalf("a day run again changed the totals")
			}
			if code, out, _ := p.taxagg("state", "verify", p.path("days.db")); code != 0 {
				t.Fatalf("state verify: %d %s", code, out)
			}

			// nexus: the days against a state give the one-run rows.
			nref := p.must("nexus", "-q", "--format", "csv", "--rejects", p.path("nref.rej"), all)
			var ngot string
			for _, d := range days {
				ngot = p.must("nexus", "-q", "--format", "csv", "--state", p.path("nexus.db"), "--rejects", p.path("ndays.rej"), d)
			}
			if ngot != nref {
				t.Fatalf("nexus over %d days against a state differs from one run:\n%s\nwant:\n%s", len(days), ngot, nref)
			}

			// Shards of the whole input, merged in a random order; each shard
			// with its own state over the days.
			n := 2 + rng.IntN(4)
			var parts []string
			for s := 0; s < n; s++ {
				sh := fmt.Sprintf("%d/%d", s, n)
				part := p.path(fmt.Sprintf("shard%d.partial", s))
				if rng.IntN(2) == 0 {
					p.must(agg("--shard", sh, "--rejects", p.path("sh.rej"), "--partial", part, all)...)
				} else {
					db := p.path(fmt.Sprintf("shard%d.db", s))
					for _, d := range days {
						p.must(agg("--shard", sh, "--state", db, "--rejects", p.path("sh.rej"), d)...)
					}
					p.must("state", "export", "-o", part, db)
				}
				parts = append(parts, part)
			}
			rng.Shuffle(len(parts), func(i, j int) { parts[i], parts[j] = parts[j], parts[i] })
			merged := p.must(append([]string{"merge", "-q", "--format", "csv"}, parts...)...)
			if merged != ref {
				t.Fatalf("%d shards merged differ from one run:\n%s\nwant:\n%s", n, merged, ref)
			}
			if a, b := rejectedSet(t, p.path("ref.rej")), rejectedSet(t, p.path("sh.rej")); a != b {
				t.Fatalf("rejected in one run:\n%s\nover the shards:\n%s", a, b)
			}

			// Day partials (each day on its own), merged in any order and
			// grouping: equal to one run unless a conflict spans two days,
			// which merge must refuse naming both partials.
			var dparts []string
			for i, d := range days {
				part := p.path(fmt.Sprintf("day%d.partial", i))
				p.must(agg("--rejects", p.path("dp.rej"), "--partial", part, d)...)
				dparts = append(dparts, part)
			}
			rng.Shuffle(len(dparts), func(i, j int) { dparts[i], dparts[j] = dparts[j], dparts[i] })
			mid := rng.IntN(len(dparts) + 1)
			args := []string{"merge", "-q", "--format", "csv"}
			conflict := crossDayConflict(p.recs, cs)
			if mid > 1 {
				code, _, errOut := p.taxagg(append([]string{"merge", "-q", "--format", "csv", "--partial", p.path("left.partial")}, dparts[:mid]...)...)
				if code != 0 {
					if conflict && code == 2 && strings.Contains(errOut, "has other content than in") {
						return
					}
					t.Fatalf("merge: exit %d: %s", code, errOut)
				}
				args = append(args, p.path("left.partial"))
				args = append(args, dparts[mid:]...)
			} else {
				args = append(args, dparts...)
			}
			code, out, errOut := p.taxagg(args...)
			if conflict {
				if code != 2 || !strings.Contains(errOut, "has other content than in") {
					t.Fatalf("merge of day partials with a conflict across days: exit %d, %q", code, errOut)
				}
			} else if code != 0 || out != ref {
				t.Fatalf("day partials merged (exit %d, %s) differ from one run:\n%s\nwant:\n%s", code, errOut, out, ref)
			}
		})
	}
}

// rejectedSet returns the distinct records of a rejects file, sorted.
func rejectedSet(t *testing.T, path string) string {
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	set := map[string]bool{}
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if l == "" {
			continue
		}
		var r struct {
			Record string `json:"record"`
		}
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		set[r.Record] = true
	}
	var out []string
	for r := range set {
		out = append(out, r)
	}
	sort.Strings(out)
	return strings.Join(out, "")
}

// crossDayConflict reports whether an id is given different content in
// two different days.
func crossDayConflict(recs []string, cs []int) bool {
	first := map[string]string{}
	firstDay := map[string]int{}
	for d := 0; d+1 < len(cs); d++ {
		seenToday := map[string]bool{}
		for _, r := range recs[cs[d]:cs[d+1]] {
			id := r[strings.Index(r, `"id":"`)+6:]
			id = id[:strings.IndexByte(id, '"')]
			c, ok := first[id]
			if !ok {
				first[id], firstDay[id] = r, d
				seenToday[id] = true
				continue
			}
			if c != r && firstDay[id] != d && !seenToday[id] {
				return true
			}
			seenToday[id] = true
		}
	}
	return false
}
