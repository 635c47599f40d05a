package tracker

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/intersect-oss/intersect/events"
)

// Homography maps image pixels to local ground-plane metres: a row-major 3×3
// matrix H with [x y w]ᵀ = H·[px py 1]ᵀ and ground point (x/w, y/w). It is
// fitted per camera (intersect calibrate, package edge/calib) and lives in
// the camera's config.
type Homography [9]float64

// Project maps the image point (px, py) to the ground. ok is false when the
// point lies on or beyond the horizon line (w ≤ 0: H is scaled so that the
// ground in view has w > 0, and a point past the horizon would otherwise
// land mirrored behind the camera) or the result is not finite: such a point
// has no place on the ground plane.
func (h Homography) Project(px, py float64) (x, y float64, ok bool) {
	w := h[6]*px + h[7]*py + h[8]
	if w < 1e-12 || math.IsNaN(w) {
		return 0, 0, false
	}
	x = (h[0]*px + h[1]*py + h[2]) / w
	y = (h[3]*px + h[4]*py + h[5]) / w
	if math.IsNaN(x) || math.IsNaN(y) || math.IsInf(x, 0) || math.IsInf(y, 0) {
		return 0, 0, false
	}
	return x, y, true
}

// MetresPerPixel is how far on the ground one pixel moves the image point
// (px, py): the larger of a step right and a step down, which is the step
// along the viewing direction for a camera looking down at the road. ok is
// false where the point or its neighbours do not project.
func (h Homography) MetresPerPixel(px, py float64) (float64, bool) {
	x0, y0, ok0 := h.Project(px, py)
	x1, y1, ok1 := h.Project(px+1, py)
	x2, y2, ok2 := h.Project(px, py+1)
	if !ok0 || !ok1 || !ok2 {
		return 0, false
	}
	return math.Max(math.Hypot(x1-x0, y1-y0), math.Hypot(x2-x0, y2-y0)), true
}

// Inverse returns the ground → image homography, scaled so that its last
// element is ±1 when that element is not zero. The scale keeps the sign of
// the exact inverse, so the points that H sees in front of the camera keep
// w > 0 through the inverse and Project accepts them.
func (h Homography) Inverse() (Homography, error) {
	a, b, c := h[0], h[1], h[2]
	d, e, f := h[3], h[4], h[5]
	g, k, l := h[6], h[7], h[8]
	det := a*(e*l-f*k) - b*(d*l-f*g) + c*(d*k-e*g)
	scale := 0.0
	for _, v := range h {
		scale = max(scale, math.Abs(v))
	}
	if math.IsNaN(det) || scale == 0 || math.Abs(det) <= 1e-12*scale*scale*scale {
		return Homography{}, fmt.Errorf("homography %v is singular (determinant %g): it cannot be inverted", h, det)
	}
	inv := Homography{
		e*l - f*k, c*k - b*l, b*f - c*e,
		f*g - d*l, a*l - c*g, c*d - a*f,
		d*k - e*g, b*g - a*k, a*e - b*d,
	}
	n := det
	if inv[8] != 0 {
		// Same matrix up to a positive factor: normalise |h33| to 1.
		n = math.Copysign(inv[8], det)
	}
	for i := range inv {
		inv[i] /= n
	}
	return inv, nil
}

// Extent is a road user's footprint on the ground, metres. The conflict
// engine's YAML config overrides it per class (length_m, width_m).
type Extent struct {
	LengthM float64 `yaml:"length_m"`
	WidthM  float64 `yaml:"width_m"`
}

// DefaultExtents returns the footprint assumed for each class when nothing
// better is known (typical sizes: a pedestrian's personal space, a bicycle, a
// motorcycle, a passenger car, a city bus, a rigid truck). It is the one
// table both the ground smoother and the conflict engine start from. It
// returns a new map each time, so callers may change it.
func DefaultExtents() map[events.Class]Extent {
	return map[events.Class]Extent{
		events.Pedestrian: {0.5, 0.5},
		events.Bicycle:    {1.8, 0.6},
		events.Motorcycle: {2.2, 0.8},
		events.Car:        {4.5, 1.8},
		events.Bus:        {12, 2.55},
		events.Truck:      {8, 2.5},
	}
}

// GroundConfig sets the ground-plane smoother.
type GroundConfig struct {
	// AccelStdMPS2 is the process noise: the standard deviation of the
	// unmodelled acceleration, m/s². Larger follows turns and stops faster,
	// smaller gives steadier speeds.
	AccelStdMPS2 float64
	// MeasurementStdM is the standard deviation of a projected box
	// bottom-centre, metres (detector jitter times the metres per pixel).
	MeasurementStdM float64
	// InitialSpeedStdMPS is the uncertainty of the (unknown) velocity at a
	// track's first point.
	InitialSpeedStdMPS float64
	// SmoothLag, when positive, keeps that many past updates so that
	// Smoothed can return the state that many updates back, smoothed with
	// the measurements since (fixed-lag Rauch–Tung–Striebel). A causal
	// filter quiet enough for steady speeds trails a car braking hard by
	// most of a second; looking a few frames ahead settles the braking's
	// onset, at the cost of reporting that much later.
	SmoothLag int
	// HeadingMinSpeedMPS: below this speed the heading is not updated (the
	// direction of a near-standstill velocity is noise); the last heading is
	// kept.
	HeadingMinSpeedMPS float64
	// Extents by class; a class missing here falls back to DefaultExtents.
	Extents map[events.Class]Extent
}

