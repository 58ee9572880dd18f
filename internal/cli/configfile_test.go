package cli

import (
	"strconv"
	"strings"
	"testing"
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
		{"a: 1\n---x\n", 0},   // not a marker: the parser reports what it is
		{"{a: 1}\nb: 2\n", 2}, // the decoder cannot read the rest as a document: where it stopped
	}
	for _, tt := range tests {
		err := singleDocument("f.yaml", []byte(tt.in))
		switch {
		case tt.line == 0 && err != nil:
			t.Errorf("%q: %v, want accepted", tt.in, err)
		case tt.line > 0 && (err == nil || !strings.HasPrefix(err.Error(), "f.yaml:"+strconv.Itoa(tt.line)+": a second YAML document")):
			t.Errorf("%q: %v, want a second document at line %d", tt.in, err, tt.line)
		}
	}
}
