package cli

import (
	"bytes"
	"errors"
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

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/taxagg/taxagg/internal/failpoint"
)

const killSecret = "whsec_ZXJwIHRlc3Qga2V5LCBub3QgYSByZWFsIG9uZSEh"

// TestDeliverKilledResumes kills the real taxagg process (SIGKILL) between
// sending a request and recording its outcome, then runs it again: the
// event is sent again with the same webhook-id, and every event arrives.
func TestDeliverKilledResumes(t *testing.T) {
	bin, err := exec.LookPath("taxagg") // put on PATH by testscript.Main
	if err != nil {
		t.Skip("no taxagg command on PATH:", err)
	}
	tests := []struct {
		name      string
		failpoint string // the process kills itself after the first answer
		hangFirst bool   // the first request hangs and the test kills the process
	}{
		{name: "after the answer, before recording", failpoint: "deliver-after-send"},
		{name: "while waiting for the answer", hangFirst: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wh, _ := standardwebhooks.NewWebhook(killSecret)
			var mu sync.Mutex
			var ids []string
			arrived := make(chan struct{}, 10)
			release := make(chan struct{})
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				if err := wh.Verify(body, r.Header); err != nil {
					t.Errorf("signature: %v", err)
				}
				mu.Lock()
				ids = append(ids, r.Header.Get("webhook-id"))
				first := len(ids) == 1
				mu.Unlock()
				arrived <- struct{}{}
				if first && tt.hangFirst {
					select {
					case <-release:
					case <-r.Context().Done():
					}
					return
				}
				w.WriteHeader(http.StatusNoContent)
			}))
			defer srv.Close()
			defer close(release)

			dir := t.TempDir()
			write := func(name, text string) {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			write("endpoints.yaml", fmt.Sprintf("endpoints:\n  - id: erp\n    url: %s\n    secret_file: erp.secret\n    concurrency: 1\n", srv.URL))
			write("erp.secret", killSecret+"\n")
			write("calc.ndjson", `{"id":"k1","tax_total":"1.00"}
{"id":"k2","tax_total":"2.00"}
{"id":"k3","tax_total":"3.00"}
`)
			deliver := func(fp string) *exec.Cmd {
				cmd := exec.Command(bin, "deliver", "--endpoints", "endpoints.yaml", "--state", "tax.db", "calc.ndjson")
				cmd.Dir = dir
				cmd.Env = append(os.Environ(), failpoint.Env+"="+fp)
				var stderr bytes.Buffer
				cmd.Stderr = &stderr
				t.Cleanup(func() {
					if t.Failed() {
						t.Logf("stderr of %s:\n%s", strings.Join(cmd.Args, " "), stderr.String())
					}
				})
				return cmd
			}

			first := deliver(tt.failpoint)
			if err := first.Start(); err != nil {
				t.Fatal(err)
			}
			if tt.hangFirst {
				select {
				case <-arrived:
				case <-time.After(20 * time.Second):
					t.Fatal("no request within 20s")
				}
				if err := first.Process.Signal(syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
			}
			err := first.Wait()
			var ee *exec.ExitError
			if !errors.As(err, &ee) {
				t.Fatalf("first run: %v, want killed", err)
			}
			if ws, ok := ee.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
				t.Fatalf("first run ended %v, want killed by SIGKILL", ee)
			}
			mu.Lock()
			sentBefore := append([]string(nil), ids...)
			mu.Unlock()
			if len(sentBefore) != 1 {
				t.Fatalf("%d requests before the kill, want 1", len(sentBefore))
			}

			second := deliver("")
			if err := second.Run(); err != nil {
				t.Fatalf("second run: %v, want exit 0", err)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(ids) != 4 {
				t.Fatalf("%d requests in all, want 4 (the killed one again, then the other two)", len(ids))
			}
			if ids[1] != sentBefore[0] {
				t.Errorf("after the restart the first request has webhook-id %s, want %s again", ids[1], sentBefore[0])
			}
			distinct := map[string]bool{}
			for _, id := range ids {
				distinct[id] = true
			}
			if len(distinct) != 3 {
				t.Errorf("%d distinct webhook ids, want 3: no event lost, no new id", len(distinct))
			}
		})
	}
}
