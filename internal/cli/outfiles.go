package cli

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
)

// createTemp creates a new file beside path, named .BASE.tmp-N, for an
// output to be renamed onto path. Its mode is keep when keep is set (the
// mode of the file being replaced) and otherwise 0666 less the process's
// umask, as for any file the shell would create: os.CreateTemp's 0600
// followed by a chmod would ignore the umask (fchmod does), and a ledger
// of customer data would be world-readable under umask 077.
func createTemp(path string, keep os.FileMode) (*os.File, error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	perm := os.FileMode(0o666)
	if keep != 0 {
		perm = 0o600 // widened to keep below, once the file is ours
	}
	for try := 0; ; try++ {
		name := filepath.Join(dir, "."+base+".tmp-"+strconv.FormatUint(rand.Uint64()%1e12, 10))
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, perm)
		if errors.Is(err, os.ErrExist) && try < 100 {
			continue
		}
		if err != nil {
			return nil, err
		}
		if keep != 0 {
			if err := f.Chmod(keep); err != nil {
				f.Close()
				os.Remove(name)
				return nil, fmt.Errorf("chmod %s: %w", name, err)
			}
		}
		return f, nil
	}
}
