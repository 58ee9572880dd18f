package failpoint

import (
	"strings"
	"testing"
)

func TestFromEnv(t *testing.T) {
	tests := []struct {
		value   string
		set     bool
		wantErr string
	}{
		{"", false, ""},
		{"state-in-commit", true, ""},
		{"deliver-after-send", true, ""},
		{"kill-after-send", false, `TAXAGG_FAILPOINT="kill-after-send": want one of state-after-output, state-in-commit, state-after-commit, deliver-after-send (for tests only)`},
		{"in-commit", false, "want one of"},
	}
	for _, tt := range tests {
		p, err := FromEnv(func(k string) string {
			if k == Env {
				return tt.value
			}
			return ""
		})
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%q: error %v, want %q", tt.value, err, tt.wantErr)
			}
			continue
		}
		if err != nil || p.Set() != tt.set {
			t.Errorf("%q: set %v, %v; want %v", tt.value, p.Set(), err, tt.set)
		}
		p.Hit("no-such-point") // not the point set: returns
	}
	if p, err := FromEnv(nil); err != nil || p.Set() {
		t.Fatalf("FromEnv(nil) = %v, %v", p, err)
	}
}
