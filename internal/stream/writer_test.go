package stream

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzAppendJSONString checks the encoder against encoding/json: what it
// writes is valid JSON that decodes to the text (each invalid UTF-8 byte
// replaced by U+FFFD), and WriteJSONString writes the same bytes.
func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "a", `"\`, "\n\r\t\x00\x1f\x7f", "é\u2028", "\xff\xfe", "a\xc3", "<&>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := AppendJSONString([]byte("x"), s)[1:]
		var back string
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatalf("AppendJSONString(%q) = %s, not JSON: %v", s, got, err)
		}
		if want := string([]rune(s)); back != want {
			t.Errorf("AppendJSONString(%q) decodes to %q, want %q", s, back, want)
		}
		var buf bytes.Buffer
		w := bufio.NewWriter(&buf)
		WriteJSONString(w, s)
		w.Flush()
		if !bytes.Equal(buf.Bytes(), got) {
			t.Errorf("WriteJSONString(%q) = %s, AppendJSONString %s", s, buf.Bytes(), got)
		}
	})
}

// FuzzAppendCSVField checks the one CSV quoting rule against encoding/csv.
func FuzzAppendCSVField(f *testing.F) {
	for _, s := range []string{"", "a", `\.`, `\.x`, " a", "\u00a0a", "\u2028", "a,b", `a"b`, "a\rb\nc", "é", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var want bytes.Buffer
		cw := csv.NewWriter(&want)
		cw.Write([]string{s})
		cw.Flush()
		want.Truncate(want.Len() - 1) // the newline
		if got := AppendCSVField(nil, s); string(got) != want.String() {
			t.Errorf("AppendCSVField(%q) = %q, want %q", s, got, want.String())
		}
		if got := AppendCSVField(nil, []byte(s)); string(got) != want.String() {
			t.Errorf("AppendCSVField([]byte(%q)) = %q, want %q", s, got, want.String())
		}
	})
}

// TestRowWriterEmptyCells checks that an empty value is printed the same
// way in every command's output: an empty cell in CSV and tables, "" for
// text and money in JSON, null for numbers and raw JSON, [] for a list.
func TestRowWriterEmptyCells(t *testing.T) {
	cols := []Column{{Name: "t"}, {Name: "m", Kind: Money}, {Name: "n", Kind: Number}, {Name: "r", Kind: RawJSON}, {Name: "l", Kind: List}, {Name: "x"}}
	vals := []string{"", "", "", "", "", "end"}
	want := map[OutputFormat]string{
		OutputNDJSON: `{"t":"","m":"","n":null,"r":null,"l":[],"x":"end"}` + "\n",
		OutputJSON:   "[\n" + `{"t":"","m":"","n":null,"r":null,"l":[],"x":"end"}` + "\n]\n",
		OutputCSV:    "t,m,n,r,l,x\n,,,,,end\n",
		OutputTable:  "t  m  n  r  l  x\n               end\n",
	}
	for f, w := range want {
		var buf bytes.Buffer
		rw := NewRowWriter(&buf, f, cols, RowOptions{})
		if err := rw.Write(vals); err != nil {
			t.Fatal(err)
		}
		if err := rw.Close(); err != nil {
			t.Fatal(err)
		}
		if buf.String() != w {
			t.Errorf("format %v:\ngot  %q\nwant %q", f, buf.String(), w)
		}
	}
}

// TestTableBlocks checks that a streaming table writes its header once and
// never narrows a column from one block to the next.
func TestTableBlocks(t *testing.T) {
	var buf bytes.Buffer
	rw := NewRowWriter(&buf, OutputTable, []Column{{Name: "k"}, {Name: "v", Kind: Money}}, RowOptions{TableBlock: 2})
	for _, r := range [][]string{{"a", "1.00"}, {"bbbb", "2.00"}, {"c", "3.00"}} {
		rw.Write(r)
	}
	if got := buf.String(); got != "k        v\na     1.00\nbbbb  2.00\n" {
		t.Errorf("after one block: %q", got)
	}
	rw.Close()
	want := "k        v\na     1.00\nbbbb  2.00\nc     3.00\n"
	if got := buf.String(); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if err := NewRowWriter(&buf, OutputTable, nil, RowOptions{}).WriteEncoded(nil); err != ErrTableEncoded {
		t.Errorf("table WriteEncoded: %v", err)
	}
}

// TestWriteEncoded checks the framing of rows encoded by the caller.
func TestWriteEncoded(t *testing.T) {
	for f, want := range map[OutputFormat]string{
		OutputNDJSON: "{\"a\":1}\n{\"a\":2}\n",
		OutputJSON:   "<\n{\"a\":1},\n{\"a\":2}\n>\n",
	} {
		var buf bytes.Buffer
		rw := NewRowWriter(&buf, f, nil, RowOptions{JSONPrefix: "<", JSONSuffix: ">"})
		rw.WriteEncoded([]byte(`{"a":1}`))
		rw.WriteEncoded([]byte(`{"a":2}`))
		rw.Close()
		if buf.String() != want {
			t.Errorf("format %v: got %q, want %q", f, buf.String(), want)
		}
	}
	var buf bytes.Buffer
	rw := NewRowWriter(&buf, OutputCSV, []Column{{Name: "a"}, {Name: "b"}}, RowOptions{})
	rw.WriteEncoded(AppendCSVField(append(AppendCSVField(nil, "x,y"), ','), "z\n"))
	rw.WriteEncoded([]byte("\n"))
	rw.Close()
	if want := "a,b\n\"x,y\",\"z\n\"\n"; buf.String() != want {
		t.Errorf("csv: got %q, want %q", buf.String(), want)
	}
}

