package state

import (
	"context"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/shopspring/decimal"

	"github.com/taxagg/taxagg/internal/money"
	"github.com/taxagg/taxagg/internal/nexus"
	"github.com/taxagg/taxagg/internal/rules"
	"github.com/taxagg/taxagg/internal/txn"
)

// A nexus state keeps, per counted transaction, what nexus.Worker.Add
// reads of it, in the entry's Extra:
//
//	uvarint(day) flags:byte [varint(unix nanoseconds) when flags&1]
//	uvarint(len(currency)) currency  amount(net sales)
//	uvarint(n) (uvarint(len(code)) code)*   jurisdictions with a nexus threshold
//
// flags: 1 the date had a time, 2 a refund.

func appendNexus(b []byte, tx *txn.Transaction, res *rules.Result) []byte {
	b = binary.AppendUvarint(b, uint64(tx.Day))
	var flags byte
	if !tx.Time.IsZero() {
		flags |= 1
	}
	if tx.Refund {
		flags |= 2
	}
	b = append(b, flags)
	if flags&1 != 0 {
		b = binary.AppendVarint(b, tx.Time.UnixNano())
	}
	b = binary.AppendUvarint(b, uint64(len(tx.Currency.Code)))
	b = append(b, tx.Currency.Code...)
	juris := res.Nexus()
	if len(juris) > 0 {
		b = appendAmount(b, AmountOf(nexus.NetAmount(tx, res)))
	} else {
		b = appendAmount(b, Amount{})
	}
	b = binary.AppendUvarint(b, uint64(len(juris)))
	for _, j := range juris {
		b = binary.AppendUvarint(b, uint64(len(j.Code)))
		b = append(b, j.Code...)
	}
	return b
}

// Replay gives the nexus worker every transaction earlier runs counted (an
// amended one as this run amends it: not at all, the run adds its new
// content), as nexus.Worker.Add would have seen it. Call it after the
// pipeline, before Finish.
func (r *Run) Replay(ctx context.Context, prog *rules.Program, w *nexus.Worker) error {
	r.cut()
	if err := r.stopWriter(); err != nil {
		return err
	}
	var tx txn.Transaction
	var res rules.Result
	return r.s.Current(ctx, func(e *Entry) error {
		if _, ok := r.amends[txn.StableIDHash(e.ID)]; ok {
			return nil
		}
		if err := decodeNexus(e, prog, &tx, &res); err != nil {
			return fmt.Errorf("%s: transaction %q: %w", r.s.path, e.ID, err)
		}
		w.Add(&tx, &res)
		return nil
	})
}

func decodeNexus(e *Entry, prog *rules.Program, tx *txn.Transaction, res *rules.Result) error {
	rd := reader{b: e.Extra}
	day := rd.uvarint()
	fl := rd.bytes(1)
	if fl == nil {
		return errCorrupt
	}
	tx.Reset()
	tx.ID = e.ID
	tx.Day = txn.Date(day)
	tx.RateDay = tx.Day
	tx.Refund = fl[0]&2 != 0
	if fl[0]&1 != 0 {
		tx.Time = time.Unix(0, rd.varint()).UTC()
	}
	code := string(rd.bytes(rd.uvarint()))
	amt := rd.amount()
	n := rd.uvarint()
	if rd.err != nil {
		return rd.err
	}
	cur, ok := money.LookupCurrency(code)
	if !ok {
		return fmt.Errorf("unknown currency %q", code)
	}
	tx.Currency = cur
	net := amt.Decimal()
	if tx.Refund {
		net = net.Neg()
	}
	tx.Lines = append(tx.Lines[:0], txn.Line{Amount: net, Quantity: decimal.NewFromInt(1), Product: "default"})
	res.Jurisdictions = nil // a Result's list may be shared: never append to its storage
	res.Lines = res.Lines[:0]
	for i := uint64(0); i < n && rd.err == nil; i++ {
		c := string(rd.bytes(rd.uvarint()))
		j, ok := prog.Jurisdiction(c)
		if !ok {
			return fmt.Errorf("jurisdiction %q is not in the rules", c)
		}
		res.Jurisdictions = append(res.Jurisdictions, j)
	}
	if rd.err == nil && len(rd.b) != 0 {
		rd.fail()
	}
	return rd.err
}
