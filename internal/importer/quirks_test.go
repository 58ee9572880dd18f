package importer

import (
	"archive/zip"
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/taxagg/taxagg/internal/money"
	"github.com/taxagg/taxagg/internal/pack"
	"github.com/taxagg/taxagg/internal/rules"
	"github.com/taxagg/taxagg/internal/txn"
)

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "import", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sale is a 100.00 USD sale for totalTax.
type sale struct {
	day, state, county, city, postal, product string
	explicit                                  []string
}

// totalTax compiles rule files and returns the tax on a 100.00 USD sale,
// which is the combined rate in percent.
func totalTax(t *testing.T, prog *rules.Program, s sale) string {
	t.Helper()
	usd, _ := money.LookupCurrency("USD")
	d, err := txn.ParseDate(s.day)
	if err != nil {
		t.Fatal(err)
	}
	product := s.product
	if product == "" {
		product = "default"
	}
	tx := &txn.Transaction{
		ID: "t", Day: d, RateDay: d, Currency: usd,
		Country: "US", State: s.state, County: s.county, City: s.city, PostalCode: s.postal,
		Jurisdictions: s.explicit,
		Lines:         []txn.Line{{Amount: decimal.RequireFromString("100.00"), Quantity: decimal.NewFromInt(1), Product: product}},
	}
	var res rules.Result
	if err := prog.NewEvaluator(false).Eval(tx, &res); err != nil {
		t.Fatalf("%+v: %v", s, err)
	}
	total := decimal.Zero
	for _, l := range res.Lines {
		total = total.Add(l.Amount)
	}
	return total.StringFixed(2)
}

func compile(t *testing.T, srcs ...rules.Source) *rules.Program {
	t.Helper()
	prog, err := rules.Compile(srcs)
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	return prog
}

func importBytes(t *testing.T, format Format, opt Options, files ...File) ([]byte, []string) {
	t.Helper()
	var notices []string
	opt.Notice = func(s string) { notices = append(notices, s) }
	var buf bytes.Buffer
	if err := Import(&buf, format, files, opt); err != nil {
		t.Fatalf("Import: %v", err)
	}
	parseRules(t, buf.Bytes())
	return buf.Bytes(), notices
}

// An official file with an overlap (Wisconsin's kind: an old row ends on
// the day its successor starts) and a corrupt row imports, the later row
// taking over, the corrupt row skipped, each said on stderr and in the
// header; --strict refuses both.
func TestSSTOverlapAndCorruptRow(t *testing.T) {
	ga := string(readTestdata(t, "GAR2026Q2FEB19.csv"))
	// Line 5: Atlanta's 1.5% row ends 2022-10-01 instead of 2022-09-30,
	// the day its successor (1.9%) starts.
	const old = "13,01,04000,0.015,0.015,0.015,0.015,20220401,20220930"
	if !strings.Contains(ga, old) {
		t.Fatal("test file changed")
	}
	in := strings.Replace(ga, old, "13,01,04000,0.015,0.015,0.015,0.015,20220401,20221001", 1)
	in = strings.Replace(in, "\n", "\n13,00,121,0.03,0.0x3,0.03,0.03,20110101,29991231\n", 1) // line 2: corrupt
	out, notices := importBytes(t, FormatSST, Options{}, text("GAR2026Q2FEB19.csv", in))
	wantNotes := []string{
		`GAR2026Q2FEB19.csv:2: corrupt row skipped: general rate interstate: rate "0.0x3" is not a decimal fraction`,
		"GAR2026Q2FEB19.csv:7: US-GA-CITY-04000: this row (from 2022-10-01) overlaps the one on line 6 (from 2022-04-01 to 2022-10-01 inclusive): that row now ends on 2022-09-30",
	}
	if strings.Join(notices, "\n") != strings.Join(wantNotes, "\n") {
		t.Errorf("notices =\n%s\nwant\n%s", strings.Join(notices, "\n"), strings.Join(wantNotes, "\n"))
	}
	for _, n := range wantNotes {
		if !bytes.Contains(out, []byte("#   "+n+"\n")) {
			t.Errorf("header lacks %q", n)
		}
	}
	// The source's own combined rates: state 4% + Fulton 3% (+ Atlanta).
	prog := compile(t, rules.Source{Name: "ga.yaml", Data: out})
	for _, tt := range []struct {
		s    sale
		want string
	}{
		{sale{day: "2022-09-30", explicit: []string{"US-GA-CITY-04000"}}, "5.50"},
		{sale{day: "2022-10-01", explicit: []string{"US-GA-CITY-04000"}}, "5.90"}, // the later row took over
		{sale{day: "2026-04-01", explicit: []string{"US-GA-COUNTY-121", "US-GA-CITY-04000"}}, "8.90"},
		{sale{day: "2026-04-01", product: "food", explicit: []string{"US-GA-COUNTY-121", "US-GA-CITY-04000"}}, "4.90"},
	} {
		if got := totalTax(t, prog, tt.s); got != tt.want {
			t.Errorf("%+v: tax %s, want %s", tt.s, got, tt.want)
		}
	}
	err := importErr(t, FormatSST, Options{Strict: true}, text("GAR2026Q2FEB19.csv", in))
	if want := `GAR2026Q2FEB19.csv:2: general rate interstate: rate "0.0x3" is not a decimal fraction`; err.Error() != want {
		t.Errorf("strict: %v, want %s", err, want)
	}
}

