package bus

import (
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/intersect-oss/intersect/events"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestPublishDedupesAndSurvivesRestart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dir := t.TempDir()
	srv, err := StartServer(ctx, ServerOptions{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	nc, err := Connect(ctx, srv.ClientURL(), "test", quiet())
	if err != nil {
		t.Fatal(err)
	}
	js, _ := jetstream.New(nc)
	if err := EnsureStreams(ctx, js, 1); err != nil {
		t.Fatal(err)
	}
	// Twice: declaring must be idempotent.
	if err := EnsureStreams(ctx, js, 1); err != nil {
		t.Fatalf("second EnsureStreams: %v", err)
	}
	ev := &events.CameraHealth{Header: events.NewHeader(events.KindHealth, "s", "c", time.Now()), Status: events.CameraOK, Detector: "motion"}
	a1, err := Publish(ctx, js, ev)
	if err != nil {
		t.Fatal(err)
	}
	a2, err := Publish(ctx, js, ev)
	if err != nil {
		t.Fatal(err)
	}
	if a1.Duplicate || !a2.Duplicate {
		t.Fatalf("duplicate flags = %v, %v; want false, true", a1.Duplicate, a2.Duplicate)
	}
	nc.Close()
	srv.Shutdown()

	srv, err = StartServer(ctx, ServerOptions{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	nc, err = Connect(ctx, srv.ClientURL(), "test", quiet())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ = jetstream.New(nc)
	st, err := js.Stream(ctx, events.EventsStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 1 {
		t.Fatalf("stream holds %d messages after restart, want 1", info.State.Msgs)
	}
}

func TestPublishRejectsInvalid(t *testing.T) {
	ev := &events.CameraHealth{Header: events.NewHeader(events.KindHealth, "Bad Site", "c", time.Now()), Status: events.CameraOK}
	if _, err := Publish(context.Background(), nil, ev); err == nil || !strings.Contains(err.Error(), "must match") {
		t.Fatalf("Publish invalid = %v", err)
	}
}

func TestPortInUse(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	_, err = StartServer(context.Background(), ServerOptions{DataDir: t.TempDir(), Port: port})
	if err == nil || !strings.Contains(err.Error(), "not available") {
		t.Fatalf("StartServer on a busy port = %v", err)
	}
}
