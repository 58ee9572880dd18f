package fetch

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
)

// Record is one fetched API object with the keys it is ordered by.
type Record struct {
	Resource string          `json:"resource"`
	ID       string          `json:"id"`
	Created  int64           `json:"created"`
	Object   json.RawMessage `json:"object"`
}

// Cursor is where the fetch of one resource stands: the cursor of the next
// page to ask for, or Done.
type Cursor struct {
	Next    string `json:"next,omitempty"`
	Done    bool   `json:"done,omitempty"`
	Pages   int    `json:"pages"`
	Records int    `json:"records"`
}

// Plan names a fetch: a checkpoint is resumed only by a fetch with the same
// plan.
type Plan struct {
	Provider  string   `json:"provider"`
	Site      string   `json:"site,omitempty"`
	Resources []string `json:"resources"` // sorted
	From      *int64   `json:"created_from,omitempty"`
	To        *int64   `json:"created_to,omitempty"`
}

func (p Plan) equal(q Plan) bool {
	a, _ := json.Marshal(p)
	b, _ := json.Marshal(q)
	return bytes.Equal(a, b)
}

// Store keeps the pages fetched so far and each resource's cursor. Commit is
// called concurrently by the workers, once per page, and must record the
// page's records and the cursor after it together or not at all, so that a
// fetch interrupted at any point resumes without gaps or duplicates.
type Store interface {
	// Open returns the cursors saved for plan (none for a fresh store).
	Open(plan Plan) (map[string]Cursor, error)
	// Commit records a page of resource and the cursor that follows it.
	Commit(resource string, page []Record, next Cursor) error
	// Records returns every record stored for resource, in the order they
	// were committed.
	Records(resource string) ([]Record, error)
}

// MemoryStore is a Store that lives as long as the process: the default when
// there is no checkpoint.
type MemoryStore struct {
	mu      sync.Mutex
	cursors map[string]Cursor
	records map[string][]Record
}

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{cursors: map[string]Cursor{}, records: map[string][]Record{}}
}

// Open returns the cursors committed so far.
func (s *MemoryStore) Open(Plan) (map[string]Cursor, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]Cursor, len(s.cursors))
	for k, v := range s.cursors {
		out[k] = v
	}
	return out, nil
}

// Commit stores a page and its cursor.
func (s *MemoryStore) Commit(resource string, page []Record, next Cursor) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.records[resource] = append(s.records[resource], page...)
	s.cursors[resource] = next
	return nil
}

// Records returns the records of resource.
func (s *MemoryStore) Records(resource string) ([]Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.records[resource]), nil
}

// FileStore is the --checkpoint store. It keeps two files: PATH, the state
// (plan, cursor per resource, and the length of the records file they
// account for), replaced atomically (temp file, fsync, rename) after each
// page; and PATH.records, the records themselves, appended and fsynced
// before the state that covers them is written. On Open the records file is
// cut back to the length the state names, which drops a page that was
// written but whose cursor was not: that page is fetched again.
type FileStore struct {
	path string

	mu    sync.Mutex
	spool *os.File
	state fileState
}

type fileState struct {
	Version   int               `json:"version"`
	Plan      Plan              `json:"plan"`
	Cursors   map[string]Cursor `json:"cursors"`
	SpoolSize int64             `json:"records_bytes"`
}

const fileStateVersion = 1

// NewFileStore returns a FileStore at path; nothing is read or written until
// Open.
func NewFileStore(path string) *FileStore { return &FileStore{path: path} }

// RecordsPath returns the name of the records file kept beside the
// checkpoint.
func (s *FileStore) RecordsPath() string { return s.path + ".records" }

// Open reads the checkpoint, if there is one, and checks that it was written
// for plan.
func (s *FileStore) Open(plan Plan) (map[string]Cursor, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.spool != nil {
		return nil, fmt.Errorf("checkpoint %s: already open", s.path)
	}
	st := fileState{Version: fileStateVersion, Plan: plan, Cursors: map[string]Cursor{}}
	data, err := os.ReadFile(s.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("checkpoint: %w", err)
	default:
		st = fileState{}
		if err := json.Unmarshal(data, &st); err != nil {
			return nil, fmt.Errorf("checkpoint %s: %w", s.path, err)
		}
		if st.Version != fileStateVersion {
			return nil, fmt.Errorf("checkpoint %s: version %d, want %d", s.path, st.Version, fileStateVersion)
		}
		if !st.Plan.equal(plan) {
			return nil, fmt.Errorf("checkpoint %s: %w (it has %s, this run is %s); remove it to start afresh",
				s.path, ErrCheckpointMismatch, describePlan(st.Plan), describePlan(plan))
		}
		if st.Cursors == nil {
			st.Cursors = map[string]Cursor{}
		}
	}
	// The records file is truncated to what the checkpoint accounts for:
	// never through a symbolic link (its target could be any file), and
	// never anything but a regular file.
	if fi, err := os.Lstat(s.RecordsPath()); err == nil && !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("checkpoint: records file %s is not a regular file (%s): refusing to use it", s.RecordsPath(), describeMode(fi.Mode()))
	}
	f, err := os.OpenFile(s.RecordsPath(), os.O_RDWR|os.O_CREATE|oNoFollow, 0o600)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("checkpoint: records file %s is not a regular file (%s): refusing to use it", s.RecordsPath(), describeMode(fi.Mode()))
	}
	if fi.Size() < st.SpoolSize {
		f.Close()
		return nil, fmt.Errorf("checkpoint %s: records file holds %d bytes, the checkpoint accounts for %d: it was changed or lost",
			s.path, fi.Size(), st.SpoolSize)
	}
	if err := f.Truncate(st.SpoolSize); err != nil {
		f.Close()
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	s.spool = f
	s.state = st
	if err := s.writeStateLocked(); err != nil {
		return nil, err
	}
	out := make(map[string]Cursor, len(st.Cursors))
	for k, v := range st.Cursors {
		out[k] = v
	}
	return out, nil
}

