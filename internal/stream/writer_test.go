package stream

import (
	"bufio"
	"bytes"
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
