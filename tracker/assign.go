package tracker

import (
	"fmt"
	"math"
)

// Hungarian solves the rectangular linear assignment problem exactly: it
// assigns every row to a distinct column (or every column to a distinct row
// when there are fewer columns) so that the total cost is minimal. It returns,
// for each row, the assigned column or -1. Costs must be finite.
//
// The algorithm is the shortest-augmenting-path form of Kuhn–Munkres with
// dual potentials (Jonker–Volgenant style), O(n²·m) for n ≤ m: one Dijkstra-
// like pass per row over dense slices, which is fast for the few dozen boxes
// a frame holds and exact, unlike greedy matching.
func Hungarian(cost [][]float64) ([]int, error) {
	n := len(cost)
	if n == 0 {
		return nil, nil
	}
	m := len(cost[0])
	for i, row := range cost {
		if len(row) != m {
			return nil, fmt.Errorf("hungarian: row %d has %d columns, row 0 has %d", i, len(row), m)
		}
		for j, c := range row {
			if math.IsNaN(c) || math.IsInf(c, 0) {
				return nil, fmt.Errorf("hungarian: cost[%d][%d] is %v, want a finite number", i, j, c)
			}
		}
	}
	rowToCol := make([]int, n)
	for i := range rowToCol {
		rowToCol[i] = -1
	}
	if m == 0 {
		return rowToCol, nil
	}
	if n <= m {
		solve(n, m, func(i, j int) float64 { return cost[i][j] }, rowToCol)
		return rowToCol, nil
	}
	// More rows than columns: solve the transpose and invert the answer.
	colToRow := make([]int, m)
	solve(m, n, func(i, j int) float64 { return cost[j][i] }, colToRow)
	for j, i := range colToRow {
		if i >= 0 {
			rowToCol[i] = j
		}
	}
	return rowToCol, nil
}

// solve assigns each of n rows to one of m ≥ n columns at minimum total cost
// c(i, j), writing the column of row i into out[i].
func solve(n, m int, c func(i, j int) float64, out []int) {
	// 1-based arrays as in the classic formulation; index 0 is the virtual
	// source column.
	u := make([]float64, n+1)
	v := make([]float64, m+1)
	p := make([]int, m+1) // p[j]: row matched to column j (0 = none)
	way := make([]int, m+1)
	minv := make([]float64, m+1)
	used := make([]bool, m+1)
	for i := 1; i <= n; i++ {
		p[0] = i
		j0 := 0
		for j := range minv {
			minv[j] = math.Inf(1)
			used[j] = false
		}
		for {
			used[j0] = true
			i0 := p[j0]
			delta := math.Inf(1)
			j1 := 0
			for j := 1; j <= m; j++ {
				if used[j] {
					continue
				}
				cur := c(i0-1, j-1) - u[i0] - v[j]
				if cur < minv[j] {
					minv[j] = cur
					way[j] = j0
				}
				if minv[j] < delta {
					delta = minv[j]
					j1 = j
				}
			}
			for j := 0; j <= m; j++ {
				if used[j] {
					u[p[j]] += delta
					v[j] -= delta
				} else {
					minv[j] -= delta
				}
			}
			j0 = j1
			if p[j0] == 0 {
				break
			}
		}
		for j0 != 0 {
			j1 := way[j0]
			p[j0] = p[j1]
			j0 = j1
		}
	}
	for j := 1; j <= m; j++ {
		if p[j] > 0 {
			out[p[j]-1] = j - 1
		}
	}
}

// Match is one assigned (row, column) pair.
type Match struct{ Row, Col int }

// MatchMaxWeight returns the matching of rows to columns that maximises the
// total gain maxCost − cost over pairs with cost < maxCost; pairs at or above
// maxCost, or NaN, are never matched. This is ByteTrack's gated assignment
// (lapjv with cost_limit): a poor pair is left unmatched rather than taken
// just to match more boxes.
func MatchMaxWeight(cost [][]float64, maxCost float64) ([]Match, error) {
	gain := make([][]float64, len(cost))
	for i, row := range cost {
		gain[i] = make([]float64, len(row))
		for j, c := range row {
			if c < maxCost { // false for NaN
				gain[i][j] = c - maxCost // negative: worth taking
			}
		}
	}
	return gated(cost, gain, func(c float64) bool { return c < maxCost })
}

// MatchMaxCardinality returns, among pairs with cost ≤ maxCost (NaN never
// matches), a matching with the most pairs and, among those, the least total
// cost. This is how the MOTChallenge evaluators (py-motmetrics) match ground
// truth to hypotheses.
func MatchMaxCardinality(cost [][]float64, maxCost float64) ([]Match, error) {
	// A forbidden pair costs more than any matching of allowed pairs, so the
	// optimum first maximises the number of allowed pairs.
	maxAllowed, k := 0.0, 0
	for _, row := range cost {
		for _, c := range row {
			if c <= maxCost && math.Abs(c) > maxAllowed {
				maxAllowed = math.Abs(c)
			}
		}
		k = max(k, len(row))
	}
	k = min(k, len(cost))
	big := (maxAllowed + 1) * float64(2*k+1)
	shifted := make([][]float64, len(cost))
	for i, row := range cost {
		shifted[i] = make([]float64, len(row))
		for j, c := range row {
			if c <= maxCost {
				shifted[i][j] = c
			} else {
				shifted[i][j] = big
			}
		}
	}
	return gated(cost, shifted, func(c float64) bool { return c <= maxCost })
}

// gated solves work exactly and keeps the pairs whose original cost passes.
func gated(cost, work [][]float64, allowed func(float64) bool) ([]Match, error) {
	rowToCol, err := Hungarian(work)
	if err != nil {
		return nil, err
	}
	var out []Match
	for i, j := range rowToCol {
		if j >= 0 && allowed(cost[i][j]) {
			out = append(out, Match{i, j})
		}
	}
	return out, nil
}
