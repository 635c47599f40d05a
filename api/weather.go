package api

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/intersect-oss/intersect/events"
	"github.com/intersect-oss/intersect/store"
)

// WeatherPublisher publishes a manual weather observation: the dashboard's
// weather switch, for sites without a weather feed and for demonstrations.
// The advisor re-evaluates on every change it sees.
type WeatherPublisher interface {
	PublishWeather(ctx context.Context, w *events.WeatherObservation) error
}

// weatherBody is the JSON body of POST /api/v1/sites/{site}/weather.
type weatherBody struct {
	Condition string `json:"condition"`
	By        string `json:"by"`
}

// weatherAnswer is what both weather routes answer.
type weatherAnswer struct {
	Site        string                     `json:"site"`
	Observation *events.WeatherObservation `json:"observation"` // null when none is known
}

func (s *Server) getWeather(w http.ResponseWriter, r *http.Request) {
	site, ok := pathSite(w, r)
	if !ok {
		return
	}
	obs, err := s.store.LatestWeather(r.Context(), site)
	if errors.Is(err, store.ErrNotFound) {
		writeJSON(w, http.StatusOK, weatherAnswer{Site: site})
		return
	}
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, weatherAnswer{Site: site, Observation: obs})
}

func (s *Server) setWeather(w http.ResponseWriter, r *http.Request) {
	site, ok := pathSite(w, r)
	if !ok {
		return
	}
	if s.weather == nil {
		writeError(w, http.StatusServiceUnavailable, "", "this server has no NATS connection to publish weather on (start serve with --nats)")
		return
	}
	var b weatherBody
	if !s.readBody(w, r, &b, `{"condition": "dry|wet|snow|ice|fog", "by": "..."}`) {
		return
	}
	c := events.Condition(strings.TrimSpace(b.Condition))
	if !c.Valid() {
		writeError(w, http.StatusBadRequest, "condition", "unknown condition "+truncate(b.Condition, 32)+" (want dry, wet, snow, ice or fog)")
		return
	}
	if err := checkText("by", b.By, maxByLen, principalOf(r.Context()).TokenID == ""); err != nil {
		writeError(w, http.StatusBadRequest, "by", err.Error())
		return
	}
	obs := &events.WeatherObservation{
		Header:    events.NewHeader(events.KindWeather, site, "", time.Now()),
		Condition: c,
		Source:    "manual",
		Text:      "set from the dashboard by " + decidedBy(principalOf(r.Context()), b.By),
	}
	if err := s.weather.PublishWeather(r.Context(), obs); err != nil {
		s.log.Error("publishing manual weather failed", "site", site, "err", err)
		writeError(w, http.StatusBadGateway, "", "could not publish the observation; see the server log")
		return
	}
	by := decidedBy(principalOf(r.Context()), b.By)
	s.audit(r.Context(), by, AuditWeather, site, "condition="+string(c))
	s.log.Info("manual weather set", "site", site, "condition", c, "by", by)
	writeJSON(w, http.StatusAccepted, weatherAnswer{Site: site, Observation: obs})
}

// pathSite reads and checks the {site} path segment.
func pathSite(w http.ResponseWriter, r *http.Request) (string, bool) {
	site := r.PathValue("site")
	if !events.ValidID(site) {
		writeError(w, http.StatusBadRequest, "site", "site "+truncate(site, 64)+" must match [a-z0-9-]+")
		return "", false
	}
	return site, true
}
