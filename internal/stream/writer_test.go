package stream

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"testing"
)

// FuzzAppendJSONString checks the encoder against encoding/json: what it
// writes is valid JSON that decodes to the text (each invalid UTF-8 byte
// replaced by U+FFFD), and WriteJSONString writes the same bytes.
func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "a", `"\`, "\n\r\t\x00\x1f\x7f", "é\u2028", "\xff\xfe", "a\xc3", "<&>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := AppendJSONString([]byte("x"), s)[1:]
		var back string
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatalf("AppendJSONString(%q) = %s, not JSON: %v", s, got, err)
		}
		if want := string([]rune(s)); back != want {
			t.Errorf("AppendJSONString(%q) decodes to %q, want %q", s, back, want)
		}
		var buf bytes.Buffer
		w := bufio.NewWriter(&buf)
		WriteJSONString(w, s)
		w.Flush()
		if !bytes.Equal(buf.Bytes(), got) {
			t.Errorf("WriteJSONString(%q) = %s, AppendJSONString %s", s, buf.Bytes(), got)
		}
	})
}

// FuzzAppendCSVField checks the one CSV quoting rule against encoding/csv.
func FuzzAppendCSVField(f *testing.F) {
	for _, s := range []string{"", "a", `\.`, `\.x`, " a", "\u00a0a", "\u2028", "a,b", `a"b`, "a\rb\nc", "é", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var want bytes.Buffer
		cw := csv.NewWriter(&want)
		cw.Write([]string{s})
		cw.Flush()
		want.Truncate(want.Len() - 1) // the newline
		if got := AppendCSVField(nil, s); string(got) != want.String() {
			t.Errorf("AppendCSVField(%q) = %q, want %q", s, got, want.String())
		}
		if got := AppendCSVField(nil, []byte(s)); string(got) != want.String() {
			t.Errorf("AppendCSVField([]byte(%q)) = %q, want %q", s, got, want.String())
		}
	})
}
