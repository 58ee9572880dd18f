package txn

import (
	"fmt"
	"math"
	"math/bits"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/taxagg/taxagg/internal/prefetch"
)

// Verdict is what Dedup says of a record.
type Verdict uint8

const (
	// New: the id was not seen before.
	New Verdict = iota
	// Duplicate: the id was seen with the same content; skip the record
	// (replays are idempotent, docs/accounting.md).
	Duplicate
	// Conflict: the id was seen with different content; the record is bad
	// input ("conflicting duplicate of line N").
	Conflict
)

func (v Verdict) String() string {
	switch v {
	case New:
		return "new"
	case Duplicate:
		return "duplicate"
	case Conflict:
		return "conflict"
	}
	return fmt.Sprintf("Verdict(%d)", uint8(v))
}

// Pos is where a record was read: the index of its source (the input file
// in the order given) and its line.
type Pos struct {
	Source int
	Line   int
}

// Limits of what Dedup can remember: a position beyond them is kept as
// the limit (only a message's file and line can then be off).
const (
	MaxDedupSources = 1<<16 - 1
	MaxDedupLine    = 1<<48 - 1
)

// Dedup is the set of transaction ids seen in a run (docs/accounting.md). Per
// distinct id it keeps only a compact entry: the id's 64-bit hash, 32 bits
// of the content hash, where the id was first seen, and the number of the
// batch that record came in (Claim); never the id itself.
//
// Memory: a 24-byte slot per entry. The table is split into 256 segments,
// chosen by the top 8 bits of the id hash, each open addressing over
// 4-slot buckets (the four id hashes first, in one cache line, then the
// contents and batches, then the positions) and each grown on its own by an
// eighth when 7/8 full, so its load stays between 0.77 and 0.875. Growing
// one segment holds its old and new buckets together for a moment, which is
// 1/256 of the table, so even at that moment the set holds 27 to 32 bytes
// per distinct id (about 30 on average) once it has more than a few hundred
// thousand ids; NewDedup with the expected count sizes the segments once.
// The large arrays live outside the Go heap where the system allows it
// (offheap.go), so they do not raise the garbage collector's heap goal,
// and on Linux on huge pages (offheap_linux.go), so that a probe seldom
// misses the TLB; small ones, and all of them elsewhere, are Go heap.
//
// Hash collisions: two different ids with the same 64-bit hash are taken
// for the same id. The content hash covers the id itself, so their 32-bit
// content hashes almost always differ and the second is reported as a
// conflicting duplicate: loud, never a silent skip. Only if those 32 bits
// also agree is it counted as a duplicate. With n distinct ids the chance
// of any id collision in a run is about n²/2^65 (3·10⁻⁸ for a million ids,
// 3·10⁻⁶ for ten million), of a silent one about n²/2^97. A record with a
// known id but different content is taken for a duplicate only if 32 bits
// of the two content hashes agree: 2^-32 per such record. A replay is never
// taken for a new record. Hashes are seeded per process (hash/maphash), so
// a collision is not reproducible from run to run. TestDedupCollisions
// pins these outcomes.
//
// Concurrency: Claim, Held, Take and SetContent are safe for concurrent
// use (each segment has its own lock), so that the pipeline's workers probe
// the set in parallel and only the rare records whose id is already held
// are settled in input order (pipeline.settle). Check and CheckHash are the
// serial form, for callers that see the records in input order: "first
// seen" is then the first in the input.
type Dedup struct {
	segs [numSegs]segment
	mu   sync.Mutex // guards table and peak
	// table is the bytes held by all segments' buckets; peak is the most
	// MemoryBytes has been, counting the moments inside a growth when old
	// and new arrays are both live.
	table int
	peak  int
}

// segment is one independently grown open-addressing table. Its bucket
// index comes from the id hash's bits below the segment bits. It fills two
// cache lines, so that two workers locking neighbouring segments do not
// write to the same one.
type segment struct {
	mu      sync.Mutex
	buckets []bucket
	offHeap bool // buckets came from allocSlice off the heap
	n       int
	limit   int // grow when n reaches it
	// at is where buckets starts (at[0]) and how many there are (at[1]),
	// for Prefetch, which reads them without the lock.
	at [2]atomic.Uintptr
	_  [128 - 72]byte
}

// bucket holds four entries, by field: the probe reads only id, which is
// one half cache line.
type bucket struct {
	id   [4]uint64 // 0: empty
	meta [4]uint64 // content<<32 | batch
	pos  [4]uint64 // source<<48 | line
}

const (
	segBits  = 8
	numSegs  = 1 << segBits
	bucketSz = int(unsafe.Sizeof(bucket{}))
	dedupSz  = int(unsafe.Sizeof(Dedup{}))
)

