package stream

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"unsafe"
)

// DefaultMaxRecordBytes is the longest record accepted by default.
const DefaultMaxRecordBytes = 64 << 20

// chunkSize is the size of the buffers the input is read into.
const chunkSize = 512 << 10

// Options tune a Reader. The zero value gives the defaults.
type Options struct {
	// MaxRecordBytes is the longest record (its raw text) accepted; 0 means
	// DefaultMaxRecordBytes. A longer record is an error naming its line,
	// and the reader's memory never grows past about this size.
	MaxRecordBytes int

	bufSize int // tests: the buffer size (default chunkSize)
}

// Record is one raw input record.
type Record struct {
	Source string
	// Line is the 1-based line where the record starts (in CSV the header
	// is line 1).
	Line int
	// Text is the raw record: one JSON object, or the CSV row's text
	// without its line end. From Next it is valid until the next call; from
	// ReadBatch until the batch is passed to ReadBatch again.
	Text []byte
	// CSV holds a CSV row's fields (nil for JSON); Reader.Header names
	// them. From Next the strings are ordinary immutable strings and the
	// slice is reused like Text; from ReadBatch the strings too live in
	// the batch's memory, valid until the batch is passed to ReadBatch
	// again (a batch's fields were a fresh string of ~10 KB that the
	// garbage collector took back a moment later).
	CSV []string
	// Err, when set, says this record is bad at the reader's level (a CSV
	// row with the wrong number of fields or a stray quote, a JSON array
	// element that is not an object, a record longer than the limit). It
	// is a *Error naming the line. The reader has moved past the record and
	// the next one can be read. Text holds what could be kept of it (nil
	// for a record that was too long).
	Err error
}

// chunk is a buffer of input. Batches hold references to the chunks their
// records point into; a chunk is recycled when no batch holds it and the
// reader has moved on. Only the reader's goroutine touches refs.
type chunk struct {
	data []byte
	refs int
}

// Reader reads raw records from one input. It is not safe for concurrent
// use, except BytesRead.
type Reader struct {
	name   string
	format Format
	max    int
	src    io.Reader
	count  atomic.Int64
	// compressed: the input is gzip, so its size says little of its
	// records.
	compressed bool

	cur    *chunk
	r, w   int // unread input is cur.data[r:w]
	line   int // line number of cur.data[r]
	eof    bool
	rerr   error // read error other than io.EOF, reported once the buffer is drained
	err    error // sticky fatal error (or io.EOF once reported)
	free   []*chunk
	maxBuf int
	csize  int // size of the buffers recycled

	// NDJSON: cur.data[r:r+scan] holds no '\n'.
	scan int

	js jsonState

	// queue holds the elements of a list container still to be returned
	// (queued of them returned so far).
	queue  []rawRec
	queued int

	header []string
	// csvCells are the fields of the current row (parseRow): an unquoted
	// one where it is in cur.data, a quoted one unescaped into csvBuf.
	csvCells []cellSpan
	csvBuf   []byte
	// csvRowB and csvEnds hold the row's fields one after another, and
	// where each ends, for Next and the header.
	csvRowB []byte
	csvEnds []int
	csvRow  []string
}

// cellSpan is where a field of the current CSV row is: cur.data[off:end],
// or csvBuf[off:end] when inBuf.
type cellSpan struct {
	off, end int
	inBuf    bool
}

// appendCells appends the current row's fields to dst one after another,
// and where each ends in dst to ends.
func (r *Reader) appendCells(dst []byte, ends []int) ([]byte, []int) {
	data := r.cur.data
	for _, c := range r.csvCells {
		if c.inBuf {
			dst = append(dst, r.csvBuf[c.off:c.end]...)
		} else {
			dst = append(dst, data[c.off:c.end]...)
		}
		ends = append(ends, len(dst))
	}
	return dst, ends
}

type countReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// Open prepares to read records from r. name is used in errors ("" and "-"
// print as "stdin") and, with FormatAuto, to pick the format by extension
// (.ndjson/.jsonl, .json, .csv; a trailing .gz ignored); when the name says
// nothing, the first non-blank byte decides: '[' JSON array, '{' NDJSON,
// anything else CSV. gzip input is recognised by its magic bytes (1f 8b),
// whatever the name, and decompressed on the fly (concatenated members
// included).
//
// Open reads the start of the input; for CSV it reads the header, and an
// invalid header is an error.
func Open(name string, r io.Reader, f Format, opt Options) (*Reader, error) {
	if name == "" || name == "-" {
		name = "stdin"
	}
	rd := &Reader{name: name, format: f, max: opt.MaxRecordBytes, line: 1}
	if rd.max <= 0 {
		rd.max = DefaultMaxRecordBytes
	}
	rd.maxBuf = rd.max + 4096
	br := bufio.NewReaderSize(countReader{r, &rd.count}, 64<<10)
	rd.src = br
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		gz, err := gzip.NewReader(br)
		if err != nil {
			return nil, &Error{Source: name, Line: 1, Err: fmt.Errorf("gzip: %w", err)}
		}
		rd.src = gz
		rd.compressed = true
	}
	rd.csize = chunkSize
	if opt.bufSize > 0 {
		rd.csize = opt.bufSize
	}
	rd.csize = min(rd.csize, rd.maxBuf)
	rd.cur = &chunk{data: make([]byte, rd.csize)}

	// Byte order mark.
	for rd.w-rd.r < 3 && rd.fill() {
	}
	if bytes.HasPrefix(rd.cur.data[rd.r:rd.w], []byte{0xef, 0xbb, 0xbf}) {
		rd.r += 3
	}
	guessed := rd.format == FormatAuto
	if rd.format == FormatAuto {
		rd.format = formatByName(name)
	}
	if rd.format == FormatAuto {
		c, ok := rd.firstByte()
		rd.format = FormatNDJSON
		if ok {
			rd.format = formatByContent(c)
		}
	}
	if guessed && rd.format == FormatNDJSON {
		// Pretty-printed objects (an API's list page saved as it came)
		// are read as a sequence of JSON objects, whatever the name says.
		if c, ok := rd.firstByte(); ok && c == '{' && rd.spansLines() {
			rd.format = FormatJSON
		}
	}
	if rd.rerr != nil && rd.r == rd.w {
		return nil, rd.readError()
	}
	if rd.format == FormatCSV {
		if err := rd.readHeader(); err != nil {
			return nil, err
		}
	}
	return rd, nil
}

// firstByte returns the first non-blank byte, skipping (and counting) whole
// blank lines as it goes; the blanks of a partial line stay unread.
func (r *Reader) firstByte() (byte, bool) {
	// blanks counts the bytes from r.r on already seen to be blanks of a
	// partial line, so that each fill scans only what it read (a long
	// run of blanks is not rescanned from its start on every read).
	blanks := 0
	for {
		for i := r.r + blanks; i < r.w; i++ {
			switch c := r.cur.data[i]; c {
			case ' ', '\t', '\r':
			case '\n':
				r.line++
				r.r = i + 1
			default:
				return c, true
			}
		}
		blanks = r.w - r.r
		if !r.fill() {
			return 0, false
		}
		if r.w-r.r == blanks {
			// fill read nothing: the buffer is full of blanks as long as
			// the longest record. Detection stops here; the record
			// reader reports the line as too long.
			return 0, false
		}
	}
}

// spansLines reports whether the first line, which starts with '{', does
// not end with '}': the first object is pretty-printed over several lines,
// so the input is read as a sequence of JSON objects rather than NDJSON.
func (r *Reader) spansLines() bool {
	for {
		if i := bytes.IndexByte(r.cur.data[r.r:r.w], '\n'); i >= 0 {
			line := bytes.TrimRight(r.cur.data[r.r:r.r+i], " \t\r")
			return len(line) == 0 || line[len(line)-1] != '}'
		}
		if r.w-r.r >= 1<<20 || !r.fill() {
			return false
		}
	}
}

// Format returns the format being read (decided by then for FormatAuto).
func (r *Reader) Format() Format { return r.format }

// Header returns the CSV header (nil for JSON formats or an empty input).
func (r *Reader) Header() []string { return r.header }

// BytesRead returns the number of bytes consumed from the underlying reader
// so far (compressed bytes for gzip input), for progress reports. It is
// safe to call from any goroutine.
func (r *Reader) BytesRead() int64 { return r.count.Load() }

// Compressed reports whether the input is gzip.
func (r *Reader) Compressed() bool { return r.compressed }

