package jsonscan

import (
	"encoding/json"
	"testing"
)

func TestUnquote(t *testing.T) {
	for _, in := range []string{`"plain"`, `"a\"b\\c\/d\b\f\n\r\t"`, `"\u00e9\u20ac"`, `"\ud83d\ude00"`, `"\ud800x"`, `"\udc00"`, `"\ud800\u0041"`} {
		var want string
		if err := json.Unmarshal([]byte(in), &want); err != nil {
			t.Fatal(err)
		}
		if got := string(AppendUnquoted(nil, []byte(in))); got != want {
			t.Errorf("%s: got %q, want %q", in, got, want)
		}
	}
}

func TestObject(t *testing.T) {
	var s Scanner
	fields, err := s.Object([]byte(` {"a" : 1, "b\u0063":{"x":[true,false,null]}, "s":"\u00e9"} `))
	if err != nil {
		t.Fatal(err)
	}
	want := [][3]string{{"a", "1", "number"}, {"bc", `{"x":[true,false,null]}`, "object"}, {"s", `"\u00e9"`, "string"}}
	if len(fields) != len(want) {
		t.Fatalf("%d fields", len(fields))
	}
	for i, f := range fields {
		if string(f.Key) != want[i][0] || string(f.Value) != want[i][1] || f.Kind.String() != want[i][2] {
			t.Errorf("field %d: %q %q %v", i, f.Key, f.Value, f.Kind)
		}
	}
	for _, bad := range []string{`{"a":1}{`, `{"a":01}`, `{"a":1.}`, `{"a":-}`, `{"a":"\u12"}`, `{"a":nul}`, `{"a" 1}`, `{a:1}`, "{\"a\":\"\x01\"}"} {
		if _, err := s.Object([]byte(bad)); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
	if err := Valid([]byte(` [1, {"a": [2]}] `)); err != nil {
		t.Error(err)
	}
}