// NewDedup returns an empty set sized for about sizeHint distinct ids
// (0 for a small start).
func NewDedup(sizeHint int) *Dedup {
	d := &Dedup{}
	if sizeHint > 0 {
		nb := segmentBuckets(sizeHint)
		for i := range d.segs {
			d.resize(&d.segs[i], nb)
		}
	}
	d.peak = d.MemoryBytes()
	return d
}

// segmentBuckets is how many buckets a segment needs for its share of n
// distinct ids: the expected share plus three standard deviations, so
// that few segments grow.
func segmentBuckets(n int) int {
	m := float64(n) / numSegs
	want := int(m+3*math.Sqrt(m)) + 1
	return (want*8/7 + 3) / 4
}

// Reserve makes room for about n distinct ids at once, when the set was
// sized for fewer: one rehash of each segment now instead of the many
// small growths (an eighth each) it would otherwise go through. It is
// for a caller whose estimate improves once records arrive, and is safe
// alongside Claim.
func (d *Dedup) Reserve(n int) {
	nb := segmentBuckets(n)
	for i := range d.segs {
		s := &d.segs[i]
		s.mu.Lock()
		if nb > len(s.buckets) {
			d.resize(s, nb)
		}
		s.mu.Unlock()
	}
}

// Len returns the number of distinct ids seen.
func (d *Dedup) Len() int {
	n := 0
	for i := range d.segs {
		s := &d.segs[i]
		s.mu.Lock()
		n += s.n
		s.mu.Unlock()
	}
	return n
}

// MemoryBytes returns the memory the set holds: the Dedup itself and every
// segment's buckets.
func (d *Dedup) MemoryBytes() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return dedupSz + d.table
}

// peakBytes returns the most memory the set has held at any moment,
// including the transient of a growth.
func (d *Dedup) peakBytes() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.peak
}

// Check records id as seen at where, if it is new, and says whether it was
// seen before; for Duplicate and Conflict, first is where it was first seen.
// Records must be checked in input order.
func (d *Dedup) Check(id string, contentHash uint64, where Pos) (v Verdict, first Pos) {
	return d.CheckHash(HashID(id), contentHash, where)
}

// CheckHash is Check with the id's hash (Transaction.IDHash) already
// computed, by the parser on a worker goroutine.
func (d *Dedup) CheckHash(idHash, contentHash uint64, where Pos) (v Verdict, first Pos) {
	if d.Claim(idHash, contentHash, where, 0) {
		return New, Pos{}
	}
	v, first, _ = d.Held(idHash, contentHash)
	return v, first
}

// Claim records id as seen at where, in batch batch, if no record holds it
// yet, and reports whether this call did. When records are claimed in
// parallel, the record that holds an id is the first to claim it, which
// need not be the first in the input: the caller settles a false result
// with Held and, when the holder comes later in the input, Take.
func (d *Dedup) Claim(idHash, contentHash uint64, where Pos, batch uint32) bool {
	idHash = nonZero(idHash)
	meta := uint64(fold(contentHash))<<32 | uint64(batch)
	s := &d.segs[idHash>>(64-segBits)]
	s.mu.Lock()
	for {
		if len(s.buckets) == 0 {
			d.grow(s)
			continue
		}
		b, k, found := s.find(idHash)
		if found {
			s.mu.Unlock()
			return false
		}
		if s.n >= s.limit {
			d.grow(s)
			continue
		}
		b.id[k], b.meta[k], b.pos[k] = idHash, meta, packPos(where)
		s.n++
		s.mu.Unlock()
		return true
	}
}

// Prefetch starts bringing the bucket where idHash is looked up into the
// processor's cache, without waiting for it: a caller with many ids to
// claim prefetches them all first, so that their cache misses overlap
// instead of coming one after the other. It takes no lock; a bucket that
// moved since is only a wasted prefetch.
func (d *Dedup) Prefetch(idHash uint64) {
	idHash = nonZero(idHash)
	s := &d.segs[idHash>>(64-segBits)]
	base, nb := s.at[0].Load(), s.at[1].Load()
	if nb == 0 {
		return
	}
	hi, _ := bits.Mul64(idHash<<segBits, uint64(nb))
	prefetch.Lines(base + uintptr(hi)*uintptr(bucketSz))
}

// Held says how a record of id and contentHash stands against the record
// that holds id: New when none does, else Duplicate (same content) or
// Conflict, with the holder's position and batch.
func (d *Dedup) Held(idHash, contentHash uint64) (v Verdict, first Pos, batch uint32) {
	idHash = nonZero(idHash)
	s := &d.segs[idHash>>(64-segBits)]
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.buckets) == 0 {
		return New, Pos{}, 0
	}
	b, k, found := s.find(idHash)
	if !found {
		return New, Pos{}, 0
	}
	meta, p := b.meta[k], b.pos[k]
	first = Pos{Source: int(p >> 48), Line: int(p & MaxDedupLine)}
	if uint32(meta>>32) == fold(contentHash) {
		return Duplicate, first, uint32(meta)
	}
	return Conflict, first, uint32(meta)
}

