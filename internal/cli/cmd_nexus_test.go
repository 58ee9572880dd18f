package cli

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// runNexus runs `taxagg nexus` through the command tree with input on
// stdin and returns stdout.
func runNexus(t *testing.T, input []byte, args ...string) string {
	t.Helper()
	ios, in, out, errOut := NewTestIOStreams()
	in.Write(input)
	f := &Factory{IO: ios, Getenv: func(string) string { return "" }, Now: time.Now}
	if code := run(context.Background(), f, append([]string{"nexus"}, args...)); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	return out.String()
}

// TestNexusShuffled: the rows are byte-identical for any order of the input
// lines and any --workers, on the embedded US pack.
func TestNexusShuffled(t *testing.T) {
	data, err := os.ReadFile("../../testdata/nexus/us.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.SplitAfter(data, []byte("\n"))
	tmp := t.TempDir()
	want := runNexus(t, data, "-q", "--format", "csv", "--workers", "1", "--temp-dir", tmp)
	if !bytes.Contains([]byte(want), []byte(",ca-a,")) {
		t.Fatalf("unexpected rows:\n%s", want)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 10; i++ {
		rng.Shuffle(len(lines), func(a, b int) { lines[a], lines[b] = lines[b], lines[a] })
		workers := strconv.Itoa(1 + rng.IntN(8))
		got := runNexus(t, bytes.Join(lines, nil), "-q", "--format", "csv", "--workers", workers, "--temp-dir", tmp)
		if got != want {
			t.Fatalf("shuffle %d, --workers %s: got\n%s\nwant\n%s", i, workers, got, want)
		}
	}
	ents, err := os.ReadDir(tmp)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 0 {
		t.Errorf("scratch files left in %s: %v", filepath.Base(tmp), ents)
	}
}

func TestNewCmdNexusFlags(t *testing.T) {
	ios, _, _, _ := NewTestIOStreams()
	f := &Factory{IO: ios}
	var got *NexusOptions
	cmd := NewCmdNexus(f, func(_ context.Context, o *NexusOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"--currency", "CAD", "--workers", "3", "--timezone", "America/Toronto", "a.ndjson", "-"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got.Currency != "CAD" || got.Workers != 3 || got.Timezone != "America/Toronto" ||
		len(got.Files) != 2 || got.Files[1] != "-" {
		t.Errorf("got %+v", got)
	}
	if cmd.Flags().Lookup("period") != nil || cmd.Flags().Lookup("by-rate") != nil {
		t.Error("nexus takes no --period or --by-rate")
	}
}
