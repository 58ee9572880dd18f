package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"

	"github.com/taxagg/taxagg/internal/pipeline"
	"github.com/taxagg/taxagg/internal/rules"
)

// Exit codes (docs/accounting.md).
const (
	ExitOK          = 0
	ExitFindings    = 1 // done, with findings
	ExitError       = 2 // usage, bad rules, bad input, I/O
	ExitInterrupted = 130
	ExitTerminated  = 143
	ExitBrokenPipe  = 141 // 128+SIGPIPE: stdout's reader went away
)

// FindingsError ends a run that completed but found something the user must
// look at: quarantined records, reconcile differences. Its message, if any,
// is printed; the exit code is 1.
type FindingsError struct{ Msg string }

func (e *FindingsError) Error() string { return e.Msg }

// UsageError is a mistake in the command line.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

func usageErrorf(format string, args ...any) error {
	return &UsageError{Err: fmt.Errorf(format, args...)}
}

// fileError words an error about an output file with the file's own name,
// not that of the temporary file beside it: "create output
// /no/such/dir/out.csv: no such file or directory".
func fileError(what, path string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		err = le.Err
	}
	return fmt.Errorf("%s %s: %w", what, path, err)
}

// plural is "1 record", "2 records".
func plural(n int64, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// SignalError is the cause of a run stopped by SIGINT or SIGTERM.
type SignalError struct{ Sig os.Signal }

// Error is "interrupted (SIGINT)" or "terminated (SIGTERM)".
func (e *SignalError) Error() string {
	switch e.Sig {
	case syscall.SIGINT:
		return "interrupted (SIGINT)"
	case syscall.SIGTERM:
		return "terminated (SIGTERM)"
	}
	return "stopped by signal " + e.Sig.String()
}

// ExitCode maps an error to the process exit code. It is the one place that
// does so.
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var sig *SignalError
	if errors.As(err, &sig) {
		if sig.Sig == syscall.SIGTERM {
			return ExitTerminated
		}
		return ExitInterrupted
	}
	if errors.Is(err, context.Canceled) {
		return ExitInterrupted
	}
	var f *FindingsError
	if errors.As(err, &f) {
		return ExitFindings
	}
	return ExitError
}

// errorMessage is what the user reads on stderr for err.
func errorMessage(err error) string {
	var issues *rules.Issues
	if errors.As(err, &issues) {
		return issues.Error()
	}
	var rej *pipeline.RejectError
	if errors.As(err, &rej) {
		return rej.Error()
	}
	return err.Error()
}
