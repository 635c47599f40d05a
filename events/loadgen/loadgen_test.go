package loadgen_test

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/intersect-oss/intersect/events"
	"github.com/intersect-oss/intersect/events/bus/bustest"
	"github.com/intersect-oss/intersect/events/loadgen"
)

func TestGeneratorMixAndValidity(t *testing.T) {
	t0 := time.Date(2026, 11, 26, 7, 0, 0, 0, time.UTC)
	g, err := loadgen.NewGenerator(loadgen.Layout{Sites: 3, Cameras: 4, Start: t0, Seed: 7}, loadgen.DefaultMix)
	if err != nil {
		t.Fatal(err)
	}
	const n = 60000
	kinds := map[events.Kind]int{}
	lastHealth := map[string]time.Time{}
	sites := map[string]bool{}
	prev := t0
	var origin [2]float64
	for i := range n {
		ev := g.Next()
		h := ev.Head()
		if err := ev.Validate(); err != nil {
			t.Fatalf("event %d invalid: %v", i, err)
		}
		if h.Time.Before(prev) {
			t.Fatalf("event %d at %s is before the previous one at %s", i, h.Time, prev)
		}
		prev = h.Time
		kinds[h.Kind]++
		sites[h.Site] = true
		switch e := ev.(type) {
		case *events.CameraHealth:
			key := h.Site + "/" + h.Camera
			if last, ok := lastHealth[key]; ok && h.Time.Sub(last) != 10*time.Second {
				t.Fatalf("%s health %s after the previous one, want 10s", key, h.Time.Sub(last))
			}
			lastHealth[key] = h.Time
		case *events.NearMiss:
			worst := math.Inf(1)
			if e.MinTTCS != nil {
				worst = *e.MinTTCS
			}
			if e.PETS != nil {
				worst = math.Min(worst, *e.PETS)
			}
			want := events.Minor
			if worst <= 0.5 {
				want = events.Critical
			} else if worst <= 1.0 {
				want = events.Serious
			}
			if e.Severity != want {
				t.Errorf("near miss with worst measure %.2f s graded %s, want %s", worst, e.Severity, want)
			}
			if !e.ClassB.Vulnerable() || e.ClassA.Vulnerable() {
				t.Errorf("near miss between %s and %s, want a vehicle and a vulnerable road user", e.ClassA, e.ClassB)
			}
			if h.Site == "site-0001" {
				if origin == [2]float64{} {
					origin = [2]float64{e.Lat, e.Lng}
				}
				// Conflict points of one site lie within a 20 m square.
				if dLat, dLng := math.Abs(e.Lat-origin[0])*111_320, math.Abs(e.Lng-origin[1])*111_320*math.Cos(origin[0]*math.Pi/180); dLat > 21 || dLng > 21 {
					t.Errorf("near miss %.0f m, %.0f m from another at the same site", dLat, dLng)
				}
			}
		}
	}
	if len(sites) != 3 || len(lastHealth) != 12 {
		t.Errorf("saw %d sites and %d cameras, want 3 and 12", len(sites), len(lastHealth))
	}
	// Shares follow the mix's rates: 1500 tracks, 4 near misses and 360
	// health reports per camera-hour.
	per := loadgen.DefaultMix.EventsPerSecond() * 3600
	for k, rate := range map[events.Kind]float64{events.KindTrack: 1500, events.KindNearMiss: 4, events.KindHealth: 360} {
		want := float64(n) * rate / per
		got := float64(kinds[k])
		if math.Abs(got-want) > 4*math.Sqrt(want)+1 {
			t.Errorf("%s: %v events, want %.0f ± %.0f", k, got, want, 4*math.Sqrt(want))
		}
	}
	// Simulated time: 60,000 events from 12 cameras at ~0.52 events/s each.
	wantSpan := time.Duration(float64(n) / (12 * loadgen.DefaultMix.EventsPerSecond()) * float64(time.Second))
	if span := g.Now().Sub(t0); math.Abs(span.Seconds()-wantSpan.Seconds()) > 0.05*wantSpan.Seconds() {
		t.Errorf("simulated span %s, want about %s", span, wantSpan)
	}
}

func TestGeneratorRejectsBadLayouts(t *testing.T) {
	for _, tc := range []struct {
		name string
		l    loadgen.Layout
		m    loadgen.Mix
	}{
		{"no sites", loadgen.Layout{Sites: 0, Cameras: 1}, loadgen.DefaultMix},
		{"no cameras", loadgen.Layout{Sites: 1, Cameras: 0}, loadgen.DefaultMix},
		{"negative rate", loadgen.Layout{Sites: 1, Cameras: 1}, loadgen.Mix{TracksPerHour: -1}},
		{"empty mix", loadgen.Layout{Sites: 1, Cameras: 1}, loadgen.Mix{}},
		{"origin off the globe", loadgen.Layout{Sites: 1, Cameras: 1, Lat: 95, Lng: 0}, loadgen.DefaultMix},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := loadgen.NewGenerator(tc.l, tc.m); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

func TestRunPublishesCountAtRate(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	nb := bustest.Start(t)
	nc, js := nb.NC, nb.JS
	g, err := loadgen.NewGenerator(loadgen.Layout{Sites: 2, Cameras: 2, Seed: 1}, loadgen.DefaultMix)
	if err != nil {
		t.Fatal(err)
	}
	var acked int
	rep, err := loadgen.Run(ctx, nc, g, loadgen.Options{Count: 3000, RatePerS: 6000, OnPublished: func(events.Event, *jetstream.PubAck) { acked++ }})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Events != 3000 || acked != 3000 {
		t.Fatalf("report says %d events, callback saw %d, want 3000", rep.Events, acked)
	}
	var sum, subjSum int64
	for _, v := range rep.ByKind {
		sum += v
	}
	for _, v := range rep.BySubject {
		subjSum += v
	}
	if sum != 3000 || subjSum != 3000 || len(rep.BySubject) > 12 {
		t.Errorf("by kind sums to %d, by subject to %d over %d subjects; want 3000, 3000, ≤ 12", sum, subjSum, len(rep.BySubject))
	}
	// 3000 events at 6000/s cannot finish in much under half a second.
	if rep.Elapsed < 450*time.Millisecond {
		t.Errorf("3000 events at 6000/s took %s, want ≥ 0.45 s", rep.Elapsed)
	}
	s, err := js.Stream(ctx, events.EventsStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 3000 {
		t.Errorf("stream holds %d messages, want 3000", info.State.Msgs)
	}
}

func TestRunNeedsABound(t *testing.T) {
	g, _ := loadgen.NewGenerator(loadgen.Layout{Sites: 1, Cameras: 1}, loadgen.DefaultMix)
	if _, err := loadgen.Run(context.Background(), nil, g, loadgen.Options{}); err == nil {
		t.Fatal("a run with neither count nor duration was accepted")
	}
}
