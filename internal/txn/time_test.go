package txn

import (
	"testing"
	"time"
)

// TestTransactionTime: a timestamp's instant is kept (to the nanosecond,
// whatever the zone it was written in); a plain date has none.
func TestTransactionTime(t *testing.T) {
	tests := []struct {
		date string
		want time.Time
	}{
		{"2025-03-04", time.Time{}},
		{"2025-03-04T23:30:00-05:00", time.Date(2025, 3, 5, 4, 30, 0, 0, time.UTC)},
		{"2024-02-29t10:00:00.123456789z", time.Date(2024, 2, 29, 10, 0, 0, 123456789, time.UTC)},
		{"2024-02-29 10:00:00.5Z", time.Date(2024, 2, 29, 10, 0, 0, 500000000, time.UTC)},
		{"2024-02-29T10:00:00.1234567891234Z", time.Date(2024, 2, 29, 10, 0, 0, 123456789, time.UTC)},
	}
	p := NewParser(ParseOptions{})
	for _, tt := range tests {
		var tx Transaction
		rec := `{"id":"a","date":"` + tt.date + `","currency":"USD","country":"US","amount":"1"}`
		if err := p.ParseJSON([]byte(rec), &tx); err != nil {
			t.Fatalf("%s: %v", tt.date, err)
		}
		if !tx.Time.Equal(tt.want) || tx.Time.IsZero() != tt.want.IsZero() {
			t.Errorf("%s: Time = %v, want %v", tt.date, tx.Time, tt.want)
		}
	}
}
