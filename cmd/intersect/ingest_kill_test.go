package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/intersect-oss/intersect/events"
	"github.com/intersect-oss/intersect/events/bus/bustest"
	"github.com/intersect-oss/intersect/internal/testenv"
	"github.com/intersect-oss/intersect/store"
)

// TestIngestSurvivesSIGKILL publishes 50,000 events, kills `intersect
// ingest` with SIGKILL while it is writing them, restarts it, and checks that
// exactly 50,000 rows end up in the store: nothing lost, nothing doubled.
func TestIngestSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("process test; skipped with -short")
	}
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			dsn := ""
			if backend == "postgres" {
				dsn = testenv.FreshPostgres(t)
			}
			testIngestSurvivesSIGKILL(t, dsn)
		})
	}
}

func testIngestSurvivesSIGKILL(t *testing.T, dsn string) {
	const total = 50000
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	nb := bustest.Start(t)
	srv, js := nb.Server, nb.JS
	if err := publishNearMisses(ctx, js, total); err != nil {
		t.Fatal(err)
	}

	dataDir := t.TempDir()
	start := func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], "ingest", "--nats", srv.ClientURL(), "--insecure", "--db", dsn,
			"--data-dir", dataDir, "--batch", "500", "--ack-wait", "2s")
		cmd.Env = append(os.Environ(), "INTERSECT_RUN_MAIN=1", "INTERSECT_LOG=warn")
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	// Open our own view of the store only after the first ingest process
	// has migrated it.
	var st store.Store
	count := func() int64 {
		if st == nil {
			var err error
			if st, err = store.Open(ctx, dsn, dataDir, log); err != nil {
				return -1
			}
		}
		res, err := st.Stats(ctx, store.StatsQuery{By: store.BySeverity})
		if err != nil {
			return -1
		}
		var n int64
		for _, g := range res.Groups {
			n += g.Count
		}
		return n
	}
	defer func() {
		if st != nil {
			st.Close()
		}
	}()

	first := start()
	deadline := time.Now().Add(2 * time.Minute)
	for n := count(); n < total/5; n = count() {
		if time.Now().After(deadline) {
			first.Process.Kill()
			t.Fatalf("ingest wrote only %d rows in 2 minutes", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = first.Wait()
	killedAt := count()
	t.Logf("killed ingest with %d of %d rows committed", killedAt, total)
	if killedAt >= total {
		t.Fatalf("ingest finished before the kill (%d rows); the test proves nothing", killedAt)
	}

	second := start()
	defer func() {
		second.Process.Signal(syscall.SIGTERM)
		_ = second.Wait()
	}()
	deadline = time.Now().Add(2 * time.Minute)
	for n := count(); n != total; n = count() {
		if n > total {
			t.Fatalf("%d rows, more than the %d published", n, total)
		}
		if time.Now().After(deadline) {
			t.Fatalf("after restart: %d rows, want %d", n, total)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Redeliveries of the killed batch arrive after the ack wait; give
	// them time to show up as duplicates, not rows.
	time.Sleep(3 * time.Second)
	if n := count(); n != total {
		t.Fatalf("after redelivery: %d rows, want exactly %d", n, total)
	}
}

// publishNearMisses publishes n distinct near misses with async publish.
func publishNearMisses(ctx context.Context, js jetstream.JetStream, n int) error {
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	ttc := 1.1
	for i := 0; i < n; i++ {
		ev := &events.NearMiss{
			Header: events.NewHeader(events.KindNearMiss, "load", fmt.Sprintf("cam-%d", i%4), t0.Add(time.Duration(i)*time.Second)),
			TrackA: int64(2 * i), ClassA: events.Car, TrackB: int64(2*i + 1), ClassB: events.Pedestrian,
			Start: t0, End: t0.Add(time.Duration(i+1) * time.Second), MinTTCS: &ttc,
			Type: events.ThroughCrosswalk, Severity: events.Minor, Lat: 40, Lng: -111.9,
		}
		data, err := events.Encode(ev)
		if err != nil {
			return err
		}
		if _, err := js.PublishAsync(events.Subject(ev), data, jetstream.WithMsgID(ev.ID)); err != nil {
			return fmt.Errorf("publishing event %d: %w", i, err)
		}
		if i%5000 == 4999 {
			select {
			case <-js.PublishAsyncComplete():
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	select {
	case <-js.PublishAsyncComplete():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
