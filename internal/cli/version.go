package cli

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// Version is taxagg's version; release builds set it with
// -ldflags "-X github.com/taxagg/taxagg/internal/cli.Version=v1.2.3".
var Version = "0.1.0-dev"

// buildInfo is what the binary knows of its build: the VCS revision and
// commit time, and whether the tree had uncommitted changes.
type buildInfo struct {
	revision string
	time     time.Time
	modified bool
}

func readBuildInfo() buildInfo {
	var b buildInfo
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return b
	}
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			b.revision = s.Value
		case "vcs.time":
			b.time, _ = time.Parse(time.RFC3339, s.Value)
		case "vcs.modified":
			b.modified = s.Value == "true"
		}
	}
	return b
}

// buildTime is the commit time of the build, or the Unix epoch when the
// binary does not know it (go run, tests), so that generated pages do not
// depend on the day they were made.
func buildTime() time.Time {
	if t := readBuildInfo().time; !t.IsZero() {
		return t.UTC()
	}
	return time.Unix(0, 0).UTC()
}

func versionString() string {
	v := Version
	if b := readBuildInfo(); len(b.revision) >= 12 {
		v += "+" + b.revision[:12]
		if b.modified {
			v += ".dirty"
		}
	}
	return v
}

// NewCmdVersion prints the version.
func NewCmdVersion(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print taxagg's version",
		Args:  cobra.NoArgs,
		Long: `Print taxagg's version, the VCS revision and commit date it was built from (when the
binary was built from a checkout), the Go version it was built with and the platform.`,
		Example: `  taxagg version`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintln(f.IO.Out, versionLine(readBuildInfo()))
			return err
		},
	}
}

// versionLine is what `taxagg version` prints:
//
//	taxagg 0.1.0-dev (revision 0123456789ab, built from a commit of 2026-12-02; go1.26.8, linux/amd64)
func versionLine(b buildInfo) string {
	var parts []string
	if b.revision != "" {
		rev := b.revision
		if len(rev) > 12 {
			rev = rev[:12]
		}
		if b.modified {
			rev += " with uncommitted changes"
		}
		parts = append(parts, "revision "+rev)
	}
	if !b.time.IsZero() {
		parts = append(parts, "commit date "+b.time.UTC().Format(time.DateOnly))
	}
	parts = append(parts, runtime.Version(), runtime.GOOS+"/"+runtime.GOARCH)
	return fmt.Sprintf("taxagg %s (%s)", Version, strings.Join(parts, ", "))
}
