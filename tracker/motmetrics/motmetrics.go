// Package motmetrics scores a tracker's output against ground truth with the
// MOTChallenge measures: CLEAR MOT (MOTA, MOTP, FP, FN, ID switches,
// fragmentations, MT/PT/ML), the Identity measures (IDF1, IDP, IDR) and
// HOTA (DetA, AssA, LocA averaged over localisation thresholds 0.05..0.95).
//
// Matching follows the MOTChallenge rules as py-motmetrics implements them:
// a ground-truth object and a hypothesis may match when their IoU is at least
// 0.5 (distance 1−IoU ≤ 0.5); pairs matched in the previous frame are kept
// while still valid, the rest are matched by the exact Hungarian algorithm
// (most pairs first, then least total distance). HOTA follows TrackEval.
package motmetrics

import (
	"fmt"
	"math"
	"sort"

	"github.com/intersect-oss/intersect/tracker"
	"github.com/intersect-oss/intersect/tracker/mot"
)

// MatchIoU is the IoU at or above which a hypothesis may match ground truth
// for the CLEAR and Identity measures.
const MatchIoU = 0.5

// Result holds every measure for one sequence (or a sum of sequences, see
// Combine). Ratios are in [0, 1] (MOTA can be negative), not percent.
type Result struct {
	Frames     int // frames scored (1 .. last frame in either file)
	GTObjects  int // ground-truth boxes
	GTIDs      int // distinct ground-truth identities
	HypObjects int // hypothesis boxes
	Matches    int // CLEAR true positives
	FP, FN     int // false positives, misses
	IDSw       int // identity switches
	Frag       int // fragmentations: tracked → untracked transitions
	MT, PT, ML int // mostly tracked (≥ 80 %), partly, mostly lost (< 20 %)
	MOTA       float64
	MOTP       float64 // mean 1−IoU over matches (lower is better), as py-motmetrics
	Recall     float64
	Precision  float64
	IDTP, IDFP int
	IDFN       int
	IDF1, IDP  float64
	IDR        float64
	HOTA       float64 // mean over alpha = 0.05, 0.10, …, 0.95
	DetA, AssA float64 // means over alpha
	LocA       float64 // mean over alpha of the mean IoU of HOTA matches
	sumDist    float64
	hotaTP     [numAlpha]float64
	hotaFN     [numAlpha]float64
	hotaFP     [numAlpha]float64
	hotaAssSum [numAlpha]float64 // Σ over TPs of the pair's association IoU
	hotaLocSum [numAlpha]float64
}

// object is one box of one identity in one frame.
type object struct {
	id  int64
	box tracker.Box
}

// Evaluate scores hyp against gt. Rows need not be sorted. IDs must be unique
// within a frame in each file (a duplicate is an error naming the frame).
func Evaluate(gt, hyp []mot.Row) (Result, error) {
	gtFrames, err := byFrame(gt, "ground truth")
	if err != nil {
		return Result{}, err
	}
	hypFrames, err := byFrame(hyp, "hypotheses")
	if err != nil {
		return Result{}, err
	}
	n := max(len(gtFrames), len(hypFrames))
	gtFrames = append(gtFrames, make([][]object, n-len(gtFrames))...)
	hypFrames = append(hypFrames, make([][]object, n-len(hypFrames))...)

	// IoU matrices per frame, shared by all three families of measures.
	ious := make([][][]float64, n)
	for f := range n {
		g, h := gtFrames[f], hypFrames[f]
		m := make([][]float64, len(g))
		for i := range g {
			m[i] = make([]float64, len(h))
			for j := range h {
				m[i][j] = tracker.IoU(g[i].box, h[j].box)
			}
		}
		ious[f] = m
	}
	var r Result
	r.Frames = n
	if err := r.clear(gtFrames, hypFrames, ious); err != nil {
		return Result{}, err
	}
	if err := r.identity(gtFrames, hypFrames, ious); err != nil {
		return Result{}, err
	}
	if err := r.hota(gtFrames, hypFrames, ious); err != nil {
		return Result{}, err
	}
	r.finish()
	return r, nil
}

