package storetest

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/golang/geo/s2"

	"github.com/intersect-oss/intersect/events"
	"github.com/intersect-oss/intersect/store"
)

// Run runs the contract suite; open must return a new, empty store each
// time it is called (and close it when the test ends).
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	cases := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"IdempotentWrites", testIdempotent},
		{"InvalidEventRefusesBatch", testInvalidBatch},
		{"MixedBatch", testMixedBatch},
		{"DeadLetters", testDeadLetters},
		{"Filters", testFilters},
		{"Pagination", testPagination},
		{"Heatmap", testHeatmap},
		{"Stats", testStats},
		{"Export", testExport},
		{"Recommendations", testRecommendations},
		{"TrackSummariesAndExposure", testTracks},
		{"BadQueries", testBadQueries},
		{"ConcurrentOverlappingWriters", testConcurrentWriters},
		{"RawBodies", testRawBodies},
		{"BulkDuplicates", testBulkDuplicates},
		{"ConcurrentBulkWriters", testConcurrentBulkWriters},
		{"Seed", testSeed},
		{"Tokens", testTokens},
		{"Audit", testAudit},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.fn(t, open(t)) })
	}
}

var t0 = time.Date(2026, 3, 10, 14, 0, 0, 0, time.UTC)

func write(t *testing.T, s store.Store, evs ...events.Event) store.WriteResult {
	t.Helper()
	res, err := s.Write(context.Background(), store.Batch{Events: evs})
	if err != nil {
		t.Fatalf("Write: %v", err)
	}
	return res
}

func asEvents[T events.Event](xs []T) []events.Event {
	out := make([]events.Event, len(xs))
	for i, x := range xs {
		out[i] = x
	}
	return out
}

// all pages through every near miss matching f with the given page size.
func all(t *testing.T, s store.Store, f store.Filter, pageSize int) []events.NearMiss {
	t.Helper()
	var out []events.NearMiss
	q := store.NearMissQuery{Filter: f, Limit: pageSize}
	for pages := 0; ; pages++ {
		if pages > 10000 {
			t.Fatal("pagination does not end")
		}
		p, err := s.NearMisses(context.Background(), q)
		if err != nil {
			t.Fatalf("NearMisses: %v", err)
		}
		if len(p.Items) > pageSize {
			t.Fatalf("page of %d items with limit %d", len(p.Items), pageSize)
		}
		out = append(out, p.Items...)
		if p.Next == "" {
			return out
		}
		q.Cursor = p.Next
	}
}

func ids(ns []events.NearMiss) []string {
	out := make([]string, len(ns))
	for i := range ns {
		out[i] = ns[i].ID
	}
	return out
}

// newestFirst sorts near misses in the store's order: time desc, ID desc.
func newestFirst(ns []*events.NearMiss) []string {
	cp := slices.Clone(ns)
	sort.Slice(cp, func(i, j int) bool {
		if !cp[i].Time.Equal(cp[j].Time) {
			return cp[i].Time.After(cp[j].Time)
		}
		return cp[i].ID > cp[j].ID
	})
	out := make([]string, len(cp))
	for i, n := range cp {
		out[i] = n.ID
	}
	return out
}

func jsonEqual(t *testing.T, what string, got, want any) {
	t.Helper()
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	if !bytes.Equal(g, w) {
		t.Errorf("%s differs after storing:\n got %s\nwant %s", what, g, w)
	}
}

func testIdempotent(t *testing.T, s store.Store) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	a := Synthetic(rng, "main-and-5th", "cam-1", t0)
	a.Time = t0.Add(123456789 * time.Nanosecond) // sub-µs precision must survive in the body
	b := Synthetic(rng, "main-and-5th", "cam-1", t0.Add(time.Second))

	if res := write(t, s, a); res.Inserted != 1 || res.Duplicates != 0 {
		t.Fatalf("first write: %+v, want 1 inserted", res)
	}
	if res := write(t, s, a); res.Inserted != 0 || res.Duplicates != 1 {
		t.Fatalf("same event again: %+v, want 1 duplicate", res)
	}
	batch := []events.Event{a, b, b}
	if res := write(t, s, batch...); res.Inserted != 1 || res.Duplicates != 2 {
		t.Fatalf("batch with a stored and a repeated event: %+v, want 1 inserted, 2 duplicates", res)
	}
	if res := write(t, s, batch...); res.Inserted != 0 || res.Duplicates != 3 {
		t.Fatalf("same batch twice: %+v, want 0 inserted, 3 duplicates", res)
	}
	got := all(t, s, store.Filter{}, 10)
	if len(got) != 2 {
		t.Fatalf("stored %d near misses, want 2", len(got))
	}
	back, err := s.NearMiss(ctx, a.ID)
	if err != nil {
		t.Fatalf("NearMiss(%s): %v", a.ID, err)
	}
	jsonEqual(t, "near miss", back, a)
	if _, err := s.NearMiss(ctx, events.NewID()); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("NearMiss(unknown) = %v, want ErrNotFound", err)
	}
	sites, err := s.Sites(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(sites) != 1 || sites[0].NearMisses != 2 || len(sites[0].Cameras) != 1 || sites[0].Cameras[0].NearMisses != 2 {
		t.Fatalf("Sites counted duplicates or lost events: %+v", sites)
	}
}

