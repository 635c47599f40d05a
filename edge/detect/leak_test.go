//go:build matprofile

package detect

import (
	"bytes"
	"testing"

	"gocv.io/x/gocv"
)

// TestNoMatLeaks counts live gocv Mats (go test -tags matprofile): after a
// detector is closed, every Mat it and its Detect calls created must be
// closed too.
func TestNoMatLeaks(t *testing.T) {
	var frames []gocv.Mat
	readFrames(t, func(int) bool { return true }, func(i int, f gocv.Mat) bool {
		frames = append(frames, f.Clone())
		return len(frames) < 20
	})
	defer func() {
		for _, f := range frames {
			f.Close()
		}
	}()
	before := gocv.MatProfile.Count()
	m, _ := DefaultManifest()
	for _, name := range []string{"yolox-nano", "fastestdet", "motion"} {
		var d Detector
		if name == "motion" {
			mo, err := NewMotion(MotionConfig{WarmupFrames: -1, Logger: quiet()})
			if err != nil {
				t.Fatal(err)
			}
			d = mo
		} else {
			md, _ := m.Lookup(name)
			md.Path = sharedModelPath(t, md)
			var err error
			if d, err = Open(t.Context(), md, Options{Logger: quiet()}); err != nil {
				t.Fatal(err)
			}
		}
		for _, f := range frames {
			if _, err := d.Detect(f); err != nil {
				t.Fatal(err)
			}
		}
		d.Close()
		if n := gocv.MatProfile.Count(); n != before {
			var b bytes.Buffer
			gocv.MatProfile.WriteTo(&b, 1)
			t.Errorf("%s: %d Mats alive after Close, %d before:\n%s", name, n, before, b.String())
		}
	}
}
