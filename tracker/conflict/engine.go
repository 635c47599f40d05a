// Package conflict is the near-miss engine: it takes the ground-plane states
// of road users frame by frame (online, from the edge worker) or from a whole
// trajectory file (offline, `intersect analyze`) and measures, for every pair
// that comes close, the surrogate safety measures the field uses: TTC under
// constant-velocity prediction with the users' extents, PET over the conflict
// area where their paths cross, DRAC for the vehicle, minimum distance,
// speeds, conflict angle, conflict type and severity. It reports encounters
// as they close; a tracking-error guard keeps conflicts caused by young
// tracks, ID switches and implausible motion out, and counts them.
//
// Geometry choices (documented here because every number depends on them):
//   - Road users are oriented rectangles (length along the heading, width
//     across). TTC is the first time the two rectangles, each moving at its
//     current velocity without rotating, overlap; it is computed exactly by
//     a separating-axis sweep (see sweep). Within the horizon only.
//   - The conflict area for PET is the overlap of the two corridors the users
//     sweep where their centre paths cross: a parallelogram of the two
//     widths, along the two directions of travel at the crossing. A user
//     occupies it while its rectangle overlaps it; PET is the time from the
//     first user's exit to the second user's entry (0 when both occupy it at
//     once).
//   - DRAC = v²/(2·d) with d = v·TTC the distance left under constant
//     velocity, i.e. v/(2·TTC), where v is the speed the vehicle has to shed:
//     its own speed in crossing and pedestrian conflicts (it must stop short
//     of the conflict, Archer 2005), the speed difference in rear-end
//     conflicts (Cooper & Ferguson 1976). Undefined at TTC 0.
//   - min_distance_m is the minimum centre-to-centre distance.
//   - Turning vehicles: constant velocity takes a turning vehicle off its
//     arc; a collision predicted later than √(width / (v·|ω|)) (when the
//     straight line has left the arc by half the width) is not counted
//     (see predictionLimit). PET, measured on the paths actually driven,
//     covers those conflicts.
//   - Footprints already overlapping when a pair is first examined, never
//     seen closing in, are not a collision course (parked cars with box
//     jitter); see examine.
//   - A vehicle–VRU conflict is in a crosswalk when its conflict point, or
//     the VRU at the conflict time, is in a crosswalk zone; the vehicle's
//     movement is judged once it has driven on (Config.TypeClearM).
//
// Coordinates: a right-handed ground frame in metres (x east, y north), so
// headings grow counter-clockwise and a left turn is a positive heading
// change.
package conflict

import (
	"math"
	"sort"

	"github.com/intersect-oss/intersect/events"
)

// Observation is one road user's ground-plane state at one instant.
type Observation struct {
	T        float64 // s, since the start of the stream
	TrackID  int64
	Class    events.Class
	X, Y     float64 // m
	VX, VY   float64 // m/s
	Length   float64 // m; 0 = default for the class
	Width    float64 // m; 0 = default for the class
	Heading  float64 // rad, counter-clockwise from +x
	Frames   int     // age of the track in frames
	IDSwitch bool    // the tracker may have given this ID to a different user at this frame
}

// guard flags say why a state may not take part in a conflict.
type guard uint8

const (
	guardYoung guard = 1 << iota
	guardIDSwitch
	guardSpeed
	guardAccel
)

// GuardReasons names the tracking-error guard's reasons, in Stats.Suppressed.
var GuardReasons = []string{"young track", "id switch", "implausible speed", "implausible acceleration"}

func (g guard) reason() string {
	for i := range GuardReasons {
		if g&(1<<i) != 0 {
			return GuardReasons[i]
		}
	}
	return ""
}

type sample struct {
	t                      float64
	p, v                   vec
	heading, length, width float64
	g                      guard
	swerve                 bool // its own acceleration was implausible (g may only inherit guardAccel)
}

type track struct {
	id       int64
	class    events.Class
	hist     []sample // time-ordered, trimmed to Config.HistoryS
	cur      sample
	box      convex // cur's footprint
	lastSeen float64
	cell     cellKey // last path-index cell visited
	hasCell  bool
}

type cellKey struct{ x, y int32 }

type visit struct {
	id  int64
	t   float64
	dir vec // direction of travel through the cell
}

type pairKey struct{ a, b int64 } // a < b

