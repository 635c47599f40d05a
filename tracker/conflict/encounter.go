package conflict

import (
	"math"
	"sort"
	"time"

	"github.com/intersect-oss/intersect/events"
)

// SSAM's angle rules for vehicle–vehicle conflicts.
const (
	rearEndMaxDeg  = 30
	crossingMinDeg = 80
)

// maxSeries bounds the TTC series kept per encounter (about 7 minutes at
// 24 fps): a pair stuck on a collision course that long is not a near miss
// worth a longer record.
const maxSeries = 10000

// TTCSample is one point of an encounter's TTC time series.
type TTCSample struct {
	T   float64 `json:"t_s"`
	TTC float64 `json:"ttc_s"`
}

// Encounter is the record of one interaction between two road users, from
// the first moment they were on a collision course or on crossing paths to
// the last. Measures that are undefined for the pair are nil. TrackA is the
// lower track ID.
type Encounter struct {
	ID           int64
	TrackA       int64
	ClassA       events.Class
	TrackB       int64
	ClassB       events.Class
	StartS, EndS float64
	TimeS        float64  // when the conflict happened: minimum TTC, or the second user's entry for PET
	MinTTCS      *float64 // minimum TTC within the horizon, from guarded states only
	TMinTTCS     *float64
	TTCSeries    []TTCSample
	PETS         *float64
	PETFirst     int64 // track that passed the conflict area first
	MaxDRACMPS2  *float64
	MinDistanceM float64 // minimum centre-to-centre distance while the encounter was open
	SpeedAMPS    float64 // at the conflict
	SpeedBMPS    float64
	AngleDeg     float64 // between the directions of travel at the conflict, 0–180
	Type         events.ConflictType
	Severity     events.Severity // empty for an interaction that is not a near miss
	XM, YM       float64         // conflict point: predicted contact point at minimum TTC, or path crossing for PET
	Zone         string          // zone of the vulnerable user (crosswalk name), if any
	Approach     string          // vehicle's approach, NB/SB/EB/WB, if zones say
	Movement     string          // vehicle's movement: right, left, through ("" for vehicle–vehicle)
	DRACFlagged  bool            // MaxDRACMPS2 at or above the configured flag
}

// NearMiss reports whether e passes a near-miss threshold (rather than being
// kept as an interaction only).
func (e *Encounter) NearMiss() bool { return e.Severity != "" }

// ToNearMiss converts e to the wire event for the edge worker: times are
// origin plus the encounter's seconds, header.Time is set to the conflict
// time, and toLatLng maps the conflict point to WGS84. Interactions that are
// not near misses have no event: it returns nil for them.
func (e *Encounter) ToNearMiss(header events.Header, origin time.Time, toLatLng func(x, y float64) (lat, lng float64)) *events.NearMiss {
	if !e.NearMiss() {
		return nil
	}
	at := func(s float64) time.Time { return origin.Add(time.Duration(s * float64(time.Second))).UTC() }
	header.Time = at(e.TimeS)
	n := &events.NearMiss{
		Header: header, TrackA: e.TrackA, ClassA: e.ClassA, TrackB: e.TrackB, ClassB: e.ClassB,
		Start: at(e.StartS), End: at(e.EndS),
		MinTTCS: copyPtr(e.MinTTCS), PETS: copyPtr(e.PETS), MaxDRACMPS2: copyPtr(e.MaxDRACMPS2),
		MinDistanceM: e.MinDistanceM, SpeedAMPS: e.SpeedAMPS, SpeedBMPS: e.SpeedBMPS, AngleDeg: e.AngleDeg,
		Type: e.Type, Severity: e.Severity, XM: e.XM, YM: e.YM,
		Zone: e.Zone, Approach: e.Approach, Movement: e.Movement,
	}
	if toLatLng != nil {
		n.Lat, n.Lng = toLatLng(e.XM, e.YM)
	}
	return n
}

