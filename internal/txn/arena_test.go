package txn

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"unsafe"
)

// stringWithin reports whether s's bytes lie inside b's array.
func stringWithin(s string, b []byte) bool {
	if len(s) == 0 || len(b) == 0 {
		return false
	}
	p, lo := uintptr(unsafe.Pointer(unsafe.StringData(s))), uintptr(unsafe.Pointer(&b[0]))
	return p >= lo && p+uintptr(len(s)) <= lo+uintptr(len(b))
}

// With SetArena, a transaction's own strings are borrowed: the id and
// customer are the record's text when written without escapes, and
// copies in the arena otherwise, as the address is; interned strings stay
// the Parser's. Overwriting the text and reusing the arena changes the
// borrowed ones and no other. Without an arena every string is owned.
func TestSetArenaBorrows(t *testing.T) {
	const rec = `{"id":"ord-1","date":"2025-06-15","currency":"USD","amount":"10.00","product":"books","customer":"c\u0041t","country":"US","state":"WA","city":"Seattle"}`
	for _, borrowed := range []bool{false, true} {
		p := NewParser(ParseOptions{})
		var a Arena
		if borrowed {
			p.SetArena(&a)
		}
		text := []byte(rec)
		var tx Transaction
		if err := p.ParseJSON(text, &tx); err != nil {
			t.Fatal(err)
		}
		if tx.ID != "ord-1" || tx.Customer != "cAt" || tx.Country != "US" || tx.City != "Seattle" || tx.Lines[0].Product != "books" {
			t.Fatalf("parsed %q %q %q %q %q", tx.ID, tx.Customer, tx.Country, tx.City, tx.Lines[0].Product)
		}
		key, _, _, ok := tx.AddressKey()
		if !ok {
			t.Fatal("no address key")
		}
		inArena := func(s string) bool {
			for _, c := range a.chunks[:a.n] {
				if stringWithin(s, c) {
					return true
				}
			}
			return false
		}
		if got := stringWithin(tx.ID, text); got != borrowed {
			t.Errorf("borrowed %v: id in the text: %v", borrowed, got)
		}
		if got := inArena(tx.Customer); got != borrowed {
			t.Errorf("borrowed %v: escaped customer in the arena: %v", borrowed, got)
		}
		if got := inArena(key); got != borrowed {
			t.Errorf("borrowed %v: address key in the arena: %v", borrowed, got)
		}
		product := tx.Lines[0].Product
		if stringWithin(product, text) || inArena(product) {
			t.Errorf("borrowed %v: the interned product is borrowed", borrowed)
		}

		// The next batch: the text's memory and the arena reused.
		copy(text, bytes.Repeat([]byte("#"), len(text)))
		a.Reset()
		var next Transaction
		other := strings.NewReplacer("ord-1", "ord-2", "Seattle", "Tacoma!", `c\u0041t`, `d\u004fg`).Replace(rec)
		if err := p.ParseJSON([]byte(other), &next); err != nil {
			t.Fatal(err)
		}
		changed := tx.ID != "ord-1" || tx.City != "Seattle" || tx.Customer != "cAt"
		if changed != borrowed {
			t.Errorf("borrowed %v: after reuse the strings read %q %q %q", borrowed, tx.ID, tx.City, tx.Customer)
		}
		if tx.Lines[0].Product != "books" || next.City != "Tacoma!" || next.Customer != "dOg" {
			t.Errorf("borrowed %v: product %q, next city %q customer %q", borrowed, tx.Lines[0].Product, next.City, next.Customer)
		}
	}
}

// An Arena hands out strings that later ones never overwrite until Reset,
// across chunks and for strings larger than a chunk.
func TestArenaKeepsUntilReset(t *testing.T) {
	var a Arena
	var got []string
	var want []string
	for i := range 3000 {
		s := strings.Repeat(string(rune('a'+i%26)), 1+i%40)
		if i == 1000 {
			s = strings.Repeat("x", 3*arenaBatchChunk)
		}
		got = append(got, a.copy([]byte(s)))
		want = append(want, s)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("string %d overwritten: %.20q, want %.20q", i, got[i], want[i])
		}
	}
	chunks := a.n
	a.Reset()
	for range 3000 {
		a.copy([]byte("0123456789012345678901234567890123456789"))
	}
	if len(a.chunks) > chunks+4 {
		t.Errorf("reuse grew the arena from %d to %d chunks", chunks, len(a.chunks))
	}
}

// With SetArena a CSV row's cells are taken to be borrowed too (a
// stream.Batch's): the id stays the cell, interned fields (the product,
// explicit jurisdiction codes) become the Parser's own.
func TestSetArenaBorrowsCSVCells(t *testing.T) {
	hdr := []string{"id", "date", "currency", "amount", "product", "country", "jurisdictions"}
	row := "t1,2025-03-04,USD,1.00,books,US,US-WA;US-WA-KING"
	mem := []byte(strings.ReplaceAll(row, ",", ""))
	var cells []string
	off := 0
	for _, c := range strings.Split(row, ",") {
		cells = append(cells, unsafe.String(&mem[off], len(c)))
		off += len(c)
	}
	p := NewParser(ParseOptions{})
	var a Arena
	p.SetArena(&a)
	var tx Transaction
	if err := p.ParseCSV(hdr, cells, &tx); err != nil {
		t.Fatal(err)
	}
	copy(mem, bytes.Repeat([]byte("#"), len(mem))) // the next batch
	if tx.ID == "t1" {
		t.Errorf("the id is not the borrowed cell")
	}
	if got := fmt.Sprintf("%s %v", tx.Lines[0].Product, tx.Jurisdictions); got != "books [US-WA US-WA-KING]" {
		t.Errorf("interned fields after the cells were overwritten: %s", got)
	}
}
