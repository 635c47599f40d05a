package ingest_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/intersect-oss/intersect/events"
	"github.com/intersect-oss/intersect/events/bus"
	"github.com/intersect-oss/intersect/events/bus/bustest"
	"github.com/intersect-oss/intersect/events/loadgen"
	"github.com/intersect-oss/intersect/ingest"
	"github.com/intersect-oss/intersect/internal/testenv"
	"github.com/intersect-oss/intersect/store"
)

// syncBuffer is a log sink shared by goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  []byte
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b = append(s.b, p...)
	return len(p), nil
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return string(s.b)
}

// pgCounts returns the rows and distinct IDs of the event tables.
func pgCounts(ctx context.Context, conn *pgx.Conn) (rows, distinct int64, err error) {
	err = conn.QueryRow(ctx, `SELECT count(*), count(DISTINCT id) FROM (
		SELECT id FROM near_misses UNION ALL SELECT id FROM track_summaries UNION ALL SELECT id FROM camera_health) AS e`).Scan(&rows, &distinct)
	return rows, distinct, err
}

// waitRows waits until PostgreSQL holds want distinct events, then checks
// that it holds no more rows than that.
func waitRows(t *testing.T, ctx context.Context, dsn string, want int64, within time.Duration) {
	t.Helper()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var rows, distinct int64
	waitFor(t, within, fmt.Sprintf("%d events in PostgreSQL", want), func() (bool, string) {
		rows, distinct, err = pgCounts(ctx, conn)
		if err != nil {
			return false, err.Error()
		}
		return distinct >= want, fmt.Sprintf("%d rows, %d distinct", rows, distinct)
	})
	// Give redeliveries of the tail a moment to show up if they would.
	time.Sleep(500 * time.Millisecond)
	if rows, distinct, err = pgCounts(ctx, conn); err != nil || rows != want || distinct != want {
		t.Fatalf("PostgreSQL holds %d rows, %d distinct IDs (err %v); want exactly %d of each", rows, distinct, err, want)
	}
}

func connectJS(t testing.TB, ctx context.Context, urls, name string) (*nats.Conn, jetstream.JetStream) {
	nc, err := bus.Connect(ctx, urls, name, quiet())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return nc, js
}

