package camera

import (
	"testing"

	"github.com/intersect-oss/intersect/events"
)

// FuzzLoadCamera feeds arbitrary YAML to the camera config parser: it must
// never panic, and a config it accepts must be one the worker can run (valid
// IDs, at least four calibration points, a known detector).
func FuzzLoadCamera(f *testing.F) {
	f.Add([]byte(`cameras:
  - id: cam-1
    site: demo
    source: video.avi
    frame: {width: 640, height: 480}
    detector: {kind: motion}
    calibration:
      origin: {lat: 40.7, lng: -111.9}
      points:
        - {image: [10, 10], ground: [0, 0]}
        - {image: [600, 12], ground: [20, 0]}
        - {image: [620, 470], ground: [20, 15]}
        - {image: [15, 460], ground: [0, 15]}
`))
	f.Add([]byte("cameras:\n  - id: Cam\n    site: s\n"))
	f.Add([]byte("cameras: [{id: a, site: b, calibration: {points: [{image: [1e308, -1e308], ground: [.nan, .inf]}]}}]"))
	f.Add([]byte("{{{"))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse("fuzz.yaml", data)
		if err != nil {
			return
		}
		for _, c := range file.Cameras {
			if !events.ValidID(c.ID) || !events.ValidID(c.Site) {
				t.Fatalf("accepted IDs %q/%q", c.ID, c.Site)
			}
			if len(c.Calib.Points) < 4 {
				t.Fatalf("accepted %d calibration points", len(c.Calib.Points))
			}
			if c.Detector.Kind != "motion" && c.Detector.Kind != "yolox" {
				t.Fatalf("accepted detector %q", c.Detector.Kind)
			}
		}
	})
}
