package reconcile

import (
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"

	"github.com/taxagg/taxagg/internal/billing"
)

// MaxRecordBytes is the most input one record may take, as in the
// transaction readers: past it, with no record ended, the input is refused
// ("record too long") rather than buffered until memory runs out (a 2 GB
// line, /dev/zero).
const MaxRecordBytes = 64 << 20

var errRecordTooLong = errors.New("record too long")

// recordGuard counts the bytes read since the last record the billing
// reader returned. A gzip input is inflated here, so that the count is of
// the bytes the decoders buffer, not of the compressed ones.
type recordGuard struct {
	r     io.Reader
	since int64
	limit int64
}

func newRecordGuard(r io.Reader, source string, limit int64) (*recordGuard, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	g := &recordGuard{r: br, limit: limit}
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, &billing.InputError{Source: source, Err: fmt.Errorf("gzip: %w", err)}
		}
		g.r = zr
	}
	return g, nil
}

func (g *recordGuard) Read(p []byte) (int, error) {
	if g.since > g.limit {
		return 0, errRecordTooLong
	}
	n, err := g.r.Read(p)
	g.since += int64(n)
	return n, err
}

// recordDone starts the count of the next record.
func (g *recordGuard) recordDone() { g.since = 0 }

// check turns a read error caused by the guard into a positioned one.
func (g *recordGuard) check(err error, source string, records int64) error {
	if err == nil || g.since <= g.limit {
		return err
	}
	return &billing.InputError{Source: source,
		Err: fmt.Errorf("record %d is too long: it does not end within %d bytes", records+1, g.limit)}
}
