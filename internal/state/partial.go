package state

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/taxagg/taxagg/internal/aggregate"
)

// A partial is a self-contained NDJSON file of totals and the transactions
// they count, written by `aggregate --partial` and `state export` and read
// by `merge`:
//
//	{"taxagg_partial":1,"command":"aggregate","period":"none",...}   header
//	{"row":1,"jurisdiction":"US-TX",...}                              row keys
//	{"id":"tx-1","hash":"0f3a...","lines":[[1,"129.99",...],...]}     transactions
//	{"total":1,"transactions":2,"figures":["259.98",...]}             totals
//	{"end":{"transactions":2,"rows":4}}                               end mark
//
// docs/state.md describes every field.

// PartialVersion is the partial format's version.
const PartialVersion = 1

// PartialHeader is a partial's first line.
type PartialHeader struct {
	Version     int              `json:"taxagg_partial"`
	Command     string           `json:"command"`
	Period      string           `json:"period"`
	ByRate      bool             `json:"by_rate"`
	Timezone    string           `json:"timezone"`
	Shard       string           `json:"shard,omitempty"`
	RulesSHA256 string           `json:"rules_sha256"`
	Rules       []string         `json:"rules"`
	Currencies  map[string]int32 `json:"currencies"`
}

// HeaderOf returns the partial header for a state's meta.
func HeaderOf(m Meta) PartialHeader {
	return PartialHeader{Version: PartialVersion, Command: m.Command, Period: m.Period, ByRate: m.ByRate,
		Timezone: m.Timezone, Shard: m.Shard, RulesSHA256: m.RulesSHA256, Rules: m.Rules, Currencies: map[string]int32{}}
}

type partialRow struct {
	Row int `json:"row"`
	RowKey
}

type partialTx struct {
	ID    string  `json:"id"`
	Hash  string  `json:"hash"`
	Lines [][]any `json:"lines"`
}

type partialTotal struct {
	Total        int      `json:"total"`
	Transactions int64    `json:"transactions"`
	Figures      []string `json:"figures"`
}

type partialEnd struct {
	End struct {
		Transactions int64 `json:"transactions"`
		Rows         int   `json:"rows"`
	} `json:"end"`
}

// PartialWriter writes a partial.
type PartialWriter struct {
	w    *bufio.Writer
	keys *Keys
	n    int64
	err  error
	line []byte
}

// NewPartialWriter writes the header and the row keys. Every key an entry
// refers to must be in keys.
func NewPartialWriter(w io.Writer, h PartialHeader, keys *Keys) *PartialWriter {
	pw := &PartialWriter{w: bufio.NewWriterSize(w, 1<<16), keys: keys}
	h.Version = PartialVersion
	if h.Currencies == nil {
		h.Currencies = map[string]int32{}
	}
	for i := 1; i <= keys.Len(); i++ {
		k := keys.Key(i)
		h.Currencies[k.Currency] = k.Digits
	}
	pw.json(h)
	for i := 1; i <= keys.Len(); i++ {
		pw.json(partialRow{Row: i, RowKey: *keys.Key(i)})
	}
	return pw
}

func (pw *PartialWriter) json(v any) {
	if pw.err != nil {
		return
	}
	b, err := json.Marshal(v)
	if err == nil {
		b = append(b, '\n')
		_, err = pw.w.Write(b)
	}
	pw.err = err
}

// Entry writes one transaction.
func (pw *PartialWriter) Entry(e *Entry) {
	if pw.err != nil {
		return
	}
	b := pw.line[:0]
	b = append(b, `{"id":`...)
	idj, _ := json.Marshal(e.ID)
	b = append(b, idj...)
	b = append(b, `,"hash":"`...)
	b = append(b, fmt.Sprintf("%016x", e.Content)...)
	b = append(b, `","lines":[`...)
	for i := range e.Lines {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '[')
		b = strconv.AppendInt(b, int64(e.Lines[i].Key), 10)
		for _, a := range e.Lines[i].Fig {
			b = append(b, ',', '"')
			b = append(b, decString(a.Decimal())...)
			b = append(b, '"')
		}
		b = append(b, ']')
	}
	b = append(b, "]}\n"...)
	pw.line = b
	_, pw.err = pw.w.Write(b)
	pw.n++
}

// Close writes the totals and the end mark.
func (pw *PartialWriter) Close(t *Totals) error {
	rows := 0
	for i := range t.rows {
		s := &t.rows[i]
		if s.tx == 0 {
			continue
		}
		rows++
		figs := make([]string, len(s.fig))
		for f := range s.fig {
			figs[f] = sumString(&s.fig[f])
		}
		pw.json(partialTotal{Total: i + 1, Transactions: s.tx, Figures: figs})
	}
	var end partialEnd
	end.End.Transactions, end.End.Rows = pw.n, rows
	pw.json(end)
	if pw.err != nil {
		return pw.err
	}
	return pw.w.Flush()
}

