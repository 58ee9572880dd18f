package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/taxagg/taxagg/internal/aggregate"
	"github.com/taxagg/taxagg/internal/billing"
	"github.com/taxagg/taxagg/internal/kstream"
	"github.com/taxagg/taxagg/internal/pipeline"
	"github.com/taxagg/taxagg/internal/stream"
	"github.com/taxagg/taxagg/internal/txn"
)

// RunWith runs the command tree under ctx with f's streams and
// environment, and returns the exit code: Main without the process (for
// tests of other packages).
func RunWith(ctx context.Context, f *Factory, args []string) int { return run(ctx, f, args) }

// StreamOptions are stream's flags.
type StreamOptions struct {
	Brokers      string
	Group        string
	Topic        string
	To           string
	Totals       string
	RejectsTopic string
	Instance     string
	Rules        []string
	Period       string
	ByRate       bool
	Timezone     string
	MaxBatch     int
	Linger       time.Duration
	Once         bool
	Idle         time.Duration
	MetricsAddr  string
	LogLevel     string
	TxnTimeout   time.Duration

	TLS             bool
	TLSCA           string
	TLSCert         string
	TLSKey          string
	TLSServerName   string
	TLSInsecure     bool
	SASLMechanism   string
	SASLUser        string
	SASLPasswordEnv string

	fromOptions // --from, --product-map
}

