package fetch

import (
	"net/url"
	"testing"
)

func TestOrigin(t *testing.T) {
	tests := []struct {
		a, b string
		same bool
	}{
		{"https://api.stripe.test/v1/charges", "https://api.stripe.test/v1/moved", true},
		{"https://api.stripe.test/v1", "https://API.Stripe.test:443/v1", true},
		{"http://127.0.0.1/v1", "http://127.0.0.1:80/x", true},
		{"https://127.0.0.1:18443/v1", "http://127.0.0.1:18443/v1", false},  // scheme
		{"https://127.0.0.1:18443/v1", "https://127.0.0.1:18082/v1", false}, // port
		{"https://127.0.0.1/v1", "http://127.0.0.1/v1", false},              // default ports differ
		{"https://api.stripe.test/v1", "https://evil.test/v1", false},
		{"http://[::1]:8080/v1", "http://[::1]:8080/v2", true},
	}
	for _, tt := range tests {
		a, _ := url.Parse(tt.a)
		b, _ := url.Parse(tt.b)
		if got := origin(a) == origin(b); got != tt.same {
			t.Errorf("%s vs %s: same origin %v (%s, %s), want %v", tt.a, tt.b, got, origin(a), origin(b), tt.same)
		}
	}
}
