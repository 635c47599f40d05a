package detect

import (
	"fmt"
	"image"
	"image/color"
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
	// HoldFrames: a road user that stops (a car waiting at a red light)
	// fades into MOG2's background within seconds; it is kept, where it
	// stands, for up to this many frames after MOG2 last saw it [1800,
	// two minutes at 15 fps]; set -1 to report only what moves.
	HoldFrames int
	// ReferenceFrames is the time constant, in frames, of the reference
	// background held road users are compared with [150]. It follows
	// lighting but never learns what moves or is held, so it also tells
	// MOG2's ghosts (the road where an absorbed car stood, after it left)
	// from road users.
	ReferenceFrames int
	// ChangeThreshold is the grey-level difference from the reference
	// that counts as something standing there [25].
	ChangeThreshold float64
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
	if c.HoldFrames == 0 {
		c.HoldFrames = 1800
	}
	if c.ReferenceFrames == 0 {
		c.ReferenceFrames = 150
	}
	if c.ChangeThreshold == 0 {
		c.ChangeThreshold = 25
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
	case c.ReferenceFrames < 1:
		return c, fmt.Errorf("motion detector: reference time constant %d frames, want >= 1", c.ReferenceFrames)
	case !(c.ChangeThreshold > 0 && c.ChangeThreshold < 255):
		return c, fmt.Errorf("motion detector: change threshold %g outside (0, 255)", c.ChangeThreshold)
	}
	return c, nil
}

// Motion is the fallback detector: MOG2 background subtraction with shadow
// detection, shadows (grey 127 in the mask) thresholded away, a 3x3 open to
// remove speckle and a 7x7 elliptic close to join a body's parts, external
// contours to boxes, then classify. It finds what moves and what stopped
// after moving (see MotionConfig.HoldFrames), not what never moved, and it
// merges road users that touch.
//
// The hold: gocv's MOG2 takes no learning rate, so a car waiting at a red
// light becomes background in seconds (faster early on: OpenCV learns at
// 1/(2·frames) until frames reach history) and leaves a ghost where it
// stood when it drives off. A second, reference background, updated only
// where nothing moves or is held, settles both: inside the box of a road
// user MOG2 stopped seeing, pixels that still differ from the reference
// keep it reported; MOG2 foreground that matches the reference is a ghost
// and is dropped.
type Motion struct {
	cfg     MotionConfig
	mog     gocv.BackgroundSubtractorMOG2
	small   gocv.Mat
	conv    gocv.Mat
	mask    gocv.Mat
	openK   gocv.Mat
	closeK  gocv.Mat
	frames  int // since the background model was (re)started
	lastW   int
	lastH   int
	ref     gocv.Mat // reference background, CV_32FC3 at processing size
	ref8    gocv.Mat
	diff    gocv.Mat
	changed gocv.Mat // changedIn's output, in views of this buffer
	moving  gocv.Mat // MOG2's own foreground this frame
	upd     gocv.Mat // where the reference learns
	dilK    gocv.Mat
	held    []heldBlob
	ghosts  []image.Rectangle // where held road users left, until MOG2 relearns the road
}

// heldBlob is a reported blob at processing scale and the frame MOG2 last
// saw most of it as foreground.
type heldBlob struct {
	box  image.Rectangle
	seen int
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
		cfg:     cfg,
		mog:     gocv.NewBackgroundSubtractorMOG2WithParams(cfg.History, cfg.VarThreshold, true),
		small:   gocv.NewMat(),
		conv:    gocv.NewMat(),
		mask:    gocv.NewMat(),
		openK:   gocv.GetStructuringElement(gocv.MorphRect, image.Pt(3, 3)),
		closeK:  gocv.GetStructuringElement(gocv.MorphEllipse, image.Pt(7, 7)),
		ref:     gocv.NewMat(),
		ref8:    gocv.NewMat(),
		diff:    gocv.NewMat(),
		changed: gocv.NewMat(),
		moving:  gocv.NewMat(),
		upd:     gocv.NewMat(),
		dilK:    gocv.GetStructuringElement(gocv.MorphRect, image.Pt(9, 9)),
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
	for _, x := range []*gocv.Mat{&m.ref, &m.ref8, &m.diff, &m.changed, &m.moving, &m.upd, &m.dilK} {
		x.Close()
	}
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
		m.ref.Close()
		m.ref, m.held, m.ghosts = gocv.NewMat(), nil, nil
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
	hold := m.cfg.HoldFrames > 0
	if m.frames <= m.cfg.WarmupFrames {
		if hold {
			m.learnReference(src, false)
		}
		return nil, nil
	}
	// MOG2 marks shadows 127 and foreground 255.
	gocv.Threshold(m.mask, &m.mask, 200, 255, gocv.ThresholdBinary)
	if hold {
		m.applyReference(src)
	}
	gocv.MorphologyEx(m.mask, &m.mask, gocv.MorphOpen, m.openK)
	gocv.MorphologyEx(m.mask, &m.mask, gocv.MorphClose, m.closeK)
	contours := gocv.FindContours(m.mask, gocv.RetrievalExternal, gocv.ChainApproxSimple)
	defer contours.Close()
	var blobs []image.Rectangle // processing scale, for the hold

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
		blobs = append(blobs, r)
		dets = append(dets, Detection{
			Box:   box,
			Score: math.Min(1, blobArea/area),
			Class: m.classify(box, fw, fh),
		})
	}
	if hold {
		m.remember(blobs)
		m.learnReference(src, true)
	}
	return dets, nil
}

