package camera

import (
	"strconv"
	"strings"
	"testing"

	"github.com/intersect-oss/intersect/edge/calib"
)

const good = `
cameras:
  - id: cam-a
    site: main-and-5th
    source: rtsp://10.0.0.5/stream1
    frame: {width: 768, height: 576}
    detector: {kind: motion}
    calibration:
      origin: {lat: 40.76, lng: -111.89}
      points:
        - {image: [100, 300], ground: [0, 0]}
        - {image: [700, 300], ground: [20, 0]}
        - {image: [700, 560], ground: [20, -10]}
        - {image: [100, 560], ground: [0, -10]}
    zones:
      - {name: xwalk-n, kind: crosswalk, polygon: [[0, 0], [20, 0], [20, 3], [0, 3]]}
      - {name: nb, kind: approach, approach: NB, polygon: [[0, -10], [5, -10], [5, -30]]}
`

func TestParseGood(t *testing.T) {
	f, err := Parse("good.yaml", []byte(good))
	if err != nil {
		t.Fatal(err)
	}
	c := &f.Cameras[0]
	if c.Detector.Score != DefaultScore || c.QueueLen != DefaultQueueLen || !*c.Privacy.Snapshots {
		t.Errorf("defaults not applied: %+v", c)
	}
	r, err := c.Fit(0, false)
	if err != nil {
		t.Fatal(err)
	}
	if r.Method != "dlt-4" || r.MaxM > 1e-9 {
		t.Errorf("4 exact points: method %s, max %g", r.Method, r.MaxM)
	}
	if z, ok := c.ZoneAt(ZoneCrosswalk, 10, 1.5); !ok || z.Name != "xwalk-n" {
		t.Errorf("(10,1.5) not in the crosswalk")
	}
	if _, ok := c.ZoneAt(ZoneCrosswalk, 10, 4); ok {
		t.Errorf("(10,4) reported in the crosswalk")
	}
}

