package live

import (
	"context"
	"crypto/ed25519"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/intersect-oss/intersect/events"
	"github.com/intersect-oss/intersect/events/bus/bustest"
	"github.com/intersect-oss/intersect/store"
)

// BenchmarkHistoryAdd is the window's intake: events/s a consumer can
// file (half of them cars, which are dropped), with the pruning an
// evaluation does every 10,000 events.
func BenchmarkHistoryAdd(b *testing.B) {
	now := time.Now()
	evs := make([]events.Event, 20_000)
	for i := range evs {
		at := now.Add(-time.Duration(i) * time.Second)
		if i%2 == 0 {
			evs[i] = track(at, events.Pedestrian, "crosswalk-east")
		} else {
			evs[i] = track(at, events.Car, "")
		}
	}
	b.ResetTimer()
	n := 0
	for b.Loop() {
		h := newHistory(7*24*time.Hour, 200_000)
		for i, ev := range evs {
			h.add(ev, now)
			if i%10_000 == 0 {
				h.prune(now)
			}
		}
		n += len(evs)
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkEvaluate is one live evaluation over a busy week at one
// intersection (50,000 crossings, 2,000 near misses in the window): the
// store read of the recommendations, the controller state, the rules and
// the envelope checks.
func BenchmarkEvaluate(b *testing.B) {
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	js := bustest.Start(b).JS
	st, err := store.Open(ctx, "", b.TempDir(), log)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	_, key, _ := ed25519.GenerateKey(nil)
	plan := demoPlan(b)
	a, err := NewAdvisor(js, st, plan, key, Config{}, log)
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	for i := range 50_000 {
		a.hist.add(track(now.Add(-time.Duration(i)*10*time.Second), events.Pedestrian, "crosswalk-east"), now)
	}
	for i := range 2_000 {
		n := nm(now.Add(-time.Duration(i) * 5 * time.Minute))
		n.Approach, n.Zone = "NB", "crosswalk-east"
		a.hist.add(n, now)
	}
	if _, err := a.Evaluate(ctx); err != nil { // proposes the LPI once
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := a.Evaluate(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "evaluations/s")
}
