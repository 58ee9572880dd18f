package stream

import (
	"bytes"
	"io"
	"strconv"
	"strings"
)

// csvStop marks the bytes that end an unquoted field or need a look.
var csvStop = func() (t [256]bool) {
	t[','] = true
	t['\n'] = true
	t['"'] = true
	return t
}()

type rowStatus int

const (
	rowOK      rowStatus = iota
	rowMore              // the row does not end in the buffered input
	rowBad               // a syntax error; the row is skipped to its line end
	rowUnended           // end of input inside a quoted field
)

// parseRow parses the row at r.r into csvCells (and csvBuf for its quoted
// fields). It returns the end of the row's text (without line end), where
// the next row starts, the number of line ends inside the row, and for
// rowBad the reason.
func (r *Reader) parseRow(atEOF bool) (textEnd, next, nl int, st rowStatus, reason string) {
	data := r.cur.data[:r.w]
	r.csvBuf = r.csvBuf[:0]
	r.csvCells = r.csvCells[:0]
	p := r.r
	for {
		// One field.
		if p < len(data) && data[p] == '"' {
			p++
			from := len(r.csvBuf)
			for {
				q := bytes.IndexByte(data[p:], '"')
				if q < 0 {
					if atEOF {
						return 0, 0, 0, rowUnended, ""
					}
					return 0, 0, 0, rowMore, ""
				}
				seg := data[p : p+q]
				nl += bytes.Count(seg, newline)
				r.csvBuf = append(r.csvBuf, seg...)
				p += q + 1
				if p < len(data) && data[p] == '"' {
					r.csvBuf = append(r.csvBuf, '"')
					p++
					continue
				}
				break
			}
			if p == len(data) && !atEOF {
				return 0, 0, 0, rowMore, "" // a "" escape may follow
			}
			r.csvCells = append(r.csvCells, cellSpan{from, len(r.csvBuf), true})
			switch {
			case p == len(data):
				return p, p, nl, rowOK, ""
			case data[p] == ',':
				p++
				continue
			case data[p] == '\n':
				return p, p + 1, nl, rowOK, ""
			case data[p] == '\r' && p+1 < len(data) && data[p+1] == '\n':
				return p, p + 2, nl, rowOK, ""
			case data[p] == '\r' && p+1 == len(data):
				if !atEOF {
					return 0, 0, 0, rowMore, ""
				}
				return p, p + 1, nl, rowOK, ""
			}
			return r.skipBad(p, nl, atEOF, "extraneous character after a closing quote")
		}
		start := p
		for p < len(data) && !csvStop[data[p]] {
			p++
		}
		if p < len(data) && data[p] == '"' {
			return r.skipBad(p, nl, atEOF, `bare " in a field that does not start with a quote`)
		}
		if p == len(data) && !atEOF {
			return 0, 0, 0, rowMore, ""
		}
		end := p
		if p == len(data) || data[p] == '\n' {
			if end > start && data[end-1] == '\r' {
				end--
			}
		}
		r.csvCells = append(r.csvCells, cellSpan{start, end, false})
		if p == len(data) {
			return end, p, nl, rowOK, ""
		}
		if data[p] == '\n' {
			return end, p + 1, nl, rowOK, ""
		}
		p++ // ','
	}
}

var newline = []byte{'\n'}

// skipBad reports a syntax error at p and finds the end of its line.
func (r *Reader) skipBad(p, nl int, atEOF bool, reason string) (int, int, int, rowStatus, string) {
	data := r.cur.data[:r.w]
	i := bytes.IndexByte(data[p:], '\n')
	if i < 0 {
		if !atEOF {
			return 0, 0, 0, rowMore, ""
		}
		end := len(data)
		if end > r.r && data[end-1] == '\r' {
			end--
		}
		return end, len(data), nl, rowBad, reason
	}
	end := p + i
	if end > r.r && data[end-1] == '\r' {
		end--
	}
	return end, p + i + 1, nl, rowBad, reason
}

