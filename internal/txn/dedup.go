package txn

import (
	"fmt"
	"math"
	"math/bits"
	"unsafe"
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

// Limits of what Dedup can remember.
const (
	MaxDedupSources = 1<<16 - 1
	MaxDedupLine    = 1<<48 - 1
	MaxDedupIDs     = 1<<32 - 2
)

// Dedup is the set of transaction ids seen in a run (docs/accounting.md). Per
// distinct id it keeps only a compact entry: the id's 64-bit hash, 32 bits
// of the content hash, and where the id was first seen; never the id
// itself.
//
// Memory: a 16-byte table entry plus 8 bytes for the position in a dense
// side array. The table is split into 256 segments, chosen by the top 8
// bits of the id hash, each open addressing over 4-entry, 64-byte buckets
// and each grown on its own by a quarter when 7/8 full, so its load stays
// between 0.7 and 0.875. The side array is a list of fixed 128 KiB blocks,
// never copied. Growing one segment holds its old and new buckets together
// for a moment, which is 1/256 of the table, so even at that moment the
// set holds 26 to 31 bytes per distinct id (about 28 on average) once it
// has more than a few hundred thousand ids; NewDedup with the expected
// count sizes the segments once. The large arrays live outside the Go
// heap where the system allows it (offheap.go), so they do not raise the
// garbage collector's heap goal; small ones, and all of them elsewhere,
// are Go heap.
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
// Check must be called in input order, so that "first seen" is the first
// in the input. Dedup is not safe for concurrent use.
type Dedup struct {
	segs [numSegs]segment
	n    int
	// table is the bytes held by all segments' buckets; peak is the most
	// MemoryBytes has been, counting the moments inside a growth when old
	// and new arrays are both live.
	table int
	peak  int
	pos   [][]uint64 // blocks of posBlock positions, indexed by ord
	// posOffHeap says which pos blocks are off the heap.
	posOffHeap []bool
}

// segment is one independently grown open-addressing table. Its bucket
// index comes from the id hash's bits below the segment bits.
type segment struct {
	buckets []bucket
	offHeap bool // buckets came from allocSlice off the heap
	n       int
	limit   int // grow when n reaches it
}

type entry struct {
	id      uint64 // 0: empty
	content uint32
	ord     uint32 // index into pos
}

type bucket [4]entry

const (
	segBits    = 8
	numSegs    = 1 << segBits
	posBlock   = 1 << 14
	bucketSz   = int(unsafe.Sizeof(bucket{}))
	sliceSz    = int(unsafe.Sizeof([]uint64(nil)))
	dedupSz    = int(unsafe.Sizeof(Dedup{}))
	posBlockSz = posBlock * 8
)

// NewDedup returns an empty set sized for about sizeHint distinct ids
// (0 for a small start).
func NewDedup(sizeHint int) *Dedup {
	d := &Dedup{}
	if sizeHint > 0 {
		// Room for the expected share of each segment plus three standard
		// deviations, so that few segments grow.
		m := float64(sizeHint) / numSegs
		want := int(m+3*math.Sqrt(m)) + 1
		nb := (want*8/7 + 3) / 4
		for i := range d.segs {
			d.resize(&d.segs[i], nb)
		}
	}
	d.peak = d.MemoryBytes()
	return d
}

// Len returns the number of distinct ids seen.
func (d *Dedup) Len() int { return d.n }

// MemoryBytes returns the memory the set holds: the Dedup itself, every
// segment's buckets, and the position blocks with their index.
func (d *Dedup) MemoryBytes() int {
	return dedupSz + d.table + len(d.pos)*posBlockSz + cap(d.pos)*sliceSz
}

// peakBytes returns the most memory the set has held at any moment,
// including the transient of a growth.
func (d *Dedup) peakBytes() int { return d.peak }

// Check records id as seen at where, if it is new, and says whether it was
// seen before; for Duplicate and Conflict, first is where it was first seen.
func (d *Dedup) Check(id string, contentHash uint64, where Pos) (v Verdict, first Pos) {
	return d.CheckHash(HashID(id), contentHash, where)
}

// CheckHash is Check with the id's hash (Transaction.IDHash) already
// computed, by the parser on a worker goroutine.
func (d *Dedup) CheckHash(idHash, contentHash uint64, where Pos) (v Verdict, first Pos) {
	if idHash == 0 {
		idHash = 1
	}
	c := uint32(contentHash ^ contentHash>>32)
	s := &d.segs[idHash>>(64-segBits)]
	for {
		nb := uint64(len(s.buckets))
		if nb == 0 {
			d.grow(s)
			continue
		}
		hi, _ := bits.Mul64(idHash<<segBits, nb)
		for i := hi; ; {
			b := &s.buckets[i]
			for k := range b {
				e := &b[k]
				if e.id == idHash {
					if e.content == c {
						return Duplicate, d.position(e.ord)
					}
					return Conflict, d.position(e.ord)
				}
				if e.id == 0 {
					if s.n >= s.limit {
						goto grow
					}
					*e = entry{id: idHash, content: c, ord: d.addPos(where)}
					s.n++
					d.n++
					return New, Pos{}
				}
			}
			if i++; i == nb {
				i = 0
			}
		}
	grow:
		d.grow(s)
	}
}

// SetContent replaces the content hash kept for an id already in the set,
// so that later records of the id are compared with another content: the
// content an earlier run counted (a durable state), when this run's first
// record of the id conflicted with it.
func (d *Dedup) SetContent(idHash, contentHash uint64) {
	if idHash == 0 {
		idHash = 1
	}
	s := &d.segs[idHash>>(64-segBits)]
	nb := uint64(len(s.buckets))
	if nb == 0 {
		return
	}
	hi, _ := bits.Mul64(idHash<<segBits, nb)
	for i := hi; ; {
		b := &s.buckets[i]
		for k := range b {
			e := &b[k]
			if e.id == idHash {
				e.content = uint32(contentHash ^ contentHash>>32)
				return
			}
			if e.id == 0 {
				return
			}
		}
		if i++; i == nb {
			i = 0
		}
	}
}

func (d *Dedup) addPos(p Pos) uint32 {
	if d.n >= MaxDedupIDs {
		panic("txn: Dedup: more than 2^32-2 distinct ids")
	}
	src, line := uint64(p.Source), uint64(p.Line)
	if p.Source < 0 || p.Source > MaxDedupSources {
		src = MaxDedupSources
	}
	if p.Line < 0 || p.Line > MaxDedupLine {
		line = MaxDedupLine
	}
	ord := d.n
	if ord/posBlock == len(d.pos) {
		d.addBlock()
	}
	d.pos[ord/posBlock][ord%posBlock] = src<<48 | line
	return uint32(ord)
}

// addBlock appends a position block. Only the small index of blocks is
// ever copied, never a block.
func (d *Dedup) addBlock() {
	oldCap := cap(d.pos)
	blk, off := allocSlice[uint64](posBlock)
	d.pos = append(d.pos, blk)
	d.posOffHeap = append(d.posOffHeap, off)
	if cap(d.pos) != oldCap {
		d.note(d.MemoryBytes() + oldCap*sliceSz)
	} else {
		d.note(d.MemoryBytes())
	}
}

func (d *Dedup) position(ord uint32) Pos {
	v := d.pos[ord/posBlock][ord%posBlock]
	return Pos{Source: int(v >> 48), Line: int(v & MaxDedupLine)}
}

func (d *Dedup) note(bytes int) { d.peak = max(d.peak, bytes) }

// grow enlarges one segment by a quarter (at least one bucket).
func (d *Dedup) grow(s *segment) {
	nb := len(s.buckets)
	d.resize(s, nb+max(nb/4, 1))
}

// resize rehashes one segment into nb buckets.
func (d *Dedup) resize(s *segment, nb int) {
	old, oldOffHeap := s.buckets, s.offHeap
	s.buckets, s.offHeap = allocSlice[bucket](nb)
	s.limit = nb * 4 * 7 / 8
	d.table += nb * bucketSz
	d.note(d.MemoryBytes())
	n := uint64(nb)
	for bi := range old {
		for _, e := range old[bi] {
			if e.id == 0 {
				continue
			}
			hi, _ := bits.Mul64(e.id<<segBits, n)
			for i := hi; ; {
				b := &s.buckets[i]
				placed := false
				for k := range b {
					if b[k].id == 0 {
						b[k] = e
						placed = true
						break
					}
				}
				if placed {
					break
				}
				if i++; i == n {
					i = 0
				}
			}
		}
	}
	d.table -= len(old) * bucketSz
	freeSlice(old, oldOffHeap)
}

// Release gives back the memory the set holds outside the Go heap. The set
// must not be used afterwards.
func (d *Dedup) Release() {
	for i := range d.segs {
		s := &d.segs[i]
		freeSlice(s.buckets, s.offHeap)
		*s = segment{}
	}
	for i, blk := range d.pos {
		freeSlice(blk, d.posOffHeap[i])
	}
	d.pos, d.posOffHeap = nil, nil
	d.n, d.table = 0, 0
}