func copyPtr(p *float64) *float64 {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

func ptr(v float64) *float64 { return &v }

// pairState is an open encounter.
type pairState struct {
	a, b        *track
	start, last float64
	series      []TTCSample
	minTTC      float64 // over unguarded states
	tMin        float64
	atMinA      sample
	atMinB      sample
	place       vec
	maxDRAC     float64
	hasDRAC     bool
	minDist     float64
	supTTC      float64 // minimum TTC over guarded states
	supWhy      guard
	crossSwitch bool // one of the IDs switched while the encounter was open
	approached  bool // a TTC > 0 was seen: the pair came in on a collision course
}

// distance records the centre distance; being near is not activity (two
// cars following at a safe distance must not keep an encounter open).
func (ps *pairState) distance(d float64) {
	if d < ps.minDist {
		ps.minDist = d
	}
}

func (ps *pairState) ttcSample(e *Engine, ttc float64) {
	a, b := &ps.a.cur, &ps.b.cur
	if g := a.g | b.g; g != 0 {
		if ttc < ps.supTTC {
			ps.supTTC, ps.supWhy = ttc, g
		}
		return
	}
	if len(ps.series) < maxSeries {
		ps.series = append(ps.series, TTCSample{e.now, ttc})
	}
	if ttc < ps.minTTC {
		ps.minTTC, ps.tMin = ttc, e.now
		ps.atMinA, ps.atMinB = *a, *b
		ps.place = lerp(a.p.add(a.v.scale(ttc)), b.p.add(b.v.scale(ttc)), 0.5)
	}
	if d, ok := drac(a, b, ps.a.class, ps.b.class, ttc); ok && (!ps.hasDRAC || d > ps.maxDRAC) {
		ps.maxDRAC, ps.hasDRAC = d, true
	}
}

// drac is the deceleration rate to avoid the crash, v/(2·TTC) (see the
// package comment for v). ok is false at TTC 0 and for pedestrian pairs.
func drac(a, b *sample, ca, cb events.Class, ttc float64) (float64, bool) {
	if ttc <= 0 {
		return 0, false
	}
	sa, sb := a.v.norm(), b.v.norm()
	var v float64
	vehA, vehB := !ca.Vulnerable(), !cb.Vulnerable()
	switch {
	case vehA && vehB:
		if angleBetween(a.v, b.v)*180/math.Pi < rearEndMaxDeg {
			v = a.v.sub(b.v).norm()
		} else {
			v = math.Max(sa, sb)
		}
	case vehA:
		v = sa
	case vehB:
		v = sb
	case ca == events.Bicycle && cb == events.Bicycle:
		v = math.Max(sa, sb)
	case ca == events.Bicycle:
		v = sa
	case cb == events.Bicycle:
		v = sb
	default:
		return 0, false
	}
	return v / (2 * ttc), true
}

// petResult is the PET of a pair whose paths crossed.
type petResult struct {
	pet            float64
	t              float64 // second user's entry
	place          vec
	speedA, speedB float64
	angleDeg       float64
	first          int64
	g              guard
}

// postEncroachment finds where the two centre paths crossed (the crossing
// whose passage times are closest) and measures PET over the conflict area
// there. ok is false when the paths did not cross at a usable angle.
func (e *Engine) postEncroachment(ps *pairState) (petResult, bool) {
	A, B := ps.a.hist, ps.b.hist
	lo := ps.start - e.cfg.InteractionPETS - petSlackS
	A, B = since(A, lo), since(B, lo)
	minSin := math.Sin(e.cfg.MinPathAngleDeg * math.Pi / 180)
	bestGap := math.Inf(1)
	var bi, bj int
	var bfa, bfb float64
	// Paths are compared block against block (bounding boxes of
	// blockSegs segments) before segment against segment: a crossing is
	// found in O(blocks² + hits) rather than O(samples²).
	e.blocksA = blocks(A, e.blocksA[:0])
	e.blocksB = blocks(B, e.blocksB[:0])
	for _, ba := range e.blocksA {
		for _, bb := range e.blocksB {
			if !ba.box.overlaps(bb.box) {
				continue
			}
			for i := max(ba.first, 1); i <= ba.last; i++ {
				a0, a1 := A[i-1].p, A[i].p
				sa := segBox(a0, a1)
				if !sa.overlaps(bb.box) {
					continue
				}
				da := a1.sub(a0)
				la := da.norm()
				if la == 0 {
					continue
				}
				for j := max(bb.first, 1); j <= bb.last; j++ {
					b0, b1 := B[j-1].p, B[j].p
					if !sa.overlaps(segBox(b0, b1)) {
						continue
					}
					fa, fb, ok := segmentIntersection(a0, a1, b0, b1)
					if !ok {
						continue
					}
					if b1.sub(b0).norm() == 0 {
						continue
					}
					// The angle between the paths comes from the
					// smoothed velocities, not from the two segments:
					// frame-to-frame steps are mostly position noise, and
					// two users merging into one lane would otherwise
					// "cross" at a noisy 20–30°.
					ua := travelDir(&A[i-1], &A[i], fa)
					ub := travelDir(&B[j-1], &B[j], fb)
					if math.Abs(ua.cross(ub)) < minSin {
						continue
					}
					tA := A[i-1].t + fa*(A[i].t-A[i-1].t)
					tB := B[j-1].t + fb*(B[j].t-B[j-1].t)
					if gap := math.Abs(tA - tB); gap < bestGap {
						bestGap, bi, bj, bfa, bfb = gap, i, j, fa, fb
					}
				}
			}
		}
	}
	if math.IsInf(bestGap, 1) {
		return petResult{}, false
	}
	p := lerp(A[bi-1].p, A[bi].p, bfa)
	ua := travelDir(&A[bi-1], &A[bi], bfa)
	ub := travelDir(&B[bj-1], &B[bj], bfb)
	wa := A[bi-1].width
	wb := B[bj-1].width
	area, ok := parallelogram(p, ua, ub, wa/2, wb/2)
	if !ok {
		return petResult{}, false
	}
	inA, outA, gA := occupancy(A, bi, area)
	inB, outB, gB := occupancy(B, bj, area)
	r := petResult{
		place:    p,
		speedA:   lerpV(A[bi-1].v, A[bi].v, bfa).norm(),
		speedB:   lerpV(B[bj-1].v, B[bj].v, bfb).norm(),
		angleDeg: angleBetween(ua, ub) * 180 / math.Pi,
		g:        gA | gB,
	}
	if inA < inB || inA == inB && outA <= outB {
		r.first, r.pet, r.t = ps.a.id, inB-outA, inB
	} else {
		r.first, r.pet, r.t = ps.b.id, inA-outB, inA
	}
	if r.pet < 0 {
		r.pet = 0 // both were in the conflict area at once
	}
	return r, true
}

func lerpV(a, b vec, f float64) vec { return lerp(a, b, f) }

// travelDir is the unit direction of travel at fraction f of the path
// segment s0→s1: the interpolated velocity, or the segment itself when the
// user is nearly stopped (or the states carry no velocity).
func travelDir(s0, s1 *sample, f float64) vec {
	if v := lerpV(s0.v, s1.v, f); v.norm() > 0.3 {
		return v.scale(1 / v.norm())
	}
	d := s1.p.sub(s0.p)
	return d.scale(1 / d.norm())
}

// bbox is an axis-aligned bounding box.
type bbox struct{ minX, minY, maxX, maxY float64 }

func (a bbox) overlaps(b bbox) bool {
	return a.minX <= b.maxX && b.minX <= a.maxX && a.minY <= b.maxY && b.minY <= a.maxY
}

func segBox(p, q vec) bbox {
	return bbox{math.Min(p.x, q.x), math.Min(p.y, q.y), math.Max(p.x, q.x), math.Max(p.y, q.y)}
}

// block is a run of path samples [first, last] (segments first..last end
// there) with the bounding box of its segments.
type block struct {
	first, last int
	box         bbox
}

const blockSegs = 8

func blocks(h []sample, out []block) []block {
	for first := 0; first < len(h); first += blockSegs {
		last := min(first+blockSegs, len(h)-1)
		b := block{first: first, last: last, box: bbox{math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)}}
		for k := max(first-1, 0); k <= last; k++ {
			p := h[k].p
			b.box.minX, b.box.maxX = math.Min(b.box.minX, p.x), math.Max(b.box.maxX, p.x)
			b.box.minY, b.box.maxY = math.Min(b.box.minY, p.y), math.Max(b.box.maxY, p.y)
		}
		out = append(out, b)
		if last == len(h)-1 {
			break
		}
	}
	return out
}

