// Package reconcile diff-merges two billing exports into one canonical
// ledger (docs/reconcile.md): it matches their records by key (and optionally by
// fuzzy pairing), compares the matched fields exactly, and writes the
// ledger, a summary, a JSON report and a review queue.
//
// Records come from internal/billing. Matching runs in memory while the
// records fit the memory budget; past it both sides are partitioned by key
// hash into temporary files and reconciled partition by partition. The
// ledger is the same either way, and the same for any input order.
package reconcile

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/taxagg/taxagg/internal/billing"
	"github.com/taxagg/taxagg/internal/money"
	"github.com/taxagg/taxagg/internal/stream"
)

// Status of a ledger record.
type Status uint8

const (
	StatusMatch Status = iota
	StatusDiff
	StatusOnlyA
	StatusOnlyB
	StatusDuplicate
	numStatus
)

var statusNames = [...]string{"match", "diff", "only_a", "only_b", "duplicate"}

func (s Status) String() string { return statusNames[s] }

// Prefer says whose values enter the ledger for a matched pair.
type Prefer uint8

const (
	PreferA Prefer = iota
	PreferB
	// PreferNewest takes the side with the later `updated`; a when either
	// side has no `updated`, or both are equal.
	PreferNewest
)

// ParsePrefer reads a|b|newest.
func ParsePrefer(s string) (Prefer, error) {
	switch s {
	case "a", "":
		return PreferA, nil
	case "b":
		return PreferB, nil
	case "newest":
		return PreferNewest, nil
	}
	return 0, fmt.Errorf("%q: want a, b or newest", s)
}

// Duplicates is the policy for a key seen more than once on one side.
type Duplicates uint8

const (
	// DupReport writes each such record with status duplicate, unmatched.
	DupReport Duplicates = iota
	// DupGroup sums them into one record (one-to-many).
	DupGroup
	// DupError stops the run.
	DupError
)

// ParseDuplicates reads report|group|error.
func ParseDuplicates(s string) (Duplicates, error) {
	switch s {
	case "report", "":
		return DupReport, nil
	case "group":
		return DupGroup, nil
	case "error":
		return DupError, nil
	}
	return 0, fmt.Errorf("%q: want report, group or error", s)
}

// Output formats of the ledger.
const (
	FormatNDJSON = "ndjson"
	FormatJSON   = "json"
	FormatCSV    = "csv"
	FormatTable  = "table"
)

// DefaultMemory is the default memory budget.
const DefaultMemory = 1 << 30

// Options are the settings of one run.
type Options struct {
	// Key is the matching key in canonical fields (id when empty). KeyA and
	// KeyB override it per side; each entry is a canonical field name or a
	// dotted path into the source record.
	Key, KeyA, KeyB []string
	Fuzzy           bool
	// AmountTolerance: amounts (and taxes) whose absolute difference is at
	// most this are equal. Zero means exactly equal.
	AmountTolerance decimal.Decimal
	// DateWindow: dates at most this far apart are equal, and fuzzy pairs
	// must be this close.
	DateWindow time.Duration
	Prefer     Prefer
	Duplicates Duplicates
	// Format of the ledger: ndjson, json, csv, table.
	Format string
	// Rows, when set, opens the ledger's row writer instead of
	// stream.NewRowWriter in Format (the CLI's, with its column selection
	// and terminal fitting). projected says the writer takes rows of all
	// the columns through Write only.
	Rows func(w io.Writer, cols []stream.Column, opt stream.RowOptions) (rw stream.RowWriter, projected bool, err error)
	// Memory is the budget in bytes (DefaultMemory when 0). Past it records
	// spill to temporary files in TempDir (the system's when empty).
	Memory  int64
	TempDir string
	// Version is printed in the report's manifest.
	Version string
	// Quiet drops the summary.
	Quiet bool

	splitMin int64 // tests: split partitions this small
	// matchParts: tests: match in this many parallel parts (a power of
	// two), whatever the number of records; 0 for as many as there are
	// processors when there are many records.
	matchParts int
	// serialEmit: tests: format every ledger row on the emitting goroutine.
	serialEmit bool
}

// Input is one side of a reconciliation.
type Input struct {
	// Name is shown in errors and the summary ("-" for stdin).
	Name string
	R    io.Reader
	// Preset is auto, canonical, stripe or chargebee; Mapping, when set,
	// replaces it.
	Preset  string
	Mapping *billing.Mapping
	// Format is the input format (auto, json, ndjson, csv).
	Format string
}

// Outputs are where a run writes; any may be nil except Ledger.
type Outputs struct {
	Ledger  io.Writer
	Summary io.Writer // stderr
	Report  io.Writer // --report
	Review  io.Writer // --review
}

// ParseTolerance reads a tolerance: a non-negative decimal.
func ParseTolerance(s string) (decimal.Decimal, error) {
	if s == "" {
		return decimal.Decimal{}, nil
	}
	d, err := money.ParseDecimal(s)
	if err != nil {
		return d, err
	}
	if d.Sign() < 0 {
		return d, fmt.Errorf("%q is negative", s)
	}
	return d, nil
}

// ParseKey splits a --key value: FIELD[,FIELD].
func ParseKey(s string) []string {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	parts := strings.Split(s, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return parts
}

// Option names an Options field, for OptionError.
type Option string

const (
	OptKeyA            Option = "KeyA" // KeyA, or Key when KeyA is empty
	OptKeyB            Option = "KeyB" // KeyB, or Key when KeyB is empty
	OptDateWindow      Option = "DateWindow"
	OptAmountTolerance Option = "AmountTolerance"
	OptFormat          Option = "Format"
)

// OptionError is an Options value Run cannot work with.
type OptionError struct {
	Option Option
	Err    error
}

func (e *OptionError) Error() string { return string(e.Option) + ": " + e.Err.Error() }
func (e *OptionError) Unwrap() error { return e.Err }

// EmptyKeyError says that the key is empty on every record of one side:
// the key names a field that side's records do not have.
type EmptyKeyError struct {
	Side    string // A or B
	Input   string // the side's name
	Key     string // the key, as printed in the manifest
	Records int64
}

func (e *EmptyKeyError) Error() string {
	return fmt.Sprintf("%s (%s): the key %s is empty on all %d of its records, so none could be matched by key",
		e.Side, e.Input, e.Key, e.Records)
}
