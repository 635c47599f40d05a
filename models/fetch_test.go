package models

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/intersect-oss/intersect/internal/testenv"
)

// fetch runs fetch.sh offline with the given shared-data and output dirs.
func fetch(t *testing.T, shared, out string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("sh", append([]string{"fetch.sh"}, args...)...)
	cmd.Env = append(os.Environ(), "SHARED_DATA="+shared, "MODELS_DIR="+out, "FETCH_OFFLINE=1")
	b, err := cmd.CombinedOutput()
	return string(b), err
}

func TestFetchFromSharedCopy(t *testing.T) {
	shared := filepath.Dir(filepath.Dir(testenv.SharedData(t, "models", "yolox-nano")))
	out := t.TempDir()
	msg, err := fetch(t, shared, out, "yolox-nano")
	if err != nil {
		t.Fatalf("fetch.sh: %v\n%s", err, msg)
	}
	if !strings.Contains(msg, "copied from") || !strings.Contains(msg, "sha256 ok") {
		t.Errorf("fetch.sh did not say where the model came from:\n%s", msg)
	}
	st, err := os.Stat(filepath.Join(out, "yolox_nano.onnx"))
	if err != nil || st.Size() != 3660092 {
		t.Fatalf("fetched file: %v, %v", st, err)
	}
	if _, err := os.Stat(filepath.Join(out, "FastestDet.onnx")); err == nil {
		t.Error("fetch.sh yolox-nano also fetched FastestDet")
	}
	// A second run finds it in place.
	if msg, err := fetch(t, shared, out, "yolox-nano"); err != nil || !strings.Contains(msg, "already present") {
		t.Errorf("second run: %v\n%s", err, msg)
	}
}

func TestFetchChecksumMismatchDeletes(t *testing.T) {
	shared := t.TempDir()
	bad := filepath.Join(shared, "models", "yolox-nano", "yolox_nano.onnx")
	if err := os.MkdirAll(filepath.Dir(bad), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte("not the model\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	msg, err := fetch(t, shared, out, "yolox-nano")
	if err == nil || !strings.Contains(msg, "checksum mismatch") {
		t.Errorf("fetch.sh with a wrong shared copy: %v\n%s", err, msg)
	}
	if entries, _ := os.ReadDir(out); len(entries) != 0 {
		t.Errorf("fetch.sh left %v behind after a mismatch", entries)
	}
	if msg, err := fetch(t, t.TempDir(), out, "fastestdet"); err == nil || !strings.Contains(msg, "no shared copy") {
		t.Errorf("fetch.sh with nothing to fetch from: %v\n%s", err, msg)
	}
	if msg, err := fetch(t, shared, out, "yolov99"); err == nil || !strings.Contains(msg, "none of [yolov99]") {
		t.Errorf("fetch.sh unknown model: %v\n%s", err, msg)
	}
}
