// Package calib maps a camera's image to the ground: it fits the image→ground
// homography (a tracker.Homography) from surveyed point pairs, reports each
// pair's reprojection error in metres, and converts local ground metres to
// WGS84 and back.
//
// Ground coordinates are local metres (x east, y north) around an origin
// given in WGS84. The conversion is an equirectangular projection around the
// origin: at intersection scale (a few hundred metres) its error is
// millimetres, far below what a camera can measure, and it needs no
// projection library.
package calib

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"gocv.io/x/gocv"

	"github.com/intersect-oss/intersect/tracker"
)

// Point is a 2-D point: image pixels or ground metres, depending on use.
type Point struct{ X, Y float64 }

// Pair is one surveyed correspondence between an image pixel and a ground
// point in local metres.
type Pair struct {
	Image  Point
	Ground Point
}

// PointError is one pair's reprojection error.
type PointError struct {
	Index     int
	Pair      Pair
	Projected Point   // the image point mapped to the ground
	ErrorM    float64 // distance from Projected to the surveyed ground point
	Inlier    bool    // RANSAC kept it (always true for an exact 4-point fit)
}

// Report is the result of a fit.
type Report struct {
	H      tracker.Homography
	Method string // "dlt-4" or "ransac"
	Points []PointError
	MaxM   float64
	RMSM   float64
}

// Fit estimates the image→ground homography. With exactly four pairs it
// solves the direct linear transform in Go (the four pairs determine H
// exactly); with more it uses OpenCV's FindHomography with RANSAC, the
// inlier threshold being ransacM metres on the ground. Pairs must already be
// validated (see GeneralPosition); Fit still refuses degenerate input rather
// than pass it to C++.
func Fit(pairs []Pair, ransacM float64) (*Report, error) {
	if len(pairs) < 4 {
		return nil, fmt.Errorf("need at least 4 point pairs, have %d", len(pairs))
	}
	img := make([]Point, len(pairs))
	gnd := make([]Point, len(pairs))
	for i, p := range pairs {
		img[i], gnd[i] = p.Image, p.Ground
		for _, v := range []float64{p.Image.X, p.Image.Y, p.Ground.X, p.Ground.Y} {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("point %d has a non-finite coordinate", i)
			}
		}
	}
	if ok, _ := GeneralPosition(img); !ok {
		return nil, errors.New("image points are degenerate: no 4 of them are free of 3 collinear")
	}
	if ok, _ := GeneralPosition(gnd); !ok {
		return nil, errors.New("ground points are degenerate: no 4 of them are free of 3 collinear")
	}
	r := &Report{}
	inliers := make([]bool, len(pairs))
	if len(pairs) == 4 {
		h, err := DLT4(pairs)
		if err != nil {
			return nil, err
		}
		r.H, r.Method = h, "dlt-4"
		for i := range inliers {
			inliers[i] = true
		}
	} else {
		h, in, err := ransac(pairs, ransacM)
		if err != nil {
			return nil, err
		}
		r.H, r.Method, inliers = h, "ransac", in
	}
	var sum float64
	for i, p := range pairs {
		gx, gy, ok := r.H.Project(p.Image.X, p.Image.Y)
		e := math.Inf(1)
		if ok {
			e = math.Hypot(gx-p.Ground.X, gy-p.Ground.Y)
		}
		r.Points = append(r.Points, PointError{Index: i, Pair: p, Projected: Point{gx, gy}, ErrorM: e, Inlier: inliers[i]})
		r.MaxM = math.Max(r.MaxM, e)
		sum += e * e
	}
	r.RMSM = math.Sqrt(sum / float64(len(pairs)))
	return r, nil
}

