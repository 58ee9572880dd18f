package billing

import (
	"errors"
	"fmt"
	"io"

	"github.com/taxagg/taxagg/internal/stream"
)

// Billing exports are framed by internal/stream, the one input stack of
// taxagg: gzip, a byte order mark, format detection, NDJSON, JSON arrays,
// pretty-printed objects, CSV, and list containers (Stripe's
// {"object":"list","data":[...]}, search results, Chargebee's
// {"list":[...]}) whose elements are the records.

// item is one raw record.
type item struct {
	json []byte   // a JSON object, or nil for a CSV row
	row  []string // a CSV row (valid until the next call)
	line int
}

type itemReader interface {
	next() (item, error)
	header() []string // CSV header, nil for JSON
}

// Input formats.
const (
	FormatAuto   = "auto"
	FormatJSON   = "json" // a JSON array, list objects, or one or more objects
	FormatNDJSON = "ndjson"
	FormatCSV    = "csv"
)

// openItems opens r with the stream reader.
func openItems(r io.Reader, source, format string) (itemReader, error) {
	var f stream.Format
	switch format {
	case FormatAuto, "":
		f = stream.FormatAuto
	case FormatJSON:
		f = stream.FormatJSON
	case FormatNDJSON:
		f = stream.FormatNDJSON
	case FormatCSV:
		f = stream.FormatCSV
	default:
		return nil, fmt.Errorf("unknown input format %q", format)
	}
	sr, err := stream.Open(source, r, f, stream.Options{})
	if err != nil {
		return nil, inputErr(source, err)
	}
	return &streamItems{r: sr}, nil
}

type streamItems struct{ r *stream.Reader }

func (s *streamItems) header() []string { return s.r.Header() }

func (s *streamItems) next() (item, error) {
	rec, err := s.r.Next()
	if err == io.EOF {
		return item{}, io.EOF
	}
	if err != nil {
		return item{}, inputErr(s.r.Source(), err)
	}
	if rec.Err != nil {
		return item{}, inputErr(rec.Source, rec.Err)
	}
	if rec.CSV != nil {
		return item{row: rec.CSV, line: rec.Line}, nil
	}
	return item{json: rec.Text, line: rec.Line}, nil
}

// inputErr turns a stream error into an InputError.
func inputErr(source string, err error) error {
	var se *stream.Error
	if errors.As(err, &se) {
		return &InputError{Source: se.Source, Line: se.Line, Field: se.Field, Err: se.Err}
	}
	return &InputError{Source: source, Err: err}
}
