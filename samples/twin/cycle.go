package twin

import (
	"math"

	"github.com/intersect-oss/intersect/events"
)

// Half extents used to place scripted encounters: car 4.5 × 1.8 m,
// pedestrian 0.5 × 0.5 m (DESIGN.md's and the conflict engine's defaults).
const (
	carHalfLenM = 2.25
	carHalfWidM = 0.9
	pedHalfM    = 0.25
)

// walker is a pedestrian walking at constant speed, at arc length s at time t.
func (b *sceneBuilder) walker(role string, p path, speedMPS, s, t float64) *Agent {
	return b.add(events.Pedestrian, role, p, newProfile(0, speedMPS).anchor(s, t))
}

// waiter walks to the kerb (arc length sKerb), arrives at tArrive, waits
// for tDepart and walks on at speedMPS.
func (b *sceneBuilder) waiter(role string, p path, speedMPS, sKerb, tArrive, tDepart float64) *Agent {
	pr := newProfile(0, speedMPS).speedAt(sKerb, 0, 1.0).anchor(sKerb, tArrive).waitUntil(tDepart).speedTo(speedMPS, pedAccelMPS2)
	return b.add(events.Pedestrian, role, p, pr)
}

func (b *sceneBuilder) script1(s Scripted, veh, ped *Agent) {
	if veh == nil || ped == nil {
		return // b.err says why
	}
	b.script = append(b.script, scriptedPair{Scripted: s, vehicle: veh, ped: ped})
}

// timeAt is when agent a's centre reaches arc length s.
func timeAt(a *Agent, s float64) float64 {
	if a == nil {
		return 0
	}
	t, _ := a.motion.timeAt(s)
	return t
}

