package twin

import (
	"image"
	"image/color"
	"math"
	"sort"

	"gocv.io/x/gocv"

	"github.com/intersect-oss/intersect/events"
)

// Colours of the scene (gocv takes RGBA and writes BGR).
var (
	grassColour    = color.RGBA{86, 118, 70, 0}
	sidewalkColour = color.RGBA{168, 166, 158, 0}
	roadColour     = color.RGBA{88, 90, 94, 0}
	whiteMark      = color.RGBA{232, 232, 226, 0}
	yellowMark     = color.RGBA{226, 190, 60, 0}
	skinColour     = color.RGBA{214, 170, 140, 0}
)

const (
	aaShift   = 3 // sub-pixel bits for anti-aliased polygons
	aaScale   = 1 << aaShift
	nearClipM = 0.3 // polygons are clipped this far in front of the camera
)

// painter draws world geometry through a camera onto a Mat.
type painter struct {
	cam            Camera
	right, down, f vec3
	centre         vec3
}

func newPainter(c Camera) *painter {
	r, d, f := c.axes()
	return &painter{cam: c, right: r, down: d, f: f, centre: vec3{c.XM, c.YM, c.HeightM}}
}

func (p *painter) toCam(w vec3) vec3 {
	q := w.sub(p.centre)
	return vec3{q.dot(p.right), q.dot(p.down), q.dot(p.f)}
}

// polygon fills a world polygon, clipped (Sutherland–Hodgman) against the
// near plane and a guard band four image widths around the picture, and
// returns the image bounds of what it drew. The guard band keeps the
// projected vertices of a road reaching behind the camera at sizes the
// integer fill takes, without bending its edges: clamping the projected
// vertices instead moved them off their lines and left half of a far leg
// unpainted.
func (p *painter) polygon(img *gocv.Mat, world []vec3, c color.RGBA) image.Rectangle {
	out := make([]vec3, len(world))
	for i, w := range world {
		out[i] = p.toCam(w)
	}
	g := 4 * float64(max(p.cam.Width, p.cam.Height)) / p.cam.FocalPx // |x|, |y| <= g·z
	planes := [][4]float64{                                          // a·x + b·y + c·z >= d
		{0, 0, 1, nearClipM},
		{1, 0, g, 0}, {-1, 0, g, 0},
		{0, 1, g, 0}, {0, -1, g, 0},
	}
	for _, pl := range planes {
		out = clipPlane(out, pl)
	}
	if len(out) < 3 {
		return image.Rectangle{}
	}
	pts := make([]image.Point, len(out))
	r := image.Rectangle{Min: image.Pt(math.MaxInt32, math.MaxInt32), Max: image.Pt(math.MinInt32, math.MinInt32)}
	for i, q := range out {
		u, v := p.cam.pixel(q)
		pts[i] = image.Pt(int(math.Round(u*aaScale)), int(math.Round(v*aaScale)))
		r.Min.X, r.Min.Y = min(r.Min.X, int(math.Floor(u))), min(r.Min.Y, int(math.Floor(v)))
		r.Max.X, r.Max.Y = max(r.Max.X, int(math.Ceil(u))), max(r.Max.Y, int(math.Ceil(v)))
	}
	pv := gocv.NewPointsVectorFromPoints([][]image.Point{pts})
	gocv.FillPolyWithParams(img, pv, c, gocv.LineAA, aaShift, image.Point{})
	pv.Close()
	return r
}

// clipPlane keeps the part of polygon in (camera coordinates) where
// a·x + b·y + c·z >= d.
func clipPlane(in []vec3, pl [4]float64) []vec3 {
	side := func(q vec3) float64 { return pl[0]*q.x + pl[1]*q.y + pl[2]*q.z - pl[3] }
	var out []vec3
	for i := range in {
		a, b := in[i], in[(i+1)%len(in)]
		sa, sb := side(a), side(b)
		if sa >= 0 {
			out = append(out, a)
		}
		if (sa >= 0) != (sb >= 0) {
			k := sa / (sa - sb)
			out = append(out, vec3{a.x + k*(b.x-a.x), a.y + k*(b.y-a.y), a.z + k*(b.z-a.z)})
		}
	}
	return out
}

