package store_test

import (
	"math/rand/v2"
	"testing"

	"github.com/golang/geo/s2"

	"github.com/intersect-oss/intersect/store"
)

// TestCellKeyOrder checks the two properties the heatmap SQL relies on:
// stored keys sort like cell IDs, and a parent cell's leaves are exactly the
// keys between its first and last leaf's keys.
func TestCellKeyOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	points := []s2.CellID{
		store.LeafCell(40.7608, -111.8910), store.LeafCell(-33.86, 151.21), store.LeafCell(89.9, 0),
		store.LeafCell(-89.9, 179.9), store.LeafCell(0, 0), store.LeafCell(51.5, -0.12),
	}
	for range 200 {
		points = append(points, store.LeafCell(rng.Float64()*180-90, rng.Float64()*360-180))
	}
	for i, a := range points {
		if store.CellFromKey(store.CellKey(a)) != a {
			t.Fatalf("CellFromKey(CellKey(%v)) does not round-trip", a)
		}
		for _, b := range points[i+1:] {
			if (a < b) != (store.CellKey(a) < store.CellKey(b)) {
				t.Fatalf("order of %v, %v not kept by their keys", a, b)
			}
		}
		for _, level := range []int{0, 1, 10, 20, 29, 30} {
			p := a.Parent(level)
			lo, hi := store.CellKey(p.RangeMin()), store.CellKey(p.RangeMax())
			if k := store.CellKey(a); k < lo || k > hi {
				t.Fatalf("leaf %v key %d outside its level-%d parent's range [%d, %d]", a, k, level, lo, hi)
			}
			for _, b := range points {
				in := store.CellKey(b) >= lo && store.CellKey(b) <= hi
				if in != p.Contains(b) {
					t.Fatalf("level %d: key range of %v says %v for %v, Contains says %v", level, p, in, b, p.Contains(b))
				}
			}
		}
	}
}