// Stats counts the engine's work and the guard's decisions since it started.
type Stats struct {
	Steps         int64 `json:"steps"`
	Observations  int64 `json:"observations"`
	Invalid       int64 `json:"invalid_observations"` // non-finite states, ignored
	PairsExamined int64 `json:"pairs_examined"`       // pairs within the search radius, per step
	TTCPairs      int64 `json:"ttc_pairs"`            // of those, on a collision course within the horizon
	// OverlapFirstSight counts pair-steps whose footprints overlapped
	// without the pair ever having been seen closing in: not conflicts.
	OverlapFirstSight int64 `json:"overlap_first_sight"`
	// TurnLimited counts pair-steps whose collision was predicted beyond
	// where a turning vehicle's straight-line prediction holds.
	TurnLimited int64 `json:"turn_limited"`
	// Candidates are closed encounters that met a reporting threshold
	// before the guard: Reported + sum(Suppressed) + Excluded.
	Candidates int64            `json:"candidates"`
	Reported   int64            `json:"reported"`
	NearMisses int64            `json:"near_misses"`
	Suppressed map[string]int64 `json:"suppressed"` // by guard reason
	Excluded   int64            `json:"excluded"`   // located in an exclusion zone
}

// SuppressedShare is the share of candidates the tracking-error guard dropped.
func (s Stats) SuppressedShare() float64 {
	var n int64
	for _, v := range s.Suppressed {
		n += v
	}
	if s.Candidates == 0 {
		return 0
	}
	return float64(n) / float64(s.Candidates)
}

// Engine measures conflicts between road users. It is not safe for
// concurrent use: one engine per camera.
type Engine struct {
	cfg    Config
	tracks map[int64]*track
	open   map[pairKey]*pairState
	paths  map[cellKey][]visit
	grid   map[cellKey][]*track // proximity grid, rebuilt every step
	// petUsed remembers, per pair, the second-entry times of crossings
	// already measured, so that an encounter re-opened while a slow user
	// is still near the crossing does not report the same PET again.
	petUsed map[pairKey][]float64
	held    []held // closed vehicle–VRU encounters waiting to be typed
	// scratch for postEncroachment
	blocksA, blocksB []block
	seen             []*track
	now              float64
	nextID           int64
	stats            Stats
}

// NewEngine returns an engine with cfg; call cfg.Validate first when cfg
// comes from a user.
func NewEngine(cfg Config) *Engine {
	return &Engine{
		cfg:     cfg,
		tracks:  map[int64]*track{},
		open:    map[pairKey]*pairState{},
		paths:   map[cellKey][]visit{},
		grid:    map[cellKey][]*track{},
		petUsed: map[pairKey][]float64{},
		stats:   Stats{Suppressed: map[string]int64{}},
	}
}

// Stats returns a copy of the counters.
func (e *Engine) Stats() Stats {
	s := e.stats
	s.Suppressed = make(map[string]int64, len(e.stats.Suppressed))
	for k, v := range e.stats.Suppressed {
		s.Suppressed[k] = v
	}
	return s
}

func finite(vs ...float64) bool {
	for _, v := range vs {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return false
		}
	}
	return true
}

// Step takes the states of one frame (all at the same time, or nearly) and
// returns the encounters completed at this step, in ID order: those that
// closed now, and vehicle–VRU encounters closed earlier and held until the
// vehicle's movement could be judged (Config.TypeClearM, TypeMaxWaitS). An
// empty frame does not advance the engine's clock.
func (e *Engine) Step(obs []Observation) []Encounter {
	if len(obs) == 0 {
		return nil
	}
	e.stats.Steps++
	for _, o := range obs {
		if o.T > e.now || e.stats.Steps == 1 {
			e.now = o.T
		}
	}
	e.seen = e.seen[:0]
	for i := range obs {
		e.observe(&obs[i])
	}
	e.proximity()
	out := e.release(false)
	out = append(out, e.closeIdle(e.now-e.cfg.CloseAfterS, false)...)
	e.expire()
	return out
}

// Flush closes every open encounter and releases every held one (end of
// file or stream): movements are judged on the history there is.
func (e *Engine) Flush() []Encounter {
	out := e.release(true)
	return append(out, e.closeIdle(math.Inf(1), true)...)
}

