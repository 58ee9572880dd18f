package stream

import (
	"reflect"
	"testing"
)

// List pages of billing APIs are read as their elements, in every JSON
// format, pretty-printed or not, and pretty-printed objects on stdin are a
// sequence of objects, not NDJSON.
func TestContainers(t *testing.T) {
	tests := []struct {
		name, file, in string
		want           []rec
		fatal          string
	}{
		{"stripe list ndjson", "stdin", `{"object":"list","data":[{"id":"a"},{"id":"b"}],"has_more":false}` + "\n" + `{"id":"c"}` + "\n",
			[]rec{{1, `{"id":"a"}`, nil, ""}, {1, `{"id":"b"}`, nil, ""}, {2, `{"id":"c"}`, nil, ""}}, ""},
		{"stripe list pretty", "stdin", "{\n  \"object\": \"list\",\n  \"url\": \"/v1/invoices\",\n  \"data\": [\n    {\n      \"id\": \"a\"\n    },\n    {\"id\": \"b\"}\n  ]\n}\n",
			[]rec{{5, "{\n      \"id\": \"a\"\n    }", nil, ""}, {8, `{"id": "b"}`, nil, ""}}, ""},
		{"search result", "x.json", `{"object":"search_result","data":[{"id":"a"}],"has_more":false,"next_page":null}`,
			[]rec{{1, `{"id":"a"}`, nil, ""}}, ""},
		{"chargebee list", "stdin", "{\"list\":[\n{\"invoice\":{\"id\":\"1\"}},\n{\"invoice\":{\"id\":\"2\"}}],\"next_offset\":\"x\"}\n",
			[]rec{{2, `{"invoice":{"id":"1"}}`, nil, ""}, {3, `{"invoice":{"id":"2"}}`, nil, ""}}, ""},
		{"pages in an array", "p.json", `[{"object":"list","data":[{"id":"a"}]},{"object":"list","data":[]},{"id":"b"}]`,
			[]rec{{1, `{"id":"a"}`, nil, ""}, {1, `{"id":"b"}`, nil, ""}}, ""},
		{"element not an object", "stdin", `{"object":"list","data":[1,{"id":"a"}]}`,
			[]rec{{1, "1", nil, "stdin:1: list element is not an object"}, {1, `{"id":"a"}`, nil, ""}}, ""},
		// A transaction that happens to carry a "data" or "list" field is a record.
		{"record with data", "stdin", `{"id":"t","data":[{"id":"a"}]}` + "\n" + `{"list":[1],"id":"u"}`,
			[]rec{{1, `{"id":"t","data":[{"id":"a"}]}`, nil, ""}, {2, `{"list":[1],"id":"u"}`, nil, ""}}, ""},
		{"pretty objects on stdin", "stdin", "{\n  \"id\": \"a\"\n}\n{\n  \"id\": \"b\"\n}\n",
			[]rec{{1, "{\n  \"id\": \"a\"\n}", nil, ""}, {4, "{\n  \"id\": \"b\"\n}", nil, ""}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := readAllWays(t, tt.file, tt.in, FormatAuto, Options{})
			if got.Fatal != tt.fatal || !reflect.DeepEqual(got.Recs, tt.want) {
				t.Errorf("got %v\nwant records %v fatal %q", got, tt.want, tt.fatal)
			}
		})
	}
}
