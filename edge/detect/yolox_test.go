package detect

import (
	"bufio"
	"context"
	"fmt"
	"image"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"gocv.io/x/gocv"

	"github.com/intersect-oss/intersect/events"
	"github.com/intersect-oss/intersect/internal/testenv"
)

// openShared opens a manifest model from the team's shared data, skipping
// when it is absent.
func openShared(tb testing.TB, name string, opts Options) Detector {
	tb.Helper()
	m, err := DefaultManifest()
	if err != nil {
		tb.Fatal(err)
	}
	md, err := m.Lookup(name)
	if err != nil {
		tb.Fatal(err)
	}
	md.Path = sharedModelPath(tb, md)
	if opts.Logger == nil {
		opts.Logger = quiet()
	}
	d, err := Open(context.Background(), md, opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { d.Close() })
	return d
}

// quiet is a logger for tests: the load lines are noise there.
func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

// sharedModelPath is md's file in the team's shared data, or a skip.
func sharedModelPath(tb testing.TB, md Model) string {
	tb.Helper()
	return testenv.SharedData(tb, md.SharedPath)
}

// readFrames decodes vtest.avi, calling fn with each frame (0-based) whose
// index passes keep, until fn returns false or the video ends.
func readFrames(tb testing.TB, keep func(i int) bool, fn func(i int, frame gocv.Mat) bool) int {
	tb.Helper()
	path := testenv.SharedData(tb, "pets09-s2l1", "vtest.avi")
	vc, err := gocv.VideoCaptureFile(path)
	if err != nil {
		tb.Fatalf("opening %s: %v", path, err)
	}
	defer vc.Close()
	frame := gocv.NewMat()
	defer frame.Close()
	n := 0
	for i := 0; ; i++ {
		// Decoding runs at about 2,400 frames/s, so skipped frames are
		// simply read (Grab has no result in gocv v0.31).
		if !vc.Read(&frame) || frame.Empty() {
			break
		}
		if !keep(i) {
			continue
		}
		n++
		if !fn(i, frame) {
			break
		}
	}
	return n
}

func TestYOLOXOnPETSFrame(t *testing.T) {
	d := openShared(t, "yolox-nano", Options{})
	if d.Name() != "yolox-nano" {
		t.Errorf("Name() = %q", d.Name())
	}
	var dets []Detection
	readFrames(t, func(i int) bool { return i == 70 }, func(i int, frame gocv.Mat) bool {
		var err error
		if dets, err = d.Detect(frame); err != nil {
			t.Fatal(err)
		}
		// The same frame in gray must still work (converted to BGR).
		gray := gocv.NewMat()
		defer gray.Close()
		gocv.CvtColor(frame, &gray, gocv.ColorBGRToGray)
		g, err := d.Detect(gray)
		if err != nil || len(g) == 0 {
			t.Errorf("Detect(gray) = %d detections, %v", len(g), err)
		}
		return false
	})
	counts := map[events.Class]int{}
	frameRect := image.Rect(0, 0, 768, 576)
	for _, det := range dets {
		counts[det.Class]++
		if !det.Box.In(frameRect) || det.Box.Dx() < 2 || det.Score <= 0 || det.Score > 1 {
			t.Errorf("detection %+v outside the frame or score out of range", det)
		}
	}
	// The model README counts 6 persons, a car and a truck (the parked
	// van) at score > 0.3 on frame 70.
	if counts[events.Pedestrian] < 5 || counts[events.Pedestrian] > 9 {
		t.Errorf("frame 70: %d pedestrians, want 5..9 (%v)", counts[events.Pedestrian], dets)
	}
	if counts[events.Car]+counts[events.Truck] < 1 {
		t.Errorf("frame 70: no parked vehicle found (%v)", dets)
	}
	// Ground truth boxes of frame 71 (1-based) must each be matched.
	gt := loadGT(t)[71]
	matched := 0
	for _, g := range gt {
		for _, det := range dets {
			if det.Class == events.Pedestrian && IoU(det.Box, g) >= 0.5 {
				matched++
				break
			}
		}
	}
	if matched < len(gt)*3/4 {
		t.Errorf("frame 70: %d of %d ground-truth people found at IoU >= 0.5", matched, len(gt))
	}
}

