package cli

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/taxagg/taxagg/internal/fetch"
	"github.com/taxagg/taxagg/internal/ratelimit"
)

// FetchOptions are fetch's flags and arguments.
type FetchOptions struct {
	Provider    string
	Resources   []string
	CreatedFrom string
	CreatedTo   string
	APIBase     string
	Site        string
	Rate        string
	Burst       int
	MaxRetries  int
	MaxWait     time.Duration
	Workers     int
	Checkpoint  string
	Raw         bool
	Quiet       bool
}

// fetchKeyEnv names the environment variable holding each provider's key.
func fetchKeyEnv(provider string) string {
	if provider == "chargebee" {
		return "CHARGEBEE_API_KEY"
	}
	return "STRIPE_API_KEY"
}

// NewCmdFetch builds `taxagg fetch`. runF replaces the run function in tests
// of flag parsing.
func NewCmdFetch(f *Factory, runF func(context.Context, *FetchOptions) error) *cobra.Command {
	opts := &FetchOptions{}
	cmd := &cobra.Command{
		Use:   "fetch stripe|chargebee [flags]",
		Short: "Pull billing records from the Stripe or Chargebee API, politely",
		Long: `Fetch invoices, charges, refunds or credit notes from the Stripe or Chargebee list API and
write them to stdout, one JSON object a line: canonical records by default (what
'taxagg reconcile --from-a canonical' reads), the API's own objects with --raw.

The key comes from the environment only: STRIPE_API_KEY or CHARGEBEE_API_KEY. It is
never printed, not even in errors.

Every request of the run waits on one shared token bucket (--rate, --burst). A 429
pauses every worker for the server's Retry-After (at most --max-wait, and such a wait
counts as one of --max-retries) and halves the rate, which then recovers step by step. 429, 5xx and network errors are retried (--max-retries) with
exponential backoff and full jitter; any other 4xx stops the run with the API's message.

Resources are fetched concurrently; the output is written once every page has arrived,
ordered by resource (as listed), then creation time, then id, so it is the same on
every run. With --checkpoint FILE each page is recorded (FILE and FILE.records) as it
arrives, and an interrupted fetch run again with the same flags resumes where it stopped,
then writes the complete output. A finished checkpoint replays without asking the API;
remove FILE and FILE.records to fetch afresh.

Progress goes to stderr when it is a terminal; a summary at the end (unless --quiet).`,
		Example: `  export STRIPE_API_KEY=...
  taxagg fetch stripe --resource invoices,refunds --created-from 2026-01-01 --created-to 2026-04-01 > stripe.ndjson
  taxagg fetch chargebee --site acme --resource invoices --created-from 2026-01-01 | taxagg reconcile stripe.ndjson -
  taxagg fetch stripe --raw --resource charges --checkpoint q1.checkpoint > charges.ndjson`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 || (args[0] != "stripe" && args[0] != "chargebee") {
				return usageErrorf("fetch takes one provider: stripe or chargebee")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Provider = args[0]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return fetchRun(cmd.Context(), f, opts)
		},
	}
	fl := cmd.Flags()
	fl.StringSliceVar(&opts.Resources, "resource", []string{"invoices"},
		"resources to fetch, in output order: invoices, charges, refunds, credit_notes (Stripe); invoices, credit_notes (Chargebee)")
	fl.StringVar(&opts.CreatedFrom, "created-from", "", "only records created at or after `TIME` (YYYY-MM-DD, UTC, or RFC 3339)")
	fl.StringVar(&opts.CreatedTo, "created-to", "", "only records created before `TIME` (exclusive)")
	fl.StringVar(&opts.APIBase, "api-base", "", "the API's base `URL` (default "+fetch.StripeAPIBase+" or "+fetch.ChargebeeAPIBase+")")
	fl.StringVar(&opts.Site, "site", "", "Chargebee site `NAME` (required for chargebee)")
	fl.StringVar(&opts.Rate, "rate", "25/s", "the most requests per second for the whole run (N/s, N/m, N/h)")
	fl.IntVar(&opts.Burst, "burst", 5, "requests that may go at once after a quiet spell")
	fl.IntVar(&opts.MaxRetries, "max-retries", 5, "retries of one request on 429, 5xx and network errors")
	fl.DurationVar(&opts.MaxWait, "max-wait", fetch.DefaultMaxWait, "the longest single wait a Retry-After gets; a longer one is cut to this")
	fl.IntVar(&opts.Workers, "workers", 0, "resources fetched at once (default: all of them)")
	fl.StringVar(&opts.Checkpoint, "checkpoint", "", "record each resource's cursor in `FILE` after each page, and resume from it")
	fl.BoolVar(&opts.Raw, "raw", false, "write the API's own objects rather than canonical records")
	fl.BoolVarP(&opts.Quiet, "quiet", "q", false, "no progress and no summary on stderr")
	return cmd
}

func fetchRun(ctx context.Context, f *Factory, opts *FetchOptions) error {
	envName := fetchKeyEnv(opts.Provider)
	key := f.Getenv(envName)
	if key == "" {
		return usageErrorf("%s is not set: the API key comes from the environment only", envName)
	}
	rate, err := ratelimit.ParseRate(opts.Rate)
	if err != nil {
		return usageErrorf("--rate: %v", err)
	}
	if opts.Burst < 1 {
		return usageErrorf("--burst must be at least 1")
	}
	if opts.MaxRetries < 0 {
		return usageErrorf("--max-retries must not be negative")
	}
	if opts.MaxWait <= 0 {
		return usageErrorf("--max-wait must be positive")
	}
	if opts.Provider == "chargebee" && opts.Site == "" {
		return usageErrorf("fetch chargebee needs --site")
	}
	from, err := parseFetchTime(opts.CreatedFrom)
	if err != nil {
		return usageErrorf("--created-from: %v", err)
	}
	to, err := parseFetchTime(opts.CreatedTo)
	if err != nil {
		return usageErrorf("--created-to: %v", err)
	}
	lim, err := ratelimit.New(ratelimit.Config{Rate: rate, Burst: opts.Burst})
	if err != nil {
		return usageErrorf("--rate/--burst: %v", err)
	}
	fo := fetch.Options{
		Provider:    opts.Provider,
		Resources:   opts.Resources,
		CreatedFrom: from,
		CreatedTo:   to,
		APIBase:     opts.APIBase,
		Site:        opts.Site,
		Key:         fetch.Secret(key),
		Limiter:     lim,
		MaxRetries:  opts.MaxRetries,
		MaxWait:     opts.MaxWait,
		Workers:     opts.Workers,
		Raw:         opts.Raw,
		UserAgent:   "taxagg/" + Version,
	}
	if !opts.Raw {
		if fo.Convert, err = fetch.Canonical(opts.Provider); err != nil {
			return &UsageError{Err: err}
		}
	}
	if opts.Checkpoint != "" {
		st := fetch.NewFileStore(opts.Checkpoint)
		defer st.Close()
		fo.Store = st
	}
	if f.IO.StderrIsTTY && !opts.Quiet {
		fo.Progress = f.IO.ErrOut
	}
	sum, err := fetch.Run(ctx, f.IO.Out, fo)
	if sum != nil && !opts.Quiet {
		sum.WriteText(f.IO.ErrOut)
	}
	return err
}

// parseFetchTime reads YYYY-MM-DD (midnight UTC) or RFC 3339; "" is none.
func parseFetchTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q: want YYYY-MM-DD or an RFC 3339 time", s)
	}
	return t, nil
}
