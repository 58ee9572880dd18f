package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/taxagg/taxagg/internal/billing"
	"github.com/taxagg/taxagg/internal/pack"
	"github.com/taxagg/taxagg/internal/pipeline"
	"github.com/taxagg/taxagg/internal/rules"
	"github.com/taxagg/taxagg/internal/stream"
	"github.com/taxagg/taxagg/internal/txn"
)

// txOptions are the flags shared by the transaction commands (README.md).
type txOptions struct {
	Rules       []string
	InputFormat string
	Format      string
	Columns     []string
	Out         string
	Rejects     string
	MaxRejects  int64
	Period      string
	Timezone    string
	Workers     int
	Quiet       bool
	Summary     string
	ByRate      bool
	Files       []string
	// Unmatched and RequireMatch: see coverage.go.
	Unmatched    string
	RequireMatch bool
	fromOptions

	// fixedOnly is set by a command whose sink reads a tax line's Fixed
	// figures whenever they are there (pipeline.Options.FixedOnly).
	fixedOnly bool
	// compact is set by a command whose sink totals per tax from
	// Result.Slots (pipeline.Options.Compact).
	compact bool
	// fields is set by a command whose sink renders a record's input
	// fields (pipeline.Options.RenderFields).
	fields bool

	stateFlags // --state, --amend, --recompute, --shard, --partial (state_flags.go)
}

func addTxFlags(cmd *cobra.Command, o *txOptions, withPeriod bool) {
	fl := cmd.Flags()
	fl.StringArrayVar(&o.Rules, "rules", nil, "rule `FILE` (repeatable, merged in order; embedded:us.yaml names the embedded pack); default: the embedded US pack")
	fl.StringVar(&o.InputFormat, "input-format", "auto", "input format: auto, ndjson, json or csv")
	fl.StringVar(&o.Format, "format", "", "output format: table, json, ndjson or csv (default: table on a terminal, else ndjson)")
	fl.StringSliceVar(&o.Columns, "columns", nil, "write only these comma-separated `COLUMNS`, in this order, in every format")
	fl.StringVarP(&o.Out, "out", "o", "", "write output to `FILE` atomically (default: stdout)")
	fl.StringVar(&o.Rejects, "rejects", "", "append bad records to `FILE` as NDJSON and go on")
	fl.Int64Var(&o.MaxRejects, "max-rejects", -1, "with --rejects, stop when more than `N` records were rejected")
	fl.Lookup("max-rejects").DefValue = "unlimited" // -1 means that; help prints this one default
	if withPeriod {
		fl.StringVar(&o.Period, "period", "none", "also group by period: day, month, quarter, year or none")
		fl.BoolVar(&o.ByRate, "by-rate", false, "also split rows by the rate in force")
	}
	fl.StringVar(&o.Timezone, "timezone", "UTC", "IANA time `ZONE` for periods and date-only comparisons")
	fl.IntVar(&o.Workers, "workers", runtime.NumCPU(), "parallelism (at most 256); output is identical for every N")
	fl.BoolVarP(&o.Quiet, "quiet", "q", false, "no summary on stderr")
	fl.StringVar(&o.Summary, "summary", "", "write the run summary to `FILE` as JSON")
	fl.StringVar(&o.Unmatched, "unmatched", "", "write the accepted transactions that matched no jurisdiction to `FILE` as NDJSON")
	fl.BoolVar(&o.RequireMatch, "require-match", false, "a transaction that matches no jurisdiction is a bad record")
	addFromFlags(cmd, &o.fromOptions)
}

// loadRules compiles the --rules files, or the embedded pack without any.
func loadRules(ctx context.Context, paths []string) (*rules.Program, error) {
	var srcs []rules.Source
	if len(paths) == 0 {
		srcs = append(srcs, rules.Source{Name: pack.Name, Data: pack.US()})
	}
	for _, p := range paths {
		if p == pack.Name {
			// --rules embedded:us.yaml names the pack, so that local
			// rules can be merged with it rather than replace it.
			srcs = append(srcs, rules.Source{Name: pack.Name, Data: pack.US()})
			continue
		}
		data, err := readConfigFile(ctx, p, "rules", maxRulesFileBytes)
		if err != nil {
			return nil, err
		}
		srcs = append(srcs, rules.Source{Name: p, Data: data})
	}
	return rules.Compile(srcs)
}

