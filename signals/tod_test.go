package signals

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/intersect-oss/intersect/events"
)

func TestBinomialUpperTail(t *testing.T) {
	cases := []struct {
		k, n int
		q    float64
		want float64
	}{
		{8, 10, 0.5, (45.0 + 10 + 1) / 1024}, // C(10,8)+C(10,9)+C(10,10) over 2^10
		{0, 10, 0.3, 1},
		{11, 10, 0.3, 0},
		{1, 1, 0.25, 0.25},
		{3, 3, 0.1, 0.001},
	}
	for _, c := range cases {
		if got := binomialUpperTail(c.k, c.n, c.q); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("P(X ≥ %d | n=%d, q=%v) = %v, want %v", c.k, c.n, c.q, got, c.want)
		}
	}
}

// todHistory puts crossings and pedestrian conflicts in the night window
// (22:00–06:00 Denver) and on weekday afternoons outside every window.
func todHistory(p *Plan, nightCrossings, nightConflicts, dayCrossings, dayConflicts int) ([]*events.NearMiss, []*events.TrackSummary, time.Time) {
	loc := p.Location()
	at := time.Date(2026, 11, 25, 12, 0, 0, 0, loc) // a Wednesday noon
	night := time.Date(2026, 11, 24, 23, 30, 0, 0, loc)
	day := time.Date(2026, 11, 24, 14, 0, 0, 0, loc)
	var nms []*events.NearMiss
	var tracks []*events.TrackSummary
	add := func(base time.Time, crossings, conflicts int) {
		for i := 0; i < crossings; i++ {
			tracks = append(tracks, crossingAt(base.Add(time.Duration(i)*10*time.Second), "crosswalk-east"))
		}
		for i := 0; i < conflicts; i++ {
			nms = append(nms, nearMiss(base.Add(time.Duration(i)*time.Minute), events.ThroughCrosswalk, "NB", "crosswalk-east"))
		}
	}
	add(night, nightCrossings, nightConflicts)
	add(day, dayCrossings, dayConflicts)
	return nms, tracks, at
}

func crossingAt(t time.Time, zone string) *events.TrackSummary {
	return &events.TrackSummary{
		Header: events.NewHeader(events.KindTrack, "demo", "cam-1", t),
		Track:  1, Class: events.Pedestrian, Start: t.Add(-20 * time.Second), End: t,
		Frames: 200, DistanceM: 20, MeanSpeedMPS: 1.3, Crosswalk: zone,
	}
}

func TestTODPlanRule(t *testing.T) {
	p := demoPlan(t)
	p.Rules.MinCrossingPeds, p.Rules.MinConflicts = 20, 3
	cases := []struct {
		name                       string
		nightX, nightC, dayX, dayC int
		want                       bool
		skip                       string
	}{
		// Night 8 over 40 (200 per 1,000) against day 3 over 400 (7.5):
		// one-sided p far below 0.05.
		{name: "night much worse", nightX: 40, nightC: 8, dayX: 400, dayC: 3, want: true},
		// 2 over 40 against 15 over 400: equal rates, no suggestion.
		{name: "same rates", nightX: 40, nightC: 2, dayX: 400, dayC: 15},
		// The night is worse but has too little exposure to judge.
		{name: "too little exposure", nightX: 10, nightC: 8, dayX: 400, dayC: 3},
		// Outside the windows is worst: the base pattern is no time base
		// action, so it is reported, not changed.
		{name: "base worst", nightX: 400, nightC: 2, dayX: 40, dayC: 8, skip: "base pattern"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			nms, tracks, at := todHistory(p, tc.nightX, tc.nightC, tc.dayX, tc.dayC)
			c, skip := todPlanRule(p, observe(p, at, nms, tracks))
			if (c != nil) != tc.want {
				t.Fatalf("candidate %v, want %v (skip %q)", c != nil, tc.want, skip)
			}
			if tc.skip != "" && !strings.Contains(skip, tc.skip) {
				t.Fatalf("skip reason %q, want it to mention %q", skip, tc.skip)
			}
			if c == nil {
				return
			}
			ch := c.changes[0]
			// The night window is the 4th TOD plan (action 4), pattern 4;
			// outside the windows the base pattern 1 runs.
			if ch.OID != TimebasePatternOID(4) || ch.Current != 4 || ch.Proposed != 1 || c.window != "daily 22:00-06:00 America/Denver" {
				t.Fatalf("change %+v in %q, want timebaseAscPattern.4 from 4 to 1 in the night window", ch, c.window)
			}
			if len(c.evidence.EventIDs) != tc.nightC || len(c.evidence.Rates) != 2 {
				t.Fatalf("evidence %+v", c.evidence)
			}
			// The whole advisor signs it and the envelope accepts it.
			a := &Advisor{Plan: p}
			res, err := a.Evaluate(Input{At: at, NearMisses: nms, Tracks: tracks})
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, r := range res.Recommendations {
				found = found || r.Rule == RuleTODPlan
			}
			if !found {
				t.Fatalf("the advisor dropped the TOD suggestion: %+v", res.Skipped)
			}
		})
	}
}

func TestTODPatternEnvelope(t *testing.T) {
	p := demoPlan(t)
	mk := func(proposed float64) *events.Recommendation {
		ch := []events.Change{{Object: ObjTimebasePattern, OID: TimebasePatternOID(4), Unit: UnitPattern, Current: 4, Proposed: proposed}}
		return &events.Recommendation{Header: events.NewHeader(events.KindRecommendation, "demo", "", time.Now()), Rule: RuleTODPlan,
			Target: events.Target{Controller: p.Controller}, Changes: ch, Rollback: reversed(ch)}
	}
	if err := p.CheckEnvelope(mk(2), nil); err != nil {
		t.Fatalf("switching the night window to pattern 2: %v", err)
	}
	if err := p.CheckEnvelope(mk(9), nil); err == nil || !strings.Contains(err.Error(), "not one of this plan's patterns") {
		t.Fatalf("pattern 9 (not in the plan) = %v", err)
	}
}
