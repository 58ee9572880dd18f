package cli

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/taxagg/taxagg/internal/fetch/fetchtest"
)

// The hardening suite, second pass: each test below runs the real command
// tree on a shape of input or server that once gave a wrong result, leaked
// a key, or never ended.

const testKey = "sk_test_hardening_5ecret_key_42"

// envRun runs taxagg in-process with the environment env and returns the
// exit code, stdout and stderr.
func envRun(t testing.TB, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	ios, _, out, errOut := NewTestIOStreams()
	f := &Factory{IO: ios, Getenv: func(k string) string { return env[k] }, Now: time.Now}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	code := run(ctx, f, args)
	return code, out.String(), errOut.String()
}

// authLog is a server on 127.0.0.1 that records the Authorization header
// of every request it gets.
type authLog struct {
	mu   sync.Mutex
	seen []string
	srv  *httptest.Server
}

func newAuthLog(t *testing.T) *authLog {
	a := &authLog{}
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		a.seen = append(a.seen, r.Header.Get("Authorization"))
		a.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"object":"list","data":[],"has_more":false}`))
	}))
	t.Cleanup(a.srv.Close)
	return a
}

func (a *authLog) headers() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.seen...)
}

// A redirect to the same host on another port (or scheme) is refused, and
// the key never reaches the other server; a redirect within the API's own
// origin is followed.
func TestFetchRedirectKeepsKey(t *testing.T) {
	other := newAuthLog(t) // 127.0.0.1, another port
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1/charges":
			http.Redirect(w, r, other.srv.URL+"/v1/charges?"+r.URL.RawQuery, http.StatusFound)
		case "/v1/invoices":
			http.Redirect(w, r, "/v1/moved/invoices?"+r.URL.RawQuery, http.StatusFound)
		case "/v1/moved/invoices":
			if r.Header.Get("Authorization") != "Bearer "+testKey {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"object":"list","data":[],"has_more":false}`))
		}
	}))
	defer api.Close()
	env := map[string]string{"STRIPE_API_KEY": testKey}

	code, _, stderr := envRun(t, env, "fetch", "stripe", "--api-base", api.URL, "--resource", "charges", "--max-retries", "3", "-q")
	noCrash(t, stderr)
	if code != ExitError {
		t.Errorf("exit %d, want %d; stderr:\n%s", code, ExitError, stderr)
	}
	want := "refused a redirect from " + api.URL + " to " + other.srv.URL
	if !strings.Contains(stderr, want) || !strings.Contains(stderr, "the API key is only sent to the API's own origin") {
		t.Errorf("stderr:\n%s\nwant %q", stderr, want)
	}
	if got := other.headers(); len(got) != 0 {
		t.Errorf("the other port received %d requests (Authorization %q)", len(got), got)
	}
	if strings.Contains(stderr, testKey) {
		t.Errorf("stderr shows the key:\n%s", stderr)
	}

	code, _, stderr = envRun(t, env, "fetch", "stripe", "--api-base", api.URL, "--resource", "invoices", "-q")
	if code != ExitOK {
		t.Errorf("same-origin redirect: exit %d; stderr:\n%s", code, stderr)
	}
}

// A server that echoes the key inside an object: neither --raw output nor
// the checkpoint's records file holds it.
func TestFetchRedactsEchoedKey(t *testing.T) {
	objs := fetchtest.Objects("stripe", "charges", 3, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	objs[1]["description"] = "charged with " + testKey
	objs[2]["metadata"] = map[string]any{"key": testKey}
	srv := &fetchtest.Server{Provider: "stripe", Key: testKey, Data: map[string][]map[string]any{"charges": objs}}
	base := srv.Start()
	defer srv.Close()
	dir := t.TempDir()
	ck := filepath.Join(dir, "ck.json")
	env := map[string]string{"STRIPE_API_KEY": testKey}
	code, stdout, stderr := envRun(t, env, "fetch", "stripe", "--api-base", base, "--resource", "charges", "--raw", "--checkpoint", ck, "-q")
	if code != ExitOK {
		t.Fatalf("exit %d; stderr:\n%s", code, stderr)
	}
	if strings.Count(stdout, "\n") != 3 || strings.Count(stdout, "[redacted]") != 2 {
		t.Errorf("raw output:\n%s\nwant 3 objects, 2 with [redacted]", stdout)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		data, _ := os.ReadFile(filepath.Join(dir, e.Name()))
		if strings.Contains(string(data), testKey) {
			t.Errorf("%s holds the key:\n%s", e.Name(), data)
		}
	}
	if strings.Contains(stdout, testKey) {
		t.Errorf("raw output holds the key:\n%s", stdout)
	}
}

// binary returns the real taxagg binary (built once per test process) and
// a command runner with a deadline, so that a hang fails the test.
func binary(t *testing.T) (string, func(args ...string) *exec.Cmd) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := taxaggBinary(t, "")
	return bin, func(args ...string) *exec.Cmd {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		t.Cleanup(cancel)
		return exec.CommandContext(ctx, args[0], args[1:]...)
	}
}

