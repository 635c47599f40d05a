package twin

import (
	"fmt"
	"image/color"
	"math"
	"math/rand/v2"
	"sort"

	"github.com/intersect-oss/intersect/events"
	"github.com/intersect-oss/intersect/tracker"
)

// Intersection geometry (metres). Two two-way roads cross at the origin,
// two 3.5 m lanes per direction, right-hand traffic.
const (
	roadHalfM     = 7.0  // kerb to centre line
	laneM         = 3.5  // lane width
	kerbRadiusM   = 3.0  // corner kerb radius
	crossNearM    = 10.5 // crosswalk band starts this far from the centre...
	crossFarM     = 13.5 // ...and ends here (3 m wide)
	stopLineM     = 15.0 // stop line, this far from the centre
	sidewalkOutM  = 16.0 // outer edge of the sidewalks
	approachM     = 80.0 // paths start and end this far out
	pedKeepRightM = 0.7  // pedestrians keep right of the crosswalk centre
)

// Lane centres from the centre line.
const (
	innerLaneM = laneM / 2     // 1.75
	outerLaneM = laneM * 3 / 2 // 5.25
	crossMidM  = (crossNearM + crossFarM) / 2
	leftTurnR  = 10.0
)

// Signal plan: two phases plus concurrent pedestrian intervals. Phase A
// serves northbound/southbound traffic and the east and west crosswalks
// (they run parallel to it); phase B serves eastbound/westbound traffic and
// the north and south crosswalks.
const (
	cycleS    = 48.0
	greenS    = 20.0
	yellowS   = 3.0
	allRedS   = 1.0
	walkS     = 7.0
	phaseBOnS = greenS + yellowS + allRedS // 24
)

// SignalState is what a movement's signal shows.
type SignalState string

// Signal indications.
const (
	Green       SignalState = "green"
	Yellow      SignalState = "yellow"
	Red         SignalState = "red"
	Walk        SignalState = "walk"
	FlashDontWk SignalState = "flashing-dont-walk"
	DontWalk    SignalState = "dont-walk"
)

// Signal returns the vehicle and pedestrian indications of phase "A"
// (NB/SB, east/west crosswalks) or "B" (EB/WB, north/south crosswalks) at
// time tS.
func Signal(phaseName string, tS float64) (vehicle, ped SignalState) {
	c := math.Mod(tS, cycleS)
	if c < 0 {
		c += cycleS
	}
	if phaseName == "B" {
		c = math.Mod(c-phaseBOnS+cycleS, cycleS)
	}
	switch {
	case c < walkS:
		return Green, Walk
	case c < greenS:
		return Green, FlashDontWk
	case c < greenS+yellowS:
		return Yellow, DontWalk
	}
	return Red, DontWalk
}

// Agent is one scripted road user.
type Agent struct {
	ID                       int
	Class                    events.Class
	LengthM, WidthM, HeightM float64
	Body, Trim               color.RGBA // main colour; trousers / windows
	Role                     string     // "background" or the scripted event it belongs to
	path                     path
	motion                   motion
}

// State is a road user's exact state at one instant.
type State struct {
	XM, YM, VXMPS, VYMPS, HeadingRad, SpeedMPS float64
}

// Active reports whether the agent exists at time tS.
func (a *Agent) Active(tS float64) bool {
	return tS >= a.motion.start()-1e-9 && tS <= a.motion.end()+1e-9
}

// StateAt returns the agent's state at tS (clamped to its life).
func (a *Agent) StateAt(tS float64) State {
	s, v := a.motion.at(tS)
	p, tan := a.path.at(s)
	return State{XM: p.x, YM: p.y, VXMPS: v * tan.x, VYMPS: v * tan.y, HeadingRad: math.Atan2(tan.y, tan.x), SpeedMPS: v}
}

// Interval returns when the agent enters and leaves the scene.
func (a *Agent) Interval() (startS, endS float64) { return a.motion.start(), a.motion.end() }

// Scripted is a planned interaction with the measure it was built to have.
type Scripted struct {
	Name     string              // e.g. "nm1-rtor-ttc"
	Measure  string              // "ttc" or "pet"
	ValueS   float64             // the scripted TTC or PET
	AtS      float64             // when: moment of minimum TTC, or the second user's entry
	Vehicle  int                 // track ID of the vehicle
	Ped      int                 // track ID of the pedestrian
	Type     events.ConflictType // what the engine should call it
	NearMiss bool                // within DESIGN.md's near-miss thresholds
}

// Scene is the whole scripted intersection.
type Scene struct {
	Camera    Camera
	DurationS float64
	Agents    []*Agent
	Scripted  []Scripted
}

