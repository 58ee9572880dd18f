package txn

import (
	"strings"
	"testing"
)

// A parsed transaction carries its address key: the five fields as given
// (unescaped), end to end, the same from JSON and CSV; and a field changed
// after parsing voids the key rather than leaving a stale one.
func TestAddressKey(t *testing.T) {
	p := NewParser(ParseOptions{})
	var a, b, c Transaction
	if err := p.ParseJSON([]byte(obj(`"amount":"1","state":"W\u0041","county":"King","postal_code":"98101"`)), &a); err != nil {
		t.Fatal(err)
	}
	key, ends, h, ok := a.AddressKey()
	if !ok || key != "USWAKing98101" || ends != (AddrEnds{2, 4, 8, 8, 13}) {
		t.Fatalf("AddressKey = %q %v %v", key, ends, ok)
	}
	if a.Country != "US" || a.State != "WA" || a.County != "King" || a.City != "" || a.PostalCode != "98101" {
		t.Fatalf("fields %+v", a)
	}
	if want := AddressHash([]byte(key), ends); h != want {
		t.Errorf("hash %x, want %x", h, want)
	}
	hdr := strings.Split("id,date,currency,amount,country,state,county,postal_code", ",")
	if err := p.ParseCSV(hdr, strings.Split("t2,2025-03-04,USD,1,US,WA,King,98101", ","), &b); err != nil {
		t.Fatal(err)
	}
	key2, ends2, h2, ok := b.AddressKey()
	if !ok || key2 != key || ends2 != ends || h2 != h {
		t.Errorf("CSV: AddressKey = %q %v %x %v, want the JSON record's", key2, ends2, h2, ok)
	}
	// The field boundaries are part of the key.
	if err := p.ParseJSON([]byte(obj(`"amount":"1","state":"WAK","county":"ing","postal_code":"98101"`)), &c); err != nil {
		t.Fatal(err)
	}
	if k, e, h3, _ := c.AddressKey(); k != key || e == ends || h3 == h {
		t.Errorf("moved boundary: %q %v %x", k, e, h3)
	}
	b.City = "Seattle"
	if _, _, _, ok := b.AddressKey(); ok {
		t.Error("AddressKey still ok after City changed")
	}
	b.City = ""
	b.County = strings.Clone("King")
	if _, _, _, ok := b.AddressKey(); ok {
		t.Error("AddressKey still ok after County was replaced by an equal string")
	}
	var hand Transaction
	hand.Country = "US"
	if _, _, _, ok := hand.AddressKey(); ok {
		t.Error("AddressKey ok for a Transaction no Parser made")
	}
	a.Reset()
	if _, _, _, ok := a.AddressKey(); ok || a.Country != "" {
		t.Error("AddressKey ok after Reset")
	}
}

// fieldIndex knows every field by its name and nothing else: not a name
// of another length, a prefix, or a name with one byte changed.
func TestFieldIndex(t *testing.T) {
	for k, name := range fieldNames {
		if got := fieldIndex([]byte(name)); got != k {
			t.Errorf("fieldIndex(%q) = %d, want %d", name, got, k)
		}
		for i := range len(name) {
			b := []byte(name)
			b[i] ^= 0x20
			if got := fieldIndex(b); got != -1 {
				t.Errorf("fieldIndex(%q) = %d", b, got)
			}
			if got := fieldIndex([]byte(name[:i])); got != -1 {
				t.Errorf("fieldIndex(%q) = %d", name[:i], got)
			}
		}
		if got := fieldIndex([]byte(name + "x")); got != -1 {
			t.Errorf("fieldIndex(%q) = %d", name+"x", got)
		}
	}
}