func (e *Engine) observe(o *Observation) {
	e.stats.Observations++
	if !finite(o.T, o.X, o.Y, o.VX, o.VY, o.Length, o.Width, o.Heading) || !o.Class.Valid() {
		e.stats.Invalid++
		return
	}
	tr := e.tracks[o.TrackID]
	if tr != nil && (o.IDSwitch || tr.class != o.Class) {
		// Everything measured with the old identity stays with it: open
		// encounters are marked so they cannot become conflicts, and the
		// path history restarts so PET never joins two people's paths.
		for k, ps := range e.open {
			if k.a == o.TrackID || k.b == o.TrackID {
				ps.crossSwitch = true
			}
		}
		tr.hist = tr.hist[:0]
		tr.class = o.Class
		tr.hasCell = false
	}
	if tr == nil {
		tr = &track{id: o.TrackID, class: o.Class}
		e.tracks[o.TrackID] = tr
	}
	ext := e.cfg.Extents[o.Class]
	s := sample{t: o.T, p: vec{o.X, o.Y}, v: vec{o.VX, o.VY}, heading: o.Heading, length: o.Length, width: o.Width}
	if s.length <= 0 {
		s.length = ext.LengthM
	}
	if s.width <= 0 {
		s.width = ext.WidthM
	}
	if o.Frames < e.cfg.MinTrackFrames {
		s.g |= guardYoung
	}
	if o.IDSwitch {
		s.g |= guardIDSwitch
	}
	if s.v.norm() > e.cfg.MaxSpeedMPS[o.Class] {
		s.g |= guardSpeed
	}
	// Acceleration over a window, not between frames: frame-to-frame
	// velocity differences are dominated by tracking jitter. Every sample
	// from 0.6 windows back to the first one a window back is compared, so
	// that a swerve and back (two road users merged into one blob for a
	// few frames) is caught, not only a lasting change; and a track stays
	// guarded for a window after it last moved implausibly, since the
	// swerve's way back looks plausible on its own.
	for i := len(tr.hist) - 1; i >= 0; i-- {
		h := &tr.hist[i]
		dt := o.T - h.t
		if h.swerve && dt < e.cfg.AccelWindowS {
			s.g |= guardAccel
		}
		if dt >= 0.6*e.cfg.AccelWindowS && s.v.sub(h.v).norm()/dt > e.cfg.MaxAccelMPS2[o.Class] {
			s.g |= guardAccel
			s.swerve = true
		}
		if dt >= e.cfg.AccelWindowS {
			break
		}
	}
	var prev *sample
	if n := len(tr.hist); n > 0 {
		if o.T <= tr.hist[n-1].t {
			e.stats.Invalid++ // time went backwards for this track
			return
		}
		prev = &tr.hist[n-1]
	}
	tr.hist = append(tr.hist, s)
	if cut := o.T - e.cfg.HistoryS; tr.hist[0].t < cut {
		i := sort.Search(len(tr.hist), func(i int) bool { return tr.hist[i].t >= cut })
		tr.hist = tr.hist[i:] // no copy: append reallocates with only the live samples
	}
	tr.cur = s
	tr.box = rect(s.p, s.heading, s.length, s.width)
	tr.lastSeen = o.T
	e.seen = append(e.seen, tr)
	e.indexPath(tr, prev, &s)
}

// indexPath records the cells the track's centre passed since its previous
// state and, for every other user that passed the same cell recently in a
// crossing direction, opens (or keeps open) a PET candidate. Path crossings are found where paths share
// cells, so the cost grows with the traffic through a cell, not with n².
func (e *Engine) indexPath(tr *track, prev, cur *sample) {
	cell := e.cfg.PathCellM
	window := e.cfg.InteractionPETS + petSlackS
	from := cur.p
	if prev != nil {
		from = prev.p
	}
	dir := direction(cur)
	minSin := math.Sin(e.cfg.MinPathAngleDeg * math.Pi / 180)
	steps := int(math.Ceil(cur.p.sub(from).norm() / (cell / 2)))
	if steps > 64 {
		steps = 64 // a jump this long is a tracking error; do not paint the map
	}
	for i := 0; i <= steps; i++ {
		f := 1.0
		if steps > 0 {
			f = float64(i) / float64(steps)
		}
		p := lerp(from, cur.p, f)
		k := cellKey{int32(math.Floor(p.x / cell)), int32(math.Floor(p.y / cell))}
		if tr.hasCell && k == tr.cell {
			continue
		}
		tr.cell, tr.hasCell = k, true
		vs := e.paths[k]
		keep := vs[:0]
		for _, v := range vs {
			if cur.t-v.t > e.cfg.HistoryS {
				continue // forget old visits while we are here
			}
			keep = append(keep, v)
			// Users moving along (or against) the same line share cells
			// without crossing paths: that is following, measured by TTC.
			if v.id == tr.id || cur.t-v.t > window || math.Abs(dir.cross(v.dir)) < minSin {
				continue
			}
			if other := e.tracks[v.id]; other != nil && e.pairAllowed(tr, other) {
				e.pair(tr, other)
			}
		}
		e.paths[k] = append(keep, visit{tr.id, cur.t, dir})
	}
}

