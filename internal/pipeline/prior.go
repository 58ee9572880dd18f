package pipeline

import "github.com/taxagg/taxagg/internal/txn"

// Prior is what earlier runs counted: a durable state. With a Prior, a
// record is first checked against this run's own records (a replay within
// the run is a duplicate or a conflict, as always) and, when it is new to
// the run, against the Prior.
//
// Prior's hashes are the parser's stable ones (txn.ParseOptions
// StableHashes must be set).
type Prior interface {
	// Known is called by the workers, concurrently, after a record is
	// parsed: it reports whether earlier runs counted this id with this
	// very content. Such a record can only end as a duplicate (or as a
	// conflict within the run), so it is not evaluated at all; this keeps
	// a run over inputs already counted cheaper than a first run.
	Known(idHash, contentHash uint64) bool
	// Settle is called by the sequencer, in input order, for every valid
	// record new to this run. PriorNew accepts it (a record earlier runs
	// did not count, or one that replaces what they counted, --amend);
	// PriorDuplicate skips it; PriorConflict rejects it with err as the
	// reason (field "id"), and the content earlier runs counted becomes
	// the one this run's later records of the id are compared with, as if
	// that first record had been read first in this run.
	Settle(it *Item) (v PriorVerdict, counted uint64, err error)
	// Rejected is called by the sequencer for a record about to be
	// rejected. It reports whether an earlier run rejected the very same
	// record (the same bytes): it then counts as a duplicate of that
	// rejection, so that a run over inputs already dealt with changes
	// nothing, its bad records included. Otherwise the Prior remembers it.
	Rejected(it *Item) bool
}

// RawText returns the record as read: a JSON record's text, or a CSV
// record's fields joined by NUL bytes; nil when the reader could not cut a
// record out (a cut-off file).
func (it *Item) RawText(buf []byte) []byte {
	if it.CSV != nil {
		buf = buf[:0]
		for i, f := range it.CSV {
			if i > 0 {
				buf = append(buf, 0)
			}
			buf = append(buf, f...)
		}
		return buf
	}
	return it.Text
}

// Known reports whether Prior.Known said, on the worker, that earlier runs
// counted this record as it is (it was then not evaluated).
func (it *Item) Known() bool { return it.known }

// PriorVerdict is Prior.Settle's answer.
type PriorVerdict uint8

const (
	PriorNew PriorVerdict = iota
	PriorDuplicate
	PriorConflict
)

// priorWork is one worker's view of the Prior and the shard filter.
type priorWork struct {
	prior         Prior
	shard, shards int
}

// skip reports whether a parsed record needs no evaluation: it belongs to
// another shard (marked so), or earlier runs counted it as it is.
func (pw *priorWork) skip(it *Item) bool {
	if pw.shards > 0 && txn.Shard(it.Tx.ID, pw.shards) != pw.shard {
		it.verdict = vOtherShard
		return true
	}
	if pw.prior != nil && pw.prior.Known(it.Tx.IDHash, it.Tx.ContentHash) {
		it.known = true
		return true
	}
	return false
}

// shardBad gives a bad record to exactly one shard: the shard of its id
// when the id could be read, else of its raw text, else shard 0, so that
// N shards over the same input report each bad record once.
func (pw *priorWork) shardBad(it *Item) {
	if pw.shards <= 0 {
		return
	}
	var s int
	switch {
	case it.Tx.ID != "":
		s = txn.Shard(it.Tx.ID, pw.shards)
	case it.Text != nil:
		s = int(txn.FNV1a64(string(it.Text)) % uint64(pw.shards))
	case it.CSV != nil:
		var h uint64
		for _, f := range it.CSV {
			h = h*31 + txn.FNV1a64(f)
		}
		s = int(h % uint64(pw.shards))
	}
	if s != pw.shard {
		it.verdict = vOtherShard
	}
}
