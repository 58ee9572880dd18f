package importer

import (
	"archive/zip"
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Each parser takes arbitrary bytes and either writes a rule file that
// decodes with the schema, or returns an error; it never panics, and it
// writes nothing when it fails.

func fuzzSeeds(f *testing.F, names ...string) {
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "import", n))
		if err != nil {
			f.Fatal(err)
		}
		if len(b) > 4096 {
			b = b[:4096]
		}
		f.Add(b)
	}
}

func fuzzImport(t *testing.T, format Format, data []byte, extra ...File) {
	opt := Options{Effective: day("2026-01-01")}
	var buf bytes.Buffer
	files := append([]File{{Name: "fuzz.csv", R: bytes.NewReader(data)}}, extra...)
	if err := Import(&buf, format, files, opt); err != nil {
		if buf.Len() != 0 {
			t.Fatalf("wrote %d bytes and failed: %v", buf.Len(), err)
		}
		return
	}
	parseRules(t, buf.Bytes())
}

func FuzzSST(f *testing.F) {
	fuzzSeeds(f, "sst-small.csv", "sst-small-boundary.csv", "MNB2026Q2FEB18-sample.csv")
	f.Add([]byte("13,45,13,0.04,0.04,0,0,20110101,29991231\n13,01,04000,0.01,0.02,0.01,0.01,20110101,20170228\n"))
	f.Add([]byte("\xef\xbb\xbfz,20160101,29991231,,,,,,,,,,,,,,,30301,,30303,,,13,13,007,04000,,,,ST,1,63\n"))
	rates, err := os.ReadFile(filepath.Join("..", "..", "testdata", "import", "sst-small.csv"))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzImport(t, FormatSST, data)
		// The same bytes as a boundary file beside a valid rate file.
		fuzzImport(t, FormatSST, data, File{Name: "rates.csv", R: bytes.NewReader(rates)})
	})
}

func FuzzAvalara(f *testing.F) {
	fuzzSeeds(f, "avalara-small.csv", "TAXRATES_ZIP5_NY201809-excerpt.csv")
	f.Add([]byte("RiskLevel,ZipCode,CombinedRate,StateRate,State\n1,37010,0.095,0.07,TN\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzImport(t, FormatAvalaraZip, data)
	})
}

func FuzzCDTFA(f *testing.F) {
	fuzzSeeds(f, "cdtfa-small.csv")
	f.Add([]byte("Effective January 1, 2026\nLocation,Rate,County,Type\nX,7.7499999999999999E-2,Y,City\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzImport(t, FormatCDTFA, data)
	})
}

func FuzzWADOR(f *testing.F) {
	f.Add([]byte(waCurrentLayout))
	f.Add([]byte(waCSV))
	f.Add([]byte(waZipCSV))
	f.Add([]byte("module.exports = {\"A\": {\"locationCode\": 100, \"localTaxRate\": 0.012, \"stateTaxRate\": 0.065}};"))
	fuzzSeeds(f, "taxrates-2020-layout.js")
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzImport(t, FormatWADOR, data)
		// The same bytes as a ZIP file beside a valid rate table.
		fuzzImport(t, FormatWADOR, data, File{Name: "rates.csv", R: strings.NewReader(waCSV)})
	})
}

// FuzzArchive: arbitrary bytes that look like a zip or gzip archive are
// refused or read; never a panic, nothing written on failure.
func FuzzArchive(f *testing.F) {
	var zbuf bytes.Buffer
	zw := zip.NewWriter(&zbuf)
	w, _ := zw.Create("GAR2026Q2FEB19.csv")
	w.Write([]byte("13,45,13,0.04,0.04,0,0,20110101,29991231\n"))
	zw.Close()
	f.Add(zbuf.Bytes())
	var gbuf bytes.Buffer
	gw := gzip.NewWriter(&gbuf)
	gw.Write([]byte("13,45,13,0.04,0.04,0,0,20110101,29991231\n"))
	gw.Close()
	f.Add(gbuf.Bytes())
	f.Add([]byte("PK\x03\x04garbage"))
	f.Add([]byte("\x1f\x8bgarbage"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzImport(t, FormatSST, data)
	})
}
