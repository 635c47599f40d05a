package api

import (
	"math"
	"net/http"

	"github.com/golang/geo/s2"

	"github.com/intersect-oss/intersect/store"
)

// DefaultHeatmapLevel is the S2 level used when neither level nor cell_m is
// given: level 21 cells have edges of about 4 m, the scale of a crosswalk.
const DefaultHeatmapLevel = 21

// earthRadiusM is the mean Earth radius S2's metrics are scaled by.
const earthRadiusM = 6371010.0

// levelForEdge returns the S2 level whose average cell edge is closest to
// edgeM metres: the metres grid is S2 cells of about that size, so it is
// still aggregated in the database by cell-ID range.
func levelForEdge(edgeM float64) int {
	best, bestDiff := 0, math.Inf(1)
	for l := 0; l <= 30; l++ {
		d := math.Abs(math.Log(s2.AvgEdgeMetric.Value(l) * earthRadiusM / edgeM))
		if d < bestDiff {
			best, bestDiff = l, d
		}
	}
	return best
}

// GeoJSON shapes (RFC 7946). Coordinates are [longitude, latitude].
type featureCollection struct {
	Type     string         `json:"type"`
	BBox     []float64      `json:"bbox,omitempty"`
	Features []feature      `json:"features"`
	Meta     map[string]any `json:"properties,omitempty"`
}

type feature struct {
	Type       string   `json:"type"`
	ID         string   `json:"id,omitempty"`
	Geometry   geometry `json:"geometry"`
	Properties any      `json:"properties"`
}

type geometry struct {
	Type        string `json:"type"`
	Coordinates any    `json:"coordinates"`
}

type cellProps struct {
	Token    string  `json:"token"`
	Level    int     `json:"level"`
	EdgeM    float64 `json:"edge_m"`
	Count    int64   `json:"count"`
	Score    float64 `json:"score"`
	Critical int64   `json:"critical"`
	Serious  int64   `json:"serious"`
	Minor    int64   `json:"minor"`
}

func (s *Server) heatmap(w http.ResponseWriter, r *http.Request) {
	p := &params{v: r.URL.Query()}
	q := store.HeatmapQuery{Filter: p.filter(), Level: DefaultHeatmapLevel}
	level := p.int("level", 0, 30)
	edge, byEdge := p.float("cell_m", 0.5, 100000)
	switch {
	case byEdge && p.v.Has("level"):
		p.fail("cell_m", "give level or cell_m, not both")
	case byEdge:
		q.Level = levelForEdge(edge)
	case p.v.Has("level"):
		q.Level = level
	}
	if perr := p.finish(); perr != nil {
		writeError(w, http.StatusBadRequest, perr.Param, perr.Error())
		return
	}
	cells, err := s.store.Heatmap(r.Context(), q)
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	fc := featureCollection{Type: "FeatureCollection", Features: make([]feature, 0, len(cells)),
		Meta: map[string]any{"level": q.Level, "edge_m": s2.AvgEdgeMetric.Value(q.Level) * earthRadiusM}}
	bbox := s2.EmptyRect()
	for _, c := range cells {
		cell := s2.CellFromCellID(s2.CellID(c.Cell))
		ring := make([][2]float64, 0, 5)
		for k := 0; k < 4; k++ {
			ll := s2.LatLngFromPoint(cell.Vertex(k))
			ring = append(ring, [2]float64{round7(ll.Lng.Degrees()), round7(ll.Lat.Degrees())})
			bbox = bbox.AddPoint(ll)
		}
		ring = append(ring, ring[0]) // GeoJSON rings are closed
		fc.Features = append(fc.Features, feature{
			Type: "Feature", ID: c.Token,
			Geometry: geometry{Type: "Polygon", Coordinates: [][][2]float64{ring}},
			Properties: cellProps{Token: c.Token, Level: c.Level, EdgeM: math.Round(s2.AvgEdgeMetric.Value(c.Level)*earthRadiusM*100) / 100,
				Count: c.Count, Score: c.Score, Critical: c.Critical, Serious: c.Serious, Minor: c.Minor},
		})
	}
	if !bbox.IsEmpty() {
		fc.BBox = []float64{round7(bbox.Lo().Lng.Degrees()), round7(bbox.Lo().Lat.Degrees()), round7(bbox.Hi().Lng.Degrees()), round7(bbox.Hi().Lat.Degrees())}
	}
	writeJSON(w, http.StatusOK, fc)
}

// round7 keeps 7 decimals (about 1 cm), as RFC 7946 suggests for precision.
func round7(v float64) float64 { return math.Round(v*1e7) / 1e7 }
