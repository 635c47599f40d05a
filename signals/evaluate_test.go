package signals

import (
	"strings"
	"testing"
	"time"

	"github.com/intersect-oss/intersect/events"
)

func TestEvaluateDeployed(t *testing.T) {
	p := demoPlan(t)
	p.Rules.MinCrossingPeds = 50
	deployed := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	period := 7 * 24 * time.Hour
	rec := &events.Recommendation{Target: events.Target{Controller: p.Controller, Phase: 2}}
	zone := p.Phases[1].Crosswalks[0].Name // a phase 2 crosswalk
	history := func(beforeX, beforeC, afterX, afterC int) ([]*events.NearMiss, []*events.TrackSummary) {
		var nms []*events.NearMiss
		var tracks []*events.TrackSummary
		for i := 0; i < beforeX; i++ {
			tracks = append(tracks, crossingAt(deployed.Add(-time.Duration(i+1)*time.Minute), zone))
		}
		for i := 0; i < afterX; i++ {
			tracks = append(tracks, crossingAt(deployed.Add(time.Duration(i+1)*time.Minute), zone))
		}
		for i := 0; i < beforeC; i++ {
			nms = append(nms, nearMiss(deployed.Add(-time.Duration(i+1)*time.Hour), events.RightTurnCrosswalk, "NB", zone))
		}
		for i := 0; i < afterC; i++ {
			nms = append(nms, nearMiss(deployed.Add(time.Duration(i+1)*time.Hour), events.RightTurnCrosswalk, "NB", zone))
		}
		// Outside the scope or the periods: must not count.
		nms = append(nms, nearMiss(deployed.Add(time.Hour), events.RightTurnCrosswalk, "NB", "elsewhere"))
		nms = append(nms, nearMiss(deployed.Add(-10*24*time.Hour), events.RightTurnCrosswalk, "NB", zone))
		return nms, tracks
	}
	cases := []struct {
		name           string
		bx, bc, ax, ac int
		now            time.Time
		ok, improved   bool
	}{
		{"too early", 200, 20, 200, 2, deployed.Add(6 * 24 * time.Hour), false, false},
		{"too little exposure", 20, 20, 20, 2, deployed.Add(period), false, false},
		// 20 → 4 conflicts over equal exposure: P(X ≤ 4 | n = 24, q = ½) ≈ 0.0008.
		{"significant drop", 200, 20, 200, 4, deployed.Add(period), true, true},
		// 10 → 8: not significant.
		{"no real change", 200, 10, 200, 8, deployed.Add(period), true, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			nms, tracks := history(tc.bx, tc.bc, tc.ax, tc.ac)
			e, ok := EvaluateDeployed(p, rec, deployed, tc.now, period, nms, tracks)
			if ok != tc.ok || e.Improved != tc.improved {
				t.Fatalf("ok %v improved %v, want %v %v (%s)", ok, e.Improved, tc.ok, tc.improved, e.Text)
			}
			if !ok {
				return
			}
			if e.Before.Count != tc.bc || e.After.Count != tc.ac || int(e.Before.Exposure) != tc.bx {
				t.Fatalf("counted before %d/%v after %d/%v", e.Before.Count, e.Before.Exposure, e.After.Count, e.After.Exposure)
			}
			if !strings.Contains(e.Text, "phase 2 crosswalks") {
				t.Fatalf("text %q does not name the scope", e.Text)
			}
		})
	}
}
