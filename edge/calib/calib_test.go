package calib

import (
	"math"
	"strings"
	"testing"

	"github.com/intersect-oss/intersect/tracker"
)

// known is a plausible image→ground homography (a camera looking down at a
// plaza), used to generate exact pairs.
var known = tracker.Homography{0.031, 0.012, -9.5, -0.004, 0.09, -20.1, 0.00002, 0.0021, 1}

func pairsFrom(h tracker.Homography, img []Point) []Pair {
	out := make([]Pair, len(img))
	for i, p := range img {
		gx, gy, _ := h.Project(p.X, p.Y)
		out[i] = Pair{Image: p, Ground: Point{gx, gy}}
	}
	return out
}

func TestFitRecoversKnownHomography(t *testing.T) {
	cases := []struct {
		name   string
		img    []Point
		method string
	}{
		{"exactly four: pure-Go DLT", []Point{{100, 300}, {700, 310}, {650, 560}, {80, 540}}, "dlt-4"},
		{"six: OpenCV RANSAC", []Point{{100, 300}, {700, 310}, {650, 560}, {80, 540}, {400, 420}, {300, 350}}, "ransac"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Fit(pairsFrom(known, tc.img), 0.3)
			if err != nil {
				t.Fatal(err)
			}
			if r.Method != tc.method {
				t.Errorf("method %s, want %s", r.Method, tc.method)
			}
			if r.MaxM > 1e-6 {
				t.Errorf("max reprojection error %g m on exact pairs\n%s", r.MaxM, r.Table())
			}
			// Off-sample points must map like the true homography too.
			for _, p := range []Point{{384, 400}, {200, 500}} {
				gx, gy, _ := r.H.Project(p.X, p.Y)
				wx, wy, _ := known.Project(p.X, p.Y)
				if math.Hypot(gx-wx, gy-wy) > 1e-6 {
					t.Errorf("(%v) maps to (%g,%g), want (%g,%g)", p, gx, gy, wx, wy)
				}
			}
		})
	}
}

func TestFitFlagsOutlier(t *testing.T) {
	img := []Point{{100, 300}, {700, 310}, {650, 560}, {80, 540}, {400, 420}, {300, 350}, {500, 480}}
	pairs := pairsFrom(known, img)
	pairs[4].Ground.X += 5 // a surveyor's typo: 5 m off
	r, err := Fit(pairs, 0.3)
	if err != nil {
		t.Fatal(err)
	}
	if r.Points[4].Inlier {
		t.Errorf("point 4 (5 m off) kept as inlier\n%s", r.Table())
	}
	if r.Points[4].ErrorM < 4 || r.MaxM != r.Points[4].ErrorM {
		t.Errorf("point 4 error %.3f m, max %.3f m; want ≈5 m and the max\n%s", r.Points[4].ErrorM, r.MaxM, r.Table())
	}
	if !strings.Contains(r.Table(), "outlier worst") {
		t.Errorf("table does not mark the outlier:\n%s", r.Table())
	}
}

func TestFitRefusesDegenerate(t *testing.T) {
	cases := map[string][]Pair{
		"three pairs":       pairsFrom(known, []Point{{1, 1}, {100, 1}, {1, 100}}),
		"collinear image":   pairsFrom(known, []Point{{0, 300}, {100, 300}, {200, 300}, {300, 301}}),
		"NaN in the ground": {{Point{1, 1}, Point{math.NaN(), 0}}, {Point{100, 1}, Point{1, 0}}, {Point{1, 100}, Point{0, 1}}, {Point{100, 100}, Point{1, 1}}},
	}
	for name, ps := range cases {
		if _, err := Fit(ps, 0.5); err == nil {
			t.Errorf("%s: Fit succeeded", name)
		}
	}
}

func TestGeneralPosition(t *testing.T) {
	cases := []struct {
		pts  []Point
		want bool
	}{
		{[]Point{{0, 0}, {10, 0}, {10, 10}, {0, 10}}, true},
		{[]Point{{0, 0}, {10, 0}, {20, 0}, {0, 10}}, false},
		{[]Point{{0, 0}, {10, 0}, {20, 0}, {0, 10}, {10, 10}}, true}, // 0,1,3,4 is a square
		{[]Point{{0, 0}, {1, 1}, {2, 2}, {3, 3.001}, {4, 4}}, false},
	}
	for i, tc := range cases {
		if got, _ := GeneralPosition(tc.pts); got != tc.want {
			t.Errorf("case %d: GeneralPosition = %v, want %v", i, got, tc.want)
		}
	}
}

func TestInverse(t *testing.T) {
	inv, err := known.Inverse()
	if err != nil {
		t.Fatal(err)
	}
	gx, gy, _ := known.Project(321, 456)
	x, y, _ := inv.Project(gx, gy)
	if math.Hypot(x-321, y-456) > 1e-6 {
		t.Errorf("round trip gave (%g,%g)", x, y)
	}
}

func TestProjection(t *testing.T) {
	p := Projection{Origin: LatLng{51.4416, -0.9418}} // Reading, UK
	// 100 m north is 100/111195 degrees of latitude.
	ll := p.ToLatLng(0, 100)
	if d := ll.Lat - 51.4416 - 100/(earthRadiusM*math.Pi/180); math.Abs(d) > 1e-12 {
		t.Errorf("100 m north: lat off by %g", d)
	}
	for _, xy := range [][2]float64{{0, 0}, {150, -80}, {-300, 420}} {
		ll := p.ToLatLng(xy[0], xy[1])
		x, y := p.ToLocal(ll)
		if math.Hypot(x-xy[0], y-xy[1]) > 1e-6 {
			t.Errorf("round trip %v → %v → (%g,%g)", xy, ll, x, y)
		}
	}
	// East–west metres shrink with cos(lat): 100 m east at 51.44° is
	// 100/(111195·cos 51.44°) ≈ 0.0014428°.
	if got := p.ToLatLng(100, 0).Lng + 0.9418; math.Abs(got-0.0014428) > 1e-6 {
		t.Errorf("100 m east = %g° of longitude, want ≈0.0014428°", got)
	}
}
