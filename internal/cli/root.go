// Package cli is taxagg's command line: cobra commands that turn flags into
// options, run the domain packages with the process's streams, and map
// errors to exit codes. Nothing below this package knows about flags,
// files or the terminal.
package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"
)

// Factory carries what every command needs from the outside world, so tests
// can replace it.
type Factory struct {
	IO     *IOStreams
	Getenv func(string) string
	Now    func() time.Time
}

// NewCmdRoot builds the whole command tree.
func NewCmdRoot(f *Factory) *cobra.Command {
	root := &cobra.Command{
		Use:   "taxagg",
		Short: "Sales-tax aggregation and billing reconciliation, as a Unix filter",
		Long: `taxagg streams transactions (NDJSON, JSON, CSV, gzip) through a compiled rule engine for
overlapping tax jurisdictions with exact decimal math, and prints what is owed to each
jurisdiction and on what sales. It also reconciles two billing exports into one ledger.`,
		SilenceErrors: true,
		SilenceUsage:  true,
		Version:       Version,
	}
	root.SetVersionTemplate("taxagg {{.Version}}\n")
	root.SetIn(f.IO.In)
	root.SetOut(f.IO.Out)
	root.SetErr(f.IO.ErrOut)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &UsageError{Err: err} })
	root.AddCommand(
		NewCmdAggregate(f, nil),
		NewCmdCalc(f, nil),
		NewCmdExplain(f, nil),
		NewCmdNexus(f, nil),
		NewCmdRules(f),
		NewCmdReconcile(f, nil),
		NewCmdFetch(f, nil),
		NewCmdDeliver(f, nil),
		NewCmdState(f),
		NewCmdMerge(f, nil),
		NewCmdStream(f, nil),
		NewCmdVersion(f),
		newCmdDocs(f),
	)
	finishTree(root)
	return root
}

// exitStatusHelp is the EXIT STATUS block every Long used to end with.
// Each command's own codes now end its help (commandExitStatus in
// help.go); finishTree strips this block from a Long still written against
// it, so such a command gets the new block instead of two.
const exitStatusHelp = `

EXIT STATUS
  0    done
  1    done, with findings (records quarantined with --rejects; reconcile differences)
  2    usage error, bad rules, bad input without --rejects, or I/O failure
  130  interrupted (SIGINT)
  143  terminated (SIGTERM)`

// Main runs taxagg with the given arguments and streams and returns the
// process exit code. SIGINT and SIGTERM cancel the run's context.
func Main(args []string, io *IOStreams) int {
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	// A reader that goes away (taxagg ... | head -1) would kill the process
	// with SIGPIPE on the next write to stdout, before any cleanup (a
	// reconcile spill directory) runs. Asking for SIGPIPE turns that into
	// an EPIPE write error instead, which ends the run on the usual path;
	// run then exits quietly with 128+SIGPIPE, as the signal would have.
	pipes := make(chan os.Signal, 1)
	signal.Notify(pipes, syscall.SIGPIPE)
	defer signal.Stop(pipes)
	if _, ok := io.Out.(*os.File); ok {
		wrapped := *io
		wrapped.Out = &stdoutWriter{w: io.Out}
		io = &wrapped
	}
	go func() {
		select {
		case s := <-sigs:
			cancel(&SignalError{Sig: s})
		case <-ctx.Done():
		}
	}()
	f := &Factory{IO: io, Getenv: os.Getenv, Now: time.Now}
	return run(ctx, f, args)
}

func run(ctx context.Context, f *Factory, args []string) int {
	root := NewCmdRoot(f)
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if errors.Is(err, errStdoutClosed) && context.Cause(ctx) == nil {
		return ExitBrokenPipe // the reader of stdout went away: nothing to say
	}
	if err != nil && context.Cause(ctx) != nil {
		// A signal stopped the run: report it as such, whatever error the
		// command surfaced on its way out.
		err = context.Cause(ctx)
	}
	if err != nil {
		if msg := errorMessage(err); msg != "" {
			fmt.Fprintln(f.IO.ErrOut, msg)
		}
		if _, ok := err.(*UsageError); ok {
			path := root.CommandPath()
			if cmd != nil {
				path = cmd.CommandPath()
			}
			fmt.Fprintf(f.IO.ErrOut, "Run '%s --help' for usage.\n", path)
		}
	}
	return ExitCode(err)
}
