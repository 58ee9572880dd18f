package fetch

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
)

// Secret is an API key. It prints as [redacted] in every fmt verb and in
// JSON, so that it cannot leak into output, errors or logs by accident; only
// the request builder reads the key itself.
type Secret string

const redacted = "[redacted]"

func (s Secret) String() string   { return redacted }
func (s Secret) GoString() string { return redacted }

// Format prints [redacted] whatever the verb.
func (s Secret) Format(f fmt.State, _ rune) { fmt.Fprint(f, redacted) }

// MarshalJSON writes "[redacted]".
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

func (s Secret) reveal() string { return string(s) }

// scrub replaces every occurrence of the key in text.
func (s Secret) scrub(text string) string {
	if len(s) < 4 {
		return text
	}
	return strings.ReplaceAll(text, string(s), redacted)
}

// scrubBytes replaces every occurrence of the key in b (an object as the
// API sent it, which may echo the key back): the raw output and the
// checkpoint's records file never hold it. It returns b itself when the key
// does not occur.
func (s Secret) scrubBytes(b []byte) []byte {
	if len(s) < 4 || !bytes.Contains(b, []byte(s)) {
		return b
	}
	return bytes.ReplaceAll(b, []byte(s), []byte(redacted))
}

// scrubbedError hides the key in an error's text and keeps the chain.
type scrubbedError struct {
	err error
	msg string
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.err }

// scrubError returns err with the key removed from its text. Errors that do
// not contain the key are returned as they are.
func (s Secret) scrubError(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	clean := s.scrub(msg)
	if clean == msg {
		return err
	}
	return &scrubbedError{err: err, msg: clean}
}

// APIError is an answer of the API that fetch does not retry (a 4xx other
// than 429), or the last answer once the retries ran out. Message is the
// API's own message.
type APIError struct {
	Provider string
	Method   string
	Path     string // the URL path, without the query
	Status   int
	Message  string
	Retries  int    // retries spent on this request
	Note     string // what fetch did about it, if anything (a capped wait)
}

func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s %s: %d", e.Provider, e.Method, e.Path, e.Status)
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	switch {
	case e.Retries > 0 && e.Note != "":
		fmt.Fprintf(&b, " (after %s; %s)", plural(e.Retries, "retry"), e.Note)
	case e.Retries > 0:
		fmt.Fprintf(&b, " (after %s)", plural(e.Retries, "retry"))
	case e.Note != "":
		fmt.Fprintf(&b, " (%s)", e.Note)
	}
	return b.String()
}

// ErrCheckpointMismatch is returned when a checkpoint was written by a fetch
// of other resources, another provider, site or window.
var ErrCheckpointMismatch = errors.New("checkpoint belongs to another fetch")
