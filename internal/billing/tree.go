package billing

import (
	"bytes"
	"errors"
	"strconv"

	"github.com/taxagg/taxagg/internal/jsonscan"
)

// node is a parsed JSON value, for the readers that walk whole billing
// objects (invoices with their lines). Parsing refuses a key written twice
// in any object, at any depth, as taxagg's transaction input does: a
// last-wins reading of "id":"x","id":"y" would silently pick one.
type node struct {
	kind  jsonscan.Kind
	raw   []byte
	keys  []string
	vals  []*node
	elems []*node
}

var errDuplicateKey = errors.New("duplicate key")

// parseNode parses one JSON value (validated first, so a syntax error is
// reported before anything else).
func parseNode(sc *jsonscan.Scanner, raw []byte) (*node, error) {
	raw = bytes.TrimSpace(raw)
	if err := jsonscan.Valid(raw); err != nil {
		return nil, err
	}
	return buildNode(sc, raw, "")
}

func buildNode(sc *jsonscan.Scanner, raw []byte, path string) (*node, error) {
	n := &node{kind: jsonscan.KindOf(raw), raw: raw}
	switch n.kind {
	case jsonscan.Object:
		fields, err := sc.Members(raw, nil)
		if err != nil {
			return nil, err
		}
		n.keys = make([]string, len(fields))
		n.vals = make([]*node, len(fields))
		for i := range fields {
			k := string(fields[i].Key)
			for _, prev := range n.keys[:i] {
				if prev == k {
					return nil, &fieldError{join(path, k), errDuplicateKey}
				}
			}
			n.keys[i] = k
			v, err := buildNode(sc, fields[i].Value, join(path, k))
			if err != nil {
				return nil, err
			}
			n.vals[i] = v
		}
	case jsonscan.Array:
		elems, err := sc.Elements(raw, nil)
		if err != nil {
			return nil, err
		}
		n.elems = make([]*node, len(elems))
		for i, e := range elems {
			v, err := buildNode(sc, e, path+"["+strconv.Itoa(i)+"]")
			if err != nil {
				return nil, err
			}
			n.elems[i] = v
		}
	}
	return n, nil
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
	if n == nil {
		return nil
	}
	for i, k := range n.keys {
		if k == key {
			return n.vals[i]
		}
	}
	return nil
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
func checkDuplicateKeys(sc *jsonscan.Scanner, raw []byte, path string) error {
	switch jsonscan.KindOf(raw) {
	case jsonscan.Object:
		fields, err := sc.Members(raw, nil)
		if err != nil {
			return err
		}
		for i := range fields {
			k := fields[i].Key
			for j := 0; j < i; j++ {
				if string(fields[j].Key) == string(k) {
					return &fieldError{join(path, string(k)), errDuplicateKey}
				}
			}
			if c := fields[i].Kind; c == jsonscan.Object || c == jsonscan.Array {
				if err := checkDuplicateKeys(sc, fields[i].Value, join(path, string(k))); err != nil {
					return err
				}
			}
		}
	case jsonscan.Array:
		elems, err := sc.Elements(raw, nil)
		if err != nil {
			return err
		}
		for i, e := range elems {
			if c := jsonscan.KindOf(e); c == jsonscan.Object || c == jsonscan.Array {
				if err := checkDuplicateKeys(sc, e, path+"["+strconv.Itoa(i)+"]"); err != nil {
					return err
				}
			}
		}
	}
	return nil
}
