package twin

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/intersect-oss/intersect/tracker/conflict"
)

// Identity of the twin camera in the demo.
const (
	SiteID   = "demo"
	CameraID = "twin-1"
	// The ground frame's WGS84 anchor: a plausible spot, so maps and
	// heatmaps have somewhere to put the twin.
	originLat = 40.7608
	originLng = -111.8910
)

// kerbRampM extends crosswalk zones onto the sidewalk at both ends.
const kerbRampM = 1.5

// zone is a named ground polygon of the twin (metres).
type zone struct {
	name, kind, approach string // kind: crosswalk or approach; approach NB/SB/EB/WB
	poly                 [][2]float64
}

// zones are the four crosswalks and the four approaches (the lanes
// entering the intersection, from the stop line back 40 m).
func zones() []zone {
	var zs []zone
	rect := func(theta, x0, y0, x1, y1 float64) [][2]float64 {
		var out [][2]float64
		for _, q := range []pt{{x0, y0}, {x1, y0}, {x1, y1}, {x0, y1}} {
			r := q.rot(theta)
			out = append(out, [2]float64{round(r.x, 3), round(r.y, 3)})
		}
		return out
	}
	// leg k: the south leg rotated by k·90°; its approach is the one whose
	// traffic enters from that leg.
	legs := []struct{ side, approach string }{{"s", "NB"}, {"e", "WB"}, {"n", "SB"}, {"w", "EB"}}
	for k, l := range legs {
		th := float64(k) * math.Pi / 2
		// the crossing plus the kerb ramps where people wait and step off
		zs = append(zs, zone{name: "crosswalk-" + l.side, kind: "crosswalk",
			poly: rect(th, -roadHalfM-kerbRampM, -crossFarM, roadHalfM+kerbRampM, -crossNearM)})
	}
	for k, l := range legs {
		th := float64(k) * math.Pi / 2
		zs = append(zs, zone{name: "approach-" + strings.ToLower(l.approach), kind: "approach", approach: l.approach,
			poly: rect(th, 0, -stopLineM-40, roadHalfM, -stopLineM)})
	}
	return zs
}

// engineZones are the twin's zones for the conflict engine's typing.
func engineZones() []conflict.Zone {
	var out []conflict.Zone
	for _, z := range zones() {
		k := conflict.ZoneCrosswalk
		if z.kind == "approach" {
			k = conflict.ZoneKind("approach-" + strings.ToLower(z.approach))
		}
		poly := make(conflict.Polygon, len(z.poly))
		copy(poly, z.poly)
		out = append(out, conflict.Zone{Name: z.name, Kind: k, Polygon: poly})
	}
	return out
}

// calibrationGround are candidate surveyed points: kerb and crosswalk
// corners a technician could mark; those inside the image are used.
var calibrationGround = [][2]float64{
	{-roadHalfM, -crossFarM}, {roadHalfM, -crossFarM}, {-roadHalfM, -crossNearM}, {roadHalfM, -crossNearM},
	{-crossFarM, -roadHalfM}, {-crossFarM, roadHalfM}, {crossFarM, -roadHalfM}, {crossFarM, roadHalfM},
	{-roadHalfM, crossNearM}, {roadHalfM, crossNearM}, {-roadHalfM, crossFarM}, {roadHalfM, crossFarM},
	{0, -stopLineM}, {stopLineM, 0}, {0, stopLineM}, {-stopLineM, 0},
}

// WriteCameraConfig writes the edge camera configuration of the default
// twin (960×540, 15 fps) for the video at videoPath (relative paths resolve
// against the configuration's directory).
func WriteCameraConfig(path, videoPath string) error {
	return writeCameraConfig(path, videoPath, DefaultCamera(960, 540), 15)
}

func writeCameraConfig(path, videoPath string, cam Camera, fps float64) error {
	return writeFile(path, func(w io.Writer) error { return cameraConfig(w, videoPath, cam, fps) })
}

// cameraConfig writes the YAML of edge/camera: site demo, camera twin-1,
// the motion detector, calibration pairs computed through the exact
// projection, and the zones.
func cameraConfig(w io.Writer, videoPath string, cam Camera, fps float64) error {
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	var b strings.Builder
	fmt.Fprintf(&b, "# The twin intersection (samples/twin): calibration pairs are exact\n")
	fmt.Fprintf(&b, "# projections of ground points through the renderer's camera.\n")
	fmt.Fprintf(&b, "cameras:\n  - id: %s\n    site: %s\n    source: %s\n    fps: %s\n", CameraID, SiteID, strconv.Quote(videoPath), f(fps))
	fmt.Fprintf(&b, "    frame: {width: %d, height: %d}\n", cam.Width, cam.Height)
	fmt.Fprintf(&b, "    detector: {kind: motion}\n")
	fmt.Fprintf(&b, "    calibration:\n      origin: {lat: %s, lng: %s}\n      max_error_m: 0.05\n      points:\n", f(originLat), f(originLng))
	n := 0
	for _, g := range calibrationGround {
		u, v, ok := cam.Project(g[0], g[1], 0)
		if !ok || u < 10 || v < 10 || u > float64(cam.Width-10) || v > float64(cam.Height-10) {
			continue
		}
		fmt.Fprintf(&b, "        - {image: [%s, %s], ground: [%s, %s]}\n", f(round(u, 3)), f(round(v, 3)), f(g[0]), f(g[1]))
		n++
	}
	if n < 6 {
		return fmt.Errorf("twin: only %d calibration points inside the %dx%d image (want 6)", n, cam.Width, cam.Height)
	}
	fmt.Fprintf(&b, "    zones:\n")
	for _, z := range zones() {
		fmt.Fprintf(&b, "      - name: %s\n        kind: %s\n", z.name, z.kind)
		if z.approach != "" {
			fmt.Fprintf(&b, "        approach: %s\n", z.approach)
		}
		var ps []string
		for _, p := range z.poly {
			ps = append(ps, fmt.Sprintf("[%s, %s]", f(p[0]), f(p[1])))
		}
		fmt.Fprintf(&b, "        polygon: [%s]\n", strings.Join(ps, ", "))
	}
	_, err := io.WriteString(w, b.String())
	return err
}