// Avalara's NY table has rows whose columns are shifted ("MDJB" where the
// combined rate belongs, line 287): they are skipped, the rest imported;
// the combined rates at several ZIPs are the file's own.
func TestAvalaraCorruptRowsSkipped(t *testing.T) {
	out, notices := importBytes(t, FormatAvalaraZip, Options{}, testFile(t, "TAXRATES_ZIP5_NY201809.csv"))
	if len(notices) == 0 || !strings.HasPrefix(notices[0], `TAXRATES_ZIP5_NY201809.csv:287: corrupt row skipped: EstimatedCombinedRate: rate "MDJB"`) {
		t.Fatalf("notices = %q", notices)
	}
	if !bytes.Contains(out, []byte("# Effective: 2018-09-01 (from the file name TAXRATES_ZIP5_NY201809.csv)")) {
		t.Errorf("effective date not taken from the file name:\n%s", firstLines(out, 4))
	}
	prog := compile(t, rules.Source{Name: "ny.yaml", Data: out})
	for _, tt := range []struct{ zip, want string }{
		{"00501", "8.63"}, // 0.086250 (8.625 rounds half up)
		{"10911", "8.13"}, // 0.081250
		{"10913", "8.38"}, // 0.083750
		{"10918", "4.00"}, // the corrupt row: the state rate only
	} {
		if got := totalTax(t, prog, sale{day: "2018-09-01", state: "NY", postal: tt.zip}); got != tt.want {
			t.Errorf("ZIP %s: tax %s, want %s", tt.zip, got, tt.want)
		}
	}
}

func zipOf(t *testing.T, members map[string][]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	names := make([]string, 0, len(members))
	for n := range members {
		names = append(names, n)
	}
	for _, n := range names {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: n, Method: zip.Deflate, Modified: time.Date(2026, 2, 18, 0, 0, 0, 0, time.UTC)})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(members[n])
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// A zip archive (as SST and Avalara publish them) with several CSVs inside,
// and a .gz, read directly: the same rules as the plain files.
func TestArchives(t *testing.T) {
	mnr, mnb := readTestdata(t, "MNR2026Q2FEB18.csv"), readTestdata(t, "MNB2026Q2FEB18-sample.csv")
	z := zipOf(t, map[string][]byte{"MNR2026Q2FEB18.csv": mnr, "MNB2026Q2FEB18.csv": mnb, "__MACOSX/._MNR2026Q2FEB18.csv": []byte("junk")})
	fromZip, _ := importBytes(t, FormatSST, Options{}, File{Name: "MN2026Q2.zip", R: bytes.NewReader(z)})
	plain, _ := importBytes(t, FormatSST, Options{}, text("MN2026Q2.zip:MNB2026Q2FEB18.csv", string(mnb)), text("MN2026Q2.zip:MNR2026Q2FEB18.csv", string(mnr)))
	if !bytes.Equal(fromZip, plain) {
		t.Errorf("zip import differs from the plain files:\n%s\n---\n%s", firstLines(fromZip, 12), firstLines(plain, 12))
	}
	prog := compile(t, rules.Source{Name: "mn.yaml", Data: fromZip})
	// 6.875% + Minneapolis 0.5% + Hennepin 0.15% + district 0.5%; St. Paul.
	for _, tt := range []struct {
		s    sale
		want string
	}{
		{sale{day: "2019-01-15", state: "MN", postal: "55401"}, "8.03"},
		{sale{day: "2024-04-01", state: "MN", postal: "55103"}, "8.88"},
		{sale{day: "2019-01-15", state: "MN", postal: "56000"}, "6.88"},
	} {
		if got := totalTax(t, prog, tt.s); got != tt.want {
			t.Errorf("%+v: %s, want %s", tt.s, got, tt.want)
		}
	}

	tn := readTestdata(t, "TAXRATES_ZIP5_TN201809.csv")
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(tn)
	zw.Close()
	fromGz, _ := importBytes(t, FormatAvalaraZip, Options{}, File{Name: "TAXRATES_ZIP5_TN201809.csv.gz", R: &gz})
	plainTN, _ := importBytes(t, FormatAvalaraZip, Options{}, text("TAXRATES_ZIP5_TN201809.csv", string(tn)))
	if !bytes.Equal(fromGz, plainTN) {
		t.Error(".gz import differs from the plain file")
	}
	// A zip of a zip's worth of nothing, and a damaged archive.
	if err := importErr(t, FormatSST, Options{}, File{Name: "empty.zip", R: bytes.NewReader(zipOf(t, map[string][]byte{}))}); !strings.Contains(err.Error(), "empty.zip") {
		t.Errorf("empty zip: %v", err)
	}
	if err := importErr(t, FormatSST, Options{}, File{Name: "bad.zip", R: bytes.NewReader(z[:len(z)/2])}); !strings.HasPrefix(err.Error(), "bad.zip: not a valid zip archive") {
		t.Errorf("damaged zip: %v", err)
	}
	// A member whose bytes do not match its checksum: an error naming it.
	var sb bytes.Buffer
	sw := zip.NewWriter(&sb)
	w, _ := sw.CreateHeader(&zip.FileHeader{Name: "GAR.csv", Method: zip.Store})
	w.Write([]byte("13,45,13,0.04,0.04,0,0,20110101,29991231\n"))
	sw.Close()
	stored := sb.Bytes()
	i := bytes.Index(stored, []byte("0.04,0.04"))
	stored[i] = '9'
	if err := importErr(t, FormatSST, Options{}, File{Name: "crc.zip", R: bytes.NewReader(stored)}); !strings.HasPrefix(err.Error(), "crc.zip:GAR.csv: cannot read from the zip archive: zip: checksum error") {
		t.Errorf("damaged member: %v", err)
	}
}

