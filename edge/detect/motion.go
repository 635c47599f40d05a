package detect

import (
	"fmt"
	"image"
	"log/slog"
	"math"

	"gocv.io/x/gocv"

	"github.com/intersect-oss/intersect/events"
)

// MotionConfig tunes the motion detector. Zero fields take the defaults in
// brackets.
type MotionConfig struct {
	// Scale is the processing resolution relative to the frame, in
	// (0, 1] [0.5]: MOG2 at half resolution is about 4x faster and loses
	// nothing that is not lost to the morphology anyway.
	Scale float64
	// History is MOG2's background memory in frames [500].
	History int
	// VarThreshold is MOG2's squared Mahalanobis distance for foreground [16].
	VarThreshold float64
	// MinAreaPx drops blobs whose box is smaller, in frame pixels [400]:
	// a pedestrian 50 m away in a 768x576 view is about 15x40 px.
	MinAreaPx int
	// MaxAreaFrac drops blobs covering more than this share of the frame
	// [0.5]: lighting changes and camera shake, not road users.
	MaxAreaFrac float64
	// WarmupFrames are frames during which the background model is
	// learned and nothing is reported [10]; set -1 for none.
	WarmupFrames int
	// Footprint, when set, gives the ground-plane size in metres of the
	// road user in a box (the worker builds it from the camera's
	// homography); ok=false falls back to the pixel rules. See classify.
	Footprint func(box image.Rectangle) (widthM, depthM float64, ok bool)
	// Logger gets one line saying the motion detector runs; nil: slog.Default().
	Logger *slog.Logger
}

func (c MotionConfig) withDefaults() (MotionConfig, error) {
	if c.Scale == 0 {
		c.Scale = 0.5
	}
	if c.History == 0 {
		c.History = 500
	}
	if c.VarThreshold == 0 {
		c.VarThreshold = 16
	}
	if c.MinAreaPx == 0 {
		c.MinAreaPx = 400
	}
	if c.MaxAreaFrac == 0 {
		c.MaxAreaFrac = 0.5
	}
	switch {
	case c.WarmupFrames == 0:
		c.WarmupFrames = 10
	case c.WarmupFrames < 0:
		c.WarmupFrames = 0
	}
	switch {
	case c.Scale < 0.1 || c.Scale > 1:
		return c, fmt.Errorf("motion detector: scale %g outside 0.1..1", c.Scale)
	case c.History < 1:
		return c, fmt.Errorf("motion detector: history %d frames, want >= 1", c.History)
	case c.VarThreshold < 0:
		return c, fmt.Errorf("motion detector: var threshold %g, want > 0", c.VarThreshold)
	case c.MinAreaPx < 0:
		return c, fmt.Errorf("motion detector: min area %d px, want >= 0", c.MinAreaPx)
	case c.MaxAreaFrac < 0 || c.MaxAreaFrac > 1:
		return c, fmt.Errorf("motion detector: max area fraction %g outside 0..1", c.MaxAreaFrac)
	}
	return c, nil
}

// Motion is the fallback detector: MOG2 background subtraction with shadow
// detection, shadows (grey 127 in the mask) thresholded away, a 3x3 open to
// remove speckle and a 7x7 elliptic close to join a body's parts, external
// contours to boxes, then classify. It finds anything that moves and
// nothing that stands still, and it merges road users that touch.
type Motion struct {
	cfg    MotionConfig
	mog    gocv.BackgroundSubtractorMOG2
	small  gocv.Mat
	conv   gocv.Mat
	mask   gocv.Mat
	openK  gocv.Mat
	closeK gocv.Mat
	frames int // since the background model was (re)started
	lastW  int
	lastH  int
}

// NewMotion builds a motion detector.
func NewMotion(cfg MotionConfig) (*Motion, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	log.Info("detector started", "detector", "motion-mog2", "scale", cfg.Scale, "history", cfg.History,
		"var_threshold", cfg.VarThreshold, "min_area_px", cfg.MinAreaPx, "footprint", cfg.Footprint != nil)
	return &Motion{
		cfg:    cfg,
		mog:    gocv.NewBackgroundSubtractorMOG2WithParams(cfg.History, cfg.VarThreshold, true),
		small:  gocv.NewMat(),
		conv:   gocv.NewMat(),
		mask:   gocv.NewMat(),
		openK:  gocv.GetStructuringElement(gocv.MorphRect, image.Pt(3, 3)),
		closeK: gocv.GetStructuringElement(gocv.MorphEllipse, image.Pt(7, 7)),
	}, nil
}

// Name is "motion-mog2".
func (m *Motion) Name() string { return "motion-mog2" }

// Close frees the background model and Mats.
func (m *Motion) Close() error {
	m.small.Close()
	m.conv.Close()
	m.mask.Close()
	m.openK.Close()
	m.closeK.Close()
	return m.mog.Close()
}