// DefaultCamera is a pole at the south-west corner, 16 m up, looking
// north-east across the intersection, tilted so that it sees the far
// approaches some 25 m back from their stop lines.
func DefaultCamera(width, height int) Camera {
	return Camera{
		XM: -21, YM: -24, HeightM: 16,
		YawRad: math.Atan2(24, 21), TiltRad: 30 * math.Pi / 180,
		FocalPx: 0.8 * float64(width), Width: width, Height: height,
	}
}

// Homography is the exact image → ground homography of the scene's camera.
func (sc *Scene) Homography() tracker.Homography {
	H, _ := sc.Camera.Homography() // the default camera sees the ground; NewScene checked it
	return H
}

// approach angles: paths are written for northbound and rotated.
var approachRad = map[string]float64{"NB": 0, "WB": math.Pi / 2, "SB": math.Pi, "EB": -math.Pi / 2}

// vehiclePath returns the path of a movement ("through", "right", "left")
// from an approach in a lane offset (metres right of the centre line), and
// the arc lengths where the turn starts and ends (equal for through).
func vehiclePath(approach, movement string, laneOffM float64) (p path, turnStart, turnEnd float64) {
	b := newPath(pt{laneOffM, -approachM}, math.Pi/2)
	switch movement {
	case "right":
		r := roadHalfM + kerbRadiusM - laneOffM // ends in the outer lane of the cross street
		turnStart = approachM - (roadHalfM + kerbRadiusM)
		b.line(turnStart).turn(r, -math.Pi/2).line(approachM)
		turnEnd = turnStart + r*math.Pi/2
	case "left":
		// from the inner lane into the outer lane of the cross street
		turnStart = approachM - (leftTurnR - outerLaneM)
		b.line(turnStart).turn(leftTurnR, math.Pi/2).line(approachM)
		turnEnd = turnStart + leftTurnR*math.Pi/2
	default:
		b.line(2 * approachM)
		turnStart, turnEnd = approachM, approachM
	}
	return b.done().rotated(approachRad[approach]), turnStart, turnEnd
}

// pedPath crosses the leg of the intersection on side ("N", "S", "E", "W")
// walking in direction dir (+1: counter-clockwise around the intersection,
// −1: clockwise), keeping right, from lenM before the kerb line centre.
// It returns the path and the arc length where the crossing line meets the
// given distance from the road centre line along the walking direction.
func pedPath(side string, dir float64, lenM float64) path {
	// Written for the east crosswalk walking north (dir +1): x = crossMid,
	// keeping right puts the walker on the east side.
	x := crossMidM + pedKeepRightM
	h := math.Pi / 2
	start := pt{x, -lenM}
	if dir < 0 {
		x = crossMidM - pedKeepRightM
		h = -math.Pi / 2
		start = pt{x, lenM}
	}
	p := newPath(start, h).line(2 * lenM).done()
	rot := map[string]float64{"E": 0, "N": math.Pi / 2, "W": math.Pi, "S": -math.Pi / 2}[side]
	return p.rotated(rot)
}

// palette: saturated colours that stand out from asphalt for a background
// subtractor (no near-black or road-grey vehicles).
var carColours = []color.RGBA{
	{200, 30, 30, 0}, {230, 230, 235, 0}, {30, 70, 190, 0}, {220, 190, 40, 0},
	{40, 150, 60, 0}, {170, 170, 180, 0}, {150, 40, 150, 0}, {230, 120, 30, 0},
}
var shirtColours = []color.RGBA{
	{220, 40, 40, 0}, {40, 90, 220, 0}, {240, 200, 40, 0}, {40, 170, 80, 0},
	{240, 120, 30, 0}, {160, 60, 200, 0},
}
var trouserColours = []color.RGBA{{40, 40, 70, 0}, {70, 55, 40, 0}, {30, 30, 30, 0}, {60, 90, 140, 0}}

type sceneBuilder struct {
	rng    *rand.Rand
	agents []*Agent
	script []scriptedPair
	err    error
}

type scriptedPair struct {
	Scripted
	vehicle, ped *Agent
}

