// Package yamldoc decodes YAML files that must hold one document: rule
// files and mapping files. The parsers read the first document only, so a
// second one (after a "---" or "..." marker, or text the decoder cannot
// read after the first) would be silently dropped; Decode finds it in the
// same pass that decodes the first, so that a large rules file is decoded
// once, not once to check and once to read.
package yamldoc

import (
	"bytes"
	"errors"
	"io"

	yaml "go.yaml.in/yaml/v3"
)

// SecondMsg is the message of a file with a second document, after its
// name and the line of the second document.
const SecondMsg = "a second YAML document: a file holds one document; put the rest in a file of its own"

// Rest is what follows the first document of a file.
type Rest struct {
	// Line is where it begins: the line of a document marker ("---" or
	// "..." at the start of a line) where there is one, else of the second
	// document's first node; 0 when the decoder could not read it.
	Line int
	// Err is the decoder's error, when what follows is not a document it
	// can read.
	Err error
}

// Decode decodes the first YAML document of data into root, as
// yaml.Unmarshal does, and returns its error as the decoder gave it (the
// callers word syntax errors their own way). rest is what follows the
// first document, nil when nothing but markers, comments and blanks do; it
// is only looked for when the first document decoded.
func Decode(data []byte, root *yaml.Node) (rest *Rest, err error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(root); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil // empty, as yaml.Unmarshal has it: root stays zero
		}
		return nil, err
	}
	var next yaml.Node
	err = dec.Decode(&next)
	if errors.Is(err, io.EOF) {
		return nil, nil
	}
	if line, ok := secondDocumentMarker(data); ok {
		return &Rest{Line: line}, nil
	}
	if err != nil {
		return &Rest{Err: err}, nil
	}
	return &Rest{Line: next.Line}, nil
}

// secondDocumentMarker returns the line where a second document would
// begin: a document marker ("---" or "...", at the start of a line) after
// the first document has begun, or content after a "..." has ended it. It
// may name a line the YAML decoder still reads as part of one document
// (Decode asks the decoder first), but it misses no marker.
func secondDocumentMarker(data []byte) (line int, ok bool) {
	const (
		before = iota // nothing but comments, blanks and directives yet
		inFirst
		ended // after "..."
	)
	state := before
	for n := 1; len(data) > 0; n++ {
		// YAML line breaks: LF, CRLF, or CR alone.
		l := data
		if i := bytes.IndexAny(data, "\r\n"); i >= 0 {
			l = data[:i]
			if data[i] == '\r' && i+1 < len(data) && data[i+1] == '\n' {
				i++
			}
			data = data[i+1:]
		} else {
			data = nil
		}
		switch {
		case marker(l, "---"):
			if state != before {
				return n, true
			}
			state = inFirst
		case marker(l, "..."):
			if state == ended {
				return n, true
			}
			state = ended
		default:
			t := bytes.TrimSpace(l)
			if len(t) == 0 || t[0] == '#' {
				continue
			}
			if state == ended {
				return n, true
			}
			if t[0] != '%' || state != before {
				state = inFirst
			}
		}
	}
	return 0, false
}

// marker reports whether l is the document marker m alone or followed by
// a blank.
func marker(l []byte, m string) bool {
	return bytes.HasPrefix(l, []byte(m)) && (len(l) == 3 || l[3] == ' ' || l[3] == '\t')
}
