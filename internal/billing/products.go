package billing

import (
	"fmt"
	"io"

	"go.yaml.in/yaml/v3"

	"github.com/taxagg/taxagg/internal/yamldoc"
)

// ProductMap maps product ids, price ids and tax codes to taxagg product
// categories (saas, digital_goods, ... as the rules name them).
type ProductMap map[string]string

// maxProductMapBytes bounds a product map file.
const maxProductMapBytes = 16 << 20

// LoadProductMap reads a product map file: a YAML mapping of id or tax
// code to category,
//
//	prod_NWjs8kKbJWmuuc: saas
//	price_1MoBy5LkdIwHu7ixZhnattbh: digital_goods
//	txcd_10103001: saas
//
// optionally under a top-level "products" key. Errors carry the file's line
// and column.
func LoadProductMap(r io.Reader, name string) (ProductMap, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxProductMapBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read product map %s: %w", name, err)
	}
	if len(data) > maxProductMapBytes {
		return nil, &MappingError{File: name, Line: 1, Col: 1, Msg: fmt.Sprintf("the file is larger than %d MiB", maxProductMapBytes>>20)}
	}
	var doc yaml.Node
	rest, err := yamldoc.Decode(data, &doc)
	if err != nil {
		return nil, yamlErr(name, err)
	}
	if rest != nil {
		return nil, &MappingError{File: name, Line: rest.Line, Col: 1, Msg: "a second YAML document: a product map is one mapping"}
	}
	if doc.Kind == 0 {
		return ProductMap{}, nil
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) > 0 {
		root = root.Content[0]
	}
	if root.Kind == yaml.MappingNode && len(root.Content) == 2 && root.Content[0].Value == "products" && root.Content[1].Kind == yaml.MappingNode {
		root = root.Content[1]
	}
	if root.Kind != yaml.MappingNode {
		return nil, &MappingError{File: name, Line: root.Line, Col: root.Column, Msg: "a product map is a mapping of product id, price id or tax code to category"}
	}
	pm := ProductMap{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if k.Kind != yaml.ScalarNode || v.Kind != yaml.ScalarNode || k.Value == "" || v.Value == "" {
			return nil, &MappingError{File: name, Line: k.Line, Col: k.Column, Msg: "want id: category, both non-empty strings"}
		}
		if _, dup := pm[k.Value]; dup {
			return nil, &MappingError{File: name, Line: k.Line, Col: k.Column, Msg: fmt.Sprintf("%q is given twice", k.Value)}
		}
		pm[k.Value] = v.Value
	}
	return pm, nil
}

// knownTaxCodes are the Stripe tax codes whose taxagg category is plain:
// software as a service for personal and for business use. Any other tax
// code is looked up in the product map (and falls back to the line's
// product and price ids).
var knownTaxCodes = map[string]string{
	"txcd_10103000": "saas",
	"txcd_10103001": "saas",
}
