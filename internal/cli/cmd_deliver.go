package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/taxagg/taxagg/internal/deliver"
	"github.com/taxagg/taxagg/internal/failpoint"
	"github.com/taxagg/taxagg/internal/stream"
)

// DeliverOptions are deliver's flags and arguments.
type DeliverOptions struct {
	Endpoints       string
	State           string
	Files           []string
	Serve           bool
	RetrySchedule   string
	Timeout         time.Duration
	MaxRetryAfter   time.Duration
	Poll            time.Duration
	MetricsTextfile string
	MetricsAddr     string
	LogFormat       string
	LogLevel        string
	Quiet           bool
	Keep            time.Duration
}

// NewCmdDeliver builds `taxagg deliver` and its dlq commands. runF replaces
// the run function in tests of flag parsing.
func NewCmdDeliver(f *Factory, runF func(context.Context, *DeliverOptions) error) *cobra.Command {
	opts := &DeliverOptions{}
	cmd := &cobra.Command{
		Use:   "deliver --endpoints FILE --state FILE [flags] [FILE ...]",
		Short: "Push calc's results to webhook endpoints, signed, retried, never lost",
		Long: `Read the records taxagg calc writes (NDJSON, or its JSON array; files, or stdin when no
FILE is given and stdin is not a terminal), record each as a tax.calculated event in a
durable outbox (--state: an SQLite file of its own, not calc's --state), and POST it to
every endpoint of the endpoints file that subscribes to it:

  {"type":"tax.calculated","timestamp":"<when recorded>",
   "data":{"transaction_id":"...","version":1,"record":{...calc's record...}}}

Recording is idempotent: the same record read again adds nothing; a changed record for a
known transaction id is a new event with the next version. Requests are signed per
Standard Webhooks: webhook-id (the same on every retry of an event to an endpoint),
webhook-timestamp, webhook-signature (v1, HMAC-SHA256 with the endpoint's whsec_ secret,
from secret_env or secret_file; two secrets separated by a space during a rotation).

2xx is delivered. Network errors, timeouts (and 408), 429 and 5xx are retried on the
--retry-schedule with jitter, no sooner than a Retry-After asks (up to --max-retry-after).
Redirects are not followed; 3xx and other 4xx go to the dead-letter queue at once; 410
also disables the endpoint (its pending deliveries go to the dead-letter queue too):
'deliver dlq replay' sends them again, with the same ids, and enables it.

Without --serve, deliver sends what is due and exits; deliveries waiting for a retry
are sent by the next run. With --serve it keeps running and sends retries as they fall
due (and events other runs record). Ordering is not promised: a receiver keeps the
highest data.version per data.transaction_id. One process delivers from an outbox at
a time; another run only records its events for it to send.

An event every endpoint has had for longer than --keep is pruned to a tombstone (its id
and content hash: read again, it is not sent again). A pending delivery whose endpoint
is no longer in the endpoints file is parked as orphaned (see deliver dlq).` + deliverExitHelp,
		Example: `  export ERP_WEBHOOK_SECRET=whsec_...
  taxagg calc --rules rules.yaml orders.ndjson | taxagg deliver --endpoints endpoints.yaml --state outbox.db
  taxagg deliver --endpoints endpoints.yaml --state outbox.db --serve --metrics-addr 127.0.0.1:9464
  taxagg deliver dlq list --state outbox.db`,
		Args: cobra.ArbitraryArgs, // input files; "dlq" is the subcommand
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Files = args
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return deliverRun(cmd.Context(), f, opts)
		},
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&opts.State, "state", "", "the outbox `FILE` (SQLite; created when missing; not calc's --state)")
	fl := cmd.Flags()
	fl.StringVar(&opts.Endpoints, "endpoints", "", "the endpoints `FILE` (YAML)")
	fl.BoolVar(&opts.Serve, "serve", false, "keep running: send retries as they fall due, until SIGINT or SIGTERM")
	fl.StringVar(&opts.RetrySchedule, "retry-schedule", deliver.FormatSchedule(deliver.DefaultSchedule), "waits between attempts, comma-separated (each with ±20% jitter); none for no retries")
	fl.DurationVar(&opts.Timeout, "timeout", 15*time.Second, "the most one request may take, answer included (an endpoint's timeout: overrides it)")
	fl.DurationVar(&opts.MaxRetryAfter, "max-retry-after", 0, "the longest a Retry-After may put a delivery off (default: the schedule's longest wait)")
	fl.DurationVar(&opts.Poll, "poll", 5*time.Second, "with --serve, how often to look for events recorded by other runs")
	fl.StringVar(&opts.MetricsTextfile, "metrics-textfile", "", "write metrics in the Prometheus text format to `FILE` (atomically) at the end, and while serving")
	fl.StringVar(&opts.MetricsAddr, "metrics-addr", "", "with --serve, serve metrics at http://`ADDR`/metrics")
	fl.StringVar(&opts.LogFormat, "log-format", "text", "log format on stderr: text or json")
	fl.StringVar(&opts.LogLevel, "log-level", "info", "log level: debug (every delivery), info (retries), warn (dead letters), error")
	fl.BoolVarP(&opts.Quiet, "quiet", "q", false, "no summary on stderr")
	fl.DurationVar(&opts.Keep, "keep", deliver.DefaultKeep, "keep an event delivered to every endpoint this long, then prune it to a tombstone (its id and content hash: read again, it is not sent again); 0 keeps everything")
	cmd.AddCommand(newCmdDLQ(f, opts))
	return cmd
}