func (b *sceneBuilder) add(class events.Class, role string, p path, pr *profile) *Agent {
	m, err := pr.finish(p.total)
	if err != nil {
		if b.err == nil {
			b.err = fmt.Errorf("scene: %s %s: %w", role, class, err)
		}
		return nil
	}
	a := &Agent{Class: class, Role: role, path: p, motion: m}
	switch class {
	case events.Pedestrian:
		a.LengthM, a.WidthM, a.HeightM = 0.5, 0.5, 1.7
		a.Body = shirtColours[b.rng.IntN(len(shirtColours))]
		a.Trim = trouserColours[b.rng.IntN(len(trouserColours))]
	case events.Bicycle:
		a.LengthM, a.WidthM, a.HeightM = 1.8, 0.6, 1.7
		a.Body = shirtColours[b.rng.IntN(len(shirtColours))]
		a.Trim = color.RGBA{30, 30, 30, 0}
	case events.Bus:
		a.LengthM, a.WidthM, a.HeightM = 12, 2.55, 3.2
		a.Body = []color.RGBA{{240, 200, 30, 0}, {30, 120, 200, 0}}[b.rng.IntN(2)]
		a.Trim = color.RGBA{40, 50, 60, 0}
	case events.Truck:
		a.LengthM, a.WidthM, a.HeightM = 8, 2.5, 3.5
		a.Body = []color.RGBA{{235, 235, 235, 0}, {200, 60, 40, 0}}[b.rng.IntN(2)]
		a.Trim = color.RGBA{40, 50, 60, 0}
	default:
		a.LengthM, a.WidthM, a.HeightM = 4.5, 1.8, 1.5
		a.Body = carColours[b.rng.IntN(len(carColours))]
		a.Trim = color.RGBA{35, 45, 60, 0}
	}
	b.agents = append(b.agents, a)
	return a
}

// Speeds and rates (m/s, m/s²) of an urban intersection.
const (
	cruiseMPS    = 11.0 // 40 km/h
	rightTurnMPS = 4.5
	leftTurnMPS  = 6.0
	brakeMPS2    = 2.0 // comfortable
	accelMPS2    = 1.8
	walkMPS      = 1.3
	pedAccelMPS2 = 1.5
)

// vehicleOnGreen is a vehicle that keeps cruising (slowing for its turn)
// and passes its stop line at tStop.
func (b *sceneBuilder) vehicleOnGreen(class events.Class, role, approach, movement string, laneOffM, tStop float64) *Agent {
	return b.vehicleAnchored(class, role, approach, movement, laneOffM, func(path) float64 { return approachM - stopLineM }, tStop)
}

// vehicleAnchored is vehicleOnGreen pinned at another point of its path:
// the centre is at arc length sAt(path) at time t.
func (b *sceneBuilder) vehicleAnchored(class events.Class, role, approach, movement string, laneOffM float64, sAt func(path) float64, t float64) *Agent {
	p, ts, te := vehiclePath(approach, movement, laneOffM)
	v := cruiseMPS
	if class == events.Bicycle {
		v = 5
	}
	pr := newProfile(0, v)
	switch movement {
	case "right":
		pr.speedAt(ts, math.Min(v, rightTurnMPS), brakeMPS2).cruiseTo(te).speedTo(v, accelMPS2)
	case "left":
		pr.speedAt(ts, math.Min(v, leftTurnMPS), brakeMPS2).cruiseTo(te).speedTo(v, accelMPS2)
	}
	pr.anchor(sAt(p), t)
	return b.add(class, role, p, pr)
}

// travelFromRest is the time to cover d metres starting from rest,
// accelerating at a up to speed v.
func travelFromRest(d, v, a float64) float64 {
	da := v * v / (2 * a)
	if d <= da {
		return math.Sqrt(2 * d / a)
	}
	return v/a + (d-da)/v
}

// NewScene scripts the intersection for durationS seconds from a seed.
func NewScene(seed uint64, durationS float64, cam Camera) (*Scene, error) {
	if err := cam.Validate(); err != nil {
		return nil, err
	}
	if _, err := cam.Homography(); err != nil {
		return nil, err
	}
	if !(durationS > 0) || durationS > 3600 {
		return nil, fmt.Errorf("scene: duration %v s out of range (0, 3600]", durationS)
	}
	b := &sceneBuilder{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
	for k := 0; float64(k)*cycleS < durationS; k++ {
		b.cycle(float64(k) * cycleS)
	}
	if b.err != nil {
		return nil, b.err
	}
	// Keep who appears within the duration, and the encounters among them.
	kept := b.agents[:0]
	for _, a := range b.agents {
		if a.motion.start() < durationS {
			kept = append(kept, a)
		}
	}
	b.agents = kept
	// Track IDs in order of appearance, ties by script order: deterministic.
	sort.SliceStable(b.agents, func(i, j int) bool { return b.agents[i].motion.start() < b.agents[j].motion.start() })
	for i, a := range b.agents {
		a.ID = i + 1
	}
	for i := range b.script {
		b.script[i].Vehicle = b.script[i].vehicle.ID
		b.script[i].Ped = b.script[i].ped.ID
	}
	sc := &Scene{Camera: cam, DurationS: durationS, Agents: b.agents}
	for _, s := range b.script {
		if s.AtS < durationS {
			sc.Scripted = append(sc.Scripted, s.Scripted)
		}
	}
	return sc, nil
}