// ground fills a polygon on the ground given as (x, y) pairs.
func (p *painter) ground(img *gocv.Mat, c color.RGBA, xy ...float64) {
	w := make([]vec3, 0, len(xy)/2)
	for i := 0; i+1 < len(xy); i += 2 {
		w = append(w, vec3{xy[i], xy[i+1], 0})
	}
	p.polygon(img, w, c)
}

// groundRot fills a ground rectangle [x0,x1]×[y0,y1] written for the south
// leg, rotated by theta around the origin.
func (p *painter) groundRot(img *gocv.Mat, c color.RGBA, theta, x0, y0, x1, y1 float64) {
	cs := []pt{{x0, y0}, {x1, y0}, {x1, y1}, {x0, y1}}
	w := make([]vec3, 4)
	for i, q := range cs {
		r := q.rot(theta)
		w[i] = vec3{r.x, r.y, 0}
	}
	p.polygon(img, w, c)
}

// drawBackground paints the static scene: grass, sidewalks, roads with
// rounded kerbs, centre lines, lane lines, stop lines and zebra crosswalks.
func (p *painter) drawBackground(img *gocv.Mat) {
	img.SetTo(gocv.NewScalar(float64(grassColour.B), float64(grassColour.G), float64(grassColour.R), 0))
	const far = approachM
	p.ground(img, sidewalkColour, -sidewalkOutM, -far, sidewalkOutM, -far, sidewalkOutM, far, -sidewalkOutM, far)
	p.ground(img, sidewalkColour, -far, -sidewalkOutM, far, -sidewalkOutM, far, sidewalkOutM, -far, sidewalkOutM)
	p.ground(img, roadColour, -roadHalfM, -far, roadHalfM, -far, roadHalfM, far, -roadHalfM, far)
	p.ground(img, roadColour, -far, -roadHalfM, far, -roadHalfM, far, roadHalfM, -far, roadHalfM)
	const k = roadHalfM + kerbRadiusM
	for _, s := range [][2]float64{{1, 1}, {-1, 1}, {-1, -1}, {1, -1}} {
		// the corner fillet: road between the two kerb lines and the
		// quarter circle of radius kerbRadiusM centred at (k, k)
		sx, sy := s[0], s[1]
		xy := []float64{sx * roadHalfM, sy * roadHalfM}
		for i := 0; i <= 12; i++ {
			a := float64(i) / 12 * math.Pi / 2
			xy = append(xy, sx*(k-kerbRadiusM*math.Sin(a)), sy*(k-kerbRadiusM*math.Cos(a)))
		}
		p.ground(img, roadColour, xy...)
	}
	for leg := 0; leg < 4; leg++ {
		th := float64(leg) * math.Pi / 2 // south leg rotated: 0 S, 1 E, 2 N, 3 W
		// double yellow centre line
		p.groundRot(img, yellowMark, th, -0.22, -far, -0.1, -stopLineM)
		p.groundRot(img, yellowMark, th, 0.1, -far, 0.22, -stopLineM)
		// dashed lane lines: 3 m dash, 6 m gap
		for y := -stopLineM - 1; y > -far; y -= 9 {
			p.groundRot(img, whiteMark, th, laneM-0.07, y-3, laneM+0.07, y)
			p.groundRot(img, whiteMark, th, -laneM-0.07, y-3, -laneM+0.07, y)
		}
		// stop line across the approach lanes (right of the centre line)
		p.groundRot(img, whiteMark, th, 0.25, -stopLineM-0.45, roadHalfM-0.2, -stopLineM)
		// zebra: 0.5 m bars parallel to traffic, 0.5 m apart
		for x := -roadHalfM + 0.5; x+0.5 <= roadHalfM-0.25; x += 1.0 {
			p.groundRot(img, whiteMark, th, x, -crossFarM, x+0.5, -crossNearM)
		}
	}
}

// shade darkens a colour by factor k.
func shade(c color.RGBA, k float64) color.RGBA {
	f := func(v uint8) uint8 { return uint8(math.Max(0, math.Min(255, float64(v)*k))) }
	return color.RGBA{f(c.R), f(c.G), f(c.B), 0}
}