func testInvalidBatch(t *testing.T, s store.Store) {
	rng := rand.New(rand.NewPCG(3, 4))
	good := Synthetic(rng, "main-and-5th", "cam-1", t0)
	bad := Synthetic(rng, "main-and-5th", "cam-1", t0)
	bad.SpeedAMPS = math.NaN()
	_, err := s.Write(context.Background(), store.Batch{Events: []events.Event{good, bad}})
	if !errors.Is(err, store.ErrBadInput) {
		t.Fatalf("Write with an invalid event = %v, want ErrBadInput", err)
	}
	if msg := err.Error(); !bytes.Contains([]byte(msg), []byte(bad.ID)) || !bytes.Contains([]byte(msg), []byte("speed_a_mps")) {
		t.Errorf("error %q should name the event and the field", msg)
	}
	if got := all(t, s, store.Filter{}, 10); len(got) != 0 {
		t.Fatalf("a refused batch stored %d events", len(got))
	}
}

func signedRec(t *testing.T, key ed25519.PrivateKey, site, ctl string, at time.Time) *events.Recommendation {
	t.Helper()
	r := &events.Recommendation{
		Header: events.NewHeader(events.KindRecommendation, site, "", at), Rule: "lpi",
		Target:    events.Target{Controller: ctl, Phase: 2, Plan: "am-peak", Window: "weekday 07:00-09:00 America/Denver"},
		Changes:   []events.Change{{Object: "phaseWalk", OID: "1.3.6.1.4.1.1206.4.2.1.1.2.1.2.2", Unit: "s", Current: 7, Proposed: 10}},
		Rationale: "right-turn conflicts above threshold", ValidFrom: at, ValidUntil: at.Add(24 * time.Hour),
		Evidence: events.Evidence{EventIDs: []string{events.NewID()}, From: at.Add(-time.Hour), To: at},
		State:    events.Proposed,
	}
	if err := r.Sign(key, "k1"); err != nil {
		t.Fatal(err)
	}
	return r
}

