// Package jsonscancompare measures taxagg's hand-written JSON scanner
// (internal/jsonscan) against JSON libraries from the module proxy on the
// job the scanner does for every input record: validate one object and
// list its top-level members as raw text.
//
// It is a module of its own so that the libraries it measures do not
// become dependencies of taxagg. Run it from this directory:
//
//	go test -bench . -benchtime 200000x
package jsonscancompare

import (
	"bytes"
	"encoding/json"
	"testing"

	gojson "github.com/goccy/go-json"
	"github.com/valyala/fastjson"

	"github.com/taxagg/taxagg/benchmarks/internal/benchdata"
	"github.com/taxagg/taxagg/internal/jsonscan"
)

// records returns generated transactions, one JSON object each, as the
// benchmarks and compare.sh use them.
func records(tb testing.TB) [][]byte {
	var b bytes.Buffer
	if err := benchdata.Transactions(&b, 1000, 1, benchdata.NDJSON); err != nil {
		tb.Fatal(err)
	}
	return bytes.Split(bytes.TrimSpace(b.Bytes()), []byte("\n"))
}

// minMembers is the fewest top-level members a generated record has.
const minMembers = 12

func run(b *testing.B, members func(rec []byte) (int, error)) {
	recs := records(b)
	size := 0
	for _, r := range recs {
		size += len(r)
	}
	b.SetBytes(int64(size / len(recs)))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		n, err := members(recs[i%len(recs)])
		if err != nil || n < minMembers {
			b.Fatalf("record %d: %d members, %v", i%len(recs), n, err)
		}
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

func BenchmarkJsonscan(b *testing.B) {
	var sc jsonscan.Scanner
	run(b, func(rec []byte) (int, error) {
		fields, err := sc.Object(rec)
		return len(fields), err
	})
}

// fastjson validates and builds a reusable value tree.
func BenchmarkFastjson(b *testing.B) {
	var p fastjson.Parser
	run(b, func(rec []byte) (int, error) {
		v, err := p.ParseBytes(rec)
		if err != nil {
			return 0, err
		}
		o, err := v.Object()
		if err != nil {
			return 0, err
		}
		n := 0
		o.Visit(func(key []byte, v *fastjson.Value) { n++ })
		return n, nil
	})
}

// goccy/go-json decodes into raw members, the nearest to what jsonscan
// yields.
func BenchmarkGoccyRawMembers(b *testing.B) {
	m := map[string]gojson.RawMessage{}
	run(b, func(rec []byte) (int, error) {
		clear(m)
		err := gojson.Unmarshal(rec, &m)
		return len(m), err
	})
}

// encoding/json, the standard library's answer to the same job.
func BenchmarkStdlibRawMembers(b *testing.B) {
	m := map[string]json.RawMessage{}
	run(b, func(rec []byte) (int, error) {
		clear(m)
		err := json.Unmarshal(rec, &m)
		return len(m), err
	})
}

// The scanners must agree on what a record holds, or the race is unfair.
func TestSameMembers(t *testing.T) {
	var sc jsonscan.Scanner
	var p fastjson.Parser
	for i, rec := range records(t) {
		fields, err := sc.Object(rec)
		if err != nil {
			t.Fatal(err)
		}
		v, err := p.ParseBytes(rec)
		if err != nil {
			t.Fatal(err)
		}
		o, _ := v.Object()
		var std map[string]json.RawMessage
		if err := json.Unmarshal(rec, &std); err != nil {
			t.Fatal(err)
		}
		if o.Len() != len(fields) || len(std) != len(fields) {
			t.Fatalf("record %d: jsonscan %d members, fastjson %d, encoding/json %d", i, len(fields), o.Len(), len(std))
		}
		for _, f := range fields {
			if string(std[string(f.Key)]) != string(f.Value) {
				t.Fatalf("record %d, %s: jsonscan %s, encoding/json %s", i, f.Key, f.Value, std[string(f.Key)])
			}
		}
	}
}
