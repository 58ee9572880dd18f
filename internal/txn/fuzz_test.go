package txn

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/taxagg/taxagg/internal/jsonscan"
	"github.com/taxagg/taxagg/internal/money"
)

func FuzzParseJSON(f *testing.F) {
	for _, s := range []string{
		obj(`"amount":"129.99"`),
		obj(`"amount":12.5,"quantity":"2","type":"refund","original_date":"2024-01-01T10:00:00+02:00"`),
		obj(`"lines":[{"amount":"1","product":"saas"},{"amount":2,"tax_included":true}],"jurisdictions":["US-TX"]`),
		obj(`"amount":"1e3"`), obj(`"amount":"-0"`), `{"id":"a","id":"a"}`, `{"a":"\ud83d\ude00\u00e9\ud800"}`,
		`{"a":[{"b":[null,true,false,-0.5e-3]}]}`, `{`, `{"a":"\x"}`, "{\"a\":\"\xff\"}", `[]`, `{} x`,
	} {
		f.Add([]byte(s))
	}
	p := NewParser(ParseOptions{})
	var reused Transaction // parsed into again and again: its decimals' slab is reused
	borrowing := NewParser(ParseOptions{})
	var arena Arena
	borrowing.SetArena(&arena)
	f.Fuzz(func(t *testing.T, in []byte) {
		var tx Transaction
		err := p.ParseJSON(in, &tx)
		var fe *FieldError
		if err != nil && !errors.As(err, &fe) {
			t.Fatalf("error %T %v", err, err)
		}
		// The scanner agrees with encoding/json on what is valid, except
		// that it rejects invalid UTF-8 and very deep nesting.
		var sc jsonscan.Scanner
		_, serr := sc.Object(in)
		var obj map[string]json.RawMessage
		jerr := json.Unmarshal(in, &obj)
		if serr == nil && (jerr != nil || !json.Valid(in)) {
			t.Fatalf("scanner accepts %q; encoding/json: %v", in, jerr)
		}
		if serr != nil && jerr == nil && obj != nil && utf8.Valid(in) && depth(in) <= jsonscan.MaxDepth {
			t.Fatalf("scanner rejects %q: %v", in, serr)
		}
		if err != nil {
			return
		}
		// Accepted records hold what the contract promises.
		if tx.ID == "" || tx.Country == "" || tx.Currency.Code == "" || len(tx.Lines) == 0 {
			t.Fatalf("incomplete %+v", tx)
		}
		for _, ln := range tx.Lines {
			if ln.Amount.Sign() < 0 || ln.Quantity.Sign() <= 0 || ln.Product == "" {
				t.Fatalf("bad line %+v", ln)
			}
			if -ln.Amount.Exponent() > tx.Currency.Digits {
				t.Fatalf("amount %v in %s", ln.Amount, tx.Currency.Code)
			}
			af, aok := money.FixedOf(ln.Amount)
			qf, qok := money.FixedOf(ln.Quantity)
			if ln.Fixed != (aok && qok) || ln.Fixed && (ln.AmountFixed != af || ln.QuantityFixed != qf) {
				t.Fatalf("line %+v: Fixed figures disagree with the decimals", ln)
			}
		}
		if err := p.ParseJSON(in, &reused); err != nil || len(reused.Lines) != len(tx.Lines) || reused.ContentHash != tx.ContentHash {
			t.Fatalf("parsed again into a used Transaction: %v, %d lines", err, len(reused.Lines))
		}
		for i, ln := range reused.Lines {
			want := tx.Lines[i]
			if !ln.Amount.Equal(want.Amount) || ln.Amount.Exponent() != want.Amount.Exponent() ||
				!ln.Quantity.Equal(want.Quantity) || ln.AmountFixed != want.AmountFixed || ln.Fixed != want.Fixed {
				t.Fatalf("parsed again into a used Transaction: line %d is %+v, want %+v", i, ln, want)
			}
		}
		if !tx.Refund && tx.RateDay != tx.Day {
			t.Fatalf("sale with rate day %v", tx.RateDay)
		}
		// Borrowed strings (SetArena) read the same as owned ones.
		arena.Reset()
		var btx Transaction
		if err := borrowing.ParseJSON(bytes.Clone(in), &btx); err != nil {
			t.Fatalf("borrowing: %v", err)
		}
		if got, want := fmt.Sprint(btx.ID, btx.Customer, btx.Country, btx.State, btx.County, btx.City, btx.PostalCode, btx.IDHash, btx.ContentHash),
			fmt.Sprint(tx.ID, tx.Customer, tx.Country, tx.State, tx.County, tx.City, tx.PostalCode, tx.IDHash, tx.ContentHash); got != want {
			t.Fatalf("borrowed %s, owned %s", got, want)
		}
		// Fields round-trip: the members rebuilt give the same object.
		var rebuilt []byte
		rebuilt = append(rebuilt, '{')
		for i, fld := range p.Fields() {
			if i > 0 {
				rebuilt = append(rebuilt, ',')
			}
			rebuilt = append(rebuilt, fld.RawKey...)
			rebuilt = append(rebuilt, ':')
			rebuilt = append(rebuilt, fld.Value...)
		}
		rebuilt = append(rebuilt, '}')
		var tx2 Transaction
		if err := p.ParseJSON(rebuilt, &tx2); err != nil || tx2.ContentHash != tx.ContentHash {
			t.Fatalf("rebuilt %q: %v", rebuilt, err)
		}
	})
}

func depth(b []byte) int {
	d, m, inStr, esc := 0, 0, false, false
	for _, c := range b {
		switch {
		case esc:
			esc = false
		case inStr && c == '\\':
			esc = true
		case c == '"':
			inStr = !inStr
		case inStr:
		case c == '{' || c == '[':
			d++
			m = max(m, d)
		case c == '}' || c == ']':
			d--
		}
	}
	return m
}

// FuzzParseCSV parses a row's cells twice: with the row's text
// (ParseCSVRow, which checks a valid UTF-8 row at once) and without
// (ParseCSV, which checks each known cell). The two must agree on the
// verdict, the error and what the transaction means.
func FuzzParseCSV(f *testing.F) {
	for _, s := range []string{
		"a,2025-01-01,USD,1.00,US,TX,hi",
		"a,2025-01-01,USD,1.00,US,Zürich,h\xff",
		"a,2025-01-01,USD,1.00,US,Z\xc3,\xbcx",
		"a,2025-01-01,USD,1.00,US,T\xffX,",
		",,,,,,",
	} {
		f.Add(s)
	}
	header := []string{"id", "date", "currency", "amount", "country", "state", "note"}
	p := NewParser(ParseOptions{})
	f.Fuzz(func(t *testing.T, row string) {
		cells := strings.Split(row, ",")
		if len(cells) != len(header) {
			return
		}
		var a, b Transaction
		errRow := p.ParseCSVRow(header, cells, []byte(row), &a)
		errCells := p.ParseCSV(header, cells, &b)
		if fmt.Sprint(errRow) != fmt.Sprint(errCells) {
			t.Fatalf("row %q: with its text %v, cell by cell %v", row, errRow, errCells)
		}
		if errRow == nil && a.ContentHash != b.ContentHash {
			t.Fatalf("row %q: the two parses mean different transactions", row)
		}
	})
}
