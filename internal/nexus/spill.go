package nexus

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"time"

	"github.com/shopspring/decimal"

	"github.com/taxagg/taxagg/internal/money"
	"github.com/taxagg/taxagg/internal/txn"
)

// spill is one worker's scratch file of per-transaction records: written
// while the input streams, read back once at the end. Records are
// appended to buf and buf is written out whenever it holds spillChunk
// bytes.
type spill struct {
	f      *os.File
	name   string // still to remove at close (the unlink at creation failed)
	buf    []byte
	closed bool
}

const spillChunk = 64 << 10

// newSpill creates a spill file in dir and unlinks it at once where the
// system allows it, so that it disappears with the process whatever
// happens; elsewhere close removes it.
func newSpill(dir string) (*spill, error) {
	f, err := os.CreateTemp(dir, "taxagg-nexus-*.spill")
	if err != nil {
		return nil, fmt.Errorf("nexus spill: %w", err)
	}
	s := &spill{f: f, buf: make([]byte, 0, spillChunk+256)}
	if os.Remove(f.Name()) != nil {
		s.name = f.Name()
	}
	return s, nil
}

func (s *spill) close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	err := s.f.Close()
	if s.name != "" {
		if rerr := os.Remove(s.name); rerr != nil && !errors.Is(rerr, os.ErrNotExist) && err == nil {
			err = rerr
		}
	}
	if err != nil {
		return fmt.Errorf("nexus spill: %w", err)
	}
	return nil
}

// spillRec is one transaction as one jurisdiction sees it.
type spillRec struct {
	jur    uint32 // index into the worker's jurisdictions
	day    txn.Date
	at     time.Time // zero when the input gave a date only
	id     string
	amount decimal.Decimal // negative for a refund
	refund bool
}

const (
	flagRefund = 1 << iota
	flagTime
	flagFixed // the amount is a money.Fixed, else decimal text
)

// maxSpillRecord bounds a record's length: its prefix has 3 bytes.
const maxSpillRecord = 1<<21 - 1

// Record layout: uvarint length of the rest, then uvarint jur, varint day,
// flags byte, [varint unix seconds, uvarint nanoseconds], uvarint len +
// id, then the amount: varint coefficient and varint exponent when
// flagFixed, else uvarint len + decimal text.
func (s *spill) write(jur uint32, tx *txn.Transaction, amount *netSum) error {
	var txt string
	if !amount.fixed {
		txt = amount.d.String()
	}
	if len(tx.ID)+len(txt)+64 > maxSpillRecord {
		return fmt.Errorf("nexus spill: transaction %.40q...: id or amount too long", tx.ID)
	}
	// The length prefix is written as 3 bytes (a padded uvarint) so that
	// the record can be appended in place: longer records are refused
	// above.
	b := s.buf
	start := len(b)
	b = append(b, 0x80, 0x80, 0)
	b = binary.AppendUvarint(b, uint64(jur))
	b = binary.AppendVarint(b, int64(tx.Day))
	var flags byte
	if tx.Refund {
		flags |= flagRefund
	}
	if !tx.Time.IsZero() {
		flags |= flagTime
	}
	if amount.fixed {
		flags |= flagFixed
	}
	b = append(b, flags)
	if flags&flagTime != 0 {
		b = binary.AppendVarint(b, tx.Time.Unix())
		b = binary.AppendUvarint(b, uint64(tx.Time.Nanosecond()))
	}
	b = binary.AppendUvarint(b, uint64(len(tx.ID)))
	b = append(b, tx.ID...)
	if amount.fixed {
		b = binary.AppendVarint(b, amount.f.C)
		b = binary.AppendVarint(b, int64(amount.f.E))
	} else {
		b = binary.AppendUvarint(b, uint64(len(txt)))
		b = append(b, txt...)
	}
	n := len(b) - start - 3
	b[start], b[start+1], b[start+2] = byte(n)|0x80, byte(n>>7)|0x80, byte(n>>14)
	s.buf = b
	if len(b) >= spillChunk {
		return s.flush()
	}
	return nil
}

func (s *spill) flush() error {
	if len(s.buf) == 0 {
		return nil
	}
	_, err := s.f.Write(s.buf)
	s.buf = s.buf[:0]
	if err != nil {
		return fmt.Errorf("nexus spill: %w", err)
	}
	return nil
}

