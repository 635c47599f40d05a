package storetest

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/intersect-oss/intersect/events"
	"github.com/intersect-oss/intersect/store"
)

// Write-path cases: raw bodies, and duplicates among the bulk kinds (track
// summaries and health), which PostgreSQL writes with COPY and only falls
// back to a conflict-tolerant path for when a row is already stored.

func track(site, camera string, at time.Time, n int) *events.TrackSummary {
	cls := []events.Class{events.Pedestrian, events.Car, events.Bicycle}[n%3]
	return &events.TrackSummary{Header: events.NewHeader(events.KindTrack, site, camera, at), Track: int64(n), Class: cls,
		Start: at.Add(-time.Second), End: at, Frames: 10 + n, DistanceM: float64(n), MeanSpeedMPS: 1.25}
}

func health(site, camera string, at time.Time, dropped int64) *events.CameraHealth {
	return &events.CameraHealth{Header: events.NewHeader(events.KindHealth, site, camera, at), Status: events.CameraOK,
		Detector: "motion", FPSIn: 25, FramesDropped: dropped}
}

func encode(t *testing.T, ev events.Event) []byte {
	t.Helper()
	data, err := events.Encode(ev)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// testRawBodies: a raw body is kept verbatim (shown by raw bytes that say
// something the event does not), a nil, missing or invalid one is replaced
// by the event's encoding, and more raw bodies than events is refused.
func testRawBodies(t *testing.T, s store.Store) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(31, 37))
	site := "main-and-5th"
	nm := Synthetic(rng, site, "cam-1", t0)
	nmRaw := *nm
	nmRaw.Zone = "from-raw-bytes"
	tr := track(site, "cam-1", t0, 1)
	trRaw := *tr
	trRaw.MeanSpeedMPS = 9.75
	hl := health(site, "cam-1", t0, 1)
	hlRaw := *hl
	hlRaw.FramesDropped = 4242
	wx := &events.WeatherObservation{Header: events.NewHeader(events.KindWeather, site, "", t0), Condition: events.Wet, Source: "manual"}
	wxRaw := *wx
	wxRaw.Source = "raw:bytes"
	// nil raw, invalid UTF-8 raw, and no raw at all (Raw shorter).
	tr2 := track(site, "cam-1", t0.Add(time.Second), 2)
	tr3 := track(site, "cam-1", t0.Add(2*time.Second), 3)
	tr4 := track(site, "cam-1", t0.Add(3*time.Second), 4)
	bad := append(encode(t, tr3)[:10:10], 0xff, 0xfe)

	if _, err := s.Write(ctx, store.Batch{Events: []events.Event{tr}, Raw: [][]byte{encode(t, tr), encode(t, tr)}}); !errors.Is(err, store.ErrBadInput) {
		t.Fatalf("Write with more raw bodies than events = %v, want ErrBadInput", err)
	}
	res, err := s.Write(ctx, store.Batch{
		Events: []events.Event{nm, tr, hl, wx, tr2, tr3, tr4},
		Raw:    [][]byte{encode(t, &nmRaw), encode(t, &trRaw), encode(t, &hlRaw), encode(t, &wxRaw), nil, bad},
	})
	if err != nil || res.Inserted != 7 {
		t.Fatalf("Write = %+v, %v; want 7 inserted", res, err)
	}
	gotNM, err := s.NearMiss(ctx, nm.ID)
	if err != nil {
		t.Fatal(err)
	}
	jsonEqual(t, "near miss stored from its raw body", gotNM, &nmRaw)
	// The columns come from the event, not the body.
	page, err := s.NearMisses(ctx, store.NearMissQuery{Filter: store.Filter{Zone: nm.Zone}})
	if err != nil || len(page.Items) != 1 || page.Items[0].ID != nm.ID {
		t.Fatalf("NearMisses(zone %q) = %+v, %v; want the near miss by its event's zone", nm.Zone, page.Items, err)
	}
	trs, err := s.TrackSummaries(ctx, store.TrackQuery{Site: site})
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]events.TrackSummary{}
	for _, g := range trs {
		byID[g.ID] = g
	}
	if len(byID) != 4 {
		t.Fatalf("TrackSummaries = %d, want 4", len(byID))
	}
	jsonEqual(t, "track stored from its raw body", byID[tr.ID], trRaw)
	jsonEqual(t, "track with a nil raw body", byID[tr2.ID], *tr2)
	jsonEqual(t, "track with invalid UTF-8 raw", byID[tr3.ID], *tr3)
	jsonEqual(t, "track past the end of Raw", byID[tr4.ID], *tr4)
	hs, err := s.LatestHealth(ctx)
	if err != nil || len(hs) != 1 {
		t.Fatalf("LatestHealth = %+v, %v", hs, err)
	}
	jsonEqual(t, "health stored from its raw body", hs[0], hlRaw)
	w, err := s.LatestWeather(ctx, site)
	if err != nil {
		t.Fatal(err)
	}
	jsonEqual(t, "weather stored from its raw body", w, &wxRaw)
}

