package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/intersect-oss/intersect/edge"
	"github.com/intersect-oss/intersect/edge/camera"
	"github.com/intersect-oss/intersect/edge/outbox"
	"github.com/intersect-oss/intersect/samples/twin"
)

// twinSeed fixes the demo intersection so every demo shows the same scene.
const twinSeed = 1

// demoCameraFiles returns the camera configs the demo runs: the real
// vtest.avi camera (when `make deps` has installed the video) and the
// rendered twin intersection, rendered into dataDir/twin on first run and
// reused after.
func demoCameraFiles(ctx context.Context, samplesDir, dataDir string, log *slog.Logger) ([]*camera.File, error) {
	var files []*camera.File
	vtest := filepath.Join(samplesDir, "cameras", "vtest.yaml")
	if _, err := os.Stat(filepath.Join(samplesDir, "video", "vtest.avi")); err != nil {
		log.Warn("sample video not installed; the demo runs without the vtest camera (run `make deps`)", "missing", filepath.Join(samplesDir, "video", "vtest.avi"))
	} else {
		f, err := camera.Load(vtest)
		if err != nil {
			return nil, badInput("%v", err)
		}
		files = append(files, f)
	}
	twinCfg, err := ensureTwin(ctx, filepath.Join(dataDir, "twin"), log)
	if err != nil {
		return nil, err
	}
	f, err := camera.Load(twinCfg)
	if err != nil {
		return nil, fmt.Errorf("loading the rendered twin camera: %w", err)
	}
	return append(files, f), nil
}

// ensureTwin renders the demo intersection into dir unless a complete
// render of the current scene (twin.Stamp) is already there, and returns
// its camera config. It renders into a temporary directory and renames it,
// so an interrupted render is never mistaken for a finished one, and a
// render cached by an older version is made again.
func ensureTwin(ctx context.Context, dir string, log *slog.Logger) (string, error) {
	cfg := filepath.Join(dir, "camera.yaml")
	opt := twin.Options{Seed: twinSeed, OutDir: dir}
	want, err := twin.Stamp(opt)
	if err != nil {
		return "", err
	}
	if got, err := os.ReadFile(filepath.Join(dir, twin.StampFile)); err == nil && string(got) == want {
		return cfg, nil
	}
	if _, err := os.Stat(cfg); err == nil {
		log.Info("the cached demo intersection is from another version of the scene; rendering it again", "dir", dir)
	}
	tmp := dir + ".rendering"
	if err := os.RemoveAll(tmp); err != nil {
		return "", fmt.Errorf("clearing %s: %w", tmp, err)
	}
	log.Info("rendering the demo intersection (first run only)", "dir", dir)
	start := time.Now()
	opt.OutDir, opt.Log = tmp, log.With("part", "twin")
	res, err := twin.Render(ctx, opt)
	if err != nil {
		os.RemoveAll(tmp)
		return "", fmt.Errorf("rendering the demo intersection: %w", err)
	}
	if err := os.RemoveAll(dir); err != nil {
		return "", fmt.Errorf("replacing %s: %w", dir, err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		return "", fmt.Errorf("moving the render into %s: %w", dir, err)
	}
	log.Info("demo intersection rendered", "frames", res.Frames, "took", time.Since(start).Round(time.Millisecond), "scripted_near_misses", len(res.Scripted))
	return cfg, nil
}

// runDemoCameras runs an edge worker per camera file, replaying each file
// from the start when it ends, until ctx ends: a recorded video stands in for
// a live camera.
func runDemoCameras(ctx context.Context, files []*camera.File, b *busConn, dataDir string, log *slog.Logger) error {
	g := newGroup(ctx)
	for _, f := range files {
		g.spawn("edge "+f.Cameras[0].ID, func(ctx context.Context) error {
			for pass := 1; ; pass++ {
				err := edge.Run(ctx, f, edge.WorkerOptions{
					DataDir: dataDir, Publisher: outbox.JetStream{JS: b.js}, Pace: true,
					Logger: log.With("part", "edge"),
				})
				if ctx.Err() != nil {
					return nil
				}
				if err != nil && !errors.Is(err, context.Canceled) {
					return err
				}
				log.Info("sample video ended; replaying it", "camera", f.Cameras[0].ID, "pass", pass+1)
			}
		})
	}
	return g.wait()
}