// TestClusterNodeLossExactlyOnce runs ingest against a 3-node cluster with
// R3 streams, publishes 100,000 loadgen events, shuts the events stream's
// leader down a third of the way through, and checks that every event is in
// PostgreSQL exactly once.
func TestClusterNodeLossExactlyOnce(t *testing.T) {
	total := 100_000
	if testing.Short() {
		total = 20_000
	}
	dsn := testenv.FreshPostgres(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cl, err := bus.StartCluster(ctx, bus.ClusterOptions{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Shutdown()
	seeds := cl.URLs()
	_, js := connectJS(t, ctx, seeds, "ingest")
	if err := bus.EnsureStreams(ctx, js, 3); err != nil {
		t.Fatal(err)
	}
	s, _ := js.Stream(ctx, events.EventsStream)
	if r := s.CachedInfo().Config.Replicas; r != 3 {
		t.Fatalf("events stream has %d replicas, want 3", r)
	}
	st, err := store.Open(ctx, dsn, "", quiet())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var logBuf syncBuffer
	in := ingest.New(js, st, ingest.Config{AckWait: 5 * time.Second}, slog.New(slog.NewTextHandler(&logBuf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	ictx, icancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- in.Run(ictx) }()
	defer func() { icancel(); <-done }()

	leader, err := cl.WaitStreamLeader(ctx, events.EventsStream)
	if err != nil {
		t.Fatal(err)
	}
	pubNC, _ := connectJS(t, ctx, seeds, "loadgen")
	gen, err := loadgen.NewGenerator(loadgen.Layout{Sites: 10, Cameras: 4, Seed: 11}, loadgen.DefaultMix)
	if err != nil {
		t.Fatal(err)
	}
	var acked atomic.Int64
	var killOnce sync.Once
	killed := make(chan time.Time, 1)
	start := time.Now()
	rep, err := loadgen.Run(ctx, pubNC, gen, loadgen.Options{Count: total, AckTimeout: 2 * time.Second, OnPublished: func(events.Event, *jetstream.PubAck) {
		if acked.Add(1) == int64(total/3) {
			killOnce.Do(func() {
				go func() {
					cl.Kill(leader)
					killed <- time.Now()
				}()
			})
		}
	}})
	if err != nil {
		t.Fatalf("loadgen: %v (report %s)", err, rep)
	}
	published := time.Since(start)
	select {
	case at := <-killed:
		t.Logf("killed stream leader n%d at %s", leader+1, at.Sub(start).Round(time.Millisecond))
	default:
		t.Fatal("the leader was never killed")
	}
	if rep.Events != int64(total) {
		t.Fatalf("loadgen acknowledged %d events, want %d", rep.Events, total)
	}
	defer func() {
		if t.Failed() {
			dctx, dcancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer dcancel()
			c, err := js.Consumer(dctx, events.EventsStream, "ingest")
			var info *jetstream.ConsumerInfo
			if err == nil {
				info, err = c.Info(dctx)
			}
			t.Logf("on failure: ingest %+v; consumer info %+v (err %v); ingest log:\n%s", in.Stats(), info, err, logBuf.String())
		}
	}()
	waitRows(t, ctx, dsn, int64(total), 2*time.Minute)
	newLeader := cl.StreamLeader(events.EventsStream)
	t.Logf("%d events: published in %s (%d retries, %d duplicates dropped by JetStream), all stored after %s; new leader n%d; ingest %+v",
		total, published.Round(time.Millisecond), rep.Retries, rep.Duplicates, time.Since(start).Round(time.Millisecond), newLeader+1, in.Stats())
	if newLeader == leader || newLeader < 0 {
		t.Errorf("stream leader after the kill is n%d", newLeader+1)
	}
}

// TestPostgresConnectionsKilled terminates ingest's PostgreSQL connections
// three times during a load: nothing is lost, nothing doubled, and the lag
// returns to zero.
func TestPostgresConnectionsKilled(t *testing.T) {
	const total = 30_000
	dsn := testenv.FreshPostgres(t)
	u, _ := url.Parse(dsn)
	app := fmt.Sprintf("intersect-ingest-%d", time.Now().UnixNano())
	q := u.Query()
	q.Set("application_name", app)
	u.RawQuery = q.Encode()
	ingestDSN := u.String()

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	js := bustest.Start(t).JS
	st, err := store.Open(ctx, ingestDSN, "", quiet())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	in := ingest.New(js, st, ingest.Config{BatchSize: 500, AckWait: 5 * time.Second}, quiet())
	ictx, icancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- in.Run(ictx) }()
	defer func() { icancel(); <-done }()

	admin, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	var terminated atomic.Int64
	killerDone := make(chan struct{})
	go func() {
		defer close(killerDone)
		for range 3 {
			time.Sleep(800 * time.Millisecond)
			var n int64
			if err := admin.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
				WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name = $1`, app).Scan(&n); err != nil {
				t.Errorf("terminating ingest's connections: %v", err)
				return
			}
			terminated.Add(n)
		}
	}()
	nc := js.Conn()
	gen, _ := loadgen.NewGenerator(loadgen.Layout{Sites: 5, Cameras: 4, Seed: 5}, loadgen.DefaultMix)
	if rep, err := loadgen.Run(ctx, nc, gen, loadgen.Options{Count: total, RatePerS: 8000}); err != nil || rep.Events != total {
		t.Fatalf("loadgen: %v, %d events", err, rep.Events)
	}
	<-killerDone
	waitRows(t, ctx, dsn, total, time.Minute)
	waitFor(t, 10*time.Second, "lag back to 0", func() (bool, string) {
		s := in.Stats()
		return s.Pending == 0 && s.Held == 0, fmt.Sprintf("%+v", s)
	})
	s := in.Stats()
	t.Logf("terminated %d ingest connections; ingest %+v", terminated.Load(), s)
	if terminated.Load() == 0 || s.WriteErrors == 0 {
		t.Errorf("the fault did not hit ingest: %d connections terminated, %d write errors", terminated.Load(), s.WriteErrors)
	}
}

// flakyWriter is a store that is down (every write fails) until up is set,
// and slow after that.
type flakyWriter struct {
	st    store.Store
	up    atomic.Bool
	delay time.Duration

	mu       sync.Mutex
	inserted map[string]int
}

func (w *flakyWriter) Write(ctx context.Context, b store.Batch) (store.WriteResult, error) {
	if !w.up.Load() {
		return store.WriteResult{}, errors.New("store down (test)")
	}
	time.Sleep(w.delay)
	res, err := w.st.Write(ctx, b)
	if err == nil {
		w.mu.Lock()
		for _, ev := range b.Events {
			w.inserted[ev.Head().ID]++
		}
		w.mu.Unlock()
	}
	return res, err
}

// TestBackpressureStoreDown keeps the store down while 20,000 events
// arrive: ingest holds no more than MaxAckPending messages, JetStream keeps
// the backlog, Stats reports the lag; when the store returns, every event
// is stored exactly once and the lag drains to zero.
func TestBackpressureStoreDown(t *testing.T) {
	const total = 20_000
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	js := bustest.Start(t).JS
	st := backends[0].open(t)
	defer st.Close()
	w := &flakyWriter{st: st, delay: 5 * time.Millisecond, inserted: map[string]int{}}
	cfg := ingest.Config{BatchSize: 250, MaxAckPending: 1000, AckWait: 2 * time.Second, MaxWait: 50 * time.Millisecond}
	in := ingest.New(js, w, cfg, quiet())
	ictx, icancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- in.Run(ictx) }()
	defer func() { icancel(); <-done }()

	gen, _ := loadgen.NewGenerator(loadgen.Layout{Sites: 2, Cameras: 2, Seed: 9}, loadgen.DefaultMix)
	if rep, err := loadgen.Run(ctx, js.Conn(), gen, loadgen.Options{Count: total}); err != nil || rep.Events != total {
		t.Fatalf("loadgen: %v, %d events", err, rep.Events)
	}
	// Down for 3 s (longer than AckWait, so InProgress must keep the
	// batches ours): the lag shows the backlog.
	waitFor(t, 5*time.Second, "lag reported", func() (bool, string) {
		s := in.Stats()
		return s.Pending >= total-int64(cfg.MaxAckPending), fmt.Sprintf("%+v", s)
	})
	cons, err := js.Consumer(ctx, events.EventsStream, "ingest")
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		info, err := cons.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if info.NumAckPending > cfg.MaxAckPending {
			t.Fatalf("%d messages in flight, MaxAckPending is %d", info.NumAckPending, cfg.MaxAckPending)
		}
		if s := in.Stats(); s.Held > int64(cfg.MaxAckPending) {
			t.Fatalf("ingest holds %d messages, MaxAckPending is %d", s.Held, cfg.MaxAckPending)
		}
	}
	s := in.Stats()
	if s.Inserted != 0 || s.WriteErrors == 0 {
		t.Fatalf("while the store was down: %+v", s)
	}
	w.up.Store(true)
	waitFor(t, 40*time.Second, "all events stored and the lag drained", func() (bool, string) {
		s := in.Stats()
		return s.Inserted == total && s.Pending == 0 && s.Held == 0, fmt.Sprintf("%+v", s)
	})
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.inserted) != total {
		t.Errorf("%d distinct events written, want %d", len(w.inserted), total)
	}
	s = in.Stats()
	t.Logf("after recovery: %+v", s)
	if s.MaxHeld > int64(cfg.MaxAckPending) {
		t.Errorf("ingest held up to %d messages, MaxAckPending is %d", s.MaxHeld, cfg.MaxAckPending)
	}
}
