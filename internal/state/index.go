package state

// idIndex maps an id's stable hash to where its current entry lives: open
// addressing with linear probing over one array sized once for the ids a
// state holds (at most half full), so that loading a million ids is a
// million stores and a lookup is usually one cache miss. The hash is
// already mixed (txn.StableIDHash): its low bits pick the slot.
type idIndex struct {
	slots []slot
	mask  uint64
	n     int
}

type slot struct {
	id uint64 // 0: empty (an id hashing to 0 is kept as 1)
	loc
}

func newIDIndex(hint int) *idIndex {
	c := 16
	for c < 2*hint {
		c <<= 1
	}
	return &idIndex{slots: make([]slot, c), mask: uint64(c - 1)}
}

// Len returns the number of ids.
func (x *idIndex) Len() int { return x.n }

func key0(id uint64) uint64 {
	if id == 0 {
		return 1
	}
	return id
}

// get returns the id's location.
func (x *idIndex) get(id uint64) (loc, bool) {
	id = key0(id)
	for i := id & x.mask; ; i = (i + 1) & x.mask {
		s := &x.slots[i]
		if s.id == id {
			return s.loc, true
		}
		if s.id == 0 {
			return loc{}, false
		}
	}
}

// put sets the id's location, replacing an earlier one.
func (x *idIndex) put(id uint64, l loc) {
	if 2*(x.n+1) > len(x.slots) {
		x.grow()
	}
	id = key0(id)
	for i := id & x.mask; ; i = (i + 1) & x.mask {
		s := &x.slots[i]
		if s.id == id {
			s.loc = l
			return
		}
		if s.id == 0 {
			*s = slot{id: id, loc: l}
			x.n++
			return
		}
	}
}

func (x *idIndex) grow() {
	old := x.slots
	*x = *newIDIndex(len(old))
	for i := range old {
		if old[i].id != 0 {
			x.put(old[i].id, old[i].loc)
		}
	}
}
