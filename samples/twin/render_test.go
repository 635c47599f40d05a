package twin

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// hashes returns the sha256 of every file Render wrote, by base name.
func hashes(t *testing.T, res *Result) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, p := range res.Files {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.New()
		if _, err := io.Copy(h, f); err != nil {
			t.Fatal(err)
		}
		f.Close()
		out[filepath.Base(p)] = hex.EncodeToString(h.Sum(nil))
	}
	return out
}

func render(t *testing.T, seed uint64, d time.Duration) *Result {
	t.Helper()
	res, err := Render(context.Background(), Options{Seed: seed, Duration: d, OutDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// Same seed, same bytes: video and every truth file. Another seed changes
// both the video and the trajectories.
func TestRenderDeterministic(t *testing.T) {
	const d = 4 * time.Second
	a, b, c := render(t, 7, d), render(t, 7, d), render(t, 8, d)
	ha, hb, hc := hashes(t, a), hashes(t, b), hashes(t, c)
	if len(ha) != 7 {
		t.Fatalf("wrote %d files, want 7: %v", len(ha), a.Files)
	}
	for name, h := range ha {
		if hb[name] != h {
			t.Errorf("%s differs between two renders with seed 7", name)
		}
	}
	for _, name := range []string{VideoFile, TruthFile, MOTFile} {
		if hc[name] == ha[name] {
			t.Errorf("%s identical for seeds 7 and 8", name)
		}
	}
	if a.Frames != 60 {
		t.Errorf("frames = %d, want 60 (4 s at 15 fps)", a.Frames)
	}
	t.Logf("render speed %.0f frames/s", a.FramesPerS)
}