func byFrame(rows []mot.Row, what string) ([][]object, error) {
	var out [][]object
	seen := map[[2]int64]bool{}
	for _, row := range rows {
		if row.Frame < 1 {
			return nil, fmt.Errorf("%s: frame %d, want ≥ 1", what, row.Frame)
		}
		k := [2]int64{int64(row.Frame), row.ID}
		if seen[k] {
			return nil, fmt.Errorf("%s: id %d appears twice in frame %d", what, row.ID, row.Frame)
		}
		seen[k] = true
		for len(out) < row.Frame {
			out = append(out, nil)
		}
		out[row.Frame-1] = append(out[row.Frame-1], object{row.ID, tracker.Box{X: row.Left, Y: row.Top, W: row.Width, H: row.Height}})
	}
	// Deterministic order within a frame, whatever the file order.
	for _, f := range out {
		sort.Slice(f, func(i, j int) bool { return f[i].id < f[j].id })
	}
	return out, nil
}

// clear computes the CLEAR MOT counts frame by frame.
func (r *Result) clear(gtFrames, hypFrames [][]object, ious [][][]float64) error {
	lastHyp := map[int64]int64{}  // gt id → hypothesis it was last matched to
	lastFrame := map[int64]int{}  // gt id → frame of that match
	tracked := map[int64][]bool{} // gt id → matched or not, per frame present
	for f := range gtFrames {
		g, h := gtFrames[f], hypFrames[f]
		r.GTObjects += len(g)
		r.HypObjects += len(h)
		gUsed := make([]bool, len(g))
		hUsed := make([]bool, len(h))
		hIndex := make(map[int64]int, len(h))
		for j, o := range h {
			hIndex[o.id] = j
		}
		match := func(i, j int) {
			gUsed[i], hUsed[j] = true, true
			r.Matches++
			r.sumDist += 1 - ious[f][i][j]
			lastHyp[g[i].id] = h[j].id
			lastFrame[g[i].id] = f
		}
		// 1. Keep last frame's correspondences that are still valid.
		for i, o := range g {
			prev, ok := lastHyp[o.id]
			if !ok || lastFrame[o.id] != f-1 {
				continue
			}
			if j, ok := hIndex[prev]; ok && !hUsed[j] && ious[f][i][j] >= MatchIoU {
				match(i, j)
			}
		}
		// 2. Hungarian on the rest.
		var rows, cols []int
		for i := range g {
			if !gUsed[i] {
				rows = append(rows, i)
			}
		}
		for j := range h {
			if !hUsed[j] {
				cols = append(cols, j)
			}
		}
		if len(rows) > 0 && len(cols) > 0 {
			cost := make([][]float64, len(rows))
			for a, i := range rows {
				cost[a] = make([]float64, len(cols))
				for b, j := range cols {
					cost[a][b] = math.NaN()
					if iou := ious[f][i][j]; iou >= MatchIoU {
						cost[a][b] = 1 - iou
					}
				}
			}
			ms, err := tracker.MatchMaxCardinality(cost, 1-MatchIoU)
			if err != nil {
				return fmt.Errorf("frame %d: %w", f+1, err)
			}
			for _, m := range ms {
				i, j := rows[m.Row], cols[m.Col]
				if prev, ok := lastHyp[g[i].id]; ok && prev != h[j].id {
					r.IDSw++
				}
				match(i, j)
			}
		}
		for i, o := range g {
			if !gUsed[i] {
				r.FN++
			}
			tracked[o.id] = append(tracked[o.id], gUsed[i])
		}
		for j := range h {
			if !hUsed[j] {
				r.FP++
			}
		}
	}
	r.GTIDs = len(tracked)
	for _, ts := range tracked {
		n := 0
		for _, t := range ts {
			if t {
				n++
			}
		}
		switch ratio := float64(n) / float64(len(ts)); {
		case ratio >= 0.8:
			r.MT++
		case ratio < 0.2:
			r.ML++
		default:
			r.PT++
		}
		// Fragmentations: tracked → untracked transitions between the first and
		// last tracked frame of the object.
		first, last := -1, -1
		for k, t := range ts {
			if t {
				if first < 0 {
					first = k
				}
				last = k
			}
		}
		for k := first + 1; first >= 0 && k <= last; k++ {
			if ts[k-1] && !ts[k] {
				r.Frag++
			}
		}
	}
	return nil
}

