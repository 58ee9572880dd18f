package stream

import (
	"bytes"
	"unsafe"

	"github.com/taxagg/taxagg/internal/jsonscan"
)

// List containers. A JSON record that is a billing API's list page is not a
// record itself: its elements are. Recognised are Stripe's list and search
// result objects ({"object": "list" or "search_result", "data": [...]}) and
// Chargebee's list responses ({"list": [...], "next_offset": ...}, with no
// "id" of its own). Each element is then a record, with the line where it
// starts; an element that is not an object is a bad record. The container
// must fit in one record (Options.MaxRecordBytes): an API page always does.

// containerPrefilter is true when b may be a list container (cheap test).
// It runs on every JSON record: a container holds an array, so the one
// vectorised search for '[' rules out almost every record before the
// slower searches for the keys (each stops at every '"').
func containerPrefilter(b []byte) bool {
	return len(b) > 0 && b[0] == '{' && bytes.IndexByte(b, '[') >= 0 &&
		(bytes.Contains(b, []byte(`"data"`)) || bytes.Contains(b, []byte(`"list"`)))
}

// expandContainer looks at the record rec of cur.data; when it is a list
// container it queues its elements as records and reports true.
func (r *Reader) expandContainer(rec rawRec) bool {
	data := r.cur.data[rec.start:rec.end:rec.end]
	if !containerPrefilter(data) {
		return false
	}
	var sc jsonscan.Scanner
	fields, err := sc.Object(data)
	if err != nil {
		return false // the parser reports it as the record it is
	}
	var object, list []byte
	hasID := false
	for _, f := range fields {
		switch string(f.Key) {
		case "object":
			if f.Kind == jsonscan.String {
				object = f.Value
			}
		case "data":
			if f.Kind == jsonscan.Array {
				list = f.Value
			}
		case "id":
			hasID = true
		}
	}
	switch string(object) {
	case `"list"`, `"search_result"`:
	default:
		list = nil
		if object == nil && !hasID {
			for _, f := range fields {
				if string(f.Key) == "list" && f.Kind == jsonscan.Array {
					list = f.Value
				}
			}
		}
	}
	if list == nil {
		return false
	}
	elems, err := sc.Elements(list, nil)
	if err != nil {
		return false
	}
	r.queue = r.queue[:0]
	r.queued = 0
	prevOff, line := 0, rec.line
	for _, e := range elems {
		off := offsetIn(data, e)
		line += bytes.Count(data[prevOff:off], newline)
		prevOff = off
		q := rawRec{start: rec.start + off, end: rec.start + off + len(e), line: line}
		if len(e) == 0 || e[0] != '{' {
			q.err = r.errorf(line, "list element is not an object")
		}
		r.queue = append(r.queue, q)
	}
	return true
}

// offsetIn returns the offset of sub, a sub-slice of b, in b.
func offsetIn(b, sub []byte) int {
	if len(sub) == 0 {
		return 0
	}
	return int(uintptr(unsafe.Pointer(unsafe.SliceData(sub))) - uintptr(unsafe.Pointer(unsafe.SliceData(b))))
}
