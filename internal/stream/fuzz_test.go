package stream

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
)

// checkResult checks what holds for any input: lines start at 1 and never
// go back, every error is a positioned *Error, and every way of reading
// agrees.
func checkResult(t *testing.T, in []byte, f Format) result {
	t.Helper()
	opt := Options{MaxRecordBytes: 1 << 12}
	want := readNext("fuzz", bytes.NewReader(in), f, opt)
	small := opt
	small.bufSize = 5
	for name, got := range map[string]result{
		"onebyte": readNext("fuzz", iotest.OneByteReader(bytes.NewReader(in)), f, small),
		"batch":   readBatches("fuzz", iotest.HalfReader(bytes.NewReader(in)), f, small, 3),
	} {
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s differs on %q:\n got %v\nwant %v", name, in, got, want)
		}
	}
	last := 1
	for _, r := range want.Recs {
		if r.Line < last {
			t.Fatalf("line %d after %d on %q", r.Line, last, in)
		}
		last = r.Line
		if r.Err != "" && !strings.HasPrefix(r.Err, "fuzz:") {
			t.Fatalf("unpositioned record error %q", r.Err)
		}
	}
	if want.Fatal != "" && !strings.HasPrefix(want.Fatal, "fuzz:") {
		t.Fatalf("unpositioned error %q", want.Fatal)
	}
	return want
}

func addSeeds(f *testing.F, seeds ...string) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
}

func FuzzNDJSON(f *testing.F) {
	addSeeds(f, "", "{\"a\":1}\n\n{\"b\":2}\r\n", "\xef\xbb\xbf{}\n", "  \n\t\n{}", "{}\r")
	f.Fuzz(func(t *testing.T, in []byte) {
		got := checkResult(t, in, FormatNDJSON)
		if isGzip(in) {
			return
		}
		if got.Fatal != "" {
			t.Fatalf("fatal error on NDJSON: %s", got.Fatal)
		}
		// Oracle: the non-blank lines, in order (a list page's elements
		// are its records: FuzzContainers).
		body := bytes.TrimPrefix(in, []byte("\xef\xbb\xbf"))
		for _, line := range bytes.Split(body, []byte("\n")) {
			if containerPrefilter(bytes.TrimSpace(line)) {
				return
			}
		}
		var want []rec
		for i, line := range strings.Split(string(body), "\n") {
			line = strings.TrimSuffix(line, "\r")
			if strings.Trim(line, " \t\r") == "" {
				continue
			}
			if len(line) > 1<<12 {
				want = append(want, rec{Line: i + 1, Err: "fuzz:" + itoa(i+1) + ": record too long: longer than 4096 bytes"})
				continue
			}
			want = append(want, rec{Line: i + 1, Text: line})
		}
		if !reflect.DeepEqual(got.Recs, want) {
			t.Fatalf("on %q:\n got %v\nwant %v", in, got.Recs, want)
		}
	})
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}

func FuzzJSONArray(f *testing.F) {
	addSeeds(f, "", "[]", `[{"a":1},{"b":"}]\"{"}]`, "[\n{\"a\":[1,{}]}\n,\n{}]", `[1,"x",null]`, `{"a":1}{"b":2}`,
		"[{\"a\":1}", "[{}] x", "[{},]", `[{"a":"\\"}]`)
	f.Fuzz(func(t *testing.T, in []byte) {
		got := checkResult(t, in, FormatJSON)
		if isGzip(in) {
			return
		}
		// Oracle: a valid JSON array is read element by element, exactly.
		body := bytes.TrimPrefix(in, []byte("\xef\xbb\xbf"))
		var elems []json.RawMessage
		trimmed := bytes.TrimLeft(body, " \t\r\n")
		if len(body) > 1<<12 || len(trimmed) == 0 || trimmed[0] != '[' || json.Unmarshal(body, &elems) != nil || !json.Valid(body) {
			return
		}
		for _, e := range elems {
			if containerPrefilter(e) {
				return // a list page is read as its elements (FuzzContainers)
			}
		}
		if got.Fatal != "" {
			t.Fatalf("valid array %q: %s", in, got.Fatal)
		}
		if len(got.Recs) != len(elems) {
			t.Fatalf("valid array %q: %d records, want %d", in, len(got.Recs), len(elems))
		}
		for i, e := range elems {
			if got.Recs[i].Text != string(e) {
				t.Fatalf("element %d: %q, want %q", i, got.Recs[i].Text, e)
			}
			if isObj := e[0] == '{'; isObj != (got.Recs[i].Err == "") {
				t.Fatalf("element %d %q: err %q", i, e, got.Recs[i].Err)
			}
		}
	})
}

