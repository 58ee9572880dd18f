package state

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/big"

	"github.com/shopspring/decimal"

	"github.com/taxagg/taxagg/internal/aggregate"
	"github.com/taxagg/taxagg/internal/money"
)

// Amount is one exact figure: a money.Fixed, or a decimal.Decimal when it
// does not fit one.
type Amount struct {
	F   money.Fixed
	Big *decimal.Decimal
}

// AmountOf returns d as an Amount.
func AmountOf(d decimal.Decimal) Amount {
	if f, ok := money.FixedOf(d); ok {
		return Amount{F: f}
	}
	return Amount{Big: &d}
}

// Decimal returns the amount as a decimal.Decimal.
func (a Amount) Decimal() decimal.Decimal {
	if a.Big != nil {
		return *a.Big
	}
	return a.F.Decimal()
}

func (a Amount) addTo(s *money.Sum) {
	if a.Big != nil {
		s.AddDecimal(*a.Big)
		return
	}
	s.Add(a.F)
}

func (a Amount) subFrom(s *money.Sum) {
	if a.Big != nil || a.F.C == math.MinInt64 {
		s.AddDecimal(a.Decimal().Neg())
		return
	}
	s.Add(money.Fixed{C: -a.F.C, E: a.F.E})
}

// Line is what one transaction added to one row.
type Line struct {
	Key int
	Fig [aggregate.NumFigures]Amount
}

// Entry is one counted transaction: its id, the stable hash of its
// content, and what it added to the totals.
type Entry struct {
	ID      string
	Content uint64
	Lines   []Line
	// Extra is what a command other than aggregate keeps of the
	// transaction (nexus: its day, time, net sales and jurisdictions).
	Extra []byte
}

func (e *Entry) distinctKeys() []int {
	var ks []int
outer:
	for i := range e.Lines {
		k := e.Lines[i].Key
		for _, o := range ks {
			if o == k {
				continue outer
			}
		}
		ks = append(ks, k)
	}
	return ks
}

// Binary form of an entry, as stored in a segment:
//
//	entry  = uvarint(len(body)) body
//	body   = uvarint(len(id)) id  content:uint64-LE  uvarint(nlines) line*
//	         uvarint(len(extra)) extra
//	line   = uvarint(key) mask:byte amount*   (one amount per mask bit set,
//	                                           figures in output order; a
//	                                           figure whose bit is clear is 0)
//	amount = s:byte varint(coefficient)       (s = -exponent, 0..254)
//	       | 255 varint(exponent) uvarint(n) coefficient-in-decimal[n]
//
// A figure is left out only when it is exactly zero with exponent 0, so
// that every sum keeps the exponent decimal addition gives it.

func appendAmount(b []byte, a Amount) []byte {
	if a.Big == nil && a.F.E <= 0 && a.F.E >= -254 {
		b = append(b, byte(-a.F.E))
		return binary.AppendVarint(b, a.F.C)
	}
	d := a.Decimal()
	b = append(b, 255)
	b = binary.AppendVarint(b, int64(d.Exponent()))
	c := d.Coefficient().String()
	b = binary.AppendUvarint(b, uint64(len(c)))
	return append(b, c...)
}

func isZero0(a *Amount) bool { return a.Big == nil && a.F.C == 0 && a.F.E == 0 }

// appendBody appends an entry's body (without its length).
func appendBody(b []byte, id string, content uint64, lines []Line, extra []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(id)))
	b = append(b, id...)
	b = binary.LittleEndian.AppendUint64(b, content)
	b = binary.AppendUvarint(b, uint64(len(lines)))
	for i := range lines {
		l := &lines[i]
		b = binary.AppendUvarint(b, uint64(l.Key))
		var mask byte
		for f := range l.Fig {
			if !isZero0(&l.Fig[f]) {
				mask |= 1 << f
			}
		}
		b = append(b, mask)
		for f := range l.Fig {
			if mask&(1<<f) != 0 {
				b = appendAmount(b, l.Fig[f])
			}
		}
	}
	b = binary.AppendUvarint(b, uint64(len(extra)))
	return append(b, extra...)
}

var errCorrupt = errors.New("corrupt entry")

type reader struct {
	b   []byte
	err error
}

func (r *reader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) bytes(n uint64) []byte {
	if uint64(len(r.b)) < n {
		r.fail()
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) fail() {
	if r.err == nil {
		r.err = errCorrupt
	}
	r.b = nil
}

func (r *reader) amount() Amount {
	s := r.bytes(1)
	if s == nil {
		return Amount{}
	}
	if s[0] != 255 {
		return Amount{F: money.Fixed{C: r.varint(), E: -int32(s[0])}}
	}
	e := r.varint()
	c := r.bytes(r.uvarint())
	var bi big.Int
	if _, ok := bi.SetString(string(c), 10); !ok || e < math.MinInt32 || e > math.MaxInt32 {
		r.fail()
		return Amount{}
	}
	d := decimal.NewFromBigInt(&bi, int32(e))
	return Amount{Big: &d}
}

// nextEntry cuts the next entry off a segment: its body and the rest.
func nextEntry(seg []byte) (body, rest []byte, err error) {
	n, k := binary.Uvarint(seg)
	if k <= 0 || uint64(len(seg)-k) < n {
		return nil, nil, errCorrupt
	}
	return seg[k : k+int(n)], seg[k+int(n):], nil
}

// bodyHead reads the id and content hash of a body.
func bodyHead(body []byte) (id []byte, content uint64, err error) {
	r := reader{b: body}
	id = r.bytes(r.uvarint())
	c := r.bytes(8)
	if r.err != nil {
		return nil, 0, r.err
	}
	return id, binary.LittleEndian.Uint64(c), nil
}

// decodeBody reads a whole body into e.
func decodeBody(body []byte, e *Entry) error {
	r := reader{b: body}
	e.ID = string(r.bytes(r.uvarint()))
	if c := r.bytes(8); c != nil {
		e.Content = binary.LittleEndian.Uint64(c)
	}
	n := r.uvarint()
	if n > uint64(len(body)) {
		return errCorrupt
	}
	e.Lines = e.Lines[:0]
	for i := uint64(0); i < n && r.err == nil; i++ {
		var l Line
		l.Key = int(r.uvarint())
		m := r.bytes(1)
		if m == nil {
			break
		}
		for f := range l.Fig {
			if m[0]&(1<<f) != 0 {
				l.Fig[f] = r.amount()
			}
		}
		if l.Key < 1 {
			r.fail()
		}
		e.Lines = append(e.Lines, l)
	}
	e.Extra = append(e.Extra[:0], r.bytes(r.uvarint())...)
	if r.err == nil && len(r.b) != 0 {
		r.fail()
	}
	if r.err != nil {
		return fmt.Errorf("%w (id %q)", r.err, e.ID)
	}
	return nil
}
