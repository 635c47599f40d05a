package signals

import (
	"math"
	"testing"

	"github.com/intersect-oss/intersect/events"
)

func near(t *testing.T, name string, got, want, tol float64) {
	t.Helper()
	if math.Abs(got-want) > tol {
		t.Errorf("%s = %.4f, want %.4f ± %v", name, got, want, tol)
	}
}

// Textbook checks (issue 5, "Must show" 1).
func TestTextbook(t *testing.T) {
	c, err := WebsterCycleS(12, 0.60)
	if err != nil {
		t.Fatal(err)
	}
	near(t, "Webster L=12 Y=0.60", c, 57.5, 1e-9)
	near(t, "ped clearance 20 m at 1.07 m/s", PedClearanceS(20, MUTCDWalkSpeedMPS), 18.7, 0.05)
	if got := ceilSecond(PedClearanceS(20, MUTCDWalkSpeedMPS)); got != 19 {
		t.Errorf("controller ped clearance for 20 m = %v s, want 19 (rounded up)", got)
	}
	near(t, "walk+clearance 20 m", WalkPlusClearanceMinS(20), 23.96, 0.01)
	y := YellowS(35*mphToMPS, ITEDecelMPS2, 0)
	near(t, "ITE yellow 35 mph level", y, 3.6, 0.05)
	if got := ceilTenth(y); got != 3.6 {
		t.Errorf("yellow 35 mph rounded to the NTCIP tenth = %v, want 3.6", got)
	}
	// Uphill shortens, downhill lengthens the yellow (G in the denominator).
	if up, down := YellowS(15.6, ITEDecelMPS2, 0.04), YellowS(15.6, ITEDecelMPS2, -0.04); !(up < y && down > y) {
		t.Errorf("grade: uphill %v, level %v, downhill %v", up, y, down)
	}
	// Red clearance: 20 m width + 6.1 m vehicle at 35 mph.
	near(t, "red clearance", RedClearanceS(20, 6.1, 35*mphToMPS), 1.668, 0.001)
	if _, err := WebsterCycleS(12, 1.0); err == nil {
		t.Error("Webster with Y = 1 must fail (over capacity)")
	}
	// Webster splits share C − L by flow ratio and sum to C.
	s := WebsterSplitsS(57.5, []float64{0.36, 0.24}, []float64{6, 6})
	near(t, "split 1", s[0], (57.5-12)*0.6+6, 1e-9)
	near(t, "splits sum", s[0]+s[1], 57.5, 1e-9)
}

// Weather variants: slower speed and lower deceleration must never shorten
// the yellow at 35 mph; red clearance grows as speed falls; saturation flow
// shrinks, so Webster's cycle grows.
func TestWeatherVariants(t *testing.T) {
	v := 35 * mphToMPS
	cases := []struct {
		c                  events.Condition
		yellow, red, cycle float64
	}{
		{events.Dry, 3.565, 1.668, 57.5},
		{events.Wet, 1 + 0.9*v/(2*2.44), 26.1 / (0.9 * v), 0},
		{events.Snow, 1 + 0.7*v/(2*1.96), 26.1 / (0.7 * v), 0},
		{events.Ice, 1 + 0.6*v/(2*1.47), 26.1 / (0.6 * v), 0},
		{events.Fog, 1 + 0.9*v/(2*3.05), 26.1 / (0.9 * v), 0},
	}
	dryY := YellowS(v, ITEDecelMPS2, 0)
	dryC, _ := WebsterCycleS(12, 0.6)
	for _, tc := range cases {
		f := Factors(tc.c)
		y := YellowS(v*f.SpeedFactor, f.DecelMPS2, 0)
		r := RedClearanceS(20, 6.1, v*f.SpeedFactor)
		near(t, string(tc.c)+" yellow", y, tc.yellow, 0.001)
		near(t, string(tc.c)+" red", r, tc.red, 0.001)
		if tc.c != events.Fog && y < dryY-1e-9 {
			t.Errorf("%s yellow %v shorter than dry %v", tc.c, y, dryY)
		}
		c, err := WebsterCycleS(12, 0.6/f.SatFlowFactor)
		if err != nil {
			t.Fatalf("%s: %v", tc.c, err)
		}
		if c < dryC-1e-9 {
			t.Errorf("%s cycle %v shorter than dry %v", tc.c, c, dryC)
		}
		if f.Source == "" {
			t.Errorf("%s factors carry no source", tc.c)
		}
	}
	// Snow: slush cuts saturation flow 20 %, so Y = 0.60 becomes 0.75 and
	// C₀ = 23 / 0.25 = 92 s.
	c, _ := WebsterCycleS(12, 0.6/Factors(events.Snow).SatFlowFactor)
	near(t, "snow Webster", c, 92, 1e-9)
}

func TestPoissonCI(t *testing.T) {
	// Reference values: Garwood exact intervals (e.g. Ulm 1990 tables;
	// R: poisson.test(k)$conf.int; the upper bounds re-checked by solving
	// P(X ≤ k; μ) = 0.025 on the Poisson CDF).
	cases := []struct {
		k      int
		lo, hi float64
	}{
		{0, 0, 3.6889},
		{1, 0.0253, 5.5716},
		{5, 1.6235, 11.6683},
		{10, 4.7954, 18.3904},
		{100, 81.3639, 121.6268},
	}
	for _, tc := range cases {
		lo, hi := PoissonCI(tc.k, 0.95)
		near(t, "lo", lo, tc.lo, 1e-3)
		near(t, "hi", hi, tc.hi, 1e-3)
	}
	r := NewRate("x", 10, 2000, 1000)
	near(t, "rate", r.Value, 5, 1e-12)
	near(t, "rate lo", r.CILow, 4.7954/2, 1e-3)
	near(t, "rate hi", r.CIHigh, 18.3904/2, 1e-3)
	if z := NewRate("x", 3, 0, 1000); z.Value != 0 || z.CIHigh != 0 {
		t.Errorf("zero exposure rate = %+v", z)
	}
}
