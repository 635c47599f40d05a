package edge

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"gocv.io/x/gocv"

	"github.com/intersect-oss/intersect/edge/camera"
	"github.com/intersect-oss/intersect/edge/capture"
	"github.com/intersect-oss/intersect/edge/detect"
	"github.com/intersect-oss/intersect/internal/testenv"
)

// Frames per benchmark op, so that `make bench` (-benchtime 1x) measures
// something: one full loop of vtest.avi, or 200 frames with YOLOX (about
// 7 s on an idle 2-core machine).
const (
	fullLoop    = 795
	yoloxFrames = 200
)

// nullPub acknowledges everything at once: the benchmark measures the edge
// box, not a NATS server.
type nullPub struct{}

func (nullPub) Publish(context.Context, string, string, []byte) error { return nil }

// frames loops over vtest.avi forever, decoding each frame (decode is part
// of what is measured).
type frames struct {
	b    *testing.B
	path string
	vc   *gocv.VideoCapture
	n    int
}

func (f *frames) next(m *gocv.Mat) {
	for {
		if f.vc == nil {
			vc, err := gocv.VideoCaptureFileWithAPI(f.path, gocv.VideoCaptureFFmpeg)
			if err != nil {
				f.b.Fatal(err)
			}
			f.vc = vc
		}
		if f.vc.Read(m) && !m.Empty() {
			f.n++
			return
		}
		f.vc.Close()
		f.vc = nil
	}
}

func (f *frames) close() {
	if f.vc != nil {
		f.vc.Close()
	}
}

// BenchmarkDecode is the floor no pipeline beats: decoding vtest.avi alone.
func BenchmarkDecode(b *testing.B) {
	fr := &frames{b: b, path: testenv.SharedData(b, "pets09-s2l1", "vtest.avi")}
	defer fr.close()
	m := gocv.NewMat()
	defer m.Close()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N*fullLoop; i++ {
		fr.next(&m)
	}
	b.ReportMetric(float64(b.N*fullLoop)/time.Since(start).Seconds(), "frames/s")
}

// BenchmarkDetectorOnly is YOLOX-nano forward passes alone, on frames
// decoded beforehand.
func BenchmarkDetectorOnly(b *testing.B) {
	video := testenv.SharedData(b, "pets09-s2l1", "vtest.avi")
	model := testenv.SharedData(b, "models", "yolox-nano", "yolox_nano.onnx")
	det, err := detect.OpenFile(context.Background(), model, detect.Options{Logger: quiet()})
	if err != nil {
		b.Fatal(err)
	}
	defer det.Close()
	fr := &frames{b: b, path: video}
	defer fr.close()
	var pool []gocv.Mat
	for i := 0; i < 32; i++ {
		m := gocv.NewMat()
		fr.next(&m)
		pool = append(pool, m)
	}
	defer func() {
		for _, m := range pool {
			m.Close()
		}
	}()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N*yoloxFrames; i++ {
		if _, err := det.Detect(pool[i%len(pool)]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*yoloxFrames)/time.Since(start).Seconds(), "frames/s")
}

// BenchmarkPipeline is the full edge pipeline on vtest.avi: decode, detect,
// track, ground plane, conflicts, snapshots, events through the fsynced
// outbox (to a publisher that acks at once). It reports frames/s and the
// process's resident memory at the end (VmRSS).
func BenchmarkPipeline(b *testing.B) {
	model := testenv.SharedData(b, "models", "yolox-nano", "yolox_nano.onnx")
	for _, tc := range []struct {
		name, model string
		frames      int
	}{{"motion", "", fullLoop}, {"yolox", model, yoloxFrames}} {
		b.Run(tc.name, func(b *testing.B) {
			n := b.N * tc.frames
			el := runPipeline(b, tc.model, n, nil)
			b.ReportMetric(float64(n)/el.Seconds(), "frames/s")
			b.ReportMetric(rssMB(), "rss_MB")
		})
	}
}

// BenchmarkPipelineMemory10Min runs one camera worker's pipeline (motion
// detector) over ten minutes of video at vtest's 7 fps (4,200 frames, the
// file looped), sampling resident memory after every loop of the file. A
// leak shows as growth between the first loop (warm: MOG2 model, tracker,
// buffers allocated) and the last; the issue asks for none, and for a
// steady state under 300 MB.
func BenchmarkPipelineMemory10Min(b *testing.B) {
	const frames = 10 * 60 * 7
	var first, last, peak float64
	for i := 0; i < b.N; i++ {
		runPipeline(b, "", frames, func(frame int) {
			if frame%fullLoop != fullLoop-1 {
				return
			}
			rss := rssMB()
			b.Logf("after loop %d (%d frames): VmRSS %.1f MB", (frame+1)/fullLoop, frame+1, rss)
			if first == 0 {
				first = rss
			}
			last, peak = rss, max(peak, rss)
		})
	}
	b.ReportMetric(first, "rss_after_loop1_MB")
	b.ReportMetric(last, "rss_at_10min_MB")
	b.ReportMetric(peak, "rss_peak_MB")
	b.ReportMetric(last-first, "growth_MB")
}

// runPipeline builds the sample camera's worker and pipeline (model "" is
// the motion detector) and feeds it n decoded frames, calling after (if not
// nil) after each one. It returns the time the frames took.
func runPipeline(b *testing.B, model string, n int, after func(frame int)) time.Duration {
	f, err := camera.Load(sampleConfig(b))
	if err != nil {
		b.Fatal(err)
	}
	cam := &f.Cameras[0]
	if model == "" {
		cam.Detector.Kind, cam.Detector.Model = "motion", ""
	}
	w, err := NewWorker(cam, WorkerOptions{DataDir: b.TempDir(), Publisher: nullPub{}, Logger: quiet()})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go w.ob.Run(ctx, nullPub{})
	det, err := OpenDetector(ctx, cam, w.h, model, quiet())
	if err != nil {
		b.Fatal(err)
	}
	defer det.Close()
	pipe, err := NewPipeline(cam, w.h, det, PipelineOptions{FPS: 7, Snapshots: true, Logger: quiet()})
	if err != nil {
		b.Fatal(err)
	}
	defer pipe.Close()
	fr := &frames{b: b, path: cam.Source}
	defer fr.close()
	origin := time.Now()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < n; i++ {
		m := gocv.NewMat()
		fr.next(&m)
		res, err := pipe.Process(capture.Frame{Mat: m, Index: i})
		m.Close()
		if err != nil {
			b.Fatal(err)
		}
		if err := w.emit(res, origin); err != nil {
			b.Fatal(err)
		}
		if i%50 == 0 {
			w.emitHealth()
		}
		if after != nil {
			after(i)
		}
	}
	el := time.Since(start)
	b.StopTimer()
	return el
}

// rssMB reads this process's resident set size from /proc/self/status.
func rssMB() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			f := strings.Fields(line)
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return 0
}