// ransac calls OpenCV. The inputs are finite and in general position, which
// is what keeps FindHomography from throwing.
func ransac(pairs []Pair, thresholdM float64) (tracker.Homography, []bool, error) {
	src := gocv.NewMatWithSize(len(pairs), 1, gocv.MatTypeCV64FC2)
	defer src.Close()
	dst := gocv.NewMatWithSize(len(pairs), 1, gocv.MatTypeCV64FC2)
	defer dst.Close()
	for i, p := range pairs {
		src.SetDoubleAt(i, 0, p.Image.X)
		src.SetDoubleAt(i, 1, p.Image.Y)
		dst.SetDoubleAt(i, 0, p.Ground.X)
		dst.SetDoubleAt(i, 1, p.Ground.Y)
	}
	mask := gocv.NewMat()
	defer mask.Close()
	if thresholdM <= 0 {
		thresholdM = 0.5
	}
	hm := gocv.FindHomography(src, &dst, gocv.HomograpyMethodRANSAC, thresholdM, &mask, 2000, 0.995)
	defer hm.Close()
	if hm.Empty() || hm.Rows() != 3 || hm.Cols() != 3 {
		return tracker.Homography{}, nil, errors.New("OpenCV found no homography for these points")
	}
	var h tracker.Homography
	for r := 0; r < 3; r++ {
		for c := 0; c < 3; c++ {
			h[r*3+c] = hm.GetDoubleAt(r, c)
		}
	}
	in := make([]bool, len(pairs))
	for i := range in {
		in[i] = mask.Rows() == len(pairs) && mask.GetUCharAt(i, 0) != 0
	}
	return h, in, nil
}

// DLT4 solves the homography that maps four image points exactly onto four
// ground points (h33 = 1, an 8×8 linear system solved by Gaussian
// elimination with partial pivoting). Pure Go: used for the 4-point case and
// to check OpenCV.
func DLT4(pairs []Pair) (tracker.Homography, error) {
	if len(pairs) != 4 {
		return tracker.Homography{}, fmt.Errorf("DLT4 needs exactly 4 pairs, have %d", len(pairs))
	}
	// Normalise both point sets (Hartley) so the system is well conditioned
	// with pixel coordinates in the hundreds.
	ti, ni := normalise(imagePoints(pairs))
	tg, ng := normalise(groundPoints(pairs))
	var a [8][9]float64
	for i := 0; i < 4; i++ {
		x, y := ni[i].X, ni[i].Y
		u, v := ng[i].X, ng[i].Y
		a[2*i] = [9]float64{x, y, 1, 0, 0, 0, -u * x, -u * y, u}
		a[2*i+1] = [9]float64{0, 0, 0, x, y, 1, -v * x, -v * y, v}
	}
	for col := 0; col < 8; col++ {
		piv := col
		for r := col + 1; r < 8; r++ {
			if math.Abs(a[r][col]) > math.Abs(a[piv][col]) {
				piv = r
			}
		}
		if math.Abs(a[piv][col]) < 1e-12 {
			return tracker.Homography{}, errors.New("points are degenerate (3 collinear)")
		}
		a[col], a[piv] = a[piv], a[col]
		for r := 0; r < 8; r++ {
			if r == col {
				continue
			}
			f := a[r][col] / a[col][col]
			for c := col; c < 9; c++ {
				a[r][c] -= f * a[col][c]
			}
		}
	}
	var hn tracker.Homography
	for i := 0; i < 8; i++ {
		hn[i] = a[i][8] / a[i][i]
	}
	hn[8] = 1
	// H = Tg⁻¹ · Hn · Ti
	tgInv, err := tg.Inverse()
	if err != nil {
		return tracker.Homography{}, err
	}
	h := mul(tgInv, mul(hn, ti))
	if math.Abs(h[8]) > 1e-12 {
		for i := range h {
			h[i] /= h[8]
		}
	}
	return h, nil
}

func imagePoints(ps []Pair) []Point {
	out := make([]Point, len(ps))
	for i, p := range ps {
		out[i] = p.Image
	}
	return out
}

func groundPoints(ps []Pair) []Point {
	out := make([]Point, len(ps))
	for i, p := range ps {
		out[i] = p.Ground
	}
	return out
}

