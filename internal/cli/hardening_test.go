package cli

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	yaml "go.yaml.in/yaml/v3"

	"github.com/taxagg/taxagg/internal/pipeline"
)

// The hardening suite: the bad-input corpus (testdata/bad), the failure
// behaviour of the real binary (pipes, signals, write errors, huge input),
// and the progress bar.

const badDir = "../../testdata/bad"

// hardRun runs taxagg in-process with the given stdin and returns the exit
// code, stdout and stderr.
func hardRun(t testing.TB, stdin string, args ...string) (int, string, string) {
	t.Helper()
	ios, in, out, errOut := NewTestIOStreams()
	in.WriteString(stdin)
	f := &Factory{IO: ios, Getenv: func(string) string { return "" }, Now: time.Now}
	code := run(context.Background(), f, args)
	return code, out.String(), errOut.String()
}

// hardSummary is the --summary file's accounting.
type hardSummary struct {
	Status     string `json:"status"`
	Read       int64  `json:"read"`
	Accepted   int64  `json:"accepted"`
	Rejected   int64  `json:"rejected"`
	Duplicates int64  `json:"duplicates"`
	Taxed      int64  `json:"taxed"`
	Untaxed    int64  `json:"untaxed"`
	Unmatched  int64  `json:"unmatched"`
	NoTax      int64  `json:"no_tax"`
}

func readSummary(t testing.TB, path string) hardSummary {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("summary: %v", err)
	}
	var s hardSummary
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatalf("summary %s: %v", data, err)
	}
	if s.Read != s.Accepted+s.Rejected+s.Duplicates {
		t.Fatalf("summary breaks read = accepted + rejected + duplicates: %+v", s)
	}
	if s.Accepted != s.Taxed+s.Untaxed || s.Untaxed != s.Unmatched+s.NoTax {
		t.Fatalf("summary breaks accepted = taxed + untaxed (unmatched + no_tax): %+v", s)
	}
	return s
}

// noCrash fails when stderr shows a panic or a Go stack trace.
func noCrash(t testing.TB, stderr string) {
	t.Helper()
	for _, bad := range []string{"panic", "goroutine ", ".go:", "runtime error"} {
		if strings.Contains(stderr, bad) {
			t.Fatalf("stderr shows a crash (%q):\n%s", bad, stderr)
		}
	}
}

type badCase struct {
	File    string   `yaml:"file"`
	Kind    string   `yaml:"kind"`
	Exit    int      `yaml:"exit"`
	Error   string   `yaml:"error"`
	Counts  []int64  `yaml:"counts"`
	Rejects []string `yaml:"rejects"`
}

func loadBadCases(t testing.TB) []badCase {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(badDir, "cases.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var cases []badCase
	if err := yaml.Unmarshal(data, &cases); err != nil {
		t.Fatalf("cases.yaml: %v", err)
	}
	return cases
}

// rejectLine is one object of a --rejects file.
type rejectLine struct {
	Source string `json:"source"`
	Line   int    `json:"line"`
	Field  string `json:"field"`
	Error  string `json:"error"`
	Record string `json:"record"`
}

func readRejects(t testing.TB, path string) []rejectLine {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("rejects: %v", err)
	}
	var out []rejectLine
	for _, ln := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		if ln == "" {
			continue
		}
		var r rejectLine
		if err := json.Unmarshal([]byte(ln), &r); err != nil {
			t.Fatalf("rejects line %q: %v", ln, err)
		}
		out = append(out, r)
	}
	return out
}

// fileLine returns line n (1-based) of a file, without its line end.
func fileLine(t testing.TB, path string, n int) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	if n > len(lines) {
		return ""
	}
	return strings.TrimSuffix(lines[n-1], "\r")
}

