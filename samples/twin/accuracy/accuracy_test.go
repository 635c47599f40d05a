package accuracy

import (
	"context"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/intersect-oss/intersect/events"
	"github.com/intersect-oss/intersect/tracker/conflict"
)

// TestEndToEndAccuracy runs the demo's scene (seed 1, 60 s at 15 fps,
// motion detector) through the pipeline and holds the floors below. Each
// floor sits under the value measured when it was set (in the comment);
// raise them as the pipeline improves.
func TestEndToEndAccuracy(t *testing.T) {
	if testing.Short() {
		t.Skip("renders and analyzes a 60 s video (~15 s)")
	}
	// ACCURACY_DIR keeps the scene and the pipeline's output for a look.
	rep, err := Measure(context.Background(), Options{Seed: 1, Duration: 60 * time.Second, Dir: os.Getenv("ACCURACY_DIR")})
	if err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + rep.Table())
	c := rep.Conflicts
	floors := []struct {
		name       string
		got, floor float64
	}{
		{"detection recall", rep.Detection.Recall.Share(), 0.85},       // measured 0.894
		{"detection precision", rep.Detection.Precision.Share(), 0.88}, // 0.926
		{"MOTA", rep.MOT.MOTA, 0.78},                                   // 0.841
		{"IDF1", rep.MOT.IDF1, 0.82},                                   // 0.865
		// The bar: near-miss recall ≥ 0.9 on the default scene,
		// which with its 5 near misses means all of them (seeds 2–5: 5/5
		// too when this was set).
		{"near-miss recall", c.NearMissRecall.Share(), 0.9},                // 1.0 (5/5)
		{"near-miss recall in view", c.ObservableRecall.Share(), 0.9},      // 1.0 (5/5)
		{"near-miss precision", c.NearMissPrecision.Share(), 0.8},          // 1.0 (5/5; seeds 2–5 too)
		{"near-miss type correct", c.TypeOK.Share(), 0.8},                  // 1.0 (5/5)
		{"TTC conflicts matched", float64(c.TTCErrS.N), 2},                 // 2 (nm1, nm3)
		{"vehicle movements correct", rep.Movements.Correct.Share(), 0.85}, // 0.96 (24/25)
	}
	for _, f := range floors {
		if !(f.got >= f.floor) {
			t.Errorf("%s = %.3f, floor %.3f", f.name, f.got, f.floor)
		}
	}
	ceilings := []struct {
		name         string
		got, ceiling float64
	}{
		{"pedestrian position RMSE (m)", rep.Ground.PositionRMSEBy[events.Pedestrian], 0.35}, // 0.272
		{"car position RMSE (m)", rep.Ground.PositionRMSEBy[events.Car], 0.7},                // 0.554
		{"pedestrian speed RMSE (m/s)", rep.Ground.SpeedRMSEByMPS[events.Pedestrian], 0.4},   // 0.325
		{"speed RMSE (m/s)", rep.Ground.SpeedRMSEMPS, 0.8},                                   // 0.620
		{"median PET error (s)", c.PETErrS.Median, 0.15},                                     // 0.088 (n 9)
		// The bar (seeds 2–5: 0.05–0.23 s when this was set).
		{"median TTC error (s)", c.TTCErrS.Median, 0.3}, // 0.178 (n 2: nm1 0.27, nm3 0.08)
	}
	// Every scripted turn shows in the turning movement counts, under its
	// approach: nm4's and nm1's right turns (NB, SB), nm2's and c2's left
	// turns (NB, EB), and the through traffic.
	tmc := rep.VehicleMovements
	for _, want := range [][2]string{{"NB", "right"}, {"NB", "left"}, {"SB", "right"}, {"EB", "left"}, {"NB", "through"}, {"SB", "through"}} {
		if tmc[want[0]][want[1]] < 1 {
			t.Errorf("turning movement counts %v: no %s %s", tmc, want[0], want[1])
		}
	}
	for _, f := range ceilings {
		if !(f.got <= f.ceiling) {
			t.Errorf("%s = %.3f, ceiling %.3f", f.name, f.got, f.ceiling)
		}
	}
}

// BenchmarkEndToEndAccuracy prints the accuracy table of the default scene
// for `make bench` and reports its headline figures. ACCURACY_MODEL names a
// YOLOX ONNX file to run instead of the motion detector; ACCURACY_SEED
// another scene.
func BenchmarkEndToEndAccuracy(b *testing.B) {
	model := os.Getenv("ACCURACY_MODEL")
	seed := uint64(1)
	if s := os.Getenv("ACCURACY_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			b.Fatalf("ACCURACY_SEED=%q: %v", s, err)
		}
		seed = v
	}
	for i := 0; i < b.N; i++ {
		rep, err := Measure(context.Background(), Options{Seed: seed, Duration: 60 * time.Second, Model: model, Dir: os.Getenv("ACCURACY_DIR")})
		if err != nil {
			b.Fatal(err)
		}
		// fmt, not b.Log: go test cuts benchmark logs to a few lines.
		fmt.Print(rep.Table())
		b.ReportMetric(rep.Conflicts.NearMissRecall.Share(), "nearmiss-recall")
		b.ReportMetric(rep.Conflicts.NearMissPrecision.Share(), "nearmiss-precision")
		if rep.Conflicts.TTCErrS.N > 0 { // none matched: no figure (NaN upsets benchstat)
			b.ReportMetric(rep.Conflicts.TTCErrS.Median, "ttc-err-median-s")
		}
		if rep.Conflicts.PETErrS.N > 0 {
			b.ReportMetric(rep.Conflicts.PETErrS.Median, "pet-err-median-s")
		}
		b.ReportMetric(rep.MOT.MOTA, "MOTA")
		b.ReportMetric(rep.MOT.IDF1, "IDF1")
		b.ReportMetric(rep.Ground.SpeedRMSEMPS, "speed-rmse-mps")
		b.ReportMetric(rep.ProcessingFPS, "frames/s")
	}
}