// applyReference works inside the boxes of held road users and of the
// ghost zones they left: in a held box the mask becomes what differs from
// the reference (the road user, whether MOG2 still sees it or not, and not
// the ghost of where it stood); in a ghost zone MOG2 foreground that
// matches the reference is dropped. Only these boxes are compared, so a
// scene where nothing stopped costs nothing extra.
func (m *Motion) applyReference(src gocv.Mat) {
	m.startReference(src)
	m.mask.CopyTo(&m.moving)
	kept := m.held[:0]
	for _, h := range m.held {
		if m.frames-h.seen > m.cfg.HoldFrames {
			m.ghosts = append(m.ghosts, h.box)
			continue
		}
		still := m.changedIn(src, h.box)
		if 10*gocv.CountNonZero(still) < 3*h.box.Dx()*h.box.Dy() {
			still.Close()
			m.ghosts = append(m.ghosts, h.box) // it left: MOG2 may show a ghost there
			continue
		}
		dst := m.mask.Region(h.box)
		still.CopyTo(&dst)
		dst.Close()
		still.Close()
		kept = append(kept, h)
	}
	m.held = kept
	ghosts := m.ghosts[:0]
	for _, g := range m.ghosts {
		fg := m.moving.Region(g)
		n := gocv.CountNonZero(fg)
		fg.Close()
		if 10*n < g.Dx()*g.Dy() {
			continue // MOG2 has relearnt the road there
		}
		still := m.changedIn(src, g)
		dst := m.mask.Region(g)
		gocv.BitwiseAnd(dst, still, &dst)
		dst.Close()
		still.Close()
		ghosts = append(ghosts, g)
	}
	// A zone MOG2 never relearns (something keeps moving there) must not
	// make the list grow without end.
	if len(ghosts) > maxGhostZones {
		ghosts = append(ghosts[:0], ghosts[len(ghosts)-maxGhostZones:]...)
	}
	m.ghosts = ghosts
}

// maxGhostZones bounds the ghost zones kept, newest first.
const maxGhostZones = 64

// changedIn returns, for box r, 255 where the frame differs from the
// reference by more than ChangeThreshold grey levels: a view, valid until
// the next call, that the caller closes.
//
// It works in views of frame-sized buffers, allocated once per frame size:
// a fresh Mat of each box's size on every call churned the C heap.
func (m *Motion) changedIn(src gocv.Mat, r image.Rectangle) gocv.Mat {
	if m.ref8.Cols() != src.Cols() || m.ref8.Rows() != src.Rows() {
		for _, b := range []struct {
			mat *gocv.Mat
			typ gocv.MatType
		}{{&m.ref8, gocv.MatTypeCV8UC3}, {&m.diff, gocv.MatTypeCV8UC3}, {&m.changed, gocv.MatTypeCV8U}} {
			b.mat.Close()
			*b.mat = gocv.NewMatWithSize(src.Rows(), src.Cols(), b.typ)
		}
	}
	ref, ref8, cur, diff := m.ref.Region(r), m.ref8.Region(r), src.Region(r), m.diff.Region(r)
	defer func() {
		for _, x := range []*gocv.Mat{&ref, &ref8, &cur, &diff} {
			x.Close()
		}
	}()
	ref.ConvertTo(&ref8, gocv.MatTypeCV8UC3)
	gocv.AbsDiff(cur, ref8, &diff)
	out := m.changed.Region(r)
	gocv.CvtColor(diff, &out, gocv.ColorBGRToGray)
	gocv.Threshold(out, &out, float32(m.cfg.ChangeThreshold), 255, gocv.ThresholdBinary)
	return out
}

// remember makes this frame's blobs the held ones: a blob continuing a held
// one (IoU ≥ 0.3) inherits when MOG2 last saw it; a blob MOG2 sees now (a
// quarter of its box foreground) is seen now; others are not held.
func (m *Motion) remember(blobs []image.Rectangle) {
	next := make([]heldBlob, 0, len(blobs))
	for _, r := range blobs {
		h := heldBlob{box: r, seen: -1}
		best := 0.3
		for _, o := range m.held {
			if v := IoU(r, o.box); v >= best {
				best, h.seen = v, o.seen
			}
		}
		mv := m.moving.Region(r)
		if 4*gocv.CountNonZero(mv) >= r.Dx()*r.Dy() {
			h.seen = m.frames
		}
		mv.Close()
		if h.seen >= 0 {
			next = append(next, h)
		}
	}
	m.held = next
}

// referenceEvery: the reference learns every this many frames (at that
// many times the rate), which is plenty for lighting and a quarter of the
// cost.
const referenceEvery = 4

// startReference makes the frame the reference if there is none yet (the
// first frame, or the first after a change of size) and says whether it did.
func (m *Motion) startReference(src gocv.Mat) bool {
	if !m.ref.Empty() {
		return false
	}
	src.ConvertTo(&m.ref, gocv.MatTypeCV32FC3)
	return true
}

// learnReference blends the frame into the reference where nothing moves
// or is held (everywhere during warm-up), learning fast at first as MOG2
// does.
func (m *Motion) learnReference(src gocv.Mat, masked bool) {
	if m.startReference(src) {
		return
	}
	if masked && m.frames%referenceEvery != 0 {
		return
	}
	alpha := math.Max(1/float64(m.cfg.ReferenceFrames), 1/float64(2*m.frames))
	if !masked {
		gocv.AccumulatedWeighted(src, &m.ref, alpha)
		return
	}
	alpha = math.Min(1, referenceEvery*alpha)
	gocv.Dilate(m.mask, &m.upd, m.dilK)
	for _, h := range m.held {
		gocv.Rectangle(&m.upd, h.box, color.RGBA{255, 255, 255, 0}, -1)
	}
	gocv.BitwiseNot(m.upd, &m.upd)
	gocv.AccumulatedWeightedWithMask(src, &m.ref, alpha, m.upd)
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
