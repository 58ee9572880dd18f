package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/taxagg/taxagg/internal/rules"
)

// NewCmdRules builds `taxagg rules` and its subcommands.
func NewCmdRules(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rules",
		Short: "Check, show, graph and import rule files",
		Long:  "Work with rule files: check them, show what they compile to, graph compound taxes, import official rate files.",
	}
	cmd.AddCommand(newCmdRulesCheck(f), newCmdRulesShow(f), newCmdRulesGraph(f), newCmdRulesImport(f))
	return cmd
}

func newCmdRulesCheck(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "check FILE ...",
		Short: "Validate rule files; errors as FILE:LINE:COL: message",
		Long: `Compile the rule files together, as --rules would merge them, and report every problem at
once, sorted, as FILE:LINE:COL: message.`,
		Example: `  taxagg rules check rules.yaml
  taxagg rules check base.yaml overrides.yaml`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			prog, err := loadRules(cmd.Context(), args)
			if err != nil {
				return err
			}
			printRuleWarnings(f, prog)
			_, err = fmt.Fprintf(f.IO.Out, "ok: %d jurisdictions, %d taxes, %d exemptions (sha256 %s)\n",
				len(prog.Jurisdictions), len(prog.Taxes), len(prog.Exemptions), prog.SHA256)
			return err
		},
	}
}

func newCmdRulesShow(f *Factory) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "show [FILE ...]",
		Short: "Print the compiled jurisdictions and taxes (the embedded pack when no FILE)",
		Long: `Print every jurisdiction with its taxes, dated rates, taxability and nexus threshold as a
table. Without FILE, the embedded US pack is shown. With --format yaml, print the compiled
rules (files merged, extensions folded in) as one rule file to edit and give back to --rules.`,
		Example: `  taxagg rules show
  taxagg rules show my-rules.yaml
  taxagg rules show --format yaml > my-pack.yaml
  taxagg rules show --format yaml embedded:us.yaml ga.yaml > us-with-ga.yaml`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "table" && format != "yaml" {
				return usageErrorf("--format %q must be table or yaml", format)
			}
			prog, err := loadRules(cmd.Context(), args)
			if err != nil {
				return err
			}
			printRuleWarnings(f, prog)
			if format == "yaml" {
				return prog.WriteYAML(f.IO.Out)
			}
			return prog.Show(f.IO.Out)
		},
	}
	cmd.Flags().StringVar(&format, "format", "table", "output `FORMAT`: table, or yaml (an editable rule file)")
	return cmd
}

// printRuleWarnings writes how the rule files were layered, when they
// disagree, to stderr.
func printRuleWarnings(f *Factory, prog *rules.Program) {
	for _, w := range prog.Warnings {
		fmt.Fprintf(f.IO.ErrOut, "taxagg: warning: %s\n", w)
	}
}

func newCmdRulesGraph(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:     "graph [FILE ...]",
		Short:   "Print the compound-tax dependency graph in Graphviz DOT",
		Long:    `Print the taxes as a Graphviz DOT graph, with an edge from each compound tax to the taxes its base includes.`,
		Example: `  taxagg rules graph rules.yaml | dot -Tsvg > taxes.svg`,
		RunE: func(cmd *cobra.Command, args []string) error {
			prog, err := loadRules(cmd.Context(), args)
			if err != nil {
				return err
			}
			return prog.Graph(f.IO.Out)
		},
	}
}
