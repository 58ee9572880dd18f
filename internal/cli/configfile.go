package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	yaml "go.yaml.in/yaml/v3"
)

// The most a rules file and a mapping file may hold. Rule files are the
// largest (an imported rate table of a whole state); both are read whole,
// so a file past these (or /dev/zero) is refused rather than read until
// memory runs out.
const (
	maxRulesFileBytes   = 64 << 20
	maxMappingFileBytes = 16 << 20
)

// readConfigFile reads a rules or mapping file (what names it in errors)
// whole: at most limit bytes, a single YAML document, and an open or read
// that a cancelled ctx ends.
func readConfigFile(ctx context.Context, path, what string, limit int64) ([]byte, error) {
	f, err := openFile(ctx, path)
	if err != nil {
		if ctx.Err() != nil {
			return nil, err
		}
		return nil, fmt.Errorf("read %s: %w", what, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(interruptible(ctx, f), limit+1))
	if err != nil {
		if ctx.Err() != nil {
			return nil, context.Cause(ctx)
		}
		return nil, fmt.Errorf("read %s: %w", what, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("read %s: %s is larger than %d MiB, the most a %s file may hold", what, path, limit>>20, what)
	}
	if err := singleDocument(path, data); err != nil {
		return nil, err
	}
	return data, nil
}

// singleDocument refuses YAML with anything after its first document: a
// second document (after a "---" or "..." marker), or text the YAML
// decoder cannot read there. The parsers read the first document only, and
// silently ignoring the rest would drop jurisdictions or fields. The error
// names the line where the second document begins.
func singleDocument(name string, data []byte) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var first, second yaml.Node
	if err := dec.Decode(&first); err != nil {
		return nil // empty, or a syntax error in the first document: the parser reports it
	}
	err := dec.Decode(&second)
	if errors.Is(err, io.EOF) {
		return nil // only markers and comments after the first document
	}
	line, ok := secondDocumentMarker(data)
	if !ok {
		line = second.Line
	}
	if err != nil && !ok {
		return fmt.Errorf("%s: after the first YAML document: %v", name, err)
	}
	return fmt.Errorf("%s:%d: a second YAML document: a file holds one document; put the rest in a file of its own", name, line)
}

// secondDocumentMarker returns the line where a second document would
// begin: a document marker ("---" or "...", at the start of a line) after
// the first document has begun, or content after a "..." has ended it. It
// may name a line the YAML decoder still reads as part of one document
// (singleDocument asks the decoder), but it misses none.
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