// Source returns the name printed in errors.
func (r *Reader) Source() string { return r.name }

func (r *Reader) errorf(line int, format string, args ...any) *Error {
	return &Error{Source: r.name, Line: line, Err: fmt.Errorf(format, args...)}
}

func (r *Reader) readError() error {
	return &Error{Source: r.name, Line: r.line, Err: fmt.Errorf("read: %w", r.rerr)}
}

// getChunk returns a chunk of at least n bytes.
func (r *Reader) getChunk(n int) *chunk {
	for i := len(r.free) - 1; i >= 0; i-- {
		if c := r.free[i]; len(c.data) >= n {
			r.free[i] = r.free[len(r.free)-1]
			r.free = r.free[:len(r.free)-1]
			return c
		}
	}
	return &chunk{data: make([]byte, max(n, r.csize))}
}

func (r *Reader) putChunk(c *chunk) {
	if len(c.data) == r.csize && len(r.free) < 16 {
		r.free = append(r.free, c)
	}
}

// fill reads more input after cur.data[w:], keeping cur.data[r:w] (moving
// it to the start of the buffer, or to a new buffer when a batch still
// points into this one or it is too small). It returns false when nothing
// more can be read (end of input, or a read error kept in rerr).
func (r *Reader) fill() bool {
	if r.eof {
		return false
	}
	c := r.cur
	if r.w == len(c.data) || (r.r > 0 && c.refs == 0 && r.r >= len(c.data)/2) {
		unread := r.w - r.r
		size := len(c.data)
		if unread*2 > size {
			size = min(size*2, max(r.maxBuf, size))
		}
		if c.refs == 0 && size == len(c.data) {
			copy(c.data, c.data[r.r:r.w])
		} else {
			nc := r.getChunk(size)
			copy(nc.data, c.data[r.r:r.w])
			if c.refs == 0 {
				r.putChunk(c)
			}
			r.cur = nc
		}
		r.r, r.w = 0, unread
		if r.w == len(r.cur.data) {
			return true // full: the caller sees the record is too long
		}
	}
	for tries := 0; tries < 100; tries++ {
		n, err := r.src.Read(r.cur.data[r.w:])
		r.w += n
		if err != nil {
			r.eof = true
			if err != io.EOF {
				r.rerr = err
			}
			return n > 0
		}
		if n > 0 {
			return true
		}
	}
	r.eof = true
	r.rerr = io.ErrNoProgress
	return false
}

// rawRec is a record located in cur.data.
type rawRec struct {
	start, end int
	line       int
	err        error // a record-level error (Record.Err)
	csv        bool
}

// next finds the next record. A non-nil error is io.EOF or fatal.
func (r *Reader) next() (rawRec, error) {
	for {
		if r.queued < len(r.queue) {
			r.queued++
			return r.queue[r.queued-1], nil
		}
		if r.err != nil {
			return rawRec{}, r.err
		}
		var rec rawRec
		var err error
		switch r.format {
		case FormatJSON:
			rec, err = r.nextJSON()
		case FormatCSV:
			rec, err = r.nextCSV()
		default:
			rec, err = r.nextNDJSON()
		}
		if err != nil {
			r.err = err
			return rec, err
		}
		if rec.csv || rec.err != nil || !r.expandContainer(rec) {
			return rec, nil
		}
	}
}

// Next returns the next record, or io.EOF at the end. Any other error is
// fatal (a read error, a cut-off JSON array, junk after it, an unterminated
// CSV quote): it is a *Error naming the line, and Next keeps returning it.
// A bad record the reader can step over comes back with a nil error and
// Record.Err set.
func (r *Reader) Next() (Record, error) {
	rec, err := r.next()
	if err != nil {
		return Record{}, err
	}
	out := Record{Source: r.name, Line: rec.line, Err: rec.err}
	if rec.start < rec.end || rec.err == nil {
		out.Text = r.cur.data[rec.start:rec.end:rec.end]
	}
	if rec.csv {
		r.csvRowB, r.csvEnds = r.appendCells(r.csvRowB[:0], r.csvEnds[:0])
		s := string(r.csvRowB)
		if r.csvRow == nil {
			r.csvRow = make([]string, 0, 16)
		}
		r.csvRow = r.csvRow[:0]
		prev := 0
		for _, e := range r.csvEnds {
			r.csvRow = append(r.csvRow, s[prev:e])
			prev = e
		}
		out.CSV = r.csvRow
	}
	return out, nil
}

