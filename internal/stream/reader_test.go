package stream

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
)

// rec is a record as the tests compare it.
type rec struct {
	Line int
	Text string
	CSV  []string
	Err  string
}

type result struct {
	Format Format
	Header []string
	Recs   []rec
	Fatal  string // Open's or the last error, "" at a clean end
}

func (r result) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "format=%v header=%q fatal=%q\n", r.Format, r.Header, r.Fatal)
	for _, x := range r.Recs {
		fmt.Fprintf(&b, "  %d %q csv=%q err=%q\n", x.Line, x.Text, x.CSV, x.Err)
	}
	return b.String()
}

func toRec(r Record) rec {
	x := rec{Line: r.Line, Text: string(r.Text)}
	if r.CSV != nil {
		// Cloned: from ReadBatch the fields live in the batch's memory.
		x.CSV = make([]string, len(r.CSV))
		for i, f := range r.CSV {
			x.CSV[i] = strings.Clone(f)
		}
	}
	if r.Err != nil {
		x.Err = r.Err.Error()
	}
	return x
}

// readNext reads everything with Next.
func readNext(name string, in io.Reader, f Format, opt Options) result {
	rd, err := Open(name, in, f, opt)
	if err != nil {
		return result{Fatal: err.Error()}
	}
	res := result{Format: rd.Format(), Header: rd.Header()}
	for {
		r, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			res.Fatal = err.Error()
			// The error is sticky.
			if _, err2 := rd.Next(); err2 == nil || err2.Error() != err.Error() {
				res.Fatal += " (NOT STICKY)"
			}
			break
		}
		if r.Source != rd.Source() {
			res.Fatal = "bad source " + r.Source
		}
		res.Recs = append(res.Recs, toRec(r))
	}
	return res
}

// readBatches reads everything with ReadBatch, keeping two batches in
// flight to check that a batch's records survive the next fill.
func readBatches(name string, in io.Reader, f Format, opt Options, max int) result {
	rd, err := Open(name, in, f, opt)
	if err != nil {
		return result{Fatal: err.Error()}
	}
	res := result{Format: rd.Format(), Header: rd.Header()}
	var bs [3]Batch
	var prev *Batch
	var prevCopy []rec
	for i := 0; ; i++ {
		b := &bs[i%3]
		err := rd.ReadBatch(b, max)
		// The previous batch must still hold what it held.
		if prev != nil {
			for j, r := range prev.Records {
				if !reflect.DeepEqual(toRec(r), prevCopy[j]) {
					res.Fatal = "batch records changed under the reader"
					return res
				}
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			res.Fatal = err.Error()
			break
		}
		if b.Len() == 0 || b.Len() > max {
			res.Fatal = fmt.Sprintf("batch of %d records", b.Len())
			return res
		}
		prevCopy = prevCopy[:0]
		for _, r := range b.Records {
			prevCopy = append(prevCopy, toRec(r))
		}
		res.Recs = append(res.Recs, prevCopy...)
		prev = b
	}
	return res
}

// readAllWays reads input in several ways that must agree, and returns the
// result.
func readAllWays(t *testing.T, name, input string, f Format, opt Options) result {
	t.Helper()
	want := readNext(name, strings.NewReader(input), f, opt)
	small := opt
	small.bufSize = 7
	variants := map[string]result{
		"onebyte":       readNext(name, iotest.OneByteReader(strings.NewReader(input)), f, opt),
		"smallbuf":      readNext(name, iotest.HalfReader(strings.NewReader(input)), f, small),
		"batch":         readBatches(name, strings.NewReader(input), f, opt, 2),
		"batch-small":   readBatches(name, iotest.HalfReader(strings.NewReader(input)), f, small, 3),
		"batch-onebyte": readBatches(name, iotest.OneByteReader(strings.NewReader(input)), f, small, 1000),
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(input))
	zw.Close()
	variants["gzip"] = readNext(name, bytes.NewReader(gz.Bytes()), f, opt)
	for vname, got := range variants {
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: reading %q differs:\n got %v\nwant %v", vname, input, got, want)
		}
	}
	return want
}