// occupancy returns when the user with history h entered and left area
// around its crossing segment i (h[i-1]→h[i]), treating each segment as
// constant-velocity motion of its rectangle; a run that reaches the end of
// the history is cut there. g collects the guard flags of the states used.
func occupancy(h []sample, i int, area convex) (entry, exit float64, g guard) {
	seg := func(k int) (float64, float64, bool) {
		s0, s1 := &h[k-1], &h[k]
		dt := s1.t - s0.t
		body := rect(s0.p, s0.heading, s0.length, s0.width)
		v := s1.p.sub(s0.p).scale(1 / dt)
		t0, t1, ok := sweep(body, area, v, vec{})
		if !ok {
			return 0, 0, false
		}
		t0, t1 = math.Max(t0, 0), math.Min(t1, dt)
		if t0 > t1 {
			return 0, 0, false
		}
		return t0, t1, true
	}
	const eps = 1e-9
	t0, t1, _ := seg(i)
	entry, exit = h[i-1].t+t0, h[i-1].t+t1
	g = h[i-1].g | h[i].g
	for k := i; k >= 1; k-- {
		a, _, ok := seg(k)
		if !ok {
			break
		}
		entry = h[k-1].t + a
		g |= h[k-1].g
		if a > eps {
			break
		}
	}
	for k := i; k < len(h); k++ {
		_, b, ok := seg(k)
		if !ok {
			break
		}
		exit = h[k-1].t + b
		g |= h[k].g
		if b < h[k].t-h[k-1].t-eps {
			break
		}
	}
	return entry, exit, g
}

