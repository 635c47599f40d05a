package detect

import (
	"testing"
	"time"

	"gocv.io/x/gocv"

	"github.com/intersect-oss/intersect/events"
	"github.com/intersect-oss/intersect/internal/testenv"
)

// benchFrames is how many decoded vtest.avi frames the detector benchmarks
// cycle through (about 1.3 MB each).
const benchFrames = 64

// Frames per benchmark op, so that `make bench` (-benchtime 1x) measures
// enough frames for a stable figure: a full loop of vtest.avi for decoding
// and MOG2, 64 frames (about 2 s on an idle 2-core machine) for the models.
const (
	decodeFramesPerOp = 795
	motionFramesPerOp = 795
	modelFramesPerOp  = benchFrames
)

func loadFrames(b *testing.B, n int) []gocv.Mat {
	b.Helper()
	var frames []gocv.Mat
	readFrames(b, func(int) bool { return true }, func(i int, f gocv.Mat) bool {
		frames = append(frames, f.Clone())
		return len(frames) < n
	})
	b.Cleanup(func() {
		for _, f := range frames {
			f.Close()
		}
	})
	if len(frames) == 0 {
		b.Fatal("no frames decoded")
	}
	return frames
}

func reportFPS(b *testing.B, frames int) {
	if s := b.Elapsed().Seconds(); s > 0 {
		b.ReportMetric(float64(frames)/s, "frames/s")
	}
}

// BenchmarkDecode is decode-only frames/s of vtest.avi: the floor no
// pipeline beats. One op is one pass over the file's 795 frames.
func BenchmarkDecode(b *testing.B) {
	path := testenv.SharedData(b, "pets09-s2l1", "vtest.avi")
	frame := gocv.NewMat()
	defer frame.Close()
	b.ResetTimer()
	n := 0
	for i := 0; i < b.N; i++ {
		vc, err := gocv.VideoCaptureFile(path)
		if err != nil {
			b.Fatal(err)
		}
		for vc.Read(&frame) && !frame.Empty() {
			n++
		}
		vc.Close()
	}
	b.StopTimer()
	if n < b.N*decodeFramesPerOp {
		b.Fatalf("decoded %d frames in %d passes, want %d per pass", n, b.N, decodeFramesPerOp)
	}
	reportFPS(b, n)
}

// benchDetector runs d over perOp frames (cycling through benchFrames
// decoded ones) per op and reports frames/s and detections per frame.
func benchDetector(b *testing.B, d Detector, perOp int) {
	frames := loadFrames(b, benchFrames)
	// The first forward pass allocates the network's layers; measure the
	// steady state.
	if _, err := d.Detect(frames[0]); err != nil {
		b.Fatal(err)
	}
	n := 0
	cpu0, cpuOK := cpuTime()
	b.ResetTimer()
	for i := 0; i < b.N*perOp; i++ {
		dets, err := d.Detect(frames[i%len(frames)])
		if err != nil {
			b.Fatal(err)
		}
		n += len(dets)
	}
	b.StopTimer()
	reportFPS(b, b.N*perOp)
	b.ReportMetric(float64(n)/float64(b.N*perOp), "dets/frame")
	if cpu1, ok := cpuTime(); ok && cpuOK {
		b.ReportMetric(float64(cpu1-cpu0)/float64(time.Millisecond)/float64(b.N*perOp), "cpu-ms/frame")
	}
}

// BenchmarkYOLOX is detector-only frames/s of YOLOX-nano on 768x576
// vtest.avi frames: letterbox, forward pass, decoding, NMS.
func BenchmarkYOLOX(b *testing.B) {
	benchDetector(b, openShared(b, "yolox-nano", Options{}), modelFramesPerOp)
}

// BenchmarkFastestDet is the same for FastestDet.
func BenchmarkFastestDet(b *testing.B) {
	benchDetector(b, openShared(b, "fastestdet", Options{}), modelFramesPerOp)
}

// BenchmarkMotion is frames/s of the MOG2 motion detector at its default
// half resolution, contours and classification included.
func BenchmarkMotion(b *testing.B) {
	m, err := NewMotion(MotionConfig{Logger: quiet()})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	benchDetector(b, m, motionFramesPerOp)
}

// BenchmarkYOLOXQualityPETS scores YOLOX-nano persons on every 2nd frame
// of PETS09-S2L1 against the full ground truth (IoU >= 0.5) for a sweep of
// person thresholds, and reports recall and precision at the manifest's.
// The ground truth includes people YOLOX cannot see (cut by the frame
// edge, hidden behind the sign or another person), so recall has a ceiling
// below 1.
func BenchmarkYOLOXQualityPETS(b *testing.B) {
	m, _ := DefaultManifest()
	md, _ := m.Lookup("yolox-nano")
	sweep := []float64{0.2, 0.3, 0.35, 0.45, 0.5, 0.6} // go test prints at most 10 log lines of a benchmark
	d := openShared(b, "yolox-nano", Options{Thresholds: map[events.Class]float64{events.Pedestrian: sweep[0]}})
	gt := loadGT(b)
	for it := 0; it < b.N; it++ {
		scores := make([]score, len(sweep))
		frames := readFrames(b, func(i int) bool { return i%2 == 0 }, func(i int, frame gocv.Mat) bool {
			dets, err := d.Detect(frame)
			if err != nil {
				b.Fatal(err)
			}
			// Greedy NMS keeps the same boxes above t whether the
			// threshold was applied before or after it, so one pass at
			// the lowest threshold serves the whole sweep.
			for k, t := range sweep {
				scores[k].add(dets, gt[i+1], t)
			}
			return true
		})
		if it > 0 {
			continue
		}
		b.Logf("YOLOX-nano, PETS09-S2L1 every 2nd frame (%d frames), persons, IoU >= 0.5:", frames)
		best := -1
		for k, t := range sweep {
			b.Logf("  person threshold %.2f: %s", t, scores[k])
			if scores[k].recall() >= 0.85 && scores[k].precision() >= 0.75 && (best < 0 || scores[k].recall() > scores[best].recall()) {
				best = k
			}
			if t == md.Thresholds[events.Pedestrian] {
				b.ReportMetric(scores[k].recall(), "recall")
				b.ReportMetric(scores[k].precision(), "precision")
			}
		}
		if best >= 0 {
			b.Logf("  highest recall meeting recall >= 0.85 at precision >= 0.75: threshold %.2f", sweep[best])
		} else {
			b.Logf("  no threshold meets recall >= 0.85 at precision >= 0.75")
		}
	}
}