// Detect updates the background model with frame and returns the moving
// blobs. The first WarmupFrames frames (after the start or a change of
// frame size) return no detections.
func (m *Motion) Detect(frame gocv.Mat) ([]Detection, error) {
	if err := checkFrame(frame); err != nil {
		return nil, fmt.Errorf("%s: %w", m.Name(), err)
	}
	bgr := bgrView(frame, &m.conv)
	fw, fh := bgr.Cols(), bgr.Rows()
	if fw != m.lastW || fh != m.lastH {
		// MOG2 restarts its model on a new size (a reconnected stream with
		// other settings); so does the warm-up.
		m.frames, m.lastW, m.lastH = 0, fw, fh
	}
	src := bgr
	sw, sh := fw, fh
	if m.cfg.Scale < 1 {
		sw, sh = max(1, int(float64(fw)*m.cfg.Scale)), max(1, int(float64(fh)*m.cfg.Scale))
		gocv.Resize(bgr, &m.small, image.Pt(sw, sh), 0, 0, gocv.InterpolationLinear)
		src = m.small
	}
	m.mog.Apply(src, &m.mask)
	m.frames++
	if m.frames <= m.cfg.WarmupFrames {
		return nil, nil
	}
	// MOG2 marks shadows 127 and foreground 255.
	gocv.Threshold(m.mask, &m.mask, 200, 255, gocv.ThresholdBinary)
	gocv.MorphologyEx(m.mask, &m.mask, gocv.MorphOpen, m.openK)
	gocv.MorphologyEx(m.mask, &m.mask, gocv.MorphClose, m.closeK)
	contours := gocv.FindContours(m.mask, gocv.RetrievalExternal, gocv.ChainApproxSimple)
	defer contours.Close()

	kx, ky := float64(fw)/float64(sw), float64(fh)/float64(sh)
	bounds := image.Rect(0, 0, fw, fh)
	maxArea := m.cfg.MaxAreaFrac * float64(fw*fh)
	var dets []Detection
	for i := 0; i < contours.Size(); i++ {
		pv := contours.At(i)
		r := gocv.BoundingRect(pv)
		blobArea := gocv.ContourArea(pv) * kx * ky
		box := image.Rect(int(math.Floor(float64(r.Min.X)*kx)), int(math.Floor(float64(r.Min.Y)*ky)),
			int(math.Ceil(float64(r.Max.X)*kx)), int(math.Ceil(float64(r.Max.Y)*ky))).Intersect(bounds)
		area := float64(box.Dx() * box.Dy())
		if area < float64(m.cfg.MinAreaPx) || area > maxArea {
			continue
		}
		dets = append(dets, Detection{
			Box:   box,
			Score: math.Min(1, blobArea/area),
			Class: m.classify(box, fw, fh),
		})
	}
	return dets, nil
}

// Footprint thresholds, metres along the longer and shorter ground sides.
const (
	pedestrianMaxM    = 1.2 // a pedestrian (or a small group) is not 2 m wide
	twoWheelerMaxM    = 2.5 // bicycle/motorcycle length
	twoWheelerMaxSide = 1.2 // and width
	carMaxM           = 6.0 // cars, vans, pickups
	truckMaxM         = 9.0 // box trucks; longer is a bus (or an articulated truck)
)

// Pixel thresholds used without a footprint function.
const (
	tallAspect  = 1.2  // height/width of an upright person
	busAreaFrac = 0.05 // a blob this share of the frame is a large vehicle
)

// classify guesses a blob's class. With a footprint: longest side <= 1.2 m
// is a pedestrian; <= 2.5 m and narrower than 1.2 m a bicycle (the worker
// may promote it to motorcycle by speed); <= 6 m a car; <= 9 m a truck;
// longer a bus. Without one, pixel shape only: taller than 1.2x its width
// is a pedestrian, a blob over 5% of the frame a bus, anything else a car.
// The pixel rule cannot tell a bicycle from a car; that is the worker's job
// with speed, or the footprint's.
func (m *Motion) classify(box image.Rectangle, fw, fh int) events.Class {
	if m.cfg.Footprint != nil {
		if w, d, ok := m.cfg.Footprint(box); ok && w > 0 && d >= 0 {
			long, short := math.Max(w, d), math.Min(w, d)
			switch {
			case long <= pedestrianMaxM:
				return events.Pedestrian
			case long <= twoWheelerMaxM && short <= twoWheelerMaxSide:
				return events.Bicycle
			case long <= carMaxM:
				return events.Car
			case long <= truckMaxM:
				return events.Truck
			default:
				return events.Bus
			}
		}
	}
	w, h := float64(box.Dx()), float64(box.Dy())
	switch {
	case h >= tallAspect*w:
		return events.Pedestrian
	case w*h >= busAreaFrac*float64(fw*fh):
		return events.Bus
	default:
		return events.Car
	}
}
