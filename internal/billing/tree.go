package billing

import (
	"bytes"
	"errors"
	"strconv"

	"github.com/taxagg/taxagg/internal/jsonscan"
)

// node is a JSON value of a record, for the readers that walk whole
// billing objects (invoices with their lines). Members and elements are
// scanned when first asked for. Parsing refuses a key written twice in any
// object, at any depth, as taxagg's transaction input does: a last-wins
// reading of "id":"x","id":"y" would silently pick one.
type node struct {
	kind jsonscan.Kind
	raw  []byte
	sc   *jsonscan.Scanner

	scanned bool
	keys    [][]byte
	vals    []*node
	elems   []*node
}

var errDuplicateKey = errors.New("duplicate key")

// parseNode parses one JSON value (validated first, so a syntax error is
// reported before anything else, then checked for duplicate keys).
func parseNode(sc *jsonscan.Scanner, raw []byte) (*node, error) {
	raw = bytes.TrimSpace(raw)
	if err := jsonscan.Valid(raw); err != nil {
		return nil, err
	}
	var d dupScanner
	if err := d.value(raw, 0, ""); err != nil {
		return nil, err
	}
	return &node{kind: jsonscan.KindOf(raw), raw: raw, sc: sc}, nil
}

func (n *node) scan() {
	if n.scanned {
		return
	}
	n.scanned = true
	switch n.kind {
	case jsonscan.Object:
		fields, err := n.sc.Members(n.raw, nil)
		if err != nil {
			return // validated: cannot happen
		}
		n.keys = make([][]byte, len(fields))
		n.vals = make([]*node, len(fields))
		kids := make([]node, len(fields))
		for i := range fields {
			n.keys[i] = fields[i].Key
			if bytes.IndexByte(fields[i].RawKey, '\\') >= 0 {
				// The key was unescaped into the scanner's scratch space.
				n.keys[i] = append([]byte(nil), fields[i].Key...)
			}
			kids[i] = node{kind: fields[i].Kind, raw: fields[i].Value, sc: n.sc}
			n.vals[i] = &kids[i]
		}
	case jsonscan.Array:
		elems, err := n.sc.Elements(n.raw, nil)
		if err != nil {
			return
		}
		n.elems = make([]*node, len(elems))
		kids := make([]node, len(elems))
		for i, e := range elems {
			kids[i] = node{kind: jsonscan.KindOf(e), raw: e, sc: n.sc}
			n.elems[i] = &kids[i]
		}
	}
}

// dupScanner finds a key written twice in any object of a valid JSON
// value, in one pass. The path of the key is built only when one is found.
type dupScanner struct {
	keys [][]byte // the keys of the objects being scanned, a stack
}

// dupFound unwinds the scan: segs are the path's segments, innermost first.
type dupFound struct{ segs []string }

func (d *dupScanner) value(b []byte, i int, path string) error {
	_, found := d.val(b, skipWS(b, i))
	if found == nil {
		return nil
	}
	p := path
	for k := len(found.segs) - 1; k >= 0; k-- {
		seg := found.segs[k]
		if seg != "" && seg[0] == '[' {
			p += seg
		} else {
			p = join(p, seg)
		}
	}
	return &fieldError{p, errDuplicateKey}
}

func (d *dupScanner) val(b []byte, i int) (int, *dupFound) {
	switch b[i] {
	case '{':
		base := len(d.keys)
		defer func() { d.keys = d.keys[:base] }()
		i = skipWS(b, i+1)
		if b[i] == '}' {
			return i + 1, nil
		}
		for {
			end := strEnd(b, i)
			key := b[i+1 : end-1]
			if bytes.IndexByte(key, '\\') >= 0 {
				key = jsonscan.AppendUnquoted(nil, b[i:end])
			}
			for _, k := range d.keys[base:] {
				if bytes.Equal(k, key) {
					return 0, &dupFound{segs: []string{string(key)}}
				}
			}
			d.keys = append(d.keys, key)
			i = skipWS(b, end)
			i = skipWS(b, i+1) // ':'
			var found *dupFound
			if i, found = d.val(b, i); found != nil {
				found.segs = append(found.segs, string(key))
				return 0, found
			}
			i = skipWS(b, i)
			if b[i] == '}' {
				return i + 1, nil
			}
			i = skipWS(b, i+1) // ','
		}
	case '[':
		i = skipWS(b, i+1)
		if b[i] == ']' {
			return i + 1, nil
		}
		for k := 0; ; k++ {
			var found *dupFound
			if i, found = d.val(b, i); found != nil {
				found.segs = append(found.segs, "["+strconv.Itoa(k)+"]")
				return 0, found
			}
			i = skipWS(b, i)
			if b[i] == ']' {
				return i + 1, nil
			}
			i = skipWS(b, i+1)
		}
	case '"':
		return strEnd(b, i), nil
	}
	for i < len(b) && !isDelim(b[i]) {
		i++
	}
	return i, nil
}

// strEnd returns the offset just past the string starting at b[i].
func strEnd(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(b)
}

func isDelim(c byte) bool {
	switch c {
	case ',', '}', ']', ' ', '\t', '\r', '\n':
		return true
	}
	return false
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// get returns the member key of an object (nil when n is nil, not an
// object, or has no such member).
func (n *node) get(key string) *node {
	if n == nil || n.kind != jsonscan.Object {
		return nil
	}
	n.scan()
	for i, k := range n.keys {
		if string(k) == key {
			return n.vals[i]
		}
	}
	return nil
}

// keyNames returns an object's keys.
func (n *node) keyNames() []string {
	n.scan()
	out := make([]string, len(n.keys))
	for i, k := range n.keys {
		out[i] = string(k)
	}
	return out
}

// at walks a path of member keys.
func (n *node) at(keys ...string) *node {
	for _, k := range keys {
		n = n.get(k)
	}
	return n
}

// null reports whether n is absent or JSON null.
func (n *node) null() bool { return n == nil || n.kind == jsonscan.Null }

// isObject reports whether n is a JSON object.
func (n *node) isObject() bool { return n != nil && n.kind == jsonscan.Object }

// list returns the elements of an array, or of a Stripe list object's data
// ({"object": "list", "data": [...]}); nil otherwise.
func (n *node) list() []*node {
	if n == nil {
		return nil
	}
	if n.kind == jsonscan.Object {
		n = n.get("data")
		if n == nil {
			return nil
		}
	}
	if n.kind != jsonscan.Array {
		return nil
	}
	n.scan()
	return n.elems
}

// str returns a string's content ("" for anything else).
func (n *node) str() string {
	if n == nil || n.kind != jsonscan.String {
		return ""
	}
	return unquote(n.raw)
}

// text returns the text of a scalar: a string's content, a number's literal;
// ok is false for null or absent; err for an object or an array.
func (n *node) text() (string, bool, error) {
	if n.null() {
		return "", false, nil
	}
	switch n.kind {
	case jsonscan.String:
		return unquote(n.raw), true, nil
	case jsonscan.Object, jsonscan.Array:
		return "", false, errors.New("is " + kindOf(n.raw[0]) + ", not a scalar")
	}
	return string(n.raw), true, nil
}

// id returns an id given either as a string or as an expanded object's id.
func (n *node) id() string {
	if n.isObject() {
		return n.get("id").str()
	}
	return n.str()
}

// truthy reports whether n is JSON true.
func (n *node) truthy() bool { return n != nil && n.kind == jsonscan.True }

// checkDuplicateKeys refuses a key written twice in any object of raw (a
// valid JSON value), naming its path.
func checkDuplicateKeys(raw []byte) error {
	var d dupScanner
	return d.value(raw, 0, "")
}
