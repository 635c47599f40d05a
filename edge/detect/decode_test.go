package detect

import (
	"math"
	"testing"

	"github.com/intersect-oss/intersect/events"
)

type emitted struct {
	x0, y0, x1, y1, score float64
	c                     events.Class
}

func collect(out *[]emitted) func(x0, y0, x1, y1, score float64, c events.Class) {
	return func(x0, y0, x1, y1, score float64, c events.Class) {
		*out = append(*out, emitted{x0, y0, x1, y1, score, c})
	}
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-4 }

// TestDecodeYOLOX checks the grid/stride decoding on a hand-made output for
// a 64x64 input: 8x8 + 4x4 + 2x2 = 84 rows of 85 values.
func TestDecodeYOLOX(t *testing.T) {
	md := Model{
		Name:          "t",
		Input:         ModelInput{Width: 64, Height: 64},
		Preprocessing: Preprocessing{Resize: ResizeLetterbox},
		Output:        ModelOutput{Layout: LayoutYOLOX, Shape: []int{1, 84, 85}, Strides: []int{8, 16, 32}},
		ClassMap:      map[int]events.Class{0: events.Pedestrian, 2: events.Car},
	}
	d := &netDetector{md: md, thresholds: Options{}.thresholds(md), classOf: make([]events.Class, 80), minScore: 0.3}
	d.classOf[0], d.classOf[2] = events.Pedestrian, events.Car
	data := make([]float32, 84*85)
	row := func(i int) []float32 { return data[i*85 : (i+1)*85] }
	// Stride 16 grid starts after the 64 stride-8 cells; cell (gx=1, gy=2).
	r := row(64 + 2*4 + 1)
	r[0], r[1], r[2], r[3], r[4] = 0.5, 0.5, 0, float32(math.Log(2)), 0.9
	r[5+0] = 0.8 // person: score 0.72
	// Stride 8 cell (gx=3, gy=0): a car, argmax over all classes.
	r = row(3)
	r[0], r[1], r[2], r[3], r[4] = 0, 0, float32(math.Log(3)), 0, 0.5
	r[5+2], r[5+0] = 0.9, 0.1 // car 0.45
	// Cell whose best class is unmapped (airplane, 4): dropped.
	r = row(10)
	r[4], r[5+4], r[5+0] = 0.9, 0.9, 0.5
	// Below threshold: obj 0.9 * person 0.2 = 0.18.
	r = row(20)
	r[4], r[5+0] = 0.9, 0.2
	// Stride 32 cell (1,1), obj below the pre-filter.
	r = row(64 + 16 + 3)
	r[4], r[5] = 0.1, 1

	var got []emitted
	d.decodeYOLOX(data, collect(&got))
	if len(got) != 2 {
		t.Fatalf("decoded %+v, want 2 boxes", got)
	}
	// Grid order: stride 8 first, so the car comes first.
	car, ped := got[0], got[1]
	// Car: cx = (0+3)*8 = 24, cy = (0+0)*8 = 0, w = 3*8 = 24, h = 8.
	if car.c != events.Car || !near(car.x0, 12) || !near(car.x1, 36) || !near(car.y0, -4) || !near(car.y1, 4) || !near(car.score, 0.45) {
		t.Errorf("car = %+v, want (12,-4)-(36,4) score 0.45", car)
	}
	// Person: cx = (0.5+1)*16 = 24, cy = (0.5+2)*16 = 40, w = 16, h = 32.
	if ped.c != events.Pedestrian || !near(ped.x0, 16) || !near(ped.x1, 32) || !near(ped.y0, 24) || !near(ped.y1, 56) || !near(ped.score, 0.72) {
		t.Errorf("person = %+v, want (16,24)-(32,56) score 0.72", ped)
	}
}

// TestDecodeFastestDet checks the channel-major 2x2-grid decoding.
func TestDecodeFastestDet(t *testing.T) {
	md := Model{
		Name:   "t",
		Input:  ModelInput{Width: 100, Height: 50},
		Output: ModelOutput{Layout: LayoutFastestDet, Shape: []int{1, 85, 2, 2}},
	}
	d := &netDetector{md: md, thresholds: Options{}.thresholds(md), classOf: make([]events.Class, 80), minScore: 0.3}
	d.classOf[0] = events.Pedestrian
	const plane = 4
	data := make([]float32, 85*plane)
	set := func(ch, cell int, v float32) { data[ch*plane+cell] = v }
	cell := 1*2 + 0 // row 1, col 0
	set(0, cell, 0.8)
	set(1, cell, 0) // tanh(0) = 0
	set(2, cell, 0)
	set(3, cell, 0) // sigmoid(0) = 0.5
	set(4, cell, 0)
	set(5, cell, 0.5)
	var got []emitted
	d.decodeFastestDet(data, collect(&got))
	if len(got) != 1 {
		t.Fatalf("decoded %+v, want one", got)
	}
	g := got[0]
	want := math.Pow(0.8, 0.6) * math.Pow(0.5, 0.4)
	// cx = (0+0)/2*100 = 0, cy = (1+0)/2*50 = 25, w = 50, h = 25.
	if g.c != events.Pedestrian || !near(g.x0, -25) || !near(g.x1, 25) || !near(g.y0, 12.5) || !near(g.y1, 37.5) || !near(g.score, want) {
		t.Errorf("decoded %+v, want (-25,12.5)-(25,37.5) score %.4f", g, want)
	}
}
