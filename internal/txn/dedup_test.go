package txn

import (
	"math/rand/v2"
	"strconv"
	"testing"
	"unsafe"
)

func TestDedup(t *testing.T) {
	d := NewDedup(0)
	if v, _ := d.Check("a", 1, Pos{0, 2}); v != New {
		t.Fatal(v)
	}
	if v, first := d.Check("a", 1, Pos{1, 9}); v != Duplicate || first != (Pos{0, 2}) {
		t.Fatal(v, first)
	}
	if v, first := d.Check("a", 2, Pos{1, 10}); v != Conflict || first != (Pos{0, 2}) {
		t.Fatal(v, first)
	}
	if v, _ := d.Check("b", 2, Pos{1, 11}); v != New {
		t.Fatal(v)
	}
	if d.Len() != 2 {
		t.Fatal(d.Len())
	}
}

func TestDedupMany(t *testing.T) {
	const n = 300000
	d := NewDedup(0)
	for i := 0; i < n; i++ {
		id := "tx_" + strconv.Itoa(i)
		if v, _ := d.Check(id, uint64(i), Pos{i % 3, i + 1}); v != New {
			t.Fatalf("%s: %v", id, v)
		}
	}
	for i := 0; i < n; i++ {
		id := "tx_" + strconv.Itoa(i)
		v, first := d.Check(id, uint64(i), Pos{5, 1})
		if v != Duplicate || first != (Pos{i % 3, i + 1}) {
			t.Fatalf("%s: %v %v", id, v, first)
		}
		if v, _ := d.Check(id, uint64(i)+1, Pos{5, 1}); v != Conflict {
			t.Fatalf("%s: %v", id, v)
		}
	}
	if d.Len() != n {
		t.Fatal(d.Len())
	}
	per := float64(d.MemoryBytes()) / n
	t.Logf("%d ids: %.1f bytes per id", n, per)
	if per > 40 {
		t.Errorf("%.1f bytes per id", per)
	}
	// A presized set.
	d = NewDedup(n)
	for i := 0; i < n; i++ {
		d.Check("tx_"+strconv.Itoa(i), 0, Pos{})
	}
	if per := float64(d.MemoryBytes()) / n; per > 32 {
		t.Errorf("presized: %.1f bytes per id", per)
	}
}

func TestDedupLimits(t *testing.T) {
	d := NewDedup(0)
	d.CheckHash(0, 0, Pos{Source: 1 << 20, Line: -3})
	_, first := d.CheckHash(1, 0, Pos{})
	if first != (Pos{MaxDedupSources, MaxDedupLine}) {
		t.Errorf("%v", first)
	}
}

// TestDedupMemory grows a set from nothing and checks that it never holds
// more than 32 bytes per distinct id, not even in the middle of a growth,
// once the fixed costs are spread over enough ids.
func TestDedupMemory(t *testing.T) {
	n := 3_000_000
	if testing.Short() {
		n = 400_000
	}
	const from = 1 << 18 // below this, fixed costs dominate
	rng := rand.New(rand.NewPCG(1, 2))
	d := NewDedup(0)
	var worst, worstPeak float64
	peak := d.peakBytes()
	for i := range n {
		if v, _ := d.CheckHash(rng.Uint64(), uint64(i), Pos{0, i + 1}); v != New {
			t.Fatalf("id %d: %v", i, v)
		}
		if d.Len() < from {
			continue
		}
		worst = max(worst, float64(d.MemoryBytes())/float64(d.Len()))
		if p := d.peakBytes(); p != peak {
			// The peak was reached during this call, before or after the
			// id was added.
			peak = p
			worstPeak = max(worstPeak, float64(p)/float64(d.Len()-1))
		}
	}
	if d.peakBytes() < d.MemoryBytes() {
		t.Errorf("peak %d < held %d", d.peakBytes(), d.MemoryBytes())
	}
	t.Logf("%d ids: %.1f bytes per id at the end, at most %.1f after a call, %.1f at peak",
		d.Len(), float64(d.MemoryBytes())/float64(d.Len()), worst, worstPeak)
	if worst > 32 || worstPeak > 32 {
		t.Errorf("%.1f bytes per id after a call, %.1f at peak; want ≤ 32", worst, worstPeak)
	}
}