func FuzzCSV(f *testing.F) {
	addSeeds(f, "", "id,amount\n", "id,amount\na,1\n\nb,2", "a,b\n\"x\ny\",\"\"\"\"\n", "a\n\"x", "a,b\n1\n", "a,b\n1,x\"y\n2,3",
		"a,a\n", "\xef\xbb\xbfa\r\nb\r\n")
	f.Fuzz(func(t *testing.T, in []byte) {
		got := checkResult(t, in, FormatCSV)
		if isGzip(in) {
			return
		}
		// Oracle: encoding/csv, on inputs where it reads everything and our
		// rules agree with it (no CR, no BOM, no blank header, no duplicate
		// or space-padded names, short rows).
		if bytes.ContainsAny(in, "\r") || bytes.HasPrefix(in, []byte("\xef\xbb\xbf")) || len(in) > 1<<12 {
			return
		}
		cr := csv.NewReader(bytes.NewReader(in))
		cr.FieldsPerRecord = -1
		all, err := cr.ReadAll()
		if err != nil {
			return
		}
		if len(all) == 0 {
			if got.Fatal != "" || got.Header != nil || len(got.Recs) != 0 {
				t.Fatalf("empty: %v", got)
			}
			return
		}
		for _, h := range all[0] {
			if h != strings.TrimSpace(h) {
				return
			}
		}
		seen := map[string]bool{}
		for _, h := range all[0] {
			if seen[h] && h != "" {
				if got.Fatal == "" {
					t.Fatalf("duplicate column accepted: %v", got)
				}
				return
			}
			seen[h] = true
		}
		if got.Fatal != "" {
			t.Fatalf("%q: fatal %s", in, got.Fatal)
		}
		if !reflect.DeepEqual(got.Header, all[0]) || len(got.Recs) != len(all)-1 {
			t.Fatalf("%q:\n got %v\nwant %q", in, got, all)
		}
		cr = csv.NewReader(bytes.NewReader(in))
		cr.FieldsPerRecord = -1
		cr.Read()
		for i, r := range got.Recs {
			row, _ := cr.Read()
			line, _ := cr.FieldPos(0)
			if !reflect.DeepEqual(r.CSV, row) || r.Line != line {
				t.Fatalf("%q row %d: got %d %q, want %d %q", in, i, r.Line, r.CSV, line, row)
			}
			if (len(row) != len(all[0])) != (r.Err != "") {
				t.Fatalf("%q row %d: err %q", in, i, r.Err)
			}
		}
	})
}

// isGzip reports whether in starts with gzip's magic bytes (and is read as gzip).
func isGzip(in []byte) bool { return len(in) >= 2 && in[0] == 0x1f && in[1] == 0x8b }

// FuzzContainers: a list page (Stripe list or search result, Chargebee
// list) is read as its elements, each an object or a bad record, whatever
// surrounds it, in every framing.
func FuzzContainers(f *testing.F) {
	addSeeds(f, `{"object":"list","data":[{"id":"a"},{"id":"b"}],"has_more":false}`,
		"{\n \"object\": \"search_result\",\n \"data\": [\n  {\"id\": 1}\n ]\n}\n",
		`{"list":[{"invoice":{"id":"1"}},2],"next_offset":null}`, `[{"object":"list","data":[]},{"id":"x"}]`,
		`{"object":"list","data":{"id":"a"}}`, `{"id":"t","list":[{}]}`)
	f.Fuzz(func(t *testing.T, in []byte) {
		got := checkResult(t, in, FormatAuto)
		if isGzip(in) || len(in) > 1<<12 {
			return
		}
		// Oracle: one valid list object alone is read as its data's elements.
		// A list object without a data array is not a page: it stays one
		// record, for the converter to refuse, never zero records.
		// Keys are matched exactly, as Stripe writes them: a map, since
		// encoding/json would match a struct's fields in any case ("dAtA").
		var page map[string]json.RawMessage
		var object string
		var data []json.RawMessage
		body := bytes.TrimSpace(bytes.TrimPrefix(in, []byte("\xef\xbb\xbf")))
		if !json.Valid(body) || len(body) == 0 || body[0] != '{' || json.Unmarshal(body, &page) != nil ||
			json.Unmarshal(page["object"], &object) != nil || object != "list" ||
			json.Unmarshal(page["data"], &data) != nil || data == nil ||
			bytes.Count(body, []byte(`"object"`)) != 1+bytes.Count(bytes.Join(rawStrings(data), nil), []byte(`"object"`)) {
			return
		}
		if got.Fatal != "" {
			t.Fatalf("list %q: %s", in, got.Fatal)
		}
		if len(got.Recs) != len(data) {
			t.Fatalf("list %q: %d records, want %d", in, len(got.Recs), len(data))
		}
		for i, e := range data {
			if got.Recs[i].Text != string(e) {
				t.Fatalf("element %d: %q, want %q", i, got.Recs[i].Text, e)
			}
		}
	})
}

func rawStrings(r []json.RawMessage) [][]byte {
	out := make([][]byte, len(r))
	for i, e := range r {
		out[i] = e
	}
	return out
}
