package cli

import (
	"context"
	"errors"
	"fmt"
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

// SignalError is the cause of a run stopped by SIGINT or SIGTERM.
type SignalError struct{ Sig os.Signal }

func (e *SignalError) Error() string { return "interrupted by " + e.Sig.String() }

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
