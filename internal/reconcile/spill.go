package reconcile

import (
	"bufio"
	"container/heap"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Spilling: when the records outgrow the memory budget, both sides are
// written to partition files by a hash of their key, so that all records
// of one key land in one partition; each partition is then reconciled in
// memory (split again by another hash when it is still too big), its rows
// sorted and written to a run file; fuzzy leftovers go to a second set of
// partitions by customer + currency (the fuzzy buckets); finally the runs
// are merged into the ledger order. Temporary files live in one directory
// that Run removes on every exit path.

const (
	spillPartitions = 64 // first level
	splitFanout     = 16 // when a partition is still too big
	maxSplitDepth   = 3
	maxMergeFanIn   = 128
	// minSplitRecords: a partition with fewer records is not split again,
	// whatever the budget (splitting it would cost more than it saves).
	minSplitRecords = 4096
)

// recBytes estimates the memory a record takes while it is matched: the
// rec, its id and customer strings, its slot in the key index, and its
// share of a ledger row (measured: about 300 bytes a record at 1M x 1M).
func recBytes(r *rec) int64 {
	return 270 + int64(len(r.ID)+len(r.Customer)+len(r.Kind()))
	// key usually shares ID's bytes; when it does not, it is short.
}

// hashKey is FNV-1a of s mixed with a seed (splitmix64 finaliser).
func hashKey(s string, seed uint64) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	h ^= seed * 0x9E3779B97F4A7C15
	h ^= h >> 30
	h *= 0xBF58476D1CE4E5B9
	h ^= h >> 27
	h *= 0x94D049BB133111EB
	h ^= h >> 31
	return h
}

// spillDir owns the run's temporary files.
type spillDir struct {
	dir      string
	seq      int
	names    [2]string
	withRecs bool // rows in runs keep their input records
}

func newSpillDir(tmp string, names [2]string) (*spillDir, error) {
	dir, err := os.MkdirTemp(tmp, "taxagg-reconcile-*")
	if err != nil {
		return nil, fmt.Errorf("spill: %w", err)
	}
	return &spillDir{dir: dir, names: names}, nil
}

func (s *spillDir) remove() error { return os.RemoveAll(s.dir) }

// file is one spill file being written.
type file struct {
	path  string
	f     *os.File
	fw    frameWriter
	bytes int64 // estimated memory of the records written
}

func (s *spillDir) create(prefix string) (*file, error) {
	s.seq++
	path := filepath.Join(s.dir, fmt.Sprintf("%s-%06d", prefix, s.seq))
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("spill: %w", err)
	}
	fw := frameWriter{w: bufio.NewWriterSize(f, 8<<10)}
	fw.e.withRecs = s.withRecs
	return &file{path: path, f: f, fw: fw}, nil
}

func (f *file) close() error {
	if f.f == nil {
		return nil
	}
	err := f.fw.w.Flush()
	if cerr := f.f.Close(); err == nil {
		err = cerr
	}
	f.f = nil
	if err != nil {
		return fmt.Errorf("spill: %w", err)
	}
	return nil
}

// partitionSet is a set of partition files for both sides.
type partitionSet struct {
	files  [2][]*file
	seed   uint64
	byKey  bool // partition by key (else by customer + currency)
	dir    *spillDir
	prefix string
}

func (s *spillDir) newPartitions(n int, seed uint64, byKey bool, prefix string) (*partitionSet, error) {
	ps := &partitionSet{seed: seed, byKey: byKey, dir: s, prefix: prefix}
	for side := 0; side < 2; side++ {
		// Files are created on first use: most splits leave many empty.
		ps.files[side] = make([]*file, n)
	}
	return ps, nil
}

// path returns the file of a partition, "" when nothing was written to it.
func (ps *partitionSet) path(side, i int) string {
	if f := ps.files[side][i]; f != nil {
		return f.path
	}
	return ""
}

// bytes returns the estimated memory and the record count of partition i,
// both sides.
func (ps *partitionSet) bytes(i int) (est, count int64) {
	for side := 0; side < 2; side++ {
		if f := ps.files[side][i]; f != nil {
			est += f.bytes
			count += f.fw.n
		}
	}
	return est, count
}