// outputFormat picks --format, defaulting to a table for a person at a
// terminal and NDJSON for a pipe or file.
func outputFormat(flag string, toTerminal bool) (stream.OutputFormat, error) {
	if flag == "" {
		if toTerminal {
			return stream.OutputTable, nil
		}
		return stream.OutputNDJSON, nil
	}
	f, err := stream.ParseOutputFormat(flag)
	if err != nil {
		return 0, &UsageError{Err: err}
	}
	return f, nil
}

// openInputs opens the input files; none (or "-") means stdin. The returned
// closer closes every file. A cancelled ctx ends an open that waits (a
// FIFO without a writer).
func openInputs(ctx context.Context, files []string, stdin io.Reader) ([]pipeline.Input, func(), error) {
	if len(files) == 0 {
		files = []string{"-"}
	}
	var ins []pipeline.Input
	var opened []*os.File
	closeAll := func() {
		for _, f := range opened {
			f.Close()
		}
	}
	for _, name := range files {
		if name == "-" {
			ins = append(ins, pipeline.Input{Name: "stdin", R: stdin})
			continue
		}
		f, err := openFile(ctx, name)
		if err != nil {
			closeAll()
			if ctx.Err() != nil {
				return nil, nil, err
			}
			return nil, nil, err // "open x.ndjson: no such file or directory"
		}
		opened = append(opened, f)
		in := pipeline.Input{Name: name, R: f}
		if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
			in.Size = st.Size()
		}
		ins = append(ins, in)
	}
	return ins, closeAll, nil
}

// interruptible lets a read from a stream that may block indefinitely
// (stdin, a FIFO) give up when ctx is cancelled, so that SIGINT stops a run
// waiting for input. A regular file is read directly, checking ctx before
// each read. The read in flight is left to finish in the background; the
// process exits soon after.
func interruptible(ctx context.Context, r io.Reader) io.Reader {
	if f, ok := r.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
			return &ctxCheck{ctx: ctx, r: r}
		}
	}
	return &ctxReader{ctx: ctx, r: r, res: make(chan ctxRead, 1)}
}

type ctxRead struct {
	n   int
	err error
}

type ctxReader struct {
	ctx     context.Context
	r       io.Reader
	res     chan ctxRead
	buf     []byte
	pending bool // a read into buf is in flight
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if c.ctx.Err() != nil {
		return 0, context.Cause(c.ctx)
	}
	if !c.pending {
		if cap(c.buf) < len(p) {
			c.buf = make([]byte, len(p))
		}
		buf := c.buf[:len(p)]
		c.pending = true
		go func() {
			n, err := c.r.Read(buf)
			c.res <- ctxRead{n, err}
		}()
	}
	select {
	case r := <-c.res:
		c.pending = false
		n := copy(p, c.buf[:r.n])
		return n, r.err
	case <-c.ctx.Done():
		return 0, context.Cause(c.ctx)
	}
}

// pipelineOptions turns the shared flags into pipeline options.
func (o *txOptions) pipelineOptions(prog *rules.Program) (pipeline.Options, error) {
	in, err := stream.ParseFormat(o.InputFormat)
	if err != nil {
		return pipeline.Options{}, &UsageError{Err: err}
	}
	loc, err := time.LoadLocation(o.Timezone)
	if err != nil {
		return pipeline.Options{}, usageErrorf("--timezone %q is not a known IANA time zone", o.Timezone)
	}
	if o.Workers < 1 {
		return pipeline.Options{}, usageErrorf("--workers must be at least 1")
	}
	return pipeline.Options{
		Program:    prog,
		Format:     in,
		Parse:      txn.ParseOptions{Location: loc},
		Workers:    o.Workers,
		MaxRejects: o.MaxRejects,
		FixedOnly:  o.fixedOnly,
		Compact:    o.compact,

		RenderFields: o.fields,

		RequireMatch: o.RequireMatch,
	}, nil
}

// atomicFile is an output file written under a temporary name and renamed
// into place only when the run succeeds, so a failed or interrupted run
// leaves nothing half-written behind. A target that exists and is not a
// regular file (a device such as /dev/stdout, a FIFO) cannot be replaced by
// a rename: it is written directly.
type atomicFile struct {
	f      *os.File
	path   string
	direct bool
}

func createAtomic(path string) (*atomicFile, error) {
	var keep os.FileMode // zero: a new file, mode 0666 less the umask
	if st, err := os.Stat(path); err == nil {
		if !st.Mode().IsRegular() {
			f, err := os.OpenFile(path, os.O_WRONLY, 0)
			if err != nil {
				return nil, fileError("create output", path, err)
			}
			return &atomicFile{f: f, path: path, direct: true}, nil
		}
		keep = st.Mode().Perm() // replacing a file keeps its permissions
	}
	f, err := createTemp(path, keep)
	if err != nil {
		return nil, fileError("create output", path, err)
	}
	return &atomicFile{f: f, path: path}, nil
}