const deliverExitHelp = `

EXIT STATUS
  0    nothing pending: every event delivered to every endpoint
  1    some deliveries wait for a retry, are in the dead-letter queue, or are orphaned
  2    usage error, bad endpoints file, bad input, or I/O failure
  130  interrupted (SIGINT)
  143  terminated (SIGTERM)`

func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, usageErrorf("--log-level %q: want debug, info, warn or error", level)
	}
	ho := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, ho)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, ho)), nil
	}
	return nil, usageErrorf("--log-format %q: want text or json", format)
}

func deliverRun(ctx context.Context, f *Factory, opts *DeliverOptions) error {
	if opts.State == "" {
		return usageErrorf("deliver needs --state FILE: the outbox lives there")
	}
	if opts.Endpoints == "" {
		return usageErrorf("deliver needs --endpoints FILE")
	}
	schedule, err := deliver.ParseSchedule(opts.RetrySchedule)
	if err != nil {
		return usageErrorf("--retry-schedule: %v", err)
	}
	if opts.Timeout <= 0 {
		return usageErrorf("--timeout must be positive")
	}
	if opts.Keep < 0 {
		return usageErrorf("--keep must not be negative (0 keeps everything)")
	}
	if opts.MetricsAddr != "" && !opts.Serve {
		return usageErrorf("--metrics-addr needs --serve (without it, use --metrics-textfile)")
	}
	log, err := newLogger(f.IO.ErrOut, opts.LogFormat, opts.LogLevel)
	if err != nil {
		return err
	}
	targets, err := loadTargets(opts.Endpoints, f.Getenv)
	if err != nil {
		return err
	}
	eps := make([]deliver.Endpoint, len(targets))
	ids := make([]string, len(targets))
	for i := range targets {
		eps[i], ids[i] = targets[i].Endpoint, targets[i].ID
	}
	st, err := deliver.Open(ctx, opts.State)
	if err != nil {
		return err
	}
	defer st.Close()

	// Record first: an event is in the outbox before any attempt.
	var read deliver.ReadStats
	inputs := opts.Files
	if len(inputs) == 0 && !isTerminal(f.IO.In) {
		inputs = []string{"-"}
	}
	for _, name := range inputs {
		s, err := readEventsFrom(ctx, st, name, f.IO.In, eps, f.Now)
		read.Read += s.Read
		read.New += s.New
		read.Duplicate += s.Duplicate
		read.Deliveries += s.Deliveries
		if err != nil {
			return err
		}
	}

	unlock, locked, err := deliver.Lock(opts.State)
	if err != nil {
		return err
	}
	metrics := deliver.NewMetrics()
	var sum deliver.Summary
	if locked {
		defer unlock()
		ro := deliver.Options{
			Store:         st,
			Targets:       targets,
			Schedule:      schedule,
			Timeout:       opts.Timeout,
			MaxRetryAfter: opts.MaxRetryAfter,
			Serve:         opts.Serve,
			Poll:          opts.Poll,
			Log:           log,
			Metrics:       metrics,
			UserAgent:     "taxagg/" + Version,
			Keep:          opts.Keep,
		}
		// Test-only: TAXAGG_FAILPOINT=deliver-after-send kills the process
		// after its first answer is read, before the outcome is recorded.
		if fp, err := failpoint.FromEnv(f.Getenv); err != nil {
			return usageErrorf("%v", err)
		} else if fp.Set() {
			ro.AfterSend = func(deliver.Job) { fp.Hit("deliver-after-send") }
		}
		if opts.Serve && opts.MetricsTextfile != "" {
			last := time.Time{}
			ro.Tick = func() {
				if now := f.Now(); now.Sub(last) >= 10*time.Second {
					last = now
					if err := writeMetricsFile(ctx, opts.MetricsTextfile, metrics, st, ids, now); err != nil {
						log.Warn("metrics textfile", "error", err)
					}
				}
			}
		}
		if opts.MetricsAddr != "" {
			_, stopMetrics, err := serveMetrics(ctx, opts.MetricsAddr, metrics, st, ids, f.Now, log)
			if err != nil {
				return err
			}
			defer stopMetrics()
		}
		if opts.Serve {
			log.Info("serving", "state", opts.State, "endpoints", strings.Join(ids, ","))
		}
		sum, err = deliver.Run(ctx, ro)
		if err != nil {
			return err
		}
	} else {
		if opts.Serve {
			return fmt.Errorf("state %s: another taxagg deliver is delivering from it (its lock %s.deliver-lock is held)", opts.State, opts.State)
		}
		log.Info("another taxagg deliver is delivering from this state file: events recorded for it to send", "state", opts.State)
	}
	if opts.MetricsTextfile != "" {
		if err := writeMetricsFile(context.WithoutCancel(ctx), opts.MetricsTextfile, metrics, st, ids, f.Now()); err != nil {
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	byEP, err := st.Counts(ctx)
	if err != nil {
		return err
	}
	total := deliver.Total(byEP)
	for _, ep := range slices.Sorted(maps.Keys(byEP)) {
		if c := byEP[ep]; (c.Pending > 0 || c.Orphaned > 0) && !slices.Contains(ids, ep) {
			log.Warn("deliveries are orphaned: their endpoint is not in the endpoints file (put it back to send them, or deliver dlq purge --endpoint)", "endpoint", ep, "orphaned", c.Orphaned+c.Pending)
		}
	}
	if !opts.Quiet {
		fmt.Fprintf(f.IO.ErrOut, "deliver: read %s (%s, %d already recorded); %s: %d delivered, %d to retry, %d dead-lettered",
			deliverPlural(read.Read, "record"), deliverPlural(read.New, "new event"), read.Duplicate, deliverPlural(sum.Attempts, "attempt"), sum.Delivered, sum.Retries, sum.Dead)
		if len(sum.Disabled) > 0 {
			fmt.Fprintf(f.IO.ErrOut, "; disabled (410): %s", strings.Join(sum.Disabled, ", "))
		}
		if sum.Pruned.Events > 0 {
			fmt.Fprintf(f.IO.ErrOut, "; pruned %s delivered before %s", deliverPlural(sum.Pruned.Events, "event"), f.Now().Add(-opts.Keep).UTC().Format(time.RFC3339))
		}
		fmt.Fprintf(f.IO.ErrOut, "\ndeliver: outbox: %d pending, %d delivered, %d dead", total.Pending, total.Delivered, total.Dead)
		if total.Orphaned > 0 {
			fmt.Fprintf(f.IO.ErrOut, ", %d orphaned", total.Orphaned)
		}
		fmt.Fprintln(f.IO.ErrOut)
	}
	if total.Pending > 0 || total.Dead > 0 || total.Orphaned > 0 {
		var parts []string
		if total.Pending > 0 {
			p := deliverPlural(total.Pending, "delivery") + " pending"
			if !total.NextDue.IsZero() {
				p += " (next attempt due " + total.NextDue.Format(time.RFC3339) + "; run deliver again, or keep it running with --serve)"
			}
			parts = append(parts, p)
		}
		if total.Dead > 0 {
			parts = append(parts, fmt.Sprintf("%d in the dead-letter queue (taxagg deliver dlq list --state %s)", total.Dead, opts.State))
		}
		if total.Orphaned > 0 {
			parts = append(parts, fmt.Sprintf("%s orphaned: their endpoint is not in the endpoints file (taxagg deliver dlq list --state %s)", deliverPlural(total.Orphaned, "delivery"), opts.State))
		}
		return &FindingsError{Msg: "deliver: " + strings.Join(parts, "; ")}
	}
	return nil
}

// deliverPlural says "1 record", "2 records", "2 deliveries".
func deliverPlural(n int, word string) string {
	if n != 1 {
		if w, ok := strings.CutSuffix(word, "y"); ok {
			word = w + "ie"
		}
		word += "s"
	}
	return fmt.Sprintf("%d %s", n, word)
}

func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// dlqColumns are the columns of `deliver dlq list`'s table.
var dlqColumns = []stream.Column{
	{Name: "webhook_id"}, {Name: "endpoint"}, {Name: "state"}, {Name: "transaction"},
	{Name: "version", Kind: stream.Number, Drop: 2}, {Name: "attempts", Kind: stream.Number, Drop: 1},
	{Name: "status", Kind: stream.Number}, {Name: "since", Drop: 3}, {Name: "error"},
}

func readEventsFrom(ctx context.Context, st *deliver.Store, name string, stdin io.Reader, eps []deliver.Endpoint, now func() time.Time) (deliver.ReadStats, error) {
	if name == "-" {
		return deliver.ReadEvents(ctx, st, "stdin", stdin, eps, now)
	}
	fh, err := os.Open(name)
	if err != nil {
		return deliver.ReadStats{}, err // "open x.ndjson: no such file or directory"
	}
	defer fh.Close()
	return deliver.ReadEvents(ctx, st, name, fh, eps, now)
}

// loadTargets reads the endpoints file and each endpoint's secret. A
// secret_file path is relative to the endpoints file's directory. No error
// shows a secret's value.
func loadTargets(path string, getenv func(string) string) ([]deliver.Target, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("endpoints: %w", err)
	}
	defer fh.Close()
	eps, err := deliver.ParseEndpoints(path, fh)
	if err != nil {
		return nil, err
	}
	targets := make([]deliver.Target, len(eps))
	for i, ep := range eps {
		var value, from string
		if ep.SecretEnv != "" {
			from = "secret_env " + ep.SecretEnv
			value = getenv(ep.SecretEnv)
			if value == "" {
				return nil, fmt.Errorf("%s:%d: endpoint %s: %s is not set", path, ep.Line, ep.ID, ep.SecretEnv)
			}
		} else {
			p := ep.SecretFile
			if !filepath.IsAbs(p) {
				p = filepath.Join(filepath.Dir(path), p)
			}
			from = "secret_file " + p
			b, err := os.ReadFile(p)
			if err != nil {
				var pe *os.PathError
				if errors.As(err, &pe) {
					err = pe.Err
				}
				return nil, fmt.Errorf("%s:%d: endpoint %s: %s: %v", path, ep.Line, ep.ID, from, err)
			}
			value = string(b)
		}
		keys, err := deliver.ParseKeys(value)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: endpoint %s: %s: %v", path, ep.Line, ep.ID, from, err)
		}
		targets[i] = deliver.Target{Endpoint: ep, Keys: keys}
	}
	return targets, nil
}