// finish turns a closed pair into an encounter when it meets a reporting
// threshold and passes the guard, counting what it drops.
func (e *Engine) finish(ps *pairState) (Encounter, bool) {
	cfg := &e.cfg
	var pr petResult
	hasPET := false
	// Every closing pair gets a PET search, not only those the path index
	// flagged: a pair on a collision course often crosses paths at a spot
	// where the index's direction test saw a shallow angle.
	pr, hasPET = e.postEncroachment(ps)
	if hasPET {
		k := pairKey{ps.a.id, ps.b.id}
		for _, t := range e.petUsed[k] {
			if t == pr.t {
				hasPET = false // this crossing belongs to an earlier encounter
			}
		}
		if hasPET {
			e.petUsed[k] = append(e.petUsed[k], pr.t)
		}
	}
	ttcOK := ps.minTTC <= cfg.NearMissTTCS
	petIn := hasPET && pr.pet <= cfg.InteractionPETS
	petOK := petIn && pr.g == 0
	if !ttcOK && !petOK {
		var why guard
		if ps.supTTC <= cfg.NearMissTTCS {
			why = ps.supWhy
		} else if petIn {
			why = pr.g
		}
		if why != 0 {
			e.stats.Candidates++
			e.stats.Suppressed[why.reason()]++
		}
		return Encounter{}, false
	}
	e.stats.Candidates++
	if ps.crossSwitch {
		e.stats.Suppressed[guardIDSwitch.reason()]++
		return Encounter{}, false
	}
	enc := Encounter{
		TrackA: ps.a.id, ClassA: ps.a.class, TrackB: ps.b.id, ClassB: ps.b.class,
		StartS: ps.start, EndS: ps.last, MinDistanceM: ps.minDist,
	}
	// Paths that crossed were often closest before the encounter opened
	// (it opens when the second user reaches the crossing).
	lo := ps.start - cfg.InteractionPETS - petSlackS
	if d := minDistance(since(ps.a.hist, lo), since(ps.b.hist, lo)); d < enc.MinDistanceM || math.IsInf(enc.MinDistanceM, 1) {
		enc.MinDistanceM = d
	}
	if !math.IsInf(ps.minTTC, 1) {
		enc.MinTTCS, enc.TMinTTCS = ptr(ps.minTTC), ptr(ps.tMin)
		enc.TTCSeries = ps.series
	}
	if hasPET && pr.g == 0 {
		enc.PETS, enc.PETFirst = ptr(pr.pet), pr.first
	}
	if ps.hasDRAC {
		enc.MaxDRACMPS2 = ptr(ps.maxDRAC)
		enc.DRACFlagged = ps.maxDRAC >= cfg.DRACFlagMPS2
	}
	if ttcOK {
		enc.TimeS = ps.tMin
		enc.XM, enc.YM = ps.place.x, ps.place.y
		enc.SpeedAMPS, enc.SpeedBMPS = ps.atMinA.v.norm(), ps.atMinB.v.norm()
		enc.AngleDeg = angleBetween(direction(&ps.atMinA), direction(&ps.atMinB)) * 180 / math.Pi
	} else {
		enc.TimeS = pr.t
		enc.XM, enc.YM = pr.place.x, pr.place.y
		enc.SpeedAMPS, enc.SpeedBMPS = pr.speedA, pr.speedB
		enc.AngleDeg = pr.angleDeg
	}
	if enc.StartS > enc.TimeS {
		enc.StartS = enc.TimeS
	}
	for _, z := range cfg.Zones {
		if z.Kind == ZoneExclusion && z.Polygon.Contains(enc.XM, enc.YM) {
			e.stats.Excluded++
			return Encounter{}, false
		}
	}
	m := math.Inf(1)
	if ttcOK {
		m = ps.minTTC
	}
	if enc.PETS != nil && *enc.PETS <= cfg.NearMissPETS {
		m = math.Min(m, *enc.PETS)
	}
	switch {
	case m <= cfg.CriticalS:
		enc.Severity = events.Critical
	case m <= cfg.SeriousS:
		enc.Severity = events.Serious
	case !math.IsInf(m, 1):
		enc.Severity = events.Minor
	}
	return enc, true
}