// reader writes out what is buffered and returns a reader of the file
// from the start.
func (s *spill) reader() (*spillReader, error) {
	if err := s.flush(); err != nil {
		return nil, err
	}
	if _, err := s.f.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("nexus spill: %w", err)
	}
	return &spillReader{r: s.f, buf: make([]byte, 0, 4*spillChunk)}, nil
}

// spillReader decodes records straight from its buffer: buf[pos:] is
// what was read and not yet decoded.
type spillReader struct {
	r   io.Reader
	buf []byte
	pos int
	eof bool
}

var errCorrupt = errors.New("nexus spill: corrupt record")

// fill makes at least n bytes available at buf[pos:] unless the file
// ends first.
func (sr *spillReader) fill(n int) error {
	if len(sr.buf)-sr.pos >= n {
		return nil
	}
	copy(sr.buf, sr.buf[sr.pos:])
	sr.buf = sr.buf[:len(sr.buf)-sr.pos]
	sr.pos = 0
	if cap(sr.buf) < n {
		sr.buf = append(make([]byte, 0, n+spillChunk), sr.buf...)
	}
	for len(sr.buf) < n && !sr.eof {
		m, err := sr.r.Read(sr.buf[len(sr.buf):cap(sr.buf)])
		sr.buf = sr.buf[:len(sr.buf)+m]
		if errors.Is(err, io.EOF) {
			sr.eof = true
		} else if err != nil {
			return fmt.Errorf("nexus spill: %w", err)
		}
	}
	return nil
}

// rd decodes the fields of one record from b, noting a short or bad
// field in bad.
type rd struct {
	b   []byte
	bad bool
}

func (d *rd) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.bad, d.b = true, nil
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *rd) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.bad, d.b = true, nil
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *rd) bytes(n uint64) []byte {
	if uint64(len(d.b)) < n {
		d.bad, d.b = true, nil
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

// next reads one record; io.EOF at the end. Only a record keep wants is
// decoded past its day, so skipping costs no allocation.
func (sr *spillReader) next(r *spillRec, keep func(jur uint32, day txn.Date) bool) (bool, error) {
	if err := sr.fill(3); err != nil {
		return false, err
	}
	if len(sr.buf) == sr.pos {
		return false, io.EOF // at a record boundary
	}
	if len(sr.buf)-sr.pos < 3 {
		return false, errCorrupt
	}
	h := sr.buf[sr.pos:]
	if h[0]&0x80 == 0 || h[1]&0x80 == 0 || h[2]&0x80 != 0 {
		return false, errCorrupt
	}
	n := int(h[0]&0x7f) | int(h[1]&0x7f)<<7 | int(h[2])<<14
	if err := sr.fill(3 + n); err != nil {
		return false, err
	}
	if len(sr.buf)-sr.pos < 3+n {
		return false, errCorrupt
	}
	d := rd{b: sr.buf[sr.pos+3 : sr.pos+3+n]}
	sr.pos += 3 + n
	ju := d.uvarint()
	day := d.varint()
	if d.bad || ju > math.MaxUint32 || day < math.MinInt32 || day > math.MaxInt32 {
		return false, errCorrupt
	}
	if !keep(uint32(ju), txn.Date(day)) {
		return false, nil
	}
	flags := d.bytes(1)
	if d.bad {
		return false, errCorrupt
	}
	var sec int64
	var nsec uint64
	if flags[0]&flagTime != 0 {
		sec = d.varint()
		nsec = d.uvarint()
	}
	id := d.bytes(d.uvarint())
	var amount decimal.Decimal
	if flags[0]&flagFixed != 0 {
		c := d.varint()
		e := d.varint()
		if e < math.MinInt32 || e > math.MaxInt32 {
			return false, errCorrupt
		}
		amount = money.Fixed{C: c, E: int32(e)}.Decimal()
	} else {
		txt := d.bytes(d.uvarint())
		if !d.bad {
			var err error
			if amount, err = decimal.NewFromString(string(txt)); err != nil {
				return false, errCorrupt
			}
		}
	}
	if d.bad || len(d.b) != 0 {
		return false, errCorrupt
	}
	r.jur, r.day, r.refund, r.amount = uint32(ju), txn.Date(day), flags[0]&flagRefund != 0, amount
	r.id = string(id)
	r.at = time.Time{}
	if flags[0]&flagTime != 0 {
		r.at = time.Unix(sec, int64(nsec)).UTC()
	}
	return true, nil
}