func enc(a, b int64, start, end, at float64, ttc, pet float64, sev events.Severity) conflict.Encounter {
	e := conflict.Encounter{TrackA: a, TrackB: b, StartS: start, EndS: end, TimeS: at, Severity: sev}
	if !math.IsNaN(ttc) {
		e.MinTTCS = &ttc
	}
	if !math.IsNaN(pet) {
		e.PETS = &pet
	}
	return e
}

// Output encounters match true ones by the true identities of their
// tracks and overlapping intervals; each side at most once, closest in
// time first.
func TestMatchEncounters(t *testing.T) {
	nan := math.NaN()
	truth := []conflict.Encounter{
		enc(1, 2, 10, 11, 10.5, 0.9, nan, events.Serious),
		enc(1, 2, 30, 31, 30.5, nan, 0.5, events.Critical),
		enc(3, 4, 20, 21, 20.5, 1.2, nan, events.Minor),
	}
	whole := map[int64]int64{101: 1, 102: 2, 103: 1, 104: 4, 105: 3}
	out := []conflict.Encounter{
		enc(101, 102, 10.2, 11.4, 10.6, 1.0, nan, events.Serious), // truth 0
		enc(102, 103, 9, 9.5, 9.4, 1.4, nan, events.Minor),        // same pair (103 is user 1 too), also near truth 0: loses to the closer one
		enc(101, 102, 33, 34, 33.5, 0.4, nan, events.Critical),    // 2 s after truth 1 ends: no match
		enc(104, 105, 19.5, 20.2, 20.1, 2.5, nan, ""),             // truth 2, as an interaction only
		enc(101, 999, 10, 11, 10.5, 0.5, nan, events.Critical),    // unknown track
	}
	tm, om := matchEncounters(truth, out, wholeTrack(whole))
	if want := []int{0, -1, 3}; !slices.Equal(tm, want) {
		t.Errorf("truth → output %v, want %v", tm, want)
	}
	if want := []int{0, -1, -1, 2, -1}; !slices.Equal(om, want) {
		t.Errorf("output → truth %v, want %v", om, want)
	}
	r := compareConflicts(truth, out, wholeTrack(whole), nil, func(id int64, tS float64) bool { return id != 4 })
	if r.NearMissRecall != (Count{1, 3}) {
		t.Errorf("near-miss recall %+v, want 1/3 (truth 2 matched only by an interaction)", r.NearMissRecall)
	}
	if r.ObservableRecall != (Count{1, 2}) {
		t.Errorf("recall in view %+v, want 1/2 (user 4 of truth 2 out of view)", r.ObservableRecall)
	}
	if r.NearMissPrecision != (Count{1, 4}) {
		t.Errorf("near-miss precision %+v, want 1/4", r.NearMissPrecision)
	}
	if r.TTCErrS.N != 2 || math.Abs(r.TTCErrS.Median-0.7) > 1e-9 || math.Abs(r.TTCErrS.Max-1.3) > 1e-9 {
		t.Errorf("TTC errors %+v, want n 2 (0.1, 1.3), median 0.7, max 1.3", r.TTCErrS)
	}
}

func TestQuantile(t *testing.T) {
	for _, c := range []struct {
		v       []float64
		q, want float64
	}{
		{[]float64{1}, 0.9, 1}, {[]float64{1, 2, 3, 4, 5}, 0.5, 3}, {[]float64{1, 2, 3, 4, 5}, 0.9, 4.6},
		{[]float64{0, 10}, 0.5, 5}, {nil, 0.5, math.NaN()},
	} {
		got := quantile(c.v, c.q)
		if !(math.Abs(got-c.want) < 1e-9) && !(math.IsNaN(got) && math.IsNaN(c.want)) {
			t.Errorf("quantile(%v, %v) = %v, want %v", c.v, c.q, got, c.want)
		}
	}
}

// A track that followed user 1 for 100 frames and then user 2 for 20 is
// user 1 as a whole, but user 2 in an encounter during its last second.
func TestIdentityDuringEncounter(t *testing.T) {
	ids := identities{perFrame: make([]map[int64]int64, 150), whole: map[int64]int64{7: 1}}
	for f := range ids.perFrame {
		ids.perFrame[f] = map[int64]int64{}
		switch {
		case f < 100:
			ids.perFrame[f][7] = 1
		case f < 120:
			ids.perFrame[f][7] = 2
		}
	}
	who := ids.during(15)
	for _, c := range []struct {
		t0, t1 float64
		want   int64
	}{{0, 5, 1}, {6.8, 7.9, 2}, {8.5, 9.5, 1 /* no match there: whole track */}} {
		if g, ok := who(7, c.t0, c.t1); !ok || g != c.want {
			t.Errorf("track 7 in [%v, %v] s: user %d (%v), want %d", c.t0, c.t1, g, ok, c.want)
		}
	}
	if _, ok := who(8, 0, 5); ok {
		t.Error("unknown track resolved")
	}
}
