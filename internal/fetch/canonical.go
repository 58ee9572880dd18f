package fetch

import (
	"fmt"

	"github.com/taxagg/taxagg/internal/billing"
)

// Canonical returns the Converter that turns a provider's objects into
// canonical records with package billing (the same presets `reconcile`
// reads), written in billing's canonical JSON form, which
// `reconcile --from-a canonical` reads back.
func Canonical(provider string) (Converter, error) {
	switch provider {
	case "stripe":
		return func(_ string, obj []byte) (any, error) { return billing.FromStripe(obj) }, nil
	case "chargebee":
		// billing takes a bare Chargebee object for an invoice; a credit
		// note is handed over wrapped, as list responses carry it.
		return func(resource string, obj []byte) (any, error) {
			if item := chargebeeItem(resource); item != "invoice" {
				wrapped := make([]byte, 0, len(obj)+len(item)+5)
				wrapped = append(wrapped, `{"`...)
				wrapped = append(wrapped, item...)
				wrapped = append(wrapped, `":`...)
				wrapped = append(wrapped, obj...)
				wrapped = append(wrapped, '}')
				obj = wrapped
			}
			return billing.FromChargebee(obj)
		}, nil
	}
	return nil, fmt.Errorf("provider %q: want stripe or chargebee", provider)
}