// NewCmdStream builds `taxagg stream`.
func NewCmdStream(f *Factory, runF func(context.Context, *StreamOptions) error) *cobra.Command {
	opts := &StreamOptions{}
	cmd := &cobra.Command{
		Use:   "stream --brokers HOST:PORT[,...] --group NAME --topic IN --to OUT [flags]",
		Short: "Compute tax events and running totals from a Kafka topic, exactly once",
		Long: `Join a Kafka consumer group and read transaction records from --topic (one JSON object per
message, keyed by transaction id). For each record, produce its calc event (the object
'taxagg calc' writes) to --to, keyed by id; send a bad record, with the reason and its
topic, partition and offset, to --rejects-topic. The running totals of each input
partition (the rows of 'taxagg aggregate', with --period and --by-rate) go to the
compacted --totals topic as they change, with what restores the partition's state:
its duplicate set (an id counts once, however often it is replayed) and exact sums.

The events, the totals changes, the rejects and the consumed offsets of a batch commit in
one Kafka transaction, so a read_committed consumer sees each record's event exactly once
through crashes, rebalances and broker restarts. Consumers reading read_uncommitted also
see aborted attempts. See docs/stream.md for the topics to create.

With --from stripe, chargebee or a mapping file, each message is a billing document (a
Stripe invoice, credit note, charge or refund, a Chargebee invoice or credit note),
converted as the batch commands' --from converts it, but on its own: a credit note
does not look up an invoice from an earlier message. Documents that are not
transactions (draft and void invoices, ...) are counted as skipped.

Logs are JSON lines on stderr; --metrics-addr serves Prometheus metrics at /metrics.
SIGTERM or SIGINT ends the open transaction and leaves the group. --once stops when no
record came for --idle.` + exitStatusHelp,
		Example: `  taxagg stream --brokers kafka-1:9092,kafka-2:9092 --group taxagg --topic transactions \
      --to tax-events --totals tax-totals --rejects-topic tax-rejects --period month \
      --metrics-addr :9464
  TAXAGG_SASL_PASSWORD=... taxagg stream --brokers b:9093 --tls --sasl-mechanism scram-sha-512 \
      --sasl-user taxagg --group taxagg --topic transactions --to tax-events --once`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return streamRun(cmd.Context(), f, opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Brokers, "brokers", "", "Kafka bootstrap `BROKERS`, HOST:PORT[,...] (required)")
	fl.StringVar(&opts.Group, "group", "", "consumer group `NAME` (required)")
	fl.StringVar(&opts.Topic, "topic", "", "input `TOPIC` of transaction records (required)")
	fl.StringVar(&opts.To, "to", "", "output `TOPIC` of calc events (required)")
	fl.StringVar(&opts.Totals, "totals", "", "compacted totals `TOPIC` (default: GROUP.totals)")
	fl.StringVar(&opts.RejectsTopic, "rejects-topic", "", "dead-letter `TOPIC` for bad records (default: a bad record stops the member)")
	fl.StringVar(&opts.Instance, "instance", "", "this member's stable `NAME`, unique in the group; the transactional id is GROUP.NAME (default: the host name)")
	fl.StringArrayVar(&opts.Rules, "rules", nil, "rule `FILE` (repeatable, merged in order; embedded:us.yaml names the embedded pack); default: the embedded US pack")
	fl.StringVar(&opts.Period, "period", "none", "also group totals by period: day, month, quarter, year or none")
	fl.BoolVar(&opts.ByRate, "by-rate", false, "also split totals rows by the rate in force")
	fl.StringVar(&opts.Timezone, "timezone", "UTC", "IANA time `ZONE` for periods and date-only comparisons")
	fl.IntVar(&opts.MaxBatch, "max-batch", 1000, "records per transaction at most")
	fl.DurationVar(&opts.Linger, "linger", 0, "wait up to `DURATION` for a batch to fill (0: take what one poll gives)")
	fl.BoolVar(&opts.Once, "once", false, "process what is there and exit")
	fl.DurationVar(&opts.Idle, "idle", time.Second, "with --once, exit when no record came for `DURATION`")
	fl.StringVar(&opts.MetricsAddr, "metrics-addr", "", "serve Prometheus metrics at http://`ADDR`/metrics")
	fl.StringVar(&opts.LogLevel, "log-level", "info", "log level: debug, info, warn or error")
	fl.DurationVar(&opts.TxnTimeout, "transaction-timeout", time.Minute, "the broker aborts a transaction left open this long")
	fl.BoolVar(&opts.TLS, "tls", false, "connect with TLS (implied by the other --tls-* flags)")
	fl.StringVar(&opts.TLSCA, "tls-ca", "", "PEM `FILE` of the CAs to trust (default: the system's)")
	fl.StringVar(&opts.TLSCert, "tls-cert", "", "PEM client certificate `FILE`, for mutual TLS")
	fl.StringVar(&opts.TLSKey, "tls-key", "", "PEM client key `FILE`, for mutual TLS")
	fl.StringVar(&opts.TLSServerName, "tls-server-name", "", "expected server `NAME` (default: the broker's host)")
	fl.BoolVar(&opts.TLSInsecure, "tls-insecure-skip-verify", false, "do not verify the brokers' certificates (testing only)")
	fl.StringVar(&opts.SASLMechanism, "sasl-mechanism", "", "SASL mechanism: plain, scram-sha-256 or scram-sha-512")
	fl.StringVar(&opts.SASLUser, "sasl-user", "", "SASL user `NAME`")
	fl.StringVar(&opts.SASLPasswordEnv, "sasl-password-env", "TAXAGG_SASL_PASSWORD", "environment `VARIABLE` holding the SASL password")
	addFromFlags(cmd, &opts.fromOptions)
	return cmd
}

// streamConfig checks the flags and turns them into the member's config.
func streamConfig(ctx context.Context, f *Factory, opts *StreamOptions, logger *slog.Logger) (kstream.Config, error) {
	var cfg kstream.Config
	for _, req := range []struct{ flag, v string }{
		{"--brokers", opts.Brokers}, {"--group", opts.Group}, {"--topic", opts.Topic}, {"--to", opts.To},
	} {
		if req.v == "" {
			return cfg, usageErrorf("%s is required", req.flag)
		}
	}
	for _, b := range strings.Split(opts.Brokers, ",") {
		b = strings.TrimSpace(b)
		if _, _, err := net.SplitHostPort(b); err != nil {
			return cfg, usageErrorf("--brokers: %q is not HOST:PORT", b)
		}
		cfg.Brokers = append(cfg.Brokers, b)
	}
	period, err := aggregate.ParsePeriod(opts.Period)
	if err != nil {
		return cfg, &UsageError{Err: err}
	}
	loc, err := time.LoadLocation(opts.Timezone)
	if err != nil {
		return cfg, usageErrorf("--timezone %q is not a known IANA time zone", opts.Timezone)
	}
	if opts.MaxBatch < 1 {
		return cfg, usageErrorf("--max-batch must be at least 1")
	}
	if opts.Linger < 0 || opts.Idle <= 0 || opts.TxnTimeout <= 0 {
		return cfg, usageErrorf("--linger must not be negative; --idle and --transaction-timeout must be positive")
	}
	totals := opts.Totals
	if totals == "" {
		totals = opts.Group + ".totals"
	}
	tlsCfg, err := streamTLS(opts)
	if err != nil {
		return cfg, err
	}
	mech, err := streamSASL(f, opts)
	if err != nil {
		return cfg, err
	}
	prog, err := loadRules(ctx, opts.Rules)
	if err != nil {
		return cfg, err
	}
	cfg.Group, cfg.Topic, cfg.To, cfg.Totals, cfg.Rejects = opts.Group, opts.Topic, opts.To, totals, opts.RejectsTopic
	cfg.Instance = opts.Instance
	cfg.Program = prog
	cfg.Parse = txn.ParseOptions{Location: loc}
	cfg.Aggregate = aggregate.Options{Period: period, ByRate: opts.ByRate}
	conv, err := streamConverter(opts, logger)
	if err != nil {
		return cfg, err
	}
	if conv != nil {
		cfg.Convert = conv
	}
	charged := conv != nil
	cfg.NewRenderer = func() pipeline.WorkerSink { return &calcWorker{format: stream.OutputNDJSON, charged: charged} }
	cfg.MaxBatch, cfg.Linger, cfg.Once, cfg.Idle = opts.MaxBatch, opts.Linger, opts.Once, opts.Idle
	cfg.TransactionTimeout = opts.TxnTimeout
	cfg.TLS, cfg.SASL = tlsCfg, mech
	cfg.Logger = logger
	cfg.Metrics = kstream.NewMetrics()
	return cfg, nil
}

// streamConverter is the converter --from asks for (nil for taxagg's own
// format). It converts each message on its own: what a message becomes
// must not depend on which messages this member happened to read before
// it, or a replay after a restart or a rebalance could differ.
func streamConverter(opts *StreamOptions, logger *slog.Logger) (*billing.TxConverter, error) {
	conv, err := opts.newConverter(func(msg string) { logger.Warn(msg) }, true)
	if err != nil || conv == nil {
		return nil, err
	}
	switch f := conv.InputFormat(); f {
	case "", "auto", "json", "ndjson":
	default:
		return nil, usageErrorf("--from %s: the mapping reads %s; stream reads one JSON object per message", opts.From, f)
	}
	return conv, nil
}

func streamTLS(opts *StreamOptions) (*tls.Config, error) {
	if !opts.TLS && opts.TLSCA == "" && opts.TLSCert == "" && opts.TLSKey == "" && opts.TLSServerName == "" && !opts.TLSInsecure {
		return nil, nil
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: opts.TLSServerName, InsecureSkipVerify: opts.TLSInsecure}
	if opts.TLSCA != "" {
		pem, err := os.ReadFile(opts.TLSCA)
		if err != nil {
			return nil, fmt.Errorf("read --tls-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--tls-ca %s: no PEM certificate in it", opts.TLSCA)
		}
		c.RootCAs = pool
	}
	if (opts.TLSCert == "") != (opts.TLSKey == "") {
		return nil, usageErrorf("--tls-cert and --tls-key go together")
	}
	if opts.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(opts.TLSCert, opts.TLSKey)
		if err != nil {
			return nil, fmt.Errorf("load --tls-cert/--tls-key: %w", err)
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c, nil
}

func streamSASL(f *Factory, opts *StreamOptions) (sasl.Mechanism, error) {
	if opts.SASLMechanism == "" {
		if opts.SASLUser != "" {
			return nil, usageErrorf("--sasl-user needs --sasl-mechanism")
		}
		return nil, nil
	}
	if opts.SASLUser == "" {
		return nil, usageErrorf("--sasl-mechanism needs --sasl-user")
	}
	pass := f.Getenv(opts.SASLPasswordEnv)
	if pass == "" {
		return nil, usageErrorf("the SASL password is read from $%s, which is empty", opts.SASLPasswordEnv)
	}
	switch strings.ToLower(opts.SASLMechanism) {
	case "plain":
		return plain.Auth{User: opts.SASLUser, Pass: pass}.AsMechanism(), nil
	case "scram-sha-256":
		return scram.Auth{User: opts.SASLUser, Pass: pass}.AsSha256Mechanism(), nil
	case "scram-sha-512":
		return scram.Auth{User: opts.SASLUser, Pass: pass}.AsSha512Mechanism(), nil
	}
	return nil, usageErrorf("--sasl-mechanism %q must be plain, scram-sha-256 or scram-sha-512", opts.SASLMechanism)
}

func streamLogger(f *Factory, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, usageErrorf("--log-level %q must be debug, info, warn or error", level)
	}
	return slog.New(slog.NewJSONHandler(f.IO.ErrOut, &slog.HandlerOptions{Level: lv})), nil
}

func streamRun(ctx context.Context, f *Factory, opts *StreamOptions) error {
	logger, err := streamLogger(f, opts.LogLevel)
	if err != nil {
		return err
	}
	cfg, err := streamConfig(ctx, f, opts, logger)
	if err != nil {
		return err
	}
	if opts.MetricsAddr != "" {
		ln, err := net.Listen("tcp", opts.MetricsAddr)
		if err != nil {
			return fmt.Errorf("--metrics-addr: %w", err)
		}
		mux := http.NewServeMux()
		mux.Handle("/metrics", cfg.Metrics)
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		go srv.Serve(ln)
		defer srv.Close()
		logger.Info("serving metrics", "addr", ln.Addr().String(), "path", "/metrics")
	}
	counts, err := kstream.Run(ctx, cfg)
	status := "ok"
	switch {
	case err != nil && ctx.Err() != nil:
		status = "interrupted"
	case err != nil:
		status = "failed"
	}
	attrs := []any{"status", status, "read", counts.Read, "accepted", counts.Accepted,
		"rejected", counts.Rejected, "duplicates", counts.Duplicates}
	if cfg.Convert != nil {
		// read = accepted + rejected + duplicates + skipped
		skipped := counts.SkippedBy
		if skipped == nil {
			skipped = map[string]int64{}
		}
		attrs = append(attrs, "from", opts.From, "skipped", counts.Skipped, "skipped_by_reason", skipped)
	}
	attrs = append(attrs, "transactions_committed", counts.Commits, "transactions_aborted", counts.Aborts)
	logger.Info("stream stopped", attrs...)
	if err != nil {
		if errors.Is(err, context.Canceled) && ctx.Err() != nil {
			return context.Cause(ctx)
		}
		return err
	}
	if counts.Rejected > 0 {
		return &FindingsError{Msg: fmt.Sprintf("%d records rejected; see the topic %s", counts.Rejected, cfg.Rejects)}
	}
	return nil
}