func (ps *partitionSet) add(r *rec) error {
	var h uint64
	if ps.byKey {
		h = hashKey(r.key(), ps.seed)
	} else {
		h = hashKey(r.Currency()+"\x00"+r.Customer, ps.seed)
	}
	i := h % uint64(len(ps.files[r.side]))
	f := ps.files[r.side][i]
	if f == nil {
		var err error
		if f, err = ps.dir.create(fmt.Sprintf("%s-%c%d", ps.prefix, 'a'+r.side, i)); err != nil {
			return err
		}
		ps.files[r.side][i] = f
	}
	f.bytes += recBytes(r)
	if err := f.fw.writeRec(r); err != nil {
		return fmt.Errorf("spill: %w", err)
	}
	return nil
}

func (ps *partitionSet) close() error {
	var first error
	for _, fs := range ps.files {
		for _, f := range fs {
			if f == nil {
				continue
			}
			if err := f.close(); err != nil && first == nil {
				first = err
			}
		}
	}
	return first
}

// readRecs reads all records of a spill file and removes it; an empty
// path is an empty file.
func (s *spillDir) readRecs(ctx context.Context, path string, each func(*rec) error) error {
	if path == "" {
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("spill: %w", err)
	}
	defer f.Close()
	fr := frameReader{r: bufio.NewReaderSize(f, 16<<10), d: decoder{names: s.names}}
	for n := 0; ; n++ {
		if n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		r, err := fr.readRec()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if err := each(r); err != nil {
			return err
		}
	}
	f.Close()
	return os.Remove(path)
}

// writeRun writes sorted rows to a new run file and returns its path.
func (s *spillDir) writeRun(rows []*Row) (string, error) {
	f, err := s.create("run")
	if err != nil {
		return "", err
	}
	for _, r := range rows {
		if err := f.fw.writeRow(r); err != nil {
			f.close()
			return "", fmt.Errorf("spill: %w", err)
		}
	}
	return f.path, f.close()
}

// runReader is one sorted run being merged.
type runReader struct {
	f   *os.File
	fr  frameReader
	cur *Row
}

type runHeap []*runReader

func (h runHeap) Len() int           { return len(h) }
func (h runHeap) Less(i, j int) bool { return rowCmp(h[i].cur, h[j].cur) < 0 }
func (h runHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *runHeap) Push(x any)        { *h = append(*h, x.(*runReader)) }
func (h *runHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// merge emits the rows of sorted runs in ledger order, merging in passes of
// at most maxMergeFanIn files.
func (s *spillDir) merge(ctx context.Context, runs []string, emit func(*Row) error) error {
	for len(runs) > maxMergeFanIn {
		var next []string
		for i := 0; i < len(runs); i += maxMergeFanIn {
			group := runs[i:min(i+maxMergeFanIn, len(runs))]
			out, err := s.create("run")
			if err != nil {
				return err
			}
			err = s.mergeOnce(ctx, group, func(r *Row) error { return out.fw.writeRow(r) })
			if cerr := out.close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
			next = append(next, out.path)
		}
		runs = next
	}
	return s.mergeOnce(ctx, runs, emit)
}

func (s *spillDir) mergeOnce(ctx context.Context, runs []string, emit func(*Row) error) (err error) {
	h := make(runHeap, 0, len(runs))
	defer func() {
		for _, rr := range h {
			rr.f.Close()
		}
	}()
	for _, p := range runs {
		f, err := os.Open(p)
		if err != nil {
			return fmt.Errorf("spill: %w", err)
		}
		rr := &runReader{f: f, fr: frameReader{r: bufio.NewReaderSize(f, 32<<10), d: decoder{names: s.names}}}
		rr.cur, err = rr.fr.readRow()
		if err == io.EOF {
			f.Close()
			continue
		}
		if err != nil {
			f.Close()
			return err
		}
		h = append(h, rr)
	}
	heap.Init(&h)
	for n := 0; h.Len() > 0; n++ {
		if n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		top := h[0]
		if err := emit(top.cur); err != nil {
			return err
		}
		top.cur, err = top.fr.readRow()
		switch {
		case errors.Is(err, io.EOF):
			top.f.Close()
			heap.Pop(&h)
		case err != nil:
			return err
		default:
			heap.Fix(&h, 0)
		}
	}
	for _, p := range runs {
		os.Remove(p)
	}
	return nil
}
