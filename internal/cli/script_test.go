package cli

import (
	"compress/gzip"
	"errors"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

var update = flag.Bool("update", false, "rewrite the expected outputs in testdata/script/*.txtar")

// TestMain lets testscript run the real command tree as the "taxagg"
// command of the scripts, in its own process, with the real exit code; a
// test binary started as a memory probe runs the probe instead.
func TestMain(m *testing.M) {
	runMemProbeIfAsked()
	testscript.Main(withCleanup{m}, map[string]func(){
		"taxagg": func() { os.Exit(Main(os.Args[1:], SystemIOStreams())) },
	})
}

// withCleanup runs the tests, then removes what outlives any one test (the
// binary taxaggBinary built).
type withCleanup struct{ m *testing.M }

func (w withCleanup) Run() int {
	code := w.m.Run()
	if binDirPath != "" {
		os.RemoveAll(binDirPath)
	}
	return code
}

// TestScripts runs the CLI contracts in testdata/script: exit codes, stderr
// wording and outputs, on real files. $TESTDATA is the repository's
// testdata directory.
func TestScripts(t *testing.T) {
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	runScripts(t, "testdata/script", filepath.Join(repo, "testdata"))
}

// TestReconcileScripts runs reconcile's contracts, kept beside their data:
// $TESTDATA is testdata/reconcile.
func TestReconcileScripts(t *testing.T) {
	data, err := filepath.Abs("../../testdata/reconcile")
	if err != nil {
		t.Fatal(err)
	}
	runScripts(t, filepath.Join(data, "script"), data)
}

func runScripts(t *testing.T, dir, testdata string) {
	testscript.Run(t, testscript.Params{
		Dir:                 dir,
		UpdateScripts:       *update,
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			env.Setenv("TESTDATA", testdata)
			return nil
		},
		Cmds: map[string]func(*testscript.TestScript, bool, []string){
			"exits":    cmdExits,
			"gzip":     cmdGzip,
			"receiver": cmdReceiver,
			"received": cmdReceived,
			"subst":    cmdSubst,
			"sleep":    cmdSleep,
		},
	})
}

// cmdExits runs a command and checks its exit code (exec only tells zero
// from non-zero):
//
//	exits 2 taxagg aggregate bad.ndjson
//
// Its stdout and stderr are kept for the stdout/stderr/cmp commands that
// follow. With STDIN_FILE set (env STDIN_FILE=a.ndjson), that file is its
// standard input.
func cmdExits(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exits CODE command [args...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("exits: bad code %q", args[0])
	}
	path := lookPath(ts.Getenv("PATH"), args[1])
	if path == "" {
		ts.Fatalf("exits: %s not found", args[1])
	}
	cmd := exec.Command(path, args[2:]...)
	cmd.Dir = ts.MkAbs(".")
	cmd.Env = append(os.Environ(), "PATH="+ts.Getenv("PATH"), "TMPDIR="+ts.Getenv("TMPDIR"))
	cmd.Stdout, cmd.Stderr = ts.Stdout(), ts.Stderr()
	if stdin := ts.Getenv("STDIN_FILE"); stdin != "" {
		f, err := os.Open(ts.MkAbs(stdin))
		ts.Check(err)
		defer f.Close()
		cmd.Stdin = f
	}
	err = cmd.Run()
	got := 0
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		got = exitErr.ExitCode()
	} else if err != nil {
		ts.Fatalf("exits: %v", err)
	}
	if got != want {
		ts.Fatalf("%s exited %d, want %d", strings.Join(args[1:], " "), got, want)
	}
}

func lookPath(pathList, name string) string {
	for _, dir := range filepath.SplitList(pathList) {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
	}
	return ""
}

// cmdGzip compresses a file to FILE.gz, keeping the original:
//
//	gzip tx.ndjson
func cmdGzip(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: gzip FILE")
	}
	data, err := os.ReadFile(ts.MkAbs(args[0]))
	ts.Check(err)
	f, err := os.Create(ts.MkAbs(args[0] + ".gz"))
	ts.Check(err)
	zw := gzip.NewWriter(f)
	_, err = zw.Write(data)
	ts.Check(err)
	ts.Check(zw.Close())
	ts.Check(f.Close())
}
