package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/intersect-oss/intersect/internal/testenv"
)

// TestEdgeCommandsExitCodes drives calibrate and analyze --video through
// run(): good input exits 0, bad calibration, config, video and model
// files exit 2 with a message naming the problem, and the process lives on.
func TestEdgeCommandsExitCodes(t *testing.T) {
	testenv.SharedData(t, "pets09-s2l1", "vtest.avi")
	sample := filepath.Join(testenv.RepoRoot(), "samples", "cameras", "vtest.yaml")
	dir := t.TempDir()
	badCfg := filepath.Join(dir, "bad.yaml")
	os.WriteFile(badCfg, []byte("cameras:\n  - id: Cam\n    site: s\n"), 0o644)
	textVideo := filepath.Join(dir, "video.avi")
	os.WriteFile(textVideo, []byte("not a video"), 0o644)
	textModel := filepath.Join(dir, "yolox_nano.onnx")
	os.WriteFile(textModel, []byte("not a model"), 0o644)
	model, err := os.ReadFile(testenv.SharedData(t, "models", "yolox-nano", "yolox_nano.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	truncDir := filepath.Join(dir, "trunc")
	os.MkdirAll(truncDir, 0o755)
	truncModel := filepath.Join(truncDir, "yolox_nano.onnx")
	os.WriteFile(truncModel, model[:len(model)/3], 0o644)

	vtest := filepath.Join(testenv.RepoRoot(), "..", "shared", "data", "pets09-s2l1", "vtest.avi")
	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"calibrate sample", []string{"calibrate", "--config", sample}, 0, "max error 0.04"},
		{"calibrate over threshold", []string{"calibrate", "--config", sample, "--max-error-m", "0.01"}, 2, "exceeds 0.010 m"},
		{"calibrate forced", []string{"calibrate", "--config", sample, "--max-error-m", "0.01", "--force"}, 0, "ok"},
		{"calibrate bad config", []string{"calibrate", "--config", badCfg}, 2, `cameras[0].id: "Cam"`},
		{"calibrate unknown camera", []string{"calibrate", "--config", sample, "--camera", "nope"}, 2, `no camera "nope"`},
		{"calibrate no config", []string{"calibrate"}, 2, "--config is required"},
		{"analyze text video", []string{"analyze", "--video", textVideo, "--camera", sample, "--out", dir}, 2, "video.avi"},
		{"analyze text model", []string{"analyze", "--video", vtest, "--camera", sample, "--model", textModel, "--out", dir}, 2, "yolox_nano.onnx"},
		{"analyze truncated model", []string{"analyze", "--video", vtest, "--camera", sample, "--model", truncModel, "--out", dir}, 2, "yolox_nano.onnx"},
		{"analyze video without camera", []string{"analyze", "--video", textVideo, "--out", dir}, 2, "--camera"},
		{"edge bad config", []string{"edge", "--config", badCfg, "--data-dir", dir}, 2, "cameras[0]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(tc.args, &out, &errb)
			all := out.String() + errb.String()
			if code != tc.code || !strings.Contains(all, tc.want) {
				t.Errorf("exit %d (want %d), output lacks %q:\n%s", code, tc.code, tc.want, all)
			}
		})
	}
}
