package dut

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/intersect-oss/intersect/events"
	"github.com/intersect-oss/intersect/internal/testenv"
	"github.com/intersect-oss/intersect/tracker/conflict"
	"github.com/intersect-oss/intersect/tracker/trajectory"
)

func TestConvert(t *testing.T) {
	ped := "id,frame,label,x_est,y_est,vx_est,vy_est\n" +
		"0,2,ped,1.5,2.5,1.0,-0.5\n" +
		"3,1,ped,4,5,0,0\n"
	veh := "id,frame,label,x_est,y_est,psi_est,vel_est\n" +
		"0,1,veh,10,20,1.5707963267948966,4\n"
	var out bytes.Buffer
	if err := Convert(strings.NewReader(ped), strings.NewReader(veh), &out, 20); err != nil {
		t.Fatal(err)
	}
	rows, rep, err := trajectory.Read(&out, "converted")
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 || rep.ByClass[events.Pedestrian] != 2 || rep.ByClass[events.Car] != 1 {
		t.Fatalf("rows %+v report %+v", rows, rep)
	}
	// Sorted by time then ID; y flipped; vehicle ID offset; t = frame/fps.
	p3, car, p0 := rows[0], rows[1], rows[2]
	if p3.TrackID != 3 || p3.T != 0.05 || p3.Y != -5 {
		t.Errorf("pedestrian 3: %+v", p3)
	}
	if car.TrackID != VehicleIDOffset || car.Class != events.Car || car.Y != -20 || car.Heading != -math.Pi/2 ||
		math.Abs(car.VX) > 1e-12 || math.Abs(car.VY+4) > 1e-12 || car.Length != 4.5 || car.Width != 1.8 {
		t.Errorf("car: %+v", car)
	}
	// Image y down → ground y up: moving +y in the image is moving south.
	if p0.T != 0.1 || p0.Y != -2.5 || p0.VX != 1 || p0.VY != 0.5 || math.Abs(p0.Heading-math.Atan2(0.5, 1)) > 1e-12 {
		t.Errorf("pedestrian 0: %+v", p0)
	}
	if rep.Estimated[trajectory.EstHeading] != 2 {
		t.Errorf("pedestrian headings should be left to the reader: %v", rep.Estimated)
	}

	bad := []struct{ ped, veh, want string }{
		{"id,frame,label,x,y,vx,vy\n", veh, "pedestrian file:1: header"},
		{ped, "id,frame,label,x_est,y_est,psi_est,vel_est\n0,1,ped,1,2,0,1\n", `vehicle file:2: label "ped", want "veh"`},
		{"id,frame,label,x_est,y_est,vx_est,vy_est\n0,1,ped,1,x,0,1\n", veh, `pedestrian file:2: field y_est: "x" is not a number`},
		{"id,frame,label,x_est,y_est,vx_est,vy_est\n0,-1,ped,1,1,0,1\n", veh, `pedestrian file:2: frame "-1"`},
		{"id,frame,label,x_est,y_est,vx_est,vy_est\n0,1,ped,1,1\n", veh, "pedestrian file:2: 5 fields, want 7"},
	}
	for _, b := range bad {
		err := Convert(strings.NewReader(b.ped), strings.NewReader(b.veh), &out, FPS)
		if err == nil || !strings.Contains(err.Error(), b.want) {
			t.Errorf("error %v, want %q", err, b.want)
		}
	}
}

func clipFiles(t *testing.T) (dir string, clips []string) {
	dir = testenv.SharedData(t, "trajectories", "dut", "trajectories_filtered")
	peds, err := filepath.Glob(filepath.Join(dir, "*_traj_ped_filtered.csv"))
	if err != nil || len(peds) == 0 {
		t.Fatalf("no DUT clips in %s: %v", dir, err)
	}
	for _, p := range peds {
		clips = append(clips, strings.TrimSuffix(filepath.Base(p), "_traj_ped_filtered.csv"))
	}
	sort.Strings(clips)
	return dir, clips
}