// direction is the unit direction of travel: the velocity, or the heading
// when the user is (nearly) stopped.
func direction(s *sample) vec {
	if n := s.v.norm(); n > 0.3 {
		return s.v.scale(1 / n)
	}
	return unit(s.heading)
}

// since returns the part of h at or after t.
func since(h []sample, t float64) []sample {
	i := sort.Search(len(h), func(i int) bool { return h[i].t >= t })
	return h[i:]
}

// minDistance is the minimum centre distance between two histories at
// (nearly) common times; when they never overlap in time it is the distance
// between the states closest in time.
func minDistance(a, b []sample) float64 {
	best, fallback, fallbackDT := math.Inf(1), math.NaN(), math.Inf(1)
	j := 0
	for i := range a {
		for j+1 < len(b) && math.Abs(b[j+1].t-a[i].t) <= math.Abs(b[j].t-a[i].t) {
			j++
		}
		if j >= len(b) {
			break
		}
		d := a[i].p.sub(b[j].p).norm()
		dt := math.Abs(b[j].t - a[i].t)
		if dt < 0.1 {
			best = math.Min(best, d)
		}
		if dt < fallbackDT {
			fallback, fallbackDT = d, dt
		}
	}
	if math.IsInf(best, 1) {
		return fallback
	}
	return best
}

// held is a closed vehicle–VRU encounter waiting for the vehicle to finish
// its manoeuvre before its movement is judged (Config.TypeClearM).
type held struct {
	enc          Encounter
	veh          *track
	closedAt     float64
	hasCrosswalk bool // zones include crosswalks: crosswalk vs mid-block can be told
	inCrosswalk  bool
}

// vehicleAndVRU returns the pair's vehicle and vulnerable user, or nils for
// a vehicle–vehicle (or VRU–VRU) pair.
func vehicleAndVRU(ps *pairState) (veh, vru *track) {
	switch {
	case !ps.a.class.Vulnerable() && ps.b.class.Vulnerable():
		return ps.a, ps.b
	case ps.a.class.Vulnerable() && !ps.b.class.Vulnerable():
		return ps.b, ps.a
	}
	return nil, nil
}

// classify types a closed encounter as far as the present allows: the SSAM
// angle type of vehicle–vehicle pairs, and for vehicle–VRU pairs whether it
// happened in a crosswalk. A crosswalk conflict is one whose conflict point
// (where the paths cross, or the predicted contact) lies in a crosswalk
// zone, or whose vulnerable user was in one at the conflict time: in PET
// conflicts where the vehicle comes second the pedestrian has left the
// crosswalk by then, but the place they conflicted over has not. The
// vehicle's movement is left to typeMovement.
func (e *Engine) classify(enc *Encounter, ps *pairState) (h held, isVRU bool) {
	veh, vru := vehicleAndVRU(ps)
	if veh == nil {
		switch {
		case enc.AngleDeg < rearEndMaxDeg:
			enc.Type = events.RearEnd
		case enc.AngleDeg > crossingMinDeg:
			enc.Type = events.Crossing
		default:
			enc.Type = events.LaneChange
		}
		return held{}, false
	}
	h = held{veh: veh, closedAt: e.now}
	p := positionAt(vru.hist, enc.TimeS)
	for _, z := range e.cfg.Zones {
		if z.Kind != ZoneCrosswalk {
			continue
		}
		h.hasCrosswalk = true
		if !h.inCrosswalk && (z.Polygon.Contains(enc.XM, enc.YM) || z.Polygon.Contains(p.x, p.y)) {
			h.inCrosswalk, enc.Zone = true, z.Name
		}
	}
	h.enc = *enc
	return h, true
}

