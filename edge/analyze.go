package edge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/intersect-oss/intersect/edge/camera"
	"github.com/intersect-oss/intersect/edge/capture"
	"github.com/intersect-oss/intersect/events"
	"github.com/intersect-oss/intersect/tracker/conflict"
	"github.com/intersect-oss/intersect/tracker/mot"
	"github.com/intersect-oss/intersect/tracker/trajectory"
)

// AnalyzeOptions configure an offline study run.
type AnalyzeOptions struct {
	Video        string // recorded video; empty: the camera's source
	CameraConfig string // camera config YAML
	CameraID     string // which camera of the file; empty: the only/first one
	Model        string // ONNX model; empty: the camera's detector (motion if none)
	OutDir       string
	Progress     io.Writer // progress bar target (a terminal); nil: none
	Logger       *slog.Logger
	// Conflict overrides the conflict engine's defaults (zero: defaults).
	Conflict conflict.Config
	// MaxFrames stops after this many frames (0: the whole video); for
	// tests and quick looks.
	MaxFrames int
	// OnResult, when set, sees every frame's result and the final flush
	// as they are produced: for evaluations that need more than the files
	// hold (the raw detections with their classes).
	OnResult func(*Result)
}

// Summary is DIR/summary.json.
type Summary struct {
	Video                string                      `json:"video"`
	Camera               string                      `json:"camera"`
	Site                 string                      `json:"site"`
	Detector             string                      `json:"detector"`
	FPS                  float64                     `json:"fps"`
	Frames               int                         `json:"frames"`
	UnreadableFrames     int64                       `json:"unreadable_frames"`
	DroppedFrames        int64                       `json:"dropped_frames"` // offline runs process every frame: always 0
	ProcessingSeconds    float64                     `json:"processing_s"`
	ProcessingFPS        float64                     `json:"processing_fps"`
	DetectorMeanMS       float64                     `json:"detector_mean_ms"`
	DetectionsByClass    map[events.Class]int        `json:"detections_by_class"`
	TracksByClass        map[events.Class]int        `json:"tracks_by_class"`
	ConflictsByType      map[events.ConflictType]int `json:"conflicts_by_type"`
	NearMissesBySeverity map[events.Severity]int     `json:"near_misses_by_severity"`
	Interactions         int                         `json:"interactions"`
	// VehicleMovements counts vehicle tracks by approach and movement
	// (turning movement counts; "" where a track had no approach zone or
	// was not seen long enough to tell its movement).
	VehicleMovements map[string]map[string]int         `json:"vehicle_movements"`
	Snapshots        int                               `json:"snapshots"`
	Engine           conflict.Stats                    `json:"engine"`
	Calibration      struct{ MaxErrorM, RMSM float64 } `json:"calibration"`
}