func (a *atomicFile) Write(p []byte) (int, error) { return a.f.Write(p) }

// commit makes the file visible under its name.
func (a *atomicFile) commit() error {
	if a.direct {
		if err := a.f.Close(); err != nil {
			return fileError("write output", a.path, err)
		}
		return nil
	}
	if err := a.f.Sync(); err != nil {
		a.abort()
		return fileError("write output", a.path, err)
	}
	if err := a.f.Close(); err != nil {
		os.Remove(a.f.Name())
		return fileError("write output", a.path, err)
	}
	if err := os.Rename(a.f.Name(), a.path); err != nil {
		os.Remove(a.f.Name())
		return fileError("write output", a.path, err)
	}
	return nil
}

// abort removes the temporary file.
func (a *atomicFile) abort() {
	a.f.Close()
	if !a.direct {
		os.Remove(a.f.Name())
	}
}

// outputTarget returns where the output goes, and whether that is a
// terminal. finish must be called with the run's error.
func (o *txOptions) outputTarget(ios *IOStreams) (w io.Writer, tty bool, finish func(error) error, err error) {
	if o.Out == "" || o.Out == "-" {
		return ios.Out, ios.StdoutIsTTY, func(err error) error { return err }, nil
	}
	af, err := createAtomic(o.Out)
	if err != nil {
		return nil, false, nil, err
	}
	return af, false, func(runErr error) error {
		if runErr != nil {
			var findings *FindingsError
			if !errors.As(runErr, &findings) {
				af.abort()
				return runErr
			}
		}
		if err := af.commit(); err != nil {
			return err
		}
		return runErr
	}, nil
}

// openRejects opens the --rejects file for appending.
func openRejects(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open rejects file: %w", err)
	}
	return f, nil
}

// runTx is the frame every transaction command runs in: rules, inputs,
// rejects, the pipeline, the summary and the exit status.
func runTx(ctx context.Context, f *Factory, o *txOptions, command string, sink pipeline.Sink, write func(*rules.Program) error) error {
	prog, err := loadRules(ctx, o.Rules)
	if err != nil {
		return err
	}
	if !o.Quiet {
		printRuleWarnings(f, prog)
	}
	popt, err := o.pipelineOptions(prog)
	if err != nil {
		return err
	}
	// No output may be one of the inputs or rule files.
	inputs := append([]string(nil), o.Files...)
	if len(inputs) == 0 {
		inputs = []string{"-"}
	}
	inputs = append(inputs, o.Rules...)
	inputs = append(inputs, o.fromFiles()...)
	for _, out := range []struct{ flag, path string }{
		{"--out", o.Out}, {"--rejects", o.Rejects}, {"--summary", o.Summary}, {"--unmatched", o.Unmatched},
	} {
		if err := refuseInputAsOutput(out.flag, out.path, inputs, f.IO.In); err != nil {
			return err
		}
	}
	conv, err := o.converter(f.IO.ErrOut)
	if err != nil {
		return err
	}
	if conv != nil {
		popt.Convert = conv
		popt.Format = mappingFormat(popt.Format, conv)
	}
	ins, closeInputs, err := openInputs(ctx, o.Files, f.IO.In)
	if err != nil {
		return err
	}
	defer closeInputs()
	noteStdinTTY(f.IO, command, o.Files, o.Quiet)
	if conv != nil {
		// Before the inputs are wrapped: the look reads (and rewinds) files.
		if err := indexInputs(ctx, conv, ins); err != nil {
			return err
		}
	}
	for i := range ins {
		ins[i].R = interruptible(ctx, ins[i].R)
	}
	var rejects *os.File
	earlierRejects := int64(0) // already in --rejects FILE from earlier runs
	if o.Rejects != "" {
		rejects, err = openRejects(o.Rejects)
		if err != nil {
			return err
		}
		earlierRejects = countLines(o.Rejects)
		defer rejects.Close()
		popt.Rejects = rejects
	} else if o.MaxRejects >= 0 {
		return usageErrorf("--max-rejects needs --rejects FILE")
	}
	unmatched, finishUnmatched, err := openUnmatched(o.Unmatched)
	if err != nil {
		return err
	}
	popt.Unmatched = unmatched
	toTerminal := f.IO.StdoutIsTTY && (o.Out == "" || o.Out == "-")
	bar := newProgress(f.IO, o.Quiet, f.Now, o.Files, sink.Ordered() && toTerminal)
	if bar != nil {
		popt.Progress = bar.update
	}
	if o.ext != nil {
		if sink, err = o.ext.begin(ctx, prog, &popt, ins, sink); err != nil {
			return err
		}
	}
	counts, runErr := pipeline.Run(ctx, ins, popt, sink)
	bar.done()
	if runErr == nil {
		runErr = write(prog)
	}
	if runErr == nil && o.ext != nil {
		runErr = o.ext.commit(ctx, counts)
	}
	if runErr != nil && ctx.Err() != nil {
		runErr = context.Cause(ctx)
	}
	runErr = finishUnmatched(runErr)
	status := "ok"
	switch {
	case runErr != nil && ExitCode(runErr) >= ExitInterrupted:
		status = "interrupted"
	case runErr != nil:
		status = "failed"
	case counts.Rejected > 0:
		status = "rejects"
	}
	sum := summary{
		Command: command, Version: versionString(), Status: status,
		Inputs: inputNames(ins), Rules: prog.Files, RulesSHA256: prog.SHA256,
		Read: counts.Read, Accepted: counts.Accepted, Rejected: counts.Rejected,
		Duplicates: counts.Duplicates, Bytes: counts.Bytes, RejectsBefore: earlierRejects,
		coverageSummary: newCoverageSummary(&counts.Coverage),
		State:           o.ext.summary(counts, runErr == nil),
	}
	if conv != nil {
		sum.From, sum.Skipped, sum.SkippedBy = o.From, &counts.Skipped, conv.Skipped()
	}
	if !o.Quiet {
		fmt.Fprintln(f.IO.ErrOut, sum.line())
	}
	if o.Summary != "" {
		if err := writeSummaryFile(o.Summary, &sum); err != nil && runErr == nil {
			runErr = err
		}
	}
	if runErr == nil && counts.Rejected > 0 {
		return &FindingsError{Msg: rejectsMessage(counts.Rejected, o.Rejects, earlierRejects)}
	}
	return runErr
}

