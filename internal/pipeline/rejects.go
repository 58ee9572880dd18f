package pipeline

import (
	"bufio"
	"io"
	"strconv"

	"github.com/taxagg/taxagg/internal/stream"
	"github.com/taxagg/taxagg/internal/txn"
)

// writeReject appends one bad record to the rejects stream as an NDJSON
// object {"source", "line", "field", "error", "record"} (docs/accounting.md).
func writeReject(w io.Writer, it *Item) error {
	bw := bufio.NewWriterSize(w, 512+len(it.Text))
	bw.WriteString(`{"source":`)
	stream.WriteJSONString(bw, it.Source)
	bw.WriteString(`,"line":`)
	bw.WriteString(strconv.Itoa(it.Line))
	bw.WriteString(`,"field":`)
	stream.WriteJSONString(bw, it.field)
	bw.WriteString(`,"error":`)
	stream.WriteJSONString(bw, it.err.Error())
	bw.WriteString(`,"record":`)
	stream.WriteJSONString(bw, string(it.Text))
	bw.WriteString("}\n")
	return bw.Flush()
}

// sourceName names the input a dedup position points to.
func sourceName(opt Options, p txn.Pos) string {
	if opt.sourceNames != nil && int(p.Source) < len(opt.sourceNames) {
		return opt.sourceNames[p.Source]
	}
	return "input " + strconv.Itoa(int(p.Source)+1)
}