func TestNDJSON(t *testing.T) {
	tests := []struct {
		name, in string
		want     []rec
	}{
		{"empty", "", nil},
		{"blank only", "\n  \n\t\r\n", nil},
		{"one", `{"id":"a"}`, []rec{{1, `{"id":"a"}`, nil, ""}}},
		{"newline end", "{\"id\":\"a\"}\n", []rec{{1, `{"id":"a"}`, nil, ""}}},
		{"blank lines counted", "\n{\"a\":1}\n\n  \n{\"b\":2}\n\n", []rec{{2, `{"a":1}`, nil, ""}, {5, `{"b":2}`, nil, ""}}},
		{"crlf", "{\"a\":1}\r\n{\"b\":2}\r\n", []rec{{1, `{"a":1}`, nil, ""}, {2, `{"b":2}`, nil, ""}}},
		{"bom", "\xef\xbb\xbf{\"a\":1}\n", []rec{{1, `{"a":1}`, nil, ""}}},
		{"junk line kept for the parser", "{\"a\":1}\nnot json\n", []rec{{1, `{"a":1}`, nil, ""}, {2, "not json", nil, ""}}},
		{"last line without end", "{\"a\":1}\n{\"b\":2}", []rec{{1, `{"a":1}`, nil, ""}, {2, `{"b":2}`, nil, ""}}},
		{"trailing cr at end", "{\"b\":2}\r", []rec{{1, `{"b":2}`, nil, ""}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := readAllWays(t, "tx.ndjson", tt.in, FormatAuto, Options{})
			if got.Fatal != "" || got.Format != FormatNDJSON || !reflect.DeepEqual(got.Recs, tt.want) {
				t.Errorf("got %v\nwant records %v", got, tt.want)
			}
		})
	}
}

