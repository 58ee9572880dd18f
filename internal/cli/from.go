package cli

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/taxagg/taxagg/internal/billing"
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

// converter returns the billing converter --from asks for, or nil for
// taxagg's own format. Warnings go to warn.
func (o *fromOptions) converter(warn io.Writer) (*billing.TxConverter, error) {
	if o.From == "" || o.From == billing.PresetCanonical {
		if o.ProductMap != "" {
			return nil, usageErrorf("--product-map needs --from stripe, chargebee or a mapping file")
		}
		return nil, nil
	}
	opts := billing.TxOptions{Preset: o.From, Warn: func(msg string) { fmt.Fprintln(warn, "taxagg: warning: "+msg) }}
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
