package cli

import (
	"os"
	"strings"
	"testing"
	"time"
)

// TestCompletionGuide checks that docs/completion.md is what `taxagg docs
// completion` generates from the command tree (go test -run
// TestCompletionGuide -update rewrites it).
func TestCompletionGuide(t *testing.T) {
	io, _, _, _ := NewTestIOStreams()
	got := completionGuide(NewCmdRoot(&Factory{IO: io, Getenv: func(string) string { return "" }, Now: time.Now}))
	const path = "../../docs/completion.md"
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("docs/completion.md is not what taxagg docs completion writes; rerun with -update")
	}
	for _, s := range []string{"## bash", "## zsh", "## fish", "## powershell", "source <(taxagg completion bash)", "`--format`: `table`"} {
		if !strings.Contains(string(got), s) {
			t.Errorf("completion guide lacks %q", s)
		}
	}
}

func TestVersionLine(t *testing.T) {
	at := time.Date(2026, 12, 2, 15, 4, 5, 0, time.UTC)
	for _, tt := range []struct {
		b    buildInfo
		want string
	}{
		{buildInfo{}, "taxagg " + Version + " ("},
		{buildInfo{revision: "0123456789abcdef", time: at}, "taxagg " + Version + " (revision 0123456789ab, commit date 2026-12-02, go"},
		{buildInfo{revision: "0123456789abcdef", time: at, modified: true}, "(revision 0123456789ab with uncommitted changes, commit date 2026-12-02, go"},
	} {
		if got := versionLine(tt.b); !strings.Contains(got, tt.want) {
			t.Errorf("versionLine(%+v) = %q, want it to contain %q", tt.b, got, tt.want)
		}
	}
}