func testMixedBatch(t *testing.T, s store.Store) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(5, 6))
	pub, key, _ := ed25519.GenerateKey(nil)
	site := "main-and-5th"
	nm1 := Synthetic(rng, site, "cam-1", t0)
	nm2 := Synthetic(rng, site, "cam-2", t0.Add(time.Minute))
	tr := &events.TrackSummary{Header: events.NewHeader(events.KindTrack, site, "cam-1", t0), Track: 9, Class: events.Pedestrian,
		Start: t0.Add(-10 * time.Second), End: t0, Frames: 120, DistanceM: 14, MeanSpeedMPS: 1.4, Crosswalk: "crosswalk-north"}
	h1 := &events.CameraHealth{Header: events.NewHeader(events.KindHealth, site, "cam-1", t0), Status: events.CameraOK, Detector: "mog2", FPSIn: 25}
	h2 := &events.CameraHealth{Header: events.NewHeader(events.KindHealth, site, "cam-1", t0.Add(time.Minute)), Status: events.CameraDegraded, Detector: "mog2", FramesDropped: 4}
	h3 := &events.CameraHealth{Header: events.NewHeader(events.KindHealth, site, "cam-2", t0), Status: events.CameraDown, Detector: "yolo", Error: "rtsp timeout"}
	w1 := &events.WeatherObservation{Header: events.NewHeader(events.KindWeather, site, "", t0), Condition: events.Dry, Source: "manual"}
	w2 := &events.WeatherObservation{Header: events.NewHeader(events.KindWeather, site, "", t0.Add(time.Hour)), Condition: events.Snow, Source: "nws:KSLC", TempC: f64(-3)}
	rec := signedRec(t, key, site, "ctl-1", t0)
	if err := rec.Approve(key, "engineer@city", "ok", t0); err != nil {
		t.Fatal(err)
	}
	ack := &events.Ack{Header: events.NewHeader(events.KindAck, site, "", t0.Add(2*time.Minute)), Controller: "ctl-1", RecommendationID: rec.ID, Digest: digest(t, rec), Result: events.AckApplied}

	res, err := s.Write(ctx, store.Batch{
		Events: []events.Event{ack, nm1, tr, h1, h2, h3, w1, w2, nm2, rec}, // ack first: the store must order it after its recommendation
		Dead:   []store.DeadLetter{{Subject: "intersect.v1.x.cam-1.nearmiss", Data: []byte("{nope"), Reason: "malformed event JSON"}},
	})
	if err != nil {
		t.Fatalf("Write: %v", err)
	}
	if res.Inserted != 10 || res.Duplicates != 0 || res.Dead != 1 || res.Transitions != 1 {
		t.Fatalf("WriteResult = %+v, want 10 inserted, 1 dead, 1 transition", res)
	}

	health, err := s.LatestHealth(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(health) != 2 || health[0].ID != h2.ID || health[1].ID != h3.ID {
		t.Fatalf("LatestHealth = %v, want latest of cam-1 (%s) and cam-2 (%s)", healthIDs(health), h2.ID, h3.ID)
	}
	jsonEqual(t, "health", health[1], h3)
	w, err := s.LatestWeather(ctx, site)
	if err != nil || w.ID != w2.ID || w.TempC == nil || *w.TempC != -3 {
		t.Fatalf("LatestWeather = %+v, %v; want %s", w, err, w2.ID)
	}
	if _, err := s.LatestWeather(ctx, "nowhere"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("LatestWeather(nowhere) = %v, want ErrNotFound", err)
	}
	got, err := s.Recommendation(ctx, rec.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != events.Deployed {
		t.Fatalf("recommendation state after an applied ack = %s, want deployed", got.State)
	}
	if err := got.Verify(pub); err != nil {
		t.Fatalf("stored recommendation no longer verifies: %v", err)
	}
	trs, err := s.Transitions(ctx, rec.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(trs) != 2 || trs[0].To != events.Approved || trs[1].From != events.Approved || trs[1].To != events.Deployed || trs[1].By != "controller:ctl-1" {
		t.Fatalf("transitions = %+v, want stored→approved then approved→deployed by controller:ctl-1", trs)
	}
	sites, err := s.Sites(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(sites) != 1 || sites[0].NearMisses != 2 || sites[0].Tracks != 1 || len(sites[0].Cameras) != 2 {
		t.Fatalf("Sites = %+v", sites)
	}
	if c := sites[0].Cameras[0]; c.Camera != "cam-1" || c.NearMisses != 1 || c.Tracks != 1 || !c.LastSeen.Equal(t0.Add(time.Minute)) {
		t.Fatalf("cam-1 = %+v, want 1 near miss, 1 track, last seen %s (its last health report)", c, t0.Add(time.Minute))
	}
	// Replaying the whole batch changes nothing.
	res, err = s.Write(ctx, store.Batch{Events: []events.Event{ack, nm1, tr, h1, h2, h3, w1, w2, nm2, rec}})
	if err != nil || res.Inserted != 0 || res.Duplicates != 10 || res.Transitions != 0 {
		t.Fatalf("replay: %+v, %v; want 10 duplicates and no transition", res, err)
	}
	if trs, _ := s.Transitions(ctx, rec.ID); len(trs) != 2 {
		t.Fatalf("replay added transitions: %+v", trs)
	}
	if sites, _ := s.Sites(ctx); sites[0].NearMisses != 2 {
		t.Fatalf("replay changed counts: %+v", sites)
	}
}

func healthIDs(hs []events.CameraHealth) []string {
	var out []string
	for _, h := range hs {
		out = append(out, h.Camera+":"+h.ID)
	}
	return out
}

func testDeadLetters(t *testing.T, s store.Store) {
	ctx := context.Background()
	at := t0
	dl := []store.DeadLetter{
		{Key: "seq-1", Subject: "a", Data: []byte("x"), Reason: "r1", At: at},
		{Subject: "b", Data: []byte{0, 1, 2, 255}, Reason: "r2", At: at.Add(time.Second)},
	}
	res, err := s.Write(ctx, store.Batch{Dead: dl})
	if err != nil || res.Dead != 2 {
		t.Fatalf("Write dead letters: %+v, %v", res, err)
	}
	res, err = s.Write(ctx, store.Batch{Dead: dl})
	if err != nil || res.Dead != 0 {
		t.Fatalf("redelivered dead letters stored again: %+v, %v", res, err)
	}
	got, err := s.DeadLetters(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Subject != "b" || !bytes.Equal(got[0].Data, []byte{0, 1, 2, 255}) || got[1].Key != "seq-1" || !got[1].At.Equal(at) {
		t.Fatalf("DeadLetters = %+v", got)
	}
	if got, _ := s.DeadLetters(ctx, 1); len(got) != 1 {
		t.Fatalf("DeadLetters(limit 1) returned %d", len(got))
	}
	if _, err := s.Write(ctx, store.Batch{Dead: []store.DeadLetter{{Subject: "c"}}}); !errors.Is(err, store.ErrBadInput) {
		t.Fatalf("dead letter without reason: %v, want ErrBadInput", err)
	}
}

// fixture writes a varied set of near misses and returns them.
func fixture(t *testing.T, s store.Store, n int, seed uint64) []*events.NearMiss {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, seed+1))
	ns := make([]*events.NearMiss, n)
	for i := range ns {
		site := SynthSites[i%2]
		cam := SynthCameras[(i/2)%2]
		// Whole seconds with repeats, so pagination meets ties.
		ns[i] = Synthetic(rng, site, cam, t0.Add(time.Duration(rng.IntN(n/2+1))*17*time.Minute))
	}
	for start := 0; start < n; start += 100 {
		write(t, s, asEvents(ns[start:min(start+100, n)])...)
	}
	return ns
}

func testFilters(t *testing.T, s store.Store) {
	ns := fixture(t, s, 300, 7)
	from, to := t0.Add(10*time.Hour), t0.Add(30*time.Hour)
	cases := []struct {
		name string
		f    store.Filter
		keep func(n *events.NearMiss) bool
	}{
		{"none", store.Filter{}, func(*events.NearMiss) bool { return true }},
		{"site", store.Filter{Site: "state-and-400s"}, func(n *events.NearMiss) bool { return n.Site == "state-and-400s" }},
		{"camera", store.Filter{Camera: "cam-2"}, func(n *events.NearMiss) bool { return n.Camera == "cam-2" }},
		{"site and camera", store.Filter{Site: "main-and-5th", Camera: "cam-1"}, func(n *events.NearMiss) bool { return n.Site == "main-and-5th" && n.Camera == "cam-1" }},
		{"from", store.Filter{From: from}, func(n *events.NearMiss) bool { return !n.Time.Before(from) }},
		{"from to", store.Filter{From: from, To: to}, func(n *events.NearMiss) bool { return !n.Time.Before(from) && n.Time.Before(to) }},
		{"types", store.Filter{Types: []events.ConflictType{events.RightTurnCrosswalk, events.LeftTurnMidBlock}}, func(n *events.NearMiss) bool {
			return n.Type == events.RightTurnCrosswalk || n.Type == events.LeftTurnMidBlock
		}},
		{"severity", store.Filter{Severities: []events.Severity{events.Critical}}, func(n *events.NearMiss) bool { return n.Severity == events.Critical }},
		{"class either side", store.Filter{Class: events.Bicycle}, func(n *events.NearMiss) bool { return n.ClassA == events.Bicycle || n.ClassB == events.Bicycle }},
		{"class a side", store.Filter{Class: events.Bus}, func(n *events.NearMiss) bool { return n.ClassA == events.Bus || n.ClassB == events.Bus }},
		{"weather", store.Filter{Weather: "snow"}, func(n *events.NearMiss) bool { return n.Weather == "snow" }},
		{"max TTC", store.Filter{MaxTTCS: f64(0.7)}, func(n *events.NearMiss) bool { return n.MinTTCS != nil && *n.MinTTCS <= 0.7 }},
		{"max PET", store.Filter{MaxPETS: f64(1)}, func(n *events.NearMiss) bool { return n.PETS != nil && *n.PETS <= 1 }},
		{"zone", store.Filter{Zone: "crosswalk-east"}, func(n *events.NearMiss) bool { return n.Zone == "crosswalk-east" }},
		{"approach", store.Filter{Approach: "WB"}, func(n *events.NearMiss) bool { return n.Approach == "WB" }},
		{"combined", store.Filter{Site: "main-and-5th", Severities: []events.Severity{events.Critical, events.Serious}, MaxPETS: f64(1.5), From: from},
			func(n *events.NearMiss) bool {
				return n.Site == "main-and-5th" && n.Severity != events.Minor && n.PETS != nil && *n.PETS <= 1.5 && !n.Time.Before(from)
			}},
		{"repeated values", store.Filter{Severities: slices.Repeat([]events.Severity{events.Minor}, 70000)}, func(n *events.NearMiss) bool { return n.Severity == events.Minor }},
		{"injection attempt", store.Filter{Site: "x' OR '1'='1", Zone: "'); DROP TABLE near_misses; --"}, func(*events.NearMiss) bool { return false }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var want []*events.NearMiss
			for _, n := range ns {
				if c.keep(n) {
					want = append(want, n)
				}
			}
			if len(want) == 0 && c.name != "injection attempt" {
				t.Fatalf("fixture has no event for this filter; the case tests nothing")
			}
			got := ids(all(t, s, c.f, 1000))
			if !slices.Equal(got, newestFirst(want)) {
				t.Fatalf("got %d events, want %d (or wrong order)", len(got), len(want))
			}
		})
	}
	// The table survived the injection attempt.
	if got := all(t, s, store.Filter{}, 1000); len(got) != len(ns) {
		t.Fatalf("after filters: %d events, want %d", len(got), len(ns))
	}
}

func testPagination(t *testing.T, s store.Store) {
	ns := fixture(t, s, 257, 11)
	want := newestFirst(ns)
	for _, size := range []int{1, 7, 100, 257, 1000} {
		got := ids(all(t, s, store.Filter{}, size))
		if !slices.Equal(got, want) {
			t.Fatalf("page size %d: %d events, want %d, in order without gaps or repeats", size, len(got), len(want))
		}
	}
	// A page fetched with the default limit holds DefaultLimit items.
	p, err := s.NearMisses(context.Background(), store.NearMissQuery{})
	if err != nil || len(p.Items) != store.DefaultLimit || p.Next == "" {
		t.Fatalf("default page: %d items, next %q, %v", len(p.Items), p.Next, err)
	}
	// Events written after a cursor was issued, newer than the cursor, do
	// not disturb the pages after it.
	q := store.NearMissQuery{Limit: 50}
	p, _ = s.NearMisses(context.Background(), q)
	write(t, s, Synthetic(rand.New(rand.NewPCG(1, 1)), "main-and-5th", "cam-1", t0.Add(1000*time.Hour)))
	q.Cursor = p.Next
	p2, err := s.NearMisses(context.Background(), q)
	if err != nil || len(p2.Items) != 50 || p2.Items[0].ID != want[50] {
		t.Fatalf("page after a concurrent insert starts at %v, want %s", ids(p2.Items[:1]), want[50])
	}
}

func testHeatmap(t *testing.T, s store.Store) {
	ns := fixture(t, s, 400, 13)
	ctx := context.Background()
	for _, level := range []int{0, 8, 14, 17, 20, 30} {
		for _, f := range []store.Filter{{}, {Site: "main-and-5th", Severities: []events.Severity{events.Critical, events.Minor}}} {
			cells, err := s.Heatmap(ctx, store.HeatmapQuery{Filter: f, Level: level})
			if err != nil {
				t.Fatalf("Heatmap level %d: %v", level, err)
			}
			type agg struct {
				count int64
				score float64
				crit  int64
			}
			want := map[s2.CellID]*agg{}
			for _, n := range ns {
				if f.Site != "" && (n.Site != f.Site || n.Severity == events.Serious) {
					continue
				}
				c := s2.CellIDFromLatLng(s2.LatLngFromDegrees(n.Lat, n.Lng)).Parent(level)
				a := want[c]
				if a == nil {
					a = &agg{}
					want[c] = a
				}
				a.count++
				a.score += n.Severity.Weight()
				if n.Severity == events.Critical {
					a.crit++
				}
			}
			if len(cells) != len(want) {
				t.Fatalf("level %d %+v: %d cells, want %d", level, f, len(cells), len(want))
			}
			var total int64
			for _, c := range cells {
				id := s2.CellID(c.Cell)
				w := want[id]
				if !id.IsValid() || id.Level() != level || c.Level != level || c.Token != id.ToToken() || w == nil {
					t.Fatalf("level %d: cell %v (token %s, level %d) is not one of the expected cells", level, id, c.Token, id.Level())
				}
				if c.Count != w.count || math.Abs(c.Score-w.score) > 1e-9 || c.Critical != w.crit || c.Critical+c.Serious+c.Minor != c.Count {
					t.Fatalf("level %d cell %s: %+v, want count %d score %v critical %d", level, c.Token, c, w.count, w.score, w.crit)
				}
				total += c.Count
			}
			// Every point lies in the cell it was counted in.
			for _, n := range ns[:20] {
				leaf := s2.CellIDFromLatLng(s2.LatLngFromDegrees(n.Lat, n.Lng))
				if !slices.ContainsFunc(cells, func(c store.HeatCell) bool { return s2.CellID(c.Cell).Contains(leaf) }) &&
					(f.Site == "" || (n.Site == f.Site && n.Severity != events.Serious)) {
					t.Fatalf("level %d: no cell contains the point of %s", level, n.ID)
				}
			}
			if f.Site == "" && total != int64(len(ns)) {
				t.Fatalf("level %d: cells hold %d events, want %d", level, total, len(ns))
			}
		}
	}
}

func testStats(t *testing.T, s store.Store) {
	ctx := context.Background()
	den, err := time.LoadLocation("America/Denver")
	if err != nil {
		t.Fatal(err)
	}
	ns := fixture(t, s, 300, 17)
	// Exposure: tracks at several hours, some outside the window.
	var tracks []events.Event
	classes := []events.Class{events.Pedestrian, events.Car, events.Bicycle, events.Truck, events.Pedestrian}
	for i := 0; i < 60; i++ {
		at := t0.Add(time.Duration(i*37) * time.Minute)
		tracks = append(tracks, &events.TrackSummary{Header: events.NewHeader(events.KindTrack, "main-and-5th", SynthCameras[i%2], at),
			Track: int64(i + 1), Class: classes[i%len(classes)], Start: at.Add(-5 * time.Second), End: at, Frames: 40})
	}
	write(t, s, tracks...)
	from, to := t0.Add(2*time.Hour), t0.Add(40*time.Hour)
	filter := store.Filter{Site: "main-and-5th", From: from, To: to}
	inWindow := func(tm time.Time) bool { return !tm.Before(from) && tm.Before(to) }

	key := func(by string, tm time.Time, n *events.NearMiss) string {
		l := tm.In(den)
		switch by {
		case store.ByHour:
			return strconv.Itoa(l.Hour())
		case store.ByWeekday:
			return strconv.Itoa(int(l.Weekday()))
		case store.ByBin15:
			return time.Date(l.Year(), l.Month(), l.Day(), l.Hour(), l.Minute()/15*15, 0, 0, den).Format(time.RFC3339)
		case store.ByBin60:
			return time.Date(l.Year(), l.Month(), l.Day(), l.Hour(), 0, 0, 0, den).Format(time.RFC3339)
		case store.ByType:
			return string(n.Type)
		case store.BySeverity:
			return string(n.Severity)
		case store.ByWeather:
			return n.Weather
		case store.ByApproach:
			return n.Approach
		}
		panic(by)
	}
	for _, by := range []string{store.ByHour, store.ByWeekday, store.ByBin15, store.ByBin60, store.ByType, store.BySeverity, store.ByWeather, store.ByApproach} {
		t.Run(by, func(t *testing.T) {
			res, err := s.Stats(ctx, store.StatsQuery{Filter: filter, By: by, TZ: den})
			if err != nil {
				t.Fatalf("Stats: %v", err)
			}
			type g struct {
				count, ped, veh int64
				score           float64
			}
			want := map[string]*g{}
			get := func(k string) *g {
				if want[k] == nil {
					want[k] = &g{}
				}
				return want[k]
			}
			for _, n := range ns {
				if n.Site == filter.Site && inWindow(n.Time) {
					w := get(key(by, n.Time, n))
					w.count++
					w.score += n.Severity.Weight()
				}
			}
			var ped, veh int64
			timeGroup := by == store.ByHour || by == store.ByWeekday || by == store.ByBin15 || by == store.ByBin60
			for _, e := range tracks {
				tr := e.(*events.TrackSummary)
				if !inWindow(tr.Time) {
					continue
				}
				isPed, isVeh := tr.Class == events.Pedestrian, tr.Class == events.Car || tr.Class == events.Truck
				if isPed {
					ped++
				}
				if isVeh {
					veh++
				}
				if timeGroup {
					w := get(key(by, tr.Time, nil))
					if isPed {
						w.ped++
					}
					if isVeh {
						w.veh++
					}
				}
			}
			if res.Pedestrians != ped || res.Vehicles != veh || res.Cyclists == 0 {
				t.Fatalf("exposure %d ped %d veh %d cyc, want %d ped %d veh and some cyclists", res.Pedestrians, res.Vehicles, res.Cyclists, ped, veh)
			}
			if len(res.Groups) != len(want) || len(want) < 2 {
				t.Fatalf("%d groups, want %d (>1): %+v", len(res.Groups), len(want), res.Groups)
			}
			for _, gr := range res.Groups {
				w := want[gr.Key]
				if w == nil {
					t.Fatalf("unexpected group %q", gr.Key)
				}
				if gr.Count != w.count || math.Abs(gr.Score-w.score) > 1e-9 || gr.Pedestrians != w.ped || gr.Vehicles != w.veh {
					t.Fatalf("group %q = %+v, want count %d score %v ped %d veh %d", gr.Key, gr, w.count, w.score, w.ped, w.veh)
				}
				if (by == store.ByBin15 || by == store.ByBin60) && gr.Start.Format(time.RFC3339) != gr.Key {
					t.Fatalf("bin %q has start %s", gr.Key, gr.Start)
				}
			}
		})
	}
}

func testExport(t *testing.T, s store.Store) {
	ns := fixture(t, s, 1234, 19)
	ctx := context.Background()
	var got []string
	err := s.ExportNearMisses(ctx, store.NearMissQuery{Limit: 5}, func(n *events.NearMiss) error {
		got = append(got, n.ID)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, newestFirst(ns)) {
		t.Fatalf("export streamed %d events, want all %d in order (Limit is ignored)", len(got), len(ns))
	}
	stop := errors.New("client went away")
	n := 0
	err = s.ExportNearMisses(ctx, store.NearMissQuery{Filter: store.Filter{Site: "main-and-5th"}}, func(nm *events.NearMiss) error {
		if nm.Site != "main-and-5th" {
			return fmt.Errorf("filter ignored: %s", nm.Site)
		}
		n++
		if n == 10 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || n != 10 {
		t.Fatalf("export stopped by fn: %v after %d rows, want the fn's error after 10", err, n)
	}
}

func testRecommendations(t *testing.T, s store.Store) {
	ctx := context.Background()
	pub, key, _ := ed25519.GenerateKey(nil)
	r1 := signedRec(t, key, "main-and-5th", "ctl-1", t0)
	r2 := signedRec(t, key, "main-and-5th", "ctl-2", t0.Add(time.Hour))
	r3 := signedRec(t, key, "state-and-400s", "ctl-9", t0.Add(2*time.Hour))
	write(t, s, r1, r2, r3)

	list, err := s.Recommendations(ctx, store.RecommendationQuery{Site: "main-and-5th"})
	if err != nil || len(list) != 2 || list[0].ID != r2.ID || list[1].ID != r1.ID {
		t.Fatalf("Recommendations(site) = %d, %v", len(list), err)
	}
	if list, _ := s.Recommendations(ctx, store.RecommendationQuery{Controller: "ctl-9"}); len(list) != 1 || list[0].ID != r3.ID {
		t.Fatalf("Recommendations(controller) = %+v", list)
	}

	// Approve r1: re-signed body, then the compare-and-set transition.
	if err := r1.Approve(key, "engineer@city", "checked the counts", t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.UpdateRecommendation(ctx, r1); err != nil {
		t.Fatalf("UpdateRecommendation: %v", err)
	}
	if err := s.Transition(ctx, r1.ID, events.Proposed, events.Approved, "engineer@city", "checked the counts"); err != nil {
		t.Fatalf("Transition: %v", err)
	}
	err = s.Transition(ctx, r1.ID, events.Proposed, events.Rejected, "other@city", "late")
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("second transition from proposed = %v, want ErrConflict", err)
	}
	if err := s.Transition(ctx, events.NewID(), events.Proposed, events.Approved, "x", ""); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("transition of unknown = %v, want ErrNotFound", err)
	}
	if err := s.Transition(ctx, r1.ID, "bogus", events.Approved, "x", ""); !errors.Is(err, store.ErrBadInput) {
		t.Fatalf("transition from unknown state = %v, want ErrBadInput", err)
	}
	got, err := s.Recommendation(ctx, r1.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != events.Approved || got.Approval == nil || got.Approval.By != "engineer@city" {
		t.Fatalf("approved recommendation = state %s approval %+v", got.State, got.Approval)
	}
	if err := got.Verify(pub); err != nil {
		t.Fatalf("approved copy does not verify: %v", err)
	}
	if list, _ := s.Recommendations(ctx, store.RecommendationQuery{States: []events.State{events.Approved}}); len(list) != 1 || list[0].ID != r1.ID {
		t.Fatalf("Recommendations(approved) = %d", len(list))
	}

	// Controllers answer: r1 applied → deployed; r2 was never approved, so
	// its ack is stored but moves nothing; r3 approved then rejected.
	if err := s.Transition(ctx, r3.ID, events.Proposed, events.Approved, "engineer@city", ""); err != nil {
		t.Fatal(err)
	}
	// An ack about other content (a forged copy with r1's ID that the
	// controller rejected) must not move the genuine r1.
	forged := *r1
	forged.Changes = []events.Change{{Object: "phaseWalk", OID: "1.3.6.1.4.1.1206.4.2.1.1.2.1.2.9", Unit: "s", Current: 7, Proposed: 60}}
	ack0 := &events.Ack{Header: events.NewHeader(events.KindAck, "main-and-5th", "", t0.Add(2*time.Minute)), Controller: "ctl-1", RecommendationID: r1.ID, Digest: digest(t, &forged), Result: events.AckRejected, Reason: "signature does not verify"}
	if res := write(t, s, ack0); res.Transitions != 0 {
		t.Fatalf("an ack about a forged copy moved %d recommendations", res.Transitions)
	}
	ack1 := &events.Ack{Header: events.NewHeader(events.KindAck, "main-and-5th", "", t0.Add(3*time.Minute)), Controller: "ctl-1", RecommendationID: r1.ID, Digest: digest(t, r1), Result: events.AckApplied}
	ack2 := &events.Ack{Header: events.NewHeader(events.KindAck, "main-and-5th", "", t0.Add(3*time.Minute)), Controller: "ctl-2", RecommendationID: r2.ID, Digest: digest(t, r2), Result: events.AckApplied}
	ack3 := &events.Ack{Header: events.NewHeader(events.KindAck, "state-and-400s", "", t0.Add(3*time.Minute)), Controller: "ctl-9", RecommendationID: r3.ID, Digest: digest(t, r3), Result: events.AckRejected, Reason: "signature key unknown"}
	if res := write(t, s, ack1, ack2, ack3); res.Transitions != 2 {
		t.Fatalf("acks caused %d transitions, want 2", res.Transitions)
	}
	for id, want := range map[string]events.State{r1.ID: events.Deployed, r2.ID: events.Proposed, r3.ID: events.Rejected} {
		got, err := s.Recommendation(ctx, id)
		if err != nil || got.State != want {
			t.Fatalf("recommendation %s: state %v (%v), want %s", id, got, err, want)
		}
	}
	trs, err := s.Transitions(ctx, r1.ID)
	if err != nil {
		t.Fatal(err)
	}
	wantTr := []Transition{{"", events.Proposed}, {events.Proposed, events.Approved}, {events.Approved, events.Deployed}}
	if len(trs) != len(wantTr) {
		t.Fatalf("transitions of r1 = %+v", trs)
	}
	for i, w := range wantTr {
		if trs[i].From != w.From || trs[i].To != w.To || trs[i].At.IsZero() || trs[i].By == "" {
			t.Fatalf("transition %d = %+v, want %s→%s with who and when", i, trs[i], w.From, w.To)
		}
	}
	if trs[1].By != "engineer@city" || trs[1].Why != "checked the counts" {
		t.Fatalf("approval transition = %+v", trs[1])
	}
	trs3, _ := s.Transitions(ctx, r3.ID)
	if last := trs3[len(trs3)-1]; last.To != events.Rejected || !bytes.Contains([]byte(last.Why), []byte("signature key unknown")) {
		t.Fatalf("rejection not recorded with its reason: %+v", last)
	}
	unknown := signedRec(t, key, "main-and-5th", "ctl-1", t0)
	if err := s.UpdateRecommendation(ctx, unknown); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("UpdateRecommendation(unknown) = %v, want ErrNotFound", err)
	}
	if _, err := s.Recommendation(ctx, unknown.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Recommendation(unknown) = %v, want ErrNotFound", err)
	}
}

// Transition is a from→to pair, for expectations.
type Transition struct{ From, To events.State }

func testTracks(t *testing.T, s store.Store) {
	ctx := context.Background()
	var evs []events.Event
	var want []*events.TrackSummary
	moves := []string{"right", "left", "through"}
	for i := 0; i < 30; i++ {
		at := t0.Add(time.Duration(i) * time.Minute)
		cls := []events.Class{events.Pedestrian, events.Car, events.Bus}[i%3]
		tr := &events.TrackSummary{Header: events.NewHeader(events.KindTrack, SynthSites[i%2], "cam-1", at), Track: int64(i), Class: cls,
			Start: at.Add(-time.Second), End: at, Frames: 10 + i, DistanceM: float64(i), MeanSpeedMPS: 1.2}
		if cls != events.Pedestrian {
			tr.Approach, tr.Movement = "NB", moves[(i/3)%3]
		}
		evs = append(evs, tr)
		want = append(want, tr)
	}
	write(t, s, evs...)
	got, err := s.TrackSummaries(ctx, store.TrackQuery{Site: SynthSites[0], Class: events.Pedestrian, From: t0.Add(5 * time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	var wantIDs []string
	for i := len(want) - 1; i >= 0; i-- {
		w := want[i]
		if w.Site == SynthSites[0] && w.Class == events.Pedestrian && !w.Time.Before(t0.Add(5*time.Minute)) {
			wantIDs = append(wantIDs, w.ID)
		}
	}
	var gotIDs []string
	for _, g := range got {
		gotIDs = append(gotIDs, g.ID)
	}
	if !slices.Equal(gotIDs, wantIDs) || len(wantIDs) == 0 {
		t.Fatalf("TrackSummaries = %v, want %v", gotIDs, wantIDs)
	}
	jsonEqual(t, "track summary", got[0], *want[slices.IndexFunc(want, func(w *events.TrackSummary) bool { return w.ID == gotIDs[0] })])

	exp, err := s.Exposure(ctx, SynthSites[1], t0, t0.Add(20*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int64{}
	for _, w := range want {
		if w.Site == SynthSites[1] && w.Time.Before(t0.Add(20*time.Minute)) {
			counts[string(w.Class)+"/"+w.Approach+"/"+w.Movement]++
		}
	}
	if len(exp) != len(counts) {
		t.Fatalf("Exposure = %+v, want %v", exp, counts)
	}
	for _, e := range exp {
		if counts[string(e.Class)+"/"+e.Approach+"/"+e.Movement] != e.Tracks {
			t.Fatalf("Exposure %+v, want %v", e, counts)
		}
	}
}

func testBadQueries(t *testing.T, s store.Store) {
	ctx := context.Background()
	bad := []struct {
		name string
		err  error
	}{
		{"limit too big", func() error { _, err := s.NearMisses(ctx, store.NearMissQuery{Limit: store.MaxLimit + 1}); return err }()},
		{"negative limit", func() error { _, err := s.NearMisses(ctx, store.NearMissQuery{Limit: -1}); return err }()},
		{"forged cursor", func() error { _, err := s.NearMisses(ctx, store.NearMissQuery{Cursor: "'; DROP TABLE x"}); return err }()},
		{"unknown type", func() error {
			_, err := s.NearMisses(ctx, store.NearMissQuery{Filter: store.Filter{Types: []events.ConflictType{"u-turn"}}})
			return err
		}()},
		{"unknown severity", func() error {
			_, err := s.NearMisses(ctx, store.NearMissQuery{Filter: store.Filter{Severities: []events.Severity{"meh"}}})
			return err
		}()},
		{"unknown class", func() error {
			_, err := s.NearMisses(ctx, store.NearMissQuery{Filter: store.Filter{Class: "horse"}})
			return err
		}()},
		{"to before from", func() error {
			_, err := s.NearMisses(ctx, store.NearMissQuery{Filter: store.Filter{From: t0, To: t0.Add(-time.Hour)}})
			return err
		}()},
		{"negative max TTC", func() error {
			_, err := s.NearMisses(ctx, store.NearMissQuery{Filter: store.Filter{MaxTTCS: f64(-1)}})
			return err
		}()},
		{"heatmap level 31", func() error { _, err := s.Heatmap(ctx, store.HeatmapQuery{Level: 31}); return err }()},
		{"stats by moon phase", func() error { _, err := s.Stats(ctx, store.StatsQuery{By: "moon"}); return err }()},
		{"unknown state", func() error {
			_, err := s.Recommendations(ctx, store.RecommendationQuery{States: []events.State{"limbo"}})
			return err
		}()},
		{"export with bad filter", s.ExportNearMisses(ctx, store.NearMissQuery{Filter: store.Filter{Class: "horse"}}, func(*events.NearMiss) error { return nil })},
	}
	for _, b := range bad {
		if !errors.Is(b.err, store.ErrBadInput) {
			t.Errorf("%s: error %v, want ErrBadInput", b.name, b.err)
		}
	}
}

// writeRacing has writers store all of base at once, each in its own
// shuffled order (seeded by the writer's index and seed) and batch size
// (size(w)), as redeliveries racing across ingest instances do. It fails the
// test on a write error or when a writer does not account for every event
// as inserted or duplicate, and returns how many the writers inserted in
// total.
func writeRacing(t *testing.T, s store.Store, base []events.Event, writers int, seed uint64, size func(w int) int) int {
	t.Helper()
	n := len(base)
	var wg sync.WaitGroup
	results := make([]store.WriteResult, writers)
	errs := make([]error, writers)
	for w := range writers {
		evs := slices.Clone(base)
		r := rand.New(rand.NewPCG(uint64(w), seed))
		r.Shuffle(len(evs), func(i, j int) { evs[i], evs[j] = evs[j], evs[i] })
		size := size(w)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for start := 0; start < n; start += size {
				res, err := s.Write(context.Background(), store.Batch{Events: evs[start:min(start+size, n)]})
				if err != nil {
					errs[w] = err
					return
				}
				results[w].Inserted += res.Inserted
				results[w].Duplicates += res.Duplicates
			}
		}()
	}
	wg.Wait()
	inserted := 0
	for w := range writers {
		if errs[w] != nil {
			t.Fatalf("writer %d: %v", w, errs[w])
		}
		if results[w].Inserted+results[w].Duplicates != n {
			t.Fatalf("writer %d accounted for %d events, want %d", w, results[w].Inserted+results[w].Duplicates, n)
		}
		inserted += results[w].Inserted
	}
	return inserted
}

// testConcurrentWriters has several writers store the same events in
// different orders and batchings at once (redeliveries racing across
// ingest instances): every event ends up stored exactly once.
func testConcurrentWriters(t *testing.T, s store.Store) {
	rng := rand.New(rand.NewPCG(23, 29))
	const n, writers = 300, 4
	base := make([]events.Event, n)
	for i := range base {
		base[i] = Synthetic(rng, SynthSites[i%3], SynthCameras[i%2], t0.Add(time.Duration(i)*time.Minute))
	}
	if inserted := writeRacing(t, s, base, writers, 99, func(w int) int { return 25 + 25*w }); inserted != n {
		t.Fatalf("writers inserted %d in total, want %d", inserted, n)
	}
	if got := all(t, s, store.Filter{}, 1000); len(got) != n {
		t.Fatalf("stored %d, want %d", len(got), n)
	}
	sites, err := s.Sites(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, st := range sites {
		total += st.NearMisses
	}
	if total != n {
		t.Fatalf("Sites counts %d near misses, want %d", total, n)
	}
}

func testSeed(t *testing.T, s store.Store) {
	ctx := context.Background()
	if err := Seed(ctx, s, 2500, rand.New(rand.NewPCG(31, 37)), t0); err != nil {
		t.Fatalf("Seed: %v", err)
	}
	sites, err := s.Sites(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, st := range sites {
		total += st.NearMisses
	}
	if len(sites) != len(SynthSites) || total != 2500 {
		t.Fatalf("after Seed(2500): %d sites, %d near misses", len(sites), total)
	}
	p, err := s.NearMisses(ctx, store.NearMissQuery{Filter: store.Filter{From: t0.Add(89 * 24 * time.Hour)}, Limit: 1000})
	if err != nil || len(p.Items) == 0 || len(p.Items) > 100 {
		t.Fatalf("Seed should spread events over 90 days: %d in the last day (%v)", len(p.Items), err)
	}
}

// digest is r's content digest, as a controller puts it in its ack.
func digest(t *testing.T, r *events.Recommendation) string {
	t.Helper()
	d, err := r.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}
