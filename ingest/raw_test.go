package ingest_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/intersect-oss/intersect/events"
	"github.com/intersect-oss/intersect/events/bus"
	"github.com/intersect-oss/intersect/events/bus/bustest"
	"github.com/intersect-oss/intersect/ingest"
	"github.com/intersect-oss/intersect/store"
)

// fakeMsg is a fetched message with only what Decode reads.
type fakeMsg struct {
	jetstream.Msg
	subject string
	data    []byte
}

func (m fakeMsg) Subject() string      { return m.subject }
func (m fakeMsg) Data() []byte         { return m.data }
func (m fakeMsg) Headers() nats.Header { return nats.Header{} }
func (m fakeMsg) Metadata() (*jetstream.MsgMetadata, error) {
	return nil, errors.New("no metadata")
}

// TestDecodeKeepsRawBodies: every decoded event carries the message's own
// bytes as its raw body, aligned with Events past a dead-lettered message.
func TestDecodeKeepsRawBodies(t *testing.T) {
	t0 := time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)
	nm := nearMiss(1, t0)
	tr := &events.TrackSummary{Header: events.NewHeader(events.KindTrack, "demo", "cam-1", t0), Track: 3, Class: events.Pedestrian, Start: t0, End: t0.Add(time.Second), Frames: 15}
	enc := func(ev events.Event) []byte {
		data, err := events.Encode(ev)
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	msgs := []jetstream.Msg{
		fakeMsg{subject: events.Subject(nm), data: enc(nm)},
		fakeMsg{subject: "intersect.v1.demo.cam-1.nearmiss", data: []byte(`{not json`)},
		fakeMsg{subject: events.Subject(tr), data: enc(tr)},
	}
	b := ingest.Decode(msgs, quiet())
	if len(b.Events) != 2 || len(b.Dead) != 1 || len(b.Raw) != len(b.Events) {
		t.Fatalf("Decode: %d events, %d raw, %d dead; want 2, 2, 1", len(b.Events), len(b.Raw), len(b.Dead))
	}
	for i, want := range []jetstream.Msg{msgs[0], msgs[2]} {
		if b.Events[i].Head().ID != []string{nm.ID, tr.ID}[i] || !bytes.Equal(b.Raw[i], want.Data()) {
			t.Errorf("event %d: %s with raw %q, want its message's bytes %q", i, b.Events[i].Head().ID, b.Raw[i], want.Data())
		}
	}
}

// TestIngestStoresStampedWeather: a near miss whose weather ingest fills is
// stored with that weather in its body too (its raw bytes, which lack it,
// must not be used), while one that arrived with weather keeps its own.
func TestIngestStoresStampedWeather(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			js := bustest.Start(t).JS
			st := be.open(t)
			defer st.Close()
			t0 := time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)
			// Stored before ingest starts, so the stamper finds it in the
			// store whichever writer handles the near misses.
			wx := &events.WeatherObservation{Header: events.NewHeader(events.KindWeather, "demo", "", t0), Condition: events.Snow, Source: "manual"}
			if _, err := st.Write(ctx, store.Batch{Events: []events.Event{wx}}); err != nil {
				t.Fatal(err)
			}
			in := ingest.New(js, st, ingest.Config{MaxWait: 50 * time.Millisecond}, quiet())
			done := make(chan error, 1)
			go func() { done <- in.Run(ctx) }()
			stamped, own := nearMiss(1, t0), nearMiss(2, t0)
			own.Weather = "fog"
			for _, ev := range []events.Event{stamped, own} {
				if _, err := bus.Publish(ctx, js, ev); err != nil {
					t.Fatal(err)
				}
			}
			waitFor(t, 10*time.Second, "2 near misses stored", func() (bool, string) {
				s := in.Stats()
				return s.Inserted == 2, fmt.Sprintf("%+v", s)
			})
			for _, c := range []struct {
				id, want string
			}{{stamped.ID, "snow"}, {own.ID, "fog"}} {
				got, err := st.NearMiss(ctx, c.id)
				if err != nil {
					t.Fatal(err)
				}
				if got.Weather != c.want {
					t.Errorf("near miss %s body has weather %q, want %q", c.id, got.Weather, c.want)
				}
				page, err := st.NearMisses(ctx, store.NearMissQuery{Filter: store.Filter{Weather: c.want}})
				if err != nil || len(page.Items) != 1 || page.Items[0].ID != c.id {
					t.Errorf("filter weather %q = %+v, %v; want %s", c.want, page.Items, err, c.id)
				}
			}
			cancel()
			if err := <-done; err != nil {
				t.Fatalf("Run: %v", err)
			}
		})
	}
}
