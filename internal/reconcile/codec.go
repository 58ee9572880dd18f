package reconcile

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/shopspring/decimal"

	"github.com/taxagg/taxagg/internal/money"
)

// The spill files hold length-prefixed frames of a small binary encoding of
// records and ledger rows. They live only for the run.

type encoder struct {
	b []byte
	// withRecs keeps the input records behind a row (for --review and
	// --report); without them the runs are much smaller.
	withRecs bool
}

func (e *encoder) uvarint(x uint64) { e.b = binary.AppendUvarint(e.b, x) }
func (e *encoder) varint(x int64)   { e.b = binary.AppendVarint(e.b, x) }
func (e *encoder) str(s string) {
	e.uvarint(uint64(len(s)))
	e.b = append(e.b, s...)
}
func (e *encoder) time(t time.Time) {
	if t.IsZero() {
		e.b = append(e.b, 0)
		return
	}
	e.b = append(e.b, 1)
	e.varint(t.Unix())
	e.uvarint(uint64(t.Nanosecond()))
}

// dec writes a decimal as its int64 coefficient and exponent when it fits,
// else as text.
func (e *encoder) amt(d money.Amount) {
	if f, ok := d.Fixed(); ok {
		e.b = append(e.b, 1)
		e.varint(int64(f.E))
		e.varint(f.C)
		return
	}
	e.b = append(e.b, 0)
	e.str(d.Decimal().String())
}

func (e *encoder) rec(r *rec) { e.recWith(r, true) }

// recWith writes r, with its members (a group's inputs) when members is set.
func (e *encoder) recWith(r *rec, members bool) {
	e.str(r.key())
	e.str(r.ID)
	e.str(r.Kind())
	e.str(r.Customer)
	e.str(r.Currency())
	e.str(r.State())
	e.b = append(e.b, r.side)
	e.uvarint(uint64(r.line()))
	e.uvarint(uint64(r.position()))
	e.time(r.Date().time())
	e.time(r.Updated().time())
	e.amt(r.Amount())
	e.amt(r.Tax())
	var ms []*rec
	if members {
		ms = r.members()
	}
	e.uvarint(uint64(len(ms)))
	for _, m := range ms {
		e.rec(m)
	}
}

// Row flags in the spill encoding.
const (
	rowFuzzy = 1 << iota
	rowCB
	rowHasA
	rowHasB
	// rowStubs: the side the row does not show is a stub (encoder.stub).
	rowStubs
)

// row writes a ledger row: its own fields, then its records, whose
// members (a group's inputs) only withRecs keeps.
func (e *encoder) row(r *Row) {
	e.b = append(e.b, byte(r.Status))
	var flags byte
	if r.Fuzzy {
		flags |= rowFuzzy
	}
	if r.cB {
		flags |= rowCB
	}
	if r.a != nil {
		flags |= rowHasA
	}
	if r.b != nil {
		flags |= rowHasB
	}
	if !e.withRecs && r.a != nil && r.b != nil {
		flags |= rowStubs
	}
	e.b = append(e.b, flags)
	diffs := r.Diffs()
	e.uvarint(uint64(len(diffs)))
	for _, d := range diffs {
		e.str(d.Field)
		e.str(d.A)
		e.str(d.B)
	}
	e.str(r.note())
	c := r.c()
	for _, x := range []*rec{r.a, r.b} {
		switch {
		case x == nil:
		case x == c || e.withRecs:
			e.recWith(x, e.withRecs)
		default:
			e.stub(x)
		}
	}
}

// stub writes what a ledger row needs of the side it does not show when
// the input records are not kept: its key, id and position (rowCmp).
func (e *encoder) stub(r *rec) {
	e.str(r.key())
	e.str(r.ID)
	e.uvarint(uint64(r.position()))
}

// dec writes a decimal (as amt does).
func (e *encoder) dec(d decimal.Decimal) { e.amt(money.AmountOf(d)) }

var errCorrupt = errors.New("spill file is corrupt")

type decoder struct {
	b     []byte
	err   error
	names [2]string // source names of the sides
}

func (d *decoder) uvarint() uint64 {
	x, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errCorrupt
		d.b = nil
		return 0
	}
	d.b = d.b[n:]
	return x
}

func (d *decoder) varint() int64 {
	x, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = errCorrupt
		d.b = nil
		return 0
	}
	d.b = d.b[n:]
	return x
}

