package cli

import (
	"context"
	"io/fs"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestErrorWording(t *testing.T) {
	tmp := &fs.PathError{Op: "open", Path: "/no/dir/.out.csv.tmp-123", Err: syscall.ENOENT}
	for _, tt := range []struct {
		err  error
		want string
	}{
		{&SignalError{Sig: syscall.SIGINT}, "interrupted (SIGINT)"},
		{&SignalError{Sig: syscall.SIGTERM}, "terminated (SIGTERM)"},
		// The output's own name, not the temporary file's.
		{fileError("create output", "/no/dir/out.csv", tmp), "create output /no/dir/out.csv: no such file or directory"},
	} {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("got %q, want %q", got, tt.want)
		}
	}
	if got := plural(1, "record") + ", " + plural(2, "record") + ", " + plural(0, "record"); got != "1 record, 2 records, 0 records" {
		t.Errorf("plural: %s", got)
	}
}

// TestStdinTerminalNote checks that a transaction command reading a
// terminal says so on stderr, and only then.
func TestStdinTerminalNote(t *testing.T) {
	for _, tt := range []struct {
		tty  bool
		args []string
		want bool
	}{
		{true, []string{"aggregate"}, true},
		{true, []string{"calc", "-"}, true},
		{true, []string{"aggregate", "-q"}, false},
		{false, []string{"aggregate"}, false},
	} {
		io, _, _, stderr := NewTestIOStreams()
		io.StdinIsTTY = tt.tty
		run(context.Background(), &Factory{IO: io, Getenv: func(string) string { return "" }, Now: time.Now}, tt.args)
		const note = "reading transactions from standard input (the terminal); end with Ctrl-D, or name a FILE"
		if got := strings.Contains(stderr.String(), note); got != tt.want {
			t.Errorf("tty %v, %v: note printed %v, want %v:\n%s", tt.tty, tt.args, got, tt.want, stderr)
		}
	}
}
