package live

import (
	"context"
	"crypto/ed25519"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/intersect-oss/intersect/events"
	"github.com/intersect-oss/intersect/internal/testenv"
	"github.com/intersect-oss/intersect/signals"
)

var t0 = time.Date(2026, 11, 25, 14, 30, 0, 0, time.UTC)

func nm(at time.Time) *events.NearMiss {
	ttc := 1.0
	return &events.NearMiss{Header: events.NewHeader(events.KindNearMiss, "demo", "cam-1", at),
		TrackA: 1, ClassA: events.Car, TrackB: 2, ClassB: events.Pedestrian, Start: at, End: at, MinTTCS: &ttc,
		Type: events.RightTurnCrosswalk, Severity: events.Minor}
}

func track(at time.Time, class events.Class, crosswalk string) *events.TrackSummary {
	return &events.TrackSummary{Header: events.NewHeader(events.KindTrack, "demo", "cam-1", at),
		Track: 1, Class: class, Start: at, End: at, Frames: 10, MeanSpeedMPS: 1.3, Crosswalk: crosswalk}
}

func TestHistoryAdd(t *testing.T) {
	dup := nm(t0.Add(-time.Hour))
	cases := []struct {
		name string
		ev   events.Event
		want bool
	}{
		{"near miss in the window", nm(t0.Add(-time.Hour)), true},
		{"near miss older than the window", nm(t0.Add(-25 * time.Hour)), false},
		{"crossing pedestrian", track(t0.Add(-time.Minute), events.Pedestrian, "crosswalk-east"), true},
		{"pedestrian on the sidewalk (no crosswalk)", track(t0.Add(-time.Minute), events.Pedestrian, ""), false},
		{"car", track(t0.Add(-time.Minute), events.Car, ""), false},
		{"weather is not history", &events.WeatherObservation{Header: events.NewHeader(events.KindWeather, "demo", "", t0), Condition: events.Snow, Source: "manual"}, false},
		{"first copy", dup, true},
		{"redelivered copy", dup, false},
	}
	h := newHistory(24*time.Hour, 0)
	for _, c := range cases {
		if got := h.add(c.ev, t0); got != c.want {
			t.Errorf("%s: kept %v, want %v", c.name, got, c.want)
		}
	}
	if len(h.nms) != 2 || len(h.tracks) != 1 {
		t.Fatalf("window holds %d near misses and %d tracks, want 2 and 1", len(h.nms), len(h.tracks))
	}
}

func TestHistoryPrune(t *testing.T) {
	h := newHistory(24*time.Hour, 3)
	var evs []*events.NearMiss
	for i := range 6 { // i hours old
		e := nm(t0.Add(-time.Duration(i) * time.Hour))
		evs = append(evs, e)
		h.add(e, t0)
	}
	h.prune(t0) // count bound: the newest three stay
	if len(h.nms) != 3 || h.dropped != 3 {
		t.Fatalf("after the count bound: %d kept, %d dropped; want 3 and 3", len(h.nms), h.dropped)
	}
	for _, e := range h.nms {
		if t0.Sub(e.Time) > 2*time.Hour {
			t.Errorf("kept an event %s old; the newest should stay", t0.Sub(e.Time))
		}
	}
	// Evicted IDs are forgotten: a late redelivery of one may come back in.
	if _, ok := h.seen[evs[5].ID]; ok {
		t.Error("an evicted event is still remembered")
	}
	// 22.5 h later the window starts 1.5 h before t0: the 2 h old one leaves.
	h.prune(t0.Add(22*time.Hour + 30*time.Minute))
	if len(h.nms) != 2 {
		t.Fatalf("after ageing: %d kept, want 2", len(h.nms))
	}
	for _, e := range h.nms {
		if e.ID == evs[2].ID {
			t.Error("the event that left the window is still kept")
		}
	}
	if _, ok := h.seen[evs[2].ID]; ok || len(h.seen) != 2 {
		t.Errorf("dedupe map holds %d IDs (aged-out one: %v), want the 2 kept", len(h.seen), ok)
	}
}

