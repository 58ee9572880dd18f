package rules

import (
	"unsafe"

	"github.com/taxagg/taxagg/internal/prefetch"
	"github.com/taxagg/taxagg/internal/txn"
)

// Prefetch brings into the cache what evaluating each of txs will read
// first when its address is in the address cache: the cache's set, what
// the address matched and its key (compared byte by byte), its plan set
// and rate epoch, and that epoch's steps for the first line's product. It
// changes nothing and evaluates nothing, and returns how many of txs it
// found in the address cache. A caller with a batch of records prefetches
// them all before it evaluates any.
//
// It goes level by level over the whole batch: every record's cache set
// first, then (those now in cache) every record's match, and so on, each
// level's loads hitting what the level before asked for. So the misses of
// a level overlap across the batch, where one record's chain of misses
// would be one wait after another.
func (e *Evaluator) Prefetch(txs []*txn.Transaction) (found int) {
	if e.addrCache == nil {
		return 0
	}
	pf := e.pf[:0]
	for _, tx := range txs {
		if _, _, h, ok := tx.AddressKey(); ok {
			prefetch.Lines(uintptr(unsafe.Pointer(e.addrSlot(h))))
			pf = append(pf, pending{tx: tx, h: h})
		}
	}
	for i := range pf {
		slot := e.addrSlot(pf[i].h)
		for k := range slot {
			if m := slot[k].set; m != nil && slot[k].hash == pf[i].h {
				prefetch.Lines(uintptr(unsafe.Pointer(m)))
				pf[i].m = m
				found++
				break
			}
		}
	}
	for i := range pf {
		if m := pf[i].m; m != nil {
			prefetch.Lines(uintptr(unsafe.Pointer(unsafe.StringData(m.key))))
			if m.epoch != nil {
				prefetch.Lines(uintptr(unsafe.Pointer(m.epoch)))
			}
			if m.pset != nil {
				prefetch.Lines(uintptr(unsafe.Pointer(m.pset))) // for a record of another epoch
			}
		}
	}
	// The record's epoch, when it is the one its address used last or the
	// one its plan set did, and its first line's product's plan there.
	for i := range pf {
		m, tx := pf[i].m, pf[i].tx
		if m == nil || len(tx.Lines) == 0 {
			continue
		}
		ep := m.epoch
		if ep == nil || !ep.holds(tx.RateDay) {
			if ps := m.pset; ps != nil && ps.last != nil && ps.last.holds(tx.RateDay) {
				ep = ps.last
			} else {
				continue
			}
		}
		if id, ok := e.knownProductID(tx.Lines[0].Product); ok && id+1 < len(ep.byProduct) {
			pf[i].pp = &ep.byProduct[id+1]
			prefetch.Lines(uintptr(unsafe.Pointer(pf[i].pp)))
		}
	}
	for i := range pf {
		if pp := pf[i].pp; pp != nil {
			// Lines brings 128 bytes; a step is 40 (TestPlanStepSize).
			for k := 0; k < len(pp.steps); k += 3 {
				prefetch.Lines(uintptr(unsafe.Pointer(&pp.steps[k])))
			}
			if !e.compact { // grouping into lines reads them too (groupPlan); a stepLine is 64 bytes
				for k := 0; k < len(pp.lines); k += 2 {
					prefetch.Lines(uintptr(unsafe.Pointer(&pp.lines[k])))
				}
			}
		}
	}
	clear(pf) // no stale pointers kept
	e.pf = pf[:0]
	return found
}

// pending is one record of Prefetch's batch: its address hash and, as
// they are found, what its address matched and its product's plan.
type pending struct {
	tx *txn.Transaction
	h  uint64
	m  *matchSet
	pp *productPlan
}
