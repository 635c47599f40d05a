package conflict

import (
	"math"
	"testing"
	"time"

	"github.com/intersect-oss/intersect/events"
)

const eps = 1e-9

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

// user is a scripted road user: state(t) gives position, velocity and
// heading at time t; from/to bound when it is seen.
type user struct {
	id       int64
	class    events.Class
	from, to float64
	state    func(t float64) (x, y, vx, vy, heading float64)
	frames0  int // age at its first frame
	switchAt float64
}

// simulate steps an engine through the script at 10 Hz from 0 to endS and
// returns every encounter (closed during the run or by Flush).
func simulate(t *testing.T, cfg Config, endS float64, users ...user) ([]Encounter, *Engine) {
	t.Helper()
	e := NewEngine(cfg)
	var out []Encounter
	frames := map[int64]int{}
	for k := 0; float64(k)/10 <= endS; k++ {
		ts := float64(k) / 10
		var obs []Observation
		for _, u := range users {
			if ts < u.from || ts > u.to {
				continue
			}
			x, y, vx, vy, h := u.state(ts)
			frames[u.id]++
			obs = append(obs, Observation{T: ts, TrackID: u.id, Class: u.class, X: x, Y: y, VX: vx, VY: vy,
				Heading: h, Frames: u.frames0 + frames[u.id], IDSwitch: u.switchAt > 0 && near(ts, u.switchAt, eps)})
		}
		out = append(out, e.Step(obs)...)
	}
	return append(out, e.Flush()...), e
}

func straight(x0, y0, vx, vy float64) func(float64) (float64, float64, float64, float64, float64) {
	return func(t float64) (float64, float64, float64, float64, float64) {
		return x0 + vx*t, y0 + vy*t, vx, vy, math.Atan2(vy, vx)
	}
}

func TestTimeToCollision(t *testing.T) {
	car := func(x, y, vx, vy, h float64) sample {
		return sample{p: vec{x, y}, v: vec{vx, vy}, heading: h, length: 4.5, width: 1.8}
	}
	ped := func(x, y, vx, vy float64) sample {
		return sample{p: vec{x, y}, v: vec{vx, vy}, heading: math.Pi / 2, length: 0.5, width: 0.5}
	}
	tests := []struct {
		name string
		a, b sample
		want float64 // NaN: no TTC
	}{
		// Head-on at 10 m/s each, centres 50 m apart: the fronts are
		// 50 − 4.5 = 45.5 m apart and close at 20 m/s → 2.275 s.
		{"head-on", car(0, 0, 10, 0, 0), car(50, 0, -10, 0, math.Pi), 2.275},
		// Same, with 1.5 m lateral offset: bodies still overlap (1.8 wide), same TTC.
		{"head-on offset", car(0, 0, 10, 0, 0), car(50, 1.5, -10, 0, math.Pi), 2.275},
		// 2 m lateral offset > 1.8 m width: they pass.
		{"head-on passing", car(0, 0, 10, 0, 0), car(50, 2, -10, 0, math.Pi), math.NaN()},
		// Rear-end: follower 10 m/s, leader 5 m/s, centres 10 m apart:
		// gap 5.5 m closing at 5 m/s → 1.1 s.
		{"rear-end", car(0, 0, 10, 0, 0), car(10, 0, 5, 0, 0), 1.1},
		// Parallel lanes at the same speed: never closer.
		{"parallel", car(0, 0, 10, 0, 0), car(3, 3.5, 10, 0, 0), math.NaN()},
		// Parallel lanes, different speeds, 3.5 m apart: pass without contact.
		{"parallel overtaking", car(0, 0, 15, 0, 0), car(10, 3.5, 10, 0, 0), math.NaN()},
		// Pedestrian walking at 1.5 m/s towards a stationary car's side:
		// car spans y ≤ 0.9, pedestrian's front edge at 6 − 0.25 → (5.75 − 0.9)/1.5.
		{"stationary car", car(0, 0, 0, 0, 0), ped(0, 6, 0, -1.5), (5.75 - 0.9) / 1.5},
		// Pedestrian walking past a stationary car 2 m from its side.
		{"stationary passing", car(0, 0, 0, 0, 0), ped(-10, 1.9, 1.5, 0), math.NaN()},
		// Both stationary: no TTC.
		{"both stopped", car(0, 0, 0, 0, 0), ped(0, 3, 0, 0), math.NaN()},
		// Overlapping and separating: not a collision course.
		{"overlapping separating", car(0, 0, 5, 0, 0), ped(-1, 0.5, -1, 0), math.NaN()},
		// Overlapping and closing: contact now.
		{"overlapping closing", car(0, 0, 5, 0, 0), ped(2, 0.5, -1, 0), 0},
		// Beyond the 10 s horizon.
		{"beyond horizon", car(0, 0, 1, 0, 0), car(200, 0, -1, 0, math.Pi), math.NaN()},
		// Rotated 45°: car along the diagonal towards a pedestrian on it;
		// the car's front reaches the pedestrian's near corner: along the
		// diagonal the pedestrian square's corner sits 0.25·√2 before its
		// centre: (10√2 − 2.25 − 0.25√2)/5.
		{"diagonal", car(0, 0, 5/math.Sqrt2, 5/math.Sqrt2, math.Pi/4),
			sample{p: vec{10, 10}, heading: 0, length: 0.5, width: 0.5}, (10*math.Sqrt2 - 2.25 - 0.25*math.Sqrt2) / 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := timeToCollision(&tt.a, &tt.b, 10)
			if math.IsNaN(tt.want) {
				if ok {
					t.Fatalf("TTC = %v, want none", got)
				}
				return
			}
			if !ok || !near(got, tt.want, 1e-9) {
				t.Fatalf("TTC = %v (ok=%v), want %v", got, ok, tt.want)
			}
			// Symmetric in the pair.
			if got2, _ := timeToCollision(&tt.b, &tt.a, 10); !near(got2, got, 1e-9) {
				t.Errorf("TTC(b, a) = %v, TTC(a, b) = %v", got2, got)
			}
		})
	}
}

