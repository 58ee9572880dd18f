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
// A Parser builds the key while it parses and interns it (addrIntern):
// Country, State, County, City and PostalCode are then substrings of the
// one interned key, so that a record of an address seen recently costs one
// hash of the key, one lookup and one compare against bytes stored in the
// table entry itself, and no copy; and two transactions of the same address
// share the same key string, so that a cache holding that string compares
// it with the next one by pointer, without reading the bytes.

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
// immutable string: it may be kept.
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

// addrIntern is a Parser's table of recent address keys: 2-way sets of
// 128-byte entries (two cache lines), each holding the key's hash, its
// ends, the interned string and, for keys of up to addrInline bytes (all
// but freak addresses), a copy of the key's bytes to compare against
// without following the string's pointer. It has a fixed size (2 MiB) and
// never grows: a new key pushes out the older of its set's two, whose
// string is then garbage once no transaction holds it.
type addrIntern struct {
	sets [addrSets][2]addrEntry
}

const (
	addrSetBits = 13
	addrSets    = 1 << addrSetBits
	addrInline  = 80
)

type addrEntry struct {
	hash   uint64
	key    string
	ends   AddrEnds
	_      uint32
	inline [addrInline]byte
}

// lookup returns the interned string of key (with ends and hash h),
// adding it when it is not there.
func (t *addrIntern) lookup(key []byte, ends AddrEnds, h uint64) string {
	set := &t.sets[h&(addrSets-1)]
	for i := range set {
		en := &set[i]
		if en.hash == h && en.ends.Equal(&ends) && en.holds(key) {
			return en.key
		}
	}
	// A miss: the newer entry becomes the older one.
	set[1] = set[0]
	en := &set[0]
	en.hash, en.ends, en.key = h, ends, string(key)
	if len(key) <= addrInline {
		copy(en.inline[:], key)
	}
	return en.key
}

// holds reports whether en is the entry of key (whose ends, and so whose
// length, already match en's).
func (en *addrEntry) holds(key []byte) bool {
	if len(key) <= addrInline {
		return string(en.inline[:len(key)]) == string(key)
	}
	return en.key == string(key)
}
