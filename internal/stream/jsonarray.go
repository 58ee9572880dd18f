package stream

import (
	"errors"
	"fmt"
	"io"
	"strconv"
)

const (
	jsStart     = iota // before the first value
	jsFirst            // after '[': an element or ']'
	jsAfterElem        // after an element: ',' or ']'
	jsElem             // after ',': an element
	jsSeq              // a sequence of objects: the next '{' or the end
	jsDone             // after ']': white space only
)

// jsonState is the JSON splitter's state; the element scan can stop when
// the buffer runs out and resume after a fill (pos is relative to r.r).
type jsonState struct {
	mode   int
	inElem bool
	pos    int
	stack  []byte
	inStr  bool
	esc    bool
	scalar bool
	nl     int
}

var errCutOff = errors.New("unexpected end of input: the JSON array is not closed")

func quoteChar(c byte) string {
	if c >= 0x20 && c < 0x7f {
		return strconv.QuoteRune(rune(c))
	}
	return fmt.Sprintf("byte 0x%02x", c)
}

// skipWS skips white space, counting lines. It returns the next byte
// without consuming it, or ok false at the end of input.
func (r *Reader) skipWS() (c byte, ok bool, err error) {
	for {
		data := r.cur.data
		for r.r < r.w {
			switch c := data[r.r]; c {
			case ' ', '\t', '\r':
			case '\n':
				r.line++
			default:
				return c, true, nil
			}
			r.r++
		}
		if !r.fill() {
			if r.rerr != nil {
				return 0, false, r.readError()
			}
			return 0, false, nil
		}
	}
}

func (r *Reader) nextJSON() (rawRec, error) {
	js := &r.js
	if js.inElem {
		return r.element()
	}
	for {
		c, ok, err := r.skipWS()
		if err != nil {
			return rawRec{}, err
		}
		switch js.mode {
		case jsStart:
			switch {
			case !ok:
				return rawRec{}, io.EOF
			case c == '[':
				r.r++
				js.mode = jsFirst
			case c == '{':
				js.mode = jsSeq
			default:
				return rawRec{}, r.errorf(r.line, "unexpected %s: want a JSON array or objects", quoteChar(c))
			}
		case jsFirst, jsElem:
			if !ok {
				return rawRec{}, &Error{Source: r.name, Line: r.line, Err: errCutOff}
			}
			if c == ']' {
				if js.mode == jsElem {
					return rawRec{}, r.errorf(r.line, "unexpected ']' after ',' in the JSON array")
				}
				r.r++
				js.mode = jsDone
				continue
			}
			js.mode = jsAfterElem
			return r.startElement(c)
		case jsAfterElem:
			switch {
			case !ok:
				return rawRec{}, &Error{Source: r.name, Line: r.line, Err: errCutOff}
			case c == ',':
				r.r++
				js.mode = jsElem
			case c == ']':
				r.r++
				js.mode = jsDone
			default:
				return rawRec{}, r.errorf(r.line, "unexpected %s after an array element: want ',' or ']'", quoteChar(c))
			}
		case jsSeq:
			if !ok {
				return rawRec{}, io.EOF
			}
			if c != '{' {
				return rawRec{}, r.errorf(r.line, "unexpected %s: want the next object", quoteChar(c))
			}
			return r.startElement(c)
		case jsDone:
			if !ok {
				return rawRec{}, io.EOF
			}
			return rawRec{}, r.errorf(r.line, "unexpected %s after the end of the JSON array", quoteChar(c))
		}
	}
}

// startElement begins scanning the value at r.r, whose first byte is c.
func (r *Reader) startElement(c byte) (rawRec, error) {
	js := &r.js
	js.inElem = true
	js.pos = 0
	js.stack = js.stack[:0]
	js.inStr, js.esc, js.scalar = false, false, false
	js.nl = 0
	switch {
	case c == '{' || c == '[' || c == '"':
	case c == '-' || ('0' <= c && c <= '9') || c == 't' || c == 'f' || c == 'n':
		js.scalar = true
	default:
		js.inElem = false
		return rawRec{}, r.errorf(r.line, "unexpected %s where an array element should be", quoteChar(c))
	}
	return r.element()
}

// Byte classes for the element scan.
var (
	jsStructural = func() (t [256]bool) {
		for _, c := range []byte("{}[]\"\n") {
			t[c] = true
		}
		return t
	}()
	jsInString = func() (t [256]bool) {
		for _, c := range []byte("\"\\\n") {
			t[c] = true
		}
		return t
	}()
	jsScalarEnd = func() (t [256]bool) {
		for _, c := range []byte(",]}[{\" \t\r\n") {
			t[c] = true
		}
		return t
	}()
)

// element continues the scan of the current element.
func (r *Reader) element() (rawRec, error) {
	js := &r.js
	for {
		data := r.cur.data[:r.w]
		p := r.r + js.pos
		end := -1
	scan:
		for p < len(data) {
			if js.scalar {
				if jsScalarEnd[data[p]] {
					end = p
					break scan
				}
				p++
				continue
			}
			if js.inStr {
				if js.esc {
					// The escaped byte, whatever it is.
					js.esc = false
					if data[p] == '\n' {
						js.nl++
					}
					p++
					continue
				}
				for p < len(data) && !jsInString[data[p]] {
					p++
				}
				if p == len(data) {
					break
				}
				switch data[p] {
				case '\\':
					js.esc = true
					p++
					continue
				case '"':
					js.inStr = false
					p++
					if len(js.stack) == 0 {
						end = p
						break scan
					}
					continue
				case '\n':
					js.nl++
					p++
					continue
				}
			}
			for p < len(data) && !jsStructural[data[p]] {
				p++
			}
			if p == len(data) {
				break
			}
			switch c := data[p]; c {
			case '{', '[':
				js.stack = append(js.stack, c)
			case '}', ']':
				open := byte('{')
				if c == ']' {
					open = '['
				}
				if len(js.stack) == 0 || js.stack[len(js.stack)-1] != open {
					js.inElem = false
					return rawRec{}, r.errorf(r.line+js.nl, "unexpected %s in the JSON record starting on line %d", quoteChar(c), r.line)
				}
				js.stack = js.stack[:len(js.stack)-1]
				if len(js.stack) == 0 {
					end = p + 1
					p++
					break scan
				}
			case '"':
				js.inStr = true
			case '\n':
				js.nl++
			}
			p++
		}
		if end < 0 {
			js.pos = p - r.r
			if js.pos > r.max {
				js.inElem = false
				return rawRec{}, r.tooLong(r.line)
			}
			if !r.fill() {
				js.inElem = false
				if r.rerr != nil {
					return rawRec{}, r.readError()
				}
				if js.scalar {
					end = r.w
				} else {
					return rawRec{}, &Error{Source: r.name, Line: r.line, Err: fmt.Errorf("unexpected end of input inside the record starting on this line")}
				}
			} else {
				continue
			}
		}
		js.inElem = false
		start, line := r.r, r.line
		if end-start > r.max {
			return rawRec{}, r.tooLong(line)
		}
		r.r = end
		r.line += js.nl
		rec := rawRec{start: start, end: end, line: line}
		if r.cur.data[start] != '{' {
			rec.err = r.errorf(line, "array element is not an object")
		}
		return rec, nil
	}
}