func TestDetectBadFrames(t *testing.T) {
	yolox := openShared(t, "yolox-nano", Options{})
	motion, err := NewMotion(MotionConfig{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer motion.Close()
	empty := gocv.NewMat()
	defer empty.Close()
	float := gocv.NewMatWithSize(100, 100, gocv.MatTypeCV32FC3)
	defer float.Close()
	tiny := gocv.NewMatWithSize(1, 1, gocv.MatTypeCV8UC3)
	defer tiny.Close()
	for _, d := range []Detector{yolox, motion} {
		for name, m := range map[string]gocv.Mat{"empty frame": empty, "frame type": float, "too small": tiny, "empty frame (zero Mat)": {}} {
			if _, err := d.Detect(m); err == nil || !strings.Contains(err.Error(), strings.TrimSuffix(name, " (zero Mat)")) {
				t.Errorf("%s.Detect(%s) = %v", d.Name(), name, err)
			}
		}
	}
}

// TestOutputShapeCheckedAtRuntime runs YOLOX under an entry claiming the
// FastestDet layout. The graph check is bypassed (newNetDetector directly),
// so the first forward pass must catch the [1,3549,85] output.
func TestOutputShapeCheckedAtRuntime(t *testing.T) {
	path := testenv.SharedData(t, "models", "yolox-nano", "yolox_nano.onnx")
	m, _ := DefaultManifest()
	md, _ := m.Lookup("fastestdet")
	md.Input = ModelInput{Name: "images", Width: 416, Height: 416}
	md.Output.Name = "output" // an unknown name would abort inside OpenCV
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	net, err := gocv.ReadNetFromONNXBytes(b)
	if err != nil {
		t.Fatal(err)
	}
	d := newNetDetector(md, net, Options{})
	defer d.Close()
	frame := gocv.NewMatWithSize(240, 320, gocv.MatTypeCV8UC3)
	defer frame.Close()
	_, err = d.Detect(frame)
	if err == nil || !strings.Contains(err.Error(), "model output has shape [1 3549 85], manifest says [1 85 22 22]") {
		t.Errorf("Detect = %v, want a wrong-shape error", err)
	}
}

func TestFastestDetOnPETSFrame(t *testing.T) {
	d := openShared(t, "fastestdet", Options{MinScore: 0.5, Thresholds: map[events.Class]float64{events.Pedestrian: 0.5}})
	var dets []Detection
	readFrames(t, func(i int) bool { return i == 70 }, func(i int, frame gocv.Mat) bool {
		var err error
		if dets, err = d.Detect(frame); err != nil {
			t.Fatal(err)
		}
		return false
	})
	gt := loadGT(t)[71]
	matched := 0
	for _, g := range gt {
		for _, det := range dets {
			if det.Class == events.Pedestrian && IoU(det.Box, g) >= 0.5 {
				matched++
				break
			}
		}
	}
	// README: recall 0.78 at score > 0.5 over the sequence.
	if matched < len(gt)/2 {
		t.Errorf("fastestdet frame 70: %d of %d ground-truth people found (%v)", matched, len(gt), dets)
	}
}

// TestYOLOXQualityPETS scores YOLOX-nano on 20 frames spread over
// PETS09-S2L1 and asserts floors below the full-sequence figures
// (BenchmarkYOLOXQualityPETS measures those on every 2nd frame).
func TestYOLOXQualityPETS(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	d := openShared(t, "yolox-nano", Options{})
	gt := loadGT(t)
	var s score
	readFrames(t, func(i int) bool { return i%40 == 0 }, func(i int, frame gocv.Mat) bool {
		dets, err := d.Detect(frame)
		if err != nil {
			t.Fatal(err)
		}
		s.add(dets, gt[i+1], 0)
		return true
	})
	t.Logf("20 frames: %s", s)
	if s.recall() < 0.8 || s.precision() < 0.7 {
		t.Errorf("YOLOX-nano on PETS09-S2L1 (20 frames): %s, want recall >= 0.8, precision >= 0.7", s)
	}
}

// score counts matches of pedestrian detections against ground truth.
type score struct{ tp, fp, fn int }

// add greedily matches detections (by descending score, as NMS left them)
// to unmatched gt boxes at IoU >= 0.5; detections below minScore are
// ignored.
func (s *score) add(dets []Detection, gt []image.Rectangle, minScore float64) {
	used := make([]bool, len(gt))
	for _, d := range dets {
		if d.Class != events.Pedestrian || d.Score < minScore {
			continue
		}
		bi, bv := -1, 0.5
		for j, g := range gt {
			if v := IoU(d.Box, g); !used[j] && v >= bv {
				bi, bv = j, v
			}
		}
		if bi >= 0 {
			used[bi] = true
			s.tp++
		} else {
			s.fp++
		}
	}
	for _, u := range used {
		if !u {
			s.fn++
		}
	}
}

func (s score) recall() float64    { return float64(s.tp) / float64(max(1, s.tp+s.fn)) }
func (s score) precision() float64 { return float64(s.tp) / float64(max(1, s.tp+s.fp)) }
func (s score) String() string {
	return fmt.Sprintf("recall %.3f precision %.3f (tp %d fp %d fn %d)", s.recall(), s.precision(), s.tp, s.fp, s.fn)
}

// loadGT reads the PETS09-S2L1 MOT ground truth: 1-based frame -> boxes.
func loadGT(tb testing.TB) map[int][]image.Rectangle {
	tb.Helper()
	path := testenv.SharedData(tb, "pets09-s2l1", "gt_mot_PETS09-S2L1.txt")
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	gt := map[int][]image.Rectangle{}
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		fs := strings.Split(sc.Text(), ",")
		if len(fs) < 6 {
			tb.Fatalf("%s:%d: %d fields", path, line, len(fs))
		}
		var v [6]float64
		for i := range v {
			if v[i], err = strconv.ParseFloat(strings.TrimSpace(fs[i]), 64); err != nil {
				tb.Fatalf("%s:%d: field %d: %v", path, line, i+1, err)
			}
		}
		x, y := int(v[2]+0.5), int(v[3]+0.5)
		gt[int(v[0])] = append(gt[int(v[0])], image.Rect(x, y, x+int(v[4]+0.5), y+int(v[5]+0.5)))
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	return gt
}

func TestOpenFile(t *testing.T) {
	path := testenv.SharedData(t, "models", "yolox-nano", "yolox_nano.onnx")
	quietOpts := Options{Logger: quiet()}
	d, err := OpenFile(context.Background(), path, quietOpts)
	if err != nil {
		t.Fatal(err)
	}
	if d.Name() != "yolox-nano" {
		t.Errorf("OpenFile(%s).Name() = %q", path, d.Name())
	}
	d.Close()
	// A file the manifest does not know is refused: no decoding to use.
	other := filepath.Join(t.TempDir(), "mystery.onnx")
	if _, err := OpenFile(context.Background(), other, quietOpts); err == nil || !strings.Contains(err.Error(), `"mystery.onnx" is not a file in the manifest`) {
		t.Errorf("OpenFile(unknown) = %v", err)
	}
	// A manifest name is looked up in ./models (edge/detect/models here:
	// absent), and the error says where it looked.
	if _, err := OpenFile(context.Background(), "fastestdet", quietOpts); err == nil || !strings.Contains(err.Error(), "FastestDet.onnx not found in models") {
		t.Errorf("OpenFile(name, not fetched) = %v", err)
	}
}