func TestHeadOnEncounter(t *testing.T) {
	// Two cars at 10 m/s toward each other, 30 m apart at t=0 (the search
	// radius): the first TTC is 25.5/20 = 1.275 s, it falls by 0.1 s per
	// 0.1 s step, and they touch at t = 1.275: the encounter's minimum is 0
	// (a collision), so it is critical.
	encs, _ := simulate(t, DefaultConfig(), 6,
		user{id: 1, class: events.Car, to: 6, frames0: 20, state: straight(0, 0, 10, 0)},
		user{id: 2, class: events.Car, to: 6, frames0: 20, state: straight(30, 0, -10, 0)},
	)
	if len(encs) != 1 {
		t.Fatalf("%d encounters, want 1: %+v", len(encs), encs)
	}
	e := encs[0]
	if got := e.TTCSeries[0]; got.T != 0 || !near(got.TTC, 1.275, 1e-9) {
		t.Errorf("first TTC sample %+v, want t=0 ttc=1.275", got)
	}
	if got := e.TTCSeries[10]; got.T != 1 || !near(got.TTC, 0.275, 1e-9) {
		t.Errorf("TTC sample %+v, want t=1 ttc=0.275", got)
	}
	if e.MinTTCS == nil || *e.MinTTCS != 0 || e.Severity != events.Critical || e.Type != events.RearEnd && e.Type != events.Crossing && e.Type != events.LaneChange {
		t.Errorf("min TTC %v severity %q type %q", deref(e.MinTTCS), e.Severity, e.Type)
	}
	// Head-on: 180° between directions is "crossing" by SSAM's angle rule.
	if e.AngleDeg != 180 || e.Type != events.Crossing {
		t.Errorf("angle %v type %q, want 180 crossing", e.AngleDeg, e.Type)
	}
	// DRAC peaks at the last positive TTC, 0.075 s (t=1.2): each car sheds
	// its own 10 m/s (crossing rule: the faster vehicle) → 10/(2·0.075).
	if e.MaxDRACMPS2 == nil || !near(*e.MaxDRACMPS2, 10/(2*0.075), 1e-6) || !e.DRACFlagged {
		t.Errorf("max DRAC %v flagged %v, want %v", deref(e.MaxDRACMPS2), e.DRACFlagged, 10/(2*0.075))
	}
}

func deref(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}

