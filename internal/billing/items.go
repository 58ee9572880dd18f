package billing

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
)

// This file splits an input into items: JSON objects (from NDJSON, a JSON
// array, or list objects such as Stripe's {"object":"list","data":[...]} and
// Chargebee's {"list":[...]}) or CSV rows, each with its 1-based line.
//
// (The shared internal/stream package did not exist when this was written;
// this reader is small and keeps billing self-contained for `fetch`.)

// item is one raw record.
type item struct {
	json []byte   // a JSON object, or nil for a CSV row
	row  []string // a CSV row (valid until the next call)
	line int
}

type itemReader interface {
	next() (item, error)
	header() []string // CSV header, nil for JSON
}

// Input formats.
const (
	FormatAuto   = "auto"
	FormatJSON   = "json" // a JSON array, list objects, or one or more objects
	FormatNDJSON = "ndjson"
	FormatCSV    = "csv"
)

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// openItems detects gzip and the format and returns the item reader.
func openItems(r io.Reader, source, format string) (itemReader, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, &InputError{Source: source, Err: fmt.Errorf("gzip: %w", err)}
		}
		br = bufio.NewReaderSize(zr, 64<<10)
	}
	lc := &lineCounter{r: br}
	pr := bufio.NewReaderSize(lc, 64<<10)
	var base int64
	if b, _ := pr.Peek(3); bytes.Equal(b, utf8BOM) {
		pr.Discard(3)
		base = 3
	}
	if format == FormatAuto || format == "" {
		format = FormatCSV
		for n := 64; ; n *= 4 {
			b, err := pr.Peek(n)
			t := bytes.TrimLeft(b, " \t\r\n")
			if len(t) > 0 {
				if t[0] == '[' || t[0] == '{' {
					format = FormatJSON
				}
				break
			}
			if err != nil || n > 1<<20 {
				break
			}
		}
	}
	switch format {
	case FormatJSON, FormatNDJSON:
		j := &jsonItems{source: source, lc: lc, base: base, pr: pr}
		j.dec = json.NewDecoder(pr)
		if format == FormatNDJSON {
			j.mode = modeLines
		}
		return j, nil
	case FormatCSV:
		return newCSVItems(pr, source)
	}
	return nil, fmt.Errorf("unknown input format %q", format)
}

// lineCounter remembers where the newlines are in the bytes read through it,
// for the window that the decoder has read ahead, so that a byte offset can
// be turned into a line number without keeping the data.
type lineCounter struct {
	r       io.Reader
	off     int64
	nl      []int64 // offsets of newlines not yet passed
	dropped int     // newlines already passed
	last    int64
	// quiet: nobody will ask for lines (NDJSON counts them itself).
	quiet bool
}

func (c *lineCounter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if c.quiet {
		c.off += int64(n)
		return n, err
	}
	b := p[:n]
	base := c.off
	for {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			break
		}
		c.nl = append(c.nl, base+int64(i))
		base += int64(i) + 1
		b = b[i+1:]
	}
	c.off += int64(n)
	return n, err
}

// lineAt returns the 1-based line of byte offset off. Offsets must not go
// backwards between calls; one that does gets the last line returned.
func (c *lineCounter) lineAt(off int64) int {
	if off < c.last {
		off = c.last
	}
	c.last = off
	i := sort.Search(len(c.nl), func(i int) bool { return c.nl[i] >= off })
	if i > 0 {
		c.dropped += i
		c.nl = append(c.nl[:0], c.nl[i:]...)
	}
	return c.dropped + 1
}

type jsonMode uint8

const (
	modeUnknown jsonMode = iota
	modeRecords
	modeArray
	modeContainer
	modeLines // NDJSON
)

type jsonState uint8

const (
	stTop jsonState = iota
	stArray
	stContainer
	stData
)

type jsonItems struct {
	source string
	lc     *lineCounter
	base   int64
	pr     *bufio.Reader
	dec    *json.Decoder
	mode   jsonMode
	state  jsonState
	line   int    // lines read, in line mode
	long   []byte // a line longer than the buffer
}

func (j *jsonItems) header() []string { return nil }

func (j *jsonItems) errAt(err error) error {
	var se *json.SyntaxError
	line := 0
	if errors.As(err, &se) {
		line = j.lc.lineAt(j.base + se.Offset)
	} else {
		line = j.lc.lineAt(j.base + j.dec.InputOffset())
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		err = errors.New("unexpected end of JSON input")
	}
	return &InputError{Source: j.source, Line: line, Err: err}
}

func (j *jsonItems) detect() {
	j.mode = modeRecords
	for n := 4 << 10; ; n *= 4 {
		b, err := j.pr.Peek(n)
		t := bytes.TrimLeft(b, " \t\r\n")
		if len(t) == 0 {
			if err != nil {
				return
			}
			continue
		}
		if t[0] == '[' {
			j.mode = modeArray
			return
		}
		switch c, end := isContainer(t); c {
		case 1:
			j.mode = modeContainer
			return
		case 0:
			// One object per line is NDJSON: read it by lines.
			if bytes.IndexByte(t[:end], '\n') < 0 {
				j.mode = modeLines
			}
			return
		}
		if err != nil || n >= 1<<20 {
			return
		}
	}
}

