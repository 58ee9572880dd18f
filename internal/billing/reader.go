package billing

import (
	"errors"
	"fmt"
	"io"
)

// ReaderOptions say how to read one export.
type ReaderOptions struct {
	// Preset is auto, canonical, stripe or chargebee; ignored when Mapping
	// is set. Auto recognises each JSON record by its shape: a Stripe object
	// ("object": "charge"|"invoice"|"refund"|"credit_note"), a Chargebee
	// invoice or credit note (bare with currency_code, or wrapped as in list
	// responses), else canonical. CSV input is canonical under auto.
	Preset  string
	Mapping *Mapping
	// Format is the input format: auto (default), json, ndjson, csv.
	Format string
	// Extract lists source paths (dotted paths into JSON, or CSV columns)
	// whose values the reader copies into Record.Extra, in order.
	Extract []string
	// Fixed lets the reader return the amounts of plain canonical records
	// as Record.AmountFixed and Record.TaxFixed (Record.Fixed set) instead
	// of decimals, which is faster; the caller must then look at
	// Record.Fixed before using Amount or Tax.
	Fixed bool
}

// Reader streams canonical records out of one export.
type Reader struct {
	source string
	opts   ReaderOptions
	items  itemReader
	csv    *csvGetter
	csvMap *Mapping
	dec    decoder
	// fast: plain canonical records may take fastCanonical.
	fast  bool
	arena arena
}

// NewReader starts reading r, named source in errors. Gzip input is
// detected by its magic bytes.
func NewReader(r io.Reader, source string, opts ReaderOptions) (*Reader, error) {
	if opts.Preset == "" {
		opts.Preset = PresetAuto
	}
	switch opts.Preset {
	case PresetAuto, PresetCanonical, PresetStripe, PresetChargebee:
	default:
		if opts.Mapping == nil {
			return nil, fmt.Errorf("unknown preset %q (want auto, canonical, stripe, chargebee or a mapping file)", opts.Preset)
		}
	}
	format := opts.Format
	if opts.Mapping != nil && (format == "" || format == FormatAuto) {
		format = opts.Mapping.Format
	}
	items, err := openItems(r, source, format)
	if err != nil {
		return nil, err
	}
	rd := &Reader{source: source, opts: opts, items: items}
	rd.fast = opts.Fixed && opts.Mapping == nil && len(opts.Extract) == 0 &&
		(opts.Preset == PresetAuto || opts.Preset == PresetCanonical)
	if head := items.header(); head != nil {
		if opts.Mapping == nil && (opts.Preset == PresetStripe || opts.Preset == PresetChargebee) {
			return nil, &InputError{Source: source, Line: 1, Err: fmt.Errorf("the %s preset reads JSON, not CSV", opts.Preset)}
		}
		rd.csv = newCSVGetter(head)
		index := rd.csv.index
		rd.csvMap = opts.Mapping
		if rd.csvMap == nil {
			rd.csvMap = identityMapping()
		}
		if err := checkColumns(rd.csvMap, index, []string{"id", "date", "currency", "amount"}); err != nil {
			return nil, &InputError{Source: source, Line: 1, Err: err}
		}
	}
	return rd, nil
}

// Next returns the next record, or io.EOF. A bad record is an *InputError.
func (rd *Reader) Next() (Record, error) {
	it, err := rd.items.next()
	if err != nil {
		return Record{}, err
	}
	r, err := rd.convert(it)
	if err != nil {
		field := ""
		var fe *fieldError
		if errors.As(err, &fe) {
			field, err = fe.field, fe.err
		}
		return Record{}, &InputError{Source: rd.source, Line: it.line, Field: field, Err: err}
	}
	r.Source, r.Line = rd.source, it.line
	return r, nil
}

func (rd *Reader) convert(it item) (Record, error) {
	if it.json == nil {
		rd.csv.row = it.row
		r, err := mappedRecord(rd.csvMap, rd.csv)
		if err != nil {
			return r, err
		}
		return r, rd.extract(&r, rd.csv)
	}
	if rd.fast {
		var r Record
		if fastCanonical(it.json, &r, &rd.arena) {
			return r, nil
		}
	}
	var (
		r   Record
		err error
	)
	if rd.opts.Mapping != nil {
		if _, err := rd.dec.sc.Object(it.json); err != nil {
			return r, err
		}
		if err := checkDuplicateKeys(it.json); err != nil {
			return r, err
		}
		g := jsonGetter{d: &rd.dec, raw: it.json}
		if r, err = mappedRecord(rd.opts.Mapping, g); err != nil {
			return r, err
		}
		return r, rd.extract(&r, g)
	}
	var o object
	if err := rd.dec.decodeObject(it.json, &o); err != nil {
		return r, err
	}
	if o.Object == "event" && rd.opts.Preset != PresetCanonical && rd.opts.Preset != PresetChargebee {
		// A Stripe event carries its object in data.object.
		inner, ok, err := jsonGetter{d: &rd.dec, raw: it.json}.value("data.object")
		if err != nil || !ok {
			return r, errField("data.object", "is missing: an event without its object")
		}
		it.json = inner
		o = object{}
		if err := rd.dec.decodeObject(inner, &o); err != nil {
			var fe *fieldError
			if errors.As(err, &fe) {
				fe.field = "data.object." + fe.field
			}
			return r, err
		}
	}
	preset := rd.opts.Preset
	if preset == PresetAuto {
		preset = classify(&o)
	}
	switch preset {
	case PresetStripe:
		r, err = stripeRecord(&o)
	case PresetChargebee:
		r, err = rd.dec.chargebeeRecord(&o)
	case PresetCanonical:
		r, err = canonicalRecord(&o)
	default:
		return r, errField("object", "%q is not a record taxagg knows (charge, invoice, refund, credit_note)", o.Object)
	}
	if err != nil || len(rd.opts.Extract) == 0 {
		return r, err
	}
	g := jsonGetter{d: &rd.dec, raw: it.json}
	if preset == PresetChargebee {
		// Paths are relative to the invoice itself, wrapped or not.
		if inner, _ := chargebeeInner(&o); inner != nil {
			g.raw = inner
		}
	}
	return r, rd.extract(&r, g)
}

func (rd *Reader) extract(r *Record, g getter) error {
	if len(rd.opts.Extract) == 0 {
		return nil
	}
	r.Extra = make([]string, len(rd.opts.Extract))
	for i, p := range rd.opts.Extract {
		s, _, err := g.get(p)
		if err != nil {
			return &fieldError{p, err}
		}
		r.Extra[i] = s
	}
	return nil
}