func TestBadInputCorpus(t *testing.T) {
	cases := loadBadCases(t)
	listed := map[string]bool{"cases.yaml": true}
	for _, c := range cases {
		listed[c.File] = true
	}
	entries, err := os.ReadDir(badDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !listed[e.Name()] {
			t.Errorf("testdata/bad/%s has no entry in cases.yaml", e.Name())
		}
	}
	for _, c := range cases {
		t.Run(c.File, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(badDir, c.File)
			if _, err := os.Stat(path); err != nil {
				t.Fatal(err)
			}
			want := strings.ReplaceAll(c.Error, "FILE", path)
			if c.Kind == "rules" {
				checkBadRules(t, c, path, want)
				return
			}
			checkBadInput(t, c, path, want)
		})
	}
}

func checkBadRules(t *testing.T, c badCase, path, want string) {
	code, stdout, stderr := hardRun(t, "", "rules", "check", path)
	noCrash(t, stderr)
	if code != c.Exit || strings.TrimSpace(stderr) != want {
		t.Errorf("rules check: exit %d, stderr:\n%s\nwant exit %d, stderr:\n%s", code, stderr, c.Exit, want)
	}
	if stdout != "" {
		t.Errorf("rules check: stdout %q", stdout)
	}
	// The run stops before any input is read, with or without --rejects.
	dir := t.TempDir()
	rej := filepath.Join(dir, "rejects.ndjson")
	good := `{"id":"g1","date":"2025-03-01","currency":"USD","amount":"1.00","country":"US","state":"TX"}` + "\n"
	for _, args := range [][]string{
		{"aggregate", "--rules", path},
		{"aggregate", "--rules", path, "--rejects", rej},
		{"calc", "--rules", path, "--rejects", rej},
	} {
		code, stdout, stderr := hardRun(t, good, args...)
		noCrash(t, stderr)
		if code != c.Exit || strings.TrimSpace(stderr) != want || stdout != "" {
			t.Errorf("%v: exit %d, stdout %q, stderr:\n%s\nwant exit %d, stderr:\n%s", args, code, stdout, stderr, c.Exit, want)
		}
		if _, err := os.Stat(rej); err == nil {
			t.Errorf("%v: the rejects file was created though the rules are bad", args)
		}
	}
}

func checkBadInput(t *testing.T, c badCase, path, want string) {
	dir := t.TempDir()
	sumFile := filepath.Join(dir, "summary.json")

	// Without --rejects.
	for _, cmd := range []string{"aggregate", "calc"} {
		code, stdout, stderr := hardRun(t, "", cmd, "--format", "ndjson", "--summary", sumFile, path)
		noCrash(t, stderr)
		if code != c.Exit {
			t.Fatalf("%s: exit %d, want %d; stderr:\n%s", cmd, code, c.Exit, stderr)
		}
		sum := readSummary(t, sumFile)
		if c.Exit == 0 {
			got := []int64{sum.Read, sum.Accepted, sum.Rejected, sum.Duplicates}
			if fmt.Sprint(got) != fmt.Sprint(c.Counts) {
				t.Errorf("%s: counts %v, want %v", cmd, got, c.Counts)
			}
			if strings.Count(stderr, "\n") != 1 || !strings.HasPrefix(stderr, "taxagg "+cmd+": read ") {
				t.Errorf("%s: stderr is more than the summary:\n%s", cmd, stderr)
			}
			continue
		}
		if !hasLine(stderr, want) {
			t.Errorf("%s: stderr:\n%s\nwant the line\n%s", cmd, stderr, want)
		}
		if stdout != "" {
			t.Errorf("%s: output written by a failed run:\n%s", cmd, stdout)
		}
	}
	if c.Exit == 0 {
		return
	}

	// With --rejects the stream goes on and the record is quarantined.
	for _, cmd := range []string{"aggregate", "calc"} {
		rej := filepath.Join(dir, cmd+"-rejects.ndjson")
		code, stdout, stderr := hardRun(t, "", cmd, "--format", "ndjson", "--summary", sumFile, "--rejects", rej, path)
		noCrash(t, stderr)
		if code != ExitFindings {
			t.Fatalf("%s --rejects: exit %d, want %d; stderr:\n%s", cmd, code, ExitFindings, stderr)
		}
		sum := readSummary(t, sumFile)
		got := []int64{sum.Read, sum.Accepted, sum.Rejected, sum.Duplicates}
		if fmt.Sprint(got) != fmt.Sprint(c.Counts) {
			t.Errorf("%s --rejects: counts %v, want %v", cmd, got, c.Counts)
		}
		if sum.Accepted > 0 && stdout == "" {
			t.Errorf("%s --rejects: no output for the good records", cmd)
		}
		rejs := readRejects(t, rej)
		if len(rejs) != len(c.Rejects) {
			t.Fatalf("%s --rejects: %d rejects %+v, want %v", cmd, len(rejs), rejs, c.Rejects)
		}
		for i, w := range c.Rejects {
			r := rejs[i]
			wline, wfield, _ := strings.Cut(w, ":")
			if r.Source != path || strconv.Itoa(r.Line) != wline || r.Field != wfield {
				t.Errorf("%s reject %d: %s:%d field %q, want %s:%s field %q", cmd, i, r.Source, r.Line, r.Field, path, wline, wfield)
			}
			if i == 0 {
				// The first reject carries the message the run without
				// --rejects stops with.
				msg := r.Source + ":" + strconv.Itoa(r.Line) + ": "
				if r.Field != "" {
					msg += r.Field + ": "
				}
				if msg += r.Error; msg != want {
					t.Errorf("%s reject %d says %q, want %q", cmd, i, msg, want)
				}
			}
			if r.Record != "" && !strings.HasSuffix(path, ".gz") {
				// The raw record is the row as written (a CSV row may
				// span lines).
				// Invalid UTF-8 comes back as U+FFFD, as JSON requires.
				ln := fileLine(t, path, r.Line)
				if b, _ := json.Marshal(ln); json.Unmarshal(b, &ln) != nil || !strings.HasPrefix(r.Record, ln) {
					t.Errorf("%s reject %d: record %q, want line %d %q", cmd, i, r.Record, r.Line, ln)
				}
			}
		}
	}
}