func demoPlan(t testing.TB) *signals.Plan {
	t.Helper()
	p, err := signals.LoadPlan(filepath.Join(testenv.RepoRoot(), "signals", "testdata", "plan.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// snowClearance is what the core proposes for phase 2 in snow.
func snowClearance(t *testing.T, p *signals.Plan) *events.Recommendation {
	t.Helper()
	res, err := (&signals.Advisor{Plan: p}).Evaluate(signals.Input{At: t0, Weather: events.Snow})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res.Recommendations {
		if r.Rule == signals.RuleClearance && r.Target.Phase == 2 {
			return r
		}
	}
	t.Fatal("no phase 2 clearance recommendation in snow")
	return nil
}

func TestControllerStateAndStale(t *testing.T) {
	p := demoPlan(t)
	snow := snowClearance(t, p)
	proposed, deployed := *snow, *snow
	proposed.State, deployed.State = events.Proposed, events.Deployed

	state, by := controllerState(p, []events.Recommendation{proposed})
	if stale(snow, state, by) != "" {
		t.Fatal("a proposal that is not deployed made the core's output stale")
	}
	state, by = controllerState(p, []events.Recommendation{deployed})
	for _, ch := range snow.Changes {
		if state[ch.OID] != ch.Proposed || by[ch.OID] != snow.ID {
			t.Errorf("%s: state %v set by %q, want %v set by %s", ch.Object, state[ch.OID], by[ch.OID], ch.Proposed, snow.ID)
		}
	}
	if why := stale(snow, state, by); !strings.Contains(why, snow.ID) {
		t.Fatalf("the same change from the plan's values on a controller that already runs it: stale reason %q, want one naming %s", why, snow.ID)
	}
}

func TestRollbackOf(t *testing.T) {
	p := demoPlan(t)
	_, key, _ := ed25519.GenerateKey(nil)
	snow := snowClearance(t, p)
	snow.State = events.Deployed
	state, _ := controllerState(p, []events.Recommendation{*snow})

	rb := rollbackOf(p, snow, state, t0.Add(time.Hour), "dry again")
	if rb == nil {
		t.Fatal("no rollback of a deployed change")
	}
	if err := p.CheckEnvelope(rb, state); err != nil {
		t.Fatalf("rollback outside the envelope of the controller it is for: %v", err)
	}
	if err := rb.Sign(key, "k"); err != nil {
		t.Fatal(err)
	}
	if err := rb.Validate(); err != nil {
		t.Fatal(err)
	}
	// Applied, it returns the controller to the plan's values.
	after := map[string]float64{}
	for k, v := range state {
		after[k] = v
	}
	for _, ch := range rb.Changes {
		after[ch.OID] = ch.Proposed
	}
	for oid, v := range p.ControllerState() {
		if after[oid] != v {
			t.Errorf("%s after the rollback: %v, want the plan's %v", oid, after[oid], v)
		}
	}
	// Against the plan's own values (never deployed) there is nothing to undo.
	if rollbackOf(p, snow, p.ControllerState(), t0, "dry") != nil {
		t.Error("a rollback proposed for a controller that already holds the plan's values")
	}
	// A rollback is not weather-driven: dry weather must not retire it.
	if signals.WeatherDriven(rb) {
		t.Error("rollback counted as weather-driven")
	}
}

func TestFileWeather(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	wire := write("snow.json", `{"schema":1,"kind":"weather","id":"01a2183a-5e59-7edc-9c9e-15cc48a8a809","site":"demo","time":"2026-11-25T14:00:00Z","condition":"snow","source":"manual"}`)
	nws := filepath.Join(testenv.RepoRoot(), "signals", "weather", "testdata", "nws_kslc_light_snow.json")
	cases := []struct {
		name, path, site string
		want             events.Condition
		err              string
	}{
		{"wire format", wire, "demo", events.Snow, ""},
		{"recorded NWS observation", nws, "demo", events.Snow, ""},
		{"wire format for another site", wire, "other", "", `for site "demo"`},
		{"not a weather event", write("ack.json", `{"schema":1,"kind":"ack","id":"x","site":"demo","time":"2026-11-25T14:00:00Z"}`), "demo", "", "ack.json"},
		{"garbage", write("bad.json", `{"kind": `), "demo", "", "bad.json"},
		{"missing file", filepath.Join(dir, "none.json"), "demo", "", "none.json"},
	}
	for _, c := range cases {
		w, err := FileWeather{Site: c.site, Path: c.path}.Observe(context.Background())
		switch {
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.err)
		case c.err == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.err == "" && w.Condition != c.want:
			t.Errorf("%s: %s, want %s", c.name, w.Condition, c.want)
		}
	}
}

// TestHistoryCountsVehicles: vehicles with an approach and a movement are
// counted per clock hour (once per event ID), handed to the rules as
// counts, and leave the window with their hour.
func TestHistoryCountsVehicles(t *testing.T) {
	h := newHistory(24*time.Hour, 0)
	car := func(at time.Time, approach, movement string) *events.TrackSummary {
		ts := track(at, events.Car, "")
		ts.Approach, ts.Movement = approach, movement
		return ts
	}
	first := car(t0.Add(-20*time.Minute), "NB", "right")
	for _, c := range []struct {
		ev   *events.TrackSummary
		want bool
	}{
		{first, true},
		{first, false}, // redelivered
		{car(t0.Add(-25*time.Minute), "NB", "right"), true},
		{car(t0.Add(-40*time.Minute), "NB", "through"), true},
		{car(t0.Add(-20*time.Hour), "SB", "left"), true},
		{car(t0.Add(-time.Minute), "NB", ""), false}, // no movement: not a flow
		{car(t0.Add(-time.Minute), "", "right"), false},
	} {
		if got := h.add(c.ev, t0); got != c.want {
			t.Errorf("%s %s at %s: kept %v, want %v", c.ev.Approach, c.ev.Movement, c.ev.Time.Format(time.Kitchen), got, c.want)
		}
	}
	count := func() map[string]int {
		_, tracks, counts := h.snapshot()
		if len(tracks) != 0 {
			t.Errorf("vehicles kept as whole summaries: %d", len(tracks))
		}
		m := map[string]int{}
		for _, c := range counts {
			m[c.Hour.Format("15")+" "+c.Approach+" "+c.Movement] += c.Vehicles
		}
		return m
	}
	want := map[string]int{"14 NB right": 2, "13 NB through": 1, "18 SB left": 1}
	if got := count(); len(got) != len(want) || got["14 NB right"] != 2 || got["13 NB through"] != 1 || got["18 SB left"] != 1 {
		t.Errorf("counts %v, want %v", got, want)
	}
	h.prune(t0.Add(5 * time.Hour)) // the 18:00 hour of yesterday has left the window
	if got := count(); got["18 SB left"] != 0 || got["14 NB right"] != 2 {
		t.Errorf("after the window moved on: %v", got)
	}
}
