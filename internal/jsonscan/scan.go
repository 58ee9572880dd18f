// Package jsonscan is a small validating JSON scanner for one record: it
// walks a top-level object once, checks that the whole text is valid JSON
// (RFC 8259), and yields each key with its raw value text, without building
// any tree and without reflection.
//
// Decisions:
//   - Strings must be valid UTF-8; a raw byte sequence that is not is an error
//     (so a record written back unchanged is still valid JSON). Escaped lone
//     surrogates (\ud800) are valid JSON and decode to U+FFFD, as in
//     encoding/json.
//   - Control characters (< 0x20) inside strings are errors, as the RFC says.
//   - Nesting deeper than MaxDepth is an error (no unbounded recursion).
//   - Anything but white space after the object is an error.
//   - Duplicate keys are not judged here: the caller decides (package txn
//     rejects them).
package jsonscan

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"strconv"
	"unicode/utf8"
)

// MaxDepth is the deepest nesting of objects and arrays accepted.
const MaxDepth = 256

// Kind is the type of a JSON value, known from its first byte.
type Kind uint8

const (
	Invalid Kind = iota
	String
	Number
	Object
	Array
	True
	False
	Null
)

var kindNames = [...]string{"invalid", "string", "number", "object", "array", "true", "false", "null"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// KindOf returns the kind of a raw value by its first byte.
func KindOf(raw []byte) Kind {
	if len(raw) == 0 {
		return Invalid
	}
	switch c := raw[0]; {
	case c == '"':
		return String
	case c == '{':
		return Object
	case c == '[':
		return Array
	case c == 't':
		return True
	case c == 'f':
		return False
	case c == 'n':
		return Null
	case c == '-' || ('0' <= c && c <= '9'):
		return Number
	}
	return Invalid
}

// Field is one member of an object.
type Field struct {
	// Key is the decoded key. It points into the scanned text when the key
	// has no escapes, else into the scanner's scratch space.
	Key []byte
	// RawKey is the key as written, quotes included.
	RawKey []byte
	// Value is the raw value text, exactly as written.
	Value []byte
	Kind  Kind
	// Escaped says that Value is a string with escapes (so that a caller
	// taking its contents need not look for them again).
	Escaped bool
}

// SyntaxError is invalid JSON at a byte offset of the scanned text.
type SyntaxError struct {
	Offset int
	Msg    string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("invalid JSON at byte %d: %s", e.Offset, e.Msg)
}

// Scanner scans records. Its results are valid until its next use; it is not
// safe for concurrent use. The zero value is ready.
type Scanner struct {
	fields  []Field
	scratch []byte
	data    []byte
	depth   int
}

// Object scans data, which must hold exactly one JSON object (white space
// around it allowed), validates all of it, and returns its members in input
// order. The returned slice and the keys are valid until the next call.
func (s *Scanner) Object(data []byte) ([]Field, error) {
	s.fields = s.fields[:0]
	s.scratch = s.scratch[:0]
	s.data = data
	s.depth = 0
	i := skipWS(data, 0)
	if i == len(data) {
		return nil, &SyntaxError{Offset: i, Msg: "empty record, want an object"}
	}
	if data[i] != '{' {
		return nil, &SyntaxError{Offset: i, Msg: "record is not a JSON object"}
	}
	end, err := s.object(i, true)
	if err != nil {
		return nil, err
	}
	if j := skipWS(data, end); j != len(data) {
		return nil, &SyntaxError{Offset: j, Msg: fmt.Sprintf("unexpected %s after the object", quoteByte(data[j]))}
	}
	return s.fields, nil
}

// Members returns the members of raw, an object value already validated by
// Object (a value of one of its fields). Keys are decoded as by Object. It
// reuses dst.
func (s *Scanner) Members(raw []byte, dst []Field) ([]Field, error) {
	saved := s.fields
	s.fields = dst[:0]
	s.data = raw
	s.depth = 0
	i := skipWS(raw, 0)
	if i == len(raw) || raw[i] != '{' {
		s.fields = saved
		return dst[:0], &SyntaxError{Offset: i, Msg: "not an object"}
	}
	_, err := s.object(i, true)
	out := s.fields
	s.fields = saved
	return out, err
}

// Elements appends to dst the raw elements of raw, an array value already
// validated.
func (s *Scanner) Elements(raw []byte, dst [][]byte) ([][]byte, error) {
	s.data = raw
	s.depth = 0
	i := skipWS(raw, 0)
	if i == len(raw) || raw[i] != '[' {
		return dst, &SyntaxError{Offset: i, Msg: "not an array"}
	}
	i = skipWS(raw, i+1)
	if i < len(raw) && raw[i] == ']' {
		return dst, nil
	}
	for {
		end, err := s.value(i)
		if err != nil {
			return dst, err
		}
		dst = append(dst, raw[i:end])
		i = skipWS(raw, end)
		if i == len(raw) {
			return dst, s.eof(i)
		}
		switch raw[i] {
		case ',':
			i = skipWS(raw, i+1)
		case ']':
			return dst, nil
		default:
			return dst, s.unexpected(i, "in array")
		}
	}
}

// Valid reports whether data is one valid JSON value with optional white space around it.
func Valid(data []byte) error {
	var s Scanner
	s.data = data
	i := skipWS(data, 0)
	end, err := s.value(i)
	if err != nil {
		return err
	}
	if j := skipWS(data, end); j != len(data) {
		return &SyntaxError{Offset: j, Msg: fmt.Sprintf("unexpected %s after the value", quoteByte(data[j]))}
	}
	return nil
}

func (s *Scanner) eof(i int) error {
	return &SyntaxError{Offset: i, Msg: "unexpected end of record"}
}

func (s *Scanner) unexpected(i int, where string) error {
	if i >= len(s.data) {
		return s.eof(i)
	}
	return &SyntaxError{Offset: i, Msg: fmt.Sprintf("unexpected %s %s", quoteByte(s.data[i]), where)}
}

func quoteByte(c byte) string {
	if c < utf8.RuneSelf && c >= 0x20 {
		return strconv.QuoteRune(rune(c))
	}
	return fmt.Sprintf("byte 0x%02x", c)
}

// object scans the object starting at data[i] == '{' and returns the offset
// after its '}'. When collect is set, members are appended to s.fields.
func (s *Scanner) object(i int, collect bool) (int, error) {
	data := s.data
	s.depth++
	if s.depth > MaxDepth {
		return 0, &SyntaxError{Offset: i, Msg: fmt.Sprintf("nesting deeper than %d", MaxDepth)}
	}
	i = skipWS(data, i+1)
	if i < len(data) && data[i] == '}' {
		s.depth--
		return i + 1, nil
	}
	for {
		if i >= len(data) {
			return 0, s.eof(i)
		}
		if data[i] != '"' {
			return 0, s.unexpected(i, "where an object key should be")
		}
		kstart := i
		kend, escaped := plainStr(data, i), false
		var err error
		if kend < 0 {
			if kend, escaped, err = s.str(i); err != nil {
				return 0, err
			}
		}
		i = skipWS(data, kend)
		if i >= len(data) {
			return 0, s.eof(i)
		}
		if data[i] != ':' {
			return 0, s.unexpected(i, "after an object key")
		}
		i = skipWS(data, i+1)
		vstart := i
		var vend int
		vesc := false
		if i < len(data) && data[i] == '"' {
			// Most values are strings: scanned here, their escapes noted.
			if vend = plainStr(data, i); vend < 0 {
				vend, vesc, err = s.str(i)
			}
		} else {
			vend, err = s.value(i)
		}
		if err != nil {
			return 0, err
		}
		if collect && s.depth == 1 {
			rawKey := data[kstart:kend]
			key := rawKey[1 : len(rawKey)-1]
			if escaped {
				off := len(s.scratch)
				s.scratch = AppendUnquoted(s.scratch, rawKey)
				key = s.scratch[off:len(s.scratch):len(s.scratch)]
			}
			// Appended zero, then set member by member: appending the
			// composite literal built it in a stack temporary with byte
			// stores and copied it with 16-byte loads, a store-forwarding
			// stall per member.
			s.fields = append(s.fields, Field{})
			f := &s.fields[len(s.fields)-1]
			v := data[vstart:vend]
			f.Key, f.RawKey, f.Value, f.Kind, f.Escaped = key, rawKey, v, KindOf(v), vesc
		}
		i = skipWS(data, vend)
		if i >= len(data) {
			return 0, s.eof(i)
		}
		switch data[i] {
		case ',':
			i = skipWS(data, i+1)
		case '}':
			s.depth--
			return i + 1, nil
		default:
			return 0, s.unexpected(i, "in object")
		}
	}
}

func (s *Scanner) array(i int) (int, error) {
	data := s.data
	s.depth++
	if s.depth > MaxDepth {
		return 0, &SyntaxError{Offset: i, Msg: fmt.Sprintf("nesting deeper than %d", MaxDepth)}
	}
	i = skipWS(data, i+1)
	if i < len(data) && data[i] == ']' {
		s.depth--
		return i + 1, nil
	}
	for {
		end, err := s.value(i)
		if err != nil {
			return 0, err
		}
		i = skipWS(data, end)
		if i >= len(data) {
			return 0, s.eof(i)
		}
		switch data[i] {
		case ',':
			i = skipWS(data, i+1)
		case ']':
			s.depth--
			return i + 1, nil
		default:
			return 0, s.unexpected(i, "in array")
		}
	}
}

// value scans the value at data[i] and returns the offset after it.
func (s *Scanner) value(i int) (int, error) {
	data := s.data
	if i >= len(data) {
		return 0, s.eof(i)
	}
	switch c := data[i]; c {
	case '"':
		end, _, err := s.str(i)
		return end, err
	case '{':
		return s.object(i, false)
	case '[':
		return s.array(i)
	case 't':
		return s.literal(i, "true")
	case 'f':
		return s.literal(i, "false")
	case 'n':
		return s.literal(i, "null")
	default:
		if c == '-' || ('0' <= c && c <= '9') {
			return s.number(i)
		}
		return 0, s.unexpected(i, "where a value should be")
	}
}

func (s *Scanner) literal(i int, lit string) (int, error) {
	data := s.data
	if len(data)-i < len(lit) {
		if string(data[i:]) == lit[:len(data)-i] {
			return 0, s.eof(len(data))
		}
	} else if string(data[i:i+len(lit)]) == lit {
		return i + len(lit), nil
	}
	return 0, &SyntaxError{Offset: i, Msg: "invalid literal (want true, false or null)"}
}

// number scans -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *Scanner) number(i int) (int, error) {
	data := s.data
	start := i
	bad := func(j int) (int, error) {
		if j >= len(data) {
			return 0, s.eof(j)
		}
		return 0, &SyntaxError{Offset: start, Msg: "invalid number"}
	}
	if data[i] == '-' {
		i++
	}
	if i >= len(data) {
		return bad(i)
	}
	switch {
	case data[i] == '0':
		i++
	case '1' <= data[i] && data[i] <= '9':
		for i < len(data) && isDigit(data[i]) {
			i++
		}
	default:
		return bad(i)
	}
	if i < len(data) && data[i] == '.' {
		i++
		if i >= len(data) || !isDigit(data[i]) {
			return bad(i)
		}
		for i < len(data) && isDigit(data[i]) {
			i++
		}
	}
	if i < len(data) && (data[i] == 'e' || data[i] == 'E') {
		i++
		if i < len(data) && (data[i] == '+' || data[i] == '-') {
			i++
		}
		if i >= len(data) || !isDigit(data[i]) {
			return bad(i)
		}
		for i < len(data) && isDigit(data[i]) {
			i++
		}
	}
	// A number must end at a delimiter; "01" or "1x" is invalid.
	if i < len(data) {
		switch data[i] {
		case ' ', '\t', '\r', '\n', ',', '}', ']':
		default:
			return 0, &SyntaxError{Offset: start, Msg: "invalid number"}
		}
	}
	return i, nil
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// strSpecial marks the bytes that end the fast path inside a string.
var strSpecial = func() (t [256]bool) {
	for c := 0; c < 0x20; c++ {
		t[c] = true
	}
	t['"'] = true
	t['\\'] = true
	for c := 0x80; c < 0x100; c++ {
		t[c] = true
	}
	return t
}()

// str scans the string at data[i] == '"' and returns the offset after its
// closing quote, and whether it holds escapes.
func (s *Scanner) str(i int) (end int, escaped bool, err error) {
	data := s.data
	i++
	for {
		// Fast path: plain ASCII, eight bytes at a time while eight are
		// left, then byte by byte.
		for i+8 <= len(data) {
			if m := special8(binary.LittleEndian.Uint64(data[i:])); m != 0 {
				i += bits.TrailingZeros64(m) >> 3
				break
			}
			i += 8
		}
		for i < len(data) && !strSpecial[data[i]] {
			i++
		}
		if i >= len(data) {
			return 0, false, s.eof(i)
		}
		c := data[i]
		switch {
		case c == '"':
			return i + 1, escaped, nil
		case c == '\\':
			escaped = true
			if i+1 >= len(data) {
				return 0, false, s.eof(i + 1)
			}
			switch data[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if len(data)-i < 6 {
					return 0, false, s.eof(len(data))
				}
				for k := i + 2; k < i+6; k++ {
					if hexVal(data[k]) < 0 {
						return 0, false, &SyntaxError{Offset: i, Msg: "invalid \\u escape in string"}
					}
				}
				i += 6
			default:
				return 0, false, &SyntaxError{Offset: i, Msg: fmt.Sprintf("invalid escape %s in string", strconv.Quote(string(data[i:i+2])))}
			}
		case c < 0x20:
			return 0, false, &SyntaxError{Offset: i, Msg: fmt.Sprintf("control character 0x%02x in string", c)}
		default: // c >= 0x80
			r, size := utf8.DecodeRune(data[i:])
			if r == utf8.RuneError && size <= 1 {
				return 0, false, &SyntaxError{Offset: i, Msg: "invalid UTF-8 in string"}
			}
			i += size
		}
	}
}

// plainStr is str's fast path, small enough to be inlined: the offset
// after the closing quote of the string at data[i] == '"' when it is plain
// ASCII (no escape, control character or byte of 0x80 and above) and ends
// within the next 16 bytes, else -1 (str then scans it). Record fields are
// mostly such short strings: keys, codes, dates, amounts.
func plainStr(data []byte, i int) int {
	j := i + 1
	if len(data)-j < 16 {
		return -1
	}
	m := special8(binary.LittleEndian.Uint64(data[j:]))
	if m == 0 {
		j += 8
		if m = special8(binary.LittleEndian.Uint64(data[j:])); m == 0 {
			return -1
		}
	}
	j += bits.TrailingZeros64(m) >> 3
	if data[j] != '"' {
		return -1
	}
	return j + 1
}

// special8 has the high bit set in the byte of x (eight bytes of a string,
// little-endian) that is the first '"', '\\', control character or
// non-ASCII byte, if any; later bytes may be set too (a borrow), earlier
// ones never. Each subtraction borrows across a byte only out of a byte
// that is itself special, and bytes of 0x80 and above are caught by x
// itself, so no term needs masking with its complement.
func special8(x uint64) uint64 {
	const lsb = 0x0101010101010101
	q := x ^ (lsb * '"')
	b := x ^ (lsb * '\\')
	return ((q - lsb) | (b - lsb) | (x - lsb*0x20) | x) & (lsb * 0x80)
}

func hexVal(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// skipWS returns the offset of the first byte at or after i that is not
// white space. Compact JSON has none between tokens: that case is inlined.
func skipWS(data []byte, i int) int {
	if i < len(data) && data[i] > ' ' {
		return i
	}
	return skipWSLoop(data, i)
}

func skipWSLoop(data []byte, i int) int {
	for i < len(data) {
		switch data[i] {
		case ' ', '\t', '\r', '\n':
			i++
		default:
			return i
		}
	}
	return i
}

// AppendUnquoted appends the decoded contents of raw, a valid JSON string
// token (quotes included), to dst.
func AppendUnquoted(dst, raw []byte) []byte {
	s := raw[1 : len(raw)-1]
	for i := 0; i < len(s); {
		c := s[i]
		if c != '\\' {
			j := i + 1
			for j < len(s) && s[j] != '\\' {
				j++
			}
			dst = append(dst, s[i:j]...)
			i = j
			continue
		}
		switch s[i+1] {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r := rune(hex4(s[i+2:]))
			i += 6
			if utf16IsSurrogate(r) {
				if r < 0xdc00 && i+6 <= len(s) && s[i] == '\\' && s[i+1] == 'u' {
					r2 := rune(hex4(s[i+2:]))
					if 0xdc00 <= r2 && r2 < 0xe000 {
						dst = utf8.AppendRune(dst, 0x10000+(r-0xd800)<<10+(r2-0xdc00))
						i += 6
						continue
					}
				}
				r = utf8.RuneError
			}
			dst = utf8.AppendRune(dst, r)
			continue
		default: // " \ /
			dst = append(dst, s[i+1])
		}
		i += 2
	}
	return dst
}

func hex4(b []byte) int {
	return hexVal(b[0])<<12 | hexVal(b[1])<<8 | hexVal(b[2])<<4 | hexVal(b[3])
}

func utf16IsSurrogate(r rune) bool { return 0xd800 <= r && r < 0xe000 }

// HasEscape reports whether the string token raw contains a backslash.
func HasEscape(raw []byte) bool {
	for _, c := range raw {
		if c == '\\' {
			return true
		}
	}
	return false
}
