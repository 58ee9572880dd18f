package kstream

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/taxagg/taxagg/internal/aggregate"
	"github.com/taxagg/taxagg/internal/rules"
)

func restoreMember(t testing.TB) *member {
	mb := &member{cfg: Config{Group: "g", Topic: "tx", Totals: "totals", Program: program(t)}, taxes: map[string]*rules.Tax{},
		log: slog.New(slog.DiscardHandler)}
	for _, tx := range prog.Taxes {
		mb.taxes[tx.Jurisdiction.Code+"/"+tx.ID] = tx
	}
	return mb
}

func newRestoring(want int64) *restoring {
	return &restoring{want: want, rows: map[string]*RowValue{}, ids: map[string]idEntry{}, chunks: map[string]bool{}}
}

// TestRestoreChecks: a snapshot whose counts do not match what was read,
// one past the committed offset, or kept with another grouping, is an
// error, not a silently wrong state.
func TestRestoreChecks(t *testing.T) {
	tests := []struct {
		name string
		recs [][2]string
		want string
	}{
		{"missing chunk", [][2]string{
			{"snap/g/tx/0", `{"kind":"snapshot","partition":0,"next_offset":10,"id_chunks":1,"ids":3,"rows":0,"period":"none"}`},
		}, "the snapshot counts 1 id chunks, 3 ids and 0 rows; the topic holds 0, 0 and 0"},
		{"ahead", [][2]string{
			{"snap/g/tx/0", `{"kind":"snapshot","partition":0,"next_offset":11,"period":"none"}`},
		}, "past the group's committed offset 10"},
		{"period", [][2]string{
			{"snap/g/tx/0", `{"kind":"snapshot","partition":0,"next_offset":10,"period":"month"}`},
		}, "the totals were kept with period month, by_rate false; this run has period none, by_rate false"},
		{"digest", [][2]string{
			{"ids/g/tx/0/0", `{"kind":"ids","ids":[{"id":"a","digest":"zz","offset":0}]}`},
		}, `digest "zz" is not 16 hex digits`},
		{"unknown tax", [][2]string{
			{"row/g/tx/0/XX|vat|USD||", `{"kind":"row","jurisdiction":"XX","tax":"vat","currency":"USD","exact":{"digits":2}}`},
			{"snap/g/tx/0", `{"kind":"snapshot","partition":0,"next_offset":10,"rows":1,"period":"none"}`},
		}, "tax vat of XX is not in the rules"},
		{"period label", [][2]string{
			{"row/g/tx/0/US-CA|ca-state|USD|2026-01|", `{"kind":"row","jurisdiction":"US-CA","tax":"ca-state","currency":"USD","period":"2026-01","exact":{"digits":2}}`},
			{"snap/g/tx/0", `{"kind":"snapshot","partition":0,"next_offset":10,"rows":1,"period":"none"}`},
		}, `"2026-01" is not a period label of --period none`},
		{"bad json", [][2]string{{"snap/g/tx/0", `{`}}, "unexpected end of JSON input"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mb := restoreMember(t)
			rs := map[int32]*restoring{0: newRestoring(10)}
			var err error
			for i, r := range tt.recs {
				if err = mb.restoreRecord(rs, &kgo.Record{Key: []byte(r[0]), Value: []byte(r[1]), Offset: int64(i)}); err != nil {
					break
				}
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

// TestRestoreOtherTopics: records of other input topics and partitions are
// left alone.
func TestRestoreOtherTopics(t *testing.T) {
	mb := restoreMember(t)
	rs := map[int32]*restoring{0: newRestoring(10)}
	for _, k := range []string{"snap/other/0", "snap/h/tx/0", "snap/g/other/0", "snap/g/tx/1", "snap/g/tx/x", "junk", "row/g/tx"} {
		if err := mb.restoreRecord(rs, &kgo.Record{Key: []byte(k), Value: []byte(`{`)}); err != nil {
			t.Errorf("%s: %v", k, err)
		}
	}
	if rs[0].snap != nil || rs[0].done != nil {
		t.Error("a record of another topic or partition was applied")
	}
}

// FuzzRestoreRecord: whatever the totals topic holds, restoring reports an
// error or applies it; it does not panic.
func FuzzRestoreRecord(f *testing.F) {
	f.Add("snap/g/tx/0", `{"kind":"snapshot","partition":0,"next_offset":0,"period":"none"}`)
	f.Add("ids/g/tx/0/0", `{"kind":"ids","ids":[{"id":"a","digest":"0001020304050607","offset":0}]}`)
	f.Add("row/g/tx/0/US-CA|ca-state|USD||", `{"kind":"row","jurisdiction":"US-CA","tax":"ca-state","currency":"USD","transactions":1,"period":"","exact":{"digits":2,"gross":"1.00","tax":"0.0725"}}`)
	mb := restoreMember(f)
	mb.cfg.Aggregate = aggregate.Options{}
	f.Fuzz(func(t *testing.T, key, value string) {
		rs := map[int32]*restoring{0: newRestoring(0)}
		if mb.restoreRecord(rs, &kgo.Record{Key: []byte(key), Value: []byte(value)}) != nil {
			return
		}
		snap := `{"kind":"snapshot","partition":0,"next_offset":0,"period":"none","rows":1}`
		mb.restoreRecord(rs, &kgo.Record{Key: []byte("snap/g/tx/0"), Value: []byte(snap)})
	})
}
