package detect

import (
	"image"
	"image/color"
	"testing"

	"gocv.io/x/gocv"

	"github.com/intersect-oss/intersect/events"
)

func TestMotionClassify(t *testing.T) {
	foot := func(w, d float64) func(image.Rectangle) (float64, float64, bool) {
		return func(image.Rectangle) (float64, float64, bool) { return w, d, true }
	}
	noFoot := func(image.Rectangle) (float64, float64, bool) { return 0, 0, false }
	tests := []struct {
		name string
		foot func(image.Rectangle) (float64, float64, bool)
		box  image.Rectangle
		want events.Class
	}{
		{"pedestrian footprint", foot(0.6, 0.5), image.Rect(0, 0, 100, 40), events.Pedestrian}, // wide in pixels, small on the ground
		{"2 m long, thin: bicycle", foot(2.0, 0.6), image.Rect(0, 0, 20, 60), events.Bicycle},
		{"bicycle", foot(0.6, 1.8), image.Rect(0, 0, 40, 30), events.Bicycle},
		{"car", foot(1.8, 4.5), image.Rect(0, 0, 20, 60), events.Car},
		{"wide 2.4 m is a car", foot(2.4, 2.4), image.Rect(0, 0, 20, 60), events.Car},
		{"truck", foot(2.5, 8), image.Rect(0, 0, 20, 60), events.Truck},
		{"bus", foot(2.5, 12), image.Rect(0, 0, 20, 60), events.Bus},
		{"no footprint: tall", nil, image.Rect(0, 0, 20, 50), events.Pedestrian},
		{"no footprint: wide small", nil, image.Rect(0, 0, 60, 30), events.Car},
		{"no footprint: huge", nil, image.Rect(0, 0, 300, 200), events.Bus},
		{"footprint not ok falls back", noFoot, image.Rect(0, 0, 20, 50), events.Pedestrian},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &Motion{cfg: MotionConfig{Footprint: tt.foot}}
			if got := m.classify(tt.box, 768, 576); got != tt.want {
				t.Errorf("classify(%v) = %s, want %s", tt.box, got, tt.want)
			}
		})
	}
}

func TestMotionConfigErrors(t *testing.T) {
	for _, c := range []MotionConfig{{Scale: 2}, {History: -1}, {MaxAreaFrac: 1.5}, {MinAreaPx: -3}} {
		if m, err := NewMotion(c); err == nil {
			m.Close()
			t.Errorf("NewMotion(%+v) accepted", c)
		}
	}
}

// TestMotionSyntheticBlob moves a tall bright block across a textured
// grey background: after warm-up exactly one pedestrian-shaped box must sit
// on it, and a still scene must give nothing.
func TestMotionSyntheticBlob(t *testing.T) {
	m, err := NewMotion(MotionConfig{WarmupFrames: 5, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	frame := gocv.NewMatWithSize(240, 320, gocv.MatTypeCV8UC3)
	defer frame.Close()
	var last []Detection
	var block image.Rectangle
	for i := 0; i < 40; i++ {
		frame.SetTo(gocv.NewScalar(90, 90, 90, 0))
		gocv.Line(&frame, image.Pt(0, 200), image.Pt(319, 200), color.RGBA{200, 200, 200, 0}, 2)
		if i >= 20 {
			block = image.Rect(40+4*(i-20), 80, 40+4*(i-20)+20, 140)
			gocv.Rectangle(&frame, block, color.RGBA{240, 240, 240, 0}, -1)
		}
		dets, err := m.Detect(frame)
		if err != nil {
			t.Fatal(err)
		}
		if i < 20 && len(dets) > 0 {
			t.Fatalf("frame %d: still scene gave %v", i, dets)
		}
		last = dets
	}
	if len(last) != 1 {
		t.Fatalf("moving block %v: detections %v, want one", block, last)
	}
	if IoU(last[0].Box, block) < 0.6 || last[0].Class != events.Pedestrian || last[0].Score < 0.5 {
		t.Errorf("moving block %v: detection %+v, want a pedestrian box on it", block, last[0])
	}
	// A new frame size restarts the model: warm-up again, no crash.
	small := gocv.NewMatWithSize(120, 160, gocv.MatTypeCV8UC3)
	defer small.Close()
	for i := 0; i < 5; i++ {
		if dets, err := m.Detect(small); err != nil || len(dets) != 0 {
			t.Fatalf("frame %d after resize: %v, %v; want warm-up", i, dets, err)
		}
	}
}

// TestMotionOnPETS runs MOG2 over the first 200 frames of vtest.avi and
// checks that, once the background is learned, most ground-truth people
// are covered by a motion box and most boxes are classed pedestrian.
func TestMotionOnPETS(t *testing.T) {
	m, err := NewMotion(MotionConfig{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	gt := loadGT(t)
	covered, total, peds, dets := 0, 0, 0, 0
	readFrames(t, func(int) bool { return true }, func(i int, frame gocv.Mat) bool {
		ds, err := m.Detect(frame)
		if err != nil {
			t.Fatal(err)
		}
		if i < 40 {
			return true
		}
		for _, d := range ds {
			dets++
			if d.Class == events.Pedestrian {
				peds++
			}
		}
		for _, g := range gt[i+1] {
			total++
			c := image.Pt((g.Min.X+g.Max.X)/2, (g.Min.Y+g.Max.Y)/2)
			for _, d := range ds {
				if c.In(d.Box) {
					covered++
					break
				}
			}
		}
		return i < 200
	})
	t.Logf("frames 40-200: %d/%d gt people covered by a motion box, %d/%d boxes pedestrian", covered, total, peds, dets)
	if float64(covered) < 0.6*float64(total) {
		t.Errorf("motion boxes cover %d of %d ground-truth people, want >= 70%%", covered, total)
	}
	if float64(peds) < 0.6*float64(dets) {
		t.Errorf("%d of %d motion boxes classed pedestrian, want >= 60%%", peds, dets)
	}
}
