package tracker

import (
	"fmt"
	"math"

	"github.com/intersect-oss/intersect/events"
)

// State is where a track is in its lifecycle:
// Tentative → Confirmed ⇄ Lost → Removed (a tentative track that misses a
// frame is removed at once).
type State int

const (
	Tentative State = iota // seen, not yet MinHits times in a row
	Confirmed              // matched in this frame, after MinHits hits
	Lost                   // confirmed once, not matched for 1..MaxAge frames
	Removed                // gone for good; its ID is never reused
)

func (s State) String() string {
	switch s {
	case Tentative:
		return "tentative"
	case Confirmed:
		return "confirmed"
	case Lost:
		return "lost"
	case Removed:
		return "removed"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// Vec2 is a 2-D vector.
type Vec2 struct{ X, Y float64 }

// Track is what the tracker knows about one road user after a frame.
type Track struct {
	ID              int64        // unique within one Tracker, from 1, never reused
	Box                          // filtered box, pixels
	Class           events.Class // class of the first detection; never changes
	Score           float64      // score of the last matched detection
	State           State
	Hits            int  // frames matched in total
	Age             int  // frames since the track was born
	TimeSinceUpdate int  // frames since the last match (0: matched this frame)
	Velocity        Vec2 // box-centre velocity, pixels per frame
}

// Config holds the tracker's parameters. DefaultConfig documents the
// defaults; the zero Config is not usable.
type Config struct {
	// HighScore splits detections: those scoring ≥ HighScore are matched
	// first and may start tracks; those in [LowScore, HighScore) are only used
	// to keep existing tracks alive (ByteTrack's second stage).
	HighScore float64
	LowScore  float64
	// NewTrackScore is the minimum score of an unmatched detection that
	// starts a new track.
	NewTrackScore float64
	// MatchIoU is the minimum IoU between a track's predicted box and a
	// high-score detection for them to match; LowMatchIoU the same for the
	// low-score stage (stricter: weak detections are often false), and
	// TentativeMatchIoU for tentative tracks (unconfirmed, no reliable
	// velocity yet).
	MatchIoU, LowMatchIoU, TentativeMatchIoU float64
	// MinHits is the number of consecutive matches that confirms a track.
	MinHits int
	// MaxAge is how many frames a lost track is kept for re-identification
	// by motion before it is removed.
	MaxAge int
	// Kalman noise, as fractions of the box width (x, w) or height (y, h):
	// process noise of position and velocity per frame, measurement noise.
	StdPosition, StdVelocity, StdMeasurement float64
	// IoUBuffer enlarges both boxes by this fraction of their width and
	// height on every side before computing the association IoU (the
	// "buffered IoU" of C-BIoU, Yang et al. 2023): at low frame rates a road
	// user moves more than its own width between frames and plain IoU of the
	// prediction drops to zero. Reported boxes are never enlarged.
	IoUBuffer float64
	// LostVelocityDecay multiplies a lost track's velocity each frame it is
	// not seen, so that a coasting prediction does not run away.
	LostVelocityDecay float64
}

// DefaultConfig returns the parameters tuned on the MOT15 public detections
// (Faster R-CNN, already cut at score 0.5), on the combined MOTA + IDF1 of
// the two sequences with ground truth (see bench_test.go):
//
//   - HighScore 0.8, NewTrackScore 0.8, LowScore 0.1: detections between
//     0.5 and 0.8 only keep existing tracks alive; with another detector,
//     put HighScore where its false positives become rare.
//   - MatchIoU 0.2, LowMatchIoU 0.5, TentativeMatchIoU 0.3 (ByteTrack's
//     gates), computed on boxes buffered by IoUBuffer 0.7, which is what
//     carries tracks across the large jumps of 7–14 fps video.
//   - MinHits 3 consecutive matches to confirm; MaxAge 90 frames (3 s at
//     30 fps; ConfigForFPS scales it to the camera's rate).
//   - Kalman noise as ByteTrack: 1/20 of the box size for position and
//     measurement, 1/160 for velocity, per frame.
func DefaultConfig() Config {
	return Config{
		HighScore:         0.8,
		LowScore:          0.1,
		NewTrackScore:     0.8,
		MatchIoU:          0.2,
		LowMatchIoU:       0.5,
		TentativeMatchIoU: 0.3,
		MinHits:           3,
		MaxAge:            90,
		StdPosition:       1.0 / 20,
		StdVelocity:       1.0 / 160,
		StdMeasurement:    1.0 / 20,
		IoUBuffer:         0.7,
		LostVelocityDecay: 1,
	}
}

// Validate reports the first parameter out of range.
func (c Config) Validate() error {
	unit := func(name string, v float64) error {
		if !(v >= 0 && v <= 1) {
			return fmt.Errorf("tracker config: %s = %v, want a value in [0, 1]", name, v)
		}
		return nil
	}
	for _, f := range []struct {
		name string
		v    float64
	}{
		{"HighScore", c.HighScore}, {"LowScore", c.LowScore}, {"NewTrackScore", c.NewTrackScore},
		{"MatchIoU", c.MatchIoU}, {"LowMatchIoU", c.LowMatchIoU}, {"TentativeMatchIoU", c.TentativeMatchIoU},
		{"LostVelocityDecay", c.LostVelocityDecay}, {"IoUBuffer", c.IoUBuffer},
	} {
		if err := unit(f.name, f.v); err != nil {
			return err
		}
	}
	if c.LowScore > c.HighScore {
		return fmt.Errorf("tracker config: LowScore %v above HighScore %v", c.LowScore, c.HighScore)
	}
	if c.MinHits < 1 {
		return fmt.Errorf("tracker config: MinHits = %d, want ≥ 1", c.MinHits)
	}
	if c.MaxAge < 0 {
		return fmt.Errorf("tracker config: MaxAge = %d, want ≥ 0", c.MaxAge)
	}
	for _, v := range []float64{c.StdPosition, c.StdVelocity, c.StdMeasurement} {
		if !(v > 0) || math.IsInf(v, 0) {
			return fmt.Errorf("tracker config: Kalman standard deviations must be positive, got %v", v)
		}
	}
	return nil
}

// track is the tracker's private state for one road user.
type track struct {
	Track
	kf      boxFilter
	streak  int // consecutive matches
	matched bool
}

// Tracker follows boxes from frame to frame. It is not safe for concurrent
// use: one Tracker per camera, Update called once per frame in order.
type Tracker struct {
	cfg    Config
	noise  noise
	tracks []*track // live tracks, ascending ID
	nextID int64
	frame  int
}

// New returns a tracker with cfg. New does not check cfg: call
// cfg.Validate first when it comes from a user or a file.
func New(cfg Config) *Tracker {
	return &Tracker{
		cfg:    cfg,
		noise:  noise{pos: cfg.StdPosition, vel: cfg.StdVelocity, meas: cfg.StdMeasurement},
		nextID: 1,
	}
}

// Update advances the tracker by one frame with that frame's detections and
// returns the confirmed tracks matched in this frame, in ascending ID order.
// Detections with non-finite or non-positive sizes, or scores below
// LowScore, are ignored. The result is a fresh slice the caller may keep.
func (t *Tracker) Update(dets []Detection) []Track {
	t.frame++
	cfg := t.cfg
	for _, tr := range t.tracks {
		if tr.State == Lost {
			tr.kf.c[0].v *= cfg.LostVelocityDecay
			tr.kf.c[1].v *= cfg.LostVelocityDecay
			// Sizes stop changing while unseen (ByteTrack does the same).
			tr.kf.c[2].v, tr.kf.c[3].v = 0, 0
		}
		tr.kf.predict(t.noise)
		tr.matched = false
		tr.Age++
		tr.TimeSinceUpdate++
	}

	var high, low []int
	for i, d := range dets {
		if !usable(d) || d.Score < cfg.LowScore {
			continue
		}
		if d.Score >= cfg.HighScore {
			high = append(high, i)
		} else {
			low = append(low, i)
		}
	}

	var active, tentative []*track
	for _, tr := range t.tracks {
		if tr.State == Tentative {
			tentative = append(tentative, tr)
		} else {
			active = append(active, tr)
		}
	}

	// Stage 1: confirmed and lost tracks against high-score detections.
	restTracks, restHigh := t.associate(active, dets, high, cfg.MatchIoU)
	// Stage 2: tracks still in view (not lost) against low-score detections.
	var inView []*track
	for _, tr := range restTracks {
		if tr.State == Confirmed {
			inView = append(inView, tr)
		}
	}
	t.associate(inView, dets, low, cfg.LowMatchIoU)
	// Stage 3: tentative tracks against the high-score leftovers.
	_, newDets := t.associate(tentative, dets, restHigh, cfg.TentativeMatchIoU)

	// Lifecycle.
	live := t.tracks[:0]
	for _, tr := range t.tracks {
		switch {
		case tr.matched:
			tr.TimeSinceUpdate = 0
			if tr.State == Tentative && tr.streak < cfg.MinHits {
				break
			}
			tr.State = Confirmed
		case tr.State == Tentative:
			tr.State = Removed
		case tr.TimeSinceUpdate > cfg.MaxAge:
			tr.State = Removed
		default:
			tr.State = Lost
		}
		if tr.State != Removed {
			live = append(live, tr)
		}
	}
	clear(t.tracks[len(live):])
	t.tracks = live

	// New tracks from unmatched confident detections.
	for _, i := range newDets {
		d := dets[i]
		if d.Score < cfg.NewTrackScore {
			continue
		}
		tr := &track{kf: newBoxFilter(d.Box, t.noise), streak: 1}
		tr.ID = t.nextID
		t.nextID++
		tr.Class = d.Class
		tr.Score = d.Score
		tr.Hits = 1
		tr.Age = 1
		tr.State = Tentative
		// MinHits 1, or the very first frame (no history to wait for):
		// confirm at once, as ByteTrack does on frame 1.
		if cfg.MinHits <= 1 || t.frame == 1 {
			tr.State = Confirmed
		}
		t.tracks = append(t.tracks, tr)
	}

	var out []Track
	for _, tr := range t.tracks {
		tr.sync()
		if tr.State == Confirmed && tr.TimeSinceUpdate == 0 {
			out = append(out, tr.Track)
		}
	}
	return out
}

// Tracks returns every live track (tentative, confirmed and lost) in
// ascending ID order, with their current filtered boxes (predicted for lost
// tracks).
func (t *Tracker) Tracks() []Track {
	out := make([]Track, len(t.tracks))
	for i, tr := range t.tracks {
		out[i] = tr.Track
	}
	return out
}

// Frame returns the number of Update calls so far.
func (t *Tracker) Frame() int { return t.frame }

// sync copies the filter state into the public fields.
func (tr *track) sync() {
	tr.Box = tr.kf.box()
	tr.Velocity = Vec2{tr.kf.c[0].v, tr.kf.c[1].v}
}

func usable(d Detection) bool {
	for _, v := range [...]float64{d.X, d.Y, d.W, d.H, d.Score} {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return false
		}
	}
	return d.W > 0 && d.H > 0
}

// buffer enlarges b by f times its size on every side.
func buffer(b Box, f float64) Box {
	if f == 0 {
		return b
	}
	return Box{X: b.X - f*b.W, Y: b.Y - f*b.H, W: b.W * (1 + 2*f), H: b.H * (1 + 2*f)}
}

// associate matches tracks to dets[idx] by IoU of the predicted box, only
// within a class and at IoU ≥ minIoU, maximising the summed IoU margin.
// Matched tracks are updated; it returns the unmatched tracks and detection
// indices, in their input order.
func (t *Tracker) associate(tracks []*track, dets []Detection, idx []int, minIoU float64) ([]*track, []int) {
	if len(tracks) == 0 || len(idx) == 0 {
		return tracks, idx
	}
	cost := make([][]float64, len(tracks))
	for i, tr := range tracks {
		cost[i] = make([]float64, len(idx))
		pred := buffer(tr.kf.box(), t.cfg.IoUBuffer)
		for j, k := range idx {
			cost[i][j] = math.NaN()
			if dets[k].Class != tr.Class {
				continue
			}
			if iou := IoU(pred, buffer(dets[k].Box, t.cfg.IoUBuffer)); iou >= minIoU && iou > 0 {
				cost[i][j] = 1 - iou
			}
		}
	}
	// Costs are finite or NaN and the gate admits 1−minIoU itself.
	ms, err := MatchMaxWeight(cost, math.Nextafter(1-minIoU, 2))
	if err != nil {
		// Unreachable: the matrix is rectangular and NaNs are gated out
		// before the solver sees them.
		panic(fmt.Sprintf("tracker: association: %v", err))
	}
	trackUsed := make([]bool, len(tracks))
	detUsed := make([]bool, len(idx))
	for _, m := range ms {
		tr, d := tracks[m.Row], dets[idx[m.Col]]
		tr.kf.update(d.Box, t.noise)
		tr.Score = d.Score
		tr.Hits++
		if tr.TimeSinceUpdate == 1 {
			tr.streak++
		} else {
			tr.streak = 1
		}
		tr.matched = true
		trackUsed[m.Row] = true
		detUsed[m.Col] = true
	}
	var restT []*track
	for i, tr := range tracks {
		if !trackUsed[i] {
			restT = append(restT, tr)
		}
	}
	var restD []int
	for j, k := range idx {
		if !detUsed[j] {
			restD = append(restD, k)
		}
	}
	return restT, restD
}

// MaxLostSeconds is how long DefaultConfig-derived configs keep a lost track
// (ConfigForFPS turns it into frames).
const MaxLostSeconds = 3.0

// ConfigForFPS returns DefaultConfig with MaxAge set to MaxLostSeconds at
// the given frame rate (at least one frame), so that a lost road user is
// kept for the same time whatever the camera's rate. fps ≤ 0 or NaN returns
// DefaultConfig unchanged.
func ConfigForFPS(fps float64) Config {
	c := DefaultConfig()
	if fps > 0 && !math.IsInf(fps, 0) {
		c.MaxAge = max(1, int(math.Round(MaxLostSeconds*fps)))
	}
	return c
}
