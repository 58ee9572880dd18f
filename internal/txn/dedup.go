package txn

import (
	"fmt"
	"math/bits"
)

// Verdict is what Dedup says of a record.
type Verdict uint8

const (
	// New: the id was not seen before.
	New Verdict = iota
	// Duplicate: the id was seen with the same content; skip the record
	// (replays are idempotent, SPEC §3.2).
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

// Dedup is the set of transaction ids seen in a run (SPEC §3.2). Per
// distinct id it keeps only a compact entry: the id's 64-bit hash, 32 bits
// of the content hash, and where the id was first seen; never the id
// itself.
//
// Memory: a 16-byte table entry (open addressing over a flat slice of
// 4-entry, 64-byte buckets, grown by half when 7/8 full) plus 8 bytes for
// the position in a dense side array: 26 to 36 bytes per distinct id,
// about 30 on average; NewDedup with the expected count sizes the table once.
//
// Hash collisions: two different ids with the same 64-bit hash are taken
// for the same id. The second is then reported as a conflicting duplicate
// (loud) or, if 32 bits of their content hashes also agree, counted as a
// duplicate. With n distinct ids the chance of any id collision in a run is
// about n²/2^65: 3·10⁻⁸ for a million ids, 3·10⁻⁶ for ten million. A
// record with a known id but different content is taken for a duplicate
// only if 32 bits of the two content hashes agree: 2^-32 per such record.
// Hashes are seeded per process (hash/maphash), so a collision is not
// reproducible from run to run.
//
// Check must be called in input order, so that "first seen" is the first
// in the input. Dedup is not safe for concurrent use.
type Dedup struct {
	buckets []bucket
	n       int
	limit   int // grow when n reaches it
	pos     [][]uint64
}

type entry struct {
	id      uint64 // 0: empty
	content uint32
	ord     uint32 // index into pos
}

type bucket [4]entry

const posBlock = 1 << 14

// NewDedup returns an empty set sized for about sizeHint distinct ids
// (0 for a small start).
func NewDedup(sizeHint int) *Dedup {
	d := &Dedup{}
	d.resize(max(sizeHint*8/7+4, 64) / 4)
	return d
}

// Len returns the number of distinct ids seen.
func (d *Dedup) Len() int { return d.n }

// MemoryBytes returns the memory the set holds.
func (d *Dedup) MemoryBytes() int {
	return len(d.buckets)*64 + len(d.pos)*posBlock*8 + cap(d.pos)*24
}

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
	if d.buckets == nil {
		d.resize(16)
	}
	c := uint32(contentHash ^ contentHash>>32)
	nb := uint64(len(d.buckets))
	hi, _ := bits.Mul64(idHash, nb)
	for i := hi; ; {
		b := &d.buckets[i]
		for k := range b {
			e := &b[k]
			if e.id == idHash {
				if e.content == c {
					return Duplicate, d.position(e.ord)
				}
				return Conflict, d.position(e.ord)
			}
			if e.id == 0 {
				if d.n >= d.limit {
					d.grow()
					return d.CheckHash(idHash, contentHash, where)
				}
				*e = entry{id: idHash, content: c, ord: d.addPos(where)}
				d.n++
				return New, Pos{}
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
		d.pos = append(d.pos, make([]uint64, posBlock))
	}
	d.pos[ord/posBlock][ord%posBlock] = src<<48 | line
	return uint32(ord)
}

func (d *Dedup) position(ord uint32) Pos {
	v := d.pos[ord/posBlock][ord%posBlock]
	return Pos{Source: int(v >> 48), Line: int(v & MaxDedupLine)}
}

func (d *Dedup) resize(nb int) {
	old := d.buckets
	d.buckets = make([]bucket, nb)
	d.limit = nb * 4 * 7 / 8
	n := uint64(nb)
	for bi := range old {
		for _, e := range old[bi] {
			if e.id == 0 {
				continue
			}
			hi, _ := bits.Mul64(e.id, n)
			for i := hi; ; {
				b := &d.buckets[i]
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
}

func (d *Dedup) grow() { d.resize(len(d.buckets) + len(d.buckets)/2) }