func hasLine(text, line string) bool {
	for _, l := range strings.Split(text, "\n") {
		if l == line {
			return true
		}
	}
	return false
}

// --- The real binary ---------------------------------------------------

var (
	binOnce    sync.Once
	binPath    string
	binErr     error
	binDirPath string // removed by TestMain
)

// taxaggBinary builds taxagg once per test process into a temporary
// directory that TestMain removes when the tests end.
func taxaggBinary(t *testing.T, _ string) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "taxagg-test-bin-")
		if err != nil {
			binErr = err
			return
		}
		binDirPath = dir
		goTool, err := exec.LookPath("go")
		if err != nil {
			goTool = "go"
		}
		binPath = filepath.Join(dir, "taxagg")
		cmd := exec.Command(goTool, "build", "-o", binPath, "github.com/taxagg/taxagg/cmd/taxagg")
		out, err := cmd.CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// writeRecords writes n NDJSON records with ids from first on, spread over
// the days of 2025, to w.
func writeRecords(w io.Writer, first, n int) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	states := []string{"TX", "NY", "CA", "WA", "FL", "TN", "IL"}
	for i := first; i < first+n; i++ {
		d := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, i%365)
		fmt.Fprintf(bw, `{"id":"o%d","date":"%s","currency":"USD","amount":"%d.%02d","country":"US","state":"%s"}`+"\n",
			i, d.Format("2006-01-02"), i%1000, i%100, states[i%len(states)])
	}
	return bw.Flush()
}

// exitStatus returns the exit code of a finished command, or 128+signal
// when a signal ended it.
func exitStatus(ps *os.ProcessState) int {
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}

func TestHardeningBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	dir := t.TempDir()
	bin := taxaggBinary(t, dir)
	big := filepath.Join(dir, "big.ndjson")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	if err := writeRecords(f, 0, 40000); err != nil {
		t.Fatal(err)
	}
	f.Close()

	// run starts bin with a deadline so that a hang fails instead of
	// stalling the suite.
	command := func(t *testing.T, args ...string) (*exec.Cmd, *bytes.Buffer) {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		t.Cleanup(cancel)
		cmd := exec.CommandContext(ctx, bin, args...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		return cmd, &stderr
	}

	t.Run("head closes the pipe", func(t *testing.T) {
		for _, args := range [][]string{
			{"calc", big},
			{"aggregate", "--period", "day", big},
		} {
			cmd, stderr := command(t, args...)
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			line, err := bufio.NewReader(out).ReadString('\n')
			if err != nil || !strings.HasPrefix(line, "{") {
				t.Fatalf("%v: first line %q, %v", args, line, err)
			}
			out.Close() // what head does after its first line
			cmd.Wait()
			// Quiet: killed by SIGPIPE or a clean exit, and nothing on
			// stderr but the summary.
			code := exitStatus(cmd.ProcessState)
			if code != 0 && code != 128+int(syscall.SIGPIPE) {
				t.Errorf("%v: exit %d after the reader went away; stderr:\n%s", args, code, stderr)
			}
			for _, l := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
				if l != "" && !strings.HasPrefix(l, "taxagg "+args[0]+": read ") {
					t.Errorf("%v: stderr not quiet: %q", args, l)
				}
			}
		}
	})

	// interrupt feeds records to stdin until it has written minBytes (and
	// keeps going if feed is set), sends sig, and checks the run stops with
	// code, prints the partial summary and leaves no --out file.
	interrupt := func(t *testing.T, sig syscall.Signal, code int, feed bool) {
		outDir := t.TempDir()
		outFile := filepath.Join(outDir, "out.ndjson")
		cmd, stderr := command(t, "aggregate", "--out", outFile)
		stdin, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// The first records, then either a steady stream (a busy run) or
		// nothing more with stdin left open (a run waiting for input).
		if err := writeRecords(stdin, 0, 5000); err != nil {
			t.Fatal(err)
		}
		stop := make(chan struct{})
		fed := make(chan struct{})
		go func() {
			defer close(fed)
			for i := 5000; feed; i += 1000 {
				select {
				case <-stop:
					return
				default:
				}
				if writeRecords(stdin, i, 1000) != nil {
					return
				}
			}
		}()
		time.Sleep(300 * time.Millisecond)
		start := time.Now()
		if err := cmd.Process.Signal(sig); err != nil {
			t.Fatal(err)
		}
		err = cmd.Wait()
		took := time.Since(start)
		close(stop)
		stdin.Close()
		<-fed
		if got := exitStatus(cmd.ProcessState); got != code {
			t.Fatalf("exit %d (%v), want %d; stderr:\n%s", got, err, code, stderr)
		}
		if took > 5*time.Second {
			t.Errorf("took %v to stop after %v", took, sig)
		}
		noCrash(t, stderr.String())
		// The summary of what was read so far.
		sum := strings.SplitN(stderr.String(), "\n", 2)[0]
		var read, acc, rej, dup int64
		if _, err := fmt.Sscanf(sum, "taxagg aggregate: read %d = accepted %d + rejected %d + duplicates %d",
			&read, &acc, &rej, &dup); err != nil || read == 0 || read != acc+rej+dup || !strings.HasSuffix(sum, "[interrupted]") {
			t.Errorf("summary %q (%v)", sum, err)
		}
		// No output file, and no temporary file either.
		left, _ := os.ReadDir(outDir)
		for _, e := range left {
			t.Errorf("left behind: %s", e.Name())
		}
	}
	t.Run("SIGINT mid-run", func(t *testing.T) { interrupt(t, syscall.SIGINT, ExitInterrupted, true) })
	t.Run("SIGTERM mid-run", func(t *testing.T) { interrupt(t, syscall.SIGTERM, ExitTerminated, true) })
	t.Run("SIGINT while waiting for input", func(t *testing.T) { interrupt(t, syscall.SIGINT, ExitInterrupted, false) })

	t.Run("write errors", func(t *testing.T) {
		full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
		if err != nil {
			t.Skip("no /dev/full")
		}
		defer full.Close()
		notDir := filepath.Join(t.TempDir(), "file")
		os.WriteFile(notDir, nil, 0o644)
		ragged := filepath.Join(badDir, "ragged.csv")
		tests := []struct {
			name   string
			args   []string
			stdout *os.File
			want   string
		}{
			{"stdout is /dev/full (aggregate)", []string{"aggregate", big}, full, "no space left on device"},
			{"stdout is /dev/full (calc)", []string{"calc", big}, full, "no space left on device"},
			{"--out under a non-directory", []string{"aggregate", "--out", filepath.Join(notDir, "out.ndjson"), big}, nil,
				"create output " + filepath.Join(notDir, "out.ndjson") + ": not a directory"},
			{"--rejects is /dev/full", []string{"aggregate", "--rejects", "/dev/full", ragged}, nil,
				"write rejects: write /dev/full: no space left on device"},
			{"--summary under a non-directory", []string{"aggregate", "--summary", filepath.Join(notDir, "s.json"), big}, nil,
				"write summary: create output " + filepath.Join(notDir, "s.json") + ": not a directory"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				cmd, stderr := command(t, tt.args...)
				if tt.stdout != nil {
					cmd.Stdout = tt.stdout
				}
				cmd.Run()
				noCrash(t, stderr.String())
				if got := exitStatus(cmd.ProcessState); got != ExitError || !strings.Contains(stderr.String(), tt.want) {
					t.Errorf("exit %d, stderr:\n%s\nwant exit 2 and %q", got, stderr, tt.want)
				}
			})
		}
	})

	// A single line far longer than the record limit, streamed: the run
	// reports it by position and its memory stays bounded. The default
	// size keeps the suite fast; TAXAGG_HUGE_LINE_MIB=10240 runs the 10 GB
	// line of the hardening issue (the same code path, longer).
	t.Run("huge line", func(t *testing.T) {
		mib := 512
		if s := os.Getenv("TAXAGG_HUGE_LINE_MIB"); s != "" {
			mib, _ = strconv.Atoi(s)
		}
		for _, withRejects := range []bool{false, true} {
			args := []string{"aggregate"}
			wantCode := ExitError
			if withRejects {
				args = append(args, "--rejects", filepath.Join(t.TempDir(), "rej.ndjson"))
				wantCode = ExitFindings
			}
			cmd, stderr := command(t, args...)
			cmd.Stdout = io.Discard
			peak := underMemProbe(t, cmd)
			stdin, err := cmd.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			chunk := bytes.Repeat([]byte("x"), 1<<20)
			io.WriteString(stdin, `{"id":"huge","note":"`)
			for i := 0; i < mib; i++ {
				if _, err := stdin.Write(chunk); err != nil {
					break
				}
			}
			io.WriteString(stdin, "\"}\n"+`{"id":"g1","date":"2025-03-01","currency":"USD","amount":"1.00","country":"US","state":"TX"}`+"\n")
			stdin.Close()
			cmd.Wait()
			noCrash(t, stderr.String())
			if got := exitStatus(cmd.ProcessState); got != wantCode {
				t.Fatalf("rejects %v: exit %d, want %d; stderr:\n%s", withRejects, got, wantCode, stderr)
			}
			if !withRejects && !hasLine(stderr.String(), "stdin:1: record too long: longer than 67108864 bytes") {
				t.Errorf("stderr:\n%s", stderr)
			}
			if withRejects && !strings.HasPrefix(stderr.String(), "taxagg aggregate: read 2 = accepted 1 + rejected 1 + duplicates 0") {
				t.Errorf("stderr:\n%s", stderr)
			}
			rss := peak()
			t.Logf("a %d MiB line (rejects %v): peak memory %d MiB", mib, withRejects, rss)
			if rss > 400 {
				t.Errorf("peak memory %d MiB for a %d MiB line", rss, mib)
			}
		}
	})

	// gzip bombs: a small file that decompresses to 512 MiB, as
	// concatenated gzip members of one compressed MiB. Whatever the format,
	// the run ends with a positioned "record too long", in bounded memory.
	t.Run("gzip bomb", func(t *testing.T) {
		member := func(b []byte) []byte {
			var buf bytes.Buffer
			zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
			zw.Write(b)
			zw.Close()
			return buf.Bytes()
		}
		tests := []struct {
			name, file string
			head       string
			fill       byte
			want       string
		}{
			{"ndjson line", "bomb.ndjson.gz", `{"id":"a","x":"`, 'x', "bomb.ndjson.gz:1: record too long: longer than 67108864 bytes"},
			{"json array element", "bomb.json.gz", `[{"id":"a","x":"`, 'x', "bomb.json.gz:1: record too long: longer than 67108864 bytes"},
			{"csv quoted field", "bomb.csv.gz", "id,amount\n\"", 'x', "bomb.csv.gz:2: record too long: longer than 67108864 bytes"},
			{"csv header of zeros", "bomb.gz", "", 0, "bomb.gz:1: record too long: longer than 67108864 bytes"},
		}
		block := member(bytes.Repeat([]byte{'x'}, 1<<20))
		zeros := member(make([]byte, 1<<20))
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				path := filepath.Join(t.TempDir(), tt.file)
				var buf bytes.Buffer
				if tt.head != "" {
					buf.Write(member([]byte(tt.head)))
				}
				m := block
				if tt.fill == 0 {
					m = zeros
				}
				for i := 0; i < 512; i++ {
					buf.Write(m)
				}
				if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				cmd, stderr := command(t, "aggregate", path)
				cmd.Stdout = io.Discard
				peak := underMemProbe(t, cmd)
				start := time.Now()
				cmd.Run()
				noCrash(t, stderr.String())
				if got := exitStatus(cmd.ProcessState); got != ExitError || !strings.Contains(stderr.String(), tt.want) {
					t.Errorf("exit %d after %v, stderr:\n%s\nwant exit 2 and %q", got, time.Since(start), stderr, tt.want)
				}
				rss := peak()
				t.Logf("%d KiB file, 512 MiB inflated: %v, peak memory %d MiB", buf.Len()>>10, time.Since(start).Round(time.Millisecond), rss)
				if rss > 400 {
					t.Errorf("peak memory %d MiB", rss)
				}
			})
		}
	})
}

