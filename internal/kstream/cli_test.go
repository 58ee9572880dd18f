package kstream_test

// The command line of taxagg stream against an in-process Kafka. These
// tests live here, not in package cli, so that the brokers they start do
// not weigh on the memory measured by cli's own tests (a child process
// started by the test binary inherits its peak RSS).

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/taxagg/taxagg/internal/cli"
)

// runCLI runs the command tree with the given environment and returns the
// exit code, stdout and stderr.
func runCLI(ctx context.Context, env map[string]string, args ...string) (int, string, string) {
	ios, _, out, errOut := cli.NewTestIOStreams()
	f := &cli.Factory{IO: ios, Getenv: func(k string) string { return env[k] }, Now: time.Now}
	code := cli.RunWith(ctx, f, args)
	return code, out.String(), errOut.String()
}

// TestStreamOnce runs `taxagg stream --once` against an in-process Kafka
// (SASL/SCRAM) on the sample transactions: the events are calc's lines,
// the totals are aggregate's rows, the bad record is in the rejects topic.
func TestStreamOnce(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1),
		kfake.SeedTopics(1, "tx", "tax-events", "tax-totals", "tax-rejects"),
		kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-256", "taxagg", "s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	addr := c.ListenAddrs()[0]
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr),
		kgo.SASL(scram.Auth{User: "taxagg", Pass: "s3cret"}.AsSha256Mechanism()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()

	sample, err := os.ReadFile("../../testdata/sample.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	bad := `{"id":"bad-1","date":"2026-01-05","currency":"USD","amount":"12.3.4","country":"US","state":"CA"}`
	var recs []*kgo.Record
	for _, line := range append(strings.Split(strings.TrimSpace(string(sample)), "\n"), bad) {
		var o struct{ ID string }
		if err := json.Unmarshal([]byte(line), &o); err != nil {
			t.Fatal(err)
		}
		recs = append(recs, &kgo.Record{Topic: "tx", Key: []byte(o.ID), Value: []byte(line)})
	}
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}

	env := map[string]string{"KAFKA_PASS": "s3cret"}
	args := []string{"stream", "--brokers", addr, "--group", "taxagg", "--topic", "tx", "--to", "tax-events",
		"--totals", "tax-totals", "--rejects-topic", "tax-rejects", "--period", "month",
		"--sasl-mechanism", "scram-sha-256", "--sasl-user", "taxagg", "--sasl-password-env", "KAFKA_PASS",
		"--once", "--idle", "500ms", "--instance", "test", "--metrics-addr", "127.0.0.1:0"}
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	code, _, stderr := runCLI(ctx, env, args...)
	if code != cli.ExitFindings {
		t.Fatalf("exit code %d, want %d (one record rejected); stderr:\n%s", code, cli.ExitFindings, stderr)
	}
	var stopped map[string]any
	for _, line := range strings.Split(strings.TrimSpace(stderr), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			if strings.HasPrefix(line, "1 records rejected") {
				continue
			}
			t.Fatalf("stderr line is not JSON: %q", line)
		}
		if m["msg"] == "stream stopped" {
			stopped = m
		}
	}
	if stopped == nil || stopped["read"] != float64(len(recs)) || stopped["rejected"] != 1.0 || stopped["duplicates"] != 1.0 {
		t.Errorf("last log line %v, want read %d, rejected 1, duplicates 1", stopped, len(recs))
	}

	// The events are calc's output, line for line.
	_, calcOut, _ := runCLI(context.Background(), nil, "calc", "--format", "ndjson", "-q", "../../testdata/sample.ndjson")
	want := strings.Split(strings.TrimSpace(calcOut), "\n")
	events := readTopic(t, cl, "tax-events")
	if len(events) != len(want) {
		t.Fatalf("%d events, want %d", len(events), len(want))
	}
	for i, ev := range events {
		if string(ev.Value) != want[i] {
			t.Errorf("event %d:\n got %s\nwant %s", i, ev.Value, want[i])
		}
	}
	rejects := readTopic(t, cl, "tax-rejects")
	if len(rejects) != 1 || !bytes.Contains(rejects[0].Value, []byte(`"offset":12,"key":"bad-1","field":"amount","error":"\"12.3.4\" is not a decimal"`)) {
		t.Errorf("rejects: %d records, first %s", len(rejects), rejects[0].Value)
	}

	// The totals rows are aggregate's rows.
	_, aggOut, _ := runCLI(context.Background(), nil, "aggregate", "--format", "ndjson", "--period", "month", "-q", "../../testdata/sample.ndjson")
	wantRows := map[string]map[string]any{}
	sc := bufio.NewScanner(strings.NewReader(aggOut))
	for sc.Scan() {
		var m map[string]any
		json.Unmarshal(sc.Bytes(), &m)
		wantRows[rowID(m)] = m
	}
	got := map[string]map[string]any{}
	for _, r := range readTopic(t, cl, "tax-totals") {
		if bytes.HasPrefix(r.Key, []byte("row/")) {
			var m map[string]any
			json.Unmarshal(r.Value, &m)
			got[rowID(m)] = m
		}
	}
	if len(got) != len(wantRows) || len(got) == 0 {
		t.Fatalf("%d totals rows, aggregate has %d", len(got), len(wantRows))
	}
	for id, w := range wantRows {
		g := got[id]
		for _, col := range []string{"name", "level", "transactions", "gross_sales", "exempt_sales", "non_taxable_sales", "taxable_sales", "tax_amount", "tax_exact"} {
			if g[col] != w[col] {
				t.Errorf("%s %s: totals %v, aggregate %v", id, col, g[col], w[col])
			}
		}
	}
}

