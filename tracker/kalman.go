package tracker

// boxFilter is a constant-velocity Kalman filter on a box's centre, width
// and height (cx, cy, w, h and their rates, in pixels and pixels/frame).
//
// Why x, y, w, h rather than ByteTrack's x, y, aspect, h: a walking
// pedestrian's width swings with the stride while the height stays put, and
// a turning car's width changes a lot; filtering w and h separately lets each
// keep its own rate, and the noise can scale with the matching dimension
// (BoT-SORT's choice, which does better on MOT benchmarks).
//
// With a block-diagonal transition and diagonal noise the 8×8 covariance
// stays block-diagonal, so the filter is exactly four independent 2-state
// filters; writing it that way avoids 8×8 matrix products per frame.
type boxFilter struct {
	c [4]coord // cx, cy, w, h
}

// coord is one 2-state (position, rate) filter with covariance [[a b] [b c]].
type coord struct {
	p, v    float64
	a, b, c float64
}

// noise holds the filter's standard deviations as fractions of the box size.
type noise struct {
	pos, vel float64 // process noise per frame, fraction of w or h
	meas     float64 // measurement noise, fraction of w or h
}

func newBoxFilter(b Box, n noise) boxFilter {
	cx, cy := b.Center()
	z := [4]float64{cx, cy, b.W, b.H}
	var f boxFilter
	for i := range f.c {
		s := scale(i, b.W, b.H)
		sp, sv := 2*n.pos*s, 10*n.vel*s
		f.c[i] = coord{p: z[i], a: sp * sp, c: sv * sv}
	}
	return f
}

// scale is the size that coordinate i's noise is proportional to.
func scale(i int, w, h float64) float64 {
	if i == 0 || i == 2 {
		return max(w, 1)
	}
	return max(h, 1)
}

// predict advances one frame.
func (f *boxFilter) predict(n noise) {
	w, h := f.c[2].p, f.c[3].p
	for i := range f.c {
		k := &f.c[i]
		s := scale(i, w, h)
		qp, qv := n.pos*s, n.vel*s
		k.p += k.v
		k.a += 2*k.b + k.c + qp*qp
		k.b += k.c
		k.c += qv * qv
	}
	// A box cannot shrink below a pixel, whatever its rate says.
	for i := 2; i < 4; i++ {
		if f.c[i].p < 1 {
			f.c[i].p = 1
			f.c[i].v = 0
		}
	}
}

// update folds in a measured box.
func (f *boxFilter) update(b Box, n noise) {
	cx, cy := b.Center()
	z := [4]float64{cx, cy, b.W, b.H}
	w, h := f.c[2].p, f.c[3].p
	for i := range f.c {
		k := &f.c[i]
		r := n.meas * scale(i, w, h)
		s := k.a + r*r
		k0, k1 := k.a/s, k.b/s
		y := z[i] - k.p
		k.p += k0 * y
		k.v += k1 * y
		k.c -= k1 * k.b
		k.a *= 1 - k0
		k.b *= 1 - k0
	}
}

// box returns the current estimate as a Box.
func (f *boxFilter) box() Box {
	w, h := max(f.c[2].p, 1), max(f.c[3].p, 1)
	return Box{X: f.c[0].p - w/2, Y: f.c[1].p - h/2, W: w, H: h}
}
