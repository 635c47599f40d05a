package tracker

import (
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/intersect-oss/intersect/events"
)

func ped(x, y, score float64) Detection {
	return Detection{Box: Box{X: x, Y: y, W: 40, H: 100}, Score: score, Class: events.Pedestrian}
}

func ids(ts []Track) []int64 {
	var out []int64
	for _, t := range ts {
		out = append(out, t.ID)
	}
	return out
}

func TestConfirmationAndVelocity(t *testing.T) {
	cfg := DefaultConfig()
	tr := New(cfg)
	// Frame 1 confirms at once (nothing to wait for); a second object born
	// in frame 2 waits MinHits frames.
	if got := tr.Update([]Detection{ped(0, 0, 0.9)}); !reflect.DeepEqual(ids(got), []int64{1}) {
		t.Fatalf("frame 1 tracks = %v, want [1]", ids(got))
	}
	for f := 2; f <= 40; f++ {
		x := 3 * float64(f-1) // 3 px/frame to the right
		got := tr.Update([]Detection{ped(x, 0, 0.9), ped(500, 300, 0.9)})
		want := []int64{1}
		if f-1 >= cfg.MinHits { // object 2 seen since frame 2
			want = []int64{1, 2}
		}
		if !reflect.DeepEqual(ids(got), want) {
			t.Fatalf("frame %d: tracks %v, want %v", f, ids(got), want)
		}
	}
	got := tr.Tracks()[0]
	if math.Abs(got.Velocity.X-3) > 0.05 || math.Abs(got.Velocity.Y) > 0.05 {
		t.Errorf("velocity = %+v, want (3, 0) px/frame", got.Velocity)
	}
	if got.Hits != 40 || got.Age != 40 || got.TimeSinceUpdate != 0 || got.State != Confirmed {
		t.Errorf("track = %+v", got)
	}
	if math.Abs(got.X-117) > 0.5 || math.Abs(got.W-40) > 0.5 {
		t.Errorf("box = %+v, want near x 117, w 40", got.Box)
	}
}

func TestClassesNeverMatch(t *testing.T) {
	tr := New(DefaultConfig())
	car := Detection{Box: Box{X: 0, Y: 0, W: 40, H: 100}, Score: 0.9, Class: events.Car}
	tr.Update([]Detection{car})
	for f := 0; f < 5; f++ {
		got := tr.Update([]Detection{ped(0, 0, 0.9)})
		for _, g := range got {
			if g.ID == 1 {
				t.Fatalf("car track 1 matched a pedestrian detection")
			}
			if g.Class != events.Pedestrian {
				t.Fatalf("track %d class %s", g.ID, g.Class)
			}
		}
	}
}

func TestLifecycle(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxAge = 3
	tr := New(cfg)
	for f := 0; f < 5; f++ {
		tr.Update([]Detection{ped(100, 100, 0.9)})
	}
	// Unseen for MaxAge frames: lost, still known.
	for f := 0; f < cfg.MaxAge; f++ {
		if got := tr.Update(nil); len(got) != 0 {
			t.Fatalf("reported %v while unseen", ids(got))
		}
		if all := tr.Tracks(); len(all) != 1 || all[0].State != Lost || all[0].TimeSinceUpdate != f+1 {
			t.Fatalf("after %d missed frames: %+v", f+1, all)
		}
	}
	// Found again: same ID, confirmed at once.
	if got := tr.Update([]Detection{ped(100, 100, 0.9)}); !reflect.DeepEqual(ids(got), []int64{1}) {
		t.Fatalf("re-found tracks = %v, want [1]", ids(got))
	}
	// Gone for longer than MaxAge: removed, a new ID follows.
	for f := 0; f <= cfg.MaxAge; f++ {
		tr.Update(nil)
	}
	if all := tr.Tracks(); len(all) != 0 {
		t.Fatalf("tracks after MaxAge+1 missed frames: %+v", all)
	}
	for f := 0; f < cfg.MinHits; f++ {
		got := tr.Update([]Detection{ped(100, 100, 0.9)})
		if f < cfg.MinHits-1 && len(got) != 0 {
			t.Fatalf("tentative track reported: %v", ids(got))
		}
		if f == cfg.MinHits-1 && !reflect.DeepEqual(ids(got), []int64{2}) {
			t.Fatalf("new track = %v, want [2]", ids(got))
		}
	}
	// A tentative track that misses one frame dies.
	tr.Update([]Detection{ped(100, 100, 0.9), ped(400, 400, 0.9)})
	tr.Update([]Detection{ped(100, 100, 0.9)})
	if all := tr.Tracks(); !reflect.DeepEqual(ids(all), []int64{2}) {
		t.Errorf("after tentative miss: %v, want [2]", ids(all))
	}
}

func TestLowScoreKeepsTracksButStartsNone(t *testing.T) {
	cfg := DefaultConfig()
	tr := New(cfg)
	tr.Update([]Detection{ped(0, 0, 0.9)})
	for f := 0; f < 10; f++ {
		got := tr.Update([]Detection{ped(0, 0, 0.6), ped(300, 0, 0.6)})
		if !reflect.DeepEqual(ids(got), []int64{1}) {
			t.Fatalf("frame %d: %v, want only track 1 kept alive by a low-score detection", f+2, ids(got))
		}
	}
	if got := tr.Update([]Detection{ped(0, 0, 0.05)}); len(got) != 0 {
		t.Errorf("a detection below LowScore matched: %v", ids(got))
	}
}

