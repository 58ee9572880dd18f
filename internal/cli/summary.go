package cli

import (
	"encoding/json"
	"fmt"
)

// writeSummaryFile writes the summary as JSON, atomically.
func writeSummaryFile(path string, s *summary) error {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("write summary: %w", err)
	}
	af, err := createAtomic(path)
	if err != nil {
		return fmt.Errorf("write summary: %w", err)
	}
	if _, err := af.Write(append(data, '\n')); err != nil {
		af.abort()
		return fmt.Errorf("write summary: %w", err)
	}
	return af.commit()
}

// manifest is the provenance written with JSON output.
type manifest struct {
	Version     string   `json:"version"`
	Inputs      []string `json:"inputs"`
	Rules       []string `json:"rules"`
	RulesSHA256 string   `json:"rules_sha256"`
	Period      string   `json:"period,omitempty"`
	ByRate      bool     `json:"by_rate,omitempty"`
	Timezone    string   `json:"timezone"`
}