// TestDedupReference checks verdicts and first positions against a map,
// on random ids with replays and conflicting replays, through growth.
func TestDedupReference(t *testing.T) {
	type seen struct {
		content uint64
		first   Pos
	}
	for _, hint := range []int{0, 1000, 100_000} {
		rng := rand.New(rand.NewPCG(3, uint64(hint)))
		d := NewDedup(hint)
		ref := map[string]seen{}
		const ops = 300_000
		for i := range ops {
			id := "tx_" + strconv.Itoa(rng.IntN(ops/2))
			content := uint64(rng.IntN(3)) << 40
			where := Pos{rng.IntN(4), i + 1}
			v, first := d.Check(id, content, where)
			want, wantFirst := New, Pos{}
			if s, ok := ref[id]; ok {
				want, wantFirst = Conflict, s.first
				if s.content == content {
					want = Duplicate
				}
			} else {
				ref[id] = seen{content, where}
			}
			if v != want || first != wantFirst {
				t.Fatalf("hint %d, op %d, %s: got %v %v, want %v %v", hint, i, id, v, first, want, wantFirst)
			}
		}
		if d.Len() != len(ref) {
			t.Errorf("hint %d: Len %d, want %d", hint, d.Len(), len(ref))
		}
	}
}

// TestDedupZero checks that the zero Dedup is usable.
func TestDedupZero(t *testing.T) {
	var d Dedup
	if v, _ := d.Check("a", 1, Pos{0, 1}); v != New {
		t.Fatal(v)
	}
	if v, first := d.Check("a", 1, Pos{0, 2}); v != Duplicate || first != (Pos{0, 1}) {
		t.Fatal(v, first)
	}
}

func BenchmarkDedup(b *testing.B) {
	ids := make([]uint64, 1<<20)
	for i := range ids {
		ids[i] = HashID("tx_" + strconv.Itoa(i))
	}
	b.ReportAllocs()
	for b.Loop() {
		d := NewDedup(0)
		for i, h := range ids {
			d.CheckHash(h, uint64(i), Pos{0, i})
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(ids)), "ns/id")
}

func BenchmarkDedupPresized(b *testing.B) {
	ids := make([]uint64, 1<<20)
	for i := range ids {
		ids[i] = HashID("tx_" + strconv.Itoa(i))
	}
	b.ReportAllocs()
	for b.Loop() {
		d := NewDedup(len(ids))
		for i, h := range ids {
			d.CheckHash(h, uint64(i), Pos{0, i})
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(ids)), "ns/id")
}

// The set's large arrays live off the heap (where the system allows it)
// and Release gives them back; verdicts are unchanged either way.
func TestDedupRelease(t *testing.T) {
	d := NewDedup(0)
	const n = 200_000
	for i := 1; i <= n; i++ {
		if v, _ := d.CheckHash(uint64(i)*0x9e3779b97f4a7c15, uint64(i), Pos{Line: i}); v != New {
			t.Fatalf("id %d: %v, want new", i, v)
		}
	}
	for i := 1; i <= n; i += 997 {
		v, first := d.CheckHash(uint64(i)*0x9e3779b97f4a7c15, uint64(i), Pos{Line: n + i})
		if v != Duplicate || first.Line != i {
			t.Fatalf("replay of id %d: %v first %+v, want duplicate of line %d", i, v, first, i)
		}
	}
	d.Release()
	if d.MemoryBytes() > 64<<10 {
		t.Errorf("after Release the set still counts %d bytes", d.MemoryBytes())
	}
}

