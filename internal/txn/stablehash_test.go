package txn

import "testing"

// The shard of an id and the stable hashes are part of what states and
// partials store: they must never change.
func TestStableHashesNeverChange(t *testing.T) {
	tests := []struct {
		id    string
		fnv   uint64
		shard int // of 4
	}{
		{"", 0xcbf29ce484222325, 1},
		{"a", 0xaf63dc4c8601ec8c, 0},
		{"ord-1001", 0x09c1f581d7b5b649, 1},
	}
	for _, tt := range tests {
		if got := FNV1a64(tt.id); got != tt.fnv {
			t.Errorf("FNV1a64(%q) = %#x, want %#x", tt.id, got, tt.fnv)
		}
		if got := Shard(tt.id, 4); got != tt.shard {
			t.Errorf("Shard(%q, 4) = %d, want %d", tt.id, got, tt.shard)
		}
	}
	if got, want := StableIDHashBytes([]byte("ord-1001")), StableIDHash("ord-1001"); got != want {
		t.Fatal("StableIDHashBytes differs from StableIDHash")
	}
	if got := StableHash([]byte("taxagg")); got != 0x0 && got == StableHash([]byte("taxagh")) {
		t.Fatal("StableHash ignores the last byte")
	}
}

// The content hash of the same record is the same in another process:
// pinned here, as the partial format's docs show it.
func TestStableContentHash(t *testing.T) {
	p := NewParser(ParseOptions{StableHashes: true})
	var tx Transaction
	rec := `{"id":"ord-1001","date":"2026-01-05","currency":"USD","amount":"129.99","product":"physical","country":"US","state":"CA","postal_code":"94103"}`
	if err := p.ParseJSON([]byte(rec), &tx); err != nil {
		t.Fatal(err)
	}
	if tx.ContentHash != 0x4192765325a66c59 {
		t.Errorf("content hash = %#x, want 0x4192765325a66c59", tx.ContentHash)
	}
	if tx.IDHash != StableIDHash("ord-1001") {
		t.Errorf("IDHash is not StableIDHash")
	}
}
