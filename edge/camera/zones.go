package camera

import (
	"errors"
	"fmt"
	"math"

	"github.com/intersect-oss/intersect/edge/calib"
)

// SimplePolygon returns an error unless poly (≥ 3 vertices, implicitly
// closed) has non-zero area and no two non-adjacent edges touch. A
// self-intersecting "bow tie" zone has no meaningful inside, so it is
// refused at load rather than giving odd zone memberships later.
func SimplePolygon(poly []calib.Point) error {
	n := len(poly)
	if n < 3 {
		return fmt.Errorf("needs at least 3 vertices, has %d", n)
	}
	for i := 0; i < n; i++ {
		if poly[i] == poly[(i+1)%n] {
			return fmt.Errorf("vertices %d and %d coincide", i, (i+1)%n)
		}
	}
	for i := 0; i < n; i++ {
		a1, a2 := poly[i], poly[(i+1)%n]
		for j := i + 1; j < n; j++ {
			if j == i+1 || (i == 0 && j == n-1) {
				continue // adjacent edges share a vertex by construction
			}
			b1, b2 := poly[j], poly[(j+1)%n]
			if segmentsIntersect(a1, a2, b1, b2) {
				return fmt.Errorf("not a simple polygon: edge %d–%d crosses edge %d–%d", i, (i+1)%n, j, (j+1)%n)
			}
		}
	}
	if math.Abs(area(poly)) < 1e-9 {
		return errors.New("polygon has zero area")
	}
	return nil
}

func area(poly []calib.Point) float64 {
	var s float64
	for i := range poly {
		a, b := poly[i], poly[(i+1)%len(poly)]
		s += a.X*b.Y - b.X*a.Y
	}
	return s / 2
}

func orient(a, b, c calib.Point) float64 {
	return (b.X-a.X)*(c.Y-a.Y) - (b.Y-a.Y)*(c.X-a.X)
}

func onSegment(a, b, p calib.Point) bool {
	return math.Min(a.X, b.X) <= p.X && p.X <= math.Max(a.X, b.X) &&
		math.Min(a.Y, b.Y) <= p.Y && p.Y <= math.Max(a.Y, b.Y)
}

// segmentsIntersect reports whether closed segments p1p2 and q1q2 touch.
func segmentsIntersect(p1, p2, q1, q2 calib.Point) bool {
	d1 := orient(q1, q2, p1)
	d2 := orient(q1, q2, p2)
	d3 := orient(p1, p2, q1)
	d4 := orient(p1, p2, q2)
	if ((d1 > 0 && d2 < 0) || (d1 < 0 && d2 > 0)) && ((d3 > 0 && d4 < 0) || (d3 < 0 && d4 > 0)) {
		return true
	}
	return (d1 == 0 && onSegment(q1, q2, p1)) || (d2 == 0 && onSegment(q1, q2, p2)) ||
		(d3 == 0 && onSegment(p1, p2, q1)) || (d4 == 0 && onSegment(p1, p2, q2))
}

// Points returns the zone polygon as points.
func (z Zone) Points() []calib.Point {
	out := make([]calib.Point, len(z.Polygon))
	for i, v := range z.Polygon {
		out[i] = calib.Point{X: v[0], Y: v[1]}
	}
	return out
}

// Contains reports whether the ground point (x, y) lies inside the zone
// (even–odd ray casting).
func (z Zone) Contains(x, y float64) bool {
	in := false
	n := len(z.Polygon)
	for i, j := 0, n-1; i < n; j, i = i, i+1 {
		xi, yi := z.Polygon[i][0], z.Polygon[i][1]
		xj, yj := z.Polygon[j][0], z.Polygon[j][1]
		if (yi > y) != (yj > y) && x < (xj-xi)*(y-yi)/(yj-yi)+xi {
			in = !in
		}
	}
	return in
}

// ZoneAt returns the first zone of the given kind containing (x, y).
func (c *Camera) ZoneAt(kind string, x, y float64) (Zone, bool) {
	for _, z := range c.Zones {
		if z.Kind == kind && z.Contains(x, y) {
			return z, true
		}
	}
	return Zone{}, false
}

// Excluded reports whether (x, y) falls in an exclusion zone.
func (c *Camera) Excluded(x, y float64) bool {
	_, ok := c.ZoneAt(ZoneExclusion, x, y)
	return ok
}
