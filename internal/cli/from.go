package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/taxagg/taxagg/internal/billing"
	"github.com/taxagg/taxagg/internal/pipeline"
	"github.com/taxagg/taxagg/internal/stream"
)

// fromOptions are the flags that read billing exports as transactions:
// --from and --product-map.
type fromOptions struct {
	From       string
	ProductMap string
}

func addFromFlags(cmd *cobra.Command, o *fromOptions) {
	fl := cmd.Flags()
	fl.StringVar(&o.From, "from", "canonical", "what the input records are: canonical (taxagg's own transactions), stripe, chargebee, or a mapping `FILE`.yaml")
	fl.StringVar(&o.ProductMap, "product-map", "", "with --from: a YAML `FILE` mapping product ids, price ids and tax codes to product categories")
	_ = cmd.RegisterFlagCompletionFunc("from", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		// The presets, and files for a mapping.
		return []string{"canonical", "stripe", "chargebee"}, cobra.ShellCompDirectiveDefault
	})
}

// fromFiles are the files --from and --product-map read.
func (o *fromOptions) fromFiles() []string {
	var files []string
	switch o.From {
	case "", billing.PresetCanonical, billing.PresetStripe, billing.PresetChargebee:
	default:
		files = append(files, o.From)
	}
	if o.ProductMap != "" {
		files = append(files, o.ProductMap)
	}
	return files
}

// converter returns the billing converter --from asks for, or nil for
// taxagg's own format. Warnings go to warn.
func (o *fromOptions) converter(warn io.Writer) (*billing.TxConverter, error) {
	return o.newConverter(func(msg string) { fmt.Fprintln(warn, "taxagg: warning: "+msg) }, false)
}

// newConverter is converter with warnings going to warn; standalone
// converts each record on its own (billing.TxOptions.Standalone).
func (o *fromOptions) newConverter(warn func(string), standalone bool) (*billing.TxConverter, error) {
	if o.From == "" || o.From == billing.PresetCanonical {
		if o.ProductMap != "" {
			return nil, usageErrorf("--product-map needs --from stripe, chargebee or a mapping file")
		}
		return nil, nil
	}
	opts := billing.TxOptions{Preset: o.From, Warn: warn, Standalone: standalone}
	switch o.From {
	case billing.PresetStripe, billing.PresetChargebee:
	default:
		mf, err := os.Open(o.From)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil, usageErrorf("--from %q: not canonical, stripe, chargebee, nor a mapping file", o.From)
			}
			return nil, fmt.Errorf("open mapping: %w", err)
		}
		m, err := billing.LoadMapping(mf, o.From)
		mf.Close()
		if err != nil {
			return nil, err
		}
		opts.Mapping = m
	}
	if o.ProductMap != "" {
		pf, err := os.Open(o.ProductMap)
		if err != nil {
			return nil, fmt.Errorf("open product map: %w", err)
		}
		pm, err := billing.LoadProductMap(pf, o.ProductMap)
		pf.Close()
		if err != nil {
			return nil, err
		}
		opts.Products = pm
	}
	return billing.NewTxConverter(opts)
}

// indexInputs looks over the inputs that are regular files before the run,
// so that a credit note or refund finds its invoice or charge wherever it
// is in them (a file of credit notes named before the invoices, a list in
// Stripe's newest-first order): a first look notes the documents credit
// notes and refunds refer to, a second (only when there are some) keeps
// what they need of those. The files are rewound for the run itself.
// A pipe cannot be read twice: there a document finds only the ones
// before it. Read errors are left to the run to report.
func indexInputs(ctx context.Context, conv *billing.TxConverter, ins []pipeline.Input) error {
	if err := eachFileRecord(ctx, ins, conv.NoteReference); err != nil || !conv.Wanted() {
		return err
	}
	return eachFileRecord(ctx, ins, conv.Index)
}

// eachFileRecord calls fn with every JSON record of the inputs that are
// regular files, and rewinds them.
func eachFileRecord(ctx context.Context, ins []pipeline.Input, fn func([]byte)) error {
	for _, in := range ins {
		f, ok := in.R.(*os.File)
		if !ok {
			continue
		}
		if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
			continue
		}
		r, err := stream.Open(in.Name, f, stream.FormatAuto, stream.Options{})
		if err == nil {
			for n := 0; ; n++ {
				if n%1024 == 0 && ctx.Err() != nil {
					return context.Cause(ctx)
				}
				rec, err := r.Next()
				if err != nil {
					break
				}
				if rec.Err == nil && rec.CSV == nil {
					fn(rec.Text)
				}
			}
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return fmt.Errorf("read %s: %w", in.Name, err)
		}
	}
	return nil
}

// mappingFormat is the input format: --input-format when given, else the
// mapping file's format.
func mappingFormat(f stream.Format, conv *billing.TxConverter) stream.Format {
	if f != stream.FormatAuto {
		return f
	}
	if mf, err := stream.ParseFormat(conv.InputFormat()); err == nil {
		return mf
	}
	return f
}
