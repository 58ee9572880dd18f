package cli

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/taxagg/taxagg/internal/rules"
	"github.com/taxagg/taxagg/internal/stream"
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

// rulesShowColumns are `rules show`'s columns; one row per jurisdiction
// and tax.
var rulesShowColumns = []stream.Column{
	{Name: "code"}, {Name: "name", Drop: 2}, {Name: "level", Drop: 3}, {Name: "tax"},
	{Name: "rates"}, {Name: "taxability"}, {Name: "nexus", Drop: 1},
}

func newCmdRulesShow(f *Factory) *cobra.Command {
	var format string
	var columns []string
	cmd := &cobra.Command{
		Use:   "show [FILE ...]",
		Short: "Print the compiled jurisdictions and taxes (the embedded pack when no FILE)",
		Long: `Print every jurisdiction with its taxes, dated rates, taxability and nexus threshold: one row
per jurisdiction and tax, then the customer exemptions and the rules' hash (in the table).
Without FILE, the embedded US pack is shown. With --format yaml, print the compiled rules
(files merged, extensions folded in) as one rule file to edit and give back to --rules.`,
		Example: `  taxagg rules show
  taxagg rules show --columns code,tax,rates my-rules.yaml
  taxagg rules show --format csv > pack.csv
  taxagg rules show --format yaml > my-pack.yaml
  taxagg rules show --format yaml embedded:us.yaml ga.yaml > us-with-ga.yaml`,
		RunE: func(cmd *cobra.Command, args []string) error {
			var target rowTarget
			if format != "yaml" {
				of, err := outputFormat(format, f.IO.StdoutIsTTY)
				if err != nil {
					return err
				}
				target = newRowTarget(f, of, f.IO.StdoutIsTTY, columns)
				if err := target.check(rulesShowColumns); err != nil {
					return err
				}
			}
			prog, err := loadRules(cmd.Context(), args)
			if err != nil {
				return err
			}
			printRuleWarnings(f, prog)
			if format == "yaml" {
				return prog.WriteYAML(f.IO.Out)
			}
			return writeRulesShow(f.IO.Out, target, prog)
		},
	}
	cmd.Flags().StringVar(&format, "format", "", "output `FORMAT`: table, json, ndjson, csv, or yaml (an editable rule file) (default: table on a terminal, else ndjson)")
	cmd.Flags().StringSliceVar(&columns, "columns", nil, "write only these comma-separated `COLUMNS`, in this order, in every format but yaml")
	return cmd
}

// printRuleWarnings writes how the rule files were layered, when they
// disagree, to stderr.
func printRuleWarnings(f *Factory, prog *rules.Program) {
	for _, w := range prog.Warnings {
		fmt.Fprintf(f.IO.ErrOut, "taxagg: warning: %s\n", w)
	}
}

func writeRulesShow(w io.Writer, target rowTarget, prog *rules.Program) error {
	rw, _, err := target.open(w, rulesShowColumns, stream.RowOptions{})
	if err != nil {
		return err
	}
	for _, r := range prog.ShowRows() {
		if err := rw.Write([]string{r.Code, r.Name, r.Level, r.Tax, r.Rates, r.Taxability, r.Nexus}); err != nil {
			return err
		}
	}
	if err := rw.Close(); err != nil {
		return err
	}
	if target.format != stream.OutputTable {
		return nil
	}
	var b strings.Builder
	if ex := prog.ShowExemptions(); len(ex) > 0 {
		b.WriteString("\nexemptions\n")
		for _, e := range ex {
			b.WriteString("  " + e + "\n")
		}
	}
	fmt.Fprintf(&b, "\n%d jurisdictions, %d taxes; rules sha256 %s\n", len(prog.Jurisdictions), len(prog.Taxes), prog.SHA256)
	_, err = io.WriteString(w, b.String())
	return err
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
