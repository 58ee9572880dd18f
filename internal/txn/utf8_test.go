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

// ParseCSVRow checks a row that is valid UTF-8 at once, and any other
// cell by cell: the outcome must be what checking each known cell gives.
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
		// A sequence cut by the separator: the row is invalid, and so is
		// each cell alone.
		{"a sequence cut between cells", []string{"a", "2025-01-01", "USD", "1.00", "US", "Z\xc3", "\xbcrich"}, "state: is not valid UTF-8"},
		{"empty cells", []string{"a", "2025-01-01", "USD", "1.00", "US", "", ""}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text := []byte(strings.Join(tt.cells, ","))
			for _, parse := range []func(*Parser, *Transaction) error{
				func(p *Parser, tx *Transaction) error { return p.ParseCSVRow(header, tt.cells, text, tx) },
				func(p *Parser, tx *Transaction) error { return p.ParseCSV(header, tt.cells, tx) },
			} {
				var tx Transaction
				err := parse(NewParser(ParseOptions{}), &tx)
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
