package stream

import "strconv"

// Error is a problem with one place of an input: source, 1-based line,
// optionally the field at fault, and the reason. It prints as
// "source:line: field: reason", or "source:line: reason" without a field.
//
// The reader uses it for its own errors; callers wrap a txn.FieldError into
// it (Field and Err taken from the FieldError) so that every bad record is
// reported the same way.
type Error struct {
	Source string
	Line   int
	Field  string
	Err    error
}

func (e *Error) Error() string {
	s := e.Source + ":" + strconv.Itoa(e.Line) + ": "
	if e.Field != "" {
		s += e.Field + ": "
	}
	if e.Err == nil {
		return s + "error"
	}
	return s + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }
