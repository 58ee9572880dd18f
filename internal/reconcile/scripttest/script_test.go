// Package scripttest runs the CLI contract of `taxagg reconcile` as
// testscript files (testdata/reconcile/script/*.txtar): exit codes, stderr
// wording, outputs, on real files. $TESTDATA is testdata/reconcile.
//
// The command `exits CODE cmd args...` runs a command and checks its exit
// code exactly (exec only tells zero from non-zero).
package scripttest

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/taxagg/taxagg/internal/cli"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"taxagg": func() { os.Exit(cli.Main(os.Args[1:], cli.SystemIOStreams())) },
	})
}

func TestScripts(t *testing.T) {
	data, err := filepath.Abs(filepath.Join("..", "..", "..", "testdata", "reconcile"))
	if err != nil {
		t.Fatal(err)
	}
	testscript.Run(t, testscript.Params{
		Dir: filepath.Join(data, "script"),
		Setup: func(env *testscript.Env) error {
			env.Setenv("TESTDATA", data)
			return nil
		},
		Cmds: map[string]func(*testscript.TestScript, bool, []string){"exits": cmdExits},
	})
}

func cmdExits(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exits CODE command [args...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("exits: bad code %q", args[0])
	}
	var path string
	for _, dir := range filepath.SplitList(ts.Getenv("PATH")) {
		if st, err := os.Stat(filepath.Join(dir, args[1])); err == nil && !st.IsDir() {
			path = filepath.Join(dir, args[1])
			break
		}
	}
	if path == "" {
		ts.Fatalf("exits: %s not found", args[1])
	}
	cmd := exec.Command(path, args[2:]...)
	cmd.Dir = ts.MkAbs(".")
	cmd.Env = append(os.Environ(), "PATH="+ts.Getenv("PATH"), "TMPDIR="+ts.Getenv("WORK")+"/tmp")
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