var sunDir = func() vec3 { v := vec3{0.4, -0.5, 0.75}; return v.scale(1 / math.Sqrt(v.dot(v))) }()

// box draws an oriented 3D box (centre cx, cy; heading; z from z0 to z1)
// with its camera-facing faces shaded by the sun, and returns its image
// bounds.
func (p *painter) box(img *gocv.Mat, cx, cy, heading, lengthM, widthM, z0, z1 float64, c color.RGBA) image.Rectangle {
	sh, ch := math.Sincos(heading)
	fx, fy := ch*lengthM/2, sh*lengthM/2
	lx, ly := -sh*widthM/2, ch*widthM/2
	base := [4]pt{{cx + fx + lx, cy + fy + ly}, {cx - fx + lx, cy - fy + ly}, {cx - fx - lx, cy - fy - ly}, {cx + fx - lx, cy + fy - ly}}
	var bounds image.Rectangle
	for i := 0; i < 4; i++ {
		a, b := base[i], base[(i+1)%4]
		mid := pt{(a.x + b.x) / 2, (a.y + b.y) / 2}
		n := vec3{mid.x - cx, mid.y - cy, 0}
		if n.dot(p.centre.sub(vec3{mid.x, mid.y, (z0 + z1) / 2})) <= 0 {
			continue // faces away from the camera
		}
		nn := n.scale(1 / math.Sqrt(n.dot(n)))
		k := 0.55 + 0.4*math.Max(0, nn.dot(sunDir))
		r := p.polygon(img, []vec3{{a.x, a.y, z0}, {b.x, b.y, z0}, {b.x, b.y, z1}, {a.x, a.y, z1}}, shade(c, k))
		bounds = bounds.Union(r)
	}
	top := make([]vec3, 4)
	for i, q := range base {
		top[i] = vec3{q.x, q.y, z1}
	}
	if p.centre.z > z1 {
		bounds = bounds.Union(p.polygon(img, top, shade(c, 0.6+0.4*sunDir.z)))
	}
	return bounds
}

// upright draws a vertical quad facing the camera: width w at ground
// position (x, y) between heights z0 and z1, its foot shifted by (dx, dy).
func (p *painter) upright(img *gocv.Mat, x, y, dx, dy, w, z0, z1 float64, c color.RGBA) image.Rectangle {
	ray := vec3{x - p.centre.x, y - p.centre.y, 0}
	n := math.Hypot(ray.x, ray.y)
	if n < 1e-6 {
		return image.Rectangle{}
	}
	ox, oy := -ray.y/n*w/2, ray.x/n*w/2 // horizontal, across the line of sight
	return p.polygon(img, []vec3{
		{x + dx - ox, y + dy - oy, z0}, {x + dx + ox, y + dy + oy, z0},
		{x + ox, y + oy, z1}, {x - ox, y - oy, z1},
	}, c)
}

// head draws a disc of radius r metres at (x, y, z).
func (p *painter) head(img *gocv.Mat, x, y, z, r float64, c color.RGBA) image.Rectangle {
	q := p.toCam(vec3{x, y, z})
	if q.z < nearClipM {
		return image.Rectangle{}
	}
	u, v := p.cam.pixel(q)
	rp := p.cam.FocalPx * r / q.z
	gocv.CircleWithParams(img, image.Pt(int(math.Round(u*aaScale)), int(math.Round(v*aaScale))), max(1, int(math.Round(rp*aaScale))), c, -1, gocv.LineAA, aaShift)
	return image.Rect(int(math.Floor(u-rp)), int(math.Floor(v-rp)), int(math.Ceil(u+rp)), int(math.Ceil(v+rp)))
}