// identity computes IDTP/IDFP/IDFN from the global one-to-one assignment of
// ground-truth to hypothesis identities that maximises the number of frames
// in which the two match (IoU ≥ MatchIoU): Ristani et al. 2016.
func (r *Result) identity(gtFrames, hypFrames [][]object, ious [][][]float64) error {
	gIdx, hIdx := ids(gtFrames), ids(hypFrames)
	counts := make([][]float64, len(gIdx))
	for i := range counts {
		counts[i] = make([]float64, len(hIdx))
	}
	for f := range gtFrames {
		for i, g := range gtFrames[f] {
			for j, h := range hypFrames[f] {
				if ious[f][i][j] >= MatchIoU {
					counts[gIdx[g.id]][hIdx[h.id]]++
				}
			}
		}
	}
	cost := make([][]float64, len(counts))
	for i, row := range counts {
		cost[i] = make([]float64, len(row))
		for j, c := range row {
			cost[i][j] = -c
		}
	}
	assign, err := tracker.Hungarian(cost)
	if err != nil {
		return fmt.Errorf("identity assignment: %w", err)
	}
	for i, j := range assign {
		if j >= 0 {
			r.IDTP += int(counts[i][j])
		}
	}
	total := func(frames [][]object) (n int) {
		for _, f := range frames {
			n += len(f)
		}
		return n
	}
	r.IDFN = total(gtFrames) - r.IDTP
	r.IDFP = total(hypFrames) - r.IDTP
	return nil
}

// ids numbers the distinct identities of frames densely, in ascending ID order.
func ids(frames [][]object) map[int64]int {
	var all []int64
	seen := map[int64]bool{}
	for _, f := range frames {
		for _, o := range f {
			if !seen[o.id] {
				seen[o.id] = true
				all = append(all, o.id)
			}
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	idx := make(map[int64]int, len(all))
	for i, id := range all {
		idx[id] = i
	}
	return idx
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// finish derives the ratios from the counts.
func (r *Result) finish() {
	r.MOTA = 1 - ratio(float64(r.FN+r.FP+r.IDSw), float64(r.GTObjects))
	if r.GTObjects == 0 {
		r.MOTA = 0
	}
	r.MOTP = ratio(r.sumDist, float64(r.Matches))
	r.Recall = ratio(float64(r.Matches), float64(r.GTObjects))
	r.Precision = ratio(float64(r.Matches), float64(r.Matches+r.FP))
	r.IDP = ratio(float64(r.IDTP), float64(r.IDTP+r.IDFP))
	r.IDR = ratio(float64(r.IDTP), float64(r.IDTP+r.IDFN))
	r.IDF1 = ratio(float64(2*r.IDTP), float64(2*r.IDTP+r.IDFP+r.IDFN))
	r.HOTA, r.DetA, r.AssA, r.LocA = 0, 0, 0, 0
	for a := range numAlpha {
		tp := r.hotaTP[a]
		detA := ratio(tp, tp+r.hotaFN[a]+r.hotaFP[a])
		assA := ratio(r.hotaAssSum[a], tp)
		r.DetA += detA / numAlpha
		r.AssA += assA / numAlpha
		r.HOTA += math.Sqrt(detA*assA) / numAlpha
		if tp > 0 {
			r.LocA += r.hotaLocSum[a] / tp / numAlpha
		} else {
			r.LocA += 1.0 / numAlpha // TrackEval's convention for no matches
		}
	}
}

// Combine sums the counts of several sequences and recomputes the ratios,
// as the MOTChallenge "OVERALL" row does (for HOTA, TrackEval's combination:
// detection counts summed, association weighted by true positives).
func Combine(rs ...Result) Result {
	var c Result
	for _, r := range rs {
		c.Frames += r.Frames
		c.GTObjects += r.GTObjects
		c.GTIDs += r.GTIDs
		c.HypObjects += r.HypObjects
		c.Matches += r.Matches
		c.FP += r.FP
		c.FN += r.FN
		c.IDSw += r.IDSw
		c.Frag += r.Frag
		c.MT += r.MT
		c.PT += r.PT
		c.ML += r.ML
		c.IDTP += r.IDTP
		c.IDFP += r.IDFP
		c.IDFN += r.IDFN
		c.sumDist += r.sumDist
		for a := range numAlpha {
			c.hotaTP[a] += r.hotaTP[a]
			c.hotaFN[a] += r.hotaFN[a]
			c.hotaFP[a] += r.hotaFP[a]
			c.hotaAssSum[a] += r.hotaAssSum[a]
			c.hotaLocSum[a] += r.hotaLocSum[a]
		}
	}
	c.finish()
	return c
}
