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
		restErr  bool // what follows is not a document
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
		// yaml.Unmarshal reads the first mapping and drops the second.
		{in: "{a: 1}\nb: 2\n", rest: true, restErr: true},
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
		if rest.Line != tt.line || (rest.Err != nil) != tt.restErr {
			t.Errorf("%q: rest at line %d (error %v), want line %d (error %v)", tt.in, rest.Line, rest.Err, tt.line, tt.restErr)
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
// most one YAML document as the YAML decoder reads it.
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
		if rest, err := Decode(data, &root); err != nil || rest != nil {
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