// DefaultGroundConfig returns defaults for urban road users seen at 10–30
// fps: 2 m/s² acceleration noise (a car braking moderately, a pedestrian
// starting to walk), 0.3 m measurement noise, 5 m/s initial velocity
// uncertainty, heading held below 0.3 m/s, DefaultExtents.
func DefaultGroundConfig() GroundConfig {
	return GroundConfig{
		AccelStdMPS2:       2,
		MeasurementStdM:    0.3,
		InitialSpeedStdMPS: 5,
		HeadingMinSpeedMPS: 0.3,
		Extents:            DefaultExtents(),
	}
}

// GroundState is a road user's smoothed state on the ground plane: position
// (m), velocity (m/s), heading (rad, counter-clockwise from the ground
// frame's +x axis, in (−π, π]), speed (m/s) and footprint (m).
type GroundState struct {
	X, Y, VX, VY, Heading, Speed, Length, Width float64
}

// GroundFilter smooths one track's ground positions with a constant-velocity
// Kalman filter per axis (white-noise acceleration model, any time step), so
// velocity and heading come from the filtered state rather than from
// differences of noisy frames. One filter per track; not safe for concurrent
// use.
type GroundFilter struct {
	cfg     GroundConfig
	extent  Extent
	axes    [2]coord
	steps   []lagStep // the last SmoothLag+1 updates, oldest first
	last    time.Time
	started bool
	heading float64
}

// ErrTimeOrder is returned when a measurement is not later than the last one.
var ErrTimeOrder = errors.New("ground filter: measurement time not after the previous one")

// NewGroundFilter returns a smoother for a road user of class c.
func NewGroundFilter(cfg GroundConfig, c events.Class) *GroundFilter {
	ext, ok := cfg.Extents[c]
	if !ok {
		ext = DefaultExtents()[c]
	}
	return &GroundFilter{cfg: cfg, extent: ext}
}

// Update folds in the ground position (x, y) in metres observed at t and
// returns the new state. t must be after the previous measurement
// (ErrTimeOrder otherwise) and x, y finite.
func (g *GroundFilter) Update(t time.Time, x, y float64) (GroundState, error) {
	return g.UpdateWithStd(t, x, y, g.cfg.MeasurementStdM)
}

// UpdateWithStd is Update with this measurement's standard deviation in
// metres instead of MeasurementStdM: a point projected from a box near the
// camera is metres more precise than one 60 m away (see
// Homography.MetresPerPixel).
func (g *GroundFilter) UpdateWithStd(t time.Time, x, y, stdM float64) (GroundState, error) {
	if math.IsNaN(x) || math.IsNaN(y) || math.IsInf(x, 0) || math.IsInf(y, 0) {
		return g.State(), fmt.Errorf("ground filter: position (%v, %v) is not finite", x, y)
	}
	if !(stdM > 0) || math.IsInf(stdM, 0) {
		return g.State(), fmt.Errorf("ground filter: measurement std %v m is not a positive number", stdM)
	}
	r := stdM * stdM
	z := [2]float64{x, y}
	if !g.started {
		v0 := g.cfg.InitialSpeedStdMPS * g.cfg.InitialSpeedStdMPS
		for i := range g.axes {
			g.axes[i] = coord{p: z[i], a: r, c: v0}
		}
		g.started, g.last = true, t
		g.recordStep(t, 0, g.axes)
		return g.State(), nil
	}
	if !t.After(g.last) {
		return g.State(), fmt.Errorf("%w: %s ≤ %s", ErrTimeOrder, t.Format(time.RFC3339Nano), g.last.Format(time.RFC3339Nano))
	}
	dt := t.Sub(g.last).Seconds()
	g.last = t
	q := g.cfg.AccelStdMPS2 * g.cfg.AccelStdMPS2
	var prior [2]coord
	for i := range g.axes {
		k := &g.axes[i]
		// Predict: x += v·dt; P = F P Fᵀ + Q with Q for white acceleration.
		k.p += k.v * dt
		k.a += 2*dt*k.b + dt*dt*k.c + q*dt*dt*dt*dt/4
		k.b += dt*k.c + q*dt*dt*dt/2
		k.c += q * dt * dt
		prior[i] = *k
		// Update with the position measurement.
		s := k.a + r
		k0, k1 := k.a/s, k.b/s
		innov := z[i] - k.p
		k.p += k0 * innov
		k.v += k1 * innov
		k.c -= k1 * k.b
		k.a *= 1 - k0
		k.b *= 1 - k0
	}
	if sp := math.Hypot(g.axes[0].v, g.axes[1].v); sp >= g.cfg.HeadingMinSpeedMPS {
		g.heading = math.Atan2(g.axes[1].v, g.axes[0].v)
	}
	g.recordStep(t, dt, prior)
	return g.State(), nil
}

