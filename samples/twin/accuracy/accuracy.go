// Package accuracy measures the whole pipeline against exact truth, from
// pixels to TTC: it renders the twin intersection (samples/twin), runs the
// edge pipeline offline on the video (edge.Analyze) and compares what came
// out with what was drawn.
//
// What is compared, and how (every number in Report follows these rules):
//   - Detections: per frame, detector boxes against the true image boxes
//     (truth.mot.txt; boxes under MinTruthHeightPx are don't care, see
//     there), matched one-to-one by the most matches with IoU ≥ 0.5
//     (as the MOTChallenge evaluators match); recall per true class,
//     precision per detected class, and how often a matched box got the
//     true class.
//   - Tracking: MOTA, IDF1, HOTA and ID switches of tracks.mot.txt against
//     truth.mot.txt (tracker/motmetrics).
//   - Identity: the same per-frame IoU ≥ 0.5 matching between output tracks
//     and true boxes says which true road user an output track is at each
//     frame; for an encounter, an output track is the true user it matched
//     in most frames of the encounter's interval (widened by
//     MatchToleranceS), or, when it matched none there, in most of its
//     frames.
//   - Ground plane: each output trajectory row (tracks.csv) whose track
//     matched a true user in that frame is compared with the true state at
//     the same frame: position RMSE (m) and speed RMSE (m/s, magnitudes).
//   - Movements: each vehicle track summary's movement (through, left,
//     right) against the true vehicle's, judged alike from its exact
//     trajectory.
//   - Conflicts: the truth is the conflict engine on the true trajectories
//     (what the twin writes as truth_conflicts.csv). An output encounter
//     matches a true one when its two tracks are (by the identity rule
//     above) the true encounter's two users and their intervals, widened by
//     MatchToleranceS on each side, overlap; each is matched at most once,
//     closest conflict times first. Recall is the share of true near misses
//     matched by an output near miss; precision the share of output near
//     misses matched to a true near miss. Recall is also given over the
//     true near misses whose users are both in the picture (truth.mot.txt)
//     at the conflict time: the ones a camera can measure. TTC and PET errors are absolute
//     differences over every matched pair of encounters (near miss or
//     interaction) that both define the measure.
package accuracy

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/intersect-oss/intersect/edge"
	"github.com/intersect-oss/intersect/edge/detect"
	"github.com/intersect-oss/intersect/events"
	"github.com/intersect-oss/intersect/samples/twin"
	"github.com/intersect-oss/intersect/tracker/conflict"
	"github.com/intersect-oss/intersect/tracker/mot"
	"github.com/intersect-oss/intersect/tracker/motmetrics"
	"github.com/intersect-oss/intersect/tracker/trajectory"
)

// MatchToleranceS widens encounter intervals when matching output
// encounters to true ones: the pipeline's tracks start later (the tracker
// confirms them after a few frames) and its encounters open and close at
// slightly different times than the truth's.
const MatchToleranceS = 1.0

// Options choose the scene and the detector.
type Options struct {
	Seed     uint64        // twin seed (1: the demo's scene)
	Duration time.Duration // default 60 s
	FPS      float64       // default 15
	// Model is a YOLOX ONNX file; empty runs the camera's detector (the
	// motion detector, as the demo does).
	Model string
	// Dir keeps the rendered scene (Dir/scene) and the pipeline's output
	// (Dir/out); empty: a temporary directory removed afterwards.
	Dir    string
	Logger *slog.Logger // nil: silent
}

// Report is the comparison.
type Report struct {
	Seed          uint64
	DurationS     float64
	Frames        int
	Detector      string
	ProcessingFPS float64 // edge.Analyze's frames per second (wall clock)

	Detection DetectionReport
	MOT       motmetrics.Result
	Ground    GroundReport
	Movements MovementReport
	Conflicts ConflictReport
	// VehicleMovements is the pipeline's turning movement counts
	// (edge.Summary.VehicleMovements): vehicles by approach and movement.
	VehicleMovements map[string]map[string]int
}

