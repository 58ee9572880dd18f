package pack_test

import (
	"testing"

	"github.com/taxagg/taxagg/internal/pack"
	"github.com/taxagg/taxagg/internal/rules"
)

func TestEmbeddedPackCompiles(t *testing.T) {
	p, err := rules.Compile([]rules.Source{{Name: pack.Name, Data: pack.US()}})
	if err != nil {
		t.Fatalf("embedded pack: %v", err)
	}
	if got := len(p.Jurisdictions); got != 51 {
		t.Errorf("%d jurisdictions, want 51 (50 states and DC)", got)
	}
}
