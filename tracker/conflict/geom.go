package conflict

import "math"

// vec is a point or a vector on the ground plane, in metres (or m/s).
type vec struct{ x, y float64 }

func (a vec) add(b vec) vec         { return vec{a.x + b.x, a.y + b.y} }
func (a vec) sub(b vec) vec         { return vec{a.x - b.x, a.y - b.y} }
func (a vec) scale(k float64) vec   { return vec{a.x * k, a.y * k} }
func (a vec) dot(b vec) float64     { return a.x*b.x + a.y*b.y }
func (a vec) cross(b vec) float64   { return a.x*b.y - a.y*b.x }
func (a vec) norm() float64         { return math.Hypot(a.x, a.y) }
func unit(headingRad float64) vec   { return vec{math.Cos(headingRad), math.Sin(headingRad)} }
func lerp(a, b vec, f float64) vec  { return vec{a.x + (b.x-a.x)*f, a.y + (b.y-a.y)*f} }
func angleBetween(a, b vec) float64 { return math.Atan2(math.Abs(a.cross(b)), a.dot(b)) }

// wrapAngle maps an angle to (-π, π].
func wrapAngle(a float64) float64 {
	for a > math.Pi {
		a -= 2 * math.Pi
	}
	for a <= -math.Pi {
		a += 2 * math.Pi
	}
	return a
}

// convex is a convex polygon given by its centre, its two (not necessarily
// orthogonal) edge directions u and v, and half-extents along them: the set
// c + s·u + r·v with |s| ≤ hu, |r| ≤ hv. An oriented rectangle (a road user)
// has u ⟂ v; the conflict area of two crossing corridors is a parallelogram.
type convex struct {
	c      vec
	u, v   vec // unit edge directions
	hu, hv float64
	nu, nv vec // unit normals of the edges (separating-axis candidates)
}

// rect is the footprint of a road user: length along the heading, width across.
func rect(c vec, headingRad, lengthM, widthM float64) convex {
	u := unit(headingRad)
	v := vec{-u.y, u.x}
	return convex{c: c, u: u, v: v, hu: lengthM / 2, hv: widthM / 2, nu: v, nv: u}
}

// parallelogram returns the overlap of two straight corridors through p:
// one along direction a of half-width ha, the other along b of half-width hb.
// ok is false when the corridors are (nearly) parallel and the overlap is
// unbounded.
func parallelogram(p, a, b vec, ha, hb float64) (convex, bool) {
	sin := math.Abs(a.cross(b))
	if sin < 0.05 { // under ~3°: no bounded conflict area
		return convex{}, false
	}
	// Points p + s·a + r·b: distance to corridor A's centre line is |r|·sin,
	// to corridor B's is |s|·sin; so |r| ≤ ha/sin and |s| ≤ hb/sin.
	na := vec{-a.y, a.x}
	nb := vec{-b.y, b.x}
	return convex{c: p, u: a, v: b, hu: hb / sin, hv: ha / sin, nu: nb, nv: na}, true
}

// radius is the half-length of the projection of k onto the unit axis n.
func (k convex) radius(n vec) float64 {
	return k.hu*math.Abs(k.u.dot(n)) + k.hv*math.Abs(k.v.dot(n))
}

// sweep returns the interval [t0, t1] of times at which a, moving with
// velocity va, overlaps b, moving with vb (both at constant velocity and
// without rotation), by the separating-axis theorem applied to the moving
// projections: for convex polygons the overlap interval is the intersection
// of the per-axis overlap intervals, which makes this exact. ok is false when
// they never overlap.
func sweep(a, b convex, va, vb vec) (t0, t1 float64, ok bool) {
	rel := vb.sub(va) // b's motion as seen from a
	d := b.c.sub(a.c)
	t0, t1 = math.Inf(-1), math.Inf(1)
	for _, n := range [4]vec{a.nu, a.nv, b.nu, b.nv} {
		r := a.radius(n) + b.radius(n)
		dist := d.dot(n)
		s := rel.dot(n)
		if math.Abs(s) < 1e-12 {
			if math.Abs(dist) > r {
				return 0, 0, false
			}
			continue
		}
		e0, e1 := (-r-dist)/s, (r-dist)/s
		if e0 > e1 {
			e0, e1 = e1, e0
		}
		t0 = math.Max(t0, e0)
		t1 = math.Min(t1, e1)
		if t0 > t1 {
			return 0, 0, false
		}
	}
	return t0, t1, true
}

// segmentIntersection returns where segment p0→p1 meets q0→q1, as fractions
// along each; ok is false when they do not meet or are parallel.
func segmentIntersection(p0, p1, q0, q1 vec) (fp, fq float64, ok bool) {
	r := p1.sub(p0)
	s := q1.sub(q0)
	den := r.cross(s)
	if math.Abs(den) < 1e-12 {
		return 0, 0, false
	}
	w := q0.sub(p0)
	fp = w.cross(s) / den
	fq = w.cross(r) / den
	if fp < 0 || fp > 1 || fq < 0 || fq > 1 {
		return 0, 0, false
	}
	return fp, fq, true
}

// Polygon is a closed ring of ground-plane points in metres, [x, y] each.
type Polygon [][2]float64

// Contains reports whether (x, y) lies inside p (even-odd rule).
func (p Polygon) Contains(x, y float64) bool {
	in := false
	for i, j := 0, len(p)-1; i < len(p); j, i = i, i+1 {
		xi, yi, xj, yj := p[i][0], p[i][1], p[j][0], p[j][1]
		if (yi > y) != (yj > y) && x < (xj-xi)*(y-yi)/(yj-yi)+xi {
			in = !in
		}
	}
	return in
}
