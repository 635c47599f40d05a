package api

import (
	"net/http"
	"time"

	"github.com/intersect-oss/intersect/store"
)

// statsAnswer is the JSON of GET /api/v1/stats. Rates are per 1,000 road
// users of the exposure class (pedestrians or vehicles) seen in the same
// group (time groupings) or in the whole window (the others); null when
// there was no exposure to divide by.
type statsAnswer struct {
	By       string       `json:"by"`
	TZ       string       `json:"tz"`
	Groups   []statsGroup `json:"groups"`
	Exposure exposure     `json:"exposure"`
	Total    int64        `json:"total"`
}

type exposure struct {
	Pedestrians int64 `json:"pedestrians"`
	Vehicles    int64 `json:"vehicles"`
	Cyclists    int64 `json:"cyclists"`
}

type statsGroup struct {
	Key                  string     `json:"key"`
	Start                *time.Time `json:"start,omitempty"`
	Count                int64      `json:"count"`
	Score                float64    `json:"score"`
	Pedestrians          int64      `json:"pedestrians"`
	Vehicles             int64      `json:"vehicles"`
	PerThousandPeds      *float64   `json:"rate_per_1000_pedestrians"`
	PerThousandVehicles  *float64   `json:"rate_per_1000_vehicles"`
	ScorePerThousandPeds *float64   `json:"score_per_1000_pedestrians"`
}

func per1000(n float64, exposure int64) *float64 {
	if exposure <= 0 {
		return nil
	}
	v := n * 1000 / float64(exposure)
	return &v
}

func (s *Server) stats(w http.ResponseWriter, r *http.Request) {
	p := &params{v: r.URL.Query()}
	q := store.StatsQuery{Filter: p.filter(), By: p.oneOf("by", store.ByHour, store.StatsGroupings), TZ: p.zone("tz")}
	if perr := p.finish(); perr != nil {
		writeError(w, http.StatusBadRequest, perr.Param, perr.Error())
		return
	}
	res, err := s.store.Stats(r.Context(), q)
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	tz := "UTC"
	if q.TZ != nil {
		tz = q.TZ.String()
	}
	out := statsAnswer{
		By: res.By, TZ: tz, Groups: make([]statsGroup, 0, len(res.Groups)),
		Exposure: exposure{Pedestrians: res.Pedestrians, Vehicles: res.Vehicles, Cyclists: res.Cyclists},
	}
	timeGrouping := q.By == store.ByHour || q.By == store.ByWeekday || q.By == store.ByBin5 ||
		q.By == store.ByBin15 || q.By == store.ByBin30 || q.By == store.ByBin60
	for _, g := range res.Groups {
		sg := statsGroup{Key: g.Key, Count: g.Count, Score: g.Score, Pedestrians: g.Pedestrians, Vehicles: g.Vehicles}
		if !g.Start.IsZero() {
			t := g.Start
			sg.Start = &t
		}
		peds, vehs := g.Pedestrians, g.Vehicles
		if !timeGrouping {
			peds, vehs = res.Pedestrians, res.Vehicles
		}
		sg.PerThousandPeds = per1000(float64(g.Count), peds)
		sg.PerThousandVehicles = per1000(float64(g.Count), vehs)
		sg.ScorePerThousandPeds = per1000(g.Score, peds)
		out.Total += g.Count
		out.Groups = append(out.Groups, sg)
	}
	writeJSON(w, http.StatusOK, out)
}