func TestNDJSONLongLines(t *testing.T) {
	big := `{"id":"` + strings.Repeat("x", 3<<20) + `"}`
	in := "{\"a\":1}\n" + big + "\n{\"b\":2}\n"
	rd, err := Open("tx.ndjson", strings.NewReader(in), FormatNDJSON, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var lines []int
	for {
		r, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil || r.Err != nil {
			t.Fatal(err, r.Err)
		}
		if r.Line == 2 && string(r.Text) != big {
			t.Errorf("long line mangled (len %d)", len(r.Text))
		}
		lines = append(lines, r.Line)
	}
	if !reflect.DeepEqual(lines, []int{1, 2, 3}) {
		t.Errorf("lines %v", lines)
	}
	// Batches too.
	res := readBatches("tx.ndjson", strings.NewReader(in), FormatNDJSON, Options{}, 2)
	if res.Fatal != "" || len(res.Recs) != 3 || res.Recs[1].Text != big {
		t.Errorf("batches: fatal %q, %d records", res.Fatal, len(res.Recs))
	}
}

func TestNDJSONTooLong(t *testing.T) {
	in := "{\"a\":1}\n{\"id\":\"" + strings.Repeat("x", 100) + "\"}\n{\"b\":2}\n" + strings.Repeat("y", 500)
	got := readAllWays(t, "t.ndjson", in, FormatAuto, Options{MaxRecordBytes: 50})
	want := []rec{
		{1, `{"a":1}`, nil, ""},
		{2, "", nil, "t.ndjson:2: record too long: longer than 50 bytes"},
		{3, `{"b":2}`, nil, ""},
		{4, "", nil, "t.ndjson:4: record too long: longer than 50 bytes"},
	}
	if got.Fatal != "" || !reflect.DeepEqual(got.Recs, want) {
		t.Errorf("got %v", got)
	}
	// Exactly the limit is fine.
	in = `{"id":"` + strings.Repeat("x", 40) + "\"}\r\n"
	got = readAllWays(t, "t.ndjson", in, FormatAuto, Options{MaxRecordBytes: 50})
	if got.Fatal != "" || len(got.Recs) != 1 || got.Recs[0].Err != "" {
		t.Errorf("got %v", got)
	}
}

func TestJSONArray(t *testing.T) {
	tests := []struct {
		name, in string
		want     []rec
		fatal    string
	}{
		{"empty input", "", nil, ""},
		{"empty array", " [ ] \n", nil, ""},
		{"two", `[{"id":"a"},{"id":"b"}]`, []rec{{1, `{"id":"a"}`, nil, ""}, {1, `{"id":"b"}`, nil, ""}}, ""},
		{"pretty", "[\n  {\n    \"id\": \"a\",\n    \"s\": \"}]\\\"{\"\n  },\n  {\"id\": \"b\"}\n]\n",
			[]rec{{2, "{\n    \"id\": \"a\",\n    \"s\": \"}]\\\"{\"\n  }", nil, ""}, {6, `{"id": "b"}`, nil, ""}}, ""},
		{"nested", `[{"lines":[{"a":"1"},{"b":[1,2,{}]}]}]`, []rec{{1, `{"lines":[{"a":"1"},{"b":[1,2,{}]}]}`, nil, ""}}, ""},
		{"bom crlf", "\xef\xbb\xbf[\r\n{\"a\":1},\r\n{\"b\":2}\r\n]\r\n", []rec{{2, `{"a":1}`, nil, ""}, {3, `{"b":2}`, nil, ""}}, ""},
		{"cut off in element", "[\n{\"a\":1},\n{\"b\":", []rec{{2, `{"a":1}`, nil, ""}}, "tx.json:3: unexpected end of input inside the record starting on this line"},
		{"cut off after element", "[\n{\"a\":1}\n", []rec{{2, `{"a":1}`, nil, ""}}, "tx.json:3: unexpected end of input: the JSON array is not closed"},
		{"cut off after comma", "[{\"a\":1},", []rec{{1, `{"a":1}`, nil, ""}}, "tx.json:1: unexpected end of input: the JSON array is not closed"},
		{"cut off in string", "[{\"a\":\"x", nil, "tx.json:1: unexpected end of input inside the record starting on this line"},
		{"junk after", "[{\"a\":1}]\n\nxyz", []rec{{1, `{"a":1}`, nil, ""}}, "tx.json:3: unexpected 'x' after the end of the JSON array"},
		{"second array", "[{\"a\":1}] []", []rec{{1, `{"a":1}`, nil, ""}}, "tx.json:1: unexpected '[' after the end of the JSON array"},
		{"trailing comma", "[{\"a\":1},]", []rec{{1, `{"a":1}`, nil, ""}}, "tx.json:1: unexpected ']' after ',' in the JSON array"},
		{"missing comma", "[{\"a\":1} {\"b\":1}]", []rec{{1, `{"a":1}`, nil, ""}}, "tx.json:1: unexpected '{' after an array element: want ',' or ']'"},
		{"mismatched", "[{\"a\":[1}]", nil, "tx.json:1: unexpected '}' in the JSON record starting on line 1"},
		{"not an object", "[1, \"x\", null, [2], {\"a\":1}]", []rec{
			{1, "1", nil, "tx.json:1: array element is not an object"},
			{1, `"x"`, nil, "tx.json:1: array element is not an object"},
			{1, "null", nil, "tx.json:1: array element is not an object"},
			{1, "[2]", nil, "tx.json:1: array element is not an object"},
			{1, `{"a":1}`, nil, ""}}, ""},
		{"bad start", "x", nil, "tx.json:1: unexpected 'x': want a JSON array or objects"},
		{"bad element", "[}", nil, "tx.json:1: unexpected '}' where an array element should be"},
		{"object sequence", "{\"a\":1}\n{\n\"b\":2}\n", []rec{{1, `{"a":1}`, nil, ""}, {2, "{\n\"b\":2}", nil, ""}}, ""},
		{"sequence junk", "{\"a\":1} 5", []rec{{1, `{"a":1}`, nil, ""}}, "tx.json:1: unexpected '5': want the next object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := readAllWays(t, "tx.json", tt.in, FormatAuto, Options{})
			if got.Fatal != tt.fatal || !reflect.DeepEqual(got.Recs, tt.want) {
				t.Errorf("got %v\nwant records %v fatal %q", got, tt.want, tt.fatal)
			}
		})
	}
}

