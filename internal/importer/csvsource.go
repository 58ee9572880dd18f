package importer

import (
	"encoding/csv"
	"errors"
	"io"
	"strings"
)

// csvSource reads the records of one input file with their line numbers,
// skipping blank lines and a leading UTF-8 byte-order mark.
type csvSource struct {
	name    string
	cr      *csv.Reader
	records int // non-blank records read so far
}

func newCSVSource(f File) *csvSource {
	cr := csv.NewReader(newReader(f.R))
	cr.FieldsPerRecord = -1
	return &csvSource{name: f.Name, cr: cr}
}

// next returns the next non-blank record, trimmed field by field, and the
// line it starts on. At the end it returns io.EOF.
func (s *csvSource) next() ([]string, int, error) {
	for {
		rec, err := s.cr.Read()
		if err == io.EOF {
			return nil, 0, io.EOF
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				line := pe.StartLine
				if line == 0 {
					line = pe.Line
				}
				return nil, 0, errAt(s.name, line, "not valid CSV: %v", pe.Err)
			}
			return nil, 0, &Error{File: s.name, Err: err}
		}
		line, _ := s.cr.FieldPos(0)
		blank := true
		for i := range rec {
			rec[i] = strings.TrimSpace(rec[i])
			if rec[i] != "" {
				blank = false
			}
		}
		if blank {
			continue
		}
		s.records++
		return rec, line, nil
	}
}
