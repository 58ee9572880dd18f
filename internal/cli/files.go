package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
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

// openFile opens an input for reading so that a cancelled ctx (SIGINT,
// SIGTERM) still ends the run while the open waits: opening a FIFO blocks
// until a writer comes, and an open(2) cannot be interrupted. Anything but
// a regular file or a directory is opened in a goroutine raced against
// ctx; when ctx wins, the file is closed whenever the open returns.
func openFile(ctx context.Context, name string) (*os.File, error) {
	if st, err := os.Stat(name); err != nil || st.Mode().IsRegular() || st.IsDir() {
		return os.Open(name) // no wait: a regular file, or the error to report
	}
	type opened struct {
		f   *os.File
		err error
	}
	res := make(chan opened, 1)
	go func() {
		f, err := os.Open(name)
		res <- opened{f, err}
	}()
	select {
	case r := <-res:
		return r.f, r.err
	case <-ctx.Done():
		go func() {
			if r := <-res; r.f != nil {
				r.f.Close()
			}
		}()
		return nil, context.Cause(ctx)
	}
}

// ctxCheck is a regular file's reader that gives up once ctx is
// cancelled: a read from a file never blocks for long, but a long input (a
// gzip of gigabytes of blanks, say) must still stop on a signal.
type ctxCheck struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxCheck) Read(p []byte) (int, error) {
	if c.ctx.Err() != nil {
		return 0, context.Cause(c.ctx)
	}
	return c.r.Read(p)
}

// refuseInputAsOutput returns a usage error when the output file out (the
// value of flag) is the same file, by device and inode, as one of the
// inputs: files ("-" is stdin). Writing it would read the run's own output
// back — a re-run over *.ndjson with --rejects among them re-rejects its
// rejects, and grows until the disk is full. An output that does not exist
// yet, or is not a regular file (/dev/null, a FIFO), is never an input.
// Every command with an output flag calls it for each of them (--out,
// --rejects, --summary, --unmatched; reconcile's --out, --review, --report).
func refuseInputAsOutput(flag, out string, files []string, stdin io.Reader) error {
	if out == "" || out == "-" {
		return nil
	}
	ost, err := os.Stat(out)
	if err != nil || !ost.Mode().IsRegular() {
		return nil
	}
	if len(files) == 0 {
		files = []string{"-"}
	}
	for _, in := range files {
		var ist os.FileInfo
		if in == "-" {
			f, ok := stdin.(*os.File)
			if !ok {
				continue
			}
			if ist, err = f.Stat(); err != nil {
				continue
			}
			in = "stdin"
		} else if ist, err = os.Stat(in); err != nil {
			continue
		}
		if os.SameFile(ost, ist) {
			return usageErrorf("%s %s: it is also an input (%s): the run would read its own output", flag, out, in)
		}
	}
	return nil
}

// errStdoutClosed marks a write to stdout that failed because its reader
// went away (EPIPE).
var errStdoutClosed = errors.New("stdout closed by its reader")

// stdoutWriter is the process's stdout: a broken pipe becomes an error
// wrapping errStdoutClosed (and the EPIPE), for run to exit quietly.
type stdoutWriter struct{ w io.Writer }

func (s *stdoutWriter) Write(p []byte) (int, error) {
	n, err := s.w.Write(p)
	if err != nil && errors.Is(err, syscall.EPIPE) {
		err = fmt.Errorf("%w: %w", errStdoutClosed, err)
	}
	return n, err
}
