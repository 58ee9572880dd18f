package cli

import (
	"context"
	"strings"
	"testing"
	"time"
)

// The stream command's runs against a broker are tested in package
// kstream (cli_test.go).

// runCLI runs the command tree with the given environment and returns the
// exit code, stdout and stderr.
func runCLI(ctx context.Context, env map[string]string, args ...string) (int, string, string) {
	ios, _, out, errOut := NewTestIOStreams()
	f := &Factory{IO: ios, Getenv: func(k string) string { return env[k] }, Now: time.Now}
	code := run(ctx, f, args)
	return code, out.String(), errOut.String()
}

func TestStreamFlags(t *testing.T) {
	base := []string{"stream", "--brokers", "127.0.0.1:1", "--group", "g", "--topic", "in", "--to", "out"}
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"no brokers", []string{"stream", "--group", "g", "--topic", "in", "--to", "out"}, nil, "--brokers is required"},
		{"no output", []string{"stream", "--brokers", "127.0.0.1:1", "--group", "g", "--topic", "in"}, nil, "--to is required"},
		{"broker without port", append(base[:1:1], "--brokers", "kafka", "--group", "g", "--topic", "in", "--to", "out"), nil, `--brokers: "kafka" is not HOST:PORT`},
		{"period", append(base, "--period", "week"), nil, `period "week" must be day, month, quarter, year or none`},
		{"max batch", append(base, "--max-batch", "0"), nil, "--max-batch must be at least 1"},
		{"sasl without user", append(base, "--sasl-mechanism", "plain"), nil, "--sasl-mechanism needs --sasl-user"},
		{"sasl mechanism", append(base, "--sasl-mechanism", "gssapi", "--sasl-user", "u"), map[string]string{"TAXAGG_SASL_PASSWORD": "p"}, `--sasl-mechanism "gssapi" must be plain, scram-sha-256 or scram-sha-512`},
		{"sasl password", append(base, "--sasl-mechanism", "plain", "--sasl-user", "u"), nil, "the SASL password is read from $TAXAGG_SASL_PASSWORD, which is empty"},
		{"tls pair", append(base, "--tls-cert", "c.pem"), nil, "--tls-cert and --tls-key go together"},
		{"log level", append(base, "--log-level", "loud"), nil, `--log-level "loud" must be debug, info, warn or error`},
		{"same topic", append(base[:len(base)-1:len(base)-1], "in"), nil, `the output topic "in" is also the input topic`},
		{"arguments", append(base, "file.ndjson"), nil, `unknown command "file.ndjson"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := runCLI(context.Background(), tt.env, tt.args...)
			if code != ExitError {
				t.Errorf("exit code %d, want %d", code, ExitError)
			}
			if !strings.Contains(stderr, tt.want) {
				t.Errorf("stderr %q, want it to contain %q", stderr, tt.want)
			}
		})
	}
}
