package ingest

import (
	"context"
	"testing"
	"time"

	"github.com/intersect-oss/intersect/events"
	"github.com/intersect-oss/intersect/store"
)

func TestWeatherStamp(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, "", t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	t0 := time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)
	// A week-old snowfall is in the store from before this process; a
	// fresher observation at another site arrives in the stream.
	old := &events.WeatherObservation{Header: events.NewHeader(events.KindWeather, "stored", "", t0.Add(-2*time.Hour)), Condition: events.Wet, Source: "manual"}
	if _, err := st.Write(ctx, store.Batch{Events: []events.Event{old}}); err != nil {
		t.Fatal(err)
	}
	nm := func(site string, at time.Time, weather string) *events.NearMiss {
		ttc := 1.0
		return &events.NearMiss{Header: events.NewHeader(events.KindNearMiss, site, "cam-1", at), Weather: weather, MinTTCS: &ttc}
	}
	snow := &events.WeatherObservation{Header: events.NewHeader(events.KindWeather, "live", "", t0), Condition: events.Snow, Source: "manual"}
	cases := []struct {
		name string
		ev   *events.NearMiss
		want string
	}{
		{"after a live observation", nm("live", t0.Add(time.Minute), ""), "snow"},
		{"from the store", nm("stored", t0, ""), "wet"},
		{"observation too old", nm("live", t0.Add(7*time.Hour), ""), ""},
		{"before the observation", nm("live", t0.Add(-time.Hour), ""), ""},
		{"no weather known", nm("elsewhere", t0, ""), ""},
		{"already set by the source", nm("live", t0.Add(time.Minute), "fog"), "fog"},
	}
	s := newWeatherStamper(st)
	evs := []events.Event{snow}
	for _, tc := range cases {
		evs = append(evs, tc.ev)
	}
	s.stamp(ctx, evs)
	for _, tc := range cases {
		if tc.ev.Weather != tc.want {
			t.Errorf("%s: weather %q, want %q", tc.name, tc.ev.Weather, tc.want)
		}
	}
}