// Merger combines partials. The result does not depend on the order they
// are added in: a transaction in several partials counts once, and one
// with other content in another partial is an error naming both.
type Merger struct {
	hdr     *PartialHeader
	srcs    []string
	keys    *Keys
	totals  Totals
	ids     map[string]seen
	bodies  [][]byte
	Dups    int64 // transactions found in more than one partial
	scratch []byte
}

type seen struct {
	hash uint64
	src  int32
}

// NewMerger returns an empty Merger.
func NewMerger() *Merger { return &Merger{keys: newKeys(), ids: map[string]seen{}} }

// Header returns the partials' common header (after one Add).
func (m *Merger) Header() *PartialHeader { return m.hdr }

// Keys and Totals are the merged result.
func (m *Merger) Keys() *Keys       { return m.keys }
func (m *Merger) Totals() *Totals   { return &m.totals }
func (m *Merger) Transactions() int { return len(m.ids) }

// PartialError says where a partial is bad.
type PartialError struct {
	Name string
	Line int
	Err  error
}

func (e *PartialError) Error() string { return fmt.Sprintf("%s:%d: %v", e.Name, e.Line, e.Err) }
func (e *PartialError) Unwrap() error { return e.Err }

// Add reads one partial.
func (m *Merger) Add(name string, r io.Reader) error {
	br := bufio.NewReaderSize(r, 1<<16)
	src := int32(len(m.srcs))
	m.srcs = append(m.srcs, name)
	line := 0
	bad := func(format string, args ...any) error {
		return &PartialError{Name: name, Line: line, Err: fmt.Errorf(format, args...)}
	}
	keyMap := map[int]int{}
	var own Totals // this partial's totals recomputed from its transactions
	var claimed Totals
	var e Entry
	ended := false
	var ntx int64
	for {
		b, err := br.ReadBytes('\n')
		if len(b) == 0 && err == io.EOF {
			break
		}
		if err != nil && err != io.EOF {
			return fmt.Errorf("read %s: %w", name, err)
		}
		line++
		if ended {
			return bad("data after the end mark")
		}
		switch {
		case line == 1:
			var h PartialHeader
			if err := json.Unmarshal(b, &h); err != nil || h.Version == 0 {
				return bad("not a taxagg partial (its first line is no partial header)")
			}
			if h.Version != PartialVersion {
				return bad("partial format version %d; this taxagg reads version %d", h.Version, PartialVersion)
			}
			if err := m.checkHeader(name, &h); err != nil {
				return err
			}
		case strings.HasPrefix(string(b), `{"row":`):
			var pr partialRow
			if err := json.Unmarshal(b, &pr); err != nil {
				return bad("row: %v", err)
			}
			if d, ok := m.hdr.Currencies[pr.Currency]; ok && d != pr.Digits {
				return bad("currency %s has %d decimals here, %d in %s", pr.Currency, pr.Digits, d, m.srcs[0])
			}
			n, err := m.keys.Intern(pr.RowKey)
			if err != nil {
				return bad("%v", err)
			}
			keyMap[pr.Row] = n
		case strings.HasPrefix(string(b), `{"id":`):
			var pt partialTx
			if err := json.Unmarshal(b, &pt); err != nil {
				return bad("transaction: %v", err)
			}
			if err := decodePartialTx(&pt, keyMap, &e); err != nil {
				return bad("transaction %q: %v", pt.ID, err)
			}
			ntx++
			own.addEntry(&e, 1)
			if o, ok := m.ids[e.ID]; ok {
				if o.hash != e.Content {
					return bad("transaction %q has other content than in %s (a conflicting duplicate)", e.ID, m.srcs[o.src])
				}
				m.Dups++
				continue
			}
			m.ids[e.ID] = seen{hash: e.Content, src: src}
			m.totals.addEntry(&e, 1)
			m.scratch = appendBody(m.scratch[:0], e.ID, e.Content, e.Lines, nil)
			m.bodies = append(m.bodies, append([]byte(nil), m.scratch...))
		case strings.HasPrefix(string(b), `{"total":`):
			var t partialTotal
			if err := json.Unmarshal(b, &t); err != nil || len(t.Figures) != aggregate.NumFigures {
				return bad("total: malformed")
			}
			n, ok := keyMap[t.Total]
			if !ok {
				return bad("total of unknown row %d", t.Total)
			}
			s := claimed.at(n)
			s.tx = t.Transactions
			for f, v := range t.Figures {
				if s.fig[f], err = parseSum(v); err != nil {
					return bad("total: %q: %v", v, err)
				}
			}
		case strings.HasPrefix(string(b), `{"end":`):
			var end partialEnd
			if err := json.Unmarshal(b, &end); err != nil {
				return bad("end: malformed")
			}
			if end.End.Transactions != ntx {
				return bad("end mark says %d transactions, the partial has %d", end.End.Transactions, ntx)
			}
			ended = true
		default:
			return bad("unknown line")
		}
	}
	if line == 0 {
		return &PartialError{Name: name, Line: 1, Err: errors.New("empty file, not a taxagg partial")}
	}
	if !ended {
		return &PartialError{Name: name, Line: line, Err: errors.New("no end mark: the partial is cut short")}
	}
	if d := claimed.diff(&own, m.keys); d != "" {
		return &PartialError{Name: name, Line: line, Err: fmt.Errorf("its totals do not match its transactions:\n%s", d)}
	}
	return nil
}

