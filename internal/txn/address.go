package txn

import (
	"hash/maphash"
	"unsafe"
)

// The address key: a transaction's five address fields (country, state,
// county, city, postal code) as given, end to end in one string, with where
// each field ends. The rule engine's address cache looks an address up by
// it: one hash and one compare instead of five of each.
//
// A Parser builds the key while it parses, hashes it, and keeps it in its
// arena (one copy): Country, State, County, City and PostalCode are then
// substrings of that one string. The Parser kept a table of recent keys
// too, so that records of one address shared one string and the engine
// could compare keys by pointer; the table's lookup was a cache miss per
// record, dearer than the compare it saved once the engine prefetches the
// cached key it compares with (rules.Evaluator.Prefetch), so it went.

// AddrEnds says where each of the five address fields ends in an address
// key (offsets after country, state, county, city, postal code).
type AddrEnds [5]uint32

// Equal reports whether e and o are the same ends, field by field (an
// array == would call memequal).
func (e *AddrEnds) Equal(o *AddrEnds) bool {
	return e[0] == o[0] && e[1] == o[1] && e[2] == o[2] && e[3] == o[3] && e[4] == o[4]
}

// AppendAddressKey appends the five address fields end to end to dst and
// says where each ends: the address key of a transaction that a Parser did
// not make (AddressKey's ok false).
func AppendAddressKey(dst []byte, country, state, county, city, postal string) ([]byte, AddrEnds) {
	var ends AddrEnds
	dst = append(dst, country...)
	ends[0] = uint32(len(dst))
	dst = append(dst, state...)
	ends[1] = uint32(len(dst))
	dst = append(dst, county...)
	ends[2] = uint32(len(dst))
	dst = append(dst, city...)
	ends[3] = uint32(len(dst))
	dst = append(dst, postal...)
	ends[4] = uint32(len(dst))
	return dst, ends
}

// AddressHash hashes an address key and its field ends (so that "ab"+"c"
// and "a"+"bc" differ). It is seeded per process, like HashID.
func AddressHash(key []byte, ends AddrEnds) uint64 {
	h := maphash.Bytes(hashSeed, key)
	split := uint64(ends[0]) | uint64(ends[1])<<12 | uint64(ends[2])<<24 | uint64(ends[3])<<36 | uint64(ends[4])<<48
	return h ^ split*0x9e3779b97f4a7c15
}

// AddressKey returns tx's address key (see AppendAddressKey), where each
// field ends, and AddressHash of both, as the Parser made them. ok is false
// for a Transaction that a Parser did not make, or whose address fields
// were changed since: the caller then builds the key itself. The key is an
// immutable string, but it lives in the Parser's arena: a cache that keeps
// it keeps a whole arena chunk alive, so it keeps a clone instead.
func (tx *Transaction) AddressKey() (key string, ends AddrEnds, hash uint64, ok bool) {
	k := tx.addrKey
	if k == "" {
		return "", AddrEnds{}, 0, false
	}
	e := &tx.addrEnds
	// The fields must still be the key's own substrings: a caller that
	// assigned one (tests, importers) gets the slow path, not a stale key.
	if !isSub(tx.Country, k, 0, e[0]) || !isSub(tx.State, k, e[0], e[1]) || !isSub(tx.County, k, e[1], e[2]) ||
		!isSub(tx.City, k, e[2], e[3]) || !isSub(tx.PostalCode, k, e[3], e[4]) || int(e[4]) != len(k) {
		return "", AddrEnds{}, 0, false
	}
	return k, *e, tx.addrHash, true
}

// isSub reports whether s is key[from:to], the very bytes (an empty s is
// any empty substring).
func isSub(s, key string, from, to uint32) bool {
	if uint32(len(s)) != to-from {
		return false
	}
	return len(s) == 0 || unsafe.StringData(s) == (*byte)(unsafe.Add(unsafe.Pointer(unsafe.StringData(key)), from))
}

// setAddress sets tx's address fields as substrings of key.
func (tx *Transaction) setAddress(key string, ends AddrEnds, hash uint64) {
	tx.addrKey, tx.addrEnds, tx.addrHash = key, ends, hash
	tx.Country = key[:ends[0]]
	tx.State = key[ends[0]:ends[1]]
	tx.County = key[ends[1]:ends[2]]
	tx.City = key[ends[2]:ends[3]]
	tx.PostalCode = key[ends[3]:ends[4]]
}
