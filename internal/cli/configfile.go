package cli

import (
	"bufio"
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

// singleDocument refuses YAML with a second document (after a "---" or
// "..." marker): the parsers read the first document only, and silently
// ignoring the rest would drop jurisdictions or fields. The error names the
// line of the marker that starts the second document.
func singleDocument(name string, data []byte) error {
	line, ok := secondDocumentMarker(data)
	if !ok {
		return nil
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var first, second yaml.Node
	if err := dec.Decode(&first); err != nil {
		return nil // a syntax error in the first document: the parser reports it
	}
	err := dec.Decode(&second)
	if errors.Is(err, io.EOF) {
		return nil // only markers and comments after the first document
	}
	return fmt.Errorf("%s:%d: a second YAML document: a file holds one document; put the rest in a file of its own", name, line)
}

// secondDocumentMarker returns the line of the first document marker
// ("---" or "...", at the start of a line) that follows content, which is
// where a second document would begin; ok is false when there is none.
func secondDocumentMarker(data []byte) (line int, ok bool) {
	content := false
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), len(data)+1)
	for n := 1; sc.Scan(); n++ {
		l := bytes.TrimRight(sc.Bytes(), "\r")
		if marker(l, "---") || marker(l, "...") {
			if content {
				return n, true
			}
			if bytes.HasPrefix(l, []byte("---")) && len(bytes.TrimSpace(l[3:])) > 0 && !bytes.HasPrefix(bytes.TrimSpace(l[3:]), []byte("#")) {
				content = true // "--- value": the document's content starts on the marker line
			}
			continue
		}
		t := bytes.TrimSpace(l)
		if len(t) == 0 || t[0] == '#' || (t[0] == '%' && !content) {
			continue
		}
		content = true
	}
	return 0, false
}

// marker reports whether l is the document marker m alone or followed by
// a blank.
func marker(l []byte, m string) bool {
	return bytes.HasPrefix(l, []byte(m)) && (len(l) == 3 || l[3] == ' ' || l[3] == '\t')
}