func TestPerpendicularCrossingPET(t *testing.T) {
	// Car eastbound at 10 m/s along y=0, centre at x=0 at t=2; pedestrian
	// northbound at 1.5 m/s along x=0, centre at y=0 at t=4. Conflict area:
	// the car's corridor (|y| ≤ 0.9) ∩ the pedestrian's (|x| ≤ 0.25).
	// The car (4.5 m long) leaves it when its rear passes x = 0.25, i.e. its
	// centre at 2.5 m: t = 2 + 2.5/10 = 2.25. The pedestrian (0.5 m) enters
	// when its front reaches y = −0.9, centre at −1.15 m: t = 4 − 1.15/1.5.
	// PET = 4 − 1.15/1.5 − 2.25 = 0.98333… s → serious. They never are on a
	// collision course (the car is 18 m past when the pedestrian arrives).
	wantPET := 4 - 1.15/1.5 - 2.25
	encs, e := simulate(t, DefaultConfig(), 9,
		user{id: 7, class: events.Car, to: 9, frames0: 20, state: straight(-20, 0, 10, 0)},
		user{id: 3, class: events.Pedestrian, to: 9, frames0: 20, state: straight(0, -6, 0, 1.5)},
	)
	if len(encs) != 1 {
		t.Fatalf("%d encounters, want 1: %+v", len(encs), encs)
	}
	c := encs[0]
	if c.PETS == nil || !near(*c.PETS, wantPET, 1e-9) {
		t.Fatalf("PET = %v, want %v", deref(c.PETS), wantPET)
	}
	if c.MinTTCS != nil {
		t.Errorf("TTC %v, want none", *c.MinTTCS)
	}
	if c.PETFirst != 7 || c.TrackA != 3 || c.ClassA != events.Pedestrian || c.TrackB != 7 {
		t.Errorf("first %d, pair %d(%s)–%d, want car 7 first, pedestrian 3 as A", c.PETFirst, c.TrackA, c.ClassA, c.TrackB)
	}
	if c.Severity != events.Serious || !c.NearMiss() {
		t.Errorf("severity %q, want serious", c.Severity)
	}
	if !near(c.XM, 0, 1e-9) || !near(c.YM, 0, 1e-9) || !near(c.AngleDeg, 90, 1e-9) ||
		!near(c.SpeedAMPS, 1.5, 1e-9) || !near(c.SpeedBMPS, 10, 1e-9) || !near(c.TimeS, 4-1.15/1.5, 1e-9) {
		t.Errorf("place (%v,%v) angle %v speeds %v/%v time %v", c.XM, c.YM, c.AngleDeg, c.SpeedAMPS, c.SpeedBMPS, c.TimeS)
	}
	// No crosswalk zones configured: the type is not guessed.
	if c.Type != events.Unclassified || c.Movement != "through" {
		t.Errorf("type %q movement %q, want unclassified/through", c.Type, c.Movement)
	}
	if s := e.Stats(); s.Reported != 1 || s.NearMisses != 1 || s.TTCPairs != 0 || s.SuppressedShare() != 0 {
		t.Errorf("stats %+v", s)
	}

	// 3 s later for the pedestrian: PET 3.98 s is an interaction, not a near miss.
	encs, _ = simulate(t, DefaultConfig(), 12,
		user{id: 7, class: events.Car, to: 12, frames0: 20, state: straight(-20, 0, 10, 0)},
		user{id: 3, class: events.Pedestrian, to: 12, frames0: 20, state: straight(0, -10.5, 0, 1.5)},
	)
	if len(encs) != 1 || encs[0].PETS == nil || !near(*encs[0].PETS, wantPET+3, 1e-9) || encs[0].NearMiss() || encs[0].Severity != "" {
		t.Fatalf("interaction: %+v", encs)
	}
	// 6 s later: PET beyond 5 s, nothing reported.
	encs, _ = simulate(t, DefaultConfig(), 15,
		user{id: 7, class: events.Car, to: 15, frames0: 20, state: straight(-20, 0, 10, 0)},
		user{id: 3, class: events.Pedestrian, to: 15, frames0: 20, state: straight(0, -15, 0, 1.5)},
	)
	if len(encs) != 0 {
		t.Fatalf("PET > 5 s reported: %+v", encs)
	}
}

// rightTurn is a car driving north along x=0 at 8 m/s, turning right on a
// 10 m radius arc centred at (10, 0) into eastbound y=10, reaching (20, 10)
// at exactly t=7.
func rightTurn(t float64) (x, y, vx, vy, h float64) {
	const v, r = 8.0, 10.0
	arc := math.Pi / 2 * r
	s := v*(t-7) + 30 + arc + 10 // arc length from (0, −30)
	switch {
	case s < 30:
		return 0, -30 + s, 0, v, math.Pi / 2
	case s < 30+arc:
		phi := (s - 30) / r
		h := math.Pi/2 - phi
		return r - r*math.Cos(phi), r * math.Sin(phi), v * math.Cos(h), v * math.Sin(h), h
	default:
		return s - 30 - arc + 10, 10, v, 0, 0
	}
}

