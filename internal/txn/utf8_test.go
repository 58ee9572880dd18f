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
