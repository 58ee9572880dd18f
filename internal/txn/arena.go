package txn

import "unsafe"

// Arena holds the strings of a batch of Transactions for as long as the
// batch is in use, so that the next batch can reuse the same few
// kilobytes instead of fresh memory. Parsing a record copied its id,
// customer and address into memory of its own that the garbage collector
// later took back; that copy into memory not yet in the cache was a tenth
// of aggregate's CPU time. See Parser.SetArena for what a Transaction's
// strings are then valid for.
type Arena struct {
	chunks [][]byte
	n      int // chunks[:n] are in use, chunks[n-1] the one being filled
}

// arenaBatchChunk is the size of an Arena's chunks: a batch of records
// rarely needs more than one.
const arenaBatchChunk = 16 << 10

// Reset empties a for reuse: every string it handed out is invalid from
// now on (their bytes will be overwritten).
func (a *Arena) Reset() {
	for i := range a.n {
		a.chunks[i] = a.chunks[i][:0]
	}
	a.n = 0
}

// copy returns b copied into a, as a string.
func (a *Arena) copy(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if a.n == 0 || cap(a.chunks[a.n-1])-len(a.chunks[a.n-1]) < len(b) {
		if a.n == len(a.chunks) {
			a.chunks = append(a.chunks, make([]byte, 0, max(arenaBatchChunk, len(b))))
		} else if cap(a.chunks[a.n]) < len(b) {
			a.chunks[a.n] = make([]byte, 0, len(b))
		}
		a.n++
	}
	c := &a.chunks[a.n-1]
	off := len(*c)
	*c = append(*c, b...)
	return unsafe.String(&(*c)[off], len(b))
}