func writeMetricsFile(ctx context.Context, path string, m *deliver.Metrics, st *deliver.Store, ids []string, now time.Time) error {
	af, err := createAtomic(path)
	if err != nil {
		return fmt.Errorf("metrics textfile: %w", err)
	}
	if err := m.Write(ctx, af, st, ids, now); err != nil {
		af.abort()
		return fmt.Errorf("metrics textfile: %w", err)
	}
	if err := af.commit(); err != nil {
		return fmt.Errorf("metrics textfile: %w", err)
	}
	return nil
}

// serveMetrics serves /metrics at addr until stop is called; it returns
// the address it listens on.
func serveMetrics(ctx context.Context, addr string, m *deliver.Metrics, st *deliver.Store, ids []string, now func() time.Time, log *slog.Logger) (string, func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("--metrics-addr: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		if err := m.Write(r.Context(), w, st, ids, now()); err != nil {
			log.Warn("metrics", "error", err)
		}
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	log.Info("metrics", "url", "http://"+ln.Addr().String()+"/metrics")
	return ln.Addr().String(), func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}, nil
}

func newCmdDLQ(f *Factory, parent *DeliverOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "dlq list|export|replay|purge --state FILE",
		Short: "The dead-letter queue: what could not be delivered, and why; send it again",
		Long: `The dead-letter queue holds the deliveries that will not be retried: answered 3xx or 4xx
(other than 408 and 429), 410 Gone (the endpoint is then disabled), or failed on every
attempt of the retry schedule. For each: the webhook id, the endpoint, the transaction
id and version, the attempts made, the last status and error.

  list     one line each (--format json: one JSON object each)
  export   one JSON object each, with the payload as it was sent
  replay   put them back in the outbox, due now, with the same webhook ids and a fresh
           retry schedule, and enable their endpoints again; the next deliver run
           sends them
  purge    give up on them: they leave the queue for good, are never sent, and are
           not added again when their records are read again

The queue also lists the orphaned deliveries (STATE orphaned): pending ones whose endpoint
is no longer in the endpoints file. Nothing sends them; they are pending again when the
endpoint is back in the file, or leave with purge. Dead letters and orphaned deliveries
are never pruned by --keep.` + exitStatusHelp,
		Example: `  taxagg deliver dlq list --state outbox.db
  taxagg deliver dlq export --state outbox.db --endpoint erp > erp-dead.ndjson
  taxagg deliver dlq replay --state outbox.db --endpoint erp && taxagg deliver --endpoints endpoints.yaml --state outbox.db
  taxagg deliver dlq purge --state outbox.db --endpoint old-erp`,
		Args: func(cmd *cobra.Command, args []string) error {
			return usageErrorf("deliver dlq takes a command: list, export, replay or purge")
		},
		RunE: func(cmd *cobra.Command, args []string) error { return nil },
	}
	var endpoints, ids []string
	var format string
	var all bool
	filter := func() deliver.Filter { return deliver.Filter{Endpoints: endpoints, IDs: ids} }
	open := func(ctx context.Context) (*deliver.Store, error) {
		if parent.State == "" {
			return nil, usageErrorf("deliver dlq needs --state FILE")
		}
		if _, err := os.Stat(parent.State); err != nil {
			return nil, fmt.Errorf("state: %w", err)
		}
		return deliver.Open(ctx, parent.State)
	}
	list := &cobra.Command{
		Use:   "list --state FILE [--endpoint ID] [--format table|json]",
		Short: "List the dead letters: what failed and why",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format != "table" && format != "json" {
				return usageErrorf("--format %q: want table or json", format)
			}
			st, err := open(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			dl, err := st.Dead(cmd.Context(), filter())
			if err != nil {
				return err
			}
			if format == "json" {
				enc := json.NewEncoder(f.IO.Out)
				for _, d := range dl {
					if err := enc.Encode(d); err != nil {
						return err
					}
				}
				return nil
			}
			rw, _, err := newRowTarget(f, stream.OutputTable, f.IO.StdoutIsTTY, nil).open(f.IO.Out, dlqColumns, stream.RowOptions{})
			if err != nil {
				return err
			}
			for _, d := range dl {
				status := ""
				if d.LastStatus != 0 {
					status = strconv.Itoa(d.LastStatus)
				}
				if err := rw.Write([]string{d.MsgID, d.Endpoint, d.State, d.TxnID, stream.Itoa(d.Version), strconv.Itoa(d.Attempts),
					status, d.DeadAt.Format(time.RFC3339), d.LastError}); err != nil {
					return err
				}
			}
			if err := rw.Close(); err != nil {
				return err
			}
			fmt.Fprintln(f.IO.ErrOut, deliverPlural(len(dl), "dead letter"))
			return nil
		},
	}
	list.Flags().StringVar(&format, "format", "table", "table or json (one object a line)")
	export := &cobra.Command{
		Use:   "export --state FILE [--endpoint ID]",
		Short: "Write the dead letters as NDJSON, each with its payload",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := open(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			dl, err := st.Dead(cmd.Context(), filter())
			if err != nil {
				return err
			}
			enc := json.NewEncoder(f.IO.Out)
			for _, d := range dl {
				row := struct {
					deliver.DeadLetter
					Payload json.RawMessage `json:"payload"`
				}{d, json.RawMessage(d.Body)}
				if err := enc.Encode(row); err != nil {
					return err
				}
			}
			return nil
		},
	}
	replay := &cobra.Command{
		Use:   "replay --state FILE (--all | --endpoint ID | --id WEBHOOK_ID ...)",
		Short: "Put dead letters back in the outbox, with the same webhook ids",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !all && len(endpoints) == 0 && len(ids) == 0 {
				return usageErrorf("deliver dlq replay: say which: --all, --endpoint ID or --id WEBHOOK_ID")
			}
			st, err := open(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			n, enabled, err := st.Replay(cmd.Context(), filter(), f.Now())
			if err != nil {
				return err
			}
			msg := "requeued " + deliverPlural(n, "dead letter")
			if len(enabled) > 0 {
				msg += "; enabled again: " + strings.Join(enabled, ", ")
			}
			if n > 0 {
				msg += "; the next taxagg deliver run sends them"
			}
			fmt.Fprintln(f.IO.ErrOut, msg)
			return nil
		},
	}
	replay.Flags().BoolVar(&all, "all", false, "every dead letter")
	purge := &cobra.Command{
		Use:   "purge --state FILE (--all | --endpoint ID | --id WEBHOOK_ID ...)",
		Short: "Give up on dead letters and orphaned deliveries: never send them",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !all && len(endpoints) == 0 && len(ids) == 0 {
				return usageErrorf("deliver dlq purge: say which: --all, --endpoint ID or --id WEBHOOK_ID")
			}
			st, err := open(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			n, err := st.Purge(cmd.Context(), filter(), f.Now())
			if err != nil {
				return err
			}
			fmt.Fprintf(f.IO.ErrOut, "purged %s: they will not be sent\n", deliverPlural(n, "delivery"))
			return nil
		},
	}
	purge.Flags().BoolVar(&all, "all", false, "every dead letter and orphaned delivery")
	for _, c := range []*cobra.Command{list, export, replay, purge} {
		c.Flags().StringSliceVar(&endpoints, "endpoint", nil, "only these endpoints' (repeatable, or comma-separated)")
		c.Flags().StringSliceVar(&ids, "id", nil, "only these webhook ids (repeatable, or comma-separated)")
		cmd.AddCommand(c)
	}
	return cmd
}