// Analyze runs the edge pipeline on a recorded video without NATS and
// writes DIR/tracks.csv (ground-plane trajectories), DIR/tracks.mot.txt
// (image-space MOTChallenge), DIR/conflicts.csv, DIR/summary.json and
// DIR/snapshots/<encounter>.jpg. Every frame is processed (no dropping).
// Configuration and input errors are camera.Error, capture.ErrOpen or a
// model error, for the caller to map to exit 2.
func Analyze(ctx context.Context, o AnalyzeOptions) (*Summary, error) {
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	f, err := camera.Load(o.CameraConfig)
	if err != nil {
		return nil, err
	}
	cam := &f.Cameras[0]
	if o.CameraID != "" {
		if cam, err = f.Camera(o.CameraID); err != nil {
			return nil, &camera.Error{File: o.CameraConfig, Problems: []string{err.Error()}}
		}
	}
	video := o.Video
	if video == "" {
		video = cam.Source
	}
	if o.OutDir == "" {
		return nil, errors.New("analyze: an output directory is required")
	}
	rep, err := cam.Fit(0, false)
	if err != nil {
		return nil, err
	}
	src, err := capture.Open(video, capture.Options{FPS: cam.FPS, Logger: log})
	if err != nil {
		return nil, &InputError{err}
	}
	det, err := OpenDetector(ctx, cam, rep.H, o.Model, log)
	if err != nil {
		return nil, err
	}
	defer det.Close()
	log.Info("analyzing video", "video", video, "camera", cam.ID, "detector", det.Name())
	fps := src.Stats().FPS
	pipe, err := NewPipeline(cam, rep.H, det, PipelineOptions{FPS: fps, Snapshots: *cam.Privacy.Snapshots, Conflict: o.Conflict, Logger: log})
	if err != nil {
		return nil, err
	}
	defer pipe.Close()
	if err := os.MkdirAll(filepath.Join(o.OutDir, "snapshots"), 0o755); err != nil {
		return nil, fmt.Errorf("analyze: creating %s: %w", o.OutDir, err)
	}

	sum := &Summary{
		Video: video, Camera: cam.ID, Site: cam.Site, Detector: det.Name(), FPS: fps,
		DetectionsByClass: map[events.Class]int{}, TracksByClass: map[events.Class]int{},
		ConflictsByType: map[events.ConflictType]int{}, NearMissesBySeverity: map[events.Severity]int{},
		VehicleMovements: map[string]map[string]int{},
	}
	sum.Calibration.MaxErrorM, sum.Calibration.RMSM = rep.MaxM, rep.RMSM
	var (
		ground   []trajectory.Row
		motRows  []mot.Row
		encs     []conflict.Encounter
		detTotal time.Duration
		seen     = map[int64]events.Class{}
		procErr  error
	)
	total := src.Stats().TotalFrames
	if o.MaxFrames > 0 && (total == 0 || o.MaxFrames < total) {
		total = o.MaxFrames
	}
	collect := func(res *Result) error {
		if o.OnResult != nil {
			o.OnResult(res)
		}
		for _, tr := range res.Tracks {
			motRows = append(motRows, mot.Row{Frame: res.Frame + 1, ID: tr.ID, Left: tr.Box.X, Top: tr.Box.Y, Width: tr.Box.W, Height: tr.Box.H, Conf: tr.Score})
			if _, ok := seen[tr.ID]; !ok {
				seen[tr.ID] = tr.Class
				sum.TracksByClass[tr.Class]++
			}
			if tr.OnGround {
				ground = append(ground, trajectory.Row{T: tr.T, TrackID: tr.ID, Class: tr.Class,
					X: tr.X, Y: tr.Y, VX: tr.VX, VY: tr.VY, Heading: tr.HeadingRad})
			}
		}
		for _, e := range res.Closed {
			encs = append(encs, e)
			sum.ConflictsByType[e.Type]++
			if e.NearMiss() {
				sum.NearMissesBySeverity[e.Severity]++
			} else {
				sum.Interactions++
			}
		}
		for _, t := range res.Ended {
			if t.Class.Vulnerable() {
				continue
			}
			if sum.VehicleMovements[t.Approach] == nil {
				sum.VehicleMovements[t.Approach] = map[string]int{}
			}
			sum.VehicleMovements[t.Approach][t.Movement]++
		}
		for id, jpg := range res.Snapshots {
			p := filepath.Join(o.OutDir, "snapshots", fmt.Sprintf("encounter-%d.jpg", id))
			if err := os.WriteFile(p, jpg, 0o644); err != nil {
				return fmt.Errorf("analyze: writing %s: %w", p, err)
			}
			sum.Snapshots++
		}
		return nil
	}
	start := time.Now()
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	err = src.Run(runCtx, func(fr capture.Frame) {
		defer fr.Mat.Close()
		if procErr != nil {
			return
		}
		res, err := pipe.Process(fr)
		if err != nil {
			procErr = err
			stop()
			return
		}
		sum.Frames++
		detTotal += res.DetectTime
		for _, d := range res.Detections {
			sum.DetectionsByClass[d.Class]++
		}
		if err := collect(res); err != nil {
			procErr = err
			stop()
			return
		}
		if o.Progress != nil && (sum.Frames%10 == 0 || sum.Frames == total) {
			progress(o.Progress, sum.Frames, total, time.Since(start))
		}
		if o.MaxFrames > 0 && sum.Frames >= o.MaxFrames {
			stop()
		}
	})
	if procErr != nil {
		return nil, procErr
	}
	if err != nil && !errors.Is(err, io.EOF) && !(errors.Is(err, context.Canceled) && ctx.Err() == nil) {
		return nil, err
	}
	if err := collect(pipe.Flush()); err != nil {
		return nil, err
	}
	if o.Progress != nil {
		fmt.Fprintln(o.Progress)
	}
	elapsed := time.Since(start)
	sum.ProcessingSeconds = elapsed.Seconds()
	if elapsed > 0 {
		sum.ProcessingFPS = float64(sum.Frames) / elapsed.Seconds()
	}
	if sum.Frames > 0 {
		sum.DetectorMeanMS = float64(detTotal.Microseconds()) / 1000 / float64(sum.Frames)
	}
	sum.UnreadableFrames = src.Stats().BadFrames
	sum.Engine = pipe.EngineStats()

	sort.Slice(ground, func(i, j int) bool {
		if ground[i].T != ground[j].T {
			return ground[i].T < ground[j].T
		}
		return ground[i].TrackID < ground[j].TrackID
	})
	sort.Slice(encs, func(i, j int) bool { return encs[i].ID < encs[j].ID })
	writes := []struct {
		name string
		fn   func(io.Writer) error
	}{
		{"tracks.csv", func(w io.Writer) error { return trajectory.Write(w, ground) }},
		{"tracks.mot.txt", func(w io.Writer) error { return mot.Write(w, motRows) }},
		{"conflicts.csv", func(w io.Writer) error { return trajectory.WriteConflicts(w, encs) }},
		{"summary.json", func(w io.Writer) error {
			enc := json.NewEncoder(w)
			enc.SetIndent("", "  ")
			return enc.Encode(sum)
		}},
	}
	for _, wr := range writes {
		p := filepath.Join(o.OutDir, wr.name)
		fh, err := os.Create(p)
		if err != nil {
			return nil, fmt.Errorf("analyze: %w", err)
		}
		if err := wr.fn(fh); err != nil {
			fh.Close()
			return nil, fmt.Errorf("analyze: writing %s: %w", p, err)
		}
		if err := fh.Close(); err != nil {
			return nil, fmt.Errorf("analyze: writing %s: %w", p, err)
		}
	}
	log.Info("analysis done", "frames", sum.Frames, "fps", fmt.Sprintf("%.1f", sum.ProcessingFPS), "tracks", len(seen), "conflicts", len(encs), "out", o.OutDir)
	return sum, nil
}

// progress draws a one-line bar.
func progress(w io.Writer, done, total int, elapsed time.Duration) {
	fps := float64(done) / max(elapsed.Seconds(), 1e-9)
	if total <= 0 {
		fmt.Fprintf(w, "\r%d frames, %.1f fps", done, fps)
		return
	}
	const width = 30
	n := min(width, done*width/total)
	fmt.Fprintf(w, "\r[%s%s] %3d%% %d/%d frames, %.1f fps", strings.Repeat("=", n), strings.Repeat(" ", width-n), done*100/total, done, total, fps)
}