// row reads the next non-empty row.
func (r *Reader) row() (rawRec, error) {
	for {
		// Empty lines are skipped.
		for {
			data := r.cur.data
			if r.r < r.w && data[r.r] == '\n' {
				r.r++
				r.line++
				continue
			}
			if r.r+1 < r.w && data[r.r] == '\r' && data[r.r+1] == '\n' {
				r.r += 2
				r.line++
				continue
			}
			if r.w-r.r < 2 && !r.eof {
				if r.fill() {
					continue
				}
				if r.rerr != nil {
					return rawRec{}, r.readError()
				}
			}
			break
		}
		if r.r == r.w || (r.w-r.r == 1 && r.cur.data[r.r] == '\r') {
			if !r.fill() {
				if r.rerr != nil {
					return rawRec{}, r.readError()
				}
				r.r = r.w
				return rawRec{}, io.EOF
			}
			continue
		}
		textEnd, next, nl, st, reason := r.parseRow(r.eof)
		switch st {
		case rowMore:
			if r.w-r.r > r.max {
				return rawRec{}, r.tooLong(r.line)
			}
			// Read until the buffered input has doubled, so that a long row
			// is parsed again only a few times.
			// fill makes no progress once the buffer is at its largest and
			// full (unread > max): stop there, and the check above reports it.
			want := 2 * (r.w - r.r)
			for r.w-r.r < want && r.w-r.r <= r.max && r.fill() {
			}
			if r.rerr != nil {
				return rawRec{}, r.readError()
			}
			continue
		case rowUnended:
			return rawRec{}, r.errorf(r.line, "unexpected end of input in a quoted field (a missing closing quote?)")
		}
		if textEnd-r.r > r.max {
			return rawRec{}, r.tooLong(r.line)
		}
		rec := rawRec{start: r.r, end: textEnd, line: r.line, csv: true}
		if st == rowBad {
			rec.err = r.errorf(r.line, "%s", reason)
			// Count the line ends of the skipped text.
			nl = bytes.Count(r.cur.data[r.r:textEnd], newline)
		}
		r.r = next
		r.line += nl + 1
		return rec, nil
	}
}

func (r *Reader) readHeader() error {
	rec, err := r.row()
	if err == io.EOF {
		return nil
	}
	if err != nil {
		r.err = err
		return err
	}
	if rec.err != nil {
		r.err = rec.err
		return rec.err
	}
	if loneCR(r.cur.data[rec.start:rec.end]) {
		// Lines ended by CR alone (old Mac exports) would read as one
		// header line and no records at all: refuse the file instead.
		r.err = r.errorf(rec.line, "a carriage return not followed by a line feed in the header: lines that end with CR alone are not read; convert them to LF or CRLF line ends")
		return r.err
	}
	r.csvRowB, r.csvEnds = r.appendCells(r.csvRowB[:0], r.csvEnds[:0])
	s := string(r.csvRowB)
	prev := 0
	seen := make(map[string]bool, len(r.csvEnds))
	for _, e := range r.csvEnds {
		name := strings.TrimSpace(s[prev:e])
		prev = e
		if seen[name] && name != "" {
			r.err = r.errorf(rec.line, "duplicate column %s in the header", strconv.Quote(name))
			return r.err
		}
		seen[name] = true
		r.header = append(r.header, name)
	}
	return nil
}

// nextCSV returns the next row, checked against the header's width.
func (r *Reader) nextCSV() (rawRec, error) {
	if r.header == nil {
		return rawRec{}, io.EOF
	}
	rec, err := r.row()
	if err != nil {
		return rec, err
	}
	if rec.err == nil && len(r.csvCells) != len(r.header) {
		rec.err = r.errorf(rec.line, "row has %d fields, the header has %d", len(r.csvCells), len(r.header))
	}
	return rec, nil
}

// loneCR reports whether b holds a '\r' that is not followed by '\n'.
func loneCR(b []byte) bool {
	for i := bytes.IndexByte(b, '\r'); i >= 0; {
		if i+1 == len(b) || b[i+1] != '\n' {
			return true
		}
		j := bytes.IndexByte(b[i+1:], '\r')
		if j < 0 {
			return false
		}
		i += 1 + j
	}
	return false
}
