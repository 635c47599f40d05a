package ingest

import (
	"context"
	"sync"
	"time"

	"github.com/intersect-oss/intersect/events"
)

// weatherMaxAge is how old the latest observation at a site may be and
// still describe a near miss: past it the weather is unknown, not guessed.
const weatherMaxAge = 6 * time.Hour

// weatherLookup is the part of the store that knows the latest observation
// at a site; ingest uses it, when the store has it, to stamp near misses that
// arrive before any weather event in this process's lifetime.
type weatherLookup interface {
	LatestWeather(ctx context.Context, site string) (*events.WeatherObservation, error)
}

// weatherStamper remembers the latest weather observation per site and
// fills NearMiss.Weather, so analysts can group conflicts by weather. The
// edge does not know the weather; ingest sees both streams of facts.
type weatherStamper struct {
	lookup weatherLookup // may be nil
	mu     sync.Mutex
	latest map[string]*events.WeatherObservation
	looked map[string]bool // sites already looked up in the store
}

func newWeatherStamper(w Writer) *weatherStamper {
	l, _ := w.(weatherLookup)
	return &weatherStamper{lookup: l, latest: map[string]*events.WeatherObservation{}, looked: map[string]bool{}}
}

// stamp updates the latest observations from evs and fills the weather of
// the near misses among them, in order.
func (s *weatherStamper) stamp(ctx context.Context, evs []events.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ev := range evs {
		switch e := ev.(type) {
		case *events.WeatherObservation:
			if cur := s.latest[e.Site]; cur == nil || !e.Time.Before(cur.Time) {
				s.latest[e.Site] = e
			}
		case *events.NearMiss:
			if e.Weather != "" {
				continue
			}
			w := s.observation(ctx, e.Site)
			if w == nil || w.Time.After(e.Time.Add(time.Minute)) || e.Time.Sub(w.Time) > weatherMaxAge {
				continue
			}
			e.Weather = string(w.Condition)
		}
	}
}

// observation returns the latest observation known for site, asking the
// store once per site. s.mu is held.
func (s *weatherStamper) observation(ctx context.Context, site string) *events.WeatherObservation {
	if w := s.latest[site]; w != nil || s.lookup == nil || s.looked[site] {
		return w
	}
	s.looked[site] = true
	w, err := s.lookup.LatestWeather(ctx, site)
	if err != nil {
		return nil // not found or unavailable: the weather stays unknown
	}
	s.latest[site] = w
	return w
}
