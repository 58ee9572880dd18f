package cli

import (
	"io/fs"
	"syscall"
	"testing"
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