// Measure renders the scene, runs the pipeline on it and compares.
func Measure(ctx context.Context, opt Options) (*Report, error) {
	if opt.Duration == 0 {
		opt.Duration = 60 * time.Second
	}
	if opt.FPS == 0 {
		opt.FPS = 15
	}
	log := opt.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	dir := opt.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "intersect-accuracy-")
		if err != nil {
			return nil, fmt.Errorf("accuracy: %w", err)
		}
		defer os.RemoveAll(d)
		dir = d
	}
	sceneDir, outDir := filepath.Join(dir, "scene"), filepath.Join(dir, "out")
	res, err := twin.Render(ctx, twin.Options{Seed: opt.Seed, Duration: opt.Duration, FPS: opt.FPS, OutDir: sceneDir, Log: log})
	if err != nil {
		return nil, fmt.Errorf("accuracy: rendering seed %d: %w", opt.Seed, err)
	}
	var (
		dets  [][]detect.Detection // by 0-based frame
		encs  []conflict.Encounter
		ended []edge.TrackStats
	)
	sum, err := edge.Analyze(ctx, edge.AnalyzeOptions{
		Video:        filepath.Join(sceneDir, twin.VideoFile),
		CameraConfig: filepath.Join(sceneDir, twin.CameraFile),
		Model:        opt.Model,
		OutDir:       outDir,
		Logger:       log,
		OnResult: func(r *edge.Result) {
			if len(r.Detections) > 0 {
				for len(dets) <= r.Frame {
					dets = append(dets, nil)
				}
				dets[r.Frame] = append([]detect.Detection(nil), r.Detections...)
			}
			encs = append(encs, r.Closed...)
			ended = append(ended, r.Ended...)
		},
	})
	if err != nil {
		return nil, fmt.Errorf("accuracy: analyzing %s: %w", sceneDir, err)
	}

	truthMOT, err := mot.ReadFile(filepath.Join(sceneDir, twin.MOTFile))
	if err != nil {
		return nil, fmt.Errorf("accuracy: %w", err)
	}
	outMOT, err := mot.ReadFile(filepath.Join(outDir, "tracks.mot.txt"))
	if err != nil {
		return nil, fmt.Errorf("accuracy: %w", err)
	}
	truth, err := readTrajectories(filepath.Join(sceneDir, twin.TruthFile))
	if err != nil {
		return nil, err
	}
	out, err := readTrajectories(filepath.Join(outDir, "tracks.csv"))
	if err != nil {
		return nil, err
	}
	inView := map[[2]int64]bool{}
	for _, r := range truthMOT {
		inView[[2]int64{int64(r.Frame), r.ID}] = true
	}
	truthMOT, outMOT, dets = dropDontCare(truthMOT, outMOT, dets)
	classOf := map[int64]events.Class{}
	for _, r := range truth {
		classOf[r.TrackID] = r.Class
	}

	rep := &Report{
		Seed: opt.Seed, DurationS: opt.Duration.Seconds(), Frames: sum.Frames,
		Detector: sum.Detector, ProcessingFPS: sum.ProcessingFPS,
		VehicleMovements: sum.VehicleMovements,
	}
	if rep.Detection, err = compareDetections(truthMOT, classOf, dets); err != nil {
		return nil, err
	}
	if rep.MOT, err = motmetrics.Evaluate(truthMOT, outMOT); err != nil {
		return nil, fmt.Errorf("accuracy: MOT metrics: %w", err)
	}
	ids, err := matchIdentities(truthMOT, outMOT)
	if err != nil {
		return nil, err
	}
	rep.Ground = compareGround(truth, out, ids, opt.FPS)
	rep.Movements = compareMovements(ended, trueMovements(truth, conflict.DefaultConfig().TurnThresholdDeg), ids)
	visible := func(id int64, tS float64) bool { return inView[[2]int64{int64(math.Round(tS*opt.FPS)) + 1, id}] }
	rep.Conflicts = compareConflicts(res.Encounters, encs, ids.during(opt.FPS), res.Scripted, visible)
	return rep, nil
}

func readTrajectories(path string) ([]trajectory.Row, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("accuracy: %w", err)
	}
	defer f.Close()
	rows, _, err := trajectory.Read(f, path)
	if err != nil {
		return nil, fmt.Errorf("accuracy: %w", err)
	}
	return rows, nil
}
