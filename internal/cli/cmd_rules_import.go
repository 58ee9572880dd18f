package cli

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/taxagg/taxagg/internal/importer"
)

// RulesImportOptions are `rules import`'s flags and arguments.
type RulesImportOptions struct {
	From      string
	Effective string
	Out       string
	Files     []string
}

func newCmdRulesImport(f *Factory) *cobra.Command {
	opts := &RulesImportOptions{}
	cmd := &cobra.Command{
		Use:   "import --from sst|avalara-zip|cdtfa [flags] FILE ...",
		Short: "Turn official rate files into a rule file",
		Long: `Read official rate files and write one rule file (YAML, with a header comment naming the
sources) that --rules accepts as it is:

  sst          Streamlined Sales Tax rate files, with their boundary file when given
               (told apart by content); dated rows become dated rates
  avalara-zip  Avalara ZIP5 rate tables: a state and one local jurisdiction per ZIP
  cdtfa        California's CDTFA rate list: the state and one jurisdiction per city

Files that carry no date (Avalara, and CDTFA without a date in its preamble) need
--effective YYYY-MM-DD.` + exitStatusHelp,
		Example: `  taxagg rules import --from sst GAR2026Q2FEB19.csv > ga.yaml
  taxagg rules import --from sst MNR2026Q2FEB18.csv MNB2026Q2FEB18.csv -o mn.yaml
  taxagg rules import --from avalara-zip --effective 2018-09-01 TAXRATES_ZIP5_TX201809.csv > tx.yaml
  taxagg aggregate --rules tx.yaml orders.ndjson`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Files = args
			return rulesImportRun(f, opts)
		},
	}
	cmd.Flags().StringVar(&opts.From, "from", "", "source format: sst, avalara-zip or cdtfa (required)")
	cmd.Flags().StringVar(&opts.Effective, "effective", "", "effective `DATE` (YYYY-MM-DD) for files that carry none")
	cmd.Flags().StringVarP(&opts.Out, "out", "o", "", "write the rule file to `FILE` atomically (default: stdout)")
	return cmd
}

func rulesImportRun(f *Factory, opts *RulesImportOptions) error {
	format := importer.Format(opts.From)
	known := false
	for _, k := range importer.Formats {
		known = known || k == format
	}
	if !known {
		return usageErrorf("--from %q must be sst, avalara-zip or cdtfa", opts.From)
	}
	var iopt importer.Options
	if opts.Effective != "" {
		t, err := time.Parse("2006-01-02", opts.Effective)
		if err != nil {
			return usageErrorf("--effective %q is not a date (YYYY-MM-DD)", opts.Effective)
		}
		iopt.Effective = t
	}
	iopt.Now = f.Now()
	var files []importer.File
	for _, name := range opts.Files {
		fh, err := os.Open(name)
		if err != nil {
			return fmt.Errorf("open input: %w", err)
		}
		defer fh.Close()
		files = append(files, importer.File{Name: name, R: fh})
	}
	tx := &txOptions{Out: opts.Out}
	w, _, finish, err := tx.outputTarget(f.IO)
	if err != nil {
		return err
	}
	return finish(importer.Import(w, format, files, iopt))
}
