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

// TestMotionHoldsStoppedRoadUser: a block drives in, stops for 150 frames
// (MOG2 with a 60-frame history absorbs it in well under that) and drives
// off. With the hold it is reported all the time it stands, and the hold
// lets go once it has left (nothing reported where it stood); with
// HoldFrames -1 it vanishes while it stands (what the hold exists to fix).
func TestMotionHoldsStoppedRoadUser(t *testing.T) {
	run := func(hold int) (whileStopped, ghostAfter int) {
		m, err := NewMotion(MotionConfig{WarmupFrames: 5, History: 60, HoldFrames: hold, MinAreaPx: 100, Logger: quiet()})
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		frame := gocv.NewMatWithSize(240, 320, gocv.MatTypeCV8UC3)
		defer frame.Close()
		stop := image.Rect(140, 100, 190, 130)
		for i := 0; i < 260; i++ {
			frame.SetTo(gocv.NewScalar(90, 90, 90, 0))
			gocv.Line(&frame, image.Pt(0, 200), image.Pt(319, 200), color.RGBA{200, 200, 200, 0}, 2)
			var box image.Rectangle
			switch {
			case i < 20: // empty road
			case i < 50: // drives in from the left
				box = stop.Add(image.Pt(-4*(50-i), 0))
			case i < 200: // stands
				box = stop
			default: // drives off to the right
				box = stop.Add(image.Pt(5*(i-200), 0))
			}
			if !box.Empty() {
				gocv.Rectangle(&frame, box, color.RGBA{40, 60, 200, 0}, -1)
			}
			dets, err := m.Detect(frame)
			if err != nil {
				t.Fatal(err)
			}
			on := func(r image.Rectangle) bool {
				for _, d := range dets {
					if IoU(d.Box, r) >= 0.5 {
						return true
					}
				}
				return false
			}
			if i >= 60 && i < 200 && on(stop) {
				whileStopped++
			}
			if i >= 206 && on(stop) {
				ghostAfter++
			}
		}
		return whileStopped, ghostAfter
	}
	held, ghost := run(0)
	noHold, noHoldGhost := run(-1)
	t.Logf("with the hold: %d stopped frames reported, %d ghost frames; without: %d, %d", held, ghost, noHold, noHoldGhost)
	if held < 135 || ghost > 0 {
		t.Errorf("with the hold: reported in %d of 140 stopped frames (want ≥ 135), %d frames of ghost after it left (want 0)", held, ghost)
	}
	if held := noHold; held > 100 {
		t.Errorf("without the hold: reported in %d of 140 stopped frames; MOG2 should have absorbed it (the test no longer shows what the hold fixes)", held)
	}
}
