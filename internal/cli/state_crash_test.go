package cli

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/taxagg/taxagg/internal/failpoint"
)

// Crash tests: the real command, in its own process, is killed with
// SIGKILL at random moments and at the failpoints of the commit protocol
// (TAXAGG_FAILPOINT), then run again until it succeeds. After every input
// has gone through, the output must be byte for byte that of one clean run
// without a state, and `state verify` must pass.
//
// TAXAGG_CRASH_N sets the records per day (default 20000, three days);
// TAXAGG_CRASH_KILLS the random kills per command (default 12).

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// buildTaxagg builds the real binary into a directory of the test's.
func buildTaxagg(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool on PATH to build the binary")
	}
	bin := filepath.Join(t.TempDir(), "taxagg")
	out, err := exec.Command(goTool, "build", "-o", bin, "github.com/taxagg/taxagg/cmd/taxagg").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

var crashStates = []struct{ state, extra string }{
	{"CA", `"postal_code":"94103"`}, {"TX", `"city":"Austin"`}, {"NY", `"customer":"cus_1"`},
	{"WA", `"postal_code":"98101"`}, {"FL", `"product":"food"`}, {"PA", `"product":"physical"`}, {"TN", `"product":"physical"`},
}

// genDays writes days of transactions with replays of earlier records
// (the same record again, in the same day or a later one).
func genDays(t *testing.T, dir string, days, perDay int, seed uint64) []string {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 7))
	var all []string
	var files []string
	for d := 0; d < days; d++ {
		var b bytes.Buffer
		for i := 0; i < perDay; i++ {
			if len(all) > 0 && rng.IntN(50) == 0 {
				b.WriteString(all[rng.IntN(len(all))])
				continue
			}
			if rng.IntN(1000) == 0 {
				fmt.Fprintf(&b, `{"id":"bad-%d-%d","date":"2026-01-01","currency":"USD","amount":"12.3.4","country":"US","state":"TX"}`+"\n", d, i)
				continue
			}
			st := crashStates[rng.IntN(len(crashStates))]
			typ := ""
			if rng.IntN(20) == 0 {
				typ = `"type":"refund",`
			}
			rec := fmt.Sprintf(`{"id":"d%d-%d",%s"date":"2026-%02d-%02d","currency":"USD","amount":"%d.%02d","country":"US","state":"%s",%s}`+"\n",
				d, i, typ, 1+d%12, 1+rng.IntN(28), rng.IntN(5000), rng.IntN(100), st.state, st.extra)
			all = append(all, rec)
			b.WriteString(rec)
		}
		name := filepath.Join(dir, fmt.Sprintf("day%d.ndjson", d+1))
		if err := os.WriteFile(name, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, name)
	}
	return files
}

type crashRunner struct {
	t   *testing.T
	bin string
	dir string
}

// run runs taxagg to the end; it returns the exit code and stderr.
func (c *crashRunner) run(env []string, args ...string) (int, string) {
	cmd := exec.Command(c.bin, args...)
	cmd.Dir = c.dir
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.Stdout = &stderr
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), stderr.String()
	} else if err != nil {
		c.t.Fatal(err)
	}
	return 0, stderr.String()
}

// killAfter starts taxagg and kills it with SIGKILL after d (or lets it
// finish first). It reports whether the process was killed.
func (c *crashRunner) killAfter(d time.Duration, args ...string) bool {
	cmd := exec.Command(c.bin, args...)
	cmd.Dir = c.dir
	if err := cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if ee, ok := err.(*exec.ExitError); err != nil && (!ok || ee.ExitCode() > 1) {
			c.t.Fatalf("taxagg %s: %v", strings.Join(args, " "), err)
		}
		return false
	case <-time.After(d):
		cmd.Process.Signal(syscall.SIGKILL)
		<-done
		return true
	}
}

func TestStateCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("crash tests run the binary many times")
	}
	bin := buildTaxagg(t)
	dir := t.TempDir()
	perDay := envInt("TAXAGG_CRASH_N", 20000)
	kills := envInt("TAXAGG_CRASH_KILLS", 12)
	days := genDays(t, dir, 3, perDay, 1)
	c := &crashRunner{t: t, bin: bin, dir: dir}

	for _, cmd := range []struct {
		name string
		ref  []string // one clean run over every day, no state
		run  []string // one day's run against the state (the file is appended)
		out  string
	}{
		{"aggregate", []string{"aggregate", "-q", "--format", "csv", "--rejects", "ref.rej", "-o", "ref.csv"}, []string{"aggregate", "-q", "--format", "csv", "--rejects", "agg.rej", "-o", "agg.csv", "--state", "agg.db"}, "agg.csv"},
		{"nexus", []string{"nexus", "-q", "--format", "csv", "--rejects", "ref.rej", "-o", "ref.csv"}, []string{"nexus", "-q", "--format", "csv", "--rejects", "nexus.rej", "-o", "nexus.csv", "--state", "nexus.db"}, "nexus.csv"},
		{"calc", []string{"calc", "-q", "--format", "ndjson", "--rejects", "ref.rej", "-o", "ref.ndjson"}, []string{"calc", "-q", "--format", "ndjson", "--rejects", "calc.rej", "-o", "calc.ndjson", "--state", "calc.db"}, "calc.ndjson"},
	} {
		t.Run(cmd.name, func(t *testing.T) {
			c.t = t
			os.Remove(filepath.Join(dir, "ref.rej"))
			if code, msg := c.run(nil, append(cmd.ref, days...)...); code > 1 {
				t.Fatalf("clean run: exit %d: %s", code, msg)
			}
			refOut := cmd.ref[len(cmd.ref)-1]
			start := time.Now()
			if code, msg := c.run(nil, append(cmd.run, days[0])...); code > 1 {
				t.Fatalf("first run: exit %d: %s", code, msg)
			}
			took := time.Since(start)
			os.Remove(filepath.Join(dir, cmd.out))
			os.Remove(filepath.Join(dir, cmd.run[len(cmd.run)-1]))
			os.Remove(filepath.Join(dir, cmd.run[5])) // the rejects file

			rng := rand.New(rand.NewPCG(2, uint64(len(cmd.name))))
			failpoints := []string{"state-after-output", "state-in-commit", "state-after-commit"}
			killed, fp := 0, 0
			for di, day := range days {
				args := append(append([]string(nil), cmd.run...), day)
				done := false
				// Failpoints first (one per day), then random kills, then a
				// run to the end if none finished on its own.
				if fp < len(failpoints) {
					code, msg := c.run([]string{failpoint.Env + "=" + failpoints[fp]}, args...)
					if code != -1 {
						t.Fatalf("failpoint %s: exit %d, want killed: %s", failpoints[fp], code, msg)
					}
					fp++
				}
				share := kills / len(days)
				if di == len(days)-1 {
					share = kills - killed
				}
				for k := 0; k < share; k++ {
					d := time.Duration(rng.Int64N(int64(took)))
					if c.killAfter(d, args...) {
						killed++
					} else {
						done = true
					}
				}
				if !done {
					if code, msg := c.run(nil, args...); code > 1 {
						t.Fatalf("%s: exit %d: %s", day, code, msg)
					}
				}
			}
			// The last run left the output; what a last killed run may have
			// left behind is repaired by the next run, so run all again.
			if code, msg := c.run(nil, append(cmd.run, days...)...); code > 1 {
				t.Fatalf("rerun: exit %d: %s", code, msg)
			}
			got, err := os.ReadFile(filepath.Join(dir, cmd.out))
			if err != nil {
				t.Fatal(err)
			}
			want, err := os.ReadFile(filepath.Join(dir, refOut))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("after %d kills and %d failpoints, %s differs from one clean run (%d vs %d bytes)", killed, fp, cmd.out, len(got), len(want))
			}
			gotRej, _ := os.ReadFile(filepath.Join(dir, cmd.run[5]))
			wantRej, _ := os.ReadFile(filepath.Join(dir, "ref.rej"))
			if len(wantRej) == 0 || !bytes.Equal(gotRej, wantRej) {
				t.Fatalf("after %d kills the rejects file differs from one clean run's (%d vs %d bytes)", killed, len(gotRej), len(wantRej))
			}
			if code, msg := c.run(nil, "state", "verify", cmd.run[len(cmd.run)-1]); code != 0 || !strings.Contains(msg, ": ok: ") {
				t.Fatalf("state verify: exit %d: %s", code, msg)
			}
			t.Logf("%s: %d random kills, %d failpoints, %d records per day, one run %v", cmd.name, killed, fp, perDay, took)
		})
	}
}
