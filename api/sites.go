package api

import (
	"net/http"
	"sort"
	"time"

	"github.com/intersect-oss/intersect/events"
	"github.com/intersect-oss/intersect/store"
)

// siteAnswer is one site of GET /api/v1/sites, ranked by severity-weighted
// conflict rate: the severity-weighted count (critical 9, serious 3, minor
// 1) per 1,000 tracked road users, so a busy site is not ranked worse just
// for being busy.
type siteAnswer struct {
	Rank         int              `json:"rank"`
	Site         string           `json:"site"`
	NearMisses   int64            `json:"near_misses"`
	Tracks       int64            `json:"tracks"`
	Score        float64          `json:"score"`
	WeightedRate *float64         `json:"weighted_rate_per_1000_tracks"`
	LastSeen     time.Time        `json:"last_seen"`
	Cameras      []cameraAnswer   `json:"cameras"`
	BySeverity   map[string]int64 `json:"by_severity"`
}

type cameraAnswer struct {
	Camera     string               `json:"camera"`
	NearMisses int64                `json:"near_misses"`
	Tracks     int64                `json:"tracks"`
	LastSeen   time.Time            `json:"last_seen"`
	Health     *events.CameraHealth `json:"health"`
}

func (s *Server) sites(w http.ResponseWriter, r *http.Request) {
	p := &params{v: r.URL.Query()}
	from, to := p.time("from"), p.time("to")
	if !from.IsZero() && !to.IsZero() && !to.After(from) {
		p.fail("to", "must be after from")
	}
	if perr := p.finish(); perr != nil {
		writeError(w, http.StatusBadRequest, perr.Param, perr.Error())
		return
	}
	ctx := r.Context()
	sites, err := s.store.Sites(ctx)
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	health, err := s.store.LatestHealth(ctx)
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	latest := map[[2]string]*events.CameraHealth{}
	for i := range health {
		latest[[2]string{health[i].Site, health[i].Camera}] = &health[i]
	}
	out := make([]siteAnswer, 0, len(sites))
	for _, st := range sites {
		// One grouped query per site; a city has tens of sites, not thousands.
		res, err := s.store.Stats(ctx, store.StatsQuery{Filter: store.Filter{Site: st.Site, From: from, To: to}, By: store.BySeverity})
		if err != nil {
			s.storeError(w, r, err)
			return
		}
		a := siteAnswer{Site: st.Site, NearMisses: st.NearMisses, Tracks: st.Tracks, LastSeen: st.LastSeen, BySeverity: map[string]int64{}}
		for _, g := range res.Groups {
			a.Score += g.Score
			a.BySeverity[g.Key] = g.Count
		}
		exposure := res.Pedestrians + res.Vehicles + res.Cyclists
		if from.IsZero() && to.IsZero() {
			exposure = st.Tracks
		}
		a.WeightedRate = per1000(a.Score, exposure)
		for _, c := range st.Cameras {
			a.Cameras = append(a.Cameras, cameraAnswer{Camera: c.Camera, NearMisses: c.NearMisses, Tracks: c.Tracks,
				LastSeen: c.LastSeen, Health: latest[[2]string{st.Site, c.Camera}]})
		}
		a.Cameras = nonNil(a.Cameras)
		out = append(out, a)
	}
	// Highest rate first; sites without exposure after those with it, by
	// score; the site ID breaks ties so the order is stable.
	sort.SliceStable(out, func(i, j int) bool {
		ri, rj := out[i].WeightedRate, out[j].WeightedRate
		switch {
		case ri != nil && rj != nil && *ri != *rj:
			return *ri > *rj
		case (ri == nil) != (rj == nil):
			return ri != nil
		case out[i].Score != out[j].Score:
			return out[i].Score > out[j].Score
		}
		return out[i].Site < out[j].Site
	})
	for i := range out {
		out[i].Rank = i + 1
	}
	writeJSON(w, http.StatusOK, map[string]any{"sites": out})
}

func (s *Server) cameraHealth(w http.ResponseWriter, r *http.Request) {
	p := &params{v: r.URL.Query()}
	site := p.id("site")
	if perr := p.finish(); perr != nil {
		writeError(w, http.StatusBadRequest, perr.Param, perr.Error())
		return
	}
	hs, err := s.store.LatestHealth(r.Context())
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	out := make([]events.CameraHealth, 0, len(hs))
	for _, h := range hs {
		if site == "" || h.Site == site {
			out = append(out, h)
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"cameras": out})
}
