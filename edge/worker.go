package edge

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/intersect-oss/intersect/edge/calib"
	"github.com/intersect-oss/intersect/edge/camera"
	"github.com/intersect-oss/intersect/edge/capture"
	"github.com/intersect-oss/intersect/edge/outbox"
	"github.com/intersect-oss/intersect/events"
	"github.com/intersect-oss/intersect/tracker"
)

// WorkerOptions configure live workers.
type WorkerOptions struct {
	DataDir   string           // outboxes live in DataDir/outbox/<site>/<camera>
	Publisher outbox.Publisher // where events go (JetStream in production)
	Model     string           // overrides the cameras' detector model
	// Pace delivers file sources at their frame rate, as a camera would.
	// Off, files are processed as fast as possible (tests, backfills).
	Pace bool
	// RetryMin/RetryMax bound the backoff when a camera fails at run time.
	RetryMin, RetryMax time.Duration
	Outbox             outbox.Options
	Logger             *slog.Logger
}

// Run starts one worker per camera and returns when all have stopped: at
// ctx's end, or when every camera was a file that ended. A camera that
// fails at run time is reported in its health and retried; the others keep
// running. Configuration errors (bad calibration) stop Run before anything
// starts.
func Run(ctx context.Context, f *camera.File, o WorkerOptions) error {
	var ws []*Worker
	for i := range f.Cameras {
		w, err := NewWorker(&f.Cameras[i], o)
		if err != nil {
			return err
		}
		ws = append(ws, w)
	}
	var wg sync.WaitGroup
	errs := make([]error, len(ws))
	for i, w := range ws {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = w.Run(ctx)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Worker runs one camera.
type Worker struct {
	cam  *camera.Camera
	opts WorkerOptions
	log  *slog.Logger
	h    tracker.Homography
	proj calib.Projection
	ob   *outbox.Outbox

	mu         sync.Mutex
	status     events.CameraStatus
	lastErr    string
	detector   string
	latencies  []time.Duration // ring of recent detector latencies
	latNext    int
	framesIn   int64 // since the last health report
	framesOut  int64
	totalIn    int64
	lastHealth time.Time
	lastFrame  time.Time
	active     int
	suppressed float64
	reconnects int
	dropped    int64
	// droppedAtHealth is dropped at the last health report.
	droppedAtHealth int64
	src             *capture.Source
}

// NewWorker checks the camera's calibration and opens its outbox.
func NewWorker(cam *camera.Camera, o WorkerOptions) (*Worker, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.RetryMin <= 0 {
		o.RetryMin = time.Second
	}
	if o.RetryMax <= 0 {
		o.RetryMax = time.Minute
	}
	if o.Publisher == nil {
		return nil, errors.New("edge worker: a publisher is required")
	}
	rep, err := cam.Fit(0, false)
	if err != nil {
		return nil, err
	}
	log := o.Logger.With("site", cam.Site, "camera", cam.ID)
	oo := o.Outbox
	oo.Logger = log
	ob, err := outbox.Open(filepath.Join(o.DataDir, "outbox", cam.Site, cam.ID), oo)
	if err != nil {
		return nil, err
	}
	return &Worker{cam: cam, opts: o, log: log, h: rep.H, proj: cam.Projection(), ob: ob, status: events.CameraOK, lastHealth: time.Now(), latencies: make([]time.Duration, 0, 256)}, nil
}

// Outbox exposes the worker's outbox (tests, health).
func (w *Worker) Outbox() *outbox.Outbox { return w.ob }

// Run processes the camera until ctx ends (or a file source ends), then
// drains the outbox for up to 10 s; what is left stays on disk.
func (w *Worker) Run(ctx context.Context) error {
	pubCtx, stopPub := context.WithCancel(context.WithoutCancel(ctx))
	pubDone := make(chan struct{})
	go func() { defer close(pubDone); _ = w.ob.Run(pubCtx, w.opts.Publisher) }()
	healthDone := make(chan struct{})
	hctx, stopHealth := context.WithCancel(ctx)
	go func() { defer close(healthDone); w.healthLoop(hctx) }()

	err := w.runWithRetry(ctx)
	stopHealth()
	<-healthDone
	w.emitHealth() // the final state: ended, or still ok at shutdown
	stopPub()
	<-pubDone
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if derr := w.ob.Drain(dctx, w.opts.Publisher); derr != nil {
		w.log.Warn("outbox not fully drained at shutdown; it is kept on disk", "err", derr)
	}
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

func (w *Worker) setStatus(s events.CameraStatus, err error) {
	w.mu.Lock()
	w.status = s
	if err != nil {
		w.lastErr = err.Error()
	} else {
		w.lastErr = ""
	}
	w.mu.Unlock()
}

// runWithRetry runs the camera, retrying run-time failures with capped
// exponential backoff. Config errors (a bad model file) are not retried.
func (w *Worker) runWithRetry(ctx context.Context) error {
	delay := w.opts.RetryMin
	for {
		err := w.runOnce(ctx)
		switch {
		case err == nil:
			w.setStatus(events.CameraEnded, nil)
			return nil
		case ctx.Err() != nil:
			return ctx.Err()
		case camera.IsConfigError(err):
			w.setStatus(events.CameraDown, err)
			return err
		}
		w.setStatus(events.CameraDown, err)
		w.mu.Lock()
		w.reconnects++
		w.mu.Unlock()
		w.log.Error("camera failed; retrying", "err", err, "retry_in", delay)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
		delay = min(delay*2, w.opts.RetryMax)
	}
}

// runOnce opens the source and detector and processes frames until the
// source ends (nil), ctx ends, or something fails.
func (w *Worker) runOnce(ctx context.Context) error {
	src, err := capture.Open(w.cam.Source, capture.Options{FPS: w.cam.FPS, Pace: w.opts.Pace, Logger: w.log})
	if err != nil {
		return err
	}
	det, err := OpenDetector(ctx, w.cam, w.h, w.opts.Model, w.log)
	if err != nil {
		return err
	}
	defer det.Close()
	w.log.Info("camera worker running", "detector", det.Name(), "source", w.cam.Source)
	fps := w.cam.FPS
	if fps <= 0 {
		fps = 25
	}
	pipe, err := NewPipeline(w.cam, w.h, det, PipelineOptions{FPS: fps, Snapshots: *w.cam.Privacy.Snapshots, Logger: w.log})
	if err != nil {
		return err
	}
	defer pipe.Close()
	w.mu.Lock()
	w.detector, w.src = det.Name(), src
	w.status = events.CameraOK
	w.mu.Unlock()

	q := capture.NewQueue(w.cam.QueueLen)
	defer q.Discard()
	capCtx, stopCap := context.WithCancel(ctx)
	defer stopCap()
	capErr := make(chan error, 1)
	go func() {
		err := src.Run(capCtx, func(f capture.Frame) {
			w.mu.Lock()
			w.framesIn++
			w.totalIn++
			w.lastFrame = time.Now()
			w.mu.Unlock()
			if !w.opts.Pace && capture.KindOf(w.cam.Source) == capture.File {
				// A file processed as fast as possible must not drop:
				// wait for room rather than overwrite.
				for q.Len() >= w.cam.QueueLen && capCtx.Err() == nil {
					time.Sleep(time.Millisecond)
				}
			}
			q.Push(f)
		})
		q.Close()
		capErr <- err
	}()
	var origin time.Time
	for {
		f, ok := q.Pop(ctx)
		if !ok {
			break
		}
		if origin.IsZero() {
			origin = f.Time.Add(-f.PTS)
		}
		res, err := pipe.Process(f)
		f.Mat.Close()
		if err != nil {
			return err
		}
		w.record(res, pipe, q)
		if err := w.emit(res, origin); err != nil {
			return err
		}
	}
	if ctx.Err() != nil {
		_ = w.emit(pipe.Flush(), origin)
		return ctx.Err()
	}
	if err := w.emit(pipe.Flush(), origin); err != nil {
		return err
	}
	if err := <-capErr; err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

func (w *Worker) record(res *Result, pipe *Pipeline, q *capture.Queue) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.framesOut++
	if len(w.latencies) < cap(w.latencies) {
		w.latencies = append(w.latencies, res.DetectTime)
	} else {
		w.latencies[w.latNext] = res.DetectTime
		w.latNext = (w.latNext + 1) % len(w.latencies)
	}
	w.active = pipe.ActiveTracks()
	w.suppressed = pipe.EngineStats().SuppressedShare()
	w.dropped = q.Dropped()
}

// emit turns a frame's results into events in the outbox: each near miss's
// snapshot first (so the key resolves by the time the event is read), then
// the near miss; then ended tracks.
func (w *Worker) emit(res *Result, origin time.Time) error {
	at := func(s float64) time.Time { return origin.Add(time.Duration(s * float64(time.Second))) }
	toLL := func(x, y float64) (float64, float64) { ll := w.proj.ToLatLng(x, y); return ll.Lat, ll.Lng }
	for _, e := range res.Closed {
		nm := e.ToNearMiss(events.NewHeader(events.KindNearMiss, w.cam.Site, w.cam.ID, at(e.TimeS)), origin, toLL)
		if nm == nil {
			continue
		}
		if jpg, ok := res.Snapshots[e.ID]; ok {
			nm.SnapshotKey = nm.ID
			if err := w.ob.Put(outbox.SnapshotSubject, nm.ID, outbox.KindSnapshot, jpg); err != nil {
				return err
			}
		}
		if err := w.put(nm); err != nil {
			return err
		}
	}
	for _, s := range res.Ended {
		ts := &events.TrackSummary{
			Header: events.NewHeader(events.KindTrack, w.cam.Site, w.cam.ID, at(s.LastT)),
			Track:  s.ID, Class: s.Class, Start: at(s.FirstT).UTC(), End: at(s.LastT).UTC(), Frames: s.Frames,
			DistanceM: s.DistanceM, Approach: s.Approach, Movement: s.Movement, Crosswalk: s.Crosswalk,
		}
		if d := s.LastT - s.FirstT; d > 0 {
			ts.MeanSpeedMPS = s.DistanceM / d
		}
		if err := w.put(ts); err != nil {
			return err
		}
	}
	return nil
}

func (w *Worker) put(ev events.Event) error {
	data, err := events.Encode(ev)
	if err != nil {
		w.log.Error("event failed validation; not sent", "err", err)
		return nil // a bug in one event must not stop the camera
	}
	h := ev.Head()
	return w.ob.Put(events.Subject(ev), h.ID, h.Kind, data)
}

func (w *Worker) healthLoop(ctx context.Context) {
	t := time.NewTicker(w.cam.HealthInterval())
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			w.emitHealth()
		}
	}
}

// Health builds the camera's health report now.
func (w *Worker) Health() *events.CameraHealth {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := time.Now()
	h := &events.CameraHealth{
		Header:         events.NewHeader(events.KindHealth, w.cam.Site, w.cam.ID, now),
		Status:         w.status,
		Detector:       w.detector,
		FramesIn:       w.framesIn,
		FramesDropped:  w.dropped,
		LastFrame:      w.lastFrame,
		ActiveTracks:   w.active,
		Error:          w.lastErr,
		Reconnects:     w.reconnects,
		SuppressedRate: w.suppressed,
	}
	if w.src != nil {
		st := w.src.Stats()
		h.Reconnects += int(st.Reconnects)
		if st.Down && h.Status == events.CameraOK {
			h.Status, h.Error = events.CameraDown, st.LastError
		}
	}
	if !w.lastHealth.IsZero() {
		if sec := now.Sub(w.lastHealth).Seconds(); sec > 0 {
			h.FPSIn = float64(w.framesIn) / sec
			h.FPSOut = float64(w.framesOut) / sec
		}
	}
	framesIn, dropped := w.framesIn, w.dropped-w.droppedAtHealth
	w.framesIn, w.framesOut, w.lastHealth, w.droppedAtHealth = 0, 0, now, w.dropped
	h.FramesIn = w.totalIn
	if len(w.latencies) > 0 {
		l := append([]time.Duration(nil), w.latencies...)
		sort.Slice(l, func(i, j int) bool { return l[i] < l[j] })
		h.DetectorP50 = l[len(l)*50/100]
		h.DetectorP95 = l[min(len(l)-1, len(l)*95/100)]
	}
	obs := w.ob.Stats()
	h.OutboxEvents, h.OutboxOldest = obs.Events, obs.Oldest
	// Degraded: this interval dropped more than 1 % of its frames (the
	// detector cannot keep up), or events wait in the outbox. A frame
	// dropped once, long ago, is not a state.
	if h.Status == events.CameraOK && (dropped*100 > framesIn || obs.Oldest > time.Minute) {
		h.Status = events.CameraDegraded
	}
	return h
}

func (w *Worker) emitHealth() {
	if err := w.put(w.Health()); err != nil {
		w.log.Error("writing health to the outbox", "err", fmt.Errorf("camera %s: %w", w.cam.ID, err))
	}
}