func rowID(m map[string]any) string {
	return strings.Join([]string{m["jurisdiction"].(string), m["tax"].(string), m["currency"].(string), m["period"].(string)}, "|")
}

func readTopic(t *testing.T, cl *kgo.Client, topic string) []*kgo.Record {
	t.Helper()
	cl.AddConsumeTopics(topic)
	defer cl.PurgeTopicsFromConsuming(topic)
	var out []*kgo.Record
	for idle := 0; idle < 3; {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		f := cl.PollFetches(ctx)
		cancel()
		n := len(out)
		f.EachRecord(func(r *kgo.Record) {
			if r.Topic == topic {
				out = append(out, r)
			}
		})
		if len(out) == n {
			idle++
		}
	}
	return out
}

// TestStreamMetricsAndInterrupt runs stream as a service: its metrics
// endpoint counts what it committed, and cancelling it (as SIGINT does)
// ends it with exit code 130 after it left the group.
func TestStreamMetricsAndInterrupt(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "tx", "tax-events", "tax-totals"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	addr := c.ListenAddrs()[0]
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var recs []*kgo.Record
	for i := 0; i < 20; i++ {
		id := fmt.Sprintf("ord-%d", i)
		recs = append(recs, &kgo.Record{Topic: "tx", Key: []byte(id), Value: fmt.Appendf(nil,
			`{"id":%q,"date":"2026-01-05","currency":"USD","amount":"10.00","product":"physical","country":"US","state":"TX"}`, id)})
	}
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	metricsAddr := ln.Addr().String()
	ln.Close()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int)
	var stderr string
	go func() {
		var code int
		code, _, stderr = runCLI(ctx, nil, "stream", "--brokers", addr, "--group", "taxagg", "--topic", "tx",
			"--to", "tax-events", "--totals", "tax-totals", "--instance", "m", "--metrics-addr", metricsAddr)
		done <- code
	}()
	var body string
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(body, "\ntaxagg_stream_records_in_total 20\n") {
		if time.Now().After(deadline) {
			t.Fatalf("metrics never counted 20 records in; last:\n%s", body)
		}
		time.Sleep(100 * time.Millisecond)
		resp, err := http.Get("http://" + metricsAddr + "/metrics")
		if err != nil {
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		body = string(b)
	}
	for _, want := range []string{"\ntaxagg_stream_events_out_total 20\n", "\ntaxagg_stream_consumer_lag{topic=\"tx\",partition=\"0\"} 0\n"} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q:\n%s", want, body)
		}
	}
	cancel()
	select {
	case code := <-done:
		if code != cli.ExitInterrupted {
			t.Errorf("exit code %d, want %d", code, cli.ExitInterrupted)
		}
		if !strings.Contains(stderr, `"msg":"left the group"`) || !strings.Contains(stderr, `"status":"interrupted","read":20`) {
			t.Errorf("stderr does not say it left the group after 20 records:\n%s", stderr)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("stream did not stop within 20 s of the interrupt")
	}
}