// person draws a walker (legs swinging with the distance walked) and
// returns the figure's image bounds.
func (p *painter) person(img *gocv.Mat, a *Agent, st State, travelledM float64) image.Rectangle {
	ch, sh := math.Cos(st.HeadingRad), math.Sin(st.HeadingRad)
	swing := 0.0
	if st.SpeedMPS > 0.05 {
		swing = 0.3 * math.Sin(2*math.Pi*travelledM/1.5)
	}
	lx, ly := -sh*0.1, ch*0.1
	var r image.Rectangle
	r = r.Union(p.upright(img, st.XM+lx, st.YM+ly, ch*swing, sh*swing, 0.16, 0, 0.88, a.Trim))
	r = r.Union(p.upright(img, st.XM-lx, st.YM-ly, -ch*swing, -sh*swing, 0.16, 0, 0.88, a.Trim))
	r = r.Union(p.upright(img, st.XM, st.YM, 0, 0, 0.46, 0.85, 1.48, a.Body))
	r = r.Union(p.head(img, st.XM, st.YM, 1.58, 0.12, skinColour))
	return r
}

// cyclist draws a bicycle (a low dark box) and its rider.
func (p *painter) cyclist(img *gocv.Mat, a *Agent, st State) image.Rectangle {
	r := p.box(img, st.XM, st.YM, st.HeadingRad, a.LengthM, 0.12, 0.05, 0.75, a.Trim)
	r = r.Union(p.upright(img, st.XM, st.YM, 0, 0, 0.16, 0.45, 0.95, color.RGBA{40, 40, 70, 0}))
	r = r.Union(p.upright(img, st.XM, st.YM, 0, 0, 0.44, 0.95, 1.5, a.Body))
	r = r.Union(p.head(img, st.XM, st.YM, 1.6, 0.12, skinColour))
	return r
}

// vehicle draws a car (body and a darker glass cabin) or a bus or truck
// (one tall box with a dark windscreen band).
func (p *painter) vehicle(img *gocv.Mat, a *Agent, st State) image.Rectangle {
	switch a.Class {
	case events.Car, events.Motorcycle:
		r := p.box(img, st.XM, st.YM, st.HeadingRad, a.LengthM, a.WidthM, 0.15, 0.95, a.Body)
		back := -0.08 * a.LengthM
		ch, sh := math.Cos(st.HeadingRad), math.Sin(st.HeadingRad)
		return r.Union(p.box(img, st.XM+ch*back, st.YM+sh*back, st.HeadingRad, 0.55*a.LengthM, 0.86*a.WidthM, 0.95, a.HeightM, a.Trim))
	default:
		r := p.box(img, st.XM, st.YM, st.HeadingRad, a.LengthM, a.WidthM, 0.3, a.HeightM, a.Body)
		front := a.LengthM/2 - 0.6
		ch, sh := math.Cos(st.HeadingRad), math.Sin(st.HeadingRad)
		return r.Union(p.box(img, st.XM+ch*front, st.YM+sh*front, st.HeadingRad, 1.22, a.WidthM+0.02, a.HeightM*0.55, a.HeightM*0.9, a.Trim))
	}
}

// drawn is one road user drawn in a frame.
type drawn struct {
	agent *Agent
	state State
	box   image.Rectangle // image bounds of what was drawn (unclipped)
}

// drawAgents paints the active road users far to near (painter's order)
// and returns what each covered.
func (p *painter) drawAgents(img *gocv.Mat, agents []*Agent, tS float64) []drawn {
	type item struct {
		a  *Agent
		st State
		d  float64
	}
	var items []item
	for _, a := range agents {
		if !a.Active(tS) {
			continue
		}
		st := a.StateAt(tS)
		q := p.toCam(vec3{st.XM, st.YM, 0})
		if q.z < nearClipM+a.LengthM {
			continue // at or behind the camera
		}
		d := math.Hypot(st.XM-p.centre.x, st.YM-p.centre.y)
		items = append(items, item{a, st, d})
	}
	sort.Slice(items, func(i, j int) bool {
		if items[i].d != items[j].d {
			return items[i].d > items[j].d
		}
		return items[i].a.ID < items[j].a.ID
	})
	out := make([]drawn, 0, len(items))
	for _, it := range items {
		var r image.Rectangle
		switch it.a.Class {
		case events.Pedestrian:
			s, _ := it.a.motion.at(tS)
			r = p.person(img, it.a, it.st, s)
		case events.Bicycle:
			r = p.cyclist(img, it.a, it.st)
		default:
			r = p.vehicle(img, it.a, it.st)
		}
		out = append(out, drawn{agent: it.a, state: it.st, box: r})
	}
	return out
}
