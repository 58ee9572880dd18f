package nexus

import (
	"bufio"
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
// while the input streams, read back once at the end.
type spill struct {
	f      *os.File
	w      *bufio.Writer
	name   string // still to remove at close (the unlink at creation failed)
	buf    []byte
	closed bool
}

// newSpill creates a spill file in dir and unlinks it at once where the
// system allows it, so that it disappears with the process whatever
// happens; elsewhere close removes it.
func newSpill(dir string) (*spill, error) {
	f, err := os.CreateTemp(dir, "taxagg-nexus-*.spill")
	if err != nil {
		return nil, fmt.Errorf("nexus spill: %w", err)
	}
	s := &spill{f: f, w: bufio.NewWriterSize(f, 64<<10)}
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

// Record layout: uvarint jur, varint day, flags byte, [varint unix
// seconds, uvarint nanoseconds], uvarint len + id, then the amount: varint
// coefficient and varint exponent when flagFixed, else uvarint len +
// decimal text.
func (s *spill) write(jur uint32, tx *txn.Transaction, amount *netSum) error {
	b := s.buf[:0]
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
		amt := amount.d.String()
		b = binary.AppendUvarint(b, uint64(len(amt)))
		b = append(b, amt...)
	}
	s.buf = b
	if _, err := s.w.Write(b); err != nil {
		return fmt.Errorf("nexus spill: %w", err)
	}
	return nil
}

// reader flushes what was written and returns a reader of it from the
// start.
func (s *spill) reader() (*spillReader, error) {
	if err := s.w.Flush(); err != nil {
		return nil, fmt.Errorf("nexus spill: %w", err)
	}
	if _, err := s.f.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("nexus spill: %w", err)
	}
	return &spillReader{r: bufio.NewReaderSize(s.f, 64<<10)}, nil
}

type spillReader struct {
	r   *bufio.Reader
	buf []byte
}

var errCorrupt = errors.New("nexus spill: corrupt record")

// next reads one record; io.EOF at the end. The id is copied only when
// keep says the record is wanted, so skipping costs no allocation.
func (sr *spillReader) next(r *spillRec, keep func(jur uint32, day txn.Date) bool) (bool, error) {
	ju, err := binary.ReadUvarint(sr.r)
	if err != nil {
		return false, err // io.EOF at a record boundary
	}
	day, err := binary.ReadVarint(sr.r)
	if err != nil {
		return false, errCorrupt
	}
	flags, err := sr.r.ReadByte()
	if err != nil {
		return false, errCorrupt
	}
	var sec int64
	var nsec uint64
	if flags&flagTime != 0 {
		if sec, err = binary.ReadVarint(sr.r); err != nil {
			return false, errCorrupt
		}
		if nsec, err = binary.ReadUvarint(sr.r); err != nil {
			return false, errCorrupt
		}
	}
	want := keep(uint32(ju), txn.Date(day))
	id, err := sr.bytes()
	if err != nil {
		return false, err
	}
	if want {
		r.id = string(id)
	}
	var amount decimal.Decimal
	if flags&flagFixed != 0 {
		c, err := binary.ReadVarint(sr.r)
		if err != nil {
			return false, errCorrupt
		}
		e, err := binary.ReadVarint(sr.r)
		if err != nil || e < math.MinInt32 || e > math.MaxInt32 {
			return false, errCorrupt
		}
		if want {
			amount = money.Fixed{C: c, E: int32(e)}.Decimal()
		}
	} else {
		amt, err := sr.bytes()
		if err != nil {
			return false, err
		}
		if want {
			if amount, err = decimal.NewFromString(string(amt)); err != nil {
				return false, errCorrupt
			}
		}
	}
	if !want {
		return false, nil
	}
	r.jur, r.day, r.refund, r.amount = uint32(ju), txn.Date(day), flags&flagRefund != 0, amount
	r.at = time.Time{}
	if flags&flagTime != 0 {
		r.at = time.Unix(sec, int64(nsec)).UTC()
	}
	return true, nil
}

func (sr *spillReader) bytes() ([]byte, error) {
	n, err := binary.ReadUvarint(sr.r)
	if err != nil || n > 1<<20 {
		return nil, errCorrupt
	}
	if uint64(cap(sr.buf)) < n {
		sr.buf = make([]byte, n)
	}
	sr.buf = sr.buf[:n]
	if _, err := io.ReadFull(sr.r, sr.buf); err != nil {
		return nil, errCorrupt
	}
	return sr.buf, nil
}