// --- Progress -----------------------------------------------------------

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func TestProgress(t *testing.T) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	counts := func(n int64) pipeline.Counts {
		return pipeline.Counts{Read: n, Accepted: n - 3, Rejected: 3, Bytes: n * 100}
	}
	t.Run("silent when stderr is not a terminal, or with --quiet", func(t *testing.T) {
		for _, tt := range []struct{ tty, quiet bool }{{false, false}, {false, true}, {true, true}} {
			ios, _, _, errOut := NewTestIOStreams()
			ios.StderrIsTTY = tt.tty
			clk := &fakeClock{base}
			p := newProgress(ios, tt.quiet, clk.now, nil, false)
			for i := 0; i < 50; i++ {
				clk.t = clk.t.Add(time.Second)
				p.update(counts(int64(i) * 1000))
			}
			p.done()
			if p != nil || errOut.Len() != 0 {
				t.Errorf("tty %v quiet %v: progress %v, stderr %q", tt.tty, tt.quiet, p, errOut)
			}
		}
	})
	t.Run("shown after a second, throttled, erased at the end", func(t *testing.T) {
		ios, _, _, errOut := NewTestIOStreams()
		ios.StderrIsTTY = true
		clk := &fakeClock{base}
		p := newProgress(ios, false, clk.now, nil, false)
		// A short run: updates for 900 ms draw nothing.
		for i := 0; i < 9; i++ {
			clk.t = clk.t.Add(100 * time.Millisecond)
			p.update(counts(int64(i) * 100))
		}
		if errOut.Len() != 0 {
			t.Fatalf("drawn before a second: %q", errOut)
		}
		// From then on, at most one redraw per 200 ms: 100 updates 10 ms
		// apart (one second) give at most 6 redraws.
		draws := 0
		for i := 0; i < 100; i++ {
			clk.t = clk.t.Add(10 * time.Millisecond)
			before := errOut.Len()
			p.update(counts(10000 + int64(i)*100))
			if errOut.Len() != before {
				draws++
			}
		}
		if draws == 0 || draws > 6 {
			t.Errorf("%d redraws in a second", draws)
		}
		out := errOut.String()
		for _, want := range []string{"records", "/s)", "3 rejected", "MB read"} {
			if !strings.Contains(out, want) {
				t.Errorf("bar %q lacks %q", out, want)
			}
		}
		errOut.Reset()
		p.done()
		if s := errOut.String(); strings.TrimSpace(s) != "" || !strings.HasSuffix(s, "\r") {
			t.Errorf("done wrote %q, want the line erased", s)
		}
	})
	t.Run("silent when the output streams to the same terminal", func(t *testing.T) {
		ios, _, _, _ := NewTestIOStreams()
		ios.StderrIsTTY = true
		if p := newProgress(ios, false, time.Now, nil, true); p != nil {
			t.Errorf("progress %v", p)
		}
	})
	t.Run("a run under a second on a terminal stays clean", func(t *testing.T) {
		ios, _, _, errOut := NewTestIOStreams()
		ios.StderrIsTTY = true
		ios.In.(*bytes.Buffer).WriteString(`{"id":"g1","date":"2025-03-01","currency":"USD","amount":"1.00","country":"US","state":"TX"}` + "\n")
		f := &Factory{IO: ios, Getenv: func(string) string { return "" }, Now: time.Now}
		if code := run(context.Background(), f, []string{"aggregate", "--format", "ndjson"}); code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		if s := errOut.String(); !strings.HasPrefix(s, "taxagg aggregate: read 1 ") || strings.Contains(s, "\r") {
			t.Errorf("stderr %q", s)
		}
	})
	t.Run("runTx draws the bar and erases it before the summary", func(t *testing.T) {
		ios, _, _, errOut := NewTestIOStreams()
		ios.StderrIsTTY = true
		clk := &fakeClock{base}
		// Every batch seems to take 2 s; four batches on stdin (a spinner).
		slow := func() time.Time { clk.t = clk.t.Add(2 * time.Second); return clk.t }
		writeRecords(ios.In.(*bytes.Buffer), 0, 2000)
		f := &Factory{IO: ios, Getenv: func(string) string { return "" }, Now: slow}
		if code := run(context.Background(), f, []string{"aggregate", "--format", "ndjson", "--workers", "1"}); code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		bar, summary, ok := strings.Cut(errOut.String(), "taxagg aggregate: read 2000 ")
		if !ok || !strings.Contains(bar, "records (") || !strings.Contains(bar, "/s), 0 rejected, ") || !strings.Contains(bar, "kB read") ||
			!strings.HasSuffix(bar, "\r") || strings.Contains(summary, "\r") {
			t.Errorf("stderr %q", errOut)
		}
		// At 100% of a known size the bar is erased too.
		errOut.Reset()
		p := newProgress(ios, false, slow, []string{filepath.Join(badDir, "bom.ndjson")}, false)
		p.update(pipeline.Counts{Read: 1, Bytes: 10})
		p.update(pipeline.Counts{Read: 2, Bytes: p.total})
		p.done()
		if s := errOut.String(); !strings.HasSuffix(s, "\r") || !strings.Contains(s, "5% |") {
			t.Errorf("stderr %q", s)
		}
	})
	t.Run("the size of the input files is the bar's total", func(t *testing.T) {
		dir := t.TempDir()
		a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
		os.WriteFile(a, make([]byte, 100), 0o644)
		os.WriteFile(b, make([]byte, 23), 0o644)
		if got := inputSize([]string{a, b}); got != 123 {
			t.Errorf("inputSize = %d", got)
		}
		for _, files := range [][]string{nil, {a, "-"}, {a, filepath.Join(dir, "missing")}, {dir}} {
			if got := inputSize(files); got != -1 {
				t.Errorf("inputSize(%v) = %d, want -1", files, got)
			}
		}
	})
}
