package kstream_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/taxagg/taxagg/internal/cli"
)

// runCLIStdin is runCLI with stdin.
func runCLIStdin(stdin string, args ...string) (int, string, string) {
	ios, in, out, errOut := cli.NewTestIOStreams()
	in.WriteString(stdin)
	f := &cli.Factory{IO: ios, Getenv: func(string) string { return "" }, Now: time.Now}
	code := cli.RunWith(context.Background(), f, args)
	return code, out.String(), errOut.String()
}

// stripeObjects reads the objects of a Stripe list page.
func stripeObjects(t *testing.T, path string) []json.RawMessage {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var page struct{ Data []json.RawMessage }
	if err := json.Unmarshal(data, &page); err != nil {
		t.Fatal(err)
	}
	out := make([]json.RawMessage, len(page.Data))
	for i, o := range page.Data {
		var b bytes.Buffer
		if err := json.Compact(&b, o); err != nil {
			t.Fatal(err)
		}
		out[i] = b.Bytes()
	}
	return out
}

// TestStreamFromStripe runs `taxagg stream --from stripe --once` on
// Stripe objects, one per message: the invoices of the sample export (two
// paid, a draft, a void), a replay of one, an invoice with a bad status,
// and two credit notes of the paid invoice, one as Stripe sends it (its
// invoice and customer are ids) and one with its customer expanded. Each
// message is converted on its own, as the batch commands convert a
// document whose invoice is not (yet) in their input; so the events,
// rejects, counts and totals are those of `calc` and `aggregate --from
// stripe` reading the same objects through a pipe with the credit notes
// first.
func TestStreamFromStripe(t *testing.T) {
	invoices := stripeObjects(t, "../../testdata/billing/stripe-export.json")
	notes := stripeObjects(t, "../../testdata/billing/stripe-credit-notes.json")
	if len(invoices) != 4 || len(notes) != 1 {
		t.Fatalf("%d invoices and %d credit notes in testdata/billing; the test expects 4 and 1", len(invoices), len(notes))
	}
	cn := string(notes[0])
	expanded := strings.Replace(strings.Replace(cn, `"cn_1TX000000000000000001"`, `"cn_expanded"`, 1),
		`"customer":"cus_QXg1o8vcGmoR32"`,
		`"customer":{"id":"cus_QXg1o8vcGmoR32","object":"customer","address":{"country":"US","state":"TX","city":"Austin","postal_code":"78701"}}`, 1)
	if expanded == cn || !strings.Contains(expanded, `"cn_expanded"`) {
		t.Fatal("the credit note fixture changed: the test cannot expand its customer")
	}
	bad := strings.Replace(string(invoices[0]), `"status":"paid"`, `"status":"bogus"`, 1)
	bad = strings.Replace(bad, `"in_1TX0000000000000000paid"`, `"in_bad"`, 1)
	if !strings.Contains(bad, `"bogus"`) || !strings.Contains(bad, `"in_bad"`) {
		t.Fatal("the invoice fixture changed: the test cannot make a bad one")
	}
	// The batch input: the credit notes first, so that they do not find
	// their invoice either.
	// A bad one, a replay; the last two (draft and void) are skipped, and
	// their offsets must commit all the same.
	docs := []string{cn, expanded, bad, string(invoices[0])}
	for _, o := range invoices {
		docs = append(docs, string(o))
	}
	ids := make([]string, len(docs))
	for i, d := range docs {
		var o struct{ ID string }
		if err := json.Unmarshal([]byte(d), &o); err != nil {
			t.Fatal(err)
		}
		ids[i] = o.ID
	}

	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "tx", "tax-events", "tax-totals", "tax-rejects"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	addr := c.ListenAddrs()[0]
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var recs []*kgo.Record
	for i, d := range docs {
		recs = append(recs, &kgo.Record{Topic: "tx", Key: []byte(ids[i]), Value: []byte(d)})
	}
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	code, _, stderr := runCLI(ctx, nil, "stream", "--brokers", addr, "--group", "taxagg", "--topic", "tx",
		"--to", "tax-events", "--totals", "tax-totals", "--rejects-topic", "tax-rejects", "--period", "month",
		"--from", "stripe", "--once", "--idle", "500ms", "--instance", "test")
	if code != cli.ExitFindings {
		t.Fatalf("exit code %d, want %d (records rejected); stderr:\n%s", code, cli.ExitFindings, stderr)
	}
	var stopped map[string]any
	for _, line := range strings.Split(strings.TrimSpace(stderr), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == "stream stopped" {
			stopped = m
		}
	}

	// The batch answer, through a pipe.
	in := strings.Join(docs, "\n") + "\n"
	dir := t.TempDir()
	calcRejects := filepath.Join(dir, "rejects.ndjson")
	_, calcOut, calcErr := runCLIStdin(in, "calc", "--from", "stripe", "--format", "ndjson", "--rejects", calcRejects,
		"--summary", filepath.Join(dir, "summary.json"))
	var sum struct {
		Read, Accepted, Rejected, Duplicates, Skipped int64
		SkippedBy                                     map[string]int64 `json:"skipped_by_reason"`
	}
	if data, err := os.ReadFile(filepath.Join(dir, "summary.json")); err != nil {
		t.Fatalf("calc: %v\n%s", err, calcErr)
	} else if err := json.Unmarshal(data, &sum); err != nil {
		t.Fatal(err)
	}
	if sum.Read != int64(len(docs)) || sum.Accepted != 3 || sum.Rejected != 2 || sum.Duplicates != 1 || sum.Skipped != 2 {
		t.Fatalf("calc --from stripe: %+v; the test expects read %d = accepted 3 + rejected 2 + duplicates 1 + skipped 2", sum, len(docs))
	}
	wantLog := map[string]any{"read": float64(sum.Read), "accepted": float64(sum.Accepted), "rejected": float64(sum.Rejected),
		"duplicates": float64(sum.Duplicates), "skipped": float64(sum.Skipped), "from": "stripe",
		"skipped_by_reason": map[string]any{"draft invoice": 1.0, "void invoice": 1.0}}
	for k, v := range wantLog {
		if g, _ := json.Marshal(stopped[k]); string(g) != mustJSON(v) {
			t.Errorf("stream stopped: %s = %s, want %s (the batch run's)", k, g, mustJSON(v))
		}
	}

	// The events are calc's lines.
	want := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(calcOut), "\n") {
		var o struct{ ID string }
		json.Unmarshal([]byte(line), &o)
		want[o.ID] = line
	}
	events := readTopic(t, cl, "tax-events")
	if len(events) != len(want) {
		t.Errorf("%d events, calc writes %d", len(events), len(want))
	}
	for _, ev := range events {
		if w := want[string(ev.Key)]; string(ev.Value) != w {
			t.Errorf("event %s:\n got %s\nwant %s", ev.Key, ev.Value, w)
		}
	}
	if want["cn_expanded"] == "" || strings.Contains(want["cn_expanded"], "original_date") {
		t.Errorf("the expanded credit note should be a refund without original_date: %s", want["cn_expanded"])
	}

	// The rejects: the field of the Stripe object, and the reason.
	data, err := os.ReadFile(calcRejects)
	if err != nil {
		t.Fatal(err)
	}
	wantRejects := map[string]string{} // key: field
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var r struct{ Field, Record string }
		json.Unmarshal([]byte(line), &r)
		var o struct{ ID string }
		json.Unmarshal([]byte(r.Record), &o)
		wantRejects[o.ID] = r.Field
	}
	rejects := readTopic(t, cl, "tax-rejects")
	if len(rejects) != len(wantRejects) {
		t.Errorf("%d rejects, calc rejects %d", len(rejects), len(wantRejects))
	}
	for _, r := range rejects {
		var v struct {
			Topic, Key, Field, Error string
			Offset                   int64
		}
		if err := json.Unmarshal(r.Value, &v); err != nil {
			t.Fatal(err)
		}
		if v.Topic != "tx" || v.Field != wantRejects[v.Key] {
			t.Errorf("reject %s: topic %q, field %q; want tx, %q", r.Value, v.Topic, v.Field, wantRejects[v.Key])
		}
		switch v.Key {
		case "cn_1TX000000000000000001":
			if !strings.HasPrefix(v.Error, `no address: the credit note's invoice "in_1TX0000000000000000paid" is not in the input (each message is converted on its own`) {
				t.Errorf("credit note rejected for %q", v.Error)
			}
		case "in_bad":
			if !strings.HasPrefix(v.Error, `"bogus" is not an invoice status`) {
				t.Errorf("bad invoice rejected for %q", v.Error)
			}
		}
	}

	// The totals rows are aggregate's rows; the snapshots count the
	// skipped documents.
	_, aggOut, _ := runCLIStdin(in, "aggregate", "--from", "stripe", "--format", "ndjson", "--period", "month", "-q",
		"--rejects", filepath.Join(dir, "aggregate-rejects.ndjson"))
	wantRows := map[string]map[string]any{}
	for _, line := range strings.Split(strings.TrimSpace(aggOut), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil || m["jurisdiction"] == nil {
			t.Fatalf("aggregate --from stripe wrote %q", line)
		}
		wantRows[rowID(m)] = m
	}
	got := map[string]map[string]any{}
	var skipped, next float64
	for _, r := range readTopic(t, cl, "tax-totals") {
		var m map[string]any
		json.Unmarshal(r.Value, &m)
		switch {
		case bytes.HasPrefix(r.Key, []byte("row/")):
			got[rowID(m)] = m // the latest record of the row
		case bytes.HasPrefix(r.Key, []byte("snap/")):
			s, _ := m["skipped"].(float64)
			skipped += s
			next = m["next_offset"].(float64)
		}
	}
	if next != float64(len(docs)) {
		t.Errorf("the snapshot covers offsets up to %v, want %d: every message, the skipped last ones too", next, len(docs))
	}
	if skipped != 2 {
		t.Errorf("the snapshots count %v skipped documents, want 2", skipped)
	}
	if len(got) != len(wantRows) || len(got) == 0 {
		t.Fatalf("%d totals rows, aggregate has %d:\n%v\n%v", len(got), len(wantRows), got, wantRows)
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

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
