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
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// SecondMsg is the message of a file with a second document, after its
// name and the line of the second document.
const SecondMsg = "a second YAML document: a file holds one document; put the rest in a file of its own"

// Rest is what follows the first document of a file.
type Rest struct {
	// Line is where it begins, from 1: the line of a document marker
	// ("---" or "..." at the start of a line) where there is one, else of
	// the second document's first node, else, when what follows is text
	// the decoder cannot read as a document, of the token it stopped at.
	Line int
}

// Decode decodes the first YAML document of data into root, as
// yaml.Unmarshal does, and returns its error as the decoder gave it (the
// callers word syntax errors their own way). An empty document leaves root
// zero, as an empty file does. rest is what follows the first document,
// nil when nothing but markers, comments and blanks do; it is only looked
// for when the first document decoded.
func Decode(data []byte, root *yaml.Node) (rest *Rest, err error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(root); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil // empty, as yaml.Unmarshal has it: root stays zero
		}
		return nil, err
	}
	if len(root.Content) == 1 && isImplicitNull(root.Content[0]) {
		// A lone "---" (or "--- # c"): the decoder gives a null placed on
		// the line after the marker, which may be past the end of the
		// file, and the callers would position their "not a mapping" there.
		*root = yaml.Node{}
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
		return &Rest{Line: max(errorLine(err), 1)}, nil
	}
	return &Rest{Line: next.Line}, nil
}

// isImplicitNull reports whether n is the null of an empty document: no
// text at all, not even "~" or "null".
func isImplicitNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null" && n.Value == "" && n.Style == 0 && n.Anchor == ""
}

// errorLine is the line, from 1, of the token where the decoder stopped
// reading what follows a first document; 0 when its error names none.
//
// The decoder words a position as "yaml: line N: ", and N counts from 0
// for parser errors (such as "did not find expected <document start>",
// the error of text after a complete document) but from 1 for scanner
// errors, and is left out when it would be 0. TestDecode pins this
// against the decoder the module requires.
func errorLine(err error) int {
	msg, ok := strings.CutPrefix(err.Error(), "yaml: line ")
	if !ok {
		if strings.Contains(err.Error(), "did not find expected <document start>") {
			return 1
		}
		return 0
	}
	digits, rest, ok := strings.Cut(msg, ": ")
	n, convErr := strconv.Atoi(digits)
	if !ok || convErr != nil {
		return 0
	}
	if strings.HasPrefix(rest, "did not find expected <document start>") {
		n++
	}
	return n
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
