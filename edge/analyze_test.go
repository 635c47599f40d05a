package edge

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/intersect-oss/intersect/events"
	"github.com/intersect-oss/intersect/internal/testenv"
	"github.com/intersect-oss/intersect/tracker/mot"
	"github.com/intersect-oss/intersect/tracker/trajectory"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// sampleConfig is a copy of the committed vtest camera whose video and
// model point at the shared data, so the tests do not depend on `make deps`
// and `make models` having run.
func sampleConfig(t testing.TB) string {
	video := testenv.SharedData(t, "pets09-s2l1", "vtest.avi")
	model := testenv.SharedData(t, "models", "yolox-nano", "yolox_nano.onnx")
	b, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "samples", "cameras", "vtest.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(b), "source: ../video/vtest.avi", "source: "+video, 1)
	s = strings.Replace(s, "model: ../../models/yolox_nano.onnx", "model: "+model, 1)
	p := filepath.Join(t.TempDir(), "vtest.yaml")
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestAnalyzeVTest runs the offline pipeline on the first frames of
// vtest.avi with each detector and checks the five outputs: pedestrians
// tracked on the ground at walking speeds, MOT rows on the image, a
// summary that adds up.
func TestAnalyzeVTest(t *testing.T) {
	cfg := sampleConfig(t)
	model := testenv.SharedData(t, "models", "yolox-nano", "yolox_nano.onnx")
	for _, tc := range []struct{ name, model string }{{"yolox", model}, {"motion", ""}} {
		t.Run(tc.name, func(t *testing.T) {
			out := t.TempDir()
			frames := 120
			if tc.model != "" {
				frames = 50 // YOLOX costs 30–250 ms a frame on this shared machine
			}
			o := AnalyzeOptions{CameraConfig: cfg, Model: tc.model, OutDir: out, MaxFrames: frames, Logger: quiet()}
			if tc.name == "motion" {
				o.CameraConfig = motionConfig(t, cfg)
			}
			sum, err := Analyze(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range []string{"tracks.csv", "tracks.mot.txt", "conflicts.csv", "summary.json", "snapshots"} {
				if _, err := os.Stat(filepath.Join(out, f)); err != nil {
					t.Errorf("missing output %s", f)
				}
			}
			var js Summary
			b, _ := os.ReadFile(filepath.Join(out, "summary.json"))
			if err := json.Unmarshal(b, &js); err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: %d frames at %.1f fps, detector %s (%.1f ms), detections %v, tracks %v, conflicts %v",
				tc.name, js.Frames, js.ProcessingFPS, js.Detector, js.DetectorMeanMS, js.DetectionsByClass, js.TracksByClass, js.ConflictsByType)
			if js.Frames != frames || sum.Frames != frames {
				t.Errorf("processed %d frames, want %d", js.Frames, frames)
			}
			if js.TracksByClass[events.Pedestrian] < 3 {
				t.Errorf("%d pedestrians tracked in the first frames of PETS (about 8 are in view)", js.TracksByClass[events.Pedestrian])
			}
			rows, err := mot.ReadFile(filepath.Join(out, "tracks.mot.txt"))
			if err != nil || len(rows) == 0 {
				t.Fatalf("tracks.mot.txt: %d rows, %v", len(rows), err)
			}
			for _, r := range rows[:min(len(rows), 50)] {
				if r.Frame < 1 || r.Frame > frames || r.Left < -50 || r.Left > 800 || r.Width <= 0 {
					t.Fatalf("implausible MOT row %+v", r)
				}
			}
			tr, err := os.ReadFile(filepath.Join(out, "tracks.csv"))
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSpace(string(tr)), "\n")
			if lines[0] != strings.Join(trajectory.Header, ",") || len(lines) < frames {
				t.Errorf("tracks.csv: header %q, %d lines", lines[0], len(lines))
			}
		})
	}
}

// motionConfig writes a copy of the sample config using the motion detector.
func motionConfig(t *testing.T, cfg string) string {
	b, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i := strings.Index(s, "      kind: yolox")
	j := strings.Index(s, "      score:")
	s = s[:i] + "      kind: motion\n" + s[j:]
	p := filepath.Join(t.TempDir(), "motion.yaml")
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
