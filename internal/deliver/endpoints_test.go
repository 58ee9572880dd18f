package deliver

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseEndpoints(t *testing.T) {
	in := `endpoints:
  - id: erp
    url: https://erp.example.com/hooks/tax
    secret_env: ERP_WEBHOOK_SECRET
    events: [tax.calculated]
    rate: 10/s
  - id: dwh-2
    url: http://127.0.0.1:8080/in
    secret_file: /run/secrets/dwh
    concurrency: 1
    timeout: 3s
    burst: 2
    rate: 60/m
`
	eps, err := ParseEndpoints("endpoints.yaml", strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []Endpoint{
		{ID: "erp", URL: "https://erp.example.com/hooks/tax", SecretEnv: "ERP_WEBHOOK_SECRET", Events: []string{"tax.calculated"}, Rate: 10, Burst: 10, Concurrency: DefaultConcurrency, Line: 2},
		{ID: "dwh-2", URL: "http://127.0.0.1:8080/in", SecretFile: "/run/secrets/dwh", Events: []string{"tax.calculated"}, Rate: 1, Burst: 2, Concurrency: 1, Timeout: 3 * time.Second, Line: 7},
	}
	if !reflect.DeepEqual(eps, want) {
		t.Fatalf("got  %+v\nwant %+v", eps, want)
	}
}

func TestParseEndpointsErrors(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"unknown key", "endpoints:\n  - id: erp\n    url: https://x.example\n    secret_env: S\n    secert_file: f\n",
			`e.yaml:5:5: unknown key "secert_file" (want one of id, url, secret_env, secret_file, events, rate, burst, concurrency, timeout)`},
		{"unknown top key", "endpoint:\n  - id: erp\n", "e.yaml:1:1: unknown key \"endpoint\" (want endpoints)\ne.yaml:1:1: no endpoints: list"},
		{"bad id", "endpoints:\n  - id: ERP_1\n    url: https://x.example\n    secret_env: S\n",
			`e.yaml:2:9: id "ERP_1": want lower-case letters, digits and dashes ([a-z0-9-]+)`},
		{"duplicate id", "endpoints:\n  - {id: a, url: 'https://x.example', secret_env: S}\n  - {id: a, url: 'https://y.example', secret_env: S}\n",
			`e.yaml:3:5: id "a" is used twice (first at line 2)`},
		{"no secret", "endpoints:\n  - {id: a, url: 'https://x.example'}\n", "e.yaml:2:5: endpoint a has no secret: set secret_env or secret_file"},
		{"two secrets", "endpoints:\n  - {id: a, url: 'https://x.example', secret_env: S, secret_file: f}\n", "e.yaml:2:5: endpoint a: set secret_env or secret_file, not both"},
		{"bad url", "endpoints:\n  - {id: a, url: 'ftp://x.example', secret_env: S}\n", `e.yaml:2:18: url: "ftp://x.example": want an http or https URL`},
		{"url with credentials", "endpoints:\n  - {id: a, url: 'https://u:pw@x.example/h', secret_env: S}\n", `e.yaml:2:18: url: "https://x.example/h": credentials do not belong in the URL (the signature authenticates)`},
		{"no url", "endpoints:\n  - {id: a, secret_env: S}\n", "e.yaml:2:5: endpoint a has no url"},
		{"unknown event", "endpoints:\n  - {id: a, url: 'https://x.example', secret_env: S, events: [tax.calculted]}\n", `e.yaml:2:63: events: unknown event type "tax.calculted" (want tax.calculated)`},
		{"bad rate", "endpoints:\n  - {id: a, url: 'https://x.example', secret_env: S, rate: fast}\n", `e.yaml:2:60: rate "fast": want a positive number per unit, like 25/s`},
		{"bad concurrency", "endpoints:\n  - {id: a, url: 'https://x.example', secret_env: S, concurrency: 0}\n", `e.yaml:2:67: concurrency "0": want a whole number from 1 to 256`},
		{"bad timeout", "endpoints:\n  - {id: a, url: 'https://x.example', secret_env: S, timeout: 10}\n", `e.yaml:2:63: timeout "10": want a positive duration like 10s`},
		{"empty list", "endpoints: []\n", "e.yaml:1:12: endpoints: the list is empty"},
		{"empty file", "", "e.yaml: empty file: want an endpoints: list"},
		{"not yaml", "endpoints: [\n", "e.yaml:1:1: did not find expected node content"},
		{"not a mapping", "- a\n", "e.yaml:1:1: want a mapping with an endpoints: list"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseEndpoints("e.yaml", strings.NewReader(tt.in))
			if err == nil {
				t.Fatal("no error")
			}
			if err.Error() != tt.want {
				t.Errorf("error\n%s\nwant\n%s", err, tt.want)
			}
		})
	}
}

func FuzzParseEndpoints(f *testing.F) {
	f.Add("endpoints:\n  - id: erp\n    url: https://erp.example.com/h\n    secret_env: S\n    rate: 10/s\n")
	f.Add("endpoints:\n  - {id: a, url: 'https://x.example', secret_file: f, events: tax.calculated, timeout: 1s}\n")
	f.Add("endpoints: [")
	f.Fuzz(func(t *testing.T, in string) {
		eps, err := ParseEndpoints("f.yaml", strings.NewReader(in))
		if err != nil {
			if eps != nil {
				t.Fatal("endpoints with an error")
			}
			if !strings.HasPrefix(err.Error(), "f.yaml") {
				t.Fatalf("error %q does not name the file", err)
			}
			return
		}
		seen := map[string]bool{}
		for _, e := range eps {
			if !idPattern.MatchString(e.ID) || seen[e.ID] || checkURL(e.URL) != nil || (e.SecretEnv == "") == (e.SecretFile == "") || len(e.Events) == 0 || e.Concurrency < 1 {
				t.Fatalf("accepted a bad endpoint %+v", e)
			}
			seen[e.ID] = true
		}
	})
}
