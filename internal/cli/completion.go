package cli

import (
	"slices"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// flagValues are the values shell completion offers for a flag, by flag
// name; fromValues depend on the command.
var flagValues = map[string][]string{
	"format":       {"table\tfor a person (the default on a terminal)", "json\tone document", "ndjson\tone JSON object a line", "csv\twith a header"},
	"input-format": {"auto\tby extension, else by content", "ndjson", "json", "csv"},
	"period":       {"none", "day", "month", "quarter", "year"},
	"from-a":       {"auto", "canonical", "stripe", "chargebee"},
	"from-b":       {"auto", "canonical", "stripe", "chargebee"},
	"prefer":       {"a", "b", "newest"},
	"duplicates":   {"report", "group", "error"},
	// stream
	"log-level":      {"debug", "info", "warn", "error"},
	"sasl-mechanism": {"plain", "scram-sha-256", "scram-sha-512"},
}

// registerCompletions gives every command's enumerated flags their values
// in shell completion; flags taking a file (a mapping file for --from-a)
// still complete file names when no value matches.
func registerCompletions(root *cobra.Command) {
	walk(root, func(c *cobra.Command) {
		c.LocalFlags().VisitAll(func(fl *pflag.Flag) {
			vals, ok := flagValues[fl.Name]
			switch c.CommandPath() + " --" + fl.Name {
			case "taxagg rules show --format":
				vals = append(slices.Clone(vals), "yaml\tan editable rule file")
			case "taxagg deliver dlq list --format":
				vals = []string{"table", "json\tone object a line"}
			}
			if fl.Name == "from" {
				vals, ok = []string{"stripe", "chargebee"}, true
				if c.CommandPath() == "taxagg rules import" {
					vals = []string{"sst\tStreamlined Sales Tax rate and boundary files", "avalara-zip\tAvalara ZIP5 rate tables", "cdtfa\tCalifornia CDTFA city rates"}
				}
			}
			if !ok {
				return
			}
			directive := cobra.ShellCompDirectiveNoFileComp
			if fl.Name == "from" || fl.Name == "from-a" || fl.Name == "from-b" {
				directive = cobra.ShellCompDirectiveDefault
			}
			_ = c.RegisterFlagCompletionFunc(fl.Name, func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
				return vals, directive
			})
		})
	})
}
