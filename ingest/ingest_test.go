package ingest_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/intersect-oss/intersect/events"
	"github.com/intersect-oss/intersect/events/bus"
	"github.com/intersect-oss/intersect/events/bus/bustest"
	"github.com/intersect-oss/intersect/ingest"
	"github.com/intersect-oss/intersect/internal/testenv"
	"github.com/intersect-oss/intersect/store"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// backends opens each store backend the contract runs against.
var backends = []struct {
	name string
	open func(t testing.TB) store.Store
}{
	{"sqlite", func(t testing.TB) store.Store {
		st, err := store.Open(context.Background(), "", t.TempDir(), quiet())
		if err != nil {
			t.Fatal(err)
		}
		return st
	}},
	{"postgres", func(t testing.TB) store.Store {
		st, err := store.Open(context.Background(), testenv.FreshPostgres(t), "", quiet())
		if err != nil {
			t.Fatal(err)
		}
		return st
	}},
}

func nearMiss(i int, t0 time.Time) *events.NearMiss {
	ttc := 0.4 + float64(i%10)/10
	return &events.NearMiss{
		Header: events.NewHeader(events.KindNearMiss, "demo", "cam-1", t0.Add(time.Duration(i)*time.Second)),
		TrackA: int64(2 * i), ClassA: events.Car, TrackB: int64(2*i + 1), ClassB: events.Pedestrian,
		Start: t0, End: t0.Add(time.Duration(i+1) * time.Second), MinTTCS: &ttc,
		MinDistanceM: 1, SpeedAMPS: 5, SpeedBMPS: 1.4, AngleDeg: 90,
		Type: events.RightTurnCrosswalk, Severity: events.Serious, Lat: 40.0 + float64(i)*1e-6, Lng: -111.9,
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, d time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(d)
	var last string
	for time.Now().Before(deadline) {
		ok, state := cond()
		if ok {
			return
		}
		last = state
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("timed out after %s waiting for %s (last: %s)", d, what, last)
}

func TestIngestDedupesAndDeadLetters(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			js := bustest.Start(t).JS
			st := be.open(t)
			defer st.Close()
			in := ingest.New(js, st, ingest.Config{MaxWait: 50 * time.Millisecond}, quiet())
			done := make(chan error, 1)
			go func() { done <- in.Run(ctx) }()

			t0 := time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)
			var ids []string
			for i := 0; i < 20; i++ {
				ev := nearMiss(i, t0)
				ids = append(ids, ev.ID)
				if _, err := bus.Publish(ctx, js, ev); err != nil {
					t.Fatal(err)
				}
			}
			// The same event again, with a different message ID so that
			// JetStream's dedupe does not catch it: the store must.
			dup := nearMiss(0, t0)
			dup.ID = ids[0]
			data, _ := events.Encode(dup)
			if _, err := js.Publish(ctx, events.Subject(dup), data, jetstream.WithMsgID("other-"+dup.ID)); err != nil {
				t.Fatal(err)
			}
			// Malformed and unknown-schema messages are dead-lettered, and
			// the consumer keeps going.
			for _, bad := range []string{`{not json`, `{"schema":99,"kind":"nearmiss"}`} {
				if _, err := js.Publish(ctx, "intersect.v1.demo.cam-1.nearmiss", []byte(bad)); err != nil {
					t.Fatal(err)
				}
			}
			after := nearMiss(21, t0)
			if _, err := bus.Publish(ctx, js, after); err != nil {
				t.Fatal(err)
			}

			waitFor(t, 10*time.Second, "21 rows and 2 dead letters", func() (bool, string) {
				page, err := st.NearMisses(ctx, store.NearMissQuery{Filter: store.Filter{Site: "demo"}, Limit: 100})
				if err != nil {
					return false, err.Error()
				}
				dl, err := st.DeadLetters(ctx, 10)
				if err != nil {
					return false, err.Error()
				}
				return len(page.Items) == 21 && len(dl) == 2, fmt.Sprintf("%d rows, %d dead letters", len(page.Items), len(dl))
			})
			s := in.Stats()
			if s.Duplicates != 1 || s.DeadLetters != 2 {
				t.Errorf("stats = %+v, want 1 duplicate and 2 dead letters", s)
			}
			dl, _ := st.DeadLetters(ctx, 10)
			for _, d := range dl {
				if d.Reason == "" || d.Subject != "intersect.v1.demo.cam-1.nearmiss" {
					t.Errorf("dead letter without reason or subject: %+v", d)
				}
			}
			cancel()
			if err := <-done; err != nil {
				t.Fatalf("Run: %v", err)
			}
		})
	}
}
