package rules

import (
	"fmt"
	"sort"
	"strings"
)

// Issue is one problem found in a rule file, at a 1-based line and column.
type Issue struct {
	File string
	Line int
	Col  int
	Msg  string
}

func (i Issue) String() string {
	if i.Line == 0 {
		return fmt.Sprintf("%s: %s", i.File, i.Msg)
	}
	return fmt.Sprintf("%s:%d:%d: %s", i.File, i.Line, i.Col, i.Msg)
}

// maxIssues caps how many issues one compilation reports, so a file in the
// wrong format does not flood the terminal.
const maxIssues = 50

// Issues is every problem found while compiling rule files, sorted by file
// order, line and column. It is the error Compile returns.
type Issues struct {
	List  []Issue
	order map[string]int // file name → position in the order given
	More  int            // issues beyond maxIssues, not listed
}

func (e *Issues) Error() string {
	var b strings.Builder
	for i, is := range e.List {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(is.String())
	}
	if e.More > 0 {
		fmt.Fprintf(&b, "\n(and %d more issues)", e.More)
	}
	return b.String()
}

func (e *Issues) add(file string, line, col int, format string, args ...any) {
	e.List = append(e.List, Issue{File: file, Line: line, Col: col, Msg: fmt.Sprintf(format, args...)})
}

func (e *Issues) sortAndCap() {
	sort.SliceStable(e.List, func(i, j int) bool {
		a, b := e.List[i], e.List[j]
		if a.File != b.File {
			return e.order[a.File] < e.order[b.File]
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if a.Col != b.Col {
			return a.Col < b.Col
		}
		return a.Msg < b.Msg
	})
	// The same issue can be found twice (from two sides of a pair).
	out := e.List[:0]
	for i, is := range e.List {
		if i > 0 && is == e.List[i-1] {
			continue
		}
		out = append(out, is)
	}
	e.List = out
	if len(e.List) > maxIssues {
		e.More = len(e.List) - maxIssues
		e.List = e.List[:maxIssues]
	}
}
