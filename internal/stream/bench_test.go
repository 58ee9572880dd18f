package stream

import (
	"bytes"
	"fmt"
	"io"
	"testing"
)

func sample(n int) []byte {
	var b bytes.Buffer
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, `{"id":"tx_%08d","date":"2025-03-04T10:15:00Z","type":"sale","currency":"USD","amount":"%d.%02d","quantity":"1","product":"saas","customer":"cus_%05d","country":"US","state":"TX","county":"Travis","city":"Austin","postal_code":"78701"}`+"\n",
			i, i%5000, i%100, i%50000)
	}
	return b.Bytes()
}

func benchRead(b *testing.B, name string, data []byte, batch bool) {
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	var bt Batch
	recs := 0
	for b.Loop() {
		rd, err := Open(name, bytes.NewReader(data), FormatAuto, Options{})
		if err != nil {
			b.Fatal(err)
		}
		for {
			if batch {
				if err := rd.ReadBatch(&bt, 1024); err != nil {
					break
				}
				recs += bt.Len()
				continue
			}
			if _, err := rd.Next(); err != nil {
				if err != io.EOF {
					b.Fatal(err)
				}
				break
			}
			recs++
		}
	}
	b.ReportMetric(float64(recs)/b.Elapsed().Seconds(), "records/s")
}

func BenchmarkNDJSONNext(b *testing.B)  { benchRead(b, "b.ndjson", sample(20000), false) }
func BenchmarkNDJSONBatch(b *testing.B) { benchRead(b, "b.ndjson", sample(20000), true) }
func BenchmarkJSONArray(b *testing.B) {
	d := sample(20000)
	d = append([]byte("["), bytes.ReplaceAll(bytes.TrimSpace(d), []byte("\n"), []byte(",\n"))...)
	d = append(d, ']')
	benchRead(b, "b.json", d, true)
}
func BenchmarkCSV(b *testing.B) {
	var d bytes.Buffer
	d.WriteString("id,date,type,currency,amount,quantity,product,customer,country,state,county,city,postal_code\n")
	for i := 0; i < 20000; i++ {
		fmt.Fprintf(&d, "tx_%08d,2025-03-04T10:15:00Z,sale,USD,%d.%02d,1,saas,cus_%05d,US,TX,Travis,\"Austin, TX\",78701\n", i, i%5000, i%100, i%50000)
	}
	benchRead(b, "b.csv", d.Bytes(), true)
}