// lagStep is one update kept for smoothing: the prediction before the
// measurement (prior) and the estimate after it (post), per axis.
type lagStep struct {
	t           time.Time
	dt          float64 // since the previous update
	prior, post [2]coord
	heading     float64
}

func (g *GroundFilter) recordStep(t time.Time, dt float64, prior [2]coord) {
	if g.cfg.SmoothLag <= 0 {
		return
	}
	if len(g.steps) == g.cfg.SmoothLag+1 {
		copy(g.steps, g.steps[1:])
		g.steps = g.steps[:len(g.steps)-1]
	}
	g.steps = append(g.steps, lagStep{t: t, dt: dt, prior: prior, post: g.axes, heading: g.heading})
}

// Smoothed returns the state SmoothLag updates back, smoothed with the
// updates since (fixed-lag Rauch–Tung–Striebel), and its time. ok is false
// until the filter has seen SmoothLag+1 updates, or without SmoothLag.
func (g *GroundFilter) Smoothed() (st GroundState, t time.Time, ok bool) {
	n := len(g.steps)
	if g.cfg.SmoothLag <= 0 || n < g.cfg.SmoothLag+1 {
		return GroundState{}, time.Time{}, false
	}
	var s [2][2]float64 // smoothed (p, v) per axis, from the newest back
	for i := range s {
		s[i] = [2]float64{g.steps[n-1].post[i].p, g.steps[n-1].post[i].v}
	}
	for k := n - 2; k >= 0; k-- {
		next := &g.steps[k+1]
		for i := range s {
			s[i] = rtsStep(g.steps[k].post[i], next.prior[i], next.dt, s[i])
		}
	}
	old := &g.steps[0]
	vx, vy := s[0][1], s[1][1]
	heading := old.heading
	if math.Hypot(vx, vy) >= g.cfg.HeadingMinSpeedMPS {
		heading = math.Atan2(vy, vx)
	}
	return GroundState{
		X: s[0][0], Y: s[1][0], VX: vx, VY: vy, Heading: heading, Speed: math.Hypot(vx, vy),
		Length: g.extent.LengthM, Width: g.extent.WidthM,
	}, old.t, true
}

// rtsStep is one backward step of the Rauch–Tung–Striebel smoother for the
// constant-velocity model: post is the filtered estimate at step k, prior
// the prediction of step k+1 from it (dt later), next the smoothed
// estimate at k+1; it returns the smoothed estimate at k.
func rtsStep(post, prior coord, dt float64, next [2]float64) [2]float64 {
	det := prior.a*prior.c - prior.b*prior.b
	if !(det > 0) {
		return [2]float64{post.p, post.v}
	}
	// C = P_k Fᵀ (P_{k+1|k})⁻¹ with F = [[1, dt], [0, 1]].
	pf := [2][2]float64{{post.a + post.b*dt, post.b}, {post.b + post.c*dt, post.c}}
	inv := [2][2]float64{{prior.c / det, -prior.b / det}, {-prior.b / det, prior.a / det}}
	var c [2][2]float64
	for i := 0; i < 2; i++ {
		for j := 0; j < 2; j++ {
			c[i][j] = pf[i][0]*inv[0][j] + pf[i][1]*inv[1][j]
		}
	}
	dp, dv := next[0]-prior.p, next[1]-prior.v
	return [2]float64{post.p + c[0][0]*dp + c[0][1]*dv, post.v + c[1][0]*dp + c[1][1]*dv}
}

// UpdateBox projects the bottom-centre of b (image pixels) through h and
// folds it in; see Update. It fails when the point does not project.
func (g *GroundFilter) UpdateBox(h Homography, t time.Time, b Box) (GroundState, error) {
	px, py := b.BottomCenter()
	x, y, ok := h.Project(px, py)
	if !ok {
		return g.State(), fmt.Errorf("ground filter: box bottom-centre (%.1f, %.1f) px does not project to the ground", px, py)
	}
	return g.Update(t, x, y)
}

// State returns the current state (zero position before the first Update).
func (g *GroundFilter) State() GroundState {
	x, y, vx, vy := g.axes[0].p, g.axes[1].p, g.axes[0].v, g.axes[1].v
	return GroundState{
		X: x, Y: y, VX: vx, VY: vy,
		Heading: g.heading, Speed: math.Hypot(vx, vy),
		Length: g.extent.LengthM, Width: g.extent.WidthM,
	}
}

// Last returns the time of the last measurement (zero before the first).
func (g *GroundFilter) Last() time.Time { return g.last }