// testBulkDuplicates: batches of track summaries and health that partly
// repeat stored events store exactly the new ones, keep their raw bodies on
// the conflict-tolerant path, and count only new tracks per camera.
func testBulkDuplicates(t *testing.T, s store.Store) {
	ctx := context.Background()
	site := "state-and-400s"
	var trs []*events.TrackSummary
	var hs []*events.CameraHealth
	for i := range 20 {
		at := t0.Add(time.Duration(i) * time.Second)
		trs = append(trs, track(site, SynthCameras[i%2], at, i))
		hs = append(hs, health(site, SynthCameras[i%2], at, int64(i)))
	}
	batch := func(tlo, thi, hlo, hhi int) store.Batch {
		var b store.Batch
		for _, tr := range trs[tlo:thi] {
			raw := *tr
			raw.MeanSpeedMPS = 7.5 // visible only if the raw body is stored
			b.Events = append(b.Events, tr)
			b.Raw = append(b.Raw, encode(t, &raw))
		}
		for _, h := range hs[hlo:hhi] {
			b.Events = append(b.Events, h)
			b.Raw = append(b.Raw, nil)
		}
		return b
	}
	cases := []struct {
		name                   string
		tlo, thi, hlo, hhi     int
		inserted, duplicates   int
		tracksStored, healthID int
	}{
		{"new", 0, 8, 0, 6, 14, 0, 8, 5},
		{"overlapping", 4, 14, 3, 10, 10, 7, 14, 9},
		{"all stored", 0, 14, 0, 10, 0, 24, 14, 9},
		{"tracks new, health stored", 14, 20, 2, 8, 6, 6, 20, 9},
	}
	for _, c := range cases {
		res, err := s.Write(ctx, batch(c.tlo, c.thi, c.hlo, c.hhi))
		if err != nil {
			t.Fatalf("%s: Write: %v", c.name, err)
		}
		if res.Inserted != c.inserted || res.Duplicates != c.duplicates {
			t.Fatalf("%s: WriteResult %+v, want %d inserted, %d duplicates", c.name, res, c.inserted, c.duplicates)
		}
		got, err := s.TrackSummaries(ctx, store.TrackQuery{Site: site})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != c.tracksStored {
			t.Fatalf("%s: %d track summaries stored, want %d", c.name, len(got), c.tracksStored)
		}
		for _, g := range got {
			if g.MeanSpeedMPS != 7.5 {
				t.Fatalf("%s: track %s body is not its raw body (mean speed %v)", c.name, g.ID, g.MeanSpeedMPS)
			}
		}
		sites, err := s.Sites(ctx)
		if err != nil || len(sites) != 1 || sites[0].Tracks != int64(c.tracksStored) {
			t.Fatalf("%s: Sites = %+v, %v; want %d tracks counted", c.name, sites, err, c.tracksStored)
		}
		latest, err := s.LatestHealth(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, h := range latest {
			ids = append(ids, h.ID)
		}
		want := []string{hs[c.healthID-1].ID, hs[c.healthID].ID} // cam-1, cam-2
		if c.healthID%2 == 0 {
			want = []string{hs[c.healthID].ID, hs[c.healthID-1].ID}
		}
		if !slices.Equal(ids, want) {
			t.Fatalf("%s: LatestHealth = %v, want %v", c.name, ids, want)
		}
	}
}

// testConcurrentBulkWriters: writers racing with shuffled, overlapping
// batches of track summaries and health store each event once and account
// for every event as inserted or duplicate.
func testConcurrentBulkWriters(t *testing.T, s store.Store) {
	const n, writers = 400, 4
	base := make([]events.Event, n)
	tracks := 0
	for i := range base {
		at := t0.Add(time.Duration(i) * time.Second)
		if i%5 == 0 {
			base[i] = health(SynthSites[i%3], SynthCameras[i%2], at, int64(i))
			continue
		}
		base[i] = track(SynthSites[i%3], SynthCameras[i%2], at, i)
		tracks++
	}
	if inserted := writeRacing(t, s, base, writers, 7, func(w int) int { return 40 + 30*w }); inserted != n {
		t.Fatalf("writers inserted %d in total, want %d", inserted, n)
	}
	sites, err := s.Sites(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, st := range sites {
		total += st.Tracks
	}
	if total != int64(tracks) {
		t.Fatalf("Sites counts %d tracks, want %d", total, tracks)
	}
}
