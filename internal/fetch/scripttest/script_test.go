// Package scripttest runs the CLI contract of `taxagg fetch` as testscript
// files (testdata/fetch/*.txtar) against in-process fake APIs.
//
// Each script may describe the fake APIs in its archive:
//
//	api/<provider>/<resource>.json   a JSON array of the resource's objects
//	api/<provider>/<resource>.gen    a count: that many generated objects
//	api/<provider>/faults            lines "N STATUS [RETRY-AFTER]" or "N reset":
//	                                 what request N (1-based, per provider) gets
//
// For each provider described, the script gets $STRIPE_API_BASE or
// $CHARGEBEE_API_BASE and the key in $STRIPE_API_KEY / $CHARGEBEE_API_KEY.
// The command `requests PROVIDER N` checks how many requests the fake got.
package scripttest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/taxagg/taxagg/internal/cli"
	"github.com/taxagg/taxagg/internal/fetch/fetchtest"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"taxagg": func() { os.Exit(cli.Main(os.Args[1:], cli.SystemIOStreams())) },
	})
}

var keys = map[string]string{
	"stripe":    "sk_test_script_5ecret_key_42",
	"chargebee": "test_cb_script_5ecret_key_42",
}

func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:   filepath.Join("..", "..", "..", "testdata", "fetch"),
		Setup: setup,
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"requests": cmdRequests,
		},
	})
}

func setup(env *testscript.Env) error {
	for _, provider := range []string{"stripe", "chargebee"} {
		dir := filepath.Join(env.WorkDir, "api", provider)
		if _, err := os.Stat(dir); err != nil {
			continue
		}
		srv, err := loadServer(provider, dir)
		if err != nil {
			return err
		}
		base := srv.Start()
		env.Defer(srv.Close)
		env.Values[provider] = srv
		up := strings.ToUpper(provider)
		env.Setenv(up+"_API_BASE", base)
		env.Setenv(up+"_API_KEY", keys[provider])
	}
	return nil
}

func loadServer(provider, dir string) (*fetchtest.Server, error) {
	srv := &fetchtest.Server{Provider: provider, Key: keys[provider], Data: map[string][]map[string]any{}}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		name := e.Name()
		path := filepath.Join(dir, name)
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		switch ext := filepath.Ext(name); {
		case ext == ".json":
			var objs []map[string]any
			dec := json.NewDecoder(bytes.NewReader(data))
			dec.UseNumber()
			if err := dec.Decode(&objs); err != nil {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
			srv.Data[strings.TrimSuffix(name, ext)] = objs
		case ext == ".gen":
			n, err := strconv.Atoi(strings.TrimSpace(string(data)))
			if err != nil {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
			srv.Data[strings.TrimSuffix(name, ext)] = fetchtest.Objects(provider, strings.TrimSuffix(name, ext), n,
				time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
		case name == "faults":
			faults, err := parseFaults(data)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
			srv.Fault = func(n int64, _ *http.Request) fetchtest.Action { return faults[n] }
		}
	}
	return srv, nil
}

func parseFaults(data []byte) (map[int64]fetchtest.Action, error) {
	out := map[int64]fetchtest.Action{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for line := 1; sc.Scan(); line++ {
		f := strings.Fields(sc.Text())
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil || len(f) < 2 {
			return nil, fmt.Errorf("line %d: want N STATUS [RETRY-AFTER] or N reset", line)
		}
		if f[1] == "reset" {
			out[n] = fetchtest.Action{Reset: true}
			continue
		}
		status, err := strconv.Atoi(f[1])
		if err != nil {
			return nil, fmt.Errorf("line %d: status %q", line, f[1])
		}
		a := fetchtest.Action{Status: status}
		if len(f) > 2 {
			a.RetryAfter = strings.Join(f[2:], " ") // an HTTP date has spaces
		}
		out[n] = a
	}
	return out, sc.Err()
}

// cmdRequests checks the number of requests a fake API received:
// requests PROVIDER N.
func cmdRequests(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: requests PROVIDER N")
	}
	srv, ok := ts.Value(args[0]).(*fetchtest.Server)
	if !ok {
		ts.Fatalf("no fake %s API in this script", args[0])
	}
	want, err := strconv.ParseInt(args[1], 10, 64)
	if err != nil {
		ts.Fatalf("requests: %v", err)
	}
	got := srv.Count()
	if (got == want) == neg {
		ts.Fatalf("%s received %d requests; want %s%d", args[0], got, map[bool]string{true: "not ", false: ""}[neg], want)
	}
}
