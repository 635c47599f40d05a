package store_test

import (
	"context"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/intersect-oss/intersect/events"
	"github.com/intersect-oss/intersect/events/loadgen"
	"github.com/intersect-oss/intersect/store"
	"github.com/intersect-oss/intersect/store/storetest"
)

const benchBatch = 500

// benchBatches builds n batches of benchBatch synthetic near misses.
func benchBatches(n int) [][]events.Event {
	rng := rand.New(rand.NewPCG(42, 42))
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	out := make([][]events.Event, n)
	for i := range out {
		out[i] = make([]events.Event, benchBatch)
		for j := range out[i] {
			at := start.Add(time.Duration(rng.Int64N(int64(60 * 24 * time.Hour))))
			out[i][j] = storetest.Synthetic(rng, storetest.SynthSites[j%3], storetest.SynthCameras[j%2], at)
		}
	}
	return out
}

// benchWrite writes b.N batches of 500 near misses and reports events/s.
// With overlap, every batch after the first repeats one event of the
// previous batch, as a redelivery after a lost ack would.
func benchWrite(b *testing.B, s store.Store, overlap bool) {
	ctx := context.Background()
	batches := benchBatches(b.N)
	if overlap {
		for i := 1; i < len(batches); i++ {
			batches[i][0] = batches[i-1][1]
		}
	}
	b.ResetTimer()
	for i := range b.N {
		res, err := s.Write(ctx, store.Batch{Events: batches[i]})
		if err != nil {
			b.Fatal(err)
		}
		if want := benchBatch - min(i, btoi(overlap)); res.Inserted != want {
			b.Fatalf("inserted %d of %d", res.Inserted, want)
		}
	}
	b.ReportMetric(float64(b.N*benchBatch)/b.Elapsed().Seconds(), "events/s")
}

// benchWriteMix writes b.N batches of 1,000 events of the realistic mix
// (loadgen: 80 % track summaries, 19 % health, a few near misses) and
// reports events/s. With raw, each batch carries the events' encoded JSON
// in Batch.Raw, as ingest passes the message bytes; without, the store
// encodes every body itself.
func benchWriteMix(b *testing.B, s store.Store, raw bool) {
	const size = 1000
	ctx := context.Background()
	g, err := loadgen.NewGenerator(loadgen.Layout{Sites: 20, Cameras: 4, Start: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Seed: 5}, loadgen.DefaultMix)
	if err != nil {
		b.Fatal(err)
	}
	batches := make([]store.Batch, b.N)
	for i := range batches {
		for range size {
			ev := g.Next()
			batches[i].Events = append(batches[i].Events, ev)
			if raw {
				data, err := events.Encode(ev)
				if err != nil {
					b.Fatal(err)
				}
				batches[i].Raw = append(batches[i].Raw, data)
			}
		}
	}
	b.ResetTimer()
	for i := range b.N {
		res, err := s.Write(ctx, batches[i])
		if err != nil {
			b.Fatal(err)
		}
		if res.Inserted != size {
			b.Fatalf("inserted %d of %d", res.Inserted, size)
		}
	}
	b.ReportMetric(float64(b.N*size)/b.Elapsed().Seconds(), "events/s")
}

// benchRows is how many near misses the query benchmarks seed
// (INTERSECT_BENCH_ROWS, default 100,000; the API's targets are stated for
// 1,000,000).
func benchRows(b *testing.B) int {
	if v := os.Getenv("INTERSECT_BENCH_ROWS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			b.Fatalf("INTERSECT_BENCH_ROWS=%q is not a positive integer", v)
		}
		return n
	}
	return 100_000
}

// benchQueries seeds s and times the queries the API serves most.
func benchQueries(b *testing.B, s store.Store) {
	ctx := context.Background()
	n := benchRows(b)
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	t0 := time.Now()
	if err := storetest.Seed(ctx, s, n, rand.New(rand.NewPCG(7, 7)), start); err != nil {
		b.Fatal(err)
	}
	b.Logf("seeded %d near misses in %s (%.0f events/s)", n, time.Since(t0).Round(time.Millisecond), float64(n)/time.Since(t0).Seconds())
	site := storetest.SynthSites[0]
	month := store.Filter{Site: site, From: start.AddDate(0, 1, 0), To: start.AddDate(0, 2, 0)}
	b.Run("heatmap-site-month-L20", func(b *testing.B) {
		for range b.N {
			if _, err := s.Heatmap(ctx, store.HeatmapQuery{Filter: month, Level: 20}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("page-filtered", func(b *testing.B) {
		f := store.Filter{Site: site, Severities: []events.Severity{events.Critical, events.Serious}, MaxTTCS: ptr(1.0)}
		for range b.N {
			if _, err := s.NearMisses(ctx, store.NearMissQuery{Filter: f, Limit: 100}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("stats-hour-site", func(b *testing.B) {
		for range b.N {
			if _, err := s.Stats(ctx, store.StatsQuery{Filter: store.Filter{Site: site}, By: store.ByHour, TZ: time.UTC}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("export-all", func(b *testing.B) {
		rows := 0
		for range b.N {
			if err := s.ExportNearMisses(ctx, store.NearMissQuery{}, func(*events.NearMiss) error { rows++; return nil }); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
	})
}

func ptr(v float64) *float64 { return &v }

func btoi(v bool) int {
	if v {
		return 1
	}
	return 0
}
