package fetch

import (
	"strings"
	"testing"
)

// FuzzCursorTrail feeds the cursors an API might hand out, one a line
// (the first page is asked without one). Following them must stop with an
// error exactly at the first cursor given twice, and never otherwise: a
// cycle of any length ends, and no honest sequence is refused.
func FuzzCursorTrail(f *testing.F) {
	for _, s := range []string{"", "A", "A\nB\nC", "A\nB\nA", "A\nA", "A\nB\nC\nD\nB", "\nA", "A\n\nB"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var trail cursorTrail
		after := ""
		seen := map[string]bool{}
		for i, next := range strings.Split(s, "\n") {
			seen[after] = true
			err := trail.follow(after, next, i+1)
			if next == "" {
				if err != nil {
					t.Fatalf("end of pages refused: %v", err)
				}
				return // the last page
			}
			if seen[next] != (err != nil) {
				t.Fatalf("cursor %q after %q (seen %v): err %v", next, after, seen[next], err)
			}
			if err != nil {
				return
			}
			after = next
		}
	})
}
