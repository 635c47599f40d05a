package api

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"testing"

	"github.com/intersect-oss/intersect/events"
	"github.com/intersect-oss/intersect/store"
)

// storePublisher stands in for the bus: it validates the observation as a
// consumer would and writes it to the store, as ingest would.
type storePublisher struct {
	mu  sync.Mutex
	st  store.Store
	got []*events.WeatherObservation
}

func (p *storePublisher) PublishWeather(ctx context.Context, w *events.WeatherObservation) error {
	if err := w.Validate(); err != nil {
		return err
	}
	p.mu.Lock()
	p.got = append(p.got, w)
	p.mu.Unlock()
	_, err := p.st.Write(ctx, store.Batch{Events: []events.Event{w}})
	return err
}

func TestWeatherSwitch(t *testing.T) {
	pub := &storePublisher{}
	f := newFixture(t, Options{Weather: pub})
	pub.st = f.st

	var before weatherAnswer
	f.getJSON(t, "/api/v1/sites/main-and-5th/weather", &before)
	if before.Observation != nil {
		t.Fatalf("weather before any observation = %+v, want null", before.Observation)
	}
	code, _, body := f.post(t, "/api/v1/sites/main-and-5th/weather", "application/json", `{"condition":"snow","by":"engineer@city"}`, nil)
	if code != http.StatusAccepted {
		t.Fatalf("POST weather = %d %s", code, body)
	}
	var ans weatherAnswer
	if err := json.Unmarshal(body, &ans); err != nil || ans.Observation == nil || ans.Observation.Condition != events.Snow {
		t.Fatalf("answer = %s (%v)", body, err)
	}
	// Who set it is the token's name, with the name typed after it.
	if len(pub.got) != 1 || pub.got[0].Site != "main-and-5th" || pub.got[0].Source != "manual" ||
		pub.got[0].Text != "set from the dashboard by fixture-admin (as engineer@city)" {
		t.Fatalf("published %+v", pub.got)
	}
	var after weatherAnswer
	f.getJSON(t, "/api/v1/sites/main-and-5th/weather", &after)
	if after.Observation == nil || after.Observation.Condition != events.Snow {
		t.Fatalf("GET after the switch = %+v", after.Observation)
	}

	bad := []struct {
		name, path, body string
		code             int
		param            string
	}{
		{"unknown condition", "/api/v1/sites/main-and-5th/weather", `{"condition":"hail","by":"x"}`, 400, "condition"},
		{"bad site", "/api/v1/sites/Main%20St/weather", `{"condition":"dry","by":"x"}`, 400, "site"},
		{"unknown field", "/api/v1/sites/main-and-5th/weather", `{"condition":"dry","by":"x","temp":3}`, 400, "temp"},
		{"injection", "/api/v1/sites/main-and-5th/weather", `{"condition":"dry'; DROP TABLE weather;--","by":"x"}`, 400, "condition"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			code, e, body := f.post(t, tc.path, "application/json", tc.body, nil)
			if code != tc.code || e.Param != tc.param {
				t.Fatalf("= %d param %q (%s), want %d param %q", code, e.Param, body, tc.code, tc.param)
			}
		})
	}
	if len(pub.got) != 1 {
		t.Fatalf("bad requests published %d observations", len(pub.got)-1)
	}
}

func TestWeatherSwitchWithoutBus(t *testing.T) {
	f := newFixture(t, Options{})
	if code, _, body := f.post(t, "/api/v1/sites/main-and-5th/weather", "application/json", `{"condition":"snow","by":"x"}`, nil); code != http.StatusServiceUnavailable {
		t.Fatalf("POST weather without a publisher = %d %s, want 503", code, body)
	}
}