// petSlackS widens the path-index time window beyond interaction_pet_s:
// PET is measured between bodies, but the index sees centres, which pass the
// crossing later than the first body enters and earlier than the last exits.
const petSlackS = 3.0

func (e *Engine) pairAllowed(a, b *track) bool {
	if a.class == events.Pedestrian && b.class == events.Pedestrian {
		return e.cfg.IncludePedPed
	}
	return true
}

// pair returns the open encounter of a and b, opening it if needed, and
// marks it active now.
func (e *Engine) pair(a, b *track) *pairState {
	if a.id > b.id {
		a, b = b, a
	}
	k := pairKey{a.id, b.id}
	ps := e.open[k]
	if ps == nil {
		ps = &pairState{a: a, b: b, start: e.now, minDist: math.Inf(1), minTTC: math.Inf(1), supTTC: math.Inf(1)}
		e.open[k] = ps
	}
	ps.last = e.now
	return ps
}

// proximity examines every pair of users seen this step whose centres are
// within the search radius, through a uniform grid of radius-sized cells.
func (e *Engine) proximity() {
	r := e.cfg.SearchRadiusM
	for k, ts := range e.grid {
		e.grid[k] = ts[:0]
	}
	for _, tr := range e.seen {
		k := cellKey{int32(math.Floor(tr.cur.p.x / r)), int32(math.Floor(tr.cur.p.y / r))}
		e.grid[k] = append(e.grid[k], tr)
	}
	// Each pair once: same cell (j > i), then four of the eight neighbours.
	fwd := [4]cellKey{{1, -1}, {1, 0}, {1, 1}, {0, 1}}
	for k, ts := range e.grid {
		for i, a := range ts {
			for _, b := range ts[i+1:] {
				e.examine(a, b)
			}
			for _, d := range fwd {
				for _, b := range e.grid[cellKey{k.x + d.x, k.y + d.y}] {
					e.examine(a, b)
				}
			}
		}
	}
	if len(e.grid) > 4*len(e.seen)+64 {
		for k, ts := range e.grid { // drop cells nobody is in any more
			if len(ts) == 0 {
				delete(e.grid, k)
			}
		}
	}
}

func (e *Engine) examine(a, b *track) {
	d := b.cur.p.sub(a.cur.p).norm()
	if d > e.cfg.SearchRadiusM || !e.pairAllowed(a, b) {
		return
	}
	e.stats.PairsExamined++
	if a.id > b.id {
		a, b = b, a
	}
	ttc, ok := 0.0, false
	if e.threatens(a) || e.threatens(b) {
		ttc, ok = boxTTC(&a.cur, &b.cur, a.box, b.box, e.cfg.HorizonS)
		if ok && ttc > 0 && ttc > math.Min(e.predictionLimit(a), e.predictionLimit(b)) {
			// The collision is predicted where a turning vehicle will
			// not be: off its arc.
			e.stats.TurnLimited++
			ok = false
		}
	}
	ps := e.open[pairKey{a.id, b.id}]
	if !ok {
		if ps != nil {
			ps.distance(d)
			// Still within a metre of touching (centres closer than the
			// half-diagonals plus 1 m), with someone moving: the
			// interaction is not over, its paths may be about to cross.
			if d < halfDiagonal(&a.cur)+halfDiagonal(&b.cur)+1 && (e.threatens(a) || e.threatens(b)) {
				ps.last = e.now
			}
		}
		return
	}
	if ttc == 0 && (ps == nil || !ps.approached) {
		// Overlapping at first sight, never seen on the way in: two
		// parked cars whose boxes jitter, a person standing by a car, a
		// track born on top of another. A collision course is observed
		// before contact (TTC > 0 for several frames); this is the
		// extents' or the detector's approximation, not a conflict.
		e.stats.OverlapFirstSight++
		if ps != nil {
			ps.distance(d)
		}
		return
	}
	e.stats.TTCPairs++
	ps = e.pair(a, b)
	ps.distance(d)
	if ttc > 0 {
		ps.approached = true
	}
	ps.ttcSample(e, ttc)
}

func halfDiagonal(s *sample) float64 { return math.Hypot(s.length, s.width) / 2 }