func TestParseLatLngPoints(t *testing.T) {
	p := calib.Projection{Origin: calib.LatLng{Lat: 40.76, Lng: -111.89}}
	var pts []string
	for _, g := range [][3]float64{{100, 300, 0}, {700, 300, 1}, {700, 560, 2}, {100, 560, 3}} {
		gx := []float64{0, 20, 20, 0}[int(g[2])]
		gy := []float64{0, 0, -10, -10}[int(g[2])]
		ll := p.ToLatLng(gx, gy)
		pts = append(pts, "        - {image: ["+ftoa(g[0])+", "+ftoa(g[1])+"], latlng: ["+ftoa(ll.Lat)+", "+ftoa(ll.Lng)+"]}")
	}
	y := `
cameras:
  - id: cam-a
    site: s
    source: /dev/video0
    frame: {width: 768, height: 576}
    detector: {kind: motion}
    calibration:
      points:
` + strings.Join(pts, "\n") + "\n"
	f, err := Parse("ll.yaml", []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	r, err := f.Cameras[0].Fit(0.01, false)
	if err != nil {
		t.Fatal(err)
	}
	// The origin defaults to the first point, so ground (20,-10) becomes
	// (20,-10) relative to it.
	gx, gy, _ := r.H.Project(700, 560)
	if d := (gx-20)*(gx-20) + (gy+10)*(gy+10); d > 1e-4 {
		t.Errorf("lat/lng calibration maps (700,560) to (%g,%g), want (20,-10)", gx, gy)
	}
}

func ftoa(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// TestParseReportsEveryProblem feeds one file with many mistakes and wants
// each reported with its path.
func TestParseReportsEveryProblem(t *testing.T) {
	bad := `
cameras:
  - id: cam-a
    site: Main St
    source: ""
    frame: {width: 768, height: 576}
    detector: {kind: yolo, thresholds: {person: 0.5, car: 1.5}}
    calibration:
      points:
        - {image: [100, 300], ground: [0, 0]}
        - {image: [200, 300], ground: [10, 0]}
        - {image: [300, 300], ground: [20, 0]}
        - {image: [900, 10], ground: [0, 10]}
    zones:
      - {name: bow, kind: crosswalk, polygon: [[0, 0], [10, 10], [10, 0], [0, 10]]}
      - {name: bow, kind: approach, approach: north, polygon: [[0, 0], [1, 1]]}
  - id: cam-a
    site: main-st
    source: /dev/videoX
    frame: {width: 0, height: 0}
    detector: {kind: yolox, model: /nonexistent/yolox.onnx, classes: [pedestrian, unicorn]}
    calibration:
      origin: {lat: 95, lng: 0}
      points:
        - {image: [1, 1], ground: [0, 0]}
`
	_, err := Parse("bad.yaml", []byte(bad))
	ce, ok := err.(*Error)
	if !ok {
		t.Fatalf("want *Error, got %v", err)
	}
	msg := err.Error()
	for _, want := range []string{
		`cameras[0].site: "Main St" must match`,
		`cameras[0].source: required`,
		`cameras[0].detector.kind: unknown detector "yolo"`,
		`cameras[0].detector.thresholds.person: unknown class "person"`,
		`cameras[0].detector.thresholds.car: 1.5 must be in (0,1)`,
		`cameras[0].calibration.points[3]: image point (900,10) outside frame 768x576`,
		`cameras[0].calibration.origin: required when points are in local metres`,
		`cameras[0].zones[0].polygon: not a simple polygon`,
		`cameras[0].zones[1].name: duplicate zone name "bow"`,
		`cameras[0].zones[1].approach: "north": want one of NB, SB, EB, WB`,
		`cameras[0].zones[1].polygon: needs at least 3 vertices`,
		`cameras[1].source: device "/dev/videoX"`,
		`cameras[1].frame: width and height are required`,
		`cameras[1].detector.model: stat /nonexistent/yolox.onnx`,
		`cameras[1].detector.classes[1]: unknown class "unicorn"`,
		`cameras[1].calibration.origin: lat 95`,
		`cameras[1].calibration.points: need at least 4`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("missing problem %q", want)
		}
	}
	if t.Failed() {
		t.Logf("got:\n%s", msg)
	}
	if len(ce.Problems) < 17 {
		t.Errorf("%d problems reported, want ≥ 17", len(ce.Problems))
	}
	if !IsConfigError(err) {
		t.Error("IsConfigError = false")
	}
}

func TestParseCollinearAndDuplicate(t *testing.T) {
	y := strings.Replace(good, "[700, 560], ground: [20, -10]", "[400, 300], ground: [10, 0]", 1)
	y += strings.Replace(good[strings.Index(good, "  - id"):], "rtsp://10.0.0.5/stream1", "0", 1)
	_, err := Parse("c.yaml", []byte(y))
	if err == nil {
		t.Fatal("accepted collinear calibration and duplicate id")
	}
	for _, want := range []string{
		"cameras[0].calibration.points: image points are degenerate: points 0, 1 and 2 are collinear",
		"cameras[0].calibration.points: ground points are degenerate",
		`cameras[1].id: duplicate camera id "cam-a" (also cameras[0])`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
}

func TestParseUnknownKey(t *testing.T) {
	_, err := Parse("k.yaml", []byte(strings.Replace(good, "source:", "sauce:", 1)))
	if err == nil || !strings.Contains(err.Error(), "sauce") {
		t.Errorf("misspelt key not reported: %v", err)
	}
}

func TestFitThreshold(t *testing.T) {
	y := strings.Replace(good, "    zones:", "        - {image: [400, 430], ground: [13, -5]}\n    zones:", 1)
	f, err := Parse("t.yaml", []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	c := &f.Cameras[0]
	r, err := c.Fit(0.2, false)
	if err == nil {
		t.Fatalf("a 3 m-off point passed a 0.2 m threshold:\n%s", r.Table())
	}
	if r == nil || !IsConfigError(err) {
		t.Fatalf("want the report and a CalibrationError, got %v", err)
	}
	if _, err := c.Fit(0.2, true); err != nil {
		t.Errorf("force did not override: %v", err)
	}
}

func TestSimplePolygon(t *testing.T) {
	cases := []struct {
		poly [][2]float64
		ok   bool
	}{
		{[][2]float64{{0, 0}, {4, 0}, {4, 4}, {0, 4}}, true},
		{[][2]float64{{0, 0}, {4, 0}, {2, 1}, {4, 4}, {0, 4}}, true},  // concave is fine
		{[][2]float64{{0, 0}, {4, 4}, {4, 0}, {0, 4}}, false},         // bow tie
		{[][2]float64{{0, 0}, {4, 0}, {8, 0}}, false},                 // zero area
		{[][2]float64{{0, 0}, {4, 0}, {4, 4}, {2, 0}, {0, 4}}, false}, // touches its own edge
	}
	for i, tc := range cases {
		pts := make([]calib.Point, len(tc.poly))
		for j, v := range tc.poly {
			pts[j] = calib.Point{X: v[0], Y: v[1]}
		}
		if err := SimplePolygon(pts); (err == nil) != tc.ok {
			t.Errorf("case %d: SimplePolygon = %v, want ok=%v", i, err, tc.ok)
		}
	}
}
