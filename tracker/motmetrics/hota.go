package motmetrics

import (
	"fmt"
	"math"

	"github.com/intersect-oss/intersect/tracker"
)

// numAlpha localisation thresholds: 0.05, 0.10, …, 0.95.
const numAlpha = 19

func alpha(a int) float64 { return 0.05 * float64(a+1) }

// hota accumulates HOTA's per-alpha counts as TrackEval does (Luiten et al.
// 2021): a global alignment score between each ground-truth and hypothesis
// identity weights the per-frame Hungarian matching, so that matches which
// keep identities consistent are preferred; then, per alpha, the matched
// pairs with IoU ≥ alpha are true positives and each contributes the
// association IoU of its identity pair.
func (r *Result) hota(gtFrames, hypFrames [][]object, ious [][][]float64) error {
	gIdx, hIdx := ids(gtFrames), ids(hypFrames)
	ng, nh := len(gIdx), len(hIdx)
	potential := make([]float64, ng*nh)
	gCount := make([]float64, ng)
	hCount := make([]float64, nh)
	for f := range gtFrames {
		g, h := gtFrames[f], hypFrames[f]
		rowSum := make([]float64, len(g))
		colSum := make([]float64, len(h))
		for i := range g {
			for j := range h {
				rowSum[i] += ious[f][i][j]
				colSum[j] += ious[f][i][j]
			}
		}
		for i, go_ := range g {
			for j, ho := range h {
				s := ious[f][i][j]
				if den := rowSum[i] + colSum[j] - s; den > eps {
					potential[gIdx[go_.id]*nh+hIdx[ho.id]] += s / den
				}
			}
		}
		for _, o := range g {
			gCount[gIdx[o.id]]++
		}
		for _, o := range h {
			hCount[hIdx[o.id]]++
		}
	}
	global := make([]float64, ng*nh)
	for gi := range ng {
		for hi := range nh {
			k := gi*nh + hi
			global[k] = potential[k] / (gCount[gi] + hCount[hi] - potential[k])
		}
	}
	matches := make([][]float64, numAlpha)
	for a := range matches {
		matches[a] = make([]float64, ng*nh)
	}
	for f := range gtFrames {
		g, h := gtFrames[f], hypFrames[f]
		if len(g) == 0 || len(h) == 0 {
			for a := range numAlpha {
				r.hotaFN[a] += float64(len(g))
				r.hotaFP[a] += float64(len(h))
			}
			continue
		}
		cost := make([][]float64, len(g))
		for i, go_ := range g {
			cost[i] = make([]float64, len(h))
			for j, ho := range h {
				cost[i][j] = -global[gIdx[go_.id]*nh+hIdx[ho.id]] * ious[f][i][j]
			}
		}
		assign, err := tracker.Hungarian(cost)
		if err != nil {
			return fmt.Errorf("HOTA frame %d: %w", f+1, err)
		}
		for a := range numAlpha {
			tp := 0
			for i, j := range assign {
				if j < 0 || ious[f][i][j] < alpha(a)-eps {
					continue
				}
				tp++
				r.hotaLocSum[a] += ious[f][i][j]
				matches[a][gIdx[g[i].id]*nh+hIdx[h[j].id]]++
			}
			r.hotaTP[a] += float64(tp)
			r.hotaFN[a] += float64(len(g) - tp)
			r.hotaFP[a] += float64(len(h) - tp)
		}
	}
	for a := range numAlpha {
		for gi := range ng {
			for hi := range nh {
				m := matches[a][gi*nh+hi]
				if m == 0 {
					continue
				}
				assIoU := m / math.Max(1, gCount[gi]+hCount[hi]-m)
				r.hotaAssSum[a] += m * assIoU
			}
		}
	}
	return nil
}

// eps mirrors numpy's float64 machine epsilon used in TrackEval's comparisons.
const eps = 2.220446049250313e-16
