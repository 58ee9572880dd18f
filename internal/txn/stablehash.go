package txn

import "encoding/binary"

// FNV-1a 64-bit parameters.
const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

// FNV1a64 is the 64-bit FNV-1a hash of s: the hash --shard K/N takes of a
// transaction id's bytes (the shard is FNV1a64(id) mod N). It never
// changes: shards written by any version and any machine agree.
func FNV1a64(s string) uint64 {
	h := uint64(fnvOffset)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime
	}
	return h
}

// Shard returns the shard (0 to n-1) of a transaction id among n.
func Shard(id string, n int) int {
	return int(FNV1a64(id) % uint64(n))
}

// mix64 is the finalizer of MurmurHash3: it spreads every input bit over
// every output bit, which FNV-1a alone does not do for the top bits that
// Dedup's segments are chosen by.
func mix64(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

// StableIDHash is an id's hash that is the same in every process, for ids
// kept across runs: FNV-1a 64 of the id's bytes, mixed.
func StableIDHash(id string) uint64 { return mix64(FNV1a64(id)) }

// StableHash hashes b the same in every process: 8 bytes at a time with a
// multiply-and-rotate step, the length folded in, then mixed. It is the
// content hash of a transaction kept across runs.
func StableHash(b []byte) uint64 {
	h := uint64(fnvOffset) ^ uint64(len(b))*0x9e3779b97f4a7c15
	for len(b) >= 8 {
		k := binary.LittleEndian.Uint64(b)
		k *= 0x87c37b91114253d5
		k = k<<31 | k>>33
		k *= 0x4cf5ad432745937f
		h ^= k
		h = (h<<27 | h>>37) * 5
		h += 0x52dce729
		b = b[8:]
	}
	var t uint64
	for i := len(b) - 1; i >= 0; i-- {
		t = t<<8 | uint64(b[i])
	}
	t *= 0x87c37b91114253d5
	t = t<<31 | t>>33
	h ^= t * 0x4cf5ad432745937f
	return mix64(h)
}

// StableIDHashBytes is StableIDHash of an id held as bytes.
func StableIDHashBytes(id []byte) uint64 {
	h := uint64(fnvOffset)
	for _, c := range id {
		h ^= uint64(c)
		h *= fnvPrime
	}
	return mix64(h)
}
