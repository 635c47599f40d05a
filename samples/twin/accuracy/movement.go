package accuracy

import (
	"math"

	"github.com/intersect-oss/intersect/edge"
	"github.com/intersect-oss/intersect/events"
	"github.com/intersect-oss/intersect/tracker/conflict"
	"github.com/intersect-oss/intersect/tracker/trajectory"
)

// MovementReport compares the movement (through, left, right) the edge
// put in vehicle track summaries with the true vehicle's: exposure by
// movement (store.ExposureCount) and the advisor rest on it.
type MovementReport struct {
	Correct Count // summaries with a movement naming the true vehicle's
	Missing int   // summaries of true vehicles that moved, without a movement
}

// trueMovements judges each true vehicle's movement from its exact
// trajectory, as the edge judges a track's (conflict.MovementOf over the
// heading changes while moving, once it drove 10 m).
func trueMovements(truth []trajectory.Row, turnDeg float64) map[int64]string {
	type acc struct {
		turn       conflict.Turn
		dist, x, y float64
		seen       bool
	}
	by := map[int64]*acc{}
	for _, r := range truth {
		if r.Class.Vulnerable() {
			continue
		}
		a := by[r.TrackID]
		if a == nil {
			a = &acc{}
			by[r.TrackID] = a
		}
		if a.seen {
			a.dist += math.Hypot(r.X-a.x, r.Y-a.y)
		}
		a.x, a.y, a.seen = r.X, r.Y, true
		a.turn.Add(math.Hypot(r.VX, r.VY), math.Atan2(r.VY, r.VX))
	}
	out := map[int64]string{}
	for id, a := range by {
		if m := a.turn.Movement(turnDeg); m != "" && a.dist >= 10 {
			out[id] = m
		}
	}
	return out
}

// compareMovements scores the ended tracks' movements against the true
// vehicles they are (by the identity rule).
func compareMovements(ended []edge.TrackStats, truth map[int64]string, ids identities) MovementReport {
	var r MovementReport
	for _, s := range ended {
		if s.Class.Vulnerable() || s.Class == events.Class("") {
			continue
		}
		g, ok := ids.whole[s.ID]
		if !ok {
			continue
		}
		want, ok := truth[g]
		if !ok {
			continue
		}
		if s.Movement == "" {
			r.Missing++
			continue
		}
		r.Correct.Total++
		if s.Movement == want {
			r.Correct.Matched++
		}
	}
	return r
}
