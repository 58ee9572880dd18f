package fetch

import (
	"strings"
	"testing"
)

// TestRetriesWording checks "after 1 retry", not "after 1 retries".
func TestRetriesWording(t *testing.T) {
	for n, want := range map[int]string{1: "(after 1 retry)", 3: "(after 3 retries)"} {
		e := &APIError{Provider: "stripe", Method: "GET", Path: "/v1/invoices", Status: 500, Retries: n}
		if got := e.Error(); !strings.HasSuffix(got, want) {
			t.Errorf("APIError with %d retries: %q, want it to end %q", n, got, want)
		}
	}
}
