package cli

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// TestTablesFitTerminal runs the commands whose tables were wider than a
// 120-column terminal and checks that every line fits, with a note on
// stderr saying what was left out.
func TestTablesFitTerminal(t *testing.T) {
	td, err := filepath.Abs("../../testdata")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		width int
		args  []string
	}{
		{120, []string{"aggregate", filepath.Join(td, "sample.ndjson")}},
		{90, []string{"aggregate", "--by-rate", "--period", "month", filepath.Join(td, "sample.ndjson")}},
		{120, []string{"nexus", filepath.Join(td, "sample.ndjson")}},
		{120, []string{"rules", "show"}},
		{100, []string{"calc", filepath.Join(td, "sample.ndjson")}},
		{100, []string{"reconcile", "--key-a", "metadata.order_id",
			filepath.Join(td, "reconcile", "stripe_invoices.json"), filepath.Join(td, "reconcile", "chargebee_invoices.json")}},
	} {
		t.Run(strings.Join(tt.args[:1], " "), func(t *testing.T) {
			io, _, stdout, stderr := NewTestIOStreams()
			io.StdoutIsTTY, io.TerminalWidth = true, tt.width
			run(context.Background(), &Factory{IO: io, Getenv: func(string) string { return "" }, Now: time.Now}, tt.args)
			lines := strings.Split(strings.TrimRight(stdout.String(), "\n"), "\n")
			if len(lines) < 2 {
				t.Fatalf("no table:\n%s\n%s", stdout, stderr)
			}
			for _, l := range lines {
				if n := utf8.RuneCountInString(l); n > tt.width {
					t.Errorf("a line of %d columns in a %d-column terminal: %q", n, tt.width, l)
				}
			}
			if !strings.Contains(stderr.String(), "taxagg: the table is narrowed to the terminal's") {
				t.Errorf("no note on stderr:\n%s", stderr)
			}
			// Without a terminal width, nothing is cut.
			io2, _, stdout2, stderr2 := NewTestIOStreams()
			io2.StdoutIsTTY = true
			run(context.Background(), &Factory{IO: io2, Getenv: func(string) string { return "" }, Now: time.Now}, tt.args)
			if strings.Contains(stdout2.String(), "…") || strings.Contains(stderr2.String(), "narrowed") {
				t.Errorf("cut without a width:\n%s", stdout2)
			}
		})
	}
}
