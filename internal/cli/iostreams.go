package cli

import (
	"bytes"
	"io"
	"os"

	"golang.org/x/term"
)

// IOStreams are the process's standard streams, with what the commands need
// to know about them. Tests use NewTestIOStreams.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer

	StdinIsTTY  bool
	StdoutIsTTY bool
	StderrIsTTY bool
	// TerminalWidth is stdout's width in columns when it is a terminal.
	TerminalWidth int
}

// SystemIOStreams wraps the real standard streams.
func SystemIOStreams() *IOStreams {
	width := 0
	if w, _, err := term.GetSize(int(os.Stdout.Fd())); err == nil {
		width = w
	}
	return &IOStreams{
		TerminalWidth: width,
		In:            os.Stdin,
		Out:           os.Stdout,
		ErrOut:        os.Stderr,
		StdinIsTTY:    term.IsTerminal(int(os.Stdin.Fd())),
		StdoutIsTTY:   term.IsTerminal(int(os.Stdout.Fd())),
		StderrIsTTY:   term.IsTerminal(int(os.Stderr.Fd())),
	}
}

// NewTestIOStreams returns streams backed by buffers: stdin, stdout, stderr.
func NewTestIOStreams() (*IOStreams, *bytes.Buffer, *bytes.Buffer, *bytes.Buffer) {
	in, out, errOut := &bytes.Buffer{}, &bytes.Buffer{}, &bytes.Buffer{}
	return &IOStreams{In: in, Out: out, ErrOut: errOut}, in, out, errOut
}
