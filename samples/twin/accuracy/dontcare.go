package accuracy

import (
	"github.com/intersect-oss/intersect/edge/detect"
	"github.com/intersect-oss/intersect/tracker"
	"github.com/intersect-oss/intersect/tracker/mot"
)

// MinTruthHeightPx: true boxes shorter than this are "don't care", as in
// KITTI's moderate difficulty (25 px): a pedestrian 60 m from the camera is
// about 20 px tall, below what a detector can be asked to find. A don't-care
// box is neither a miss nor, when something was found on it, a false
// positive: the output boxes matching it (IoU ≥ 0.5) are set aside with it.
const MinTruthHeightPx = 25

// dropDontCare returns truth without its don't-care boxes, and the output
// tracks and detections without the boxes that match one.
func dropDontCare(truth, out []mot.Row, dets [][]detect.Detection) ([]mot.Row, []mot.Row, [][]detect.Detection) {
	small := map[int][]tracker.Box{} // by MOT frame (1-based)
	var kept []mot.Row
	for _, r := range truth {
		if r.Height < MinTruthHeightPx {
			small[r.Frame] = append(small[r.Frame], motBox(r))
			continue
		}
		kept = append(kept, r)
	}
	onSmall := func(frame int, b tracker.Box) bool {
		for _, s := range small[frame] {
			if tracker.IoU(s, b) >= minIoU {
				return true
			}
		}
		return false
	}
	var outKept []mot.Row
	for _, r := range out {
		if !onSmall(r.Frame, motBox(r)) {
			outKept = append(outKept, r)
		}
	}
	detsKept := make([][]detect.Detection, len(dets))
	for i, ds := range dets {
		for _, d := range ds {
			b := tracker.Box{X: float64(d.Box.Min.X), Y: float64(d.Box.Min.Y), W: float64(d.Box.Dx()), H: float64(d.Box.Dy())}
			if !onSmall(i+1, b) {
				detsKept[i] = append(detsKept[i], d)
			}
		}
	}
	return kept, outKept, detsKept
}
