package importer

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/import/*.golden.yaml")

// TestGolden imports small files of each format and compares the whole
// output, header comment included, with testdata/import/NAME.golden.yaml.
// Run `go test ./internal/importer/ -run Golden -update` after a deliberate
// change, and review the diff.
func TestGolden(t *testing.T) {
	tests := []struct {
		name   string
		format Format
		opt    Options
		files  []string
	}{
		{"sst-small", FormatSST, Options{}, []string{"sst-small.csv", "sst-small-boundary.csv"}},
		{"avalara-small", FormatAvalaraZip, Options{Effective: day("2018-09-01")}, []string{"avalara-small.csv"}},
		{"cdtfa-small", FormatCDTFA, Options{Effective: day("2026-01-01")}, []string{"cdtfa-small.csv"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var files []File
			for _, f := range tt.files {
				files = append(files, testFile(t, f))
			}
			_, got := run(t, tt.format, tt.opt, files...)
			path := filepath.Join("..", "..", "testdata", "import", tt.name+".golden.yaml")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("output differs from %s (run with -update to accept):\n--- got\n%s", path, got)
			}
		})
	}
}