const oneTx = `{"id":"t1","date":"2026-01-02","currency":"USD","amount":"10.00","country":"XX"}` + "\n"

// --out and --summary files get 0666 less the umask, and a file being
// replaced keeps its mode.
func TestOutputModes(t *testing.T) {
	bin, command := binary(t)
	dir := t.TempDir()
	in := filepath.Join(dir, "in.ndjson")
	os.WriteFile(in, []byte(oneTx), 0o644)
	a := filepath.Join(dir, "a.ndjson")
	b := filepath.Join(dir, "b.ndjson")
	os.WriteFile(a, []byte(`{"id":"x","date":"2026-01-02","currency":"USD","amount":"10.00"}`+"\n"), 0o644)
	os.WriteFile(b, []byte(`{"id":"x","date":"2026-01-02","currency":"USD","amount":"10.00"}`+"\n"), 0o644)
	tests := []struct {
		umask    string
		existing os.FileMode // 0: no file before the run
		want     os.FileMode
	}{
		{"077", 0, 0o600},
		{"022", 0, 0o644},
		{"027", 0, 0o640},
		{"077", 0o664, 0o664},
		{"022", 0o600, 0o600},
	}
	for _, tt := range tests {
		name := fmt.Sprintf("umask %s existing %o", tt.umask, tt.existing)
		t.Run(name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out.ndjson")
			sum := filepath.Join(filepath.Dir(out), "sum.json")
			ledger := filepath.Join(filepath.Dir(out), "ledger.ndjson")
			if tt.existing != 0 {
				for _, p := range []string{out, sum, ledger} {
					os.WriteFile(p, []byte("old\n"), 0o600)
					os.Chmod(p, tt.existing)
				}
			}
			cmd := command("sh", "-c", `umask `+tt.umask+` && "$@"`, "sh", bin, "aggregate", "-q", "--out", out, "--summary", sum, in)
			if msg, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("aggregate: %v\n%s", err, msg)
			}
			cmd = command("sh", "-c", `umask `+tt.umask+` && "$@"`, "sh", bin, "reconcile", "-q", "-o", ledger, a, b)
			if msg, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("reconcile: %v\n%s", err, msg)
			}
			for _, p := range []string{out, sum, ledger} {
				st, err := os.Stat(p)
				if err != nil {
					t.Fatal(err)
				}
				if got := st.Mode().Perm(); got != tt.want {
					t.Errorf("%s: mode %o, want %o", filepath.Base(p), got, tt.want)
				}
			}
		})
	}
}

// --checkpoint never follows a symbolic link for FILE.records: the run is
// refused and the link's target is left as it was.
func TestFetchCheckpointSymlink(t *testing.T) {
	srv := &fetchtest.Server{Provider: "stripe", Key: testKey, Data: map[string][]map[string]any{
		"charges": fetchtest.Objects("stripe", "charges", 3, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)),
	}}
	base := srv.Start()
	defer srv.Close()
	dir := t.TempDir()
	victim := filepath.Join(dir, "precious.txt")
	os.WriteFile(victim, []byte("do not truncate me\n"), 0o644)
	ck := filepath.Join(dir, "ck.json")
	if err := os.Symlink(victim, ck+".records"); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"STRIPE_API_KEY": testKey}
	code, _, stderr := envRun(t, env, "fetch", "stripe", "--api-base", base, "--resource", "charges", "--checkpoint", ck, "-q")
	want := "checkpoint: records file " + ck + ".records is not a regular file (a symbolic link): refusing to use it"
	if code != ExitError || !strings.Contains(stderr, want) {
		t.Errorf("exit %d, stderr:\n%s\nwant exit 2 and %q", code, stderr, want)
	}
	if data, _ := os.ReadFile(victim); string(data) != "do not truncate me\n" {
		t.Errorf("the link's target now holds %q", data)
	}
	if srv.Count() != 0 {
		t.Errorf("%d requests sent before the checkpoint was refused", srv.Count())
	}
}

