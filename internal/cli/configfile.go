package cli

import (
	"context"
	"fmt"
	"io"

	yaml "go.yaml.in/yaml/v3"

	"github.com/taxagg/taxagg/internal/yamldoc"
)

// The most a rules file and a mapping file may hold. Rule files are the
// largest (an imported rate table of a whole state); both are read whole,
// so a file past these (or /dev/zero) is refused rather than read until
// memory runs out.
const (
	maxRulesFileBytes   = 64 << 20
	maxMappingFileBytes = 16 << 20
)

// readConfigFile reads a rules or mapping file (what names it in errors)
// whole: at most limit bytes, and an open or read that a cancelled ctx
// ends. Whether it holds one YAML document is the parser's check (rules)
// or singleDocument's (mappings).
func readConfigFile(ctx context.Context, path, what string, limit int64) ([]byte, error) {
	f, err := openFile(ctx, path)
	if err != nil {
		if ctx.Err() != nil {
			return nil, err
		}
		return nil, fmt.Errorf("read %s: %w", what, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(interruptible(ctx, f), limit+1))
	if err != nil {
		if ctx.Err() != nil {
			return nil, context.Cause(ctx)
		}
		return nil, fmt.Errorf("read %s: %w", what, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("read %s: %s is larger than %d MiB, the most a %s file may hold", what, path, limit>>20, what)
	}
	return data, nil
}

// singleDocument refuses YAML with anything after its first document: a
// second document (after a "---" or "..." marker), or text the YAML
// decoder cannot read there. The parsers read the first document only, and
// silently ignoring the rest would drop fields. The error names the line
// where the second document begins. (The rules parser makes the same check
// in the pass that decodes the file.)
func singleDocument(name string, data []byte) error {
	var first yaml.Node
	rest, err := yamldoc.Decode(data, &first)
	if err != nil || rest == nil {
		return nil // empty, one document, or a syntax error in it: the parser reports it
	}
	return fmt.Errorf("%s:%d: %s", name, rest.Line, yamldoc.SecondMsg)
}
