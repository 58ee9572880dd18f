package cli

import (
	"bytes"
	"fmt"
	"os"
)

// noteStdinTTY tells a person who typed a command without a file that it
// is waiting for input from the terminal, instead of waiting silently. Only
// when stdin is a terminal: a pipe or a file is read as always.
func noteStdinTTY(ios *IOStreams, command string, files []string, quiet bool) {
	if quiet || !ios.StdinIsTTY {
		return
	}
	reads := len(files) == 0
	for _, f := range files {
		reads = reads || f == "-"
	}
	if reads {
		fmt.Fprintf(ios.ErrOut, "taxagg %s: reading transactions from standard input (the terminal); end with Ctrl-D, or name a FILE\n", command)
	}
}

// countLines counts the records in a --rejects file (one JSON object a
// line); 0 when it cannot be read or is not a regular file.
func countLines(path string) int64 {
	// Stat first: opening a FIFO to read would wait for a writer.
	if st, err := os.Stat(path); err != nil || !st.Mode().IsRegular() || st.Size() == 0 {
		return 0
	}
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	var n int64
	buf := make([]byte, 64<<10)
	last := byte('\n')
	for {
		k, err := f.Read(buf)
		n += int64(bytes.Count(buf[:k], []byte{'\n'}))
		if k > 0 {
			last = buf[k-1]
		}
		if err != nil {
			break
		}
	}
	if last != '\n' {
		n++ // a last line without its newline
	}
	return n
}

// rejectsMessage ends a run with rejects: how many, where, and, when the
// file held records before this run, that they were appended after those.
func rejectsMessage(rejected int64, path string, earlier int64) string {
	msg := fmt.Sprintf("%s rejected; see %s", plural(rejected, "record"), path)
	if earlier > 0 {
		msg += fmt.Sprintf(" (appended after the %s already there from earlier runs)", plural(earlier, "record"))
	}
	return msg
}