// writeCounter records the size of each write it is given.
type writeCounter struct {
	bytes.Buffer
	writes []int
}

func (w *writeCounter) Write(p []byte) (int, error) {
	w.writes = append(w.writes, len(p))
	return w.Buffer.Write(p)
}

// TestWriteLines checks that lines written whole come out in order with
// rows written otherwise, small ones through the buffer and a large one
// in a write of its own after what was buffered; and that a JSON array
// has no lines.
func TestWriteLines(t *testing.T) {
	big := bytes.Repeat([]byte("{\"a\":3}\n"), directWrite/8+1)
	for _, tc := range []struct {
		f           OutputFormat
		cols        []Column
		head, first string
	}{
		{OutputNDJSON, nil, "", `{"a":1}`},
		{OutputCSV, []Column{{Name: "a"}}, "a\n", "x\n"},
	} {
		var w writeCounter
		rw := NewRowWriter(&w, tc.f, tc.cols, RowOptions{}).(LineWriter)
		rw.WriteEncoded([]byte(tc.first))
		if err := rw.WriteLines([]byte("{\"a\":2}\n")); err != nil {
			t.Fatal(err)
		}
		if err := rw.WriteLines(big); err != nil {
			t.Fatal(err)
		}
		rw.WriteLines([]byte("end\n"))
		if err := rw.Close(); err != nil {
			t.Fatal(err)
		}
		first := tc.first
		if tc.f == OutputNDJSON {
			first += "\n"
		}
		if want := tc.head + first + "{\"a\":2}\n" + string(big) + "end\n"; w.String() != want {
			t.Errorf("format %v: the output is not the rows in order", tc.f)
		}
		// What was buffered, then the large lines in one write.
		if len(w.writes) != 3 || w.writes[1] != len(big) {
			t.Errorf("format %v: writes of %v bytes, want the buffered rows, the %d bytes alone, the rest", tc.f, w.writes, len(big))
		}
	}
	var buf bytes.Buffer
	rw := NewRowWriter(&buf, OutputJSON, nil, RowOptions{}).(LineWriter)
	if err := rw.WriteLines([]byte("{}\n")); err != ErrNoLines {
		t.Errorf("JSON array WriteLines: %v, want ErrNoLines", err)
	}
}

// TestTableFits checks that a table too wide for the terminal shortens its
// widest text (to a third of the width at first), then drops the columns
// that may go, highest Drop first, then shortens text further; says so;
// and fits.
func TestTableFits(t *testing.T) {
	cols := []Column{{Name: "code"}, {Name: "name", Drop: 1}, {Name: "level", Drop: 2}, {Name: "notes"}, {Name: "amount", Kind: Money}}
	rows := [][]string{
		{"US-CA", "California", "state", "a long note about this jurisdiction", "12.00"},
		{"US-TX", "Texas", "state", "short", "1234.50"},
	}
	render := func(width int) (string, []string) {
		var buf bytes.Buffer
		var notes []string
		note := func(f Fitted) {
			notes = append(notes, fmt.Sprintf("%d (without %s; shortened %s)", f.Width, strings.Join(f.Dropped, ", "), strings.Join(f.Shortened, ", ")))
		}
		rw := NewRowWriter(&buf, OutputTable, cols, RowOptions{TableWidth: width, Note: note})
		for _, r := range rows {
			rw.Write(r)
		}
		rw.Close()
		return buf.String(), notes
	}
	wide, notes := render(0)
	if len(notes) != 0 || !strings.Contains(wide, "California") || !strings.Contains(wide, "a long note about this jurisdiction") {
		t.Fatalf("no width: %q %v", wide, notes)
	}
	// A little too wide: the widest text is shortened, nothing dropped.
	out, notes := render(66)
	if !strings.Contains(out, "level") || !strings.Contains(out, "a long note about this jurisdi…") {
		t.Errorf("width 66 should shorten notes only:\n%s", out)
	}
	if len(notes) != 1 || notes[0] != "66 (without ; shortened notes)" {
		t.Errorf("notes %v", notes)
	}
	out, notes = render(40)
	if strings.Contains(out, "California") || !strings.Contains(out, "…") {
		t.Errorf("width 40 should drop name and level and shorten notes:\n%s", out)
	}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if n := utf8.RuneCountInString(l); n > 40 {
			t.Errorf("line of %d columns: %q", n, l)
		}
	}
	if len(notes) != 1 || notes[0] != "40 (without level, name; shortened notes)" {
		t.Errorf("notes %v", notes)
	}
}

func TestSelectColumns(t *testing.T) {
	cols := []Column{{Name: "a"}, {Name: "b", Kind: Money}, {Name: "c"}}
	sel, idx, err := SelectColumns(cols, []string{"c", " a"})
	if err != nil || len(sel) != 2 || sel[0].Name != "c" || idx[1] != 0 {
		t.Fatal(sel, idx, err)
	}
	var buf bytes.Buffer
	rw := Project(NewRowWriter(&buf, OutputCSV, sel, RowOptions{}), idx)
	rw.Write([]string{"1", "2", "3"})
	if err := rw.WriteEncoded(nil); err != ErrProjectedEncoded {
		t.Error(err)
	}
	rw.Close()
	if buf.String() != "c,a\n3,1\n" {
		t.Errorf("got %q", buf.String())
	}
	if _, _, err := SelectColumns(cols, []string{"x"}); err == nil || err.Error() != `unknown column "x" (the columns are a, b, c)` {
		t.Error(err)
	}
	if _, _, err := SelectColumns(cols, []string{"a", "a"}); err == nil {
		t.Error("a twice")
	}
}
