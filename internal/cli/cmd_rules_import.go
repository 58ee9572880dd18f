package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/taxagg/taxagg/internal/importer"
)

// RulesImportOptions are `rules import`'s flags and arguments.
type RulesImportOptions struct {
	From       string
	Effective  string
	Out        string
	Intrastate bool
	Strict     bool
	Files      []string
}

func newCmdRulesImport(f *Factory) *cobra.Command {
	opts := &RulesImportOptions{}
	cmd := &cobra.Command{
		Use:   "import --from sst|avalara-zip|cdtfa|wa-dor [flags] FILE ...",
		Short: "Turn official rate files into a rule file",
		Long: `Read official rate files and write one rule file (YAML, with a header comment naming the
sources) that --rules accepts as it is, alone or layered on the embedded pack
(--rules embedded:us.yaml --rules imported.yaml):

  sst          Streamlined Sales Tax rate files, with their boundary file when given
               (told apart by content); dated rows become dated rates; the interstate
               rates unless --intrastate; the food/drug rate is the taxability of food
               and drug
  avalara-zip  Avalara ZIP5 rate tables: a state and one local jurisdiction per ZIP
  cdtfa        California's CDTFA rate list: the state, one jurisdiction per city and
               one per county's unincorporated area
  wa-dor       Washington DOR location-code rate tables (CSV, or the JavaScript/JSON
               layouts), with DOR's ZIP+4 file when given: one jurisdiction per
               location code

Files may be .zip archives (one or several data files inside) or .gz. The effective
date comes from --effective, else from the file name when it carries one
(WIR2026Q2FEB18.csv: 2026-04-01; TAXRATES_ZIP5_WA201809.csv: 2018-09-01;
SalesTaxRates1-1-26.csv: 2026-01-01; taxrates-2019Q1.js: 2019-01-01).

Real files have quirks. Overlapping dated rows of one jurisdiction (the later row takes
over from its start date), exact duplicate rows (dropped) and corrupt rows (skipped) are
resolved, each listed in the output's header comment and on stderr as FILE:LINE;
--strict refuses them instead. The same input gives the same output bytes.`,
		Example: `  taxagg rules import --from sst GAR2026Q2FEB19.csv > ga.yaml
  taxagg rules import --from sst MNR2026Q2FEB18.csv MNB2026Q2FEB18.csv -o mn.yaml
  taxagg rules import --from sst WIR2026Q2FEB18.zip > wi.yaml
  taxagg rules import --from avalara-zip TAXRATES_ZIP5_TX201809.csv > tx.yaml
  taxagg aggregate --rules embedded:us.yaml --rules ga.yaml orders.ndjson`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Files = args
			return rulesImportRun(cmd.Context(), f, opts)
		},
	}
	cmd.Flags().StringVar(&opts.From, "from", "", "source format: sst, avalara-zip, cdtfa or wa-dor (required)")
	cmd.Flags().StringVar(&opts.Effective, "effective", "", "effective `DATE` (YYYY-MM-DD); default: from the file name")
	cmd.Flags().StringVarP(&opts.Out, "out", "o", "", "write the rule file to `FILE` atomically (default: stdout)")
	cmd.Flags().BoolVar(&opts.Intrastate, "intrastate", false, "sst: use the intrastate rates (sellers in the state) instead of the interstate ones")
	cmd.Flags().BoolVar(&opts.Strict, "strict", false, "refuse files with overlapping, duplicate or corrupt rows instead of resolving them")
	return cmd
}

func rulesImportRun(ctx context.Context, f *Factory, opts *RulesImportOptions) error {
	format := importer.Format(opts.From)
	known := false
	for _, k := range importer.Formats {
		known = known || k == format
	}
	if !known {
		return usageErrorf("--from %q must be sst, avalara-zip, cdtfa or wa-dor", opts.From)
	}
	if opts.Intrastate && format != importer.FormatSST {
		return usageErrorf("--intrastate is for --from sst")
	}
	iopt := importer.Options{Intrastate: opts.Intrastate, Strict: opts.Strict}
	if opts.Effective != "" {
		t, err := time.Parse("2006-01-02", opts.Effective)
		if err != nil {
			return usageErrorf("--effective %q is not a date (YYYY-MM-DD)", opts.Effective)
		}
		iopt.Effective = t
	}
	iopt.Notice = func(msg string) { fmt.Fprintf(f.IO.ErrOut, "taxagg: note: %s\n", msg) }
	if err := refuseInputAsOutput("--out", opts.Out, opts.Files, f.IO.In); err != nil {
		return err
	}
	var files []importer.File
	for _, name := range opts.Files {
		fh, err := openFile(ctx, name)
		if err != nil {
			if ctx.Err() != nil {
				return err
			}
			return err
		}
		defer fh.Close()
		files = append(files, importer.File{Name: name, R: interruptible(ctx, fh)})
	}
	tx := &txOptions{Out: opts.Out}
	w, _, finish, err := tx.outputTarget(f.IO)
	if err != nil {
		return err
	}
	err = importer.Import(w, format, files, iopt)
	if errors.Is(err, importer.ErrNoEffective) {
		err = usageErrorf("%v; give the date the rates take effect with --effective YYYY-MM-DD", err)
	}
	return finish(err)
}
