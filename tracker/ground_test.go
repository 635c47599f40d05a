package tracker

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/intersect-oss/intersect/events"
)

func TestHomographyProjectAndInverse(t *testing.T) {
	// A perspective homography: x = (0.05 px + 1) / w, y = (0.1 py − 2) / w,
	// w = 0.001 py + 1.
	h := Homography{0.05, 0, 1, 0, 0.1, -2, 0, 0.001, 1}
	tests := []struct{ px, py, x, y float64 }{
		{0, 0, 1, -2},
		{100, 0, 6, -2},
		{100, 1000, 3, 49},
	}
	for _, tt := range tests {
		x, y, ok := h.Project(tt.px, tt.py)
		if !ok || math.Abs(x-tt.x) > 1e-9 || math.Abs(y-tt.y) > 1e-9 {
			t.Errorf("Project(%v, %v) = %v, %v, %v; want %v, %v", tt.px, tt.py, x, y, ok, tt.x, tt.y)
		}
	}
	inv, err := h.Inverse()
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		px, py, ok := inv.Project(tt.x, tt.y)
		if !ok || math.Abs(px-tt.px) > 1e-6 || math.Abs(py-tt.py) > 1e-6 {
			t.Errorf("Inverse().Project(%v, %v) = %v, %v; want %v, %v", tt.x, tt.y, px, py, tt.px, tt.py)
		}
	}
	if _, _, ok := h.Project(0, -1000); ok { // w = 0: the horizon
		t.Error("a point on the horizon projected")
	}
	if _, err := (Homography{1, 2, 3, 2, 4, 6, 0, 0, 1}).Inverse(); err == nil {
		t.Error("singular homography inverted")
	}
}

func TestGroundFilterConstantVelocity(t *testing.T) {
	g := NewGroundFilter(DefaultGroundConfig(), events.Pedestrian)
	t0 := time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)
	heading := math.Pi / 6
	speed := 1.4
	var st GroundState
	for k := 0; k <= 50; k++ { // 5 s at 10 Hz, ±0.1 m alternating jitter
		s := float64(k) * 0.1
		j := 0.1 * float64(1-2*(k%2))
		x := 10 + speed*s*math.Cos(heading) + j
		y := 5 + speed*s*math.Sin(heading) - j
		var err error
		if st, err = g.Update(t0.Add(time.Duration(k)*100*time.Millisecond), x, y); err != nil {
			t.Fatal(err)
		}
	}
	if math.Abs(st.Speed-speed) > 0.1 {
		t.Errorf("speed = %.3f m/s, want %.1f ± 0.1", st.Speed, speed)
	}
	if math.Abs(st.Heading-heading) > 0.05 {
		t.Errorf("heading = %.3f rad, want %.3f ± 0.05", st.Heading, heading)
	}
	wantX := 10 + speed*5*math.Cos(heading)
	if math.Abs(st.X-wantX) > 0.15 {
		t.Errorf("x = %.3f, want %.3f ± 0.15", st.X, wantX)
	}
	if st.Length != 0.5 || st.Width != 0.5 {
		t.Errorf("pedestrian extent %v × %v, want 0.5 × 0.5", st.Length, st.Width)
	}
}

func TestGroundFilterStationaryKeepsHeading(t *testing.T) {
	g := NewGroundFilter(DefaultGroundConfig(), events.Car)
	t0 := time.Unix(0, 0)
	var st GroundState
	// Drive north at 10 m/s for 2 s, brake at 4 m/s² to a stop (2.5 s,
	// 12.5 m), then stand still for 10 s.
	tt := func(k int) time.Time { return t0.Add(time.Duration(k) * 100 * time.Millisecond) }
	for k := 0; k <= 150; k++ {
		s := float64(k) / 10
		var y float64
		switch {
		case s <= 2:
			y = 10 * s
		case s <= 4.5:
			b := s - 2
			y = 20 + 10*b - 2*b*b
		default:
			y = 32.5
		}
		st, _ = g.Update(tt(k), 0, y)
	}
	if st.Speed > 0.2 {
		t.Errorf("speed after 10 s standing = %.3f m/s", st.Speed)
	}
	if math.Abs(st.Heading-math.Pi/2) > 0.1 {
		t.Errorf("heading = %.3f, want the last moving heading π/2", st.Heading)
	}
	if st.Length != 4.5 || st.Width != 1.8 {
		t.Errorf("car extent %v × %v", st.Length, st.Width)
	}
}

