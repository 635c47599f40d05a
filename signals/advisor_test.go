package signals

import (
	"crypto/ed25519"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/intersect-oss/intersect/events"
	"github.com/intersect-oss/intersect/internal/testenv"
)

// evalAt is a weekday 07:30 in Denver (am-peak).
var evalAt = time.Date(2026, 11, 25, 14, 30, 0, 0, time.UTC)

func demoPlan(t testing.TB) *Plan {
	t.Helper()
	p, err := LoadPlan(filepath.Join(testenv.RepoRoot(), "signals", "testdata", "plan.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func f64(v float64) *float64 { return &v }

// nearMiss is a vehicle–pedestrian near miss at the demo site.
func nearMiss(at time.Time, typ events.ConflictType, approach, zone string) *events.NearMiss {
	return &events.NearMiss{
		Header: events.NewHeader(events.KindNearMiss, "demo", "cam-1", at),
		TrackA: 1, ClassA: events.Car, TrackB: 2, ClassB: events.Pedestrian,
		Start: at.Add(-2 * time.Second), End: at, MinTTCS: f64(0.9), PETS: f64(1.1),
		MinDistanceM: 1.2, SpeedAMPS: 5, SpeedBMPS: 1.3, AngleDeg: 80,
		Type: typ, Severity: events.Serious, Approach: approach, Zone: zone, Movement: "right",
	}
}

func crossings(at time.Time, zone string, n int, speed func(i int) float64) []*events.TrackSummary {
	out := make([]*events.TrackSummary, n)
	for i := range out {
		t := at.Add(-time.Duration(i+1) * time.Minute)
		out[i] = &events.TrackSummary{
			Header: events.NewHeader(events.KindTrack, "demo", "cam-1", t),
			Track:  int64(1000 + i), Class: events.Pedestrian, Start: t.Add(-20 * time.Second), End: t,
			Frames: 200, DistanceM: 20, MeanSpeedMPS: speed(i), Crosswalk: zone,
		}
	}
	return out
}

func normalWalkers(int) float64 { return 1.4 }

func byRule(rs []*events.Recommendation, rule string, phase int) *events.Recommendation {
	for _, r := range rs {
		if r.Rule == rule && r.Target.Phase == phase {
			return r
		}
	}
	return nil
}

func TestDryQuietWithoutEvidence(t *testing.T) {
	p := demoPlan(t)
	a := &Advisor{Plan: p}
	res, err := a.Evaluate(Input{At: evalAt, Weather: events.Dry, Tracks: crossings(evalAt, "crosswalk-east", 300, normalWalkers)})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Recommendations) != 0 {
		for _, r := range res.Recommendations {
			t.Errorf("unexpected %s phase %d: %s", r.Rule, r.Target.Phase, r.Rationale)
		}
	}
}

func TestLPIFromTurningConflicts(t *testing.T) {
	p := demoPlan(t)
	pub, priv, _ := ed25519.GenerateKey(nil)
	a := &Advisor{Plan: p, Key: priv, KeyID: "k1"}
	var nms []*events.NearMiss
	for i := 0; i < 12; i++ {
		nms = append(nms, nearMiss(evalAt.Add(-time.Duration(i)*time.Hour), events.RightTurnCrosswalk, "NB", "crosswalk-east"))
	}
	// Outside the lookback and at another site: must not count.
	old := nearMiss(evalAt.Add(-60*24*time.Hour), events.RightTurnCrosswalk, "NB", "crosswalk-east")
	other := nearMiss(evalAt.Add(-time.Hour), events.RightTurnCrosswalk, "NB", "crosswalk-east")
	other.Site = "elsewhere"
	nms = append(nms, old, other)
	tracks := crossings(evalAt, "crosswalk-east", 400, normalWalkers)
	res, err := a.Evaluate(Input{At: evalAt, NearMisses: nms, Tracks: tracks})
	if err != nil {
		t.Fatal(err)
	}
	r := byRule(res.Recommendations, RuleLPI, 2)
	if r == nil {
		t.Fatalf("no LPI recommendation for phase 2; got %d recs, skipped %+v", len(res.Recommendations), res.Skipped)
	}
	if len(r.Evidence.EventIDs) != 12 {
		t.Errorf("evidence has %d events, want 12 (old and other-site excluded)", len(r.Evidence.EventIDs))
	}
	rate := r.Evidence.Rates[0]
	if rate.Count != 12 || rate.Exposure != 400 || rate.Value != 30 || !(rate.CILow > 5 && rate.CILow < 30 && rate.CIHigh > 30) {
		t.Errorf("rate = %+v", rate)
	}
	ch := r.Changes[0]
	if ch.OID != "1.3.6.1.4.1.32473.1.1.2" || ch.Current != 0 || ch.Proposed != 4 {
		t.Errorf("LPI change = %+v, want 0 → 4 s (3.6 m lane at 1.07 m/s)", ch)
	}
	if r.Effect.CMF == nil || *r.Effect.CMF != 0.87 || !strings.Contains(r.Effect.Source, "FHWA") {
		t.Errorf("effect = %+v", r.Effect)
	}
	if r.Target.Controller != "ctl-1" || r.Target.Plan != "am-peak" || r.State != events.Proposed {
		t.Errorf("target/state = %+v %s", r.Target, r.State)
	}
	if len(r.Rollback) != 1 || r.Rollback[0].Proposed != 0 {
		t.Errorf("rollback = %+v", r.Rollback)
	}
	if err := r.Verify(pub); err != nil {
		t.Errorf("signature: %v", err)
	}
	if err := r.Validate(); err != nil {
		t.Errorf("record invalid: %v", err)
	}
	// The same conflicts with too little exposure: no LPI, and a reason.
	res, _ = a.Evaluate(Input{At: evalAt, NearMisses: nms, Tracks: crossings(evalAt, "crosswalk-east", 100, normalWalkers)})
	if byRule(res.Recommendations, RuleLPI, 2) != nil {
		t.Error("LPI suggested from 100 crossings (minimum 200)")
	}
	found := false
	for _, s := range res.Skipped {
		found = found || (s.Rule == RuleLPI && strings.Contains(s.Reason, "too little exposure"))
	}
	if !found {
		t.Errorf("no exposure skip reported: %+v", res.Skipped)
	}
	// A pending LPI change on the same object blocks a second one.
	res, _ = a.Evaluate(Input{At: evalAt, NearMisses: nms, Tracks: tracks, Pending: []*events.Recommendation{r}})
	if byRule(res.Recommendations, RuleLPI, 2) != nil {
		t.Error("second LPI proposed while one is pending")
	}
}

func TestSlowWalkersLengthenClearance(t *testing.T) {
	p := demoPlan(t)
	a := &Advisor{Plan: p}
	// 60 crossings, 15th percentile 0.9 m/s: 20 m needs 22.2 → 23 s.
	slow := crossings(evalAt, "crosswalk-west", 60, func(i int) float64 {
		if i < 12 { // 20 % walk at 0.9 m/s
			return 0.9
		}
		return 1.3
	})
	res, err := a.Evaluate(Input{At: evalAt, Tracks: slow})
	if err != nil {
		t.Fatal(err)
	}
	r := byRule(res.Recommendations, RulePedClearance, 2)
	if r == nil {
		t.Fatalf("no ped clearance recommendation; skipped %+v", res.Skipped)
	}
	if ch := r.Changes[0]; ch.Object != ObjPedClear || ch.Current != 19 || ch.Proposed != 23 || ch.OID != "1.3.6.1.4.1.1206.4.2.1.1.2.1.3.2" {
		t.Errorf("change = %+v, want phasePedestrianClear.2 19 → 23", ch)
	}
	// Too few samples: the MUTCD speed stands and the plan already meets it.
	res, _ = a.Evaluate(Input{At: evalAt, Tracks: slow[:20]})
	if byRule(res.Recommendations, RulePedClearance, 2) != nil {
		t.Error("ped clearance changed on 20 samples (minimum 30)")
	}
}

func TestNoRTORWhenRedTurnsDominate(t *testing.T) {
	p := demoPlan(t)
	a := &Advisor{Plan: p}
	var nms []*events.NearMiss
	// NB vehicles turning right across the south crosswalk (it walks with
	// phase 4): they were turning on red. Mornings, weekdays.
	for d := 0; d < 8; d++ {
		at := time.Date(2026, 11, 16+d%5, 14, 15, 0, 0, time.UTC) // 07:15 Denver
		nms = append(nms, nearMiss(at, events.RightTurnCrosswalk, "NB", "crosswalk-south"))
	}
	nms = append(nms, nearMiss(evalAt.Add(-time.Hour), events.ThroughCrosswalk, "NB", "crosswalk-east"))
	res, err := a.Evaluate(Input{At: evalAt, NearMisses: nms, Tracks: crossings(evalAt, "crosswalk-south", 300, normalWalkers)})
	if err != nil {
		t.Fatal(err)
	}
	r := byRule(res.Recommendations, RuleNoRTOR, 2)
	if r == nil {
		t.Fatalf("no no-RTOR recommendation; skipped %+v", res.Skipped)
	}
	if ch := r.Changes[0]; ch.OID != SpecialOutputOID(1) || ch.Proposed != 1 {
		t.Errorf("change = %+v", ch)
	}
	if r.Target.Window != "weekday 07:00-09:00 America/Denver" {
		t.Errorf("window = %q", r.Target.Window)
	}
	if byRule(res.Recommendations, RuleLPI, 4) != nil {
		t.Error("red-turn conflicts were counted for phase 4's LPI")
	}
}

// Issue 5, "Must show" 4, on the pure core: snow brings clearance and cycle
// suggestions, dry brings none, so the service can retire them.
func TestSnowThenDry(t *testing.T) {
	p := demoPlan(t)
	a := &Advisor{Plan: p}
	res, err := a.Evaluate(Input{At: evalAt, Weather: events.Snow})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{1, 2, 3, 4} {
		r := byRule(res.Recommendations, RuleClearance, n)
		if r == nil {
			t.Errorf("snow: no clearance recommendation for phase %d; skipped %+v", n, res.Skipped)
			continue
		}
		if !WeatherDriven(r) || !strings.HasPrefix(r.Target.Window, "while snow") {
			t.Errorf("phase %d: not marked weather-driven: %+v", n, r.Target)
		}
	}
	// Phase 2 (30 mph, 22 m): snow v = 9.39 m/s, a = 1.96 → yellow 3.4 s,
	// red (22 + 6.1) / 9.39 = 2.99 → 3.0 s.
	r2 := byRule(res.Recommendations, RuleClearance, 2)
	if r2 != nil {
		want := map[string]float64{ObjYellow: 34, ObjRedClear: 30}
		for _, ch := range r2.Changes {
			if want[ch.Object] != ch.Proposed {
				t.Errorf("phase 2 snow %s = %v tenths, want %v", ch.Object, ch.Proposed, want[ch.Object])
			}
		}
	}
	c := byRule(res.Recommendations, RuleCycle, 0)
	if c == nil {
		t.Fatalf("snow: no cycle recommendation; skipped %+v", res.Skipped)
	}
	if c.Changes[0].Object != ObjCycle || c.Changes[0].Proposed != 120 {
		t.Errorf("snow cycle = %+v, want 90 → 120 (Webster wants more, step 30 s)", c.Changes[0])
	}
	res, _ = a.Evaluate(Input{At: evalAt, Weather: events.Dry})
	if len(res.Recommendations) != 0 {
		t.Errorf("dry after snow: %d recommendations", len(res.Recommendations))
	}
}

func TestEnvelopeRejects(t *testing.T) {
	p := demoPlan(t)
	base := func() *events.Recommendation {
		chs := []events.Change{secondsChange(ObjPedClear, PhaseOID(ObjPedClear, 2), 19, 21)}
		return &events.Recommendation{Header: events.NewHeader(events.KindRecommendation, "demo", "", evalAt), Rule: "x",
			Target: events.Target{Controller: "ctl-1", Phase: 2}, Changes: chs, Rollback: reversed(chs)}
	}
	if err := p.CheckEnvelope(base(), nil); err != nil {
		t.Fatalf("valid change refused: %v", err)
	}
	cases := []struct {
		name string
		mut  func(r *events.Recommendation)
		want string
	}{
		{"below MUTCD ped clearance", func(r *events.Recommendation) { r.Changes[0].Proposed = 17 }, "below the minimum 19"},
		{"above maximum", func(r *events.Recommendation) {
			r.Changes = []events.Change{tenthsChange(ObjYellow, PhaseOID(ObjYellow, 2), 3.2, 6.5)}
		}, "above the maximum"},
		{"step too large", func(r *events.Recommendation) { r.Changes[0].Proposed = 30 }, "exceeds the largest step"},
		{"stale current", func(r *events.Recommendation) { r.Changes[0].Current = 18 }, "does not match the controller's 19"},
		{"unknown OID", func(r *events.Recommendation) { r.Changes[0].OID = "1.3.6.1.4.1.1206.4.2.1.1.2.1.3.9" }, "not a settable object"},
		{"wrong controller", func(r *events.Recommendation) { r.Target.Controller = "ctl-2" }, "not this plan's"},
		{"bad rollback", func(r *events.Recommendation) { r.Rollback[0].Proposed = 20 }, "rollback"},
		{"split cannot hold", func(r *events.Recommendation) {
			r.Changes[0].Proposed = 29 // 7 + 29 + 3.2 + 2.1 > 37
		}, "cannot hold its intervals"},
		{"splits off the cycle", func(r *events.Recommendation) {
			r.Changes = []events.Change{secondsChange(ObjCycle, CycleOID(1), 90, 100)}
		}, "not the cycle"},
		{"LPI below 3 s", func(r *events.Recommendation) {
			r.Changes = []events.Change{secondsChange(p.LPI.Object, p.lpiOID(2), 0, 2)}
		}, "below the minimum 3"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := base()
			tc.mut(r)
			if tc.name != "bad rollback" {
				r.Rollback = reversed(r.Changes)
			}
			err := p.CheckEnvelope(r, nil)
			if err == nil || !errors.Is(err, ErrOutsideEnvelope) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

// BenchmarkEvaluate: one evaluation of the demo plan over a day's worth of
// events (400 crossings, 50 near misses) in snow.
func BenchmarkEvaluate(b *testing.B) {
	p := demoPlan(b)
	_, priv, _ := ed25519.GenerateKey(nil)
	a := &Advisor{Plan: p, Key: priv}
	var nms []*events.NearMiss
	for i := 0; i < 50; i++ {
		nms = append(nms, nearMiss(evalAt.Add(-time.Duration(i)*time.Hour), events.RightTurnCrosswalk, "NB", "crosswalk-east"))
	}
	in := Input{At: evalAt, Weather: events.Snow, NearMisses: nms, Tracks: crossings(evalAt, "crosswalk-east", 400, normalWalkers)}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := a.Evaluate(in); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "evaluations/s")
}

// vehicles are n track summaries of cars on approach making movement,
// spread over the hour before at.
func vehicles(at time.Time, approach, movement string, n int) []*events.TrackSummary {
	out := make([]*events.TrackSummary, n)
	for i := range out {
		t := at.Add(-time.Duration(i+1) * time.Hour / time.Duration(n+1))
		out[i] = &events.TrackSummary{
			Header: events.NewHeader(events.KindTrack, "demo", "cam-1", t),
			Track:  int64(5000 + i), Class: events.Car, Start: t.Add(-6 * time.Second), End: t,
			Frames: 90, DistanceM: 60, MeanSpeedMPS: 10, Approach: approach, Movement: movement,
		}
	}
	return out
}

// TestCycleFromCountedFlows: with webster.observed, the cycle rule takes
// the critical lane group's flow from the counts of the busiest hour (the
// busiest approach of the group), says so in its rationale and evidence,
// and keeps the design volume while the busiest hour counted fewer than
// rules.min_observed_vehicles.
func TestCycleFromCountedFlows(t *testing.T) {
	p := demoPlan(t)
	p.Phases[1].Webster.Observed = &ObservedFlow{Approaches: []string{"NB", "SB"}, Movements: []string{"through", "right"}}
	a := &Advisor{Plan: p}
	// Design flows: Y = 150/1700 + 900/3400 + 130/1700 + 900/3600 = 0.679,
	// L = 16 s, C0 = 29 / 0.321 = 90.4 s: the 90 s cycle stands.
	peak := evalAt.Add(-26 * time.Hour).Truncate(time.Hour).Add(time.Hour) // a whole clock hour yesterday
	var tracks []*events.TrackSummary
	tracks = append(tracks, vehicles(peak, "NB", "through", 1300)...)
	tracks = append(tracks, vehicles(peak, "NB", "right", 200)...)
	tracks = append(tracks, vehicles(peak, "SB", "through", 800)...)
	tracks = append(tracks, vehicles(evalAt, "NB", "through", 700)...) // a quieter hour
	tracks = append(tracks, vehicles(peak, "NB", "left", 400)...)      // not the group's movement
	res, err := a.Evaluate(Input{At: evalAt, Weather: events.Dry, Tracks: tracks})
	if err != nil {
		t.Fatal(err)
	}
	c := byRule(res.Recommendations, RuleCycle, 0)
	if c == nil {
		t.Fatalf("no cycle recommendation from counted flows; skipped %+v", res.Skipped)
	}
	// Counted: NB 1300 + 200 = 1500 veh/h (SB 800 is not critical):
	// Y = 0.0882 + 0.4412 + 0.0765 + 0.25 = 0.856, C0 = 29 / 0.144 = 201 s,
	// capped by the 150 s maximum and stepped 30 s from 90.
	if c.Changes[0].Object != ObjCycle || c.Changes[0].Proposed != 120 {
		t.Errorf("cycle change %+v, want 90 → 120 s", c.Changes[0])
	}
	if got := c.Evidence.Inputs["phase_2_flow_vph"]; got != "1500 counted" {
		t.Errorf("phase 2 flow input %q, want \"1500 counted\"", got)
	}
	if !strings.Contains(c.Rationale, "phase 2 1500 veh/h counted") || !strings.Contains(c.Rationale, "design 900") {
		t.Errorf("rationale does not say where the flow came from: %s", c.Rationale)
	}
	if WeatherDriven(c) {
		t.Error("a dry-weather cycle from counts is marked weather-driven")
	}

	// Too few counted in the busiest hour: the design volume stands.
	res, _ = a.Evaluate(Input{At: evalAt, Weather: events.Dry, Tracks: vehicles(peak, "NB", "through", 60)})
	if c := byRule(res.Recommendations, RuleCycle, 0); c != nil {
		t.Errorf("60 counted vehicles (minimum %d) moved the cycle: %+v", p.Rules.MinObservedVehicles, c.Changes)
	}

	// Two counted phases peaking in different hours: Webster takes both
	// flows from the one hour that loads the intersection most (the
	// design hour), not each phase's own peak. Hour A: NB 1500, EB 900,
	// Y = 0.856; hour B: NB 300, EB 1400, Y = 0.642. So phase 4 is 900
	// (not 1400).
	p.Phases[3].Webster.Observed = &ObservedFlow{Approaches: []string{"EB", "WB"}, Movements: []string{"through", "right"}}
	hourA, hourB := peak.Add(-time.Hour), peak.Add(-5*time.Hour)
	res, _ = a.Evaluate(Input{At: evalAt, Weather: events.Dry, VehicleCounts: []VehicleCount{
		{Hour: hourA, Approach: "NB", Movement: "through", Vehicles: 1500},
		{Hour: hourA, Approach: "EB", Movement: "through", Vehicles: 900},
		{Hour: hourB, Approach: "NB", Movement: "through", Vehicles: 300},
		{Hour: hourB, Approach: "EB", Movement: "through", Vehicles: 1400},
	}})
	c = byRule(res.Recommendations, RuleCycle, 0)
	if c == nil {
		t.Fatalf("two counted phases: no cycle recommendation; skipped %+v", res.Skipped)
	}
	if in := c.Evidence.Inputs; in["phase_2_flow_vph"] != "1500 counted" || in["phase_4_flow_vph"] != "900 counted" || in["design_hour"] != hourA.In(p.Location()).Format(time.RFC3339) {
		t.Errorf("design hour flows %v, want phase 2 1500 and phase 4 900 counted in %s", in, hourA)
	}
	p.Phases[3].Webster.Observed = nil

	// Counts given as hourly totals (the live advisor's form) count alike.
	res, _ = a.Evaluate(Input{At: evalAt, Weather: events.Dry, VehicleCounts: []VehicleCount{
		{Hour: peak.Add(-time.Hour), Approach: "NB", Movement: "through", Vehicles: 1300},
		{Hour: peak.Add(-time.Hour), Approach: "NB", Movement: "right", Vehicles: 200},
	}})
	if c := byRule(res.Recommendations, RuleCycle, 0); c == nil || c.Evidence.Inputs["phase_2_flow_vph"] != "1500 counted" {
		t.Errorf("hourly counts: %+v", c)
	}
}

func TestObservedFlowValidation(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "signals", "testdata", "plan.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	base := string(b)
	const line = "webster: {design_volume_vph: 900, saturation_flow_vph: 3400, lost_time_s: 4}"
	for obs, want := range map[string]string{
		"{approaches: [NB, XB], movements: [through]}": "phases[1].webster.observed.approaches[1]",
		"{approaches: [NB], movements: [sideways]}":    "phases[1].webster.observed.movements[0]",
		"{approaches: [], movements: [through]}":       "phases[1].webster.observed.approaches",
	} {
		y := strings.Replace(base, line, strings.TrimSuffix(line, "}")+", observed: "+obs+"}", 1)
		if _, err := ParsePlan([]byte(y)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("observed %s: error %v, want one naming %s", obs, err, want)
		}
	}
	y := strings.Replace(base, line, strings.TrimSuffix(line, "}")+", observed: {approaches: [NB, SB], movements: [through, right]}}", 1)
	if _, err := ParsePlan([]byte(y)); err != nil {
		t.Errorf("a valid observed block: %v", err)
	}
}