// analyzeClip converts one clip and runs the analysis on it.
func analyzeClip(t *testing.T, dir, clip string) (*trajectory.Summary, []conflict.Encounter, string) {
	t.Helper()
	p, err := os.Open(filepath.Join(dir, clip+"_traj_ped_filtered.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	v, err := os.Open(filepath.Join(dir, clip+"_traj_veh_filtered.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	tmp := t.TempDir()
	in := filepath.Join(tmp, clip+".csv")
	f, err := os.Create(in)
	if err != nil {
		t.Fatal(err)
	}
	if err := Convert(p, v, f, FPS); err != nil {
		t.Fatalf("%s: %v", clip, err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(tmp, "out")
	s, encs, err := trajectory.Analyze(context.Background(), in, out, conflict.DefaultConfig())
	if err != nil {
		t.Fatalf("%s: %v", clip, err)
	}
	return s, encs, out
}

// TestAnalyzeEveryClip runs the analysis on every DUT scene and checks that
// each writes its conflicts and a summary whose counts add up.
func TestAnalyzeEveryClip(t *testing.T) {
	dir, clips := clipFiles(t)
	var total, nearMisses int
	for _, clip := range clips {
		s, encs, out := analyzeClip(t, dir, clip)
		f, err := os.Open(filepath.Join(out, "conflicts.csv"))
		if err != nil {
			t.Fatal(err)
		}
		recs, err := csv.NewReader(f).ReadAll()
		f.Close()
		if err != nil {
			t.Fatalf("%s: conflicts.csv: %v", clip, err)
		}
		if strings.Join(recs[0], ",") != strings.Join(trajectory.ConflictHeader, ",") || len(recs)-1 != len(encs) || len(encs) != s.Encounters {
			t.Errorf("%s: %d rows, %d encounters, summary says %d", clip, len(recs)-1, len(encs), s.Encounters)
		}
		if s.Encounters == 0 {
			t.Errorf("%s: no encounters: DUT clips all have pedestrian–vehicle interactions", clip)
		}
		var byType, bySev int
		for _, n := range s.NearMissesByType {
			byType += n
		}
		for sev, n := range s.NearMissesBySeverity {
			if !sev.Valid() {
				t.Errorf("%s: severity %q", clip, sev)
			}
			bySev += n
		}
		if byType != s.NearMisses || bySev != s.NearMisses || len(s.DroppedRows) != 0 {
			t.Errorf("%s: near misses %d, by type %d, by severity %d, dropped %v", clip, s.NearMisses, byType, bySev, s.DroppedRows)
		}
		for _, e := range encs {
			if e.ClassA == events.Pedestrian && e.ClassB == events.Pedestrian {
				t.Errorf("%s: pedestrian–pedestrian encounter %+v (off by default)", clip, e)
			}
			if e.MinTTCS == nil && e.PETS == nil {
				t.Errorf("%s: encounter %d has neither TTC nor PET", clip, e.ID)
			}
		}
		t.Logf("%-16s users %v: %d encounters, %d near misses by severity %v by movement %v; suppressed %.0f%% %v",
			clip, s.UsersByClass, s.Encounters, s.NearMisses, s.NearMissesBySeverity, s.NearMissesByMovement, 100*s.SuppressedShare, s.Suppressed)
		total += s.Encounters
		nearMisses += s.NearMisses
	}
	t.Logf("all clips: %d encounters, %d near misses", total, nearMisses)
	if nearMisses == 0 {
		t.Error("no near misses in any DUT clip")
	}
}

// raw is one DUT row as published (image axes: x right, y down), used to
// check the engine's numbers independently of the converter.
type raw struct{ x, y, vx, vy, heading float64 }

func readRaw(t *testing.T, path string, vehicle bool) map[int64]map[int]raw {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	out := map[int64]map[int]raw{}
	for _, r := range recs[1:] {
		id, _ := strconv.ParseInt(r[0], 10, 64)
		frame, _ := strconv.Atoi(r[1])
		var v [4]float64
		for i := range v {
			v[i], _ = strconv.ParseFloat(r[3+i], 64)
		}
		row := raw{x: v[0], y: v[1], vx: v[2], vy: v[3], heading: math.Atan2(v[3], v[2])}
		if vehicle {
			row = raw{x: v[0], y: v[1], vx: v[3] * math.Cos(v[2]), vy: v[3] * math.Sin(v[2]), heading: v[2]}
		}
		if out[id] == nil {
			out[id] = map[int]raw{}
		}
		out[id][frame] = row
	}
	return out
}

// corners of a road user's rectangle at time tau under constant velocity.
func corners(r raw, length, width, tau float64) [4][2]float64 {
	cx, cy := r.x+r.vx*tau, r.y+r.vy*tau
	c, s := math.Cos(r.heading), math.Sin(r.heading)
	var out [4][2]float64
	for i, k := range [4][2]float64{{1, 1}, {1, -1}, {-1, -1}, {-1, 1}} {
		dx, dy := k[0]*length/2, k[1]*width/2
		out[i] = [2]float64{cx + dx*c - dy*s, cy + dx*s + dy*c}
	}
	return out
}

// overlap tests two convex quadrilaterals by containment and edge crossing,
// a different method from the engine's separating axes.
func overlap(a, b [4][2]float64) bool {
	inside := func(p [2]float64, q [4][2]float64) bool {
		sign := 0.0
		for i := range q {
			j := (i + 1) % 4
			c := (q[j][0]-q[i][0])*(p[1]-q[i][1]) - (q[j][1]-q[i][1])*(p[0]-q[i][0])
			if c*sign < 0 {
				return false
			}
			if c != 0 {
				sign = c
			}
		}
		return true
	}
	for i := range a {
		if inside(a[i], b) || inside(b[i], a) {
			return true
		}
	}
	cross := func(o, p, q [2]float64) float64 { return (p[0]-o[0])*(q[1]-o[1]) - (p[1]-o[1])*(q[0]-o[0]) }
	for i := range a {
		for j := range b {
			a0, a1, b0, b1 := a[i], a[(i+1)%4], b[j], b[(j+1)%4]
			if cross(a0, a1, b0)*cross(a0, a1, b1) < 0 && cross(b0, b1, a0)*cross(b0, b1, a1) < 0 {
				return true
			}
		}
	}
	return false
}

// bruteTTC steps time by 0.1 ms until the two rectangles overlap.
func bruteTTC(ped, car raw) float64 {
	for tau := 0.0; tau <= 10; tau += 1e-4 {
		if overlap(corners(ped, 0.5, 0.5, tau), corners(car, 4.5, 1.8, tau)) {
			return tau
		}
	}
	return math.NaN()
}

// passage returns when a raw track's centre passes point p (the closest
// approach, interpolated between frames) and its speed there.
func passage(tr map[int]raw, p [2]float64) (tSec, speed float64, dir [2]float64) {
	best := math.Inf(1)
	for f, r := range tr {
		n, ok := tr[f+1]
		if !ok {
			continue
		}
		dx, dy := n.x-r.x, n.y-r.y
		l2 := dx*dx + dy*dy
		if l2 == 0 {
			continue
		}
		u := math.Max(0, math.Min(1, ((p[0]-r.x)*dx+(p[1]-r.y)*dy)/l2))
		d := math.Hypot(r.x+u*dx-p[0], r.y+u*dy-p[1])
		if d < best {
			best, tSec = d, (float64(f)+u)/FPS
			speed = math.Sqrt(l2) * FPS
			dir = [2]float64{dx / math.Sqrt(l2), dy / math.Sqrt(l2)}
		}
	}
	return tSec, speed, dir
}

// bruteOccupancy steps a raw track through time (1 ms, positions linear
// between frames, each frame's heading held until the next, as the engine
// does) and returns the contiguous interval around tAt during which its
// rectangle overlaps area.
func bruteOccupancy(tr map[int]raw, length, width float64, area [4][2]float64, tAt float64) (entry, exit float64) {
	in := func(tau float64) bool {
		f := int(math.Floor(tau * FPS))
		r, ok1 := tr[f]
		n, ok2 := tr[f+1]
		if !ok1 || !ok2 {
			return false
		}
		u := tau*FPS - float64(f)
		s := raw{x: r.x + u*(n.x-r.x), y: r.y + u*(n.y-r.y), heading: r.heading}
		return overlap(corners(s, length, width, 0), area)
	}
	const step = 1e-3
	entry, exit = tAt, tAt
	for in(entry - step) {
		entry -= step
	}
	for in(exit + step) {
		exit += step
	}
	return entry, exit
}

// closedFormPET is PET for two users passing a point on straight lines at
// constant speed: user i occupies the conflict area (the overlap of the two
// corridors) while its centre is within D_i = l_i + w_j/sinθ + w_i·|cotθ|
// of the crossing (l half-length, w half-width, θ the crossing angle), so
// PET = τ2 − τ1 − D1/v1 − D2/v2 with τ the centre passage times.
func closedFormPET(t1, v1, l1, w1, t2, v2, l2, w2, theta float64) float64 {
	if t1 > t2 {
		t1, v1, l1, w1, t2, v2, l2, w2 = t2, v2, l2, w2, t1, v1, l1, w1
	}
	sin, cot := math.Abs(math.Sin(theta)), math.Abs(1/math.Tan(theta))
	d1 := l1 + w2/sin + w1*cot
	d2 := l2 + w1/sin + w2*cot
	return math.Max(0, t2-t1-d1/v1-d2/v2)
}

// TestHandChecked recomputes TTC and PET for real DUT encounters from the
// published rows, by methods independent of the engine, and compares.
func TestHandChecked(t *testing.T) {
	const halfFrame = 0.5 / 23.98
	dir, _ := clipFiles(t)
	type check struct {
		clip     string
		ped, veh int64
		what     string // "ttc" or "pet"
		tol      float64
	}
	checks := []check{
		// Pedestrian 8 and car 2 in intersection_08: the car creeps
		// (≈1 m/s) through the crowd. At frame 186 (t = 7.756 s) the car is
		// at (14.357, 12.903) heading 1.537 rad (down the image), the
		// pedestrian at (12.953, 12.044) walking (0.333, −0.705) m/s,
		// 1.404 m to the car's side (x). Gap along x: 1.404 − 0.9 (car
		// half-width) − 0.333 (the pedestrian's square turned 65°:
		// 0.25·(cos 65° + sin 65°)) − 0.076 (the car's 2° yaw brings a
		// corner 2.25·sin 2° nearer) ≈ 0.095 m, closing at about
		// 0.333 − 0.034 = 0.30 m/s: ≈ 0.32 s, to first order. Stepping both
		// boxes at 0.1 ms (corners and edges, no separating axes) gives
		// 0.3849 s, as the engine does.
		{"intersection_08", 8, 2, "ttc", 1e-3},
		// Pedestrian 72 and car 2 in intersection_08: TTC ≈ 0.91 s.
		{"intersection_08", 72, 2, "ttc", 1e-3},
		// Pedestrian 0 crosses behind car 1 in intersection_01. By hand, on
		// straight lines: the paths cross at (12.570, 8.114) (image metres)
		// at θ = 81.2°; the car's centre passes at 5.119 s at 2.48 m/s, the
		// pedestrian's at 7.177 s at 1.69 m/s. sin θ = 0.9882, cot θ = 0.1548.
		// Car: D = 2.25 + 0.25/0.9882 + 0.9·0.1548 = 2.642 m, so it leaves
		// the conflict area at 5.119 + 2.642/2.48 = 6.184 s. Pedestrian:
		// D = 0.25 + 0.9/0.9882 + 0.25·0.1548 = 1.199 m, enters at
		// 7.177 − 1.199/1.69 = 6.467 s. PET ≈ 6.467 − 6.184 = 0.283 s.
		// Stepping the real (turning, slowing) paths at 1 ms: the car
		// leaves at 6.108 s, the pedestrian enters at 6.331 s: 0.223 s.
		// The engine reports 0.205 s: it orients the conflict area by the
		// users' smoothed velocities at the crossing (so a jittery step
		// cannot tilt it), this check by the straight chords through the
		// crossing point. The two agree to under half a frame (1/23.98 s
		// / 2 = 0.021 s), the finest the data can resolve.
		{"intersection_01", 0, 1, "pet", halfFrame},
		// Pedestrian 1 and car 1 in intersection_01: PET ≈ 1.25 s.
		{"intersection_01", 1, 1, "pet", halfFrame},
		// Pedestrian 0 and car 2 in intersection_02: PET ≈ 0.17 s.
		{"intersection_02", 0, 2, "pet", halfFrame},
	}
	cache := map[string][]conflict.Encounter{}
	for _, c := range checks {
		t.Run(fmt.Sprintf("%s/ped%d-veh%d/%s", c.clip, c.ped, c.veh, c.what), func(t *testing.T) {
			encs, ok := cache[c.clip]
			if !ok {
				_, encs, _ = analyzeClip(t, dir, c.clip)
				cache[c.clip] = encs
			}
			var e *conflict.Encounter
			for i := range encs {
				if encs[i].TrackA == c.ped && encs[i].TrackB == c.veh+VehicleIDOffset {
					e = &encs[i]
				}
			}
			if e == nil {
				t.Fatalf("no encounter between pedestrian %d and vehicle %d", c.ped, c.veh)
			}
			peds := readRaw(t, filepath.Join(dir, c.clip+"_traj_ped_filtered.csv"), false)
			vehs := readRaw(t, filepath.Join(dir, c.clip+"_traj_veh_filtered.csv"), true)
			switch c.what {
			case "ttc":
				if e.MinTTCS == nil {
					t.Fatal("engine has no TTC")
				}
				frame := int(math.Round(*e.TMinTTCS * FPS))
				p, ok1 := peds[c.ped][frame]
				v, ok2 := vehs[c.veh][frame]
				if !ok1 || !ok2 {
					t.Fatalf("frame %d missing", frame)
				}
				want := bruteTTC(p, v)
				t.Logf("frame %d: ped (%.3f, %.3f) v (%.3f, %.3f); car (%.3f, %.3f) ψ %.3f; engine TTC %.4f s, brute force %.4f s",
					frame, p.x, p.y, p.vx, p.vy, v.x, v.y, v.heading, *e.MinTTCS, want)
				if math.IsNaN(want) || math.Abs(*e.MinTTCS-want) > c.tol {
					t.Errorf("engine TTC %.4f, independent %.4f", *e.MinTTCS, want)
				}
			case "pet":
				if e.PETS == nil {
					t.Fatal("engine has no PET")
				}
				// Conflict point in image axes (the converter flipped y).
				pt := [2]float64{e.XM, -e.YM}
				tp, vp, dp := passage(peds[c.ped], pt)
				tv, vv, dv := passage(vehs[c.veh], pt)
				theta := math.Acos(math.Max(-1, math.Min(1, dp[0]*dv[0]+dp[1]*dv[1])))
				straight := closedFormPET(tp, vp, 0.25, 0.25, tv, vv, 2.25, 0.9, theta)
				// The conflict area: corridors of half-widths 0.25 (pedestrian)
				// and 0.9 (car) along the two directions at the crossing.
				sin := math.Abs(dp[0]*dv[1] - dp[1]*dv[0])
				var area [4][2]float64
				for i, k := range [4][2]float64{{1, 1}, {1, -1}, {-1, -1}, {-1, 1}} {
					a, b := k[0]*0.9/sin, k[1]*0.25/sin // along the pedestrian's direction: car's half-width / sinθ
					area[i] = [2]float64{pt[0] + a*dp[0] + b*dv[0], pt[1] + a*dp[1] + b*dv[1]}
				}
				inP, outP := bruteOccupancy(peds[c.ped], 0.5, 0.5, area, tp)
				inV, outV := bruteOccupancy(vehs[c.veh], 4.5, 1.8, area, tv)
				want := math.Max(0, inP-outV)
				if inP < inV {
					want = math.Max(0, inV-outP)
				}
				t.Logf("crossing (%.3f, %.3f) at %.1f°: pedestrian centre passes at %.3f s (%.2f m/s), in the area %.3f–%.3f s; car passes at %.3f s (%.2f m/s), in the area %.3f–%.3f s",
					pt[0], pt[1], theta*180/math.Pi, tp, vp, inP, outP, tv, vv, inV, outV)
				t.Logf("engine PET %.4f s; stepped occupancy %.4f s; straight-line closed form %.4f s", *e.PETS, want, straight)
				if math.Abs(*e.PETS-want) > c.tol {
					t.Errorf("engine PET %.4f, independent %.4f", *e.PETS, want)
				}
				// Paths here are not straight (the car turns, speeds vary):
				// the closed form is a sanity bound, not an identity.
				if math.Abs(*e.PETS-straight) > 0.15 {
					t.Errorf("engine PET %.4f far from the straight-line estimate %.4f", *e.PETS, straight)
				}
			}
		})
	}
}