func TestCrossingKeepsIdentities(t *testing.T) {
	tr := New(DefaultConfig())
	var last []Track
	for f := 0; f < 60; f++ {
		a := ped(float64(5*f), 100, 0.9)     // left to right
		b := ped(float64(300-5*f), 110, 0.9) // right to left, crossing at f = 30
		if f >= 28 && f <= 32 {              // occlusion: only the front one is seen
			last = tr.Update([]Detection{a})
			continue
		}
		last = tr.Update([]Detection{a, b})
	}
	if len(last) != 2 {
		t.Fatalf("tracks at the end: %+v", last)
	}
	for _, tk := range last {
		if tk.ID == 1 && tk.Velocity.X < 0 || tk.ID == 2 && tk.Velocity.X > 0 {
			t.Errorf("identities swapped at the crossing: %+v", last)
		}
	}
}

func TestBadDetectionsIgnored(t *testing.T) {
	tr := New(DefaultConfig())
	got := tr.Update([]Detection{
		{Box: Box{X: math.NaN(), Y: 0, W: 10, H: 10}, Score: 0.9, Class: events.Car},
		{Box: Box{X: 0, Y: 0, W: 0, H: 10}, Score: 0.9, Class: events.Car},
		{Box: Box{X: 0, Y: 0, W: 10, H: -1}, Score: 0.9, Class: events.Car},
		{Box: Box{X: 0, Y: 0, W: 10, H: 10}, Score: math.Inf(1), Class: events.Car},
	})
	if len(got) != 0 || len(tr.Tracks()) != 0 {
		t.Errorf("tracks from bad detections: %+v", tr.Tracks())
	}
}

func TestDeterministic(t *testing.T) {
	run := func() [][]Track {
		tr := New(DefaultConfig())
		var out [][]Track
		for f := 0; f < 50; f++ {
			var dets []Detection
			for k := 0; k < 8; k++ { // boxes in a tight cluster: many ties
				dets = append(dets, ped(float64(k*20+f), float64((k*37+f*3)%50), 0.5+0.05*float64(k)))
			}
			out = append(out, tr.Update(dets))
		}
		return out
	}
	if a, b := run(), run(); !reflect.DeepEqual(a, b) {
		t.Error("two runs on the same input differ")
	}
}

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("DefaultConfig invalid: %v", err)
	}
	tests := []struct {
		name string
		mod  func(*Config)
		want string
	}{
		{"score above 1", func(c *Config) { c.HighScore = 1.5 }, "HighScore"},
		{"NaN IoU", func(c *Config) { c.MatchIoU = math.NaN() }, "MatchIoU"},
		{"low above high", func(c *Config) { c.LowScore = 0.9; c.HighScore = 0.5 }, "LowScore"},
		{"min hits", func(c *Config) { c.MinHits = 0 }, "MinHits"},
		{"max age", func(c *Config) { c.MaxAge = -1 }, "MaxAge"},
		{"noise", func(c *Config) { c.StdVelocity = 0 }, "standard deviations"},
	}
	for _, tt := range tests {
		c := DefaultConfig()
		tt.mod(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Validate = %v, want an error about %s", tt.name, err, tt.want)
		}
	}
	if c := ConfigForFPS(7); c.MaxAge != 21 {
		t.Errorf("ConfigForFPS(7).MaxAge = %d, want 21 (3 s)", c.MaxAge)
	}
}

func TestTrackSequenceBackfillAndInterpolation(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MinHits = 3
	frames := make([][]Detection, 12)
	frames[0] = []Detection{ped(900, 900, 0.9)} // keeps frame 1 from confirming the one below at once
	for f := 1; f < 12; f++ {
		if f == 6 || f == 7 { // missed for two frames
			continue
		}
		frames[f] = []Detection{ped(float64(10*f), 0, 0.9)}
	}
	plain := TrackSequence(frames, cfg, OfflineOptions{})
	full := TrackSequence(frames, cfg, OfflineOptions{Backfill: true, MaxGap: 5})
	count := func(out []FrameTracks, id int64) (n int) {
		for _, f := range out {
			for _, tk := range f.Tracks {
				if tk.ID == id {
					n++
				}
			}
		}
		return n
	}
	// Track 2 is seen in 9 frames (2..12 minus 7, 8); it is reported from its
	// third frame online, all 9 with backfill, 11 with the gap filled.
	if n := count(plain, 2); n != 7 {
		t.Errorf("online reports of track 2 = %d, want 7", n)
	}
	if n := count(full, 2); n != 11 {
		t.Errorf("offline reports of track 2 = %d, want 11", n)
	}
	mid := full[6].Tracks
	if len(mid) != 1 || math.Abs(mid[0].X-60) > 3 {
		t.Errorf("interpolated box in frame 7 = %+v, want x ≈ 60", mid)
	}
}
