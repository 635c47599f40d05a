package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/term"

	"github.com/intersect-oss/intersect/edge"
	"github.com/intersect-oss/intersect/edge/camera"
	"github.com/intersect-oss/intersect/tracker/conflict"
)

// analyzeVideo is analyze's --video mode: the edge pipeline on a recorded
// video, offline, without NATS. It writes DIR/tracks.csv, DIR/tracks.mot.txt,
// DIR/conflicts.csv, DIR/summary.json and DIR/snapshots/, with a progress bar
// on stderr when stderr is a terminal.
func analyzeVideo(ctx context.Context, e env, video, cameraConfig, cameraID, model, out string, cfg conflict.Config) error {
	if cameraConfig == "" {
		return badInput("--video needs --camera CAM.yaml (the camera's calibration and zones)")
	}
	if out == "" {
		return badInput("--out is required (see --help)")
	}
	var progress io.Writer
	if f, ok := e.stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		progress = f
	}
	s, err := edge.Analyze(ctx, edge.AnalyzeOptions{
		Video: video, CameraConfig: cameraConfig, CameraID: cameraID, Model: model,
		OutDir: out, Progress: progress, Logger: e.log, Conflict: cfg,
	})
	if err != nil {
		var ie *edge.InputError
		if camera.IsConfigError(err) || errors.As(err, &ie) {
			return badInput("%v", err)
		}
		return err
	}
	fmt.Fprintf(e.stdout, "%s: %d frames at %.1f fps (detector %s, %.1f ms/frame); tracks %v; near misses %v; %d interactions; %d snapshots; wrote %s\n",
		s.Video, s.Frames, s.ProcessingFPS, s.Detector, s.DetectorMeanMS, s.TracksByClass, s.NearMissesBySeverity, s.Interactions, s.Snapshots, out)
	return nil
}
