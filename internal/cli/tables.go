package cli

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/taxagg/taxagg/internal/stream"
)

// rowTarget is how a command's records are written: the format, the
// --columns picked, and, for a table on a terminal, the width to fit and
// where the note about fitting goes. Every command opens its record writer
// through it.
type rowTarget struct {
	format  stream.OutputFormat
	columns []string
	width   int
	note    func(stream.Fitted)
}

// newRowTarget is the target for a command writing in format; tty says
// whether the records go to the terminal.
func newRowTarget(f *Factory, format stream.OutputFormat, tty bool, columns []string) rowTarget {
	t := rowTarget{format: format, columns: columns}
	if format == stream.OutputTable && tty {
		t.width = terminalWidth(f)
		t.note = func(fit stream.Fitted) {
			var parts []string
			if len(fit.Dropped) > 0 {
				parts = append(parts, "without "+strings.Join(fit.Dropped, ", "))
			}
			if len(fit.Shortened) > 0 {
				parts = append(parts, "shortened "+strings.Join(fit.Shortened, ", "))
			}
			fmt.Fprintf(f.IO.ErrOut, "taxagg: the table is narrowed to the terminal's %d columns (%s); --columns picks the columns, --format csv prints them all\n",
				fit.Width, strings.Join(parts, "; "))
		}
	}
	return t
}

// terminalWidth is $COLUMNS when set, else the terminal's width (0 when
// unknown: no fitting).
func terminalWidth(f *Factory) int {
	if f.Getenv != nil {
		if n, err := strconv.Atoi(f.Getenv("COLUMNS")); err == nil && n > 0 {
			return n
		}
	}
	return f.IO.TerminalWidth
}

// check refuses --columns that cols does not have, before any input is
// read.
func (t rowTarget) check(cols []stream.Column) error {
	if len(t.columns) == 0 {
		return nil
	}
	if _, _, err := stream.SelectColumns(cols, t.columns); err != nil {
		return usageErrorf("--columns: %v", err)
	}
	return nil
}

// open returns the writer of cols. projected is true when --columns picked
// some: the writer then takes rows of all of cols through Write only
// (WriteEncoded cannot cut an encoded row).
func (t rowTarget) open(w io.Writer, cols []stream.Column, opt stream.RowOptions) (rw stream.RowWriter, projected bool, err error) {
	opt.TableWidth, opt.Note = t.width, t.note
	if len(t.columns) == 0 {
		return stream.NewRowWriter(w, t.format, cols, opt), false, nil
	}
	sel, idx, err := stream.SelectColumns(cols, t.columns)
	if err != nil {
		return nil, false, usageErrorf("--columns: %v", err)
	}
	return stream.Project(stream.NewRowWriter(w, t.format, sel, opt), idx), true, nil
}

// recordOutput opens a transaction command's output (stdout or --out) and
// its row target for cols: the frame aggregate, calc and nexus share. On
// error the output is already given up.
func (o *txOptions) recordOutput(f *Factory, cols []stream.Column) (w io.Writer, t rowTarget, finish func(error) error, err error) {
	w, tty, finish, err := o.outputTarget(f.IO)
	if err != nil {
		return nil, t, nil, err
	}
	format, err := outputFormat(o.Format, tty)
	if err == nil {
		t = newRowTarget(f, format, tty, o.Columns)
		err = t.check(cols)
	}
	if err != nil {
		return nil, t, nil, finish(err)
	}
	return w, t, finish, nil
}
