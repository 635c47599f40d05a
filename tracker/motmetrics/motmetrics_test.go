package motmetrics

import (
	"math"
	"strings"
	"testing"

	"github.com/intersect-oss/intersect/tracker/mot"
)

func row(frame int, id int64, x, y, w, h float64) mot.Row {
	return mot.Row{Frame: frame, ID: id, Left: x, Top: y, Width: w, Height: h, Conf: 1}
}

func TestEvaluateHandComputed(t *testing.T) {
	type want struct {
		fp, fn, idsw, frag, mt, pt, ml     int
		mota, motp, idf1, hota, detA, assA float64
	}
	tests := []struct {
		name    string
		gt, hyp []mot.Row
		want    want
	}{
		{
			name: "perfect",
			gt:   []mot.Row{row(1, 1, 0, 0, 10, 10), row(2, 1, 1, 0, 10, 10), row(1, 2, 50, 50, 5, 5)},
			hyp:  []mot.Row{row(1, 7, 0, 0, 10, 10), row(2, 7, 1, 0, 10, 10), row(1, 8, 50, 50, 5, 5)},
			want: want{mt: 2, mota: 1, motp: 0, idf1: 1, hota: 1, detA: 1, assA: 1},
		},
		{
			// One object, two hypothesis IDs half the time each: one switch;
			// IDTP = 2 of 4 boxes each side; AssA = 2/(4+2-2) = 0.5.
			name: "one switch",
			gt:   []mot.Row{row(1, 1, 0, 0, 10, 10), row(2, 1, 0, 0, 10, 10), row(3, 1, 0, 0, 10, 10), row(4, 1, 0, 0, 10, 10)},
			hyp:  []mot.Row{row(1, 1, 0, 0, 10, 10), row(2, 1, 0, 0, 10, 10), row(3, 2, 0, 0, 10, 10), row(4, 2, 0, 0, 10, 10)},
			want: want{idsw: 1, mt: 1, mota: 0.75, idf1: 0.5, hota: math.Sqrt(0.5), detA: 1, assA: 0.5},
		},
		{
			// IoU 0.45 < 0.5: a miss and a false positive for CLEAR; HOTA
			// matches for alpha ≤ 0.45 (9 of 19 thresholds) with DetA = AssA = 1.
			name: "below IoU threshold",
			gt:   []mot.Row{row(1, 1, 0, 0, 10, 10)},
			hyp:  []mot.Row{row(1, 1, 0, 0, 10, 4.5)},
			want: want{fp: 1, fn: 1, ml: 1, mota: -1, idf1: 0, hota: 9.0 / 19, detA: 9.0 / 19, assA: 9.0 / 19},
		},
		{
			// Track lost for a frame and picked up by a new ID: a
			// fragmentation and, as in py-motmetrics, a switch (the last
			// match was another hypothesis). 2 of 3 frames tracked: PT.
			name: "gap then new id",
			gt:   []mot.Row{row(1, 1, 0, 0, 10, 10), row(2, 1, 0, 0, 10, 10), row(3, 1, 0, 0, 10, 10)},
			hyp:  []mot.Row{row(1, 1, 0, 0, 10, 10), row(3, 2, 0, 0, 10, 10)},
			want: want{fn: 1, idsw: 1, frag: 1, pt: 1, mota: 1 - 2.0/3, idf1: 2.0 / 5,
				// per alpha: TP 2, FN 1; AssA: each pair 1/(3+1-1) = 1/3
				hota: math.Sqrt(2.0 / 3 * 1.0 / 3), detA: 2.0 / 3, assA: 1.0 / 3},
		},
		{
			// Frame 2: hypothesis 1 still overlaps (IoU 80/120) while 2 fits
			// exactly. The previous match is kept: no switch, 2 is a FP.
			name: "previous match kept",
			gt:   []mot.Row{row(1, 1, 0, 0, 10, 10), row(2, 1, 0, 0, 10, 10)},
			hyp:  []mot.Row{row(1, 1, 0, 0, 10, 10), row(2, 1, 2, 0, 10, 10), row(2, 2, 0, 0, 10, 10)},
			want: want{fp: 1, mt: 1, mota: 0.5, motp: (1 - 80.0/120) / 2, idf1: 4.0 / 5},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Evaluate(tt.gt, tt.hyp)
			if err != nil {
				t.Fatal(err)
			}
			w := tt.want
			gotI := []int{r.FP, r.FN, r.IDSw, r.Frag, r.MT, r.PT, r.ML}
			wantI := []int{w.fp, w.fn, w.idsw, w.frag, w.mt, w.pt, w.ml}
			names := []string{"FP", "FN", "IDSw", "Frag", "MT", "PT", "ML"}
			for k := range gotI {
				if gotI[k] != wantI[k] {
					t.Errorf("%s = %d, want %d", names[k], gotI[k], wantI[k])
				}
			}
			check := func(name string, got, want float64) {
				if math.Abs(got-want) > 1e-9 {
					t.Errorf("%s = %.6f, want %.6f", name, got, want)
				}
			}
			check("MOTA", r.MOTA, w.mota)
			check("MOTP", r.MOTP, w.motp)
			check("IDF1", r.IDF1, w.idf1)
			if tt.name != "previous match kept" { // HOTA not hand-computed there
				check("HOTA", r.HOTA, w.hota)
				check("DetA", r.DetA, w.detA)
				check("AssA", r.AssA, w.assA)
			}
		})
	}
}

func TestCombineSumsCounts(t *testing.T) {
	a, err := Evaluate([]mot.Row{row(1, 1, 0, 0, 10, 10)}, []mot.Row{row(1, 1, 0, 0, 10, 10)})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Evaluate([]mot.Row{row(1, 1, 0, 0, 10, 10)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := Combine(a, b)
	if c.GTObjects != 2 || c.FN != 1 || c.Matches != 1 || c.MOTA != 0.5 {
		t.Errorf("Combine = %+v", c)
	}
	if math.Abs(c.DetA-0.5) > 1e-12 || math.Abs(c.AssA-1) > 1e-12 {
		t.Errorf("combined DetA %v AssA %v, want 0.5 and 1", c.DetA, c.AssA)
	}
}

func TestEvaluateRejectsDuplicateIDs(t *testing.T) {
	_, err := Evaluate([]mot.Row{row(3, 5, 0, 0, 1, 1), row(3, 5, 2, 2, 1, 1)}, nil)
	if err == nil || !strings.Contains(err.Error(), "id 5 appears twice in frame 3") {
		t.Errorf("err = %v", err)
	}
}