func TestGroundFilterBadInput(t *testing.T) {
	cfg := DefaultGroundConfig()
	cfg.Extents = map[events.Class]Extent{events.Bus: {15, 2.6}}
	g := NewGroundFilter(cfg, events.Bus)
	t0 := time.Unix(100, 0)
	if _, err := g.Update(t0, 1, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := g.Update(t0, 2, 2); !errors.Is(err, ErrTimeOrder) {
		t.Errorf("same time: err = %v, want ErrTimeOrder", err)
	}
	if _, err := g.Update(t0.Add(time.Second), math.NaN(), 2); err == nil {
		t.Error("NaN position accepted")
	}
	if st := g.State(); st.X != 1 || st.Length != 15 || st.Width != 2.6 {
		t.Errorf("state after rejected updates = %+v", st)
	}
	// A class missing from the configured map falls back to the defaults.
	if st := NewGroundFilter(cfg, events.Truck).State(); st.Length != 8 || st.Width != 2.5 {
		t.Errorf("truck fallback extent = %+v", st)
	}
	h := Homography{1, 0, 0, 0, 1, 0, 0, 0.01, 1}
	if _, err := g.UpdateBox(h, t0.Add(2*time.Second), Box{X: 0, Y: -150, W: 10, H: 50}); err == nil {
		t.Error("box on the horizon accepted") // bottom-centre py = −100, w = 0
	}
	st, err := g.UpdateBox(h, t0.Add(3*time.Second), Box{X: 0, Y: 0, W: 10, H: 0})
	if err != nil || st.X <= 1 {
		t.Errorf("UpdateBox = %+v, %v; want x moving toward 5", st, err)
	}
}

// BenchmarkGroundFilter measures one smoother update.
func BenchmarkGroundFilter(b *testing.B) {
	g := NewGroundFilter(DefaultGroundConfig(), events.Car)
	t0 := time.Unix(0, 0)
	k := 0
	for b.Loop() {
		k++
		_, _ = g.Update(t0.Add(time.Duration(k)*time.Millisecond), float64(k)*0.01, 0)
	}
}

// TestGroundFilterSmoothedFollowsBraking: a car at 5.5 m/s brakes at
// 7 m/s² to a stop, measured at 15 Hz with ±0.1 m jitter. A quarter of a
// second into the braking the causal estimate still says ~5 m/s; the
// fixed-lag smoothed one, five frames later, is within 1 m/s of the truth.
// Before SmoothLag+1 updates there is no smoothed state.
func TestGroundFilterSmoothedFollowsBraking(t *testing.T) {
	const lag, fps = 5, 15.0
	cfg := DefaultGroundConfig()
	cfg.SmoothLag = lag
	cfg.InitialSpeedStdMPS = 12
	g := NewGroundFilter(cfg, events.Car)
	t0 := time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)
	truth := func(ts float64) (x, v float64) { // brakes at 2 s
		if ts < 2 {
			return -5.5 * ts, -5.5
		}
		d := ts - 2
		if v := -5.5 + 7*d; v < 0 {
			return -11 - 5.5*d + 3.5*d*d, v
		}
		return -11 - 5.5*5.5/14, 0
	}
	at := func(k int) time.Time { return t0.Add(time.Duration(float64(k) / fps * float64(time.Second))) }
	var causalAt, smoothAt float64 = math.NaN(), math.NaN()
	const probe = 34 // 2.27 s: a quarter of a second into the braking
	for k := 0; k <= 60; k++ {
		x, _ := truth(float64(k) / fps)
		st, err := g.Update(at(k), x+0.1*float64(1-2*(k%2)), 0)
		if err != nil {
			t.Fatal(err)
		}
		if k == probe {
			causalAt = st.VX
		}
		sm, when, ok := g.Smoothed()
		if k < lag {
			if ok {
				t.Fatalf("update %d: a smoothed state before %d updates", k, lag+1)
			}
			continue
		}
		if !ok || !when.Equal(at(k-lag)) {
			t.Fatalf("update %d: smoothed state ok=%v at %v, want the state at %v", k, ok, when, at(k-lag))
		}
		if k-lag == probe {
			smoothAt = sm.VX
		}
	}
	_, v := truth(probe / fps)
	if math.Abs(causalAt-v) < 1.5 {
		t.Errorf("causal velocity %.2f m/s at the probe, truth %.2f: the test no longer shows the lag it is about", causalAt, v)
	}
	if math.Abs(smoothAt-v) > 1 {
		t.Errorf("smoothed velocity %.2f m/s at the probe, truth %.2f (causal %.2f)", smoothAt, v, causalAt)
	}
	if _, _, ok := NewGroundFilter(DefaultGroundConfig(), events.Car).Smoothed(); ok {
		t.Error("a filter without SmoothLag returned a smoothed state")
	}
}

func TestHomographyMetresPerPixel(t *testing.T) {
	// x = 0.05 px / w, y = 0.1 py / w, w = 0.001 py + 1: a pixel spans more
	// ground further down the perspective.
	h := Homography{0.05, 0, 0, 0, 0.1, 0, 0, 0.001, 1}
	near, ok1 := h.MetresPerPixel(100, 0)
	far, ok2 := h.MetresPerPixel(100, -500)
	if !ok1 || !ok2 || math.Abs(near-0.1) > 0.01 || !(far > 2*near) {
		t.Errorf("metres per pixel %v (%v) near, %v (%v) far; want ~0.1 and more than twice that", near, ok1, far, ok2)
	}
	if _, ok := h.MetresPerPixel(0, -1000); ok {
		t.Error("metres per pixel on the horizon")
	}
}