// typeMovement sets the vehicle's approach and movement and the conflict
// type of a held vehicle–VRU encounter.
func (e *Engine) typeMovement(h *held) {
	enc := &h.enc
	enc.Movement = e.movement(h.veh.hist)
	enc.Approach = e.approach(h.veh.hist)
	if !h.hasCrosswalk {
		// Without crosswalk zones we cannot tell a crosswalk from mid-block;
		// saying either would be a guess. Movement still says what the
		// vehicle did.
		enc.Type = events.Unclassified
		return
	}
	types := map[string][2]events.ConflictType{
		"right":   {events.RightTurnCrosswalk, events.RightTurnMidBlock},
		"left":    {events.LeftTurnCrosswalk, events.LeftTurnMidBlock},
		"through": {events.ThroughCrosswalk, events.ThroughMidBlock},
	}
	tt, ok := types[enc.Movement]
	switch {
	case !ok:
		enc.Type = events.Unclassified
	case h.inCrosswalk:
		enc.Type = tt[0]
	default:
		enc.Type = tt[1]
	}
}

// release emits the held encounters whose vehicle has finished its
// manoeuvre (all of them when all is set), in the order they were held.
func (e *Engine) release(all bool) []Encounter {
	var out []Encounter
	keep := e.held[:0]
	for i := range e.held {
		h := &e.held[i]
		veh := h.veh
		done := all || e.now-h.closedAt >= e.cfg.TypeMaxWaitS ||
			e.now-veh.lastSeen >= e.cfg.CloseAfterS ||
			veh.cur.p.sub(vec{h.enc.XM, h.enc.YM}).norm() >= e.cfg.TypeClearM
		if !done {
			keep = append(keep, *h)
			continue
		}
		e.typeMovement(h)
		out = append(out, e.emit(h.enc))
	}
	clear(e.held[len(keep):])
	e.held = keep
	return out
}

// emit numbers an encounter and counts it as reported.
func (e *Engine) emit(enc Encounter) Encounter {
	e.nextID++
	enc.ID = e.nextID
	e.stats.Reported++
	if enc.NearMiss() {
		e.stats.NearMisses++
	}
	return enc
}

// movement is the vehicle's turn over its kept history.
func (e *Engine) movement(h []sample) string {
	var t Turn
	for i := range h {
		t.Add(h[i].v.norm(), h[i].heading)
	}
	return t.Movement(e.cfg.TurnThresholdDeg)
}

// Turn sums a vehicle's heading changes while it moves at MovingMPS or more
// (a stopped vehicle's heading is noise). The engine types conflicts by it
// and the edge's track summaries name movements by it, so exposure and
// conflicts name movements alike. The zero value is ready to use.
type Turn struct {
	rad, heading float64
	moving       bool
}

// MovingMPS is the speed from which a heading counts towards a Turn.
const MovingMPS = 1.0

// Add folds in one state: speed (m/s) and heading (rad).
func (t *Turn) Add(speedMPS, headingRad float64) {
	if speedMPS < MovingMPS {
		return
	}
	if t.moving {
		t.rad += wrapAngle(headingRad - t.heading)
	}
	t.heading, t.moving = headingRad, true
}

// Movement is "left" or "right" when the summed turn is beyond
// thresholdDeg, "through" within it, "" when the vehicle never moved.
func (t *Turn) Movement(thresholdDeg float64) string {
	if !t.moving {
		return ""
	}
	return MovementOf(t.rad, thresholdDeg)
}

// MovementOf names a vehicle's movement from its total heading change
// while moving, radians counter-clockwise: "left" or "right" beyond
// thresholdDeg, "through" within it.
func MovementOf(turnRad, thresholdDeg float64) string {
	deg := turnRad * 180 / math.Pi
	switch {
	case deg > thresholdDeg:
		return "left"
	case deg < -thresholdDeg:
		return "right"
	}
	return "through"
}

// approach is the approach zone the vehicle was first seen in, if any.
func (e *Engine) approach(h []sample) string {
	names := map[ZoneKind]string{ZoneApproachN: "NB", ZoneApproachS: "SB", ZoneApproachE: "EB", ZoneApproachW: "WB"}
	for i := range h {
		for _, z := range e.cfg.Zones {
			if n, ok := names[z.Kind]; ok && z.Polygon.Contains(h[i].p.x, h[i].p.y) {
				return n
			}
		}
	}
	return ""
}

// positionAt is the history's position nearest in time to t.
func positionAt(h []sample, t float64) vec {
	best, bd := vec{}, math.Inf(1)
	for i := range h {
		if d := math.Abs(h[i].t - t); d < bd {
			best, bd = h[i].p, d
		}
	}
	return best
}
