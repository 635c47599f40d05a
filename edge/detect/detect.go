package detect

import (
	"fmt"
	"image"
	"log/slog"
	"sort"

	"gocv.io/x/gocv"

	"github.com/intersect-oss/intersect/events"
)

// Detection is one road user found in one frame.
type Detection struct {
	// Box is in the pixel coordinates of the frame given to Detect,
	// clipped to it.
	Box image.Rectangle
	// Score is in 0..1: obj*cls for YOLOX, the foreground share of the
	// box for the motion detector.
	Score float64
	Class events.Class
}

// Detector finds road users in frames. Detect takes a BGR frame as gocv
// reads it (CV_8UC3; CV_8UC1 and CV_8UC4 are converted) and does not keep
// or modify it. An empty or malformed frame is an error, never a crash.
// Implementations are not safe for concurrent use.
type Detector interface {
	// Name says which detector runs, for logs and health ("yolox-nano",
	// "motion-mog2").
	Name() string
	Detect(frame gocv.Mat) ([]Detection, error)
	// Close frees the native memory (network, Mats) the detector holds.
	Close() error
}

// Options tune a model detector opened with Open or OpenFile. The zero
// value uses the manifest's thresholds and NMS IoU.
type Options struct {
	// Thresholds sets the minimum score of the listed classes; it wins
	// over MinScore and the manifest.
	Thresholds map[events.Class]float64
	// MinScore, when > 0, is the minimum score of every class not in
	// Thresholds, replacing the manifest's per-class defaults (a camera
	// config's single "score" setting). 0: the manifest's, or 0.3 for a
	// class the manifest does not list.
	MinScore float64
	// NMSIoU overrides the manifest's NMS IoU when > 0.
	NMSIoU float64
	// Logger receives one line saying which model was loaded; nil: slog.Default().
	Logger *slog.Logger
}

// thresholds resolves the minimum score of every class: Thresholds, else
// MinScore, else the manifest, else 0.3.
func (o Options) thresholds(md Model) map[events.Class]float64 {
	t := make(map[events.Class]float64, len(events.Classes))
	for _, c := range events.Classes {
		t[c] = 0.3
		if v, ok := md.Thresholds[c]; ok {
			t[c] = v
		}
		if o.MinScore > 0 {
			t[c] = o.MinScore
		}
		if v, ok := o.Thresholds[c]; ok {
			t[c] = v
		}
	}
	return t
}

func (o Options) validate() error {
	for c, v := range o.Thresholds {
		if !c.Valid() {
			return fmt.Errorf("detector options: threshold for unknown class %q (want one of %v)", c, events.Classes)
		}
		if v < 0 || v > 1 {
			return fmt.Errorf("detector options: threshold %g for %s outside 0..1", v, c)
		}
	}
	if o.MinScore < 0 || o.MinScore > 1 {
		return fmt.Errorf("detector options: min score %g outside 0..1", o.MinScore)
	}
	if o.NMSIoU < 0 || o.NMSIoU > 1 {
		return fmt.Errorf("detector options: NMS IoU %g outside 0..1", o.NMSIoU)
	}
	return nil
}

// IoU is the intersection over union of two boxes, 0 when either is empty.
func IoU(a, b image.Rectangle) float64 {
	in := a.Intersect(b)
	if in.Empty() {
		return 0
	}
	ia := float64(in.Dx() * in.Dy())
	u := float64(a.Dx()*a.Dy()+b.Dx()*b.Dy()) - ia
	if u <= 0 {
		return 0
	}
	return ia / u
}

// NMS keeps, per class group, the highest-scoring boxes and drops any box
// that overlaps a kept box of the same group by more than iou. It reorders
// dets (by descending score) and returns the kept prefix of it.
//
// Groups: car, bus and truck form one group, because a model often scores
// one parked van as both truck and car from neighbouring grid cells, and
// two boxes would become two tracks; every other class is its own group, so
// a cyclist keeps both the person and the bicycle box and a pedestrian in
// front of a car keeps hers.
func NMS(dets []Detection, iou float64) []Detection {
	sort.SliceStable(dets, func(i, j int) bool { return dets[i].Score > dets[j].Score })
	kept := dets[:0]
	for _, d := range dets {
		keep := true
		for _, k := range kept {
			if nmsGroup(k.Class) == nmsGroup(d.Class) && IoU(k.Box, d.Box) > iou {
				keep = false
				break
			}
		}
		if keep {
			kept = append(kept, d)
		}
	}
	return kept
}

// nmsGroup is the class NMS compares within.
func nmsGroup(c events.Class) events.Class {
	switch c {
	case events.Bus, events.Truck:
		return events.Car
	}
	return c
}

// checkFrame rejects what OpenCV would abort on or misread: an empty Mat,
// a zero-sized one, a depth other than 8-bit.
func checkFrame(frame gocv.Mat) error {
	if frame.Ptr() == nil || frame.Empty() {
		return fmt.Errorf("empty frame")
	}
	if frame.Rows() < 2 || frame.Cols() < 2 {
		return fmt.Errorf("frame %dx%d too small", frame.Cols(), frame.Rows())
	}
	switch frame.Type() {
	case gocv.MatTypeCV8UC3, gocv.MatTypeCV8UC1, gocv.MatTypeCV8UC4:
		return nil
	}
	return fmt.Errorf("frame type %v, want 8-bit BGR (CV_8UC3), gray or BGRA", frame.Type())
}

// bgrView returns frame itself when it is BGR, else a converted copy in
// *scratch (reused across calls).
func bgrView(frame gocv.Mat, scratch *gocv.Mat) gocv.Mat {
	switch frame.Type() {
	case gocv.MatTypeCV8UC1:
		gocv.CvtColor(frame, scratch, gocv.ColorGrayToBGR)
		return *scratch
	case gocv.MatTypeCV8UC4:
		gocv.CvtColor(frame, scratch, gocv.ColorBGRAToBGR)
		return *scratch
	}
	return frame
}
