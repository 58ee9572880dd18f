package stream

import (
	"bytes"
	"io"
)

// nextNDJSON returns the next non-blank line.
func (r *Reader) nextNDJSON() (rawRec, error) {
	for {
		data := r.cur.data
		from := r.r + r.scan
		if i := bytes.IndexByte(data[from:r.w], '\n'); i >= 0 {
			end := from + i
			start, line := r.r, r.line
			r.r, r.scan = end+1, 0
			r.line++
			if end > start && data[end-1] == '\r' {
				end--
			}
			if blank(data[start:end]) {
				continue
			}
			if end-start > r.max {
				return rawRec{line: line, err: r.tooLong(line)}, nil
			}
			return rawRec{start: start, end: end, line: line}, nil
		}
		r.scan = r.w - r.r
		if r.w-r.r > r.max {
			line := r.line
			allBlank, err := r.skipLine()
			if err != nil {
				return rawRec{}, err
			}
			if allBlank {
				continue // a blank line is skipped, however long
			}
			return rawRec{line: line, err: r.tooLong(line)}, nil
		}
		if !r.fill() {
			if r.rerr != nil {
				return rawRec{}, r.readError()
			}
			// The last line, without a line end.
			start, end, line := r.r, r.w, r.line
			data = r.cur.data
			r.r, r.scan = r.w, 0
			if end > start && data[end-1] == '\r' {
				end--
			}
			if blank(data[start:end]) {
				return rawRec{}, io.EOF
			}
			r.line++
			return rawRec{start: start, end: end, line: line}, nil
		}
	}
}

// skipLine drops input up to and including the next '\n' (or to the end),
// and reports whether what it dropped was blank.
func (r *Reader) skipLine() (allBlank bool, err error) {
	allBlank = true
	for {
		if i := bytes.IndexByte(r.cur.data[r.r:r.w], '\n'); i >= 0 {
			allBlank = allBlank && blank(r.cur.data[r.r:r.r+i])
			r.r += i + 1
			r.scan = 0
			r.line++
			return allBlank, nil
		}
		allBlank = allBlank && blank(r.cur.data[r.r:r.w])
		r.r, r.scan = r.w, 0
		if !r.fill() {
			if r.rerr != nil {
				return allBlank, r.readError()
			}
			return allBlank, nil
		}
	}
}

// blank reports whether b holds only spaces, tabs and carriage returns.
func blank(b []byte) bool {
	for _, c := range b {
		if c != ' ' && c != '\t' && c != '\r' {
			return false
		}
	}
	return true
}