// TestStreamSASLMechanisms authenticates with each mechanism --sasl-mechanism
// names, and fails with a wrong password.
func TestStreamSASLMechanisms(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "tx", "tax-events", "tax-totals"),
		kfake.EnableSASL(), kfake.Superuser("PLAIN", "plainuser", "pw1"),
		kfake.Superuser("SCRAM-SHA-512", "scramuser", "pw2"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	tests := []struct {
		mech, user, pass string
		code             int
	}{
		{"plain", "plainuser", "pw1", cli.ExitOK},
		{"SCRAM-SHA-512", "scramuser", "pw2", cli.ExitOK},
		{"scram-sha-512", "scramuser", "wrong", cli.ExitError},
	}
	for _, tt := range tests {
		t.Run(tt.mech+"/"+tt.pass, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			code, _, stderr := runCLI(ctx, map[string]string{"TAXAGG_SASL_PASSWORD": tt.pass}, "stream",
				"--brokers", c.ListenAddrs()[0], "--group", "g-"+tt.user, "--topic", "tx", "--to", "tax-events",
				"--totals", "tax-totals", "--once", "--idle", "200ms", "--instance", "sasl",
				"--sasl-mechanism", tt.mech, "--sasl-user", tt.user)
			if code != tt.code {
				t.Errorf("exit code %d, want %d; stderr:\n%s", code, tt.code, stderr)
			}
			// The in-process broker hangs up on a bad password (a real one
			// first answers SASL_AUTHENTICATION_FAILED).
			if tt.code == cli.ExitError && !strings.Contains(stderr, "the broker closed the connection (EOF): check --tls and the SASL mechanism, user and password") {
				t.Errorf("stderr does not say why it could not connect:\n%s", stderr)
			}
		})
	}
}

// testCA makes a CA and a server certificate for 127.0.0.1 signed by it,
// and writes the CA's PEM to a file.
func testCA(t *testing.T) (caFile string, server tls.Certificate) {
	t.Helper()
	key := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	caKey, srvKey := key(), key()
	now := time.Now()
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "taxagg test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	srv := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	srvDER, err := x509.CreateCertificate(rand.Reader, srv, caCert, &srvKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caFile = filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o644); err != nil {
		t.Fatal(err)
	}
	return caFile, tls.Certificate{Certificate: [][]byte{srvDER}, PrivateKey: srvKey}
}

// TestStreamTLS runs stream --once against a broker that speaks TLS only,
// trusting its CA with --tls-ca; without the CA the handshake fails.
func TestStreamTLS(t *testing.T) {
	caFile, cert := testCA(t)
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "tx", "tax-events", "tax-totals"),
		kfake.TLS(&tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	addr := c.ListenAddrs()[0]
	pool := x509.NewCertPool()
	caPEM, _ := os.ReadFile(caFile)
	pool.AppendCertsFromPEM(caPEM)
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DialTLSConfig(&tls.Config{RootCAs: pool}))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	rec := &kgo.Record{Topic: "tx", Key: []byte("ord-1"),
		Value: []byte(`{"id":"ord-1","date":"2026-01-05","currency":"USD","amount":"100.00","product":"physical","country":"US","state":"CA"}`)}
	if err := cl.ProduceSync(context.Background(), rec).FirstErr(); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	args := []string{"stream", "--brokers", addr, "--group", "taxagg", "--topic", "tx", "--to", "tax-events",
		"--totals", "tax-totals", "--once", "--idle", "300ms", "--instance", "tls"}
	code, _, stderr := runCLI(ctx, nil, append(args, "--tls-ca", caFile)...)
	if code != cli.ExitOK {
		t.Fatalf("exit code %d, want 0; stderr:\n%s", code, stderr)
	}
	if events := readTopic(t, cl, "tax-events"); len(events) != 1 || string(events[0].Key) != "ord-1" {
		t.Errorf("%d events, want ord-1's", len(events))
	}

	// The system's CAs do not know the test CA.
	short, cancel2 := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel2()
	code, _, stderr = runCLI(short, nil, append(args, "--tls")...)
	if code != cli.ExitError || !strings.Contains(stderr, "certificate signed by unknown authority") {
		t.Errorf("exit code %d (want %d) trusting a broker of an unknown CA; stderr:\n%s", code, cli.ExitError, stderr)
	}
}
