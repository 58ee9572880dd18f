package billing

import (
	"strings"
	"unsafe"

	"github.com/taxagg/taxagg/internal/money"
)

// fastCanonical reads a canonical record of the common shape into r: a
// JSON object whose members are only the canonical id, kind, date,
// updated, customer, currency, amount, tax and state, each once, each a
// plain string (printable ASCII, no escapes), with a YYYY-MM-DD date and
// amounts of at most 18 digits. ok is false for anything else, and r is
// then to be ignored: the general path reads (and reports) such a record
// exactly as it always has. The amounts are left in r.AmountFixed and
// r.TaxFixed (r.Fixed set), Amount and Tax zero.
func fastCanonical(b []byte, r *Record, ar *arena) (ok bool) {
	var (
		seen                                                    uint16
		id, kind, date, updated, customer, cur, amount, tax, st []byte
	)
	i := skipWS(b, 0)
	if i >= len(b) || b[i] != '{' {
		return false
	}
	i = skipWS(b, i+1)
	for {
		key, j, ok := plainString(b, i)
		if !ok {
			return false
		}
		j = skipWS(b, j)
		if j >= len(b) || b[j] != ':' {
			return false
		}
		val, j, ok := plainString(b, skipWS(b, j+1))
		if !ok {
			return false
		}
		var bit uint16
		switch string(key) {
		case "id":
			bit, id = 1<<0, val
		case "kind":
			bit, kind = 1<<1, val
		case "date":
			bit, date = 1<<2, val
		case "updated":
			bit, updated = 1<<3, val
		case "customer":
			bit, customer = 1<<4, val
		case "currency":
			bit, cur = 1<<5, val
		case "amount":
			bit, amount = 1<<6, val
		case "tax":
			bit, tax = 1<<7, val
		case "state":
			bit, st = 1<<8, val
		default:
			return false
		}
		if seen&bit != 0 {
			return false
		}
		seen |= bit
		j = skipWS(b, j)
		if j >= len(b) {
			return false
		}
		if b[j] == '}' {
			i = j + 1
			break
		}
		if b[j] != ',' {
			return false
		}
		i = skipWS(b, j+1)
	}
	if skipWS(b, i) != len(b) || len(id) == 0 || len(date) == 0 || seen&(1<<6) == 0 {
		return false
	}
	state, ok := plainState(st)
	if !ok {
		return false
	}
	d, ok := parseDate(string(date))
	if !ok {
		return false
	}
	if len(updated) > 0 {
		u, err := parseTime(string(updated))
		if err != nil {
			return false
		}
		r.Updated = u
	}
	c, ok := ar.currency(cur)
	if !ok {
		return false
	}
	a, ok := plainAmount(amount, c.Digits)
	if !ok {
		return false
	}
	var t money.Fixed
	if len(tax) > 0 {
		if t, ok = plainAmount(tax, c.Digits); !ok {
			return false
		}
	}
	r.ID = ar.str(id)
	if len(kind) > 0 {
		r.Kind = ar.str(kind)
	}
	if len(customer) > 0 {
		r.Customer = ar.str(customer)
	}
	r.Date, r.Currency, r.State = d, c.Code, state
	r.Fixed, r.AmountFixed, r.TaxFixed = true, a, t
	return true
}

// arena hands out the short strings of records from shared blocks, so
// that a record's id and customer are not an allocation each. A block's
// bytes are never written again once handed out; it is freed when no
// string in it is still in use.
// It also remembers the last currency read.
type arena struct {
	buf []byte
	// code is the text of cur, the last currency read.
	code []byte
	cur  money.Currency
}

// currency is currencyOf(strings.TrimSpace(string(b))), remembering the
// last one; ok is false when that is an error.
func (a *arena) currency(b []byte) (money.Currency, bool) {
	if a.code != nil && string(a.code) == string(b) {
		return a.cur, true
	}
	c, err := currencyOf(strings.TrimSpace(string(b)))
	if err != nil {
		return c, false
	}
	a.code, a.cur = append(a.code[:0], b...), c
	return c, true
}

const (
	arenaBlock = 32 << 10
	arenaMax   = 256 // longer strings get their own allocation
)

func (a *arena) str(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if len(b) > arenaMax {
		return string(b)
	}
	if cap(a.buf)-len(a.buf) < len(b) {
		a.buf = make([]byte, 0, arenaBlock)
	}
	n := len(a.buf)
	a.buf = append(a.buf, b...)
	return unsafe.String(&a.buf[n], len(b))
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// plainString reads a JSON string at b[i] made of printable ASCII without
// escapes; it returns its contents and the offset just past it.
func plainString(b []byte, i int) (s []byte, end int, ok bool) {
	if i >= len(b) || b[i] != '"' {
		return nil, 0, false
	}
	for k := i + 1; k < len(b); k++ {
		switch c := b[k]; {
		case c == '"':
			return b[i+1 : k], k + 1, true
		case c < 0x20 || c > 0x7e || c == '\\':
			return nil, 0, false
		}
	}
	return nil, 0, false
}

// plainState returns the shared string of a canonical state ("" for
// none); ok is false for anything else.
func plainState(b []byte) (string, bool) {
	switch string(b) {
	case "":
		return "", true
	case StateDraft:
		return StateDraft, true
	case StateOpen:
		return StateOpen, true
	case StatePaid:
		return StatePaid, true
	case StateVoid:
		return StateVoid, true
	case StateUncollectible:
		return StateUncollectible, true
	case StateRefunded:
		return StateRefunded, true
	}
	return "", false
}

// plainAmount reads -?[0-9]+(\.[0-9]+)? of at most 18 digits and at most
// digits fraction digits, as money.ParseAmount would (same coefficient,
// same exponent, as the money.Fixed "1.50" = 150 × 10^-2); ok is false for
// anything else.
func plainAmount(b []byte, digits int32) (money.Fixed, bool) {
	i, neg := 0, false
	if len(b) > 0 && b[0] == '-' {
		i, neg = 1, true
	}
	var c int64
	n := 0
	start := i
	for ; i < len(b) && '0' <= b[i] && b[i] <= '9'; i++ {
		c = c*10 + int64(b[i]-'0')
		n++
	}
	if i == start {
		return money.Fixed{}, false
	}
	frac := 0
	if i < len(b) && b[i] == '.' {
		i++
		fs := i
		for ; i < len(b) && '0' <= b[i] && b[i] <= '9'; i++ {
			if n++; n > 18 {
				return money.Fixed{}, false
			}
			c = c*10 + int64(b[i]-'0')
		}
		if frac = i - fs; frac == 0 {
			return money.Fixed{}, false
		}
	}
	if i != len(b) || n > 18 || frac > int(digits) {
		return money.Fixed{}, false
	}
	if neg {
		c = -c
	}
	return money.Fixed{C: c, E: -int32(frac)}, true
}