// cycle scripts one signal cycle starting at t0: the scripted encounters
// (fixed geometry and timing, so their TTC/PET are known) and background
// traffic drawn from the seed in lanes and time windows that cannot meet
// the scripted users.
func (b *sceneBuilder) cycle(t0 float64) {
	// ---- Phase A: NB/SB green 0–20 s, east/west crosswalks walk 0–7 s.

	// NM2, PET 1.5 s, left turn: a pedestrian walking north on the west
	// crosswalk clears the northbound left-turner's path 1.5 s before the
	// car enters hers.
	p2 := pedPath("W", -1, 30) // x = −11.3, heading north
	ped2 := b.walker("nm2-left-turn-pet", p2, walkMPS, 30+outerLaneM+carHalfWidM+pedHalfM, t0+12.0)
	car2 := b.vehicleAnchored(events.Car, "nm2-left-turn-pet", "NB", "left", innerLaneM,
		func(p path) float64 {
			return p.sOn(2, pt{-(crossMidM - pedKeepRightM) + pedHalfM + carHalfLenM, outerLaneM})
		}, t0+13.5)
	b.script1(Scripted{Name: "nm2-left-turn-pet", Measure: "pet", ValueS: 1.5, AtS: t0 + 13.5,
		Type: events.LeftTurnCrosswalk, NearMiss: true}, car2, ped2)

	// NM4, PET 0.5 s, right turn: a running pedestrian (2.6 m/s) on the
	// east crosswalk enters the right-turner's path 0.5 s after it left.
	car4 := b.vehicleAnchored(events.Car, "nm4-right-turn-pet", "NB", "right", outerLaneM,
		func(p path) float64 {
			return p.sOn(2, pt{crossMidM + pedKeepRightM + pedHalfM + carHalfLenM, -outerLaneM})
		}, t0+9.0)
	p4 := pedPath("E", +1, 25) // x = 12.7, heading north
	ped4 := b.walker("nm4-right-turn-pet", p4, 2.6, 25-outerLaneM-carHalfWidM-pedHalfM, t0+9.5)
	b.script1(Scripted{Name: "nm4-right-turn-pet", Measure: "pet", ValueS: 0.5, AtS: t0 + 9.5,
		Type: events.RightTurnCrosswalk, NearMiss: true}, car4, ped4)

	// C1, PET 4.5 s: a pedestrian who reached the kerb on flashing don't
	// walk follows the runner on the east crosswalk and enters the same
	// right-turner's path 4.5 s after it left (an interaction, not a near
	// miss). She crosses where the car already drives straight, so every
	// reasonable conflict area gives the same PET.
	if car4 != nil {
		p5 := pedPath("E", +1, 30) // x = 12.7, heading north
		exit := car4.path.sOn(2, pt{crossMidM + pedKeepRightM + pedHalfM + carHalfLenM, -outerLaneM})
		tEnter := timeAt(car4, exit) + 4.5
		ped5 := b.walker("c1-right-turn-gap", p5, 1.4, 30-outerLaneM-carHalfWidM-pedHalfM, tEnter)
		b.script1(Scripted{Name: "c1-right-turn-gap", Measure: "pet", ValueS: 4.5, AtS: tEnter,
			Type: events.RightTurnCrosswalk}, car4, ped5)
	}

	// ---- Phase B: EB/WB green 24–44 s, north/south crosswalks walk 24–31 s.
	//
	// Its TTC encounters involve vehicles from the far approaches
	// (southbound, westbound), which the camera on the south-west pole sees
	// well beyond their stop lines: a TTC needs the vehicle's speed, and a
	// vehicle that only enters the picture at the crosswalk has none yet.

	// NM3, TTC 0.8 s, through: the westbound queue leader rolled up to its
	// stop line as the light turned green and crosses the intersection at
	// 5.5 m/s in the inner lane when a pedestrian who stepped off the
	// south-west corner against the don't walk reaches its lane on the west
	// crosswalk; at tb it brakes hard (7 m/s² > v/TTC). The camera sees the
	// two side by side, not one behind the other.
	var nm3GoneS float64 // when its car has pulled away again
	var nm3Walker *Agent // c2 meets her too
	{
		const ttc, v, brake = 0.8, 5.5, 7.0
		const rollMPS, pullAwayMPS2, greenS = 3.0, 1.5, 24.3
		pc, _, _ := vehiclePath("WB", "through", innerLaneM)
		edge := -(crossMidM - pedKeepRightM) + pedHalfM // her east edge, x = −10.55
		sb := pc.sOn(0, pt{edge + v*ttc + carHalfLenM, innerLaneM})
		sStop := pc.sOn(0, pt{stopLineM + carHalfLenM, innerLaneM}) // front on the stop line
		accelM := (v*v - rollMPS*rollMPS) / (2 * pullAwayMPS2)
		tb := t0 + greenS + (v-rollMPS)/pullAwayMPS2 + (sb-sStop-accelM)/v
		p3 := pedPath("W", -1, 30) // x = −10.8, heading north
		ped3 := b.walker("nm3-through-ttc", p3, 1.4, 30+innerLaneM-carHalfWidM-pedHalfM, tb+ttc-0.3)
		clear := timeAt(ped3, 30+innerLaneM+carHalfWidM+pedHalfM) + 2.0
		nm3GoneS, nm3Walker = clear+3, ped3
		pr := newProfile(0, cruiseMPS).speedAt(sStop, rollMPS, brakeMPS2).anchor(sStop, t0+greenS).
			speedTo(v, pullAwayMPS2).cruiseTo(sb).speedTo(0, brake).waitUntil(clear).speedTo(cruiseMPS, 1.2)
		car3 := b.add(events.Car, "nm3-through-ttc", pc, pr)
		b.script1(Scripted{Name: "nm3-through-ttc", Measure: "ttc", ValueS: ttc, AtS: tb,
			Type: events.ThroughCrosswalk, NearMiss: true}, car3, ped3)
	}

	// NM1, TTC 0.9 s, right turn on red: a southbound car rolls towards its
	// right turn at 5 m/s while a pedestrian, who stepped off the
	// north-east corner on her walk, crosses the north crosswalk westbound;
	// at tb she is about to enter its lane and the car, on a collision
	// course 0.9 s out, brakes hard (6.5 m/s² > v/TTC, so the TTC only
	// grows afterwards). She comes from the car's left as the camera sees
	// it, so the two stay apart in the picture.
	{
		const ttc, v, brake = 0.9, 5.0, 6.5
		p1 := pedPath("N", +1, 30) // y = 12.7, heading west
		kerb := 30 - (roadHalfM + 0.6)
		entry := 30 + outerLaneM - carHalfWidM - pedHalfM // she enters the car's lane corridor
		depart := t0 + 24.5
		tx := depart + travelFromRest(entry-kerb, walkMPS, pedAccelMPS2)
		tb := tx - ttc + 0.4
		ped1 := b.waiter("nm1-rtor-ttc", p1, walkMPS, kerb, t0+21.0, depart)
		pc, ts, te := vehiclePath("SB", "right", outerLaneM)
		edge := crossMidM + pedKeepRightM + pedHalfM // her north edge, y = 12.95
		sb := pc.sOn(0, pt{-outerLaneM, edge + v*ttc + carHalfLenM})
		// it turns once she has cleared its path and nm3's car, which it
		// would turn in beside, has pulled away
		clear := math.Max(timeAt(ped1, 30+outerLaneM+carHalfWidM+pedHalfM)+1.5, nm3GoneS)
		pr := newProfile(0, cruiseMPS).speedAt(sb-15, v, brakeMPS2).cruiseTo(sb).anchor(sb, tb).
			speedTo(0, brake).waitUntil(clear).speedTo(rightTurnMPS, brakeMPS2).cruiseTo(ts).cruiseTo(te).speedTo(cruiseMPS, 2.5)
		car1 := b.add(events.Car, "nm1-rtor-ttc", pc, pr)
		b.script1(Scripted{Name: "nm1-rtor-ttc", Measure: "ttc", ValueS: ttc, AtS: tb,
			Type: events.RightTurnCrosswalk, NearMiss: true}, car1, ped1)
	}

	// C2, PET 4 s: the eastbound left-turner crosses the west crosswalk 4 s
	// after nm3's walker has cleared its lane there (its approach side,
	// where it still drives straight: a through-crosswalk interaction).
	if nm3Walker != nil {
		out := timeAt(nm3Walker, 30-innerLaneM+carHalfWidM+pedHalfM)
		car6 := b.vehicleAnchored(events.Car, "c2-left-turn-gap", "EB", "left", innerLaneM,
			func(p path) float64 {
				return p.sOn(0, pt{-(crossMidM - pedKeepRightM) - pedHalfM - carHalfLenM, -innerLaneM})
			}, out+4.0)
		b.script1(Scripted{Name: "c2-left-turn-gap", Measure: "pet", ValueS: 4.0, AtS: out + 4.0,
			Type: events.ThroughCrosswalk}, car6, nm3Walker)
	}

	// A walker on the south crosswalk during her walk interval, with no
	// vehicle movement across her path.
	b.waiter("background", pedPath("S", +1, 30), 1.2, 30-(roadHalfM+0.6), t0+22.0, t0+24.8)

	// ---- Background through traffic, in windows that keep clear of the
	// scripted users (see the comments above for who is where).
	b.lane("NB", innerLaneM, t0, [][2]float64{{0.5, 5.0}, {14.5, 19}})
	b.lane("NB", outerLaneM, t0, [][2]float64{{10.5, 19}})
	b.lane("SB", innerLaneM, t0, [][2]float64{{0.5, 7.5}, {15.5, 19}}) // not across nm2's left turn
	b.lane("SB", outerLaneM, t0, [][2]float64{{0.5, 7.5}})
	b.vehicleOnGreen(events.Bicycle, "background", "SB", "through", roadHalfM-0.8, t0+16)
	// (no westbound inner-lane traffic: nm1's right turn and c2's left turn
	// leave it no gap of more than 2 s)
	b.lane("WB", outerLaneM, t0, [][2]float64{{42, 43.5}})
	// (eastbound traffic would meet nm3's walker on the west crosswalk
	// until she is across; the cyclist owns the outer lane after that)
	b.lane("EB", innerLaneM, t0, [][2]float64{{40, 43.5}}) // behind c2's left-turner
	b.vehicleOnGreen(events.Bicycle, "background", "EB", "through", roadHalfM-0.8, t0+40)
}

// lane adds through vehicles passing the stop line inside the windows
// (seconds into the cycle), at least 3.5 s apart; one in eight is a bus or
// a truck.
func (b *sceneBuilder) lane(approach string, laneOffM, t0 float64, windows [][2]float64) {
	for _, w := range windows {
		for t := w[0] + b.rng.Float64()*2; t <= w[1]; t += 3.5 + b.rng.Float64()*4 {
			class := events.Car
			switch r := b.rng.IntN(16); {
			case r == 0:
				class = events.Bus
			case r == 1:
				class = events.Truck
			}
			b.vehicleOnGreen(class, "background", approach, "through", laneOffM, t0+t)
		}
	}
}
