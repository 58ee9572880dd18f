// Package pack embeds taxagg's default rule pack: every US state and DC with
// its statewide base rate, SaaS and digital-goods taxability and
// economic-nexus threshold, each with its source. It is a reference, not tax
// advice.
package pack

import _ "embed"

//go:embed us.yaml
var us []byte

// Name is how errors and manifests name the embedded pack.
const Name = "embedded:us.yaml"

// US returns the embedded US pack's YAML.
func US() []byte { return us }
