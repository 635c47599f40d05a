package twin

import (
	"context"
	"testing"
	"time"

	"gocv.io/x/gocv"
)

// BenchmarkRender renders a 10 s scene at 960×540, 15 fps, writing every
// output (video and truth), and reports frames/s.
func BenchmarkRender(b *testing.B) {
	for i := 0; i < b.N; i++ {
		res, err := Render(context.Background(), Options{Seed: 1, Duration: 10 * time.Second, OutDir: b.TempDir()})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(res.FramesPerS, "frames/s")
	}
}

// BenchmarkFrame is the drawing alone (no encoding): background copy, road
// users, lighting and noise.
func BenchmarkFrame(b *testing.B) {
	sc, err := NewScene(1, 60, DefaultCamera(960, 540))
	if err != nil {
		b.Fatal(err)
	}
	fr, err := newFrameRenderer(sc.Camera, 1)
	if err != nil {
		b.Fatal(err)
	}
	defer fr.Close()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		fr.render(sc.Agents, float64(i%900)/15, nil)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "frames/s")
}

// BenchmarkEncode is OpenCV's MJPG writer alone.
func BenchmarkEncode(b *testing.B) {
	sc, _ := NewScene(1, 60, DefaultCamera(960, 540))
	fr, _ := newFrameRenderer(sc.Camera, 1)
	defer fr.Close()
	fr.render(sc.Agents, 26, nil)
	vw, err := gocv.VideoWriterFile(b.TempDir()+"/x.avi", "MJPG", 15, 960, 540, true)
	if err != nil {
		b.Fatal(err)
	}
	defer vw.Close()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		vw.Write(fr.lit)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "frames/s")
}
