package ingest_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/intersect-oss/intersect/events"
	"github.com/intersect-oss/intersect/ingest"
	"github.com/intersect-oss/intersect/store"
)

// BenchmarkIngest measures publish → committed row: N near misses are
// published to JetStream while ingest runs, and the clock stops when the
// store holds all of them. Reported as events/s for each backend.
func BenchmarkIngest(b *testing.B) {
	const perIter = 50000
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var total time.Duration
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				js := startBus(b)
				st := be.open(b)
				evs := make([][]byte, perIter)
				subjects := make([]string, perIter)
				ids := make([]string, perIter)
				t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
				for j := range evs {
					ev := nearMiss(j, t0)
					evs[j], _ = events.Encode(ev)
					subjects[j], ids[j] = events.Subject(ev), ev.ID
				}
				in := ingest.New(js, st, ingest.Config{}, quiet())
				ictx, icancel := context.WithCancel(ctx)
				done := make(chan error, 1)
				b.StartTimer()
				start := time.Now()
				go func() { done <- in.Run(ictx) }()
				for j := range evs {
					if _, err := js.PublishAsync(subjects[j], evs[j], jetstream.WithMsgID(ids[j])); err != nil {
						b.Fatal(err)
					}
				}
				<-js.PublishAsyncComplete()
				for in.Stats().Inserted < perIter {
					time.Sleep(5 * time.Millisecond)
				}
				total += time.Since(start)
				b.StopTimer()
				icancel()
				<-done
				res, err := st.Stats(ctx, store.StatsQuery{By: store.BySeverity})
				if err != nil {
					b.Fatal(err)
				}
				var n int64
				for _, g := range res.Groups {
					n += g.Count
				}
				if n != perIter {
					b.Fatalf("store holds %d rows, want %d", n, perIter)
				}
				st.Close()
			}
			b.ReportMetric(float64(perIter*b.N)/total.Seconds(), "events/s")
		})
	}
}