// isContainer looks at the first JSON object in b: 1 when it has a "data" or
// "list" key whose value is an array (a list object), 0 when it ends
// without one (end is then the offset just past it), -1 when b ends first.
func isContainer(b []byte) (c, end int) {
	depth := 0
	for i := 0; i < len(b); i++ {
		switch c := b[i]; c {
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				return 0, i + 1
			}
		case '"':
			start := i + 1
			i++
			for i < len(b) && b[i] != '"' {
				if b[i] == '\\' {
					i++
				}
				i++
			}
			if i >= len(b) {
				return -1, 0
			}
			if depth != 1 {
				continue
			}
			key := string(b[start:i])
			k := i + 1
			for k < len(b) && (b[k] == ' ' || b[k] == '\t' || b[k] == '\r' || b[k] == '\n') {
				k++
			}
			if k >= len(b) {
				return -1, 0
			}
			if b[k] != ':' || (key != "data" && key != "list") {
				continue
			}
			k++
			for k < len(b) && (b[k] == ' ' || b[k] == '\t' || b[k] == '\r' || b[k] == '\n') {
				k++
			}
			if k >= len(b) {
				return -1, 0
			}
			if b[k] == '[' {
				return 1, 0
			}
		}
	}
	return -1, 0
}

func (j *jsonItems) delim(want json.Delim) error {
	t, err := j.dec.Token()
	if err != nil {
		return j.errAt(err)
	}
	if d, ok := t.(json.Delim); !ok || d != want {
		return j.errAt(fmt.Errorf("expected %q, found %v", want, t))
	}
	return nil
}

func (j *jsonItems) next() (item, error) {
	if j.mode == modeUnknown {
		j.detect()
	}
	if j.mode == modeLines {
		if !j.lc.quiet {
			j.lc.quiet, j.lc.nl = true, nil
		}
		return j.nextLine()
	}
	for {
		switch j.state {
		case stTop:
			if !j.dec.More() {
				// More is also false on a stray closing delimiter.
				if _, err := j.dec.Token(); err != io.EOF {
					if err == nil {
						err = errors.New("unexpected closing delimiter")
					}
					return item{}, j.errAt(err)
				}
				return item{}, io.EOF
			}
			switch j.mode {
			case modeRecords:
				return j.object()
			case modeArray:
				if err := j.delim('['); err != nil {
					return item{}, err
				}
				j.state = stArray
			case modeContainer:
				if err := j.delim('{'); err != nil {
					return item{}, err
				}
				j.state = stContainer
			}
		case stArray:
			if j.dec.More() {
				return j.object()
			}
			if err := j.delim(']'); err != nil {
				return item{}, err
			}
			j.state = stTop
		case stContainer:
			if !j.dec.More() {
				if err := j.delim('}'); err != nil {
					return item{}, err
				}
				j.state = stTop
				continue
			}
			t, err := j.dec.Token()
			if err != nil {
				return item{}, j.errAt(err)
			}
			if k, _ := t.(string); k == "data" || k == "list" {
				if err := j.delim('['); err != nil {
					return item{}, err
				}
				j.state = stData
				continue
			}
			var skip json.RawMessage
			if err := j.dec.Decode(&skip); err != nil {
				return item{}, j.errAt(err)
			}
		case stData:
			if j.dec.More() {
				return j.object()
			}
			if err := j.delim(']'); err != nil {
				return item{}, err
			}
			j.state = stContainer
		}
	}
}

func (j *jsonItems) object() (item, error) {
	var raw json.RawMessage
	if err := j.dec.Decode(&raw); err != nil {
		return item{}, j.errAt(err)
	}
	start := j.base + j.dec.InputOffset() - int64(len(raw))
	line := j.lc.lineAt(start)
	if len(raw) == 0 || raw[0] != '{' {
		return item{}, &InputError{Source: j.source, Line: line, Err: errors.New("record is not a JSON object")}
	}
	return item{json: raw, line: line}, nil
}

type csvItems struct {
	source string
	r      *csv.Reader
	head   []string
}

func newCSVItems(r io.Reader, source string) (*csvItems, error) {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	head, err := cr.Read()
	if err == io.EOF {
		return &csvItems{source: source, r: cr}, nil
	}
	if err != nil {
		return nil, csvErr(source, err)
	}
	return &csvItems{source: source, r: cr, head: append([]string(nil), head...)}, nil
}

func (c *csvItems) header() []string { return c.head }

func (c *csvItems) next() (item, error) {
	if c.head == nil {
		return item{}, io.EOF
	}
	row, err := c.r.Read()
	if err != nil {
		if err == io.EOF {
			return item{}, io.EOF
		}
		return item{}, csvErr(c.source, err)
	}
	line, _ := c.r.FieldPos(0)
	return item{row: row, line: line}, nil
}

func csvErr(source string, err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return &InputError{Source: source, Line: pe.Line, Err: pe.Err}
	}
	return &InputError{Source: source, Err: err}
}

// nextLine returns the next non-blank line as a record (NDJSON). The
// record's text is checked when it is decoded.
func (j *jsonItems) nextLine() (item, error) {
	for {
		b, err := j.pr.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			j.long = append(j.long[:0], b...)
			for err == bufio.ErrBufferFull {
				b, err = j.pr.ReadSlice('\n')
				j.long = append(j.long, b...)
			}
			b = j.long
		}
		if len(b) == 0 && err != nil {
			if err == io.EOF {
				return item{}, io.EOF
			}
			return item{}, &InputError{Source: j.source, Line: j.line + 1, Err: err}
		}
		j.line++
		t := bytes.TrimSpace(b)
		if len(t) == 0 {
			if err == io.EOF {
				return item{}, io.EOF
			}
			continue
		}
		if t[0] != '{' {
			return item{}, &InputError{Source: j.source, Line: j.line, Err: errors.New("record is not a JSON object")}
		}
		return item{json: t, line: j.line}, nil
	}
}
