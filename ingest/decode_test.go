package ingest

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/intersect-oss/intersect/events"
)

// TestDecodeEventMatchesEventsDecode checks that the one-pass decoder gives
// events.Decode's verdict on every kind of input: the same event, or an
// error with the same wording.
func TestDecodeEventMatchesEventsDecode(t *testing.T) {
	t0 := time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)
	ttc := 0.8
	nm := &events.NearMiss{
		Header: events.NewHeader(events.KindNearMiss, "s1", "c1", t0), TrackA: 1, ClassA: events.Car, TrackB: 2, ClassB: events.Pedestrian,
		Start: t0, End: t0.Add(time.Second), MinTTCS: &ttc, Type: events.RightTurnCrosswalk, Severity: events.Serious, Lat: 40, Lng: -111,
	}
	tr := &events.TrackSummary{Header: events.NewHeader(events.KindTrack, "s1", "c1", t0), Track: 3, Class: events.Pedestrian, Start: t0, End: t0.Add(time.Second), Frames: 15}
	hl := &events.CameraHealth{Header: events.NewHeader(events.KindHealth, "s1", "c1", t0), Status: events.CameraOK, Detector: "motion"}
	wx := &events.WeatherObservation{Header: events.NewHeader(events.KindWeather, "s1", "", t0), Condition: events.Wet, Source: "manual"}
	enc := func(ev events.Event) string {
		b, err := events.Encode(ev)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	nmJSON, trJSON := enc(nm), enc(tr)
	cases := []struct{ name, subject, data string }{
		{"near miss", "intersect.v1.s1.c1.nearmiss", nmJSON},
		{"track", "intersect.v1.s1.c1.track", trJSON},
		{"health", "intersect.v1.s1.c1.health", enc(hl)},
		{"weather", "intersect.v1.s1.weather", enc(wx)},
		{"body kind differs from subject", "intersect.v1.s1.c1.nearmiss", trJSON},
		{"unknown subject kind", "intersect.v1.s1.c1.other", nmJSON},
		{"malformed", "intersect.v1.s1.c1.nearmiss", `{not json`},
		{"no schema", "intersect.v1.s1.c1.nearmiss", strings.Replace(nmJSON, `"schema":1,`, ``, 1)},
		{"future schema", "intersect.v1.s1.c1.nearmiss", strings.Replace(nmJSON, `"schema":1`, `"schema":2`, 1)},
		{"invalid field", "intersect.v1.s1.c1.nearmiss", strings.Replace(nmJSON, `"class_b":"pedestrian"`, `"class_b":"unicorn"`, 1)},
		{"wrong type", "intersect.v1.s1.c1.nearmiss", strings.Replace(nmJSON, `"track_a":1`, `"track_a":"one"`, 1)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			want, wantErr := events.Decode([]byte(tc.data))
			got, gotErr := decodeEvent(tc.subject, []byte(tc.data))
			if (wantErr == nil) != (gotErr == nil) || (wantErr != nil && wantErr.Error() != gotErr.Error()) {
				t.Fatalf("error %v, events.Decode says %v", gotErr, wantErr)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("decoded %#v, events.Decode gives %#v", got, want)
			}
		})
	}
}

func BenchmarkDecodeEvent(b *testing.B) {
	t0 := time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)
	ttc := 0.8
	nm := &events.NearMiss{
		Header: events.NewHeader(events.KindNearMiss, "s1", "c1", t0), TrackA: 1, ClassA: events.Car, TrackB: 2, ClassB: events.Pedestrian,
		Start: t0, End: t0.Add(time.Second), MinTTCS: &ttc, Type: events.RightTurnCrosswalk, Severity: events.Serious, Lat: 40, Lng: -111,
	}
	data, _ := events.Encode(nm)
	b.Run("events.Decode", func(b *testing.B) {
		for range b.N {
			if _, err := events.Decode(data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("one-pass", func(b *testing.B) {
		for range b.N {
			if _, err := decodeEvent("intersect.v1.s1.c1.nearmiss", data); err != nil {
				b.Fatal(err)
			}
		}
	})
}
