package ingest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/intersect-oss/intersect/events"
	"github.com/intersect-oss/intersect/events/bus"
	"github.com/intersect-oss/intersect/events/bus/bustest"
	"github.com/intersect-oss/intersect/events/loadgen"
	"github.com/intersect-oss/intersect/ingest"
	"github.com/intersect-oss/intersect/internal/testenv"
	"github.com/intersect-oss/intersect/store"
)

// benchEvents returns n encoded events: near misses only ("nearmiss", the
// rows a bare CopyFrom can be compared with) or the realistic loadgen mix
// ("mix": 80 % track summaries, 19 % health, 0.2 % near misses).
func benchEvents(tb testing.TB, mix string, n int) []events.Event {
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	out := make([]events.Event, n)
	if mix == "nearmiss" {
		for j := range out {
			out[j] = nearMiss(j, t0)
		}
		return out
	}
	g, err := loadgen.NewGenerator(loadgen.Layout{Sites: 20, Cameras: 4, Start: t0, Seed: 3}, loadgen.DefaultMix)
	if err != nil {
		tb.Fatal(err)
	}
	for j := range out {
		out[j] = g.Next()
	}
	return out
}

// preload publishes evs to the events stream and waits for every ack.
func preload(tb testing.TB, js jetstream.JetStream, evs []events.Event) {
	ctx := context.Background()
	for start := 0; start < len(evs); start += 2000 {
		for _, ev := range evs[start:min(start+2000, len(evs))] {
			data, err := events.Encode(ev)
			if err != nil {
				tb.Fatal(err)
			}
			if _, err := js.PublishAsync(events.Subject(ev), data, jetstream.WithMsgID(ev.Head().ID)); err != nil {
				tb.Fatal(err)
			}
		}
		select {
		case <-js.PublishAsyncComplete():
		case <-time.After(30 * time.Second):
			tb.Fatal("preload: acks did not arrive within 30 s")
		}
		_ = ctx
	}
}

// BenchmarkIngest measures sustained ingest: a backlog of events sits in
// JetStream, ingest drains it into the store with ack after commit, and the
// clock stops when the last row is committed. Reported as events/s per
// backend and mix.
func BenchmarkIngest(b *testing.B) {
	const perIter = 50000
	for _, be := range backends {
		for _, mix := range []string{"nearmiss", "mix"} {
			b.Run(be.name+"/"+mix, func(b *testing.B) {
				evs := benchEvents(b, mix, perIter)
				var total, cpu time.Duration
				for range b.N {
					d, c := drainOnce(b, be.open(b), evs, ingest.Config{})
					total, cpu = total+d, cpu+c
				}
				b.ReportMetric(float64(perIter*b.N)/total.Seconds(), "events/s")
				// CPU of this process (ingest, the in-process NATS server and
				// SQLite when it is the backend) per event while draining.
				b.ReportMetric(float64(cpu.Microseconds())/float64(perIter*b.N), "proc-cpu-µs/event")
			})
		}
	}
}

// processCPU is the user+system CPU time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// drainOnce preloads evs, runs ingest until all are stored and returns how
// long that took and the process CPU time it used.
func drainOnce(b *testing.B, st store.Store, evs []events.Event, cfg ingest.Config) (time.Duration, time.Duration) {
	b.StopTimer()
	defer st.Close()
	js := bustest.Start(b).JS
	preload(b, js, evs)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	in := ingest.New(js, st, cfg, quiet())
	done := make(chan error, 1)
	b.StartTimer()
	start, cpu0 := time.Now(), processCPU()
	go func() { done <- in.Run(ctx) }()
	for in.Stats().Inserted < int64(len(evs)) {
		time.Sleep(2 * time.Millisecond)
	}
	d, cpu := time.Since(start), processCPU()-cpu0
	b.StopTimer()
	cancel()
	<-done
	if s := in.Stats(); s.Inserted != int64(len(evs)) || s.DeadLetters != 0 {
		b.Fatalf("stats %+v, want %d inserted and no dead letters", s, len(evs))
	}
	return d, cpu
}

// BenchmarkCopyFromBaseline is the ceiling ingest is compared with: the
// same near-miss rows (same columns, same S2 cell, same JSON body) copied
// with one bare pgx CopyFrom per 1,000 rows straight into near_misses, with
// no NATS, no decoding and no dedupe.
func BenchmarkCopyFromBaseline(b *testing.B) {
	const perIter = 50000
	evs := benchEvents(b, "nearmiss", perIter)
	rows := make([][]any, len(evs))
	for i, ev := range evs {
		e := ev.(*events.NearMiss)
		body, _ := json.Marshal(e)
		rows[i] = []any{e.ID, e.Site, e.Camera, e.Time, string(e.Type), string(e.Severity), e.Severity.Weight(),
			string(e.ClassA), string(e.ClassB), e.MinTTCS, e.PETS, e.MaxDRACMPS2, e.MinDistanceM,
			e.Weather, e.Zone, e.Approach, e.Movement, e.Lat, e.Lng, store.CellKey(store.LeafCell(e.Lat, e.Lng)), string(body)}
	}
	cols := []string{"id", "site", "camera", "ts", "type", "severity", "weight", "class_a", "class_b", "min_ttc_s", "pet_s",
		"max_drac_mps2", "min_distance_m", "weather", "zone", "approach", "movement", "lat", "lng", "cell", "body"}
	var total time.Duration
	for range b.N {
		b.StopTimer()
		ctx := context.Background()
		dsn := testenv.FreshPostgres(b)
		st, err := store.Open(ctx, dsn, "", quiet()) // the schema, migrated
		if err != nil {
			b.Fatal(err)
		}
		// The month's partition, as the store would create it.
		if _, err := st.Write(ctx, store.Batch{Events: evs[:1]}); err != nil {
			b.Fatal(err)
		}
		st.Close()
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := conn.Exec(ctx, "TRUNCATE near_misses"); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		for i := 0; i < len(rows); i += 1000 {
			if _, err := conn.CopyFrom(ctx, pgx.Identifier{"near_misses"}, cols, pgx.CopyFromRows(rows[i:min(i+1000, len(rows))])); err != nil {
				b.Fatal(err)
			}
		}
		total += time.Since(start)
		b.StopTimer()
		conn.Close(ctx)
	}
	b.ReportMetric(float64(perIter*b.N)/total.Seconds(), "events/s")
}

