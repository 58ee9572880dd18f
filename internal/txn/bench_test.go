package txn

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"testing"

	"github.com/taxagg/taxagg/internal/stream"
)

var (
	states   = []string{"TX", "CA", "NY", "TN", "WA", "FL", "CO", "IL"}
	products = []string{"saas", "physical", "digital_goods", "default"}
)

// sampleNDJSON returns n records of about 210 bytes, like the 213 MB / 1M
// record benchmark file.
func sampleNDJSON(n int) []byte {
	var b bytes.Buffer
	for i := 0; i < n; i++ {
		typ := "sale"
		if i%20 == 0 {
			typ = "refund"
		}
		fmt.Fprintf(&b, `{"id":"tx_%08d","date":"2025-%02d-%02dT%02d:15:00Z","type":"%s","currency":"USD","amount":"%d.%02d","quantity":"%d","product":"%s","customer":"cus_%05d","country":"US","state":"%s","county":"Travis","city":"Austin","postal_code":"787%02d"}`+"\n",
			i, i%12+1, i%28+1, i%24, typ, i%5000, i%100, i%3+1, products[i%4], i%50000, states[i%8], i%100)
	}
	return b.Bytes()
}

func sampleCSV(n int) []byte {
	var b bytes.Buffer
	b.WriteString("id,date,type,currency,amount,quantity,product,customer,country,state,county,city,postal_code\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "tx_%08d,2025-%02d-%02dT%02d:15:00Z,sale,USD,%d.%02d,%d,%s,cus_%05d,US,%s,Travis,\"Austin, TX\",787%02d\n",
			i, i%12+1, i%28+1, i%24, i%5000, i%100, i%3+1, products[i%4], i%50000, states[i%8], i%100)
	}
	return b.Bytes()
}

func BenchmarkParseJSON(b *testing.B) {
	data := sampleNDJSON(1000)
	lines := bytes.Split(bytes.TrimSpace(data), []byte("\n"))
	p := NewParser(ParseOptions{})
	var tx Transaction
	b.SetBytes(int64(len(data)) / int64(len(lines)))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if err := p.ParseJSON(lines[i%len(lines)], &tx); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkReadParseNDJSON reads and parses NDJSON with Next, one
// goroutine.
func BenchmarkReadParseNDJSON(b *testing.B) {
	const n = 20000
	data := sampleNDJSON(n)
	p := NewParser(ParseOptions{})
	var tx Transaction
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		rd, err := stream.Open("bench.ndjson", bytes.NewReader(data), stream.FormatAuto, stream.Options{})
		if err != nil {
			b.Fatal(err)
		}
		for {
			rec, err := rd.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			if err := p.ParseJSON(rec.Text, &tx); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkReadParseNDJSONBatch reads with ReadBatch and parses the records
// of each batch, one goroutine.
func BenchmarkReadParseNDJSONBatch(b *testing.B) {
	const n = 20000
	data := sampleNDJSON(n)
	p := NewParser(ParseOptions{})
	txs := make([]Transaction, 1024)
	var batch stream.Batch
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		rd, err := stream.Open("bench.ndjson", bytes.NewReader(data), stream.FormatAuto, stream.Options{})
		if err != nil {
			b.Fatal(err)
		}
		for rd.ReadBatch(&batch, 1024) == nil {
			for i, rec := range batch.Records {
				if err := p.ParseJSON(rec.Text, &txs[i]); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

func BenchmarkReadParseCSV(b *testing.B) {
	const n = 20000
	data := sampleCSV(n)
	p := NewParser(ParseOptions{})
	txs := make([]Transaction, 1024)
	var batch stream.Batch
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		rd, err := stream.Open("bench.csv", bytes.NewReader(data), stream.FormatAuto, stream.Options{})
		if err != nil {
			b.Fatal(err)
		}
		for rd.ReadBatch(&batch, 1024) == nil {
			for i, rec := range batch.Records {
				if err := p.ParseCSV(rd.Header(), rec.CSV, &txs[i]); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkStdJSONValid is a yardstick for noisy machines: encoding/json
// only validating the same records that BenchmarkParseJSON parses.
func BenchmarkStdJSONValid(b *testing.B) {
	data := sampleNDJSON(1000)
	lines := bytes.Split(bytes.TrimSpace(data), []byte("\n"))
	b.SetBytes(int64(len(data)) / int64(len(lines)))
	i := 0
	for b.Loop() {
		if !json.Valid(lines[i%len(lines)]) {
			b.Fatal("invalid")
		}
		i++
	}
}
