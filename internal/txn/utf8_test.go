package txn

import (
	"strings"
	"testing"
)

// Text that is not UTF-8 is refused in CSV as it is in JSON.
func TestCSVInvalidUTF8(t *testing.T) {
	p := NewParser(ParseOptions{})
	header := []string{"id", "date", "currency", "amount", "country", "state"}
	var tx Transaction
	err := p.ParseCSV(header, []string{"a", "2025-01-01", "USD", "1.00", "US", "T\xffX"}, &tx)
	if err == nil || !strings.Contains(err.Error(), "state: is not valid UTF-8") {
		t.Fatalf("err = %v, want state: is not valid UTF-8", err)
	}
	if err := p.ParseCSV(header, []string{"a", "2025-01-01", "USD", "1.00", "US", "Zürich"}, &tx); err != nil {
		t.Fatalf("valid UTF-8 refused: %v", err)
	}
}

// A reader's batch holds a row's cells one after another in memory, and
// ParseCSV then checks the whole row at once (asciiRow): the outcome must
// be what checking each known cell gives, whatever the bytes around it.
func TestCSVRowCheckedAsOne(t *testing.T) {
	header := []string{"id", "date", "currency", "amount", "country", "state", "note"}
	tests := []struct {
		name  string
		cells []string
		want  string // "" accepted, else the error's text
	}{
		{"ascii", []string{"a", "2025-01-01", "USD", "1.00", "US", "TX", "hi"}, ""},
		{"utf-8 in a known cell", []string{"a", "2025-01-01", "USD", "1.00", "US", "Zürich", "hi"}, ""},
		{"invalid in a known cell", []string{"a", "2025-01-01", "USD", "1.00", "US", "T\xffX", "hi"}, "state: is not valid UTF-8"},
		{"invalid in an ignored cell", []string{"a", "2025-01-01", "USD", "1.00", "US", "TX", "h\xff"}, ""},
		// Valid as one run, but the sequence is cut between the cells:
		// each alone is invalid.
		{"a sequence cut between cells", []string{"a", "2025-01-01", "USD", "1.00", "US", "Z\xc3", "\xbcrich"}, "state: is not valid UTF-8"},
		{"empty cells", []string{"a", "2025-01-01", "USD", "1.00", "US", "", ""}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The cells as one run of memory, as the reader keeps them.
			row := strings.Join(tt.cells, "")
			contiguous := make([]string, len(tt.cells))
			off := 0
			for i, c := range tt.cells {
				contiguous[i] = row[off : off+len(c)]
				off += len(c)
			}
			if got := asciiRow(contiguous); got != isASCIIForTest(row) {
				t.Errorf("asciiRow = %v for a contiguous row %q", got, row)
			}
			// The same cells cut from the row with commas between them:
			// not one run, so each is checked on its own.
			line := strings.Join(tt.cells, ",")
			apart := make([]string, len(tt.cells))
			off = 0
			for i, c := range tt.cells {
				apart[i] = line[off : off+len(c)]
				off += len(c) + 1
			}
			if asciiRow(apart) {
				t.Errorf("asciiRow took %q, cut with commas between, for one run", apart)
			}
			for _, cells := range [][]string{contiguous, apart} {
				var tx Transaction
				err := NewParser(ParseOptions{}).ParseCSV(header, cells, &tx)
				if tt.want == "" && err != nil {
					t.Errorf("refused: %v", err)
				}
				if tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
					t.Errorf("err = %v, want %s", err, tt.want)
				}
			}
		})
	}
}

func isASCIIForTest(s string) bool {
	if s == "" {
		return false // asciiRow has nothing to vouch for
	}
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func TestIsASCII(t *testing.T) {
	for _, s := range []string{"", "a", "abcdefgh", "abcdefghi", strings.Repeat("x", 31)} {
		if !isASCII(s) {
			t.Errorf("isASCII(%q) = false", s)
		}
		for i := range len(s) {
			b := []byte(s)
			b[i] = 0x80
			if isASCII(string(b)) {
				t.Errorf("isASCII(%q) = true", b)
			}
		}
	}
}