// Cursors that cycle (A→B→A) end the run with a message after a few
// requests instead of paging forever.
func TestFetchCursorCycle(t *testing.T) {
	var mu sync.Mutex
	requests := 0
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		requests++
		mu.Unlock()
		id := "ch_A"
		if r.URL.Query().Get("starting_after") == "ch_A" {
			id = "ch_B"
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"object":"list","has_more":true,"data":[{"id":%q,"object":"charge","created":1767225600,"amount":100,"currency":"usd","status":"succeeded"}]}`, id)
	}))
	defer api.Close()
	env := map[string]string{"STRIPE_API_KEY": testKey}
	code, stdout, stderr := envRun(t, env, "fetch", "stripe", "--api-base", api.URL, "--resource", "charges", "-q")
	want := `charges: page after "ch_B": the API gave cursor "ch_A", already followed in this run: its cursors cycle; stopped after 3 pages`
	if code != ExitError || !hasLine(stderr, want) {
		t.Errorf("exit %d, stderr:\n%s\nwant exit 2 and %q", code, stderr, want)
	}
	if requests != 3 || stdout != "" {
		t.Errorf("%d requests, stdout %q; want 3 and nothing", requests, stdout)
	}
}

// Blanks without a line end: format detection scans them once and stops
// at the record limit, so the run ends with a positioned "record too long"
// (it once spun forever); and a signal ends a run reading gigabytes of
// them, or one waiting to open a FIFO without a writer.
func TestBlanksAndSignals(t *testing.T) {
	bin, command := binary(t)
	dir := t.TempDir()
	rulesFile := filepath.Join(dir, "rules.yaml")
	os.WriteFile(rulesFile, []byte(miniRules), 0o644)

	// A blank line is skipped however long it is, as when it arrives in
	// one read; the record after it is read.
	t.Run("80 MiB of blanks on stdin", func(t *testing.T) {
		tests := []struct {
			args   []string
			output func(stdout, stderr string) string // where the sign of the record is
			want   string
		}{
			{[]string{"aggregate", "--rules", rulesFile}, func(_, e string) string { return e }, "read 1 = accepted 1 + rejected 0"},
			{[]string{"explain", "--rules", rulesFile}, func(o, _ string) string { return o }, "stdin:2: transaction t1"},
		}
		for _, tt := range tests {
			cmd := command(append([]string{bin}, tt.args...)...)
			cmd.Stdin = io.MultiReader(strings.NewReader(strings.Repeat(" \t", 40<<20)), strings.NewReader("\n"+oneTx))
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			start := time.Now()
			cmd.Run()
			took := time.Since(start)
			noCrash(t, stderr.String())
			got := exitStatus(cmd.ProcessState)
			if msg := tt.output(stdout.String(), stderr.String()); got != ExitOK || !strings.Contains(msg, tt.want) {
				t.Errorf("%v: exit %d after %v, stdout:\n%.2000s\nstderr:\n%s\nwant exit 0 and %q", tt.args, got, took, stdout.String(), stderr.String(), tt.want)
			}
			if took > 20*time.Second {
				t.Errorf("%v: took %v", tt.args, took)
			}
		}
	})

	// interrupt starts args, sends SIGINT after a moment, and wants exit
	// 130 soon after.
	interrupt := func(t *testing.T, args ...string) {
		t.Helper()
		cmd := command(append([]string{bin}, args...)...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(500 * time.Millisecond)
		start := time.Now()
		cmd.Process.Signal(syscall.SIGINT)
		cmd.Wait()
		took := time.Since(start)
		noCrash(t, stderr.String())
		if got := exitStatus(cmd.ProcessState); got != ExitInterrupted {
			t.Errorf("%v: exit %d, want %d; stderr:\n%s", args, got, ExitInterrupted, stderr.String())
		}
		if took > 5*time.Second {
			t.Errorf("%v: took %v to stop after SIGINT", args, took)
		}
	}

	t.Run("a gzip of 4 GiB of blanks", func(t *testing.T) {
		var member bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&member, gzip.BestCompression)
		zw.Write(bytes.Repeat([]byte{' '}, 1<<20))
		zw.Close()
		path := filepath.Join(dir, "blanks.ndjson.gz")
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 4096; i++ {
			f.Write(member.Bytes())
		}
		f.Close()
		interrupt(t, "aggregate", "--rejects", filepath.Join(dir, "rej.ndjson"), path)
	})

	t.Run("a FIFO without a writer", func(t *testing.T) {
		fifo := filepath.Join(dir, "fifo")
		if err := syscall.Mkfifo(fifo, 0o600); err != nil {
			t.Skip(err)
		}
		a := filepath.Join(dir, "a.ndjson")
		os.WriteFile(a, []byte(`{"id":"x","date":"2026-01-02","currency":"USD","amount":"10.00"}`+"\n"), 0o644)
		interrupt(t, "aggregate", fifo)
		interrupt(t, "calc", "--rules", fifo, a)
		interrupt(t, "explain", "--rules", rulesFile, fifo)
		interrupt(t, "reconcile", a, fifo)
		interrupt(t, "reconcile", "--from-b", fifo, a, a)
		interrupt(t, "rules", "check", fifo)
		interrupt(t, "rules", "import", "--from", "sst", fifo)
	})
}

// miniRules is a one-jurisdiction rule file for the tests here.
const miniRules = `version: 1
jurisdictions:
  - code: XX
    name: Examplia
    level: country
    match: {country: XX}
    taxes:
      - id: vat
        rates: [{from: 2020-01-01, rate: "7%"}]
`

// Memory is bounded: a reconcile record is capped like a transaction
// record (and /dev/zero fails fast), and a huge --workers is clamped.
func TestBoundedMemory(t *testing.T) {
	bin, command := binary(t)
	dir := t.TempDir()
	a := filepath.Join(dir, "a.ndjson")
	os.WriteFile(a, []byte(`{"id":"x","date":"2026-01-02","currency":"USD","amount":"10.00"}`+"\n"), 0o644)
	big := filepath.Join(dir, "big.ndjson.gz")
	{
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
		zw.Write([]byte(`{"id":"x","date":"2026-01-02","currency":"USD","amount":"10.00","note":"`))
		chunk := bytes.Repeat([]byte("x"), 1<<20)
		for i := 0; i < 80; i++ {
			zw.Write(chunk)
		}
		zw.Write([]byte("\"}\n"))
		zw.Close()
		os.WriteFile(big, buf.Bytes(), 0o644)
	}
	run := func(t *testing.T, args ...string) (int, string, int64, time.Duration) {
		cmd := command(append([]string{bin}, args...)...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		peak := underMemProbe(t, cmd)
		start := time.Now()
		cmd.Run()
		noCrash(t, stderr.String())
		return exitStatus(cmd.ProcessState), stderr.String(), peak(), time.Since(start)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"reconcile /dev/zero", []string{"reconcile", "/dev/zero", a}, "/dev/zero: record 1 is too long: it does not end within 67108864 bytes"},
		{"an 80 MiB reconcile record (gzip)", []string{"reconcile", a, big}, big + ": record 1 is too long: it does not end within 67108864 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := os.Stat(tt.args[1]); err != nil {
				t.Skip(err)
			}
			code, stderr, rss, took := run(t, tt.args...)
			if code != ExitError || !hasLine(stderr, tt.want) {
				t.Errorf("exit %d, stderr:\n%s\nwant exit 2 and %q", code, stderr, tt.want)
			}
			t.Logf("%v: peak memory %d MiB, %v", tt.args, rss, took.Round(time.Millisecond))
			if rss > 600 || took > 20*time.Second {
				t.Errorf("peak memory %d MiB, took %v", rss, took)
			}
		})
	}
	t.Run("--workers 2147483647", func(t *testing.T) {
		in := filepath.Join(dir, "in.ndjson")
		os.WriteFile(in, []byte(oneTx), 0o644)
		code, stderr, rss, _ := run(t, "aggregate", "--workers", "2147483647", in)
		if code != ExitOK || rss > 200 {
			t.Errorf("exit %d, peak memory %d MiB; stderr:\n%s", code, rss, stderr)
		}
	})
}