func TestPedestrianSteppingOffInFrontOfRightTurningCar(t *testing.T) {
	// The pedestrian waits on the south curb of the east leg at (28, 8),
	// steps off northbound at 1.4 m/s at t=7 (car at (20, 10) eastbound at
	// 8 m/s), sees the car and stops at t=7.1.
	// At t=7: car spans x ∈ [17.75, 22.25] + 8t, y ∈ [9.1, 10.9];
	// pedestrian x ∈ [27.75, 28.25], y ∈ [7.75, 8.25] + 1.4t.
	// x overlap from (27.75 − 22.25)/8 = 0.6875 s; y overlap from
	// (9.1 − 8.25)/1.4 = 0.607 s. TTC = 0.6875 s: serious.
	// DRAC = 8/(2·0.6875) = 5.818 m/s² (the car must stop). Contact point:
	// midpoint of (20 + 8·0.6875, 10) and (28, 8 + 1.4·0.6875).
	ped := func(t float64) (x, y, vx, vy, h float64) {
		switch {
		case t < 7:
			return 28, 8, 0, 0, math.Pi / 2
		case t < 7.05:
			return 28, 8, 0, 1.4, math.Pi / 2
		default:
			return 28, 8.14, 0, 0, math.Pi / 2
		}
	}
	cfg := DefaultConfig()
	cfg.Zones = []Zone{
		{Name: "crosswalk-east", Kind: ZoneCrosswalk, Polygon: Polygon{{26, 4}, {30, 4}, {30, 14}, {26, 14}}},
		{Name: "north-approach", Kind: ZoneApproachN, Polygon: Polygon{{-3, -40}, {3, -40}, {3, -5}, {-3, -5}}},
	}
	encs, _ := simulate(t, cfg, 10,
		user{id: 1, class: events.Car, to: 10, frames0: 20, state: rightTurn},
		user{id: 2, class: events.Pedestrian, to: 10, frames0: 20, state: ped},
	)
	if len(encs) != 1 {
		t.Fatalf("%d encounters, want 1: %+v", len(encs), encs)
	}
	c := encs[0]
	if c.MinTTCS == nil || !near(*c.MinTTCS, 0.6875, 1e-9) || *c.TMinTTCS != 7 || len(c.TTCSeries) != 1 {
		t.Fatalf("min TTC %v at %v, series %v; want 0.6875 at 7 once", deref(c.MinTTCS), deref(c.TMinTTCS), c.TTCSeries)
	}
	if c.Type != events.RightTurnCrosswalk || c.Movement != "right" || c.Approach != "NB" || c.Zone != "crosswalk-east" {
		t.Errorf("type %q movement %q approach %q zone %q", c.Type, c.Movement, c.Approach, c.Zone)
	}
	if c.Severity != events.Serious || c.MaxDRACMPS2 == nil || !near(*c.MaxDRACMPS2, 8/(2*0.6875), 1e-9) || !c.DRACFlagged {
		t.Errorf("severity %q DRAC %v", c.Severity, deref(c.MaxDRACMPS2))
	}
	if !near(c.XM, (25.5+28)/2, 1e-9) || !near(c.YM, (10+8+1.4*0.6875)/2, 1e-9) || !near(c.AngleDeg, 90, 1e-9) {
		t.Errorf("place (%v, %v) angle %v", c.XM, c.YM, c.AngleDeg)
	}
	if c.PETS != nil {
		t.Errorf("PET %v: the paths never crossed", *c.PETS)
	}

	// Same scene, the pedestrian stepping off mid-block (crosswalk zone
	// elsewhere): right-turn-mid-block.
	cfg.Zones[0].Polygon = Polygon{{40, 4}, {44, 4}, {44, 14}, {40, 14}}
	encs, _ = simulate(t, cfg, 10,
		user{id: 1, class: events.Car, to: 10, frames0: 20, state: rightTurn},
		user{id: 2, class: events.Pedestrian, to: 10, frames0: 20, state: ped},
	)
	if len(encs) != 1 || encs[0].Type != events.RightTurnMidBlock || encs[0].Zone != "" {
		t.Fatalf("mid-block: %+v", encs)
	}
}

