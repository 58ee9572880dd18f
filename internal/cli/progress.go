package cli

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/taxagg/taxagg/internal/pipeline"
)

// A long run shows a progress bar on stderr: bytes read (against the size
// of the input files when all of them are regular files), records per
// second and rejects so far. It is shown only when stderr is a terminal
// and --quiet is off, and only once the run has lasted progressDelay, so
// that short runs and pipes stay clean; it is redrawn at most every
// progressInterval and erased before the summary is printed.
const (
	progressDelay    = time.Second
	progressInterval = 200 * time.Millisecond
)

// progress draws the bar. Its methods are called by the pipeline's
// sequencer (update) and, once the run is over, by runTx (done); never at
// the same time. A nil *progress draws nothing.
type progress struct {
	w     io.Writer
	now   func() time.Time
	total int64 // input bytes, or -1 when unknown (stdin, pipes)
	start time.Time
	last  time.Time
	bar   *progressbar.ProgressBar
}

// newProgress returns the progress reporter of a run, or nil when no bar
// may be shown: stderr is not a terminal, --quiet, or the run streams its
// output to the same terminal as it goes (calc without --out), where the
// bar would break into the output.
func newProgress(ios *IOStreams, quiet bool, now func() time.Time, files []string, streamsToTerminal bool) *progress {
	if quiet || !ios.StderrIsTTY || streamsToTerminal {
		return nil
	}
	if now == nil {
		now = time.Now
	}
	return &progress{w: ios.ErrOut, now: now, total: inputSize(files), start: now()}
}

// inputSize is the total size of the input files, or -1 when one of them
// is stdin or not a regular file.
func inputSize(files []string) int64 {
	if len(files) == 0 {
		return -1
	}
	var total int64
	for _, name := range files {
		if name == "-" {
			return -1
		}
		st, err := os.Stat(name)
		if err != nil || !st.Mode().IsRegular() {
			return -1
		}
		total += st.Size()
	}
	return total
}

// update is the pipeline's Progress hook, called after each batch.
func (p *progress) update(c pipeline.Counts) {
	if p == nil {
		return
	}
	now := p.now()
	elapsed := now.Sub(p.start)
	if elapsed < progressDelay || now.Sub(p.last) < progressInterval {
		return
	}
	p.last = now
	if p.bar == nil {
		// The bar's own clock would start now, a second into the run, so
		// the rates and times are computed here and the bar only draws
		// (a percentage of the input size when known, else a spinner).
		p.bar = progressbar.NewOptions64(p.total,
			progressbar.OptionSetWriter(p.w),
			progressbar.OptionSetWidth(20),
			progressbar.OptionSetElapsedTime(false),
			progressbar.OptionSetPredictTime(false),
			// Draw only when update asks: no refresh goroutine.
			progressbar.OptionSetSpinnerChangeInterval(0),
			progressbar.OptionThrottle(0),
			// At 100% keep the last frame for done to erase (without
			// this, a bar that first draws at 100% cannot be erased).
			progressbar.OptionClearOnFinish(),
		)
	}
	read := humanBytes(c.Bytes)
	if p.total > 0 {
		read += " of " + humanBytes(p.total)
	}
	rate := float64(c.Read) / elapsed.Seconds()
	desc := fmt.Sprintf("%s (%.0f/s), %d rejected, %s read", plural(c.Read, "record"), rate, c.Rejected, read)
	// Set64 draws when the percentage moves, Describe always: give both
	// the new description.
	progressbar.OptionSetDescription(desc)(p.bar)
	p.bar.Set64(c.Bytes)
	p.bar.Describe(desc)
}

// humanBytes prints a byte count in decimal units: 950 B, 12.3 MB.
func humanBytes(n int64) string {
	if n < 1000 {
		return fmt.Sprintf("%d B", n)
	}
	v := float64(n)
	for _, unit := range []string{"kB", "MB", "GB", "TB"} {
		v /= 1000
		if v < 1000 || unit == "TB" {
			return fmt.Sprintf("%.1f %s", v, unit)
		}
	}
	return ""
}

// done erases the bar, if one was drawn, so the summary line starts clean.
func (p *progress) done() {
	if p == nil || p.bar == nil {
		return
	}
	p.bar.Exit()
	p.bar.Clear()
}
