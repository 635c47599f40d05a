package twin

import (
	"bufio"
	"context"
	"fmt"
	"image"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"gocv.io/x/gocv"

	"github.com/intersect-oss/intersect/edge/camera"
	"github.com/intersect-oss/intersect/events"
	"github.com/intersect-oss/intersect/tracker/trajectory"
)

func defaultScene(t testing.TB) *Scene {
	t.Helper()
	sc, err := NewScene(1, 60, DefaultCamera(960, 540))
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

// The homography taken from P maps projected ground points back to where
// they came from, within a millimetre, over the whole visible area.
func TestHomographyRoundTrip(t *testing.T) {
	for _, size := range [][2]int{{960, 540}, {1280, 720}} {
		cam := DefaultCamera(size[0], size[1])
		H, err := cam.Homography()
		if err != nil {
			t.Fatal(err)
		}
		checked := 0
		for x := -40.0; x <= 40; x += 2.5 {
			for y := -40.0; y <= 40; y += 2.5 {
				u, v, ok := cam.Project(x, y, 0)
				if !ok || u < 0 || v < 0 || u > float64(cam.Width) || v > float64(cam.Height) {
					continue
				}
				gx, gy, ok := H.Project(u, v)
				if !ok || math.Hypot(gx-x, gy-y) > 1e-3 {
					t.Fatalf("%dx%d: ground (%g,%g) → image (%.2f,%.2f) → ground (%.4f,%.4f)", size[0], size[1], x, y, u, v, gx, gy)
				}
				checked++
			}
		}
		if checked < 100 {
			t.Errorf("%dx%d: only %d ground points visible; the camera misses the intersection", size[0], size[1], checked)
		}
		// The four crosswalks are in view.
		for _, z := range zones()[:4] {
			for _, p := range z.poly {
				if u, v, ok := cam.Project(p[0], p[1], 0); !ok || u < 0 || v < 0 || u > float64(cam.Width) || v > float64(cam.Height) {
					t.Errorf("%dx%d: %s corner (%g,%g) outside the image (%.0f,%.0f)", size[0], size[1], z.name, p[0], p[1], u, v)
				}
			}
		}
	}
}

func TestCameraValidate(t *testing.T) {
	good := DefaultCamera(960, 540)
	for name, mut := range map[string]func(*Camera){
		"below ground":      func(c *Camera) { c.HeightM = -1 },
		"looking up":        func(c *Camera) { c.TiltRad = -0.1 },
		"zero focal":        func(c *Camera) { c.FocalPx = 0 },
		"tiny image":        func(c *Camera) { c.Width = 4 },
		"straight down-ish": func(c *Camera) { c.TiltRad = math.Pi / 2 },
	} {
		c := good
		mut(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: Validate accepted %+v", name, c)
		}
		if _, err := NewScene(1, 60, c); err == nil {
			t.Errorf("%s: NewScene accepted the camera", name)
		}
	}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
}

// rect is an oriented footprint for the independent checks below.
type rect struct{ cx, cy, h, l, w float64 }

func footprint(a *Agent, st State) rect {
	return rect{st.XM, st.YM, st.HeadingRad, a.LengthM, a.WidthM}
}

func (r rect) corners() [4][2]float64 {
	c, s := math.Cos(r.h), math.Sin(r.h)
	var out [4][2]float64
	for i, k := range [4][2]float64{{1, 1}, {1, -1}, {-1, -1}, {-1, 1}} {
		dx, dy := k[0]*r.l/2, k[1]*r.w/2
		out[i] = [2]float64{r.cx + c*dx - s*dy, r.cy + s*dx + c*dy}
	}
	return out
}

// overlap is a separating-axis test of two oriented rectangles.
func overlap(a, b rect) bool {
	ca, cb := a.corners(), b.corners()
	for _, h := range []float64{a.h, a.h + math.Pi/2, b.h, b.h + math.Pi/2} {
		ax, ay := math.Cos(h), math.Sin(h)
		lo1, hi1, lo2, hi2 := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
		for i := 0; i < 4; i++ {
			p := ca[i][0]*ax + ca[i][1]*ay
			q := cb[i][0]*ax + cb[i][1]*ay
			lo1, hi1 = math.Min(lo1, p), math.Max(hi1, p)
			lo2, hi2 = math.Min(lo2, q), math.Max(hi2, q)
		}
		if hi1 < lo2 || hi2 < lo1 {
			return false
		}
	}
	return true
}

// ttcAt: constant-velocity prediction, stepping the future in 2 ms.
func ttcAt(va, pa *Agent, t float64) (float64, bool) {
	sa, sb := va.StateAt(t), pa.StateAt(t)
	ra, rb := footprint(va, sa), footprint(pa, sb)
	for tau := 0.0; tau <= 10; tau += 0.002 {
		a, b := ra, rb
		a.cx, a.cy = a.cx+sa.VXMPS*tau, a.cy+sa.VYMPS*tau
		b.cx, b.cy = b.cx+sb.VXMPS*tau, b.cy+sb.VYMPS*tau
		if overlap(a, b) {
			return tau, true
		}
	}
	return 0, false
}

// petOf: each user occupies the conflict area while its footprint overlaps
// anything the other's footprint ever covered; PET is the gap between the
// first one's exit and the second one's entry. Sampled every 5 ms.
func petOf(va, pa *Agent, around float64) float64 {
	const dt = 0.005
	var ts []float64
	for t := around - 12; t <= around+12; t += dt {
		ts = append(ts, t)
	}
	sweep := func(a *Agent) []rect {
		var out []rect
		for _, t := range ts {
			if a.Active(t) {
				out = append(out, footprint(a, a.StateAt(t)))
			}
		}
		return out
	}
	occupancy := func(a *Agent, other []rect) (in, out float64) {
		in, out = math.NaN(), math.NaN()
		for _, t := range ts {
			if !a.Active(t) {
				continue
			}
			r := footprint(a, a.StateAt(t))
			for _, o := range other {
				if math.Hypot(r.cx-o.cx, r.cy-o.cy) > (r.l+r.w+o.l+o.w)/2 {
					continue
				}
				if overlap(r, o) {
					if math.IsNaN(in) {
						in = t
					}
					out = t
					break
				}
			}
		}
		return in, out
	}
	vIn, vOut := occupancy(va, sweep(pa))
	pIn, pOut := occupancy(pa, sweep(va))
	if vOut < pIn {
		return pIn - vOut
	}
	return vIn - pOut
}

// The scripted encounters have the TTC and PET they were built with,
// measured independently of the scripting and of the conflict engine.
func TestScriptedMeasures(t *testing.T) {
	sc := defaultScene(t)
	byID := map[int]*Agent{}
	for _, a := range sc.Agents {
		byID[a.ID] = a
	}
	seen := map[string]bool{}
	for _, s := range sc.Scripted {
		seen[s.Name] = true
		v, p := byID[s.Vehicle], byID[s.Ped]
		if v == nil || p == nil || p.Class != events.Pedestrian || v.Class == events.Pedestrian {
			t.Fatalf("%s: bad pair %d/%d", s.Name, s.Vehicle, s.Ped)
		}
		switch s.Measure {
		case "ttc":
			minTTC, at := math.Inf(1), 0.0
			for tt := s.AtS - 3; tt <= s.AtS+3; tt += 0.01 {
				if ttc, ok := ttcAt(v, p, tt); ok && ttc < minTTC {
					minTTC, at = ttc, tt
				}
			}
			if math.Abs(minTTC-s.ValueS) > 0.02 || math.Abs(at-s.AtS) > 0.05 {
				t.Errorf("%s: min TTC %.3f s at %.2f s, scripted %.3f s at %.2f s", s.Name, minTTC, at, s.ValueS, s.AtS)
			}
		case "pet":
			if pet := petOf(v, p, s.AtS); math.Abs(pet-s.ValueS) > 0.02 {
				t.Errorf("%s: PET %.3f s, scripted %.3f s", s.Name, pet, s.ValueS)
			}
		default:
			t.Errorf("%s: unknown measure %q", s.Name, s.Measure)
		}
	}
	for _, name := range []string{"nm1-rtor-ttc", "nm2-left-turn-pet", "nm3-through-ttc", "nm4-right-turn-pet", "c1-right-turn-gap", "c2-left-turn-gap"} {
		if !seen[name] {
			t.Errorf("scripted encounter %s missing from the 60 s scene", name)
		}
	}
}

// The conflict engine, run on the true trajectories, finds exactly the
// scripted near misses (no accidental ones from background traffic) with
// the scripted measures.
func TestEngineFindsScriptedNearMisses(t *testing.T) {
	for seed := uint64(1); seed <= 8; seed++ {
		durationS := 60.0
		if seed%4 == 0 {
			durationS = 150 // later cycles too
		}
		sc, err := NewScene(seed, durationS, DefaultCamera(960, 540))
		if err != nil {
			t.Fatal(err)
		}
		t.Run(fmt.Sprintf("seed%d", seed), func(t *testing.T) { engineMatchesScript(t, sc) })
	}
}

func engineMatchesScript(t *testing.T, sc *Scene) {
	encs := Conflicts(sc.Truth(15))
	type pair struct{ a, b int64 }
	key := func(a, b int) pair {
		if a > b {
			a, b = b, a
		}
		return pair{int64(a), int64(b)}
	}
	want := map[pair]Scripted{}
	for _, s := range sc.Scripted {
		want[key(s.Vehicle, s.Ped)] = s
	}
	found := map[string]bool{}
	for _, e := range encs {
		s, scripted := want[pair{e.TrackA, e.TrackB}]
		if e.NearMiss() && (!scripted || !s.NearMiss) {
			t.Errorf("unscripted near miss: %s %d – %s %d at %.2f s (%s)", e.ClassA, e.TrackA, e.ClassB, e.TrackB, e.TimeS, e.Severity)
		}
		if !scripted {
			continue
		}
		switch {
		case s.Measure == "ttc" && e.MinTTCS != nil:
			found[s.Name] = true
			if math.Abs(*e.MinTTCS-s.ValueS) > 0.07 { // one frame
				t.Errorf("%s: engine TTC %.3f s, scripted %.3f s", s.Name, *e.MinTTCS, s.ValueS)
			}
		case s.Measure == "pet" && e.PETS != nil:
			found[s.Name] = true
			if math.Abs(*e.PETS-s.ValueS) > 0.07 {
				t.Errorf("%s: engine PET %.3f s, scripted %.3f s", s.Name, *e.PETS, s.ValueS)
			}
		}
	}
	for _, s := range sc.Scripted {
		if !found[s.Name] {
			t.Errorf("%s (tracks %d, %d at %.1f s): engine did not measure it", s.Name, s.Vehicle, s.Ped, s.AtS)
		}
	}
}

// Velocities in the truth are analytic: they agree with central
// differences of the positions, and speeds and accelerations are those of
// road users.
func TestTruthKinematics(t *testing.T) {
	sc := defaultScene(t)
	const h = 1e-4
	maxSpeed := map[events.Class]float64{events.Pedestrian: 3, events.Bicycle: 7, events.Car: 12, events.Bus: 12, events.Truck: 12}
	for _, a := range sc.Agents {
		t0, t1 := a.Interval()
		for tt := math.Max(t0, 0) + h; tt < math.Min(t1, sc.DurationS)-h; tt += 0.37 {
			s, s0, s1 := a.StateAt(tt), a.StateAt(tt-h), a.StateAt(tt+h)
			vx, vy := (s1.XM-s0.XM)/(2*h), (s1.YM-s0.YM)/(2*h)
			if math.Hypot(vx-s.VXMPS, vy-s.VYMPS) > 1e-3 {
				t.Fatalf("track %d at %.2f s: velocity (%.4f,%.4f), positions say (%.4f,%.4f)", a.ID, tt, s.VXMPS, s.VYMPS, vx, vy)
			}
			if sp := math.Hypot(s.VXMPS, s.VYMPS); sp > maxSpeed[a.Class]+1e-9 || s.SpeedMPS < -1e-9 {
				t.Fatalf("track %d (%s) at %.2f s: speed %.2f m/s", a.ID, a.Class, tt, sp)
			}
		}
		for _, f := range a.motion.phases {
			if math.Abs(f.a) > 7.5 {
				t.Errorf("track %d: acceleration %.1f m/s²", a.ID, f.a)
			}
		}
	}
}

func TestSignalPlan(t *testing.T) {
	for _, c := range []struct {
		phase string
		t     float64
		veh   SignalState
		ped   SignalState
	}{
		{"A", 0, Green, Walk}, {"A", 10, Green, FlashDontWk}, {"A", 21, Yellow, DontWalk}, {"A", 30, Red, DontWalk},
		{"B", 10, Red, DontWalk}, {"B", 24, Green, Walk}, {"B", 40, Green, FlashDontWk}, {"B", 45, Yellow, DontWalk},
		{"A", 48, Green, Walk}, {"B", 72, Green, Walk},
	} {
		v, p := Signal(c.phase, c.t)
		if v != c.veh || p != c.ped {
			t.Errorf("phase %s at %g s: %s/%s, want %s/%s", c.phase, c.t, v, p, c.veh, c.ped)
		}
	}
	// Scripted vehicles only cross their stop line on green or yellow, except
	// the right turn on red that is a near miss on purpose.
	sc := defaultScene(t)
	for _, a := range sc.Agents {
		if a.Class == events.Pedestrian || a.Role == "nm1-rtor-ttc" {
			continue
		}
		tt, ok := a.motion.timeAt(approachM - stopLineM)
		if !ok {
			continue
		}
		phase := "A"
		if h := a.path.segs[0].dir; math.Abs(h.x) > 0.5 {
			phase = "B"
		}
		if v, _ := Signal(phase, tt); v == Red {
			t.Errorf("track %d (%s, %s) crosses its stop line on red at %.2f s", a.ID, a.Class, a.Role, tt)
		}
	}
}

func TestOptionsErrors(t *testing.T) {
	dir := t.TempDir()
	for _, o := range []Options{
		{},
		{OutDir: dir, FPS: 0.5},
		{OutDir: dir, FPS: 500},
		{OutDir: dir, Duration: time.Millisecond},
		{OutDir: dir, Duration: 2 * time.Hour},
		{OutDir: dir, Width: 961, Height: 540},
		{OutDir: dir, Width: 100, Height: 50},
		{OutDir: filepath.Join(dir, "file", "sub"), Duration: time.Second},
	} {
		if o.OutDir == filepath.Join(dir, "file", "sub") {
			if err := os.WriteFile(filepath.Join(dir, "file"), nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := Render(context.Background(), o); err == nil {
			t.Errorf("Render(%+v) accepted bad options", o)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Render(ctx, Options{OutDir: t.TempDir(), Duration: 2 * time.Second}); err == nil {
		t.Error("Render ignored a cancelled context")
	}
}

// One rendered scene, checked file by file: the camera configuration loads
// and fits, the truth reads back, the MOT boxes hold their road users, and
// the drawn road users stand out from the road.
func TestRenderOutputs(t *testing.T) {
	res := render(t, 3, 6*time.Second)
	dir := res.Dir

	f, err := camera.Load(filepath.Join(dir, CameraFile))
	if err != nil {
		t.Fatal(err)
	}
	c, err := f.Camera(CameraID)
	if err != nil {
		t.Fatal(err)
	}
	if c.Site != SiteID || c.Detector.Kind != "motion" || len(c.Calib.Points) < 6 || len(c.Zones) != 8 {
		t.Errorf("camera config: site %q detector %q, %d points, %d zones", c.Site, c.Detector.Kind, len(c.Calib.Points), len(c.Zones))
	}
	if _, err := os.Stat(c.Source); err != nil {
		t.Errorf("camera source %s: %v", c.Source, err)
	}
	rep, err := c.Fit(0, false)
	if err != nil {
		t.Fatal(err)
	}
	if rep.MaxM > 0.01 {
		t.Errorf("homography fitted from the config's points: max error %.4f m", rep.MaxM)
	}

	tf, err := os.Open(filepath.Join(dir, TruthFile))
	if err != nil {
		t.Fatal(err)
	}
	rows, trep, err := trajectory.Read(tf, TruthFile)
	tf.Close()
	if err != nil {
		t.Fatal(err)
	}
	if len(trep.Estimated) > 0 || len(trep.Dropped) > 0 || len(rows) == 0 {
		t.Errorf("truth: %d rows, estimated %v, dropped %v", len(rows), trep.Estimated, trep.Dropped)
	}
	truth := map[[2]int]trajectory.Row{} // (frame, id)
	for _, r := range rows {
		truth[[2]int{int(math.Round(r.T*15)) + 1, int(r.TrackID)}] = r
	}

	cam := DefaultCamera(960, 540)
	mf, err := os.Open(filepath.Join(dir, MOTFile))
	if err != nil {
		t.Fatal(err)
	}
	defer mf.Close()
	boxes := map[int][]image.Rectangle{}
	sc := bufio.NewScanner(mf)
	n := 0
	for sc.Scan() {
		n++
		var v [10]float64
		fs := strings.Split(sc.Text(), ",")
		if len(fs) != 10 {
			t.Fatalf("%s:%d: %d fields", MOTFile, n, len(fs))
		}
		for i, s := range fs {
			if v[i], err = strconv.ParseFloat(s, 64); err != nil {
				t.Fatalf("%s:%d: %v", MOTFile, n, err)
			}
		}
		frame, id := int(v[0]), int(v[1])
		b := image.Rect(int(v[2]), int(v[3]), int(v[2]+v[4]), int(v[3]+v[5]))
		if !b.In(image.Rect(0, 0, 960, 540)) || b.Dx() < 2 || b.Dy() < 2 {
			t.Fatalf("%s:%d: box %v outside the image", MOTFile, n, b)
		}
		r, ok := truth[[2]int{frame, id}]
		if !ok {
			t.Fatalf("%s:%d: track %d has no truth at frame %d", MOTFile, n, id, frame)
		}
		u, w, _ := cam.Project(r.X, r.Y, 0)
		// (a box cut by the image edge may have lost its ground point)
		if fu, fv := int(u), int(w); image.Pt(fu, fv).In(image.Rect(0, 0, 960, 540)) && !image.Pt(fu, fv).In(b.Inset(-2)) {
			t.Errorf("%s:%d: track %d's ground point (%d,%d) outside its box %v", MOTFile, n, id, fu, fv, b)
		}
		if frame == 45 {
			boxes[id] = append(boxes[id], b)
		}
	}
	if n < res.Frames {
		t.Errorf("%d boxes in %d frames", n, res.Frames)
	}

	// Frame 45 (t = 2.933 s) against the empty road: inside every box the
	// picture changed, as a background subtractor needs.
	sceneAt, err := NewScene(3, 6, cam)
	if err != nil {
		t.Fatal(err)
	}
	empty := &Scene{Camera: cam, DurationS: 6}
	full, err := sceneAt.Frame(44.0 / 15)
	if err != nil {
		t.Fatal(err)
	}
	defer full.Close()
	bg, err := empty.Frame(44.0 / 15)
	if err != nil {
		t.Fatal(err)
	}
	defer bg.Close()
	diff := gocv.NewMat()
	defer diff.Close()
	gocv.AbsDiff(full, bg, &diff)
	gray := gocv.NewMat()
	defer gray.Close()
	gocv.CvtColor(diff, &gray, gocv.ColorBGRToGray)
	if len(boxes) < 3 {
		t.Fatalf("only %d road users visible at frame 45", len(boxes))
	}
	for id, bs := range boxes {
		b := bs[0]
		roi := gray.Region(b)
		bin := gocv.NewMat()
		gocv.Threshold(roi, &bin, 20, 255, gocv.ThresholdBinary)
		changed := gocv.CountNonZero(bin)
		bin.Close()
		roi.Close()
		if share := float64(changed) / float64(b.Dx()*b.Dy()); share < 0.15 {
			t.Errorf("track %d: only %.0f%% of its box %v differs from the empty road", id, 100*share, b)
		}
	}
	// The video holds the same pictures: as many frames, and frame 45
	// decodes to the rendered one up to noise and JPEG loss.
	vc, err := gocv.VideoCaptureFile(filepath.Join(dir, VideoFile))
	if err != nil {
		t.Fatal(err)
	}
	defer vc.Close()
	img := gocv.NewMat()
	defer img.Close()
	frames := 0
	for vc.Read(&img) && !img.Empty() {
		frames++
		if frames == 45 {
			if img.Cols() != 960 || img.Rows() != 540 {
				t.Fatalf("video frame %dx%d", img.Cols(), img.Rows())
			}
			d := gocv.NewMat()
			gocv.AbsDiff(img, full, &d)
			for id, bs := range boxes {
				roi := d.Region(bs[0])
				m := roi.Mean()
				roi.Close()
				if mean := (m.Val1 + m.Val2 + m.Val3) / 3; mean > 8 {
					t.Errorf("video frame 45, track %d: box differs from the rendered frame by %.1f levels on average", id, mean)
				}
			}
			d.Close()
		}
	}
	if frames != res.Frames {
		t.Errorf("video has %d frames, rendered %d", frames, res.Frames)
	}

	png := filepath.Join(t.TempDir(), "frame45.png")
	if !gocv.IMWrite(png, full) {
		t.Fatalf("writing %s", png)
	}
	t.Logf("frame 45 saved to %s", png)
}

func ExampleRender() {
	res, err := Render(context.Background(), Options{Seed: 1, Duration: 2 * time.Second, OutDir: os.TempDir() + "/twin-example"})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(res.Frames, "frames")
	// Output: 30 frames
}
