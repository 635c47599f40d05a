package tracker

import (
	"math"
	"testing"
)

func TestIoU(t *testing.T) {
	tests := []struct {
		name string
		a, b Box
		want float64
	}{
		{"identical", Box{0, 0, 10, 10}, Box{0, 0, 10, 10}, 1},
		{"half overlap", Box{0, 0, 10, 10}, Box{5, 0, 10, 10}, 50.0 / 150},
		{"contained", Box{0, 0, 10, 10}, Box{2, 2, 5, 5}, 25.0 / 100},
		{"touching edge", Box{0, 0, 10, 10}, Box{10, 0, 10, 10}, 0},
		{"disjoint", Box{0, 0, 1, 1}, Box{5, 5, 1, 1}, 0},
		{"degenerate", Box{0, 0, 0, 10}, Box{0, 0, 0, 10}, 0},
	}
	for _, tt := range tests {
		if got := IoU(tt.a, tt.b); math.Abs(got-tt.want) > 1e-12 {
			t.Errorf("%s: IoU = %v, want %v", tt.name, got, tt.want)
		}
		if got := IoU(tt.b, tt.a); math.Abs(got-tt.want) > 1e-12 {
			t.Errorf("%s: IoU not symmetric: %v", tt.name, got)
		}
	}
}