func TestDateFromName(t *testing.T) {
	tests := []struct {
		format Format
		name   string
		want   string
	}{
		{FormatSST, "WIR2026Q2FEB18.csv", "2026-04-01"},
		{FormatSST, "/data/GAB2026Q1JAN05.zip", "2026-01-01"},
		{FormatSST, "WI.zip:WIR2025Q4OCT01.csv", "2025-10-01"},
		{FormatSST, "rates.csv", ""},
		{FormatAvalaraZip, "TAXRATES_ZIP5_WA201809.csv", "2018-09-01"},
		{FormatAvalaraZip, "TAXRATES_ZIP5_WA201813.csv", ""},
		{FormatCDTFA, "SalesTaxRates1-1-26.csv", "2026-01-01"},
		{FormatCDTFA, "SalesTaxRates4-1-2025.csv", "2025-04-01"},
		{FormatCDTFA, "SalesTaxRates2-30-26.csv", ""},
		{FormatWADOR, "taxrates-2019Q1-layout.js", "2019-01-01"},
		{FormatWADOR, "Rates_2024_Q3.csv", "2024-07-01"},
		{FormatWADOR, "taxrates-2020-layout.js", ""},
	}
	for _, tt := range tests {
		got, ok := dateFromName(tt.format, tt.name)
		s := ""
		if ok {
			s = got.Format(dateLayout)
		}
		if s != tt.want {
			t.Errorf("%s %s: %q, want %q", tt.format, tt.name, s, tt.want)
		}
	}
}

// Columns 4-7: general intrastate, general interstate, food/drug
// intrastate, food/drug interstate.
func TestSSTIntrastate(t *testing.T) {
	in := "55,45,55,0.05,0.05,0.05,0.05,20090101,29991231\n55,00,079,0.006,0.005,0.004,0.003,20200101,29991231\n"
	rf, out := run(t, FormatSST, Options{}, text("R.csv", in))
	c := rf.jur(t, "US-WI-COUNTY-079")
	if got := c.Taxes[0].rateAt("2026-01-01"); got != "0.5%" || c.Taxes[0].Taxability["food"] != "0.3%" || c.Name != "Milwaukee County" {
		t.Errorf("interstate: %s %v %q", got, c.Taxes[0].Taxability, c.Name)
	}
	if !bytes.Contains(out, []byte("column 5, general rate interstate")) {
		t.Error("header does not name the columns used")
	}
	rf, out = run(t, FormatSST, Options{Intrastate: true}, text("R.csv", in))
	c = rf.jur(t, "US-WI-COUNTY-079")
	if got := c.Taxes[0].rateAt("2026-01-01"); got != "0.6%" || c.Taxes[0].Taxability["food"] != "0.4%" {
		t.Errorf("intrastate: %s %v", got, c.Taxes[0].Taxability)
	}
	if !bytes.Contains(out, []byte("(--intrastate): column 4")) {
		t.Error("header does not name the columns used")
	}
}

