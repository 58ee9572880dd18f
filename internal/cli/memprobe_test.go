package cli

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// A child's ru_maxrss, as os.ProcessState reports it, is not the child's
// own peak: Linux folds the address space the child had before exec into
// it, and Go starts children with vfork, so that space is the test
// process's, which can be hundreds of MiB by the time a memory bound is
// checked (CI once saw a one-record run "peak" at 201 MiB). A memory bound
// is therefore measured through a probe: the test binary re-executed
// (fresh and small), which starts the command itself and reports the
// command's rusage to a file.
const memProbeEnv = "TAXAGG_TEST_MEMPROBE"

// runMemProbeIfAsked is called from TestMain: in a probe process it runs
// the command of its arguments, writes the command's peak memory in bytes
// to the file named by memProbeEnv, exits as the command did and does not
// return.
func runMemProbeIfAsked() {
	report := os.Getenv(memProbeEnv)
	if report == "" {
		return
	}
	os.Unsetenv(memProbeEnv)
	runtime.LockOSThread() // see probeAttr
	cmd := exec.Command(os.Args[1], os.Args[2:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.SysProcAttr = probeAttr()
	if err := cmd.Run(); err != nil && cmd.ProcessState == nil {
		fmt.Fprintln(os.Stderr, "memory probe:", err)
		os.Exit(125)
	}
	peak := cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss * maxrssBytes
	if err := os.WriteFile(report, []byte(strconv.FormatInt(int64(peak), 10)), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "memory probe:", err)
		os.Exit(125)
	}
	os.Exit(exitStatus(cmd.ProcessState))
}

// underMemProbe makes cmd (not started yet) run under the probe, and
// returns what reads the command's peak memory in MiB once cmd has ended.
// The exit status of cmd stays the command's; a signal shows as 128+n.
func underMemProbe(t *testing.T, cmd *exec.Cmd) (peakMiB func() int64) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	report := t.TempDir() + "/maxrss"
	cmd.Args = append([]string{self, cmd.Path}, cmd.Args[1:]...)
	cmd.Path = self
	env := cmd.Env
	if env == nil {
		env = os.Environ()
	}
	cmd.Env = append(env, memProbeEnv+"="+report)
	return func() int64 {
		t.Helper()
		b, err := os.ReadFile(report)
		if err != nil {
			t.Fatalf("memory probe reported nothing: %v", err)
		}
		peak, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		if err != nil {
			t.Fatalf("memory probe: %v", err)
		}
		return peak >> 20
	}
}

// The probe measures the command, not the test process: with 300 MiB held
// here, a one-record run still reports its own few tens of MiB.
func TestMemProbeExcludesTheTestProcess(t *testing.T) {
	bin, command := binary(t)
	held := make([]byte, 300<<20)
	for i := range held {
		held[i] = 1
	}
	in := t.TempDir() + "/in.ndjson"
	os.WriteFile(in, []byte(oneTx), 0o644)

	direct := command(bin, "aggregate", in)
	direct.Run()
	probed := command(bin, "aggregate", in)
	peak := underMemProbe(t, probed)
	probed.Run()
	runtime.KeepAlive(held)

	if got, want := exitStatus(probed.ProcessState), exitStatus(direct.ProcessState); got != want {
		t.Errorf("probed exit %d, want %d (the command's own)", got, want)
	}
	t.Logf("rusage read directly: %d MiB", int64(direct.ProcessState.SysUsage().(*syscall.Rusage).Maxrss*maxrssBytes)>>20)
	if p := peak(); p <= 0 || p > 100 {
		t.Errorf("probed peak %d MiB, want the command's own (well under 100 MiB)", p)
	}
}