func TestCSV(t *testing.T) {
	tests := []struct {
		name, in string
		header   []string
		want     []rec
		fatal    string
	}{
		{"empty", "", nil, nil, ""},
		{"header only", "id,amount\n", []string{"id", "amount"}, nil, ""},
		{"header only no newline", "id,amount", []string{"id", "amount"}, nil, ""},
		{"rows", "id,amount\na,1.00\nb,2\n", []string{"id", "amount"},
			[]rec{{2, "a,1.00", []string{"a", "1.00"}, ""}, {3, "b,2", []string{"b", "2"}, ""}}, ""},
		{"crlf bom", "\xef\xbb\xbfid,amount\r\na,1\r\n\r\nb,2\r\n", []string{"id", "amount"},
			[]rec{{2, "a,1", []string{"a", "1"}, ""}, {4, "b,2", []string{"b", "2"}, ""}}, ""},
		{"quoted newline", "id,note\n\"a\",\"x\ny\"\"z\"\nb,\"\"\n", []string{"id", "note"},
			[]rec{{2, "\"a\",\"x\ny\"\"z\"", []string{"a", "x\ny\"z"}, ""}, {4, `b,""`, []string{"b", ""}, ""}}, ""},
		{"quoted crlf end", "id,note\r\n\"a\",\"b\"\r\n\"c\",\"d\"", []string{"id", "note"},
			[]rec{{2, `"a","b"`, []string{"a", "b"}, ""}, {3, `"c","d"`, []string{"c", "d"}, ""}}, ""},
		{"empty fields", "a,b,c\n,,\n", []string{"a", "b", "c"}, []rec{{2, ",,", []string{"", "", ""}, ""}}, ""},
		{"ragged", "a,b\n1,2\n1\n1,2,3\n4,5\n", []string{"a", "b"}, []rec{
			{2, "1,2", []string{"1", "2"}, ""},
			{3, "1", []string{"1"}, "tx.csv:3: row has 1 fields, the header has 2"},
			{4, "1,2,3", []string{"1", "2", "3"}, "tx.csv:4: row has 3 fields, the header has 2"},
			{5, "4,5", []string{"4", "5"}, ""}}, ""},
		{"bare quote", "a,b\n1,x\"y\n2,3\n", []string{"a", "b"}, []rec{
			{2, "1,x\"y", []string{"1"}, "tx.csv:2: bare \" in a field that does not start with a quote"},
			{3, "2,3", []string{"2", "3"}, ""}}, ""},
		{"after quote", "a,b\n1,\"x\"y\n2,3\n", []string{"a", "b"}, []rec{
			{2, "1,\"x\"y", []string{"1", "x"}, "tx.csv:2: extraneous character after a closing quote"},
			{3, "2,3", []string{"2", "3"}, ""}}, ""},
		{"unterminated", "a,b\n1,2\n3,\"x\n\n", []string{"a", "b"}, []rec{{2, "1,2", []string{"1", "2"}, ""}},
			"tx.csv:3: unexpected end of input in a quoted field (a missing closing quote?)"},
		{"duplicate column", "id,a,id\n", nil, nil, `tx.csv:1: duplicate column "id" in the header`},
		{"header trimmed", " id , amount\n", []string{"id", "amount"}, nil, ""},
		{"leading blank lines", "\n\nid\nx\n", []string{"id"}, []rec{{4, "x", []string{"x"}, ""}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := readAllWays(t, "tx.csv", tt.in, FormatAuto, Options{})
			if got.Fatal != tt.fatal || !reflect.DeepEqual(got.Recs, tt.want) || (tt.fatal == "" && !reflect.DeepEqual(got.Header, tt.header)) {
				t.Errorf("got %v\nwant header %q records %v fatal %q", got, tt.header, tt.want, tt.fatal)
			}
		})
	}
}

func TestCSVTooLong(t *testing.T) {
	in := "id\n\"" + strings.Repeat("x", 100) + "\"\n"
	got := readNext("t.csv", strings.NewReader(in), FormatCSV, Options{MaxRecordBytes: 50})
	if got.Fatal != "t.csv:2: record too long: longer than 50 bytes" {
		t.Errorf("got %v", got)
	}
	in = "id\n" + strings.Repeat("y", 1<<20) + "\n"
	res := readAllWays(t, "t.csv", in, FormatCSV, Options{})
	if res.Fatal != "" || len(res.Recs) != 1 || len(res.Recs[0].CSV[0]) != 1<<20 {
		t.Errorf("long CSV row: fatal %q", res.Fatal)
	}
}