// normalise translates points to their centroid and scales them to mean
// distance √2, returning the transform and the transformed points.
func normalise(pts []Point) (tracker.Homography, []Point) {
	var cx, cy float64
	for _, p := range pts {
		cx += p.X
		cy += p.Y
	}
	cx /= float64(len(pts))
	cy /= float64(len(pts))
	var d float64
	for _, p := range pts {
		d += math.Hypot(p.X-cx, p.Y-cy)
	}
	d /= float64(len(pts))
	s := 1.0
	if d > 0 {
		s = math.Sqrt2 / d
	}
	t := tracker.Homography{s, 0, -s * cx, 0, s, -s * cy, 0, 0, 1}
	out := make([]Point, len(pts))
	for i, p := range pts {
		out[i] = Point{s * (p.X - cx), s * (p.Y - cy)}
	}
	return t, out
}

func mul(a, b tracker.Homography) tracker.Homography {
	var c tracker.Homography
	for r := 0; r < 3; r++ {
		for k := 0; k < 3; k++ {
			var s float64
			for j := 0; j < 3; j++ {
				s += a[r*3+j] * b[j*3+k]
			}
			c[r*3+k] = s
		}
	}
	return c
}

// Collinear reports whether a, b and c lie (nearly) on one line: the
// distance of the farthest point from the line through the other two is
// under 1 % of that line's length.
func Collinear(a, b, c Point) bool {
	cross := (b.X-a.X)*(c.Y-a.Y) - (b.Y-a.Y)*(c.X-a.X)
	longest := math.Max(math.Hypot(b.X-a.X, b.Y-a.Y), math.Max(math.Hypot(c.X-a.X, c.Y-a.Y), math.Hypot(c.X-b.X, c.Y-b.Y)))
	if longest == 0 {
		return true
	}
	height := math.Abs(cross) / longest
	return height < 0.01*longest
}

// GeneralPosition reports whether some four of pts have no three collinear,
// the minimum a homography needs. When they do not, it names a collinear
// triple to help the user fix the survey.
func GeneralPosition(pts []Point) (bool, [3]int) {
	n := len(pts)
	var first [3]int
	found := false
	tri := func(i, j, k int) bool {
		if Collinear(pts[i], pts[j], pts[k]) {
			if !found {
				first, found = [3]int{i, j, k}, true
			}
			return true
		}
		return false
	}
	// Brute force is fine: calibrations have a handful of points, and the
	// search stops at the first good quadruple.
	for a := 0; a < n; a++ {
		for b := a + 1; b < n; b++ {
			for c := b + 1; c < n; c++ {
				if tri(a, b, c) {
					continue
				}
				for d := c + 1; d < n; d++ {
					if !tri(a, b, d) && !tri(a, c, d) && !tri(b, c, d) {
						return true, [3]int{}
					}
				}
			}
		}
	}
	return false, first
}

// Table formats the report as an aligned text table, worst point marked.
func (r *Report) Table() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-5s %-20s %-22s %-22s %9s %s\n", "point", "image (px)", "ground (m)", "projected (m)", "error (m)", "")
	idx := make([]int, len(r.Points))
	for i := range idx {
		idx[i] = i
	}
	worst := 0
	for i, p := range r.Points {
		if p.ErrorM > r.Points[worst].ErrorM {
			worst = i
		}
	}
	for _, i := range idx {
		p := r.Points[i]
		note := ""
		if !p.Inlier {
			note = "outlier"
		}
		if i == worst {
			note = strings.TrimSpace(note + " worst")
		}
		fmt.Fprintf(&b, "%-5d %-20s %-22s %-22s %9.3f %s\n", p.Index,
			fmt.Sprintf("(%.1f, %.1f)", p.Pair.Image.X, p.Pair.Image.Y),
			fmt.Sprintf("(%.3f, %.3f)", p.Pair.Ground.X, p.Pair.Ground.Y),
			fmt.Sprintf("(%.3f, %.3f)", p.Projected.X, p.Projected.Y),
			p.ErrorM, note)
	}
	fmt.Fprintf(&b, "method %s, max error %.3f m, RMS %.3f m\n", r.Method, r.MaxM, r.RMSM)
	return b.String()
}
