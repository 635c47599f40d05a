package store_test

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/intersect-oss/intersect/events"
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
func benchWrite(b *testing.B, s store.Store) {
	ctx := context.Background()
	batches := benchBatches(b.N)
	b.ResetTimer()
	for i := range b.N {
		res, err := s.Write(ctx, store.Batch{Events: batches[i]})
		if err != nil {
			b.Fatal(err)
		}
		if res.Inserted != benchBatch {
			b.Fatalf("inserted %d of %d", res.Inserted, benchBatch)
		}
	}
	b.ReportMetric(float64(b.N*benchBatch)/b.Elapsed().Seconds(), "events/s")
}