// TestDedupCollisions pins what a hash collision can and cannot do (the
// Dedup doc comment and docs/accounting.md say the same): two different
// ids whose 64-bit hashes collide come out as a conflicting duplicate,
// because the content hash covers the id; only if 32 bits of the content
// hashes also agree is the second counted as a duplicate. A replay is
// always a duplicate, never new.
func TestDedupCollisions(t *testing.T) {
	p := NewParser(ParseOptions{})
	parse := func(in string) Transaction {
		var tx Transaction
		if err := p.ParseJSON([]byte(in), &tx); err != nil {
			t.Fatal(err)
		}
		return tx
	}
	a := parse(`{"id":"a","date":"2025-01-01","currency":"USD","country":"US","amount":"12.50"}`)
	b := parse(`{"id":"b","date":"2025-01-01","currency":"USD","country":"US","amount":"12.50"}`)
	if fold := func(h uint64) uint32 { return uint32(h ^ h>>32) }; fold(a.ContentHash) == fold(b.ContentHash) {
		t.Fatalf("records a and b, alike but for their ids, have the same 32-bit content hash")
	}

	const collided = 0x5eed // the id hash a and b are made to share
	d := NewDedup(0)
	if v, _ := d.CheckHash(collided, a.ContentHash, Pos{0, 1}); v != New {
		t.Fatalf("a: %v, want new", v)
	}
	if v, first := d.CheckHash(collided, b.ContentHash, Pos{0, 2}); v != Conflict || first != (Pos{0, 1}) {
		t.Errorf("b, colliding with a: %v (first %v), want a conflict with line 1", v, first)
	}
	// The silent case needs 32 more bits to agree: a content hash that
	// differs from a's only in bits the set folds away.
	alias := a.ContentHash ^ 0xffff_ffff_ffff_ffff
	if v, _ := d.CheckHash(collided, alias, Pos{0, 3}); v != Duplicate {
		t.Errorf("a colliding id whose folded content hash also agrees: %v, want duplicate", v)
	}
	if v, _ := d.CheckHash(collided, a.ContentHash, Pos{1, 1}); v != Duplicate {
		t.Errorf("a replayed: %v, want duplicate", v)
	}
	if v, _ := d.CheckHash(collided+1, a.ContentHash, Pos{1, 2}); v != New {
		t.Errorf("another id hash: %v, want new", v)
	}
}

// The segment's padding keeps neighbouring segments' locks apart.
func TestDedupSegmentSize(t *testing.T) {
	if sz := unsafe.Sizeof(segment{}); sz != 128 {
		t.Errorf("segment is %d bytes, want 128: adjust its padding", sz)
	}
}

// TestDedupReserve grows a set that holds ids to a larger estimate: every
// id is still held with its position, the set holds more memory, and a
// smaller estimate changes nothing.
func TestDedupReserve(t *testing.T) {
	d := NewDedup(1000)
	defer d.Release()
	rng := rand.New(rand.NewPCG(3, 4))
	ids := make([]uint64, 5000)
	for i := range ids {
		ids[i] = rng.Uint64()
		if !d.Claim(ids[i], uint64(i), Pos{Line: i + 1}, 7) {
			t.Fatalf("id %d claimed twice", i)
		}
	}
	before := d.MemoryBytes()
	d.Reserve(200_000)
	grown := d.MemoryBytes()
	if grown <= before {
		t.Fatalf("Reserve(200000): %d bytes, was %d", grown, before)
	}
	for i, id := range ids {
		v, first, batch := d.Held(id, uint64(i))
		if v != Duplicate || first.Line != i+1 || batch != 7 {
			t.Fatalf("id %d after Reserve: %v at %+v batch %d", i, v, first, batch)
		}
	}
	d.Reserve(10)
	if got := d.MemoryBytes(); got != grown {
		t.Errorf("Reserve(10) on a larger set: %d bytes, was %d", got, grown)
	}
	if d.Len() != len(ids) {
		t.Errorf("Len %d, want %d", d.Len(), len(ids))
	}
}