// reconcile | head -1: the reader goes away mid-ledger, and the spill
// directory is removed all the same (SIGPIPE once killed the process
// before its cleanup ran); the exit is quiet, 141 as for SIGPIPE.
func TestReconcileBrokenPipeCleansSpill(t *testing.T) {
	bin, command := binary(t)
	dir := t.TempDir()
	tmp := filepath.Join(dir, "tmp")
	os.Mkdir(tmp, 0o755)
	var recs strings.Builder
	for i := 0; i < 20000; i++ {
		fmt.Fprintf(&recs, `{"id":"k%d","date":"2026-01-02","currency":"USD","amount":"10.00"}`+"\n", i)
	}
	a, b := filepath.Join(dir, "a.ndjson"), filepath.Join(dir, "b.ndjson")
	os.WriteFile(a, []byte(recs.String()), 0o644)
	os.WriteFile(b, []byte(recs.String()), 0o644)

	cmd := command(bin, "reconcile", "--memory", "1MiB", a, b)
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.Contains(line, `"status":"match"`) {
		t.Fatalf("first line %q, %v", line, err)
	}
	out.Close()
	cmd.Wait()
	if code := exitStatus(cmd.ProcessState); code != ExitBrokenPipe && code != ExitOK {
		t.Errorf("exit %d; stderr:\n%s", code, stderr.String())
	}
	if strings.Contains(stderr.String(), "broken pipe") {
		t.Errorf("stderr not quiet:\n%s", stderr.String())
	}
	left, _ := os.ReadDir(tmp)
	for _, e := range left {
		t.Errorf("left behind in TMPDIR: %s", e.Name())
	}
}