func TestRearEnd(t *testing.T) {
	// Follower at 10 m/s 10 m behind a leader at 5 m/s: TTC 5.5/5 = 1.1 s;
	// the follower matches the leader's speed from t=0.1, so that is the
	// minimum. DRAC = (10 − 5)/(2·1.1).
	follower := func(t float64) (x, y, vx, vy, h float64) {
		if t < 0.05 {
			return 0, 0, 10, 0, 0
		}
		return 1 + 5*(t-0.1), 0, 5, 0, 0
	}
	encs, _ := simulate(t, DefaultConfig(), 5,
		user{id: 1, class: events.Car, to: 5, frames0: 20, state: follower},
		user{id: 2, class: events.Car, to: 5, frames0: 20, state: straight(10, 0, 5, 0)},
	)
	if len(encs) != 1 {
		t.Fatalf("%d encounters, want 1", len(encs))
	}
	c := encs[0]
	if c.MinTTCS == nil || !near(*c.MinTTCS, 1.1, 1e-9) || c.Type != events.RearEnd || c.Severity != events.Minor ||
		c.MaxDRACMPS2 == nil || !near(*c.MaxDRACMPS2, 5/2.2, 1e-9) || c.DRACFlagged || c.AngleDeg != 0 {
		t.Fatalf("TTC %v type %q severity %q DRAC %v angle %v", deref(c.MinTTCS), c.Type, c.Severity, deref(c.MaxDRACMPS2), c.AngleDeg)
	}
}

func TestNoConflict(t *testing.T) {
	tests := []struct {
		name  string
		users []user
	}{
		{"parallel", []user{
			{id: 1, class: events.Car, to: 5, frames0: 20, state: straight(0, 0, 10, 0)},
			{id: 2, class: events.Pedestrian, to: 5, frames0: 20, state: straight(5, 3, 1.4, 0)},
		}},
		{"stationary vehicle, pedestrian passing its side", []user{
			{id: 1, class: events.Car, to: 5, frames0: 20, state: straight(0, 0, 0, 0)},
			{id: 2, class: events.Pedestrian, to: 5, frames0: 20, state: straight(-4, 2, 1.4, 0)},
		}},
		// A pedestrian walking straight into a parked car's side (TTC would
		// be (5.75 − 0.9)/1.5 s): not a conflict, the car is not moving.
		{"stationary vehicle, pedestrian walking into it", []user{
			{id: 1, class: events.Car, to: 5, frames0: 20, state: straight(0, 0, 0, 0)},
			{id: 2, class: events.Pedestrian, to: 5, frames0: 20, state: straight(0, 6, 0, -1.5)},
		}},
		{"pedestrians crossing each other", []user{
			{id: 1, class: events.Pedestrian, to: 5, frames0: 20, state: straight(0, 0, 1.4, 0)},
			{id: 2, class: events.Pedestrian, to: 5, frames0: 20, state: straight(7, 0, -1.4, 0)},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			encs, e := simulate(t, DefaultConfig(), 5, tt.users...)
			if len(encs) != 0 {
				t.Fatalf("encounters %+v", encs)
			}
			if s := e.Stats(); s.TTCPairs != 0 || s.Candidates != 0 {
				t.Errorf("stats %+v", s)
			}
		})
	}
}

func TestGuard(t *testing.T) {
	headOn := func(a, b user) []user {
		a.class, b.class = events.Car, events.Pedestrian
		a.id, b.id, a.to, b.to = 1, 2, 6, 6
		a.state, b.state = straight(0, 0, 10, 0), straight(30, 0, -1, 0)
		return []user{a, b}
	}
	tests := []struct {
		name   string
		users  []user
		reason string
	}{
		// A brand-new track (age 1 frame) all along: nothing counts.
		{"young", headOn(user{}, user{frames0: -1000}), "young track"},
		{"id switch", headOn(user{frames0: 20, switchAt: 1}, user{frames0: 20}), "id switch"},
		{"speed", func() []user {
			u := headOn(user{frames0: 20}, user{frames0: 20})
			u[0].state = straight(-300, 0, 100, 0) // 100 m/s car: pixels, not metres
			return u
		}(), "implausible speed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			encs, e := simulate(t, DefaultConfig(), 6, tt.users...)
			if len(encs) != 0 {
				t.Fatalf("reported %+v", encs)
			}
			s := e.Stats()
			if s.Suppressed[tt.reason] != 1 || s.Candidates != 1 || s.SuppressedShare() != 1 {
				t.Fatalf("stats %+v", s)
			}
		})
	}
}