func TestDetect(t *testing.T) {
	tests := []struct {
		name, in string
		f        Format
		want     Format
	}{
		{"x.ndjson", "id,a\n", FormatAuto, FormatNDJSON},
		{"x.JSONL.gz", "", FormatAuto, FormatNDJSON},
		{"x.json", "{}", FormatAuto, FormatJSON},
		{"x.csv.gz", "{}", FormatAuto, FormatCSV},
		{"-", "\n\n  [", FormatAuto, FormatJSON},
		{"-", "\xef\xbb\xbf  {}", FormatAuto, FormatNDJSON},
		{"data.txt", "id,amount\n", FormatAuto, FormatCSV},
		{"-", "", FormatAuto, FormatNDJSON},
		{"x.csv", "{}", FormatNDJSON, FormatNDJSON},
	}
	for _, tt := range tests {
		rd, err := Open(tt.name, strings.NewReader(tt.in), tt.f, Options{})
		if err != nil {
			t.Errorf("%s %q: %v", tt.name, tt.in, err)
			continue
		}
		if rd.Format() != tt.want {
			t.Errorf("%s %q: format %v, want %v", tt.name, tt.in, rd.Format(), tt.want)
		}
	}
	if rd, _ := Open("-", strings.NewReader(""), FormatAuto, Options{}); rd.Source() != "stdin" {
		t.Errorf("source %q", rd.Source())
	}
}

func TestGzip(t *testing.T) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	io.WriteString(zw, "id,amount\na,1\n")
	zw.Close()
	zw = gzip.NewWriter(&buf) // a second member
	io.WriteString(zw, "b,2\n")
	zw.Close()
	n := buf.Len()
	rd, err := Open("upload.bin", &buf, FormatAuto, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rd.Format() != FormatCSV {
		t.Fatalf("format %v", rd.Format())
	}
	var ids []string
	for {
		r, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.CSV[0])
	}
	if !reflect.DeepEqual(ids, []string{"a", "b"}) {
		t.Errorf("ids %v", ids)
	}
	if rd.BytesRead() != int64(n) {
		t.Errorf("BytesRead %d, want %d", rd.BytesRead(), n)
	}

	// A truncated gzip stream: the records before the cut, then an error.
	buf.Reset()
	zw = gzip.NewWriter(&buf)
	for i := 0; i < 1000; i++ {
		fmt.Fprintf(zw, "{\"id\":\"%d\"}\n", i)
	}
	zw.Close()
	cut := buf.Bytes()[:buf.Len()-10]
	rd, err = Open("t.ndjson.gz", bytes.NewReader(cut), FormatAuto, Options{})
	if err != nil {
		t.Fatal(err)
	}
	count := 0
	for {
		_, err := rd.Next()
		if err == io.EOF {
			t.Fatal("truncated gzip read to a clean end")
		}
		if err != nil {
			var se *Error
			if !errors.As(err, &se) || !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("error %v", err)
			}
			break
		}
		count++
	}
	if count != 1000 {
		t.Errorf("%d records before the error", count)
	}
}

type failReader struct{ n int }

func (f *failReader) Read(p []byte) (int, error) {
	if f.n == 0 {
		return 0, errors.New("disk on fire")
	}
	f.n--
	return copy(p, "{\"a\":1}\n"), nil
}

func TestReadError(t *testing.T) {
	rd, err := Open("x.ndjson", &failReader{n: 2}, FormatAuto, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var n int
	for {
		_, err = rd.Next()
		if err != nil {
			break
		}
		n++
	}
	if n != 2 || err.Error() != "x.ndjson:3: read: disk on fire" {
		t.Errorf("%d records, then %v", n, err)
	}
}

func TestError(t *testing.T) {
	inner := errors.New("boom")
	e := &Error{Source: "a.csv", Line: 3, Field: "amount", Err: inner}
	if e.Error() != "a.csv:3: amount: boom" || !errors.Is(e, inner) {
		t.Errorf("%v", e)
	}
	e.Field = ""
	if e.Error() != "a.csv:3: boom" {
		t.Errorf("%v", e)
	}
}

func TestParseFormat(t *testing.T) {
	for _, s := range []string{"auto", "ndjson", "json", "csv"} {
		f, err := ParseFormat(s)
		if err != nil || f.String() != s {
			t.Errorf("%s: %v %v", s, f, err)
		}
	}
	if _, err := ParseFormat("xml"); err == nil {
		t.Error("xml accepted")
	}
}
