package state

import (
	"context"
	"fmt"
)

// VerifyReport is what Verify found.
type VerifyReport struct {
	Transactions int64 // counted transactions (current entries)
	Rows         int   // rows with at least one transaction
	Problems     []string
}

// Verify checks the database's own integrity, every segment's checksum,
// and that the stored totals equal the sums of the stored transactions'
// contributions, row by row and figure by figure.
func (s *Store) Verify(ctx context.Context) (*VerifyReport, error) {
	rep := &VerifyReport{}
	rows, err := s.db.QueryContext(ctx, `PRAGMA integrity_check`)
	if err != nil {
		return nil, s.wrap(err)
	}
	for rows.Next() {
		var msg string
		if err := rows.Scan(&msg); err != nil {
			rows.Close()
			return nil, s.wrap(err)
		}
		if msg != "ok" {
			rep.Problems = append(rep.Problems, "sqlite: "+msg)
		}
	}
	rows.Close()
	if len(rep.Problems) > 0 {
		return rep, nil
	}
	if err := s.Load(ctx); err != nil {
		rep.Problems = append(rep.Problems, err.Error())
		return rep, nil
	}
	var re Totals
	err = s.Current(ctx, func(e *Entry) error {
		for i := range e.Lines {
			if k := e.Lines[i].Key; k > s.keys.Len() {
				return fmt.Errorf("transaction %q refers to unknown row key %d", e.ID, k)
			}
		}
		re.addEntry(e, 1)
		rep.Transactions++
		return nil
	})
	if err != nil {
		rep.Problems = append(rep.Problems, err.Error())
		return rep, nil
	}
	if rep.Transactions != int64(s.index.Len()) {
		rep.Problems = append(rep.Problems, fmt.Sprintf("%d ids indexed, %d entries current", s.index.Len(), rep.Transactions))
	}
	if d := s.totals.diff(&re, s.keys); d != "" {
		rep.Problems = append(rep.Problems, "stored totals differ from the stored transactions:\n"+d)
	}
	for i := range s.totals.rows {
		if s.totals.rows[i].tx > 0 {
			rep.Rows++
		}
	}
	return rep, nil
}