func decodePartialTx(pt *partialTx, keyMap map[int]int, e *Entry) error {
	e.ID = pt.ID
	h, err := strconv.ParseUint(pt.Hash, 16, 64)
	if err != nil || len(pt.Hash) != 16 {
		return fmt.Errorf("hash %q is not 16 hex digits", pt.Hash)
	}
	e.Content = h
	e.Lines = e.Lines[:0]
	for _, l := range pt.Lines {
		if len(l) != 1+aggregate.NumFigures {
			return fmt.Errorf("a line has %d members, want %d", len(l), 1+aggregate.NumFigures)
		}
		kf, ok := l[0].(float64)
		if !ok {
			return errors.New("a line's row is not a number")
		}
		n, ok := keyMap[int(kf)]
		if !ok {
			return fmt.Errorf("unknown row %v", l[0])
		}
		var ln Line
		ln.Key = n
		for f := 0; f < aggregate.NumFigures; f++ {
			s, ok := l[1+f].(string)
			if !ok {
				return errors.New("a figure is not a string")
			}
			d, err := parseDec(s)
			if err != nil {
				return fmt.Errorf("figure %q: %v", s, err)
			}
			ln.Fig[f] = AmountOf(d)
		}
		e.Lines = append(e.Lines, ln)
	}
	return nil
}

func (m *Merger) checkHeader(name string, h *PartialHeader) error {
	if m.hdr == nil {
		c := *h
		if c.Currencies == nil {
			c.Currencies = map[string]int32{}
		}
		m.hdr = &c
		return nil
	}
	a := m.hdr
	first := m.srcs[0]
	diff := func(what, x, y string) error {
		return fmt.Errorf("%s and %s differ in %s (%s, %s): partials of different %s cannot be merged", first, name, what, x, y, what)
	}
	switch {
	case a.Command != h.Command:
		return diff("command", a.Command, h.Command)
	case a.RulesSHA256 != h.RulesSHA256:
		return diff("rules", "sha256 "+short(a.RulesSHA256), "sha256 "+short(h.RulesSHA256))
	case a.Period != h.Period:
		return diff("period", a.Period, h.Period)
	case a.ByRate != h.ByRate:
		return diff("rate splitting", "--by-rate "+strconv.FormatBool(a.ByRate), "--by-rate "+strconv.FormatBool(h.ByRate))
	case a.Timezone != h.Timezone:
		return diff("time zone", a.Timezone, h.Timezone)
	}
	for c, d := range h.Currencies {
		if o, ok := a.Currencies[c]; ok && o != d {
			return diff("currencies", fmt.Sprintf("%s with %d decimals", c, o), fmt.Sprintf("%s with %d decimals", c, d))
		}
		a.Currencies[c] = d
	}
	if a.Shard != h.Shard {
		a.Shard = "" // a merge of several shards is no one shard
	}
	return nil
}

// Entries calls fn with every merged transaction, sorted by id so that the
// merged partial is the same whatever the order of the inputs.
func (m *Merger) Entries(fn func(e *Entry)) error {
	type ib struct {
		id   string
		body []byte
	}
	list := make([]ib, 0, len(m.bodies))
	for _, b := range m.bodies {
		id, _, err := bodyHead(b)
		if err != nil {
			return err
		}
		list = append(list, ib{string(id), b})
	}
	sort.Slice(list, func(i, j int) bool { return list[i].id < list[j].id })
	var e Entry
	for _, x := range list {
		if err := decodeBody(x.body, &e); err != nil {
			return err
		}
		fn(&e)
	}
	return nil
}
