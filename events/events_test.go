package events

import (
	"crypto/ed25519"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"
)

func f(v float64) *float64 { return &v }

func validNearMiss() *NearMiss {
	t0 := time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)
	return &NearMiss{
		Header: NewHeader(KindNearMiss, "main-and-5th", "cam-1", t0),
		TrackA: 1, ClassA: Car, TrackB: 2, ClassB: Pedestrian,
		Start: t0.Add(-2 * time.Second), End: t0.Add(time.Second),
		MinTTCS: f(0.8), PETS: f(1.2), MinDistanceM: 1.5, SpeedAMPS: 6, SpeedBMPS: 1.3,
		AngleDeg: 85, Type: RightTurnCrosswalk, Severity: Serious, XM: 3, YM: -2, Lat: 40.76, Lng: -111.89,
	}
}

func TestRoundTripEveryKind(t *testing.T) {
	t0 := time.Now()
	sig := &Recommendation{
		Header: NewHeader(KindRecommendation, "main-and-5th", "", t0), Rule: "lpi",
		Target:    Target{Controller: "ctl-1", Phase: 2, Plan: "am-peak"},
		Changes:   []Change{{Object: "phaseWalk", OID: "1.3.6.1.4.1.1206.4.2.1.1.2.1.2.2", Unit: "s", Current: 7, Proposed: 10}},
		Rationale: "because", ValidFrom: t0, ValidUntil: t0.Add(time.Hour), State: Proposed,
	}
	evs := []Event{
		validNearMiss(),
		&TrackSummary{Header: NewHeader(KindTrack, "s", "c", t0), Track: 4, Class: Pedestrian, Start: t0, End: t0, Frames: 3},
		&CameraHealth{Header: NewHeader(KindHealth, "s", "c", t0), Status: CameraOK, Detector: "mog2"},
		&WeatherObservation{Header: NewHeader(KindWeather, "s", "", t0), Condition: Snow, Source: "manual"},
		sig,
		&Ack{Header: NewHeader(KindAck, "s", "", t0), Controller: "ctl-1", RecommendationID: sig.ID, Result: AckApplied},
	}
	for _, ev := range evs {
		b, err := Encode(ev)
		if err != nil {
			t.Fatalf("%s: encode: %v", ev.Head().Kind, err)
		}
		got, err := Decode(b)
		if err != nil {
			t.Fatalf("%s: decode: %v", ev.Head().Kind, err)
		}
		if got.Head().ID != ev.Head().ID || got.Head().Kind != ev.Head().Kind {
			t.Errorf("%s: round trip changed header: %+v", ev.Head().Kind, got.Head())
		}
	}
}

func TestDecodeRejects(t *testing.T) {
	good, _ := json.Marshal(validNearMiss())
	mutate := func(fn func(m map[string]any)) []byte {
		var m map[string]any
		_ = json.Unmarshal(good, &m)
		fn(m)
		b, _ := json.Marshal(m)
		return b
	}
	cases := []struct {
		name string
		in   []byte
		want string
	}{
		{"not json", []byte("{nope"), "malformed event JSON"},
		{"no schema", mutate(func(m map[string]any) { delete(m, "schema") }), "no schema"},
		{"future schema", mutate(func(m map[string]any) { m["schema"] = 2 }), "schema 2 is not supported"},
		{"unknown kind", mutate(func(m map[string]any) { m["kind"] = "teleport" }), "unknown event kind"},
		{"unknown class", mutate(func(m map[string]any) { m["class_b"] = "horse" }), `unknown class "horse"`},
		{"negative ttc", mutate(func(m map[string]any) { m["min_ttc_s"] = -1 }), "min_ttc_s is negative"},
		{"missing id", mutate(func(m map[string]any) { m["id"] = "" }), "is not a UUID"},
		{"bad site", mutate(func(m map[string]any) { m["site"] = "Main St" }), "must match"},
		{"camera with dots", mutate(func(m map[string]any) { m["camera"] = "a.>" }), "must match"},
		{"no measure", mutate(func(m map[string]any) { m["min_ttc_s"] = nil; m["pet_s"] = nil }), "needs min_ttc_s or pet_s"},
		{"ttc as string", mutate(func(m map[string]any) { m["min_ttc_s"] = "1" }), "malformed nearmiss event"},
		{"end before start", mutate(func(m map[string]any) { m["end"] = "2020-01-01T00:00:00Z" }), "before start"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode(tc.in)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Decode error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestValidateNaN(t *testing.T) {
	n := validNearMiss()
	n.SpeedAMPS = math.NaN()
	if err := n.Validate(); err == nil || !strings.Contains(err.Error(), "speed_a_mps is NaN") {
		t.Fatalf("NaN speed: %v", err)
	}
	if _, err := Encode(n); err == nil {
		t.Fatal("Encode accepted an invalid event")
	}
}

func TestIDsAreTimeOrdered(t *testing.T) {
	prev := NewID()
	for i := 0; i < 1000; i++ {
		id := NewID()
		if id <= prev {
			t.Fatalf("ID %s not after %s", id, prev)
		}
		prev = id
	}
}

func TestSubjects(t *testing.T) {
	n := validNearMiss()
	if got, want := Subject(n), "intersect.v1.main-and-5th.cam-1.nearmiss"; got != want {
		t.Errorf("Subject = %q, want %q", got, want)
	}
	if got, want := RecommendationSubject("s", "ctl-1"), "intersect.v1.s.signal.ctl-1.recommendation"; got != want {
		t.Errorf("RecommendationSubject = %q, want %q", got, want)
	}
}

func TestSignatureCoversContentAndApproval(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	t0 := time.Now()
	r := &Recommendation{
		Header: NewHeader(KindRecommendation, "s", "", t0), Rule: "lpi",
		Target:    Target{Controller: "ctl-1", Phase: 2},
		Changes:   []Change{{Object: "phaseWalk", OID: "x", Current: 7, Proposed: 10}},
		Rationale: "r", ValidFrom: t0, ValidUntil: t0.Add(time.Hour), State: Proposed,
	}
	if err := r.Sign(priv, "k1"); err != nil {
		t.Fatal(err)
	}
	if err := r.Verify(pub); err != nil {
		t.Fatalf("fresh signature: %v", err)
	}
	if err := r.Approve(priv, "engineer@city", "ok", t0); err != nil {
		t.Fatal(err)
	}
	if err := r.Verify(pub); err != nil {
		t.Fatalf("approved: %v", err)
	}
	// Round trip through JSON keeps it verifiable.
	b, _ := json.Marshal(r)
	var back Recommendation
	_ = json.Unmarshal(b, &back)
	if err := back.Verify(pub); err != nil {
		t.Fatalf("after JSON: %v", err)
	}
	tampered := back
	tampered.Changes = []Change{{Object: "phaseWalk", OID: "x", Current: 7, Proposed: 60}}
	if err := tampered.Verify(pub); err == nil {
		t.Fatal("tampered change verified")
	}
	forged := back
	forged.Approval = &Approval{By: "mallory", At: t0, Signature: back.Approval.Signature}
	if err := forged.Verify(pub); err == nil {
		t.Fatal("forged approval verified")
	}
}