// Take makes the record at where, in batch batch, the holder of an id
// already held: the record that claimed it first came later in the input.
func (d *Dedup) Take(idHash, contentHash uint64, where Pos, batch uint32) {
	d.update(idHash, func(b *bucket, k int) {
		b.meta[k] = uint64(fold(contentHash))<<32 | uint64(batch)
		b.pos[k] = packPos(where)
	})
}

// SetContent replaces the content hash kept for an id already in the set,
// so that later records of the id are compared with another content: the
// content an earlier run counted (a durable state), when this run's first
// record of the id conflicted with it.
func (d *Dedup) SetContent(idHash, contentHash uint64) {
	d.update(idHash, func(b *bucket, k int) {
		b.meta[k] = uint64(fold(contentHash))<<32 | b.meta[k]&0xffff_ffff
	})
}

// update runs f on the entry of an id already in the set (nothing if the
// id is not in it).
func (d *Dedup) update(idHash uint64, f func(b *bucket, k int)) {
	idHash = nonZero(idHash)
	s := &d.segs[idHash>>(64-segBits)]
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.buckets) == 0 {
		return
	}
	if b, k, found := s.find(idHash); found {
		f(b, k)
	}
}

// find returns the slot of idHash in s (found) or the empty slot where it
// goes. s has at least one bucket and one empty slot (its load is below
// 7/8).
func (s *segment) find(idHash uint64) (b *bucket, k int, found bool) {
	nb := uint64(len(s.buckets))
	hi, _ := bits.Mul64(idHash<<segBits, nb)
	for i := hi; ; {
		b := &s.buckets[i]
		for k, id := range b.id {
			if id == idHash {
				return b, k, true
			}
			if id == 0 {
				return b, k, false
			}
		}
		if i++; i == nb {
			i = 0
		}
	}
}

// nonZero keeps 0 free for an empty slot.
func nonZero(idHash uint64) uint64 {
	if idHash == 0 {
		return 1
	}
	return idHash
}

// fold is the 32 bits of a content hash the set keeps.
func fold(h uint64) uint32 { return uint32(h ^ h>>32) }

func packPos(p Pos) uint64 {
	src, line := uint64(p.Source), uint64(p.Line)
	if p.Source < 0 || p.Source > MaxDedupSources {
		src = MaxDedupSources
	}
	if p.Line < 0 || p.Line > MaxDedupLine {
		line = MaxDedupLine
	}
	return src<<48 | line
}

// grow enlarges one segment by an eighth (at least one bucket). The
// caller holds s.mu.
func (d *Dedup) grow(s *segment) {
	nb := len(s.buckets)
	d.resize(s, nb+max(nb/8, 1))
}

// resize rehashes one segment into nb buckets. The caller holds s.mu (or
// is alone with the set).
func (d *Dedup) resize(s *segment, nb int) {
	old, oldOffHeap := s.buckets, s.offHeap
	s.buckets, s.offHeap = allocSlice[bucket](nb)
	s.limit = nb * 4 * 7 / 8
	s.at[0].Store(uintptr(unsafe.Pointer(&s.buckets[0])))
	s.at[1].Store(uintptr(nb))
	d.mu.Lock()
	d.table += nb * bucketSz
	d.peak = max(d.peak, dedupSz+d.table)
	d.mu.Unlock()
	// An empty segment has nothing to move, and reading its buckets would
	// fault in every page of a table never touched: a Reserve right after
	// NewDedup (pipeline.Run sizes the set twice, from the input's size,
	// then from its first records) cost aggregate of a million records
	// 4% of its CPU time that way.
	if s.n > 0 {
		for bi := range old {
			ob := &old[bi]
			for k, id := range ob.id {
				if id == 0 {
					continue
				}
				b, j, _ := s.find(id)
				b.id[j], b.meta[j], b.pos[j] = id, ob.meta[k], ob.pos[k]
			}
		}
	}
	d.mu.Lock()
	d.table -= len(old) * bucketSz
	d.mu.Unlock()
	freeSlice(old, oldOffHeap)
}

// Release gives back the memory the set holds outside the Go heap. The set
// must not be used afterwards.
func (d *Dedup) Release() {
	for i := range d.segs {
		s := &d.segs[i]
		freeSlice(s.buckets, s.offHeap)
		s.buckets, s.offHeap, s.n, s.limit = nil, false, 0, 0
		s.at[0].Store(0)
		s.at[1].Store(0)
	}
	d.mu.Lock()
	d.table = 0
	d.mu.Unlock()
}