// BenchmarkIngestMemoryBacklog shows that ingest's memory does not grow
// with the backlog: it drains a backlog of 1× and 10× the in-flight window
// ×5 (MaxAckPending) from a NATS server in a child process (so the server's
// caches are not in this heap) into SQLite, and reports the peak growth of
// the heap in use over the heap before ingest started, and the peak number
// of messages ingest held, sampled every 5 ms.
func BenchmarkIngestMemoryBacklog(b *testing.B) {
	cfg := ingest.Config{BatchSize: 500, Writers: 2}
	window := 4 * cfg.BatchSize
	for _, factor := range []int{1, 10} {
		b.Run(fmt.Sprintf("backlog=%dx", factor), func(b *testing.B) {
			n := factor * window * 5
			for range b.N {
				b.StopTimer()
				st := backends[0].open(b)
				_, js := connectJS(b, context.Background(), startChildServer(b), "bench")
				if err := bus.EnsureStreams(context.Background(), js, 1); err != nil {
					b.Fatal(err)
				}
				preload(b, js, benchEvents(b, "nearmiss", n))
				runtime.GC()
				var base runtime.MemStats
				runtime.ReadMemStats(&base)
				ctx, cancel := context.WithCancel(context.Background())
				in := ingest.New(js, st, cfg, quiet())
				done := make(chan error, 1)
				b.StartTimer()
				go func() { done <- in.Run(ctx) }()
				var peak uint64
				for in.Stats().Inserted < int64(n) {
					var m runtime.MemStats
					runtime.ReadMemStats(&m)
					peak = max(peak, m.HeapInuse-min(m.HeapInuse, base.HeapInuse))
					time.Sleep(5 * time.Millisecond)
				}
				b.StopTimer()
				cancel()
				<-done
				st.Close()
				b.ReportMetric(float64(peak)/(1<<20), "peak-heap-growth-MB")
				b.ReportMetric(float64(in.Stats().MaxHeld), "max-held-msgs")
				b.ReportMetric(float64(n), "backlog-msgs")
			}
		})
	}
}

// BenchmarkRowBytes stores 20,000 near misses and 50,000 events of the
// realistic mix in PostgreSQL and reports the bytes each row takes per
// table, indexes and TOAST included (pg_total_relation_size), for the
// capacity model in docs/capacity.md.
func BenchmarkRowBytes(b *testing.B) {
	ctx := context.Background()
	for range b.N {
		dsn := testenv.FreshPostgres(b)
		st, err := store.Open(ctx, dsn, "", quiet())
		if err != nil {
			b.Fatal(err)
		}
		for _, mix := range []struct {
			name string
			n    int
		}{{"nearmiss", 20000}, {"mix", 50000}} {
			evs := benchEvents(b, mix.name, mix.n)
			for i := 0; i < len(evs); i += 1000 {
				if _, err := st.Write(ctx, store.Batch{Events: evs[i:min(i+1000, len(evs))]}); err != nil {
					b.Fatal(err)
				}
			}
		}
		st.Close()
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := conn.Exec(ctx, "VACUUM ANALYZE"); err != nil {
			b.Fatal(err)
		}
		for _, tc := range []struct{ table, metric string }{
			{"near_misses", "B/nearmiss"}, {"track_summaries", "B/track"}, {"camera_health", "B/health"},
		} {
			// Partitions are separate relations: sum them.
			var bytes, rows int64
			err := conn.QueryRow(ctx, `SELECT COALESCE(sum(pg_total_relation_size(c.oid)), 0),
				(SELECT count(*) FROM `+tc.table+`)
				FROM pg_class c WHERE c.relkind = 'r' AND c.relnamespace = current_schema()::regnamespace
				AND (c.relname = $1 OR c.relname LIKE $1 || '\_%')`, tc.table).Scan(&bytes, &rows)
			if err != nil {
				b.Fatal(err)
			}
			if rows == 0 {
				b.Fatalf("%s is empty", tc.table)
			}
			b.ReportMetric(float64(bytes)/float64(rows), tc.metric)
		}
		conn.Close(ctx)
	}
}