// Batch is a reusable set of records filled by ReadBatch. Its records'
// Text and CSV point into buffers the batch holds, so a batch can be handed
// to another goroutine while the reader fills the next one. The records
// stay valid until the batch is passed to ReadBatch again; a batch must not
// be used by two goroutines at once.
type Batch struct {
	Records []Record

	chunks []*chunk
	owner  *Reader
	// cells are the CSV fields of all records: an unquoted one is the
	// bytes of the record's text (in chunks), a quoted one its unescaped
	// bytes in cellB, set once cellB has stopped growing (quoted).
	cells  []string
	cellB  []byte
	quoted []quotedCell
	spans  [][2]int // per record: its range in cells
}

// quotedCell is a field of cells whose bytes are cellB[off:end].
type quotedCell struct{ cell, off, end int }

// Len returns the number of records in the batch.
func (b *Batch) Len() int { return len(b.Records) }

func (r *Reader) release(b *Batch) {
	for i, c := range b.chunks {
		c.refs--
		if c.refs == 0 && c != r.cur && b.owner == r {
			r.putChunk(c)
		}
		b.chunks[i] = nil
	}
	b.chunks = b.chunks[:0]
	clear(b.Records)
	b.Records = b.Records[:0]
}

// ReadBatch empties b and fills it with up to max records (1024 when max
// <= 0). It returns a non-nil error only when b is left empty: io.EOF at
// the end of the input, or the fatal error Next would return. Records with
// Record.Err set are in the batch in their place.
func (r *Reader) ReadBatch(b *Batch, max int) error {
	if b.owner != nil {
		b.owner.release(b)
	}
	b.owner = r
	if max <= 0 {
		max = 1024
	}
	csvMode := r.format == FormatCSV
	if csvMode {
		if b.cells == nil {
			b.cells = make([]string, 0, 64) // a bad row may have no fields; CSV stays non-nil
		}
		b.cells, b.cellB, b.quoted, b.spans = b.cells[:0], b.cellB[:0], b.quoted[:0], b.spans[:0]
	}
	for len(b.Records) < max {
		rec, err := r.next()
		if err != nil {
			if len(b.Records) == 0 {
				return err
			}
			break
		}
		c := r.cur
		if n := len(b.chunks); n == 0 || b.chunks[n-1] != c {
			b.chunks = append(b.chunks, c)
			c.refs++
		}
		out := Record{Source: r.name, Line: rec.line, Err: rec.err}
		if rec.start < rec.end || rec.err == nil {
			out.Text = c.data[rec.start:rec.end:rec.end]
		}
		if rec.csv {
			lo := len(b.cells)
			for _, cs := range r.csvCells {
				if cs.inBuf {
					off := len(b.cellB)
					b.cellB = append(b.cellB, r.csvBuf[cs.off:cs.end]...)
					b.quoted = append(b.quoted, quotedCell{len(b.cells), off, len(b.cellB)})
					b.cells = append(b.cells, "")
				} else {
					// The chunk's bytes, which the batch holds (chunks):
					// no copy.
					b.cells = append(b.cells, bytesString(c.data[cs.off:cs.end]))
				}
			}
			b.spans = append(b.spans, [2]int{lo, len(b.cells)})
		}
		b.Records = append(b.Records, out)
	}
	if csvMode && len(b.spans) > 0 {
		for _, q := range b.quoted {
			b.cells[q.cell] = bytesString(b.cellB[q.off:q.end])
		}
		for i, sp := range b.spans { // every CSV record has a span
			b.Records[i].CSV = b.cells[sp[0]:sp[1]:sp[1]]
		}
	}
	return nil
}

// bytesString is b as a string without a copy: b must not change while
// the string is in use (a batch's memory, until the batch is read into
// again: Record.CSV).
func bytesString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

var errTooLong = errors.New("record too long")

func (r *Reader) tooLong(line int) *Error {
	return &Error{Source: r.name, Line: line, Err: fmt.Errorf("%w: longer than %d bytes", errTooLong, r.max)}
}
