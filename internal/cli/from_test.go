package cli

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// genStripe writes n Stripe documents of the real shapes: paid, draft and
// void invoices, credit notes of invoices written before them, replays and
// bad records.
func genStripe(r *rand.Rand, n int) []string {
	var out, paid []string
	states := []string{"TX", "Texas", "NY", "WA", "OR", "ZZ"}
	for i := 0; len(out) < n; i++ {
		switch k := r.IntN(10); {
		case k < 6:
			status := []string{"paid", "paid", "open", "draft", "void"}[r.IntN(5)]
			id := fmt.Sprintf("in_%04d", i)
			amt, disc := 100+r.IntN(100000), r.IntN(50)
			line := fmt.Sprintf(`{"id":"il_%d","object":"line_item","amount":%d,"quantity":%d,"discount_amounts":[{"amount":%d,"discount":"di_1"}],"pricing":{"type":"price_details","price_details":{"price":"price_1","product":"prod_%d"}},"taxes":[]}`,
				i, amt, 1+r.IntN(3), disc, r.IntN(3))
			out = append(out, fmt.Sprintf(`{"object":"invoice","id":%q,"status":%q,"currency":"usd","created":%d,"effective_at":%d,"customer":"cus_%d","customer_address":{"country":"US","state":%q,"postal_code":null,"city":null,"line1":null,"line2":null},"lines":{"object":"list","data":[%s],"has_more":false},"total":%d,"total_excluding_tax":%d}`,
				id, status, 1767225600+i*3600, 1767225600+i*3600, r.IntN(20), pick(r, states), line, amt-disc+7, amt-disc))
			if status == "paid" {
				paid = append(paid, id)
			}
		case k < 8 && len(paid) > 0:
			inv := paid[r.IntN(len(paid))]
			out = append(out, fmt.Sprintf(`{"object":"credit_note","id":"cn_%04d","status":"issued","currency":"usd","created":%d,"invoice":%q,"lines":{"object":"list","data":[{"object":"credit_note_line_item","id":"cnli_%d","amount":50,"quantity":1,"discount_amount":0,"tax_amounts":[{"amount":4,"inclusive":false}]}]},"subtotal":50,"total":54,"total_excluding_tax":null,"tax_amounts":[{"amount":4,"inclusive":false}]}`,
				i, 1770000000+i, inv, i))
		case k < 9 && len(out) > 0:
			out = append(out, out[r.IntN(len(out))]) // a replay
		default:
			out = append(out, fmt.Sprintf(`{"object":"charge","id":"ch_%d","status":"disputed","amount":1,"currency":"usd","created":1}`, i))
		}
	}
	return out
}

// --from records go through the same pipeline: the output is the same for
// any number of workers, and every record is accounted for.
func TestFromStripeWorkersAndAccounting(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 42))
	recs := genStripe(r, 400)
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.ndjson"), filepath.Join(dir, "b.json")
	if err := os.WriteFile(a, []byte(strings.Join(recs[:200], "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// The second file as a pretty-printed list page.
	var page []json.RawMessage
	for _, s := range recs[200:] {
		page = append(page, json.RawMessage(s))
	}
	pb, _ := json.MarshalIndent(map[string]any{"object": "list", "data": page, "has_more": false}, "", "  ")
	if err := os.WriteFile(b, pb, 0o644); err != nil {
		t.Fatal(err)
	}
	var first string
	for _, workers := range []string{"1", "3"} {
		for _, cmd := range []string{"calc", "aggregate"} {
			sum := filepath.Join(dir, cmd+workers+".json")
			rej := filepath.Join(dir, cmd+workers+".rej")
			code, out, errOut := hardRun(t, "", cmd, "--from", "stripe", "--workers", workers, "--rejects", rej, "--summary", sum, "--format", "ndjson", a, b)
			if code != 1 {
				t.Fatalf("%s --workers %s: exit %d: %s", cmd, workers, code, errOut)
			}
			if cmd == "calc" {
				if first == "" {
					first = out
				} else if out != first {
					t.Errorf("calc output differs between --workers 1 and %s", workers)
				}
			}
			var s struct {
				Read, Accepted, Rejected, Duplicates, Taxed, Untaxed int64
				Skipped                                              *int64           `json:"skipped"`
				ByReason                                             map[string]int64 `json:"skipped_by_reason"`
			}
			data, err := os.ReadFile(sum)
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(data, &s); err != nil {
				t.Fatal(err)
			}
			var byReason int64
			for _, n := range s.ByReason {
				byReason += n
			}
			if s.Skipped == nil || s.Read != 400 || s.Read != s.Accepted+s.Rejected+s.Duplicates+*s.Skipped ||
				s.Accepted != s.Taxed+s.Untaxed || byReason != *s.Skipped || s.Rejected == 0 || *s.Skipped == 0 || s.Duplicates == 0 {
				t.Errorf("%s --workers %s: summary %s", cmd, workers, data)
			}
		}
	}
}
