package tracker

import (
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
)

// bruteForce returns the minimum total cost of assigning min(n, m) pairs.
func bruteForce(cost [][]float64) float64 {
	n, m := len(cost), len(cost[0])
	if n > m {
		t := make([][]float64, m)
		for j := range t {
			t[j] = make([]float64, n)
			for i := range cost {
				t[j][i] = cost[i][j]
			}
		}
		return bruteForce(t)
	}
	best := math.Inf(1)
	used := make([]bool, m)
	var rec func(i int, sum float64)
	rec = func(i int, sum float64) {
		if i == n {
			best = min(best, sum)
			return
		}
		for j := 0; j < m; j++ {
			if !used[j] {
				used[j] = true
				rec(i+1, sum+cost[i][j])
				used[j] = false
			}
		}
	}
	rec(0, 0)
	return best
}

func TestHungarianKnown(t *testing.T) {
	tests := []struct {
		name string
		cost [][]float64
		want []int
	}{
		{"square", [][]float64{{4, 1, 3}, {2, 0, 5}, {3, 2, 2}}, []int{1, 0, 2}},
		{"wide", [][]float64{{1, 2, 3, 0.5}, {0.1, 9, 9, 9}}, []int{3, 0}},
		{"tall", [][]float64{{5}, {1}, {3}}, []int{-1, 0, -1}},
		{"greedy fails", [][]float64{{1, 2}, {2, 100}}, []int{1, 0}},
		{"empty columns", [][]float64{{}, {}}, []int{-1, -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Hungarian(tt.cost)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Hungarian = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestHungarianMatchesBruteForce(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for trial := 0; trial < 300; trial++ {
		n, m := 1+r.IntN(6), 1+r.IntN(6)
		cost := make([][]float64, n)
		for i := range cost {
			cost[i] = make([]float64, m)
			for j := range cost[i] {
				cost[i][j] = math.Round(r.Float64()*20) - 5 // ties and negatives
			}
		}
		got, err := Hungarian(cost)
		if err != nil {
			t.Fatal(err)
		}
		sum, seen, k := 0.0, map[int]bool{}, 0
		for i, j := range got {
			if j < 0 {
				continue
			}
			if seen[j] {
				t.Fatalf("column %d assigned twice in %v", j, got)
			}
			seen[j] = true
			sum += cost[i][j]
			k++
		}
		if k != min(n, m) {
			t.Fatalf("%d pairs assigned for %dx%d", k, n, m)
		}
		if want := bruteForce(cost); math.Abs(sum-want) > 1e-9 {
			t.Fatalf("trial %d: cost %v, optimum %v (%v)", trial, sum, want, cost)
		}
	}
}

func TestHungarianRejectsBadInput(t *testing.T) {
	if _, err := Hungarian([][]float64{{1, 2}, {3}}); err == nil {
		t.Error("ragged matrix accepted")
	}
	if _, err := Hungarian([][]float64{{math.NaN()}}); err == nil {
		t.Error("NaN accepted")
	}
	if _, err := Hungarian([][]float64{{math.Inf(1)}}); err == nil {
		t.Error("Inf accepted")
	}
}

func TestGatedMatching(t *testing.T) {
	nan := math.NaN()
	// Row 0 can take col 0 (0.1) or col 1 (0.45); row 1 only col 0 (0.4).
	cost := [][]float64{{0.1, 0.45}, {0.4, nan}}
	card, err := MatchMaxCardinality(cost, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	// Most pairs first: (0,1) + (1,0) = 0.85 beats (0,0) alone.
	if want := []Match{{0, 1}, {1, 0}}; !reflect.DeepEqual(card, want) {
		t.Errorf("MatchMaxCardinality = %v, want %v", card, want)
	}
	weight, err := MatchMaxWeight(cost, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	// Gains: (0,1)+(1,0) = 0.05+0.1 = 0.15 < (0,0) = 0.4.
	if want := []Match{{0, 0}}; !reflect.DeepEqual(weight, want) {
		t.Errorf("MatchMaxWeight = %v, want %v", weight, want)
	}
	none, err := MatchMaxWeight([][]float64{{0.6, 0.9}}, 0.5)
	if err != nil || len(none) != 0 {
		t.Errorf("MatchMaxWeight above gate = %v, %v; want none", none, err)
	}
}