// Turning vehicles and constant-velocity prediction: a vehicle turning at
// yaw rate ω and speed v leaves the straight line of its velocity by
// v·ω·t²/2; once that exceeds half its width the prediction has it where
// it will not be. predictionLimit is that time, √(width / (v·|ω|)), for a
// vehicle whose lateral acceleration v·|ω| is at least turnMinLatMPS2, and
// +Inf otherwise (straight, slow, or a pedestrian, whose footprint is too
// small for the rule and whose heading is too noisy). The yaw rate is the
// heading change over the last yawWindowS (both ends moving at least
// 1 m/s), long enough that box jitter does not make a straight car turn.
func (e *Engine) predictionLimit(tr *track) float64 {
	if tr.class == events.Pedestrian {
		return math.Inf(1)
	}
	w := yawRate(tr.hist)
	lat := tr.cur.v.norm() * math.Abs(w)
	if lat < turnMinLatMPS2 {
		return math.Inf(1)
	}
	return math.Sqrt(tr.cur.width / lat)
}

const (
	yawWindowS     = 1.0
	turnMinLatMPS2 = 1.0 // a straight car's heading jitter stays well below (ω < 0.1 rad/s at 10 m/s)
)

// yawRate is the heading change per second over the last yawWindowS of h
// (at least half of it), 0 when the user was not moving at both ends.
func yawRate(h []sample) float64 {
	n := len(h)
	if n < 2 || h[n-1].v.norm() < 1 {
		return 0
	}
	last := &h[n-1]
	for i := n - 2; i >= 0; i-- {
		dt := last.t - h[i].t
		if dt < yawWindowS && i > 0 {
			continue
		}
		if dt < yawWindowS/2 || h[i].v.norm() < 1 {
			return 0
		}
		return wrapAngle(last.heading-h[i].heading) / dt
	}
	return 0
}

// threatens reports whether tr is a moving non-pedestrian (see
// Config.MinMovingMPS): a pair needs one for a TTC.
func (e *Engine) threatens(tr *track) bool {
	return tr.class != events.Pedestrian && tr.cur.v.norm() >= e.cfg.MinMovingMPS
}

// timeToCollision is the TTC of two states under constant velocity, or
// ok=false when they are not on a collision course within the horizon. Users
// whose rectangles already overlap but are not closing in get no TTC: that
// overlap is the extents' or the tracker's approximation, not a collision
// about to happen.
func timeToCollision(a, b *sample, horizonS float64) (float64, bool) {
	return boxTTC(a, b, rect(a.p, a.heading, a.length, a.width), rect(b.p, b.heading, b.length, b.width), horizonS)
}

// boxTTC is timeToCollision with the footprints already built.
func boxTTC(a, b *sample, ra, rb convex, horizonS float64) (float64, bool) {
	t0, t1, ok := sweep(ra, rb, a.v, b.v)
	if !ok || t1 < 0 || t0 > horizonS {
		return 0, false
	}
	if t0 <= 0 {
		if b.p.sub(a.p).dot(b.v.sub(a.v)) >= 0 {
			return 0, false
		}
		return 0, true
	}
	return t0, true
}

// closeIdle closes encounters with no activity since before cutoff.
// Vehicle–VRU encounters are held for typing (see release) unless now is
// set.
func (e *Engine) closeIdle(cutoff float64, now bool) []Encounter {
	var keys []pairKey
	for k, ps := range e.open {
		if ps.last < cutoff {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool {
		pi, pj := e.open[keys[i]], e.open[keys[j]]
		if pi.start != pj.start {
			return pi.start < pj.start
		}
		return keys[i].a < keys[j].a || keys[i].a == keys[j].a && keys[i].b < keys[j].b
	})
	var out []Encounter
	for _, k := range keys {
		ps := e.open[k]
		delete(e.open, k)
		enc, ok := e.finish(ps)
		if !ok {
			continue
		}
		h, isVRU := e.classify(&enc, ps)
		if !isVRU {
			out = append(out, e.emit(enc))
			continue
		}
		if !now && e.cfg.TypeMaxWaitS > 0 {
			e.held = append(e.held, h)
			continue
		}
		e.typeMovement(&h)
		out = append(out, e.emit(h.enc))
	}
	return out
}

// expire forgets tracks unseen for longer than their history is kept, and
// occasionally sweeps the path index.
func (e *Engine) expire() {
	if e.stats.Steps%64 != 0 {
		return
	}
	cut := e.now - e.cfg.HistoryS
	for id, tr := range e.tracks {
		if tr.lastSeen < cut {
			delete(e.tracks, id)
		}
	}
	for k := range e.petUsed {
		if e.tracks[k.a] == nil && e.tracks[k.b] == nil {
			delete(e.petUsed, k)
		}
	}
	for k, vs := range e.paths {
		if len(vs) == 0 || vs[len(vs)-1].t < cut {
			delete(e.paths, k)
		}
	}
}
