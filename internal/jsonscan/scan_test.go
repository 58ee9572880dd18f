package jsonscan

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math/bits"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestUnquote(t *testing.T) {
	for _, in := range []string{`"plain"`, `"a\"b\\c\/d\b\f\n\r\t"`, `"\u00e9\u20ac"`, `"\ud83d\ude00"`, `"\ud800x"`, `"\udc00"`, `"\ud800\u0041"`} {
		var want string
		if err := json.Unmarshal([]byte(in), &want); err != nil {
			t.Fatal(err)
		}
		if got := string(AppendUnquoted(nil, []byte(in))); got != want {
			t.Errorf("%s: got %q, want %q", in, got, want)
		}
	}
}

func TestObject(t *testing.T) {
	var s Scanner
	fields, err := s.Object([]byte(` {"a" : 1, "b\u0063":{"x":[true,false,null]}, "s":"\u00e9"} `))
	if err != nil {
		t.Fatal(err)
	}
	want := [][3]string{{"a", "1", "number"}, {"bc", `{"x":[true,false,null]}`, "object"}, {"s", `"\u00e9"`, "string"}}
	if len(fields) != len(want) {
		t.Fatalf("%d fields", len(fields))
	}
	for i, f := range fields {
		if string(f.Key) != want[i][0] || string(f.Value) != want[i][1] || f.Kind.String() != want[i][2] {
			t.Errorf("field %d: %q %q %v", i, f.Key, f.Value, f.Kind)
		}
	}
	for _, bad := range []string{`{"a":1}{`, `{"a":01}`, `{"a":1.}`, `{"a":-}`, `{"a":"\u12"}`, `{"a":nul}`, `{"a" 1}`, `{a:1}`, "{\"a\":\"\x01\"}"} {
		if _, err := s.Object([]byte(bad)); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
	if err := Valid([]byte(` [1, {"a": [2]}] `)); err != nil {
		t.Error(err)
	}
}

// special8 against the byte table, for every byte value at every place
// of a word of plain bytes, and after an earlier special byte.
func TestSpecial8(t *testing.T) {
	first := func(w [8]byte) int {
		for i, c := range w {
			if strSpecial[c] {
				return i
			}
		}
		return 8
	}
	check := func(w [8]byte) {
		m := special8(binary.LittleEndian.Uint64(w[:]))
		got := 8
		if m != 0 {
			got = bits.TrailingZeros64(m) >> 3
		}
		if want := first(w); got != want {
			t.Fatalf("%q: first special at %d, want %d", w, got, want)
		}
	}
	for c := range 256 {
		for pos := range 8 {
			w := [8]byte{'a', 'b', ' ', '~', '!', '#', '[', ']'}
			w[pos] = byte(c)
			check(w)
			for later := pos + 1; later < 8; later++ {
				v := w
				v[later] = []byte{'"', '\\', 0, 0x1f, 0x80, 0xff}[later%6]
				check(v)
			}
		}
	}
}

// The scanner accepts exactly the valid JSON objects (valid UTF-8, not
// nested too deep), and Escaped says whether a string value has escapes.
func FuzzObject(f *testing.F) {
	for _, s := range []string{`{"a":"b"}`, `{"a":"b\"c","d":[1,{"e":"\u00e9"}]}`, ` {"abcdefghij":"klmnopqrstuvwxyz\\"} `, `{"a":"` + "\x01" + `"}`, `{"a":"é","b":null}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var s Scanner
		fields, err := s.Object(data)
		trimmed := bytes.TrimLeft(data, " \t\r\n")
		want := json.Valid(data) && utf8.Valid(data) && len(trimmed) > 0 && trimmed[0] == '{' && bytes.Count(data, []byte("[")) < MaxDepth/2
		if err == nil && !json.Valid(data) {
			t.Fatalf("%q accepted, not valid JSON", data)
		}
		if want && err != nil {
			t.Fatalf("%q rejected: %v", data, err)
		}
		for _, fl := range fields {
			if fl.Kind == String && fl.Escaped != HasEscape(fl.Value) {
				t.Fatalf("%q: %s Escaped %v", data, fl.Value, fl.Escaped)
			}
		}
	})
}

// plainStr ends a plain ASCII string of up to 15 bytes where str does, and
// leaves every other string to str.
func TestPlainStr(t *testing.T) {
	pad := strings.Repeat(" ", 16) // plainStr wants 16 bytes after the quote
	tests := []struct {
		in   string
		want int // -1: str's
	}{
		{`""`, 2},
		{`"abc"`, 5},
		{`"1234567"`, 9},          // the quote is the first word's last byte
		{`"12345678"`, 10},        // the first byte of the second word
		{`"123456789012345"`, 17}, // the second word's last byte
		{`"1234567890123456"`, -1},
		{`"a\"b"`, -1},
		{`"é"`, -1},
		{"\"a\x01\"", -1},
	}
	for _, tt := range tests {
		in := []byte(tt.in + pad)
		if got := plainStr(in, 0); got != tt.want {
			t.Errorf("plainStr(%q) = %d, want %d", tt.in, got, tt.want)
		}
		if tt.want >= 0 {
			var s Scanner
			s.data = in
			if end, esc, err := s.str(0); err != nil || esc || end != tt.want {
				t.Errorf("str(%q) = %d, %v, %v; plainStr says %d", tt.in, end, esc, err, tt.want)
			}
		}
	}
	if got := plainStr([]byte(`"abc"`), 0); got != -1 {
		t.Errorf("plainStr with fewer than 16 bytes left = %d, want -1", got)
	}
}
