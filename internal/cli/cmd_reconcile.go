package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/taxagg/taxagg/internal/billing"
	"github.com/taxagg/taxagg/internal/reconcile"
	"github.com/taxagg/taxagg/internal/stream"
)

// ReconcileOptions are reconcile's flags and arguments.
type ReconcileOptions struct {
	A, B            string
	FromA, FromB    string
	Key, KeyA, KeyB string
	Fuzzy           bool
	AmountTolerance string
	DateWindow      time.Duration
	Prefer          string
	Duplicates      string
	Review          string
	Report          string
	Format          string
	Columns         []string
	Out             string
	Memory          string
	Quiet           bool
}

// NewCmdReconcile builds `taxagg reconcile`. runF replaces the run function
// in tests of flag parsing.
func NewCmdReconcile(f *Factory, runF func(context.Context, *ReconcileOptions) error) *cobra.Command {
	opts := &ReconcileOptions{}
	cmd := &cobra.Command{
		Use:   "reconcile [flags] A B",
		Short: "Diff-merge two billing exports into one canonical ledger",
		Long: `Read two billing exports (either may be -), match their records by key, compare amount,
tax, currency, state, date (within --date-window) and customer, and write the canonical ledger:

  key, id_a, id_b, source (a|b|both), status (match|diff|only_a|only_b|duplicate),
  date, customer, currency, amount, tax, state, diffs [{field, a, b}]

Sources: Stripe list objects or arrays of charges, invoices, refunds and credit notes;
Chargebee invoice exports; taxagg's canonical NDJSON/JSON/CSV; or a YAML mapping file for
anything else. Minor units are converted with each record's own currency exponent.
A summary (counts per status, amount and tax totals per side and in the ledger, per
currency) goes to stderr. Past --memory, records spill to temporary files partitioned
by key hash; the ledger is the same.`,
		Example: `  taxagg reconcile stripe_invoices.json chargebee_invoices.json --key-a metadata.order_id
  taxagg reconcile --from-b mapping.yaml --fuzzy --amount-tolerance 0.01 a.ndjson b.csv
  taxagg reconcile --key-a charge --duplicates group --review todo.ndjson refunds.json ledger.ndjson`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 2 {
				return usageErrorf("reconcile takes two exports, A and B (got %d)", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.A, opts.B = args[0], args[1]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return reconcileRun(cmd.Context(), f, opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.FromA, "from-a", "auto", "`SOURCE` of A: auto, canonical, stripe, chargebee, or a mapping YAML file")
	fl.StringVar(&opts.FromB, "from-b", "auto", "`SOURCE` of B: auto, canonical, stripe, chargebee, or a mapping YAML file")
	fl.StringVar(&opts.Key, "key", "id", "the matching key: canonical `FIELD[,FIELD]`")
	fl.StringVar(&opts.KeyA, "key-a", "", "A's own `KEY`: canonical fields or dotted source paths such as metadata.order_id (default: --key)")
	fl.StringVar(&opts.KeyB, "key-b", "", "B's own `KEY` (default: --key)")
	fl.BoolVar(&opts.Fuzzy, "fuzzy", false, "pair leftovers by customer + currency + amount within tolerance + date within --date-window")
	fl.StringVar(&opts.AmountTolerance, "amount-tolerance", "0", "amounts whose absolute difference is at most `D` are equal")
	fl.DurationVar(&opts.DateWindow, "date-window", 24*time.Hour, "dates at most this far apart are equal; the fuzzy pairing window")
	fl.StringVar(&opts.Prefer, "prefer", "a", "whose `SIDE` enters the ledger for a pair: a, b or newest (by updated)")
	fl.StringVar(&opts.Duplicates, "duplicates", "report", "`POLICY` for a key seen twice on one side: report, group (sum them) or error")
	fl.StringVar(&opts.Review, "review", "", "write every record that is not match to `FILE`, one JSON object a line")
	fl.StringVar(&opts.Report, "report", "", "write the full discrepancy report to `FILE` as JSON")
	fl.StringVar(&opts.Format, "format", "", "ledger format: table, json, ndjson or csv (default: table on a terminal, else ndjson)")
	fl.StringSliceVar(&opts.Columns, "columns", nil, "write only these comma-separated ledger `COLUMNS`, in this order, in every format")
	fl.StringVarP(&opts.Out, "out", "o", "", "write the ledger to `FILE` atomically (default: stdout)")
	fl.StringVar(&opts.Memory, "memory", "1GiB", "memory budget `SIZE`; past it records spill to temporary files (e.g. 512MiB, 4GiB)")
	fl.BoolVarP(&opts.Quiet, "quiet", "q", false, "no summary on stderr")
	return cmd
}

func reconcileRun(ctx context.Context, f *Factory, opts *ReconcileOptions) (err error) {
	ro := reconcile.Options{
		Key: reconcile.ParseKey(opts.Key), KeyA: reconcile.ParseKey(opts.KeyA), KeyB: reconcile.ParseKey(opts.KeyB),
		Fuzzy: opts.Fuzzy, DateWindow: opts.DateWindow, Version: versionString(), Quiet: opts.Quiet,
	}
	if ro.AmountTolerance, err = reconcile.ParseTolerance(opts.AmountTolerance); err != nil {
		return usageErrorf("--amount-tolerance: %v", err)
	}
	if opts.DateWindow < 0 {
		return usageErrorf("--date-window must not be negative")
	}
	if ro.Prefer, err = reconcile.ParsePrefer(opts.Prefer); err != nil {
		return usageErrorf("--prefer %v", err)
	}
	if ro.Duplicates, err = reconcile.ParseDuplicates(opts.Duplicates); err != nil {
		return usageErrorf("--duplicates %v", err)
	}
	if ro.Memory, err = parseBytes(opts.Memory); err != nil {
		return usageErrorf("--memory: %v", err)
	}
	if opts.A == "-" && opts.B == "-" {
		return usageErrorf("only one of A and B can be - (stdin)")
	}

	for _, out := range []struct{ flag, path string }{{"--out", opts.Out}, {"--review", opts.Review}, {"--report", opts.Report}} {
		if err := refuseInputAsOutput(out.flag, out.path, []string{opts.A, opts.B}, f.IO.In); err != nil {
			return err
		}
	}
	var ins [2]reconcile.Input
	for i, side := range []struct{ path, from, flag string }{{opts.A, opts.FromA, "--from-a"}, {opts.B, opts.FromB, "--from-b"}} {
		in, closeIn, err := openReconcileInput(ctx, side.path, side.from, side.flag, f.IO.In)
		if err != nil {
			return err
		}
		defer closeIn()
		ins[i] = in
	}

	// Outputs: the ledger, --review and --report are written atomically and
	// kept only when the run completes (with or without findings).
	var committers []*atomicFile
	defer func() {
		var findings *FindingsError
		failed := err != nil && !errors.As(err, &findings)
		for _, af := range committers {
			if failed {
				af.abort()
			} else if cerr := af.commit(); cerr != nil && err == nil {
				err = cerr
			}
		}
	}()
	open := func(path string) (io.Writer, error) {
		af, err := createAtomic(path)
		if err != nil {
			return nil, err
		}
		committers = append(committers, af)
		return af, nil
	}
	out := reconcile.Outputs{Ledger: f.IO.Out, Summary: f.IO.ErrOut}
	tty := f.IO.StdoutIsTTY
	if opts.Out != "" && opts.Out != "-" {
		if out.Ledger, err = open(opts.Out); err != nil {
			return err
		}
		tty = false
	}
	if opts.Review != "" {
		if out.Review, err = open(opts.Review); err != nil {
			return err
		}
	}
	if opts.Report != "" {
		if out.Report, err = open(opts.Report); err != nil {
			return err
		}
	}
	format, err := outputFormat(opts.Format, tty)
	if err != nil {
		return err
	}
	ro.Format = map[stream.OutputFormat]string{stream.OutputNDJSON: reconcile.FormatNDJSON,
		stream.OutputJSON: reconcile.FormatJSON, stream.OutputCSV: reconcile.FormatCSV,
		stream.OutputTable: reconcile.FormatTable}[format]
	target := newRowTarget(f, format, tty, opts.Columns)
	if err := target.check(reconcile.LedgerColumns()); err != nil {
		return err
	}
	ro.Rows = target.open

	// Hold the heap to the budget while the run lasts, unless GOMEMLIMIT
	// says otherwise: without a limit the garbage collector lets the heap
	// grow to twice what is live. The process's limit is the CLI's to set,
	// not the reconcile package's.
	if f.Getenv("GOMEMLIMIT") == "" {
		prev := debug.SetMemoryLimit(ro.Memory)
		defer debug.SetMemoryLimit(prev)
	}
	// A run's heap is nearly all live records, growing until they are
	// matched: collecting at every doubling (GOGC=100) marks them again and
	// again and finds little garbage. Collect at every fivefold instead,
	// unless GOGC says otherwise; the limit above still holds the heap to
	// the budget.
	if f.Getenv("GOGC") == "" {
		prev := debug.SetGCPercent(reconcileGCPercent)
		defer debug.SetGCPercent(prev)
	}
	res, err := reconcile.Run(ctx, ro, ins[0], ins[1], out)
	if err != nil {
		return reconcileError(err, opts)
	}
	if n := res.Findings(); n > 0 {
		return &FindingsError{}
	}
	return nil
}

// reconcileGCPercent is the collector's GOGC while reconcile runs.
const reconcileGCPercent = 400

// reconcileError words reconcile's typed errors in terms of the flags.
func reconcileError(err error, opts *ReconcileOptions) error {
	keyFlag := func(side string) string {
		if side == "A" && opts.KeyA != "" {
			return "--key-a " + opts.KeyA
		}
		if side == "B" && opts.KeyB != "" {
			return "--key-b " + opts.KeyB
		}
		return "--key " + opts.Key
	}
	var oe *reconcile.OptionError
	if errors.As(err, &oe) {
		switch oe.Option {
		case reconcile.OptKeyA:
			return usageErrorf("%s: %v", strings.Fields(keyFlag("A"))[0], oe.Err)
		case reconcile.OptKeyB:
			return usageErrorf("%s: %v", strings.Fields(keyFlag("B"))[0], oe.Err)
		case reconcile.OptDateWindow:
			return usageErrorf("--date-window %v", oe.Err)
		case reconcile.OptAmountTolerance:
			return usageErrorf("--amount-tolerance %v", oe.Err)
		case reconcile.OptFormat:
			return usageErrorf("--format: %v", oe.Err)
		}
	}
	var ek *reconcile.EmptyKeyError
	if errors.As(err, &ek) {
		return fmt.Errorf("%w (check %s; canonical fields are id, kind, date, updated, customer, currency, amount, tax, state)",
			err, keyFlag(ek.Side))
	}
	return err
}

// openReconcileInput opens one side: a file or stdin, with its preset or
// mapping file.
func openReconcileInput(ctx context.Context, path, from, flag string, stdin io.Reader) (reconcile.Input, func(), error) {
	in := reconcile.Input{Name: path, Preset: from}
	switch from {
	case "", billing.PresetAuto, billing.PresetCanonical, billing.PresetStripe, billing.PresetChargebee:
	default:
		if _, err := os.Stat(from); errors.Is(err, os.ErrNotExist) {
			return in, nil, usageErrorf("%s %q: not auto, canonical, stripe, chargebee, nor a mapping file", flag, from)
		}
		data, err := readConfigFile(ctx, from, "mapping", maxMappingFileBytes)
		if err != nil {
			return in, nil, err
		}
		if err := singleDocument(from, data); err != nil {
			return in, nil, err
		}
		m, err := billing.LoadMapping(bytes.NewReader(data), from)
		if err != nil {
			return in, nil, err
		}
		in.Mapping = m
	}
	if path == "-" {
		in.Name, in.R = "stdin", interruptible(ctx, stdin)
		return in, func() {}, nil
	}
	file, err := openFile(ctx, path)
	if err != nil {
		if ctx.Err() != nil {
			return in, nil, err
		}
		return in, nil, err
	}
	in.R = interruptible(ctx, file)
	return in, func() { file.Close() }, nil
}

// parseBytes reads a size: a number of bytes with an optional unit (KiB,
// MiB, GiB, TiB; also KB, MB, GB, TB as powers of 1000; K, M, G, T as 1024).
func parseBytes(s string) (int64, error) {
	t := strings.TrimSpace(s)
	units := []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
		{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12},
		{"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"T", 1 << 40}, {"B", 1}}
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n <= 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("%q is not a positive size such as 512MiB or 4GiB", s)
	}
	return n * mult, nil
}
