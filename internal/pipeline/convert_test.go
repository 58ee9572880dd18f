package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/taxagg/taxagg/internal/stream"
	"github.com/taxagg/taxagg/internal/txn"
)

// upperConv is a Converter of a made-up source: {"k":"sale","n":N} is a
// Texas sale of N dollars, {"k":"draft"} is skipped, anything else is bad.
// It checks that it is called in input order.
type upperConv struct{ next int }

func (c *upperConv) ConvertJSON(source string, text, dst []byte) ([]byte, string, error) {
	var k string
	var n, seq int
	fmt.Sscanf(string(text), `{"seq":%d,"k":%q,"n":%d}`, &seq, &k, &n)
	if seq != c.next {
		return dst, "", fmt.Errorf("called out of order: %d after %d", seq, c.next-1)
	}
	c.next++
	switch k {
	case "sale":
		return fmt.Appendf(dst, `{"id":"s%d","date":"2026-01-05","currency":"USD","amount":"%d.00","country":"US","state":"TX"}`, seq, n), "", nil
	case "draft":
		return dst, "draft", nil
	}
	return dst, "", &txn.FieldError{Field: "k", Err: errors.New("is not a kind")}
}

func (c *upperConv) ConvertCSV(string, []string, []string, []byte) ([]byte, string, error) {
	return nil, "", errors.New("no CSV")
}

func TestConverter(t *testing.T) {
	p := compile(t)
	var in strings.Builder
	for i := range 1000 {
		k := []string{"sale", "sale", "draft", "bad"}[i%4]
		fmt.Fprintf(&in, `{"seq":%d,"k":%q,"n":%d}`+"\n", i, k, i%7+1)
	}
	for _, workers := range []int{1, 4} {
		var rejects bytes.Buffer
		c, err := Run(context.Background(), []Input{{Name: "src.ndjson", R: strings.NewReader(in.String())}},
			Options{Program: p, Format: stream.FormatAuto, Workers: workers, Rejects: &rejects, MaxRejects: -1, Convert: &upperConv{}}, nopSink{})
		if err != nil {
			t.Fatal(err)
		}
		if c.Read != 1000 || c.Accepted != 500 || c.Skipped != 250 || c.Rejected != 250 || c.Coverage.Taxed.Transactions != 500 {
			t.Fatalf("workers %d: counts %+v", workers, c)
		}
		// A reject names the source's field and keeps the raw record.
		first, _, _ := strings.Cut(rejects.String(), "\n")
		if want := `{"source":"src.ndjson","line":4,"field":"k","error":"is not a kind","record":"{\"seq\":3,\"k\":\"bad\",\"n\":4}"}`; first != want {
			t.Errorf("reject %s\nwant   %s", first, want)
		}
	}
}