func TestToNearMiss(t *testing.T) {
	ttc, dr := 0.7, 4.0
	enc := Encounter{ID: 1, TrackA: 2, ClassA: events.Pedestrian, TrackB: 5, ClassB: events.Car,
		StartS: 10, EndS: 12.5, TimeS: 11, MinTTCS: &ttc, MaxDRACMPS2: &dr, MinDistanceM: 1.2,
		SpeedAMPS: 1.3, SpeedBMPS: 7, AngleDeg: 85, Type: events.RightTurnCrosswalk, Severity: events.Serious,
		XM: 3, YM: 4}
	origin := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	h := events.NewHeader(events.KindNearMiss, "site-1", "cam-1", time.Time{})
	n := enc.ToNearMiss(h, origin, func(x, y float64) (float64, float64) { return 40 + y/1e5, -111 + x/1e5 })
	if err := n.Validate(); err != nil {
		t.Fatal(err)
	}
	if !n.Time.Equal(origin.Add(11*time.Second)) || !n.End.Equal(origin.Add(12500*time.Millisecond)) ||
		*n.MinTTCS != 0.7 || n.PETS != nil || n.Lat != 40.00004 || n.Lng != -110.99997 {
		t.Errorf("%+v", n)
	}
	enc.Severity = ""
	if enc.ToNearMiss(h, origin, nil) != nil {
		t.Error("an interaction became a near-miss event")
	}
}