func (d *decoder) byte() byte {
	if len(d.b) == 0 {
		d.err = errCorrupt
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) str() string {
	n := d.uvarint()
	if uint64(len(d.b)) < n {
		d.err = errCorrupt
		d.b = nil
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func (d *decoder) time() time.Time {
	if d.byte() == 0 {
		return time.Time{}
	}
	sec := d.varint()
	ns := d.uvarint()
	return time.Unix(sec, int64(ns)).UTC()
}

func (d *decoder) amt() money.Amount {
	if d.byte() == 1 {
		exp := d.varint()
		return money.AmountOfFixed(money.Fixed{C: d.varint(), E: int32(exp)})
	}
	x, err := decimal.NewFromString(d.str())
	if err != nil && d.err == nil {
		d.err = errCorrupt
	}
	return money.AmountOf(x)
}

// dec reads what encoder.dec wrote.
func (d *decoder) dec() decimal.Decimal { return d.amt().Decimal() }

func (d *decoder) rec() *rec {
	r := &rec{}
	d.recInto(r)
	return r
}

// recInto reads into r, a zero rec, what encoder.rec wrote.
func (d *decoder) recInto(r *rec) {
	key := d.str()
	r.ID = d.str()
	kind := d.str()
	r.Customer = d.str()
	r.setCurrency(d.str())
	r.setState(d.str())
	r.side = d.byte() & 1
	r.setLine(int(d.uvarint()))
	r.setPosition(int64(d.uvarint()))
	r.setDate(stampOf(d.time()))
	r.setUpdated(stampOf(d.time()))
	r.setAmount(d.amt())
	r.setTax(d.amt())
	if n := d.uvarint(); n > 0 {
		if n > 1<<24 || d.err != nil {
			d.err = errCorrupt
			return
		}
		members := make([]*rec, n)
		for i := range members {
			members[i] = d.rec()
		}
		r.extOf().members = members
	}
	r.setKind(kind)
	r.setKey(key)
}

// stubInto reads into r, a zero rec, what encoder.stub wrote.
func (d *decoder) stubInto(r *rec, side uint8) {
	key := d.str()
	r.ID = d.str()
	r.setPosition(int64(d.uvarint()))
	r.side = side
	r.setKey(key)
}

func (d *decoder) row() *Row {
	// The row and its records in one allocation.
	x := &struct {
		row  Row
		a, b rec
	}{}
	r := &x.row
	r.Status = Status(d.byte())
	flags := d.byte()
	r.Fuzzy, r.cB = flags&rowFuzzy != 0, flags&rowCB != 0
	var ext rowExt
	if n := d.uvarint(); n > 0 {
		if n > 1<<16 {
			d.err = errCorrupt
			return r
		}
		ext.diffs = make([]Diff, n)
		for i := range ext.diffs {
			ext.diffs[i] = Diff{d.str(), d.str(), d.str()}
		}
	}
	ext.note = d.str()
	if ext.diffs != nil || ext.note != "" {
		r.ext = &ext
	}
	if flags&rowHasA != 0 {
		r.a = &x.a
		if flags&rowStubs != 0 && r.cB {
			d.stubInto(r.a, sideA)
		} else {
			d.recInto(r.a)
		}
	}
	if flags&rowHasB != 0 {
		r.b = &x.b
		if flags&rowStubs != 0 && !r.cB {
			d.stubInto(r.b, sideB)
		} else {
			d.recInto(r.b)
		}
	}
	if r.Status >= numStatus || (r.a == nil && r.b == nil) || (r.cB && r.b == nil) {
		d.err = errCorrupt
	}
	return r
}

// frameWriter writes length-prefixed frames.
type frameWriter struct {
	w   *bufio.Writer
	e   encoder
	n   int64 // frames written
	len [binary.MaxVarintLen64]byte
}

func (f *frameWriter) flushFrame() error {
	k := binary.PutUvarint(f.len[:], uint64(len(f.e.b)))
	if _, err := f.w.Write(f.len[:k]); err != nil {
		return err
	}
	_, err := f.w.Write(f.e.b)
	f.e.b = f.e.b[:0]
	f.n++
	return err
}

func (f *frameWriter) writeRec(r *rec) error {
	f.e.rec(r)
	return f.flushFrame()
}

func (f *frameWriter) writeRow(r *Row) error {
	f.e.row(r)
	return f.flushFrame()
}

// frameReader reads length-prefixed frames.
type frameReader struct {
	r   *bufio.Reader
	buf []byte
	d   decoder
}

func (f *frameReader) next() (*decoder, error) {
	n, err := binary.ReadUvarint(f.r)
	if err != nil {
		if err == io.EOF {
			return nil, io.EOF
		}
		return nil, fmt.Errorf("read spill file: %w", err)
	}
	if n > 1<<30 {
		return nil, errCorrupt
	}
	if uint64(cap(f.buf)) < n {
		f.buf = make([]byte, n)
	}
	f.buf = f.buf[:n]
	if _, err := io.ReadFull(f.r, f.buf); err != nil {
		return nil, fmt.Errorf("read spill file: %w", err)
	}
	f.d.b, f.d.err = f.buf, nil
	return &f.d, nil
}

func (f *frameReader) readRec() (*rec, error) {
	d, err := f.next()
	if err != nil {
		return nil, err
	}
	r := d.rec()
	return r, d.err
}

func (f *frameReader) readRow() (*Row, error) {
	d, err := f.next()
	if err != nil {
		return nil, err
	}
	r := d.row()
	return r, d.err
}
