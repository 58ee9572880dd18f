package kstream

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/taxagg/taxagg/internal/aggregate"
	"github.com/taxagg/taxagg/internal/billing"
	"github.com/taxagg/taxagg/internal/pipeline"
	"github.com/taxagg/taxagg/internal/stream"
)

// stripeInput makes n messages of Stripe documents from the fixtures of
// testdata/billing: paid, draft and void invoices, credit notes with an
// expanded customer, replays and bad invoices; and works out what the
// batch pipeline makes of them with the same converter.
func stripeInput(t *testing.T, n int, opt aggregate.Options) *input {
	read := func(path string) string {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var page struct{ Data []json.RawMessage }
		if err := json.Unmarshal(data, &page); err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		if err := json.Compact(&b, page.Data[0]); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	inv := read("../../testdata/billing/stripe-export.json")
	cn := read("../../testdata/billing/stripe-credit-notes.json")
	const invID, cnID = `"in_1TX0000000000000000paid"`, `"cn_1TX000000000000000001"`
	cn = strings.Replace(cn, `"customer":"cus_QXg1o8vcGmoR32"`,
		`"customer":{"id":"cus_QXg1o8vcGmoR32","object":"customer","address":{"country":"US","state":"TX","postal_code":"78701"}}`, 1)
	if !strings.Contains(inv, invID) || !strings.Contains(inv, `"status":"paid"`) || !strings.Contains(cn, `"address"`) {
		t.Fatal("the Stripe fixtures changed")
	}
	in := &input{}
	var made [][2]string
	for i := 0; len(in.msgs) < n; i++ {
		id := fmt.Sprintf("in_%05d", i)
		doc := strings.Replace(inv, invID, `"`+id+`"`, 1)
		switch i % 10 {
		case 3: // a draft
			doc = strings.Replace(doc, `"status":"paid"`, `"status":"draft"`, 1)
		case 5: // a credit note of an earlier invoice
			id = fmt.Sprintf("cn_%05d", i)
			doc = strings.Replace(strings.Replace(cn, cnID, `"`+id+`"`, 1), invID, fmt.Sprintf(`"in_%05d"`, i-1), 1)
		case 7: // a replay
			if len(made) > 0 {
				in.msgs = append(in.msgs, made[i%len(made)])
				continue
			}
		case 9: // bad
			doc = strings.Replace(doc, `"status":"paid"`, `"status":"bogus"`, 1)
		}
		m := [2]string{id, doc}
		made = append(made, m)
		in.msgs = append(in.msgs, m)
	}
	var buf bytes.Buffer
	for _, m := range in.msgs {
		buf.WriteString(m[1])
		buf.WriteByte('\n')
	}
	sink := &accSink{acc: aggregate.New(opt), ids: map[string]bool{}}
	counts, err := pipeline.Run(context.Background(), []pipeline.Input{{Name: "input", R: &buf}},
		pipeline.Options{Program: program(t), Format: stream.FormatNDJSON, Workers: 1, Rejects: &bytes.Buffer{}, MaxRejects: -1,
			FixedOnly: true, Convert: stripeConverter(t)}, sink)
	if err != nil {
		t.Fatal(err)
	}
	in.accepted, in.rejected, in.dups, in.skipped = sink.ids, int(counts.Rejected), int(counts.Duplicates), int(counts.Skipped)
	in.rows = printRows(sink.acc.Rows())
	if in.rejected == 0 || in.dups == 0 || in.skipped == 0 || !in.accepted["cn_00005"] {
		t.Fatalf("the input should have rejects, duplicates, skipped documents and credit notes: %+v", counts)
	}
	return in
}

func stripeConverter(t *testing.T) *billing.TxConverter {
	c, err := billing.NewTxConverter(billing.TxOptions{Preset: billing.PresetStripe, Standalone: true})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestConvertKilledMidTransaction is TestKilledMidTransaction with
// Stripe documents read through a converter: each event once, each
// skipped document counted once, the totals the batch run's.
func TestConvertKilledMidTransaction(t *testing.T) {
	opt := aggregate.Options{Period: aggregate.PeriodMonth}
	c := newCluster(t)
	in := stripeInput(t, 160, opt)
	c.produce(t, in.msgs)

	cfg := testConfig(c, "a", opt)
	cfg.Convert = stripeConverter(t)
	cfg.hook = func(stage string, n int) error {
		if stage == "before-end" && n == 2 {
			return errKilled
		}
		return nil
	}
	first := start(cfg)
	<-first.done
	if !errors.Is(first.err, errKilled) {
		t.Fatalf("first run: %v", first.err)
	}
	if first.counts.Commits != 1 {
		t.Fatalf("first run committed %d batches, want 1", first.counts.Commits)
	}
	// Usually the first batch skipped documents, and the restart must
	// restore their count from the snapshot (check compares the sum).
	t.Logf("first run: %d read, %d skipped", first.counts.Read, first.counts.Skipped)
	cfg = testConfig(c, "a", opt)
	cfg.Convert = stripeConverter(t)
	second := start(cfg)
	c.waitRead(t, int64(len(in.msgs)), 30*time.Second, second)
	second.stop(t)
	c.check(t, in, opt)
}