// Commit appends the page to the records file, syncs it, then records the
// cursor.
func (s *FileStore) Commit(resource string, page []Record, next Cursor) error {
	var buf bytes.Buffer
	for _, r := range page {
		line, err := json.Marshal(r)
		if err != nil {
			return fmt.Errorf("checkpoint: %w", err)
		}
		buf.Write(line)
		buf.WriteByte('\n')
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.spool == nil {
		return fmt.Errorf("checkpoint %s: not open", s.path)
	}
	if buf.Len() > 0 {
		if _, err := s.spool.WriteAt(buf.Bytes(), s.state.SpoolSize); err != nil {
			return fmt.Errorf("checkpoint: %w", err)
		}
		if err := s.spool.Sync(); err != nil {
			return fmt.Errorf("checkpoint: %w", err)
		}
	}
	prevSize := s.state.SpoolSize
	prevCur, had := s.state.Cursors[resource]
	s.state.SpoolSize += int64(buf.Len())
	s.state.Cursors[resource] = next
	if err := s.writeStateLocked(); err != nil {
		s.state.SpoolSize = prevSize
		if had {
			s.state.Cursors[resource] = prevCur
		} else {
			delete(s.state.Cursors, resource)
		}
		return err
	}
	return nil
}

// Records reads back the records of resource.
func (s *FileStore) Records(resource string) ([]Record, error) {
	s.mu.Lock()
	f, size := s.spool, s.state.SpoolSize
	s.mu.Unlock()
	if f == nil {
		return nil, fmt.Errorf("checkpoint %s: not open", s.path)
	}
	return readRecords(io.NewSectionReader(f, 0, size), resource, s.RecordsPath())
}

// Close closes the records file.
func (s *FileStore) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.spool == nil {
		return nil
	}
	err := s.spool.Close()
	s.spool = nil
	return err
}

func (s *FileStore) writeStateLocked() error {
	data, err := json.MarshalIndent(s.state, "", "  ")
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	data = append(data, '\n')
	if err := writeFileAtomic(s.path, data); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	return nil
}

// writeFileAtomic replaces path with data: a temp file in the same folder,
// synced, renamed over path, and the folder synced.
func writeFileAtomic(path string, data []byte) error {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return err
	}
	name := tmp.Name()
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		os.Remove(name)
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		os.Remove(name)
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(name)
		return err
	}
	if err := os.Rename(name, path); err != nil {
		os.Remove(name)
		return err
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync() // best effort: not every file system syncs folders
		d.Close()
	}
	return nil
}

func readRecords(r io.Reader, resource, source string) ([]Record, error) {
	br := bufio.NewReaderSize(r, 1<<20)
	var out []Record
	for line := 1; ; line++ {
		b, err := br.ReadBytes('\n')
		if len(bytes.TrimSpace(b)) > 0 {
			var rec Record
			if uerr := json.Unmarshal(b, &rec); uerr != nil {
				return nil, fmt.Errorf("%s:%d: %w", source, line, uerr)
			}
			if rec.Resource == resource {
				out = append(out, rec)
			}
		}
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", source, err)
		}
	}
}

func describePlan(p Plan) string {
	s := p.Provider
	if p.Site != "" {
		s += " site " + p.Site
	}
	s += fmt.Sprintf(" resources %v", p.Resources)
	if p.From != nil {
		s += fmt.Sprintf(" from %d", *p.From)
	}
	if p.To != nil {
		s += fmt.Sprintf(" to %d", *p.To)
	}
	return s
}

// describeMode names the kind of a file that is not a regular one.
func describeMode(m os.FileMode) string {
	switch {
	case m&os.ModeSymlink != 0:
		return "a symbolic link"
	case m.IsDir():
		return "a directory"
	case m&os.ModeNamedPipe != 0:
		return "a named pipe"
	case m&os.ModeDevice != 0:
		return "a device"
	}
	return m.Type().String()
}