func TestParseConfig(t *testing.T) {
	cfg, err := ParseConfig([]byte("near_miss_ttc_s: 2\nmax_speed_mps: {car: 30}\nzones:\n  - {name: cw, kind: crosswalk, polygon: [[0,0],[1,0],[1,1]]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.NearMissTTCS != 2 || cfg.MaxSpeedMPS[events.Car] != 30 || cfg.MaxSpeedMPS[events.Pedestrian] != 10 || len(cfg.Zones) != 1 || cfg.HorizonS != 10 {
		t.Errorf("%+v", cfg)
	}
	if cfg, err := ParseConfig(nil); err != nil || cfg.NearMissPETS != 2 {
		t.Errorf("empty config: %v %+v", err, cfg)
	}
	if cfg, err := ParseConfig([]byte("type_clear_m: 15\ntype_max_wait_s: 0\n")); err != nil || cfg.TypeClearM != 15 || cfg.TypeMaxWaitS != 0 {
		t.Errorf("typing hold: %v %+v", err, cfg)
	}
	for _, bad := range []string{"near_miss_tc_s: 2", "horizon_s: -1", "zones: [{name: x, kind: park, polygon: [[0,0],[1,0],[1,1]]}]", "critical_s: 3",
		"type_clear_m: -1", "type_max_wait_s: .nan", "type_max_wait_s: 20"} { // 20 + 1 + 5 > history_s 25
		if _, err := ParseConfig([]byte(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// A car approaching a red light brakes for a pedestrian crossing in front
// (TTC ≈ 1.3 s), waits at the stop line, then turns right on red. When the
// encounter closes the car has not turned yet: judged then it would be a
// "through" conflict. The engine holds vehicle–VRU encounters until the
// vehicle is type_clear_m from the conflict point, so it is a right turn.
func TestMovementJudgedAfterTheManoeuvre(t *testing.T) {
	car := func(t float64) (x, y, vx, vy, h float64) {
		const r, v = 5.0, 4.0
		switch {
		case t < 3:
			return 0, -31 + 5*t, 0, 5, math.Pi / 2
		case t < 6:
			return 0, -16, 0, 0, math.Pi / 2
		}
		phi := v * (t - 6) / r
		if phi < math.Pi/2 {
			h := math.Pi/2 - phi
			return r - r*math.Cos(phi), -16 + r*math.Sin(phi), v * math.Cos(h), v * math.Sin(h), h
		}
		s := v*(t-6) - r*math.Pi/2
		return r + s, -16 + r, v, 0, 0
	}
	cfg := DefaultConfig()
	cfg.Zones = []Zone{{Name: "crosswalk-s", Kind: ZoneCrosswalk, Polygon: Polygon{{-8.5, -13.5}, {8.5, -13.5}, {8.5, -10.5}, {-8.5, -10.5}}}}
	users := []user{
		{id: 1, class: events.Car, to: 15, frames0: 20, state: car},
		{id: 2, class: events.Pedestrian, from: 1.8, to: 15, frames0: 20, state: func(t float64) (float64, float64, float64, float64, float64) {
			return 3 - 1.3*(t-1.8), -12, -1.3, 0, math.Pi
		}},
	}
	for _, c := range []struct {
		name     string
		waitS    float64
		movement string
		typ      events.ConflictType
	}{
		{"held", cfg.TypeMaxWaitS, "right", events.RightTurnCrosswalk},
		{"judged at close", 0, "through", events.ThroughCrosswalk},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := cfg
			cfg.TypeMaxWaitS = c.waitS
			encs, _ := simulate(t, cfg, 15, users...)
			// (A second encounter, a PET interaction, follows when the
			// turning car crosses the pedestrian's path behind them.)
			if len(encs) == 0 || !encs[0].NearMiss() || encs[0].MinTTCS == nil || *encs[0].TMinTTCS > 3 {
				t.Fatalf("want the TTC near miss first, got %+v", encs)
			}
			e := encs[0]
			if e.Movement != c.movement || e.Type != c.typ || e.Zone != "crosswalk-s" {
				t.Errorf("movement %q type %q zone %q, want %q %q crosswalk-s", e.Movement, e.Type, e.Zone, c.movement, c.typ)
			}
		})
	}
}

// A through car crosses the crosswalk 1.3 s after the pedestrian has left
// the conflict area: when the car arrives the pedestrian is past the
// crosswalk's far edge, but the conflict point (where their paths crossed)
// is in the crosswalk, so it is a crosswalk conflict, not mid-block.
func TestPETTypedByConflictPoint(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Zones = []Zone{{Name: "crosswalk-e", Kind: ZoneCrosswalk, Polygon: Polygon{{26, 8}, {30, 8}, {30, 12}, {26, 12}}}}
	encs, _ := simulate(t, cfg, 12,
		user{id: 1, class: events.Car, to: 12, frames0: 20, state: straight(-20, 10, 8, 0)},
		user{id: 2, class: events.Pedestrian, to: 12, frames0: 20, state: straight(28, 5, 0, 1.4)},
	)
	if len(encs) != 1 || encs[0].PETS == nil || encs[0].MinTTCS != nil {
		t.Fatalf("want one PET-only encounter, got %+v", encs)
	}
	e := encs[0]
	// Pedestrian leaves the 1.8 m car corridor (y ≤ 10.9) with its back
	// edge at y = 11.15 → t = 4.393; the car's front reaches x = 27.75 at
	// t = (27.75 − 2.25 + 20)/8 = 5.6875. PET = 1.295 s (sampled at 10 Hz).
	if !near(*e.PETS, 1.295, 0.05) || e.PETFirst != 2 {
		t.Errorf("PET %.3f first %d, want 1.295, pedestrian first", *e.PETS, e.PETFirst)
	}
	if p := 5 + 1.4*e.TimeS; p < 12 {
		t.Fatalf("pedestrian at y = %.2f at the conflict time: the case needs it past the crosswalk", p)
	}
	if e.Type != events.ThroughCrosswalk || e.Zone != "crosswalk-e" {
		t.Errorf("type %q zone %q, want through-crosswalk in crosswalk-e", e.Type, e.Zone)
	}
}

// Two parked cars whose (default) footprints overlap, with box jitter that
// looks like 0.8 m/s back and forth: they were never seen closing in, so
// their overlap is no conflict. A car that drives into a stopped one is:
// the approach is observed (TTC > 0) before the overlap (TTC 0).
func TestOverlapAtFirstSight(t *testing.T) {
	jitter := func(x0, y0 float64, phase int) func(float64) (float64, float64, float64, float64, float64) {
		return func(t float64) (float64, float64, float64, float64, float64) {
			s := 1.0
			if (int(math.Round(t*10))+phase)%2 == 1 {
				s = -1
			}
			return x0 + 0.04*s, y0, 0.8 * s, 0, 0
		}
	}
	encs, e := simulate(t, DefaultConfig(), 20,
		user{id: 1, class: events.Car, to: 20, frames0: 20, state: jitter(0, 0, 0)},
		user{id: 2, class: events.Car, to: 20, frames0: 20, state: jitter(4, 0.3, 1)},
	)
	if len(encs) != 0 {
		t.Errorf("parked cars: %d encounters, want none: %+v", len(encs), encs)
	}
	if s := e.Stats(); s.OverlapFirstSight == 0 || s.TTCPairs != 0 {
		t.Errorf("stats %+v: want overlap counted, no TTC pairs", s)
	}

	// (Out of phase, so half the steps they seem to close in.)

	// Car 1 drives at 5 m/s into stopped car 2 whose rear is 10 m ahead of
	// its front at t = 0: contact at 2 s, then (the script ignores
	// physics) they overlap.
	encs, _ = simulate(t, DefaultConfig(), 6,
		user{id: 1, class: events.Car, to: 6, frames0: 20, state: straight(0, 0, 5, 0)},
		user{id: 2, class: events.Car, to: 6, frames0: 20, state: straight(14.5, 0, 0, 0)},
	)
	if len(encs) != 1 || encs[0].MinTTCS == nil || *encs[0].MinTTCS != 0 || encs[0].Severity != events.Critical || encs[0].Type != events.RearEnd {
		t.Fatalf("collision: want one critical rear-end with TTC 0, got %+v", encs)
	}
}

// Two cars following in one lane, 8 m apart at 8 m/s, with lateral box
// jitter of ±0.3 m that makes their frame-to-frame path segments zigzag
// across each other at ~74°. Their smoothed velocities are parallel: the
// paths do not cross, there is no PET. (With the angle taken from the
// segments, a crossing was found ~0.7 s apart: a false PET conflict, as a
// car turning into the lane of another made on the twin.)
func TestFollowingWithJitterHasNoCrossing(t *testing.T) {
	hist := func(x0 float64, phase int) []sample {
		var h []sample
		for k := 0; k <= 80; k++ {
			ts := float64(k) / 10
			y := 0.3
			if (k+phase)%2 == 1 {
				y = -0.3
			}
			h = append(h, sample{t: ts, p: vec{x0 + 8*ts, y}, v: vec{8, 0}, length: 4.5, width: 1.8})
		}
		return h
	}
	e := NewEngine(DefaultConfig())
	ps := &pairState{a: &track{id: 1, class: events.Car, hist: hist(8, 0)}, b: &track{id: 2, class: events.Car, hist: hist(0, 1)}, start: 8}
	if pr, ok := e.postEncroachment(ps); ok {
		t.Errorf("paths of following cars cross: PET %.2f s at (%.1f, %.1f), angle %.0f°", pr.pet, pr.place.x, pr.place.y, pr.angleDeg)
	}
}

// A car turning left at 6 m/s on a 10 m radius (lateral acceleration
// 3.6 m/s²) with a pedestrian standing on the kerb 10 m down the tangent
// of its arc: constant-velocity prediction says TTC (10 − 2.25 − 0.25)/6 =
// 1.25 s, but the car's straight line leaves its arc by half its width
// after √(1.8/3.6) = 0.71 s: that collision is predicted where the car will
// not be, and the car in fact passes 4.1 m (centres) from the pedestrian. A pedestrian
// standing on the arc itself is hit, and the engine sees it in time.
func TestTurningVehiclePrediction(t *testing.T) {
	const r, v = 10.0, 6.0
	w := v / r
	car := func(t float64) (x, y, vx, vy, h float64) {
		th := -math.Pi/2 + w*t // angle on the circle around the origin
		h = th + math.Pi/2
		return r * math.Cos(th), r * math.Sin(th), v * math.Cos(h), v * math.Sin(h), h
	}
	x2, y2, _, _, h2 := car(2)
	kerb := func(float64) (x, y, vx, vy, h float64) { return x2 + 10*math.Cos(h2), y2 + 10*math.Sin(h2), 0, 0, 0 }
	onArc := func(float64) (x, y, vx, vy, h float64) {
		x, y, _, _, _ = car(2 + 8/v)
		return x, y, 0, 0, 0
	}
	cfg := DefaultConfig()
	encs, e := simulate(t, cfg, 5,
		user{id: 1, class: events.Car, to: 5, frames0: 20, state: car},
		user{id: 2, class: events.Pedestrian, from: 2, to: 5, frames0: 20, state: kerb},
	)
	for _, c := range encs {
		if c.NearMiss() {
			t.Errorf("pedestrian off the arc: near miss %+v (TTC %v)", c, deref(c.MinTTCS))
		}
	}
	if e.Stats().TurnLimited == 0 {
		t.Error("no prediction was limited: the case did not test the rule")
	}
	encs, _ = simulate(t, cfg, 5,
		user{id: 1, class: events.Car, to: 5, frames0: 20, state: car},
		user{id: 2, class: events.Pedestrian, from: 2, to: 5, frames0: 20, state: onArc},
	)
	if len(encs) == 0 || encs[0].MinTTCS == nil || *encs[0].MinTTCS > math.Sqrt(1.8/(v*w)) || encs[0].Severity != events.Critical {
		t.Fatalf("pedestrian on the arc: want a critical TTC within the prediction limit, got %+v", encs)
	}
}
