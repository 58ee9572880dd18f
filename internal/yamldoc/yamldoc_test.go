package yamldoc

import (
	"bytes"
	"errors"
	"io"
	"testing"

	yaml "go.yaml.in/yaml/v3"
)

func TestDecode(t *testing.T) {
	tests := []struct {
		in       string
		line     int  // of the rest; 0 with rest: none
		rest     bool // something follows the first document
		firstErr bool
	}{
		{in: ""},
		{in: "a: 1\n"},
		{in: "---\na: 1\n"},
		{in: "# c\n---\na: 1\n...\n# end\n"},
		{in: "%YAML 1.1\n---\na: 1\n"},
		{in: "%YAML 1.2\n---\na: 1\n", firstErr: true}, // the decoder reads YAML 1.1 only
		{in: "a: 1\n---x\n", firstErr: true},           // not a marker: text of the first document
		{in: "a: 1\n...\nb: 2\n", line: 3, rest: true},
		{in: "a: 1\r\n---\r\nb: 2\r\n", line: 2, rest: true},
		{in: "--- {a: 1}\n--- {b: 2}\n", line: 2, rest: true},
		{in: "---\n---\na: 1\n", line: 2, rest: true}, // an empty first document: the parsers would read nothing
		{in: "a: |\n  x\n---\nb: 2\n", line: 3, rest: true},
		// Text the decoder cannot read as a document: yaml.Unmarshal reads
		// the first node and drops the rest. The line is the rest's, from
		// the decoder's error (its line counts from 0 there, and is left
		// out on the first line).
		{in: "{a: 1}\nb: 2\n", line: 2, rest: true},
		{in: "{a: 1}\nb: 2", line: 2, rest: true},
		{in: "{a: 1} b\n", line: 1, rest: true},
		{in: "[1]\n\n# c\n[2]\n", line: 4, rest: true},
		{in: "\"x\"\n:y", line: 2, rest: true},
		{in: "{a: 1}\r\n\r\nb\r\n", line: 3, rest: true},
		// A scanner error just after the first document comes with it
		// (the decoder reads a token ahead): the parsers report it.
		{in: "[1]\n\n@x\n", firstErr: true},
		{in: "a: 1\n  b: 2\n", firstErr: true},
	}
	for _, tt := range tests {
		var root yaml.Node
		rest, err := Decode([]byte(tt.in), &root)
		if (err != nil) != tt.firstErr {
			t.Errorf("%q: error %v, want error %v", tt.in, err, tt.firstErr)
			continue
		}
		if (rest != nil) != tt.rest {
			t.Errorf("%q: rest %+v, want rest %v", tt.in, rest, tt.rest)
			continue
		}
		if rest == nil {
			continue
		}
		if rest.Line != tt.line {
			t.Errorf("%q: rest at line %d, want line %d", tt.in, rest.Line, tt.line)
		}
	}
}

// TestDecodeEmpty: an empty document leaves the root zero, as an empty
// file does; a written null does not.
func TestDecodeEmpty(t *testing.T) {
	for in, empty := range map[string]bool{"": true, "# c\n": true, "---": true, "--- # c\n": true, "---\n...\n": true,
		"--- ~\n": false, "--- null": false, "--- ''": false, "--- &a": false} {
		var root yaml.Node
		if rest, err := Decode([]byte(in), &root); err != nil || rest != nil {
			t.Errorf("%q: rest %v, error %v", in, rest, err)
		}
		if (root.Kind == 0) != empty {
			t.Errorf("%q: root kind %v, want empty %v", in, root.Kind, empty)
		}
	}
}

// TestDecodeFirst: the first document is decoded as yaml.Unmarshal
// decodes it.
func TestDecodeFirst(t *testing.T) {
	in := []byte("# c\n---\na: [1, 2]\nb: {c: d}\n...\n")
	var got, want yaml.Node
	if _, err := Decode(in, &got); err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(in, &want); err != nil {
		t.Fatal(err)
	}
	g, _ := yaml.Marshal(&got)
	w, _ := yaml.Marshal(&want)
	if !bytes.Equal(g, w) || got.Line != want.Line {
		t.Errorf("decoded\n%s\nwant\n%s", g, w)
	}
}

// FuzzDecode: whatever the bytes, a file Decode finds no rest in holds at
// most one YAML document as the YAML decoder reads it, and a rest it finds
// begins on a line of the file.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{"a: 1\n", "a: 1\n---\nb: 2\n", "---\n...\n---\n", "a: \"x\n---\ny\"\n", "--- |\n  x\n--- y\n",
		"# c\n---\na: 1\n...\n", "a: 1\n... # end\n", "{a: 1}\nb: 2\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 4096 {
			return
		}
		var root yaml.Node
		rest, err := Decode(data, &root)
		// YAML breaks lines at \n, \r, \r\n and the Unicode line
		// breaks: an upper bound of the number of lines.
		lines := 1
		for _, br := range []string{"\n", "\r", "\u0085", "\u2028", "\u2029"} {
			lines += bytes.Count(data, []byte(br))
		}
		if rest != nil && (rest.Line < 1 || rest.Line > lines) {
			t.Fatalf("rest of %q at line %d, not a line of its %d", data, rest.Line, lines)
		}
		if err != nil || rest != nil {
			return
		}
		dec := yaml.NewDecoder(bytes.NewReader(data))
		var first, second yaml.Node
		if dec.Decode(&first) != nil {
			return
		}
		if err := dec.Decode(&second); !errors.Is(err, io.EOF) {
			t.Fatalf("found no rest in %q, but it has a second document (%v)", data, err)
		}
	})
}
