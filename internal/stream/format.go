// Package stream reads raw input records — NDJSON, a JSON array, or CSV,
// gzip-compressed or not — each with its source name and 1-based line, fast
// and without loading the input whole.
//
// Records are raw: a JSON object's text, or a CSV row's text and fields.
// Turning them into transactions is package txn's job.
//
// Decisions (see also Open, Reader.Next, Reader.ReadBatch):
//   - The source name printed in errors is the name given to Open, except
//     that "" and "-" print as "stdin".
//   - A UTF-8 byte order mark at the start of the (decompressed) input is
//     skipped; CRLF line ends are accepted everywhere.
//   - NDJSON: one record per line; lines holding only white space are
//     skipped but counted. The reader does not check the JSON (the parser
//     does); it only splits lines.
//   - JSON (FormatJSON): a JSON array of objects, streamed element by
//     element, or — when the first non-blank byte is '{' — a sequence of
//     objects separated by white space (so NDJSON, or pretty-printed objects
//     one after another, in a .json file are read too). Trailing commas and
//     anything after the closing ']' are errors.
//   - Guessed NDJSON (by name or first byte) whose first object does not
//     end on its first line is read as JSON objects one after another
//     (pretty-printed JSON on stdin); FormatNDJSON asked for is kept.
//   - List containers (Stripe's {"object":"list","data":[...]} and
//     search results, Chargebee's {"list":[...]}) are read as their
//     elements, in every JSON format (see container.go).
//   - CSV: RFC 4180; the first non-empty line is the header (required, no
//     duplicate names, names trimmed of surrounding spaces); empty lines are
//     skipped but counted; a quoted field may hold newlines (the record's
//     Line is where its row starts); cells are not trimmed.
//   - An empty input is zero records, in every format.
//   - A record longer than Options.MaxRecordBytes: in NDJSON it is reported
//     (Record.Err) and skipped, and reading goes on with the next line; in
//     JSON and CSV, where the next record cannot be found safely, it stops
//     the read.
package stream

import (
	"fmt"
	"path/filepath"
	"strings"
)

// Format is an input format.
type Format int

const (
	FormatAuto Format = iota
	FormatNDJSON
	FormatJSON
	FormatCSV
)

var formatNames = [...]string{"auto", "ndjson", "json", "csv"}

func (f Format) String() string {
	if f >= 0 && int(f) < len(formatNames) {
		return formatNames[f]
	}
	return fmt.Sprintf("Format(%d)", int(f))
}

// ParseFormat reads a --input-format value: auto, ndjson, json or csv.
func ParseFormat(s string) (Format, error) {
	for i, n := range formatNames {
		if s == n {
			return Format(i), nil
		}
	}
	return 0, fmt.Errorf("unknown input format %q (want auto, ndjson, json or csv)", s)
}

// formatByName picks a format by file extension, a trailing .gz ignored:
// .ndjson and .jsonl are NDJSON, .json JSON, .csv CSV. Other names give
// FormatAuto.
func formatByName(name string) Format {
	lower := strings.ToLower(name)
	lower = strings.TrimSuffix(lower, ".gz")
	switch filepath.Ext(lower) {
	case ".ndjson", ".jsonl":
		return FormatNDJSON
	case ".json":
		return FormatJSON
	case ".csv":
		return FormatCSV
	}
	return FormatAuto
}

// formatByContent picks a format by the first non-blank byte.
func formatByContent(c byte) Format {
	switch c {
	case '[':
		return FormatJSON
	case '{':
		return FormatNDJSON
	}
	return FormatCSV
}
