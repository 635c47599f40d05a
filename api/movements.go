package api

import (
	"net/http"
	"time"

	"github.com/intersect-oss/intersect/events"
)

// movementsAnswer is GET /api/v1/sites/{site}/movements: turning movement
// counts, the tracks that passed by class, approach and movement (through,
// left, right; "" when a track was not seen long enough to tell), the
// counts traffic engineers time signals with. The window defaults to the
// last 24 hours.
type movementsAnswer struct {
	Site   string          `json:"site"`
	From   time.Time       `json:"from"`
	To     time.Time       `json:"to"`
	Counts []movementCount `json:"counts"`
	// Vehicles sums the counts of motor vehicles (cars, trucks, buses,
	// motorcycles).
	Vehicles int64 `json:"vehicles"`
}

type movementCount struct {
	Class    events.Class `json:"class"`
	Approach string       `json:"approach"`
	Movement string       `json:"movement"`
	Tracks   int64        `json:"tracks"`
}

const defaultMovementWindow = 24 * time.Hour

func (s *Server) movements(w http.ResponseWriter, r *http.Request) {
	site, ok := pathSite(w, r)
	if !ok {
		return
	}
	p := &params{v: r.URL.Query()}
	from, to := p.time("from"), p.time("to")
	if !from.IsZero() && !to.IsZero() && !to.After(from) {
		p.fail("to", "must be after from")
	}
	if perr := p.finish(); perr != nil {
		writeError(w, http.StatusBadRequest, perr.Param, perr.Error())
		return
	}
	if to.IsZero() {
		to = time.Now().UTC()
	}
	if from.IsZero() {
		from = to.Add(-defaultMovementWindow)
	}
	counts, err := s.store.Exposure(r.Context(), site, from, to)
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	ans := movementsAnswer{Site: site, From: from, To: to, Counts: make([]movementCount, 0, len(counts))}
	for _, c := range counts {
		ans.Counts = append(ans.Counts, movementCount{Class: c.Class, Approach: c.Approach, Movement: c.Movement, Tracks: c.Tracks})
		if !c.Class.Vulnerable() {
			ans.Vehicles += c.Tracks
		}
	}
	writeJSON(w, http.StatusOK, ans)
}
