package pipeline

import "testing"

func TestDedupHint(t *testing.T) {
	for _, tc := range []struct {
		sizes []int64
		want  int
	}{
		{nil, 0},
		{[]int64{0}, 0},                // stdin: unknown
		{[]int64{255}, 0},              // less than one record's worth
		{[]int64{256 * 1000, 0}, 1000}, // a file and stdin
		{[]int64{256 * 600, 256 * 400}, 1000},
		{[]int64{-1, 256 * 10}, 10},      // a nonsense size counts as unknown
		{[]int64{1 << 40}, maxDedupHint}, // a huge file reserves at most the cap
	} {
		var ins []Input
		for _, s := range tc.sizes {
			ins = append(ins, Input{Size: s})
		}
		if got := dedupHint(ins); got != tc.want {
			t.Errorf("dedupHint(%v) = %d, want %d", tc.sizes, got, tc.want)
		}
	}
}