// Every importer's output composes with the embedded pack with no edits:
// the pack's state tax (its taxability and nexus), the file's locals.
func TestLayeringOnThePack(t *testing.T) {
	packSrc := rules.Source{Name: pack.Name, Data: pack.US()}
	ga, _ := importBytes(t, FormatSST, Options{}, testFile(t, "GAR2026Q2FEB19.csv"))
	ca, _ := importBytes(t, FormatCDTFA, Options{}, testFile(t, "SalesTaxRates1-1-26.csv"))
	tn, _ := importBytes(t, FormatAvalaraZip, Options{}, testFile(t, "TAXRATES_ZIP5_TN201809.csv"))
	wa, _ := importBytes(t, FormatWADOR, Options{}, testFile(t, "taxrates-2019Q1-layout.js"))
	prog := compile(t, packSrc, rules.Source{Name: "ga.yaml", Data: ga}, rules.Source{Name: "ca.yaml", Data: ca},
		rules.Source{Name: "tn.yaml", Data: tn}, rules.Source{Name: "wa.yaml", Data: wa})
	if len(prog.Warnings) != 0 {
		t.Errorf("warnings: %q", prog.Warnings)
	}
	gaJ, _ := prog.Jurisdiction("US-GA")
	if gaJ.Nexus == nil || len(gaJ.Taxes) != 1 || gaJ.Taxes[0].ID != "ga-state" {
		t.Fatalf("US-GA = %+v", gaJ)
	}
	for _, tt := range []struct {
		s    sale
		want string
	}{
		{sale{day: "2026-04-01", state: "GA", explicit: []string{"US-GA-COUNTY-121", "US-GA-CITY-04000"}}, "8.90"},
		{sale{day: "2026-04-01", state: "GA", product: "food", explicit: []string{"US-GA-COUNTY-121", "US-GA-CITY-04000"}}, "4.90"},
		{sale{day: "2026-04-01", state: "GA", product: "saas", explicit: []string{"US-GA-COUNTY-121"}}, "0.00"}, // the pack: SaaS exempt, locals follow
		{sale{day: "2015-06-01", state: "GA", explicit: []string{"US-GA-COUNTY-121"}}, "7.00"},                  // before the pack's 2019: the file's history
		{sale{day: "2026-01-01", state: "CA", county: "Alameda", city: "Castro Valley"}, "10.25"},
		{sale{day: "2026-01-01", state: "CA", city: "Oakland", product: "saas"}, "0.00"},
		{sale{day: "2019-01-01", state: "TN", postal: "37010"}, "9.50"},
		{sale{day: "2019-02-01", state: "WA", explicit: []string{"US-WA-LOC-1401"}}, "8.93"}, // Aberdeen 6.5% + 2.43%
		{sale{day: "2019-02-01", state: "WA", postal: "98101"}, "6.50"},
	} {
		if got := totalTax(t, prog, tt.s); got != tt.want {
			t.Errorf("%+v: tax %s, want %s", tt.s, got, tt.want)
		}
	}
	// A file whose state rate disagrees with the pack's: the pack wins, and
	// a warning says so.
	other := strings.Replace(string(ga), `- {from: 2011-01-01, rate: "4%"}`, `- {from: 2011-01-01, rate: "4.5%"}`, 1)
	prog = compile(t, packSrc, rules.Source{Name: "ga.yaml", Data: []byte(other)})
	if len(prog.Warnings) != 1 || !strings.Contains(prog.Warnings[0], "US-GA: tax ga-state: the rate 4.5% given here from 2019-01-01 differs from 4% at embedded:us.yaml:") ||
		!strings.Contains(prog.Warnings[0], "the first file's rate is used") {
		t.Errorf("warnings = %q", prog.Warnings)
	}
	if got := totalTax(t, prog, sale{day: "2026-04-01", state: "GA", postal: "30303"}); got != "4.00" {
		t.Errorf("state tax with the pack first: %s, want 4.00", got)
	}
	if got := totalTax(t, prog, sale{day: "2018-04-01", state: "GA", postal: "30303"}); got != "4.50" {
		t.Errorf("state tax before the pack's history: %s, want the file's 4.50", got)
	}
	// On its own, the import still works.
	alone := compile(t, rules.Source{Name: "ga.yaml", Data: ga})
	if got := totalTax(t, alone, sale{day: "2026-04-01", state: "GA", explicit: []string{"US-GA-CITY-04000"}}); got != "5.90" {
		t.Errorf("alone: %s, want 5.90", got)
	}
}

func TestReproducible(t *testing.T) {
	a, _ := importBytes(t, FormatSST, Options{}, testFile(t, "GAR2026Q2FEB19.csv"))
	b, _ := importBytes(t, FormatSST, Options{}, testFile(t, "GAR2026Q2FEB19.csv"))
	if !bytes.Equal(a, b) || bytes.Contains(a, []byte("Imported:")) {
		t.Error("the same input gives different output, or a wall-clock line")
	}
}