func inputNames(ins []pipeline.Input) []string {
	out := make([]string, len(ins))
	for i, in := range ins {
		out[i] = in.Name
	}
	return out
}

func shortHash(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

// summary is the run's accounting and manifest (docs/accounting.md).
type summary struct {
	Command     string   `json:"command"`
	Version     string   `json:"version"`
	Status      string   `json:"status"`
	Inputs      []string `json:"inputs"`
	Rules       []string `json:"rules"`
	RulesSHA256 string   `json:"rules_sha256"`
	Read        int64    `json:"read"`
	Accepted    int64    `json:"accepted"`
	Rejected    int64    `json:"rejected"`
	Duplicates  int64    `json:"duplicates"`
	Bytes       int64    `json:"bytes"`
	// RejectsBefore counts the records the --rejects file held before the
	// run (it is appended to).
	RejectsBefore int64 `json:"rejects_before,omitempty"`
	coverageSummary
	// State is set with --state, --shard or --partial.
	State *stateSummary `json:"state,omitempty"`
	// With --from: the source, and the records that were not transactions
	// (read = accepted + rejected + duplicates + skipped).
	From      string           `json:"from,omitempty"`
	Skipped   *int64           `json:"skipped,omitempty"`
	SkippedBy map[string]int64 `json:"skipped_by_reason,omitempty"`
}

func (s *summary) line() string {
	var b strings.Builder
	fmt.Fprintf(&b, "taxagg %s: read %d = accepted %d + rejected %d + duplicates %d",
		s.Command, s.Read, s.Accepted, s.Rejected, s.Duplicates)
	if s.Skipped != nil {
		fmt.Fprintf(&b, " + skipped %d", *s.Skipped)
		if len(s.SkippedBy) > 0 {
			fmt.Fprintf(&b, " (%s)", billing.FormatSkipped(s.SkippedBy))
		}
	}
	fmt.Fprintf(&b, " (rules %s sha256 %s)", strings.Join(s.Rules, ","), shortHash(s.RulesSHA256))
	b.WriteString("; ")
	b.WriteString(s.coverageSummary.line())
	if s.State != nil {
		b.WriteString(s.State.line())
	}
	if s.Status == "interrupted" {
		b.WriteString(" [interrupted]")
	}
	return b.String()
}
