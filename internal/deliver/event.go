package deliver

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/taxagg/taxagg/internal/stream"
)

// Payload is the body of an event as it is sent and signed:
//
//	{"type":"tax.calculated","timestamp":"2026-03-01T12:00:00Z",
//	 "data":{"transaction_id":"s1","version":1,"record":{...calc's record...}}}
//
// timestamp is when the event was recorded in the outbox; version counts
// the distinct contents recorded for the transaction id, from 1.
func Payload(typ string, recorded time.Time, txnID string, version int64, record []byte) []byte {
	var b bytes.Buffer
	b.WriteString(`{"type":`)
	writeJSONString(&b, typ)
	b.WriteString(`,"timestamp":`)
	writeJSONString(&b, recorded.UTC().Format(time.RFC3339))
	b.WriteString(`,"data":{"transaction_id":`)
	writeJSONString(&b, txnID)
	b.WriteString(`,"version":`)
	b.WriteString(strconv.FormatInt(version, 10))
	b.WriteString(`,"record":`)
	b.Write(record)
	b.WriteString(`}}`)
	return b.Bytes()
}

func writeJSONString(b *bytes.Buffer, s string) {
	enc, _ := json.Marshal(s) // a string always marshals
	b.Write(enc)
}

var idEncoding = base32.NewEncoding("0123456789abcdefghijklmnopqrstuv").WithPadding(base32.NoPadding)

// MessageID is the webhook-id of an event for an endpoint: derived from the
// transaction id, the content's hash and the endpoint id, so it is the same
// on every attempt, after a restart, and for the same record read again.
func MessageID(txnID, hash, endpoint string) string {
	h := sha256.New()
	h.Write([]byte("taxagg deliver v1\x00"))
	h.Write([]byte(txnID))
	h.Write([]byte{0})
	h.Write([]byte(hash))
	h.Write([]byte{0})
	h.Write([]byte(endpoint))
	return "msg_" + idEncoding.EncodeToString(h.Sum(nil)[:20])
}

// ParseRecord reads one calc record: a JSON object with an "id" (a string
// or a number). It returns the transaction id, the record as compact JSON
// and the hash of that content.
func ParseRecord(text []byte) (id string, compact []byte, hash string, err error) {
	var fields map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(text))
	dec.UseNumber()
	if err := dec.Decode(&fields); err != nil {
		var syn *json.SyntaxError
		if errors.As(err, &syn) {
			return "", nil, "", fmt.Errorf("not a JSON object: %v", syn)
		}
		var typ *json.UnmarshalTypeError
		if errors.As(err, &typ) || fields == nil {
			return "", nil, "", errors.New("not a JSON object")
		}
		return "", nil, "", fmt.Errorf("not a JSON object: %v", err)
	}
	if fields == nil {
		return "", nil, "", errors.New("not a JSON object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return "", nil, "", errors.New("more than one JSON value on the line")
	}
	raw, ok := fields["id"]
	if !ok {
		return "", nil, "", &fieldError{"id", errors.New("missing: an event needs the transaction's id")}
	}
	var s string
	var n json.Number
	switch {
	case json.Unmarshal(raw, &s) == nil:
		id = s
	case json.Unmarshal(raw, &n) == nil:
		id = n.String()
	default:
		return "", nil, "", &fieldError{"id", fmt.Errorf("%s is not a string or a number", raw)}
	}
	if id == "" {
		return "", nil, "", &fieldError{"id", errors.New("empty")}
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, text); err != nil {
		return "", nil, "", fmt.Errorf("not a JSON object: %v", err)
	}
	sum := sha256.Sum256(buf.Bytes())
	return id, buf.Bytes(), "sha256:" + hex.EncodeToString(sum[:]), nil
}

type fieldError struct {
	field string
	err   error
}

func (e *fieldError) Error() string { return e.field + ": " + e.err.Error() }

// ReadStats counts what ReadEvents did with its input.
type ReadStats struct {
	Read int // records read
	RecordResult
}

// ReadEvents reads calc's output (NDJSON, or a JSON array as calc --format
// json writes it; gzip is recognised) from r and records each record as an
// event, a batch per transaction. A bad record stops the read with an error
// naming its place (name:line: reason); what was recorded before it stays
// recorded, and reading the input again after fixing it adds only the rest.
func ReadEvents(ctx context.Context, st *Store, name string, r io.Reader, eps []Endpoint, now func() time.Time) (ReadStats, error) {
	var stats ReadStats
	rd, err := stream.Open(name, r, stream.FormatAuto, stream.Options{})
	if err != nil {
		return stats, err
	}
	if rd.Format() == stream.FormatCSV {
		return stats, fmt.Errorf("%s: deliver reads the NDJSON (or JSON) that taxagg calc writes, not CSV", rd.Source())
	}
	const batchSize = 500
	batch := make([]Incoming, 0, batchSize)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		res, err := st.Record(ctx, batch, eps, now())
		if err != nil {
			return err
		}
		stats.New += res.New
		stats.Duplicate += res.Duplicate
		stats.Deliveries += res.Deliveries
		batch = batch[:0]
		return nil
	}
	for {
		rec, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			if ferr := flush(); ferr != nil {
				return stats, ferr
			}
			return stats, err
		}
		if rec.Err != nil {
			if ferr := flush(); ferr != nil {
				return stats, ferr
			}
			return stats, rec.Err
		}
		id, compact, hash, err := ParseRecord(rec.Text)
		if err != nil {
			if ferr := flush(); ferr != nil {
				return stats, ferr
			}
			serr := &stream.Error{Source: rd.Source(), Line: rec.Line, Err: err}
			var fe *fieldError
			if errors.As(err, &fe) {
				serr.Field, serr.Err = fe.field, fe.err
			}
			return stats, serr
		}
		stats.Read++
		batch = append(batch, Incoming{TxnID: id, Hash: hash, Record: compact, Source: rd.Source() + ":" + strconv.Itoa(rec.Line)})
		if len(batch) == batchSize {
			if err := ctx.Err(); err != nil {
				return stats, err
			}
			if err := flush(); err != nil {
				return stats, err
			}
		}
	}
	return stats, flush()
}
