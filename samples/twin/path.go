package twin

import (
	"math"
)

// pt is a ground-plane point or direction in metres.
type pt struct{ x, y float64 }

func (a pt) add(b pt) pt        { return pt{a.x + b.x, a.y + b.y} }
func (a pt) sub(b pt) pt        { return pt{a.x - b.x, a.y - b.y} }
func (a pt) scale(k float64) pt { return pt{a.x * k, a.y * k} }
func (a pt) norm() float64      { return math.Hypot(a.x, a.y) }
func (a pt) rot(theta float64) pt {
	s, c := math.Sincos(theta)
	return pt{c*a.x - s*a.y, s*a.x + c*a.y}
}

// segment is a straight line or a circular arc of a path.
type segment struct {
	lengthM float64
	// line: from p0 along unit direction dir
	p0, dir pt
	// arc: around centre with radius; angle of the start point and signed
	// sweep direction (+1 counter-clockwise, −1 clockwise)
	arc          bool
	centre       pt
	radiusM      float64
	startRad, cw float64
}

func (g segment) at(s float64) (p, tangent pt) {
	if !g.arc {
		return g.p0.add(g.dir.scale(s)), g.dir
	}
	a := g.startRad + g.cw*s/g.radiusM
	sa, ca := math.Sincos(a)
	return pt{g.centre.x + g.radiusM*ca, g.centre.y + g.radiusM*sa}, pt{-sa * g.cw, ca * g.cw}
}

// path is a smooth chain of segments parametrised by arc length.
type path struct {
	segs  []segment
	cum   []float64 // arc length at the start of each segment
	total float64
}

// pathBuilder chains lines and tangent arcs from a start pose.
type pathBuilder struct {
	p    path
	pos  pt
	head pt // unit heading
}

func newPath(start pt, headingRad float64) *pathBuilder {
	return &pathBuilder{pos: start, head: pt{math.Cos(headingRad), math.Sin(headingRad)}}
}

func (b *pathBuilder) push(g segment) {
	b.p.cum = append(b.p.cum, b.p.total)
	b.p.segs = append(b.p.segs, g)
	b.p.total += g.lengthM
	b.pos, b.head = g.at(g.lengthM)
}

// line goes straight for lengthM.
func (b *pathBuilder) line(lengthM float64) *pathBuilder {
	b.push(segment{lengthM: lengthM, p0: b.pos, dir: b.head})
	return b
}

// turn follows a tangent arc of radius radiusM through angleRad
// (positive: left, counter-clockwise; negative: right).
func (b *pathBuilder) turn(radiusM, angleRad float64) *pathBuilder {
	cw := 1.0
	if angleRad < 0 {
		cw = -1
	}
	normal := pt{-b.head.y, b.head.x}.scale(cw) // towards the centre
	centre := b.pos.add(normal.scale(radiusM))
	start := math.Atan2(b.pos.y-centre.y, b.pos.x-centre.x)
	b.push(segment{lengthM: radiusM * math.Abs(angleRad), arc: true, centre: centre, radiusM: radiusM, startRad: start, cw: cw})
	return b
}

func (b *pathBuilder) done() path { return b.p }

// at returns the position and unit tangent at arc length s (clamped).
func (p path) at(s float64) (pos, tangent pt) {
	s = math.Max(0, math.Min(s, p.total))
	i := len(p.segs) - 1
	for i > 0 && p.cum[i] > s {
		i--
	}
	return p.segs[i].at(s - p.cum[i])
}

// rotated returns the path turned by theta around the origin: the
// intersection is symmetric, so paths are written once for northbound and
// rotated to the other approaches.
func (p path) rotated(theta float64) path {
	q := path{cum: p.cum, total: p.total, segs: make([]segment, len(p.segs))}
	for i, g := range p.segs {
		g.p0, g.dir, g.centre = g.p0.rot(theta), g.dir.rot(theta), g.centre.rot(theta)
		g.startRad += theta
		q.segs[i] = g
	}
	return q
}

// segEnd returns the arc length where segment i ends.
func (p path) segEnd(i int) float64 { return p.cum[i] + p.segs[i].lengthM }

// sOn returns the arc length of the point of straight segment i closest
// to q: scripts name places ("where the car's front meets the crosswalk")
// in world coordinates.
func (p path) sOn(i int, q pt) float64 {
	if i < 0 {
		i += len(p.segs)
	}
	g := p.segs[i]
	return p.cum[i] + q.sub(g.p0).x*g.dir.x + q.sub(g.p0).y*g.dir.y
}
