package cli

import (
	"bytes"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"

	yaml "go.yaml.in/yaml/v3"
)

func TestSingleDocument(t *testing.T) {
	tests := []struct {
		in   string
		line int // 0: accepted
	}{
		{"a: 1\n", 0},
		{"---\na: 1\n", 0},
		{"# c\n---\na: 1\n...\n# end\n", 0},
		{"%YAML 1.2\n---\na: 1\n", 0},
		{"a: 1\n...\nb: 2\n", 3},
		{"a: 1\n...\nb: 2\n", 3},
		{"a: 1\r\n---\r\nb: 2\r\n", 2},
		{"--- {a: 1}\n--- {b: 2}\n", 2},
		{"---\n---\na: 1\n", 2}, // an empty first document: the parsers would read nothing
		{"a: |\n  x\n---\nb: 2\n", 3},
		{"a: 1\n---x\n", 0}, // not a marker: the parser reports what it is
	}
	for _, tt := range tests {
		err := singleDocument("f.yaml", []byte(tt.in))
		switch {
		case tt.line == 0 && err != nil:
			t.Errorf("%q: %v, want accepted", tt.in, err)
		case tt.line != 0 && (err == nil || !strings.HasPrefix(err.Error(), "f.yaml:"+strconv.Itoa(tt.line)+": a second YAML document")):
			t.Errorf("%q: %v, want a second document at line %d", tt.in, err, tt.line)
		}
	}
}

// FuzzSingleDocument: whatever the bytes, a file singleDocument accepts
// holds at most one YAML document as the YAML decoder reads it.
func FuzzSingleDocument(f *testing.F) {
	for _, s := range []string{"a: 1\n", "a: 1\n---\nb: 2\n", "---\n...\n---\n", "a: \"x\n---\ny\"\n", "--- |\n  x\n--- y\n",
		"# c\n---\na: 1\n...\n", "a: 1\n... # end\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 4096 {
			return
		}
		if singleDocument("f", data) != nil {
			return
		}
		dec := yaml.NewDecoder(bytes.NewReader(data))
		var first, second yaml.Node
		if dec.Decode(&first) != nil {
			return
		}
		if err := dec.Decode(&second); !errors.Is(err, io.EOF) {
			t.Fatalf("accepted %q, but it has a second document (%v)", data, err)
		}
	})
}
