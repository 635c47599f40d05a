package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/intersect-oss/intersect/tracker/conflict"
	"github.com/intersect-oss/intersect/tracker/trajectory"
)

func analyzeCommand() command {
	return command{
		name:    "analyze",
		summary: "offline study: the conflict engine on a trajectory file, or the edge pipeline on a recorded video",
		run:     runAnalyze,
	}
}

// analyzeOptions are the parsed flags of analyze; each input mode reads the
// ones it needs.
type analyzeOptions struct {
	trajectories string
	out          string
	config       conflict.Config
}

func runAnalyze(ctx context.Context, e env) error {
	fs := newFlags(e, "analyze", `analyze --trajectories T.csv --out DIR [--config conflict.yaml]
       intersect analyze --video V.avi --camera CAM.yaml --out DIR [--camera-id ID] [--model M.onnx]`, `
Runs the near-miss engine offline. With --trajectories, reads a ground-plane
trajectory CSV (t_s,track_id,class,x_m,y_m,vx_mps,vy_mps,length_m,width_m,
heading_rad; empty velocities, extents and headings are estimated) and
writes DIR/conflicts.csv (one row per encounter: TTC, PET, DRAC, distance,
speeds, angle, type, severity) and DIR/summary.json (users by class, near
misses by type and severity, share suppressed by the tracking-error guard,
dropped rows and why, processing time).

With --video and --camera, runs the edge pipeline on a recorded video
instead and writes DIR/tracks.csv, DIR/tracks.mot.txt, DIR/conflicts.csv,
DIR/snapshots/ and DIR/summary.json (detections, tracks and conflicts by
class and type, turning movement counts by approach, processing speed).

--config is YAML overriding the engine's defaults (DESIGN.md): horizon_s,
near_miss_ttc_s, near_miss_pet_s, interaction_pet_s, drac_flag_mps2,
critical_s, serious_s, min_track_frames, search_radius_m, max_speed_mps,
extents, zones (name, kind: crosswalk | approach-nb|sb|eb|wb | exclusion,
polygon in metres), ...`)
	var o analyzeOptions
	fs.StringVar(&o.trajectories, "trajectories", "", "trajectory CSV to analyze")
	fs.StringVar(&o.out, "out", "", "output directory (created if missing; required)")
	configPath := fs.String("config", "", "conflict engine config, YAML (default: DESIGN.md's thresholds)")
	video := fs.String("video", "", "recorded video to run the edge pipeline on (needs --camera)")
	cameraPath := fs.String("camera", "", "camera config YAML for --video (calibration, zones, detector)")
	cameraID := fs.String("camera-id", "", "camera of --camera to use (default: the first)")
	model := fs.String("model", "", "ONNX detector model for --video (default: the camera's detector)")
	if err := parse(fs, e.args); err != nil {
		return err
	}
	if o.out == "" {
		return badInput("--out is required (see --help)")
	}
	o.config = conflict.DefaultConfig()
	if *configPath != "" {
		data, err := os.ReadFile(*configPath)
		if err != nil {
			return badInput("--config: %v", err)
		}
		if o.config, err = conflict.ParseConfig(data); err != nil {
			return badInput("--config %s: %v", *configPath, err)
		}
	}
	switch {
	case *video != "":
		return analyzeVideo(ctx, e, *video, *cameraPath, *cameraID, *model, o.out, o.config)
	case o.trajectories != "":
		return analyzeTrajectories(ctx, e, o)
	default:
		return badInput("nothing to analyze: give --trajectories or --video (see --help)")
	}
}

// analyzeTrajectories is the trajectory-file mode.
func analyzeTrajectories(ctx context.Context, e env, o analyzeOptions) error {
	s, _, err := trajectory.Analyze(ctx, o.trajectories, o.out, o.config)
	var ie *trajectory.InputError
	if errors.As(err, &ie) {
		return badInput("%v", ie.Err)
	}
	if err != nil {
		return err
	}
	w := e.stdout
	fmt.Fprintf(w, "%s: %d rows, %d frames over %.1f s; users %s\n", o.trajectories, s.Rows, s.Frames, s.DurationS, analyzeCounts(s.UsersByClass))
	for _, k := range analyzeKeys(s.DroppedRows) {
		fmt.Fprintf(w, "dropped %d rows: %s\n", s.DroppedRows[k], k)
	}
	for _, k := range analyzeKeys(s.EstimatedRows) {
		fmt.Fprintf(w, "%d rows: %s\n", s.EstimatedRows[k], k)
	}
	fmt.Fprintf(w, "%d encounters, %d near misses (%s; %s); %d with DRAC ≥ %.1f m/s²\n",
		s.Encounters, s.NearMisses, analyzeCounts(s.NearMissesBySeverity), analyzeCounts(s.NearMissesByType), s.DRACFlagged, o.config.DRACFlagMPS2)
	fmt.Fprintf(w, "tracking-error guard: %.1f%% of %d candidates suppressed (%s)\n", 100*s.SuppressedShare, s.Candidates, analyzeCounts(s.Suppressed))
	fmt.Fprintf(w, "wrote %s and %s in %.2f s (%.0f frames/s)\n",
		filepath.Join(o.out, "conflicts.csv"), filepath.Join(o.out, "summary.json"), s.ProcessingS, s.FramesPerS)
	return nil
}

// analyzeCounts renders a map as "k1 n1, k2 n2" in key order, or "none".
func analyzeCounts[K ~string, V int | int64](m map[K]V) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, string(k))
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[K(k)]))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

func analyzeKeys(m map[string]int) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
