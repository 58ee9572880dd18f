package txn

import (
	"strconv"
	"testing"
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
