package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/intersect-oss/intersect/samples/twin"
)

// TestEnsureTwinRendersAgainForAnotherVersion: a cached demo intersection
// from another version of the scene (no stamp, or another one) is rendered
// again; a current one is reused as it is.
func TestEnsureTwinRendersAgainForAnotherVersion(t *testing.T) {
	if testing.Short() {
		t.Skip("renders the 60 s demo scene")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := filepath.Join(t.TempDir(), "twin")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// An old cache: a camera config and a video, no stamp.
	for _, f := range []string{twin.CameraFile, twin.VideoFile} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("from an older version"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if _, err := ensureTwin(ctx, dir, log); err != nil {
		t.Fatal(err)
	}
	want, _ := twin.Stamp(twin.Options{Seed: twinSeed, OutDir: dir})
	if got, err := os.ReadFile(filepath.Join(dir, twin.StampFile)); err != nil || string(got) != want {
		t.Fatalf("stamp after rendering %q (%v), want %q", got, err, want)
	}
	video := filepath.Join(dir, twin.VideoFile)
	st1, err := os.Stat(video)
	if err != nil || st1.Size() < 1<<20 {
		t.Fatalf("video after rendering again: %v, %v", st1, err)
	}
	if _, err := ensureTwin(ctx, dir, log); err != nil {
		t.Fatal(err)
	}
	if st2, err := os.Stat(video); err != nil || !st2.ModTime().Equal(st1.ModTime()) {
		t.Errorf("a current render was rendered again (%v)", err)
	}
}
