// Package bus carries events over NATS JetStream: it starts the embedded
// server used by the zero-setup default and by tests, connects clients,
// declares the streams and the snapshot bucket idempotently, and publishes
// events with their ID as Nats-Msg-Id so that a retry is a duplicate the
// stream drops.
package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/intersect-oss/intersect/events"
)

// DedupeWindow is how long JetStream remembers message IDs. DESIGN.md asks
// for at least two minutes; a longer window costs memory per message, so
// keep it a little above the outbox's typical replay after a short outage.
const DedupeWindow = 5 * time.Minute

// ServerOptions configures an embedded NATS server.
type ServerOptions struct {
	// DataDir holds JetStream's file storage (DataDir/jetstream). Required.
	DataDir string
	// Host defaults to 127.0.0.1: the embedded server is for this machine.
	Host string
	// Port 0 picks a free port, so the embedded server never depends on
	// 4222 (or any fixed port) being free.
	Port int
	// Name is the server name; it must stay the same across restarts for
	// JetStream to find its own data.
	Name string
	// Configure, if set, can adjust the options before start (accounts,
	// TLS, leaf nodes, clustering).
	Configure func(*server.Options) error
}

// Server is an embedded NATS server with JetStream.
type Server struct {
	ns *server.Server
}

// StartServer starts an embedded NATS server with JetStream and waits until
// it accepts connections.
func StartServer(ctx context.Context, o ServerOptions) (*Server, error) {
	if o.DataDir == "" {
		return nil, errors.New("embedded NATS: a data directory is required")
	}
	storeDir := filepath.Join(o.DataDir, "jetstream")
	if err := os.MkdirAll(storeDir, 0o750); err != nil {
		return nil, fmt.Errorf("embedded NATS: creating %s: %w", storeDir, err)
	}
	if o.Host == "" {
		o.Host = "127.0.0.1"
	}
	port := o.Port
	if port == 0 {
		port = server.RANDOM_PORT
	}
	if o.Name == "" {
		o.Name = "intersect-embedded"
	}
	opts := &server.Options{
		ServerName: o.Name,
		Host:       o.Host,
		Port:       port,
		JetStream:  true,
		StoreDir:   storeDir,
		NoSigs:     true, // the process owns signal handling
		NoLog:      true,
	}
	if o.Configure != nil {
		if err := o.Configure(opts); err != nil {
			return nil, fmt.Errorf("embedded NATS: configuring: %w", err)
		}
	}
	if o.Port > 0 {
		// Say which port is taken, in words, rather than letting the
		// server fail later with a generic readiness timeout.
		l, err := net.Listen("tcp", net.JoinHostPort(o.Host, strconv.Itoa(o.Port)))
		if err != nil {
			return nil, fmt.Errorf("embedded NATS: port %d on %s is not available: %w", o.Port, o.Host, err)
		}
		l.Close()
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("embedded NATS: %w", err)
	}
	go ns.Start()
	deadline := 10 * time.Second
	if d, ok := ctx.Deadline(); ok && time.Until(d) < deadline {
		deadline = time.Until(d)
	}
	if !ns.ReadyForConnections(deadline) {
		ns.Shutdown()
		return nil, fmt.Errorf("embedded NATS: not ready within %s (data dir %s)", deadline, storeDir)
	}
	return &Server{ns: ns}, nil
}

// ClientURL is the URL clients connect to.
func (s *Server) ClientURL() string { return s.ns.ClientURL() }

// NATS returns the underlying server, for tests and advanced wiring.
func (s *Server) NATS() *server.Server { return s.ns }

// Shutdown stops the server and waits until it is down; JetStream data is
// flushed to disk.
func (s *Server) Shutdown() {
	s.ns.Shutdown()
	s.ns.WaitForShutdown()
}

// Connect connects to url as the named client, retrying the first
// connection until ctx ends, and reconnecting forever after that: the
// pipeline rides out NATS restarts instead of exiting.
func Connect(ctx context.Context, url, name string, log *slog.Logger, opts ...nats.Option) (*nats.Conn, error) {
	base := []nats.Option{
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(500 * time.Millisecond),
		nats.RetryOnFailedConnect(true),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("NATS disconnected", "url", url, "err", err)
			}
		}),
		nats.ReconnectHandler(func(c *nats.Conn) { log.Info("NATS reconnected", "url", c.ConnectedUrl()) }),
	}
	nc, err := nats.Connect(url, append(base, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("connecting to NATS at %s: %w", url, err)
	}
	// RetryOnFailedConnect returns at once; wait for the first connection
	// so callers know the address was right.
	for !nc.IsConnected() {
		select {
		case <-ctx.Done():
			nc.Close()
			return nil, fmt.Errorf("connecting to NATS at %s: %w", url, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
	return nc, nil
}

// StreamConfigs returns the two streams of DESIGN.md: events (camera events
// and weather) and recommendations (recommendations and acks), both on file
// storage with message-ID dedupe. replicas is 1 for a single server, 3 on a
// cluster.
func StreamConfigs(replicas int) []jetstream.StreamConfig {
	if replicas < 1 {
		replicas = 1
	}
	return []jetstream.StreamConfig{
		{
			Name:        events.EventsStream,
			Description: "intersect camera events (near misses, track summaries, health) and weather",
			Subjects:    []string{events.CameraEventsFilter, events.WeatherFilter},
			Storage:     jetstream.FileStorage,
			Retention:   jetstream.LimitsPolicy,
			MaxAge:      30 * 24 * time.Hour,
			Duplicates:  DedupeWindow,
			Replicas:    replicas,
			Discard:     jetstream.DiscardOld,
		},
		{
			Name:        events.RecommendationsStream,
			Description: "intersect signal-timing recommendations and controller acks",
			Subjects:    []string{events.SignalFilter},
			Storage:     jetstream.FileStorage,
			Retention:   jetstream.LimitsPolicy,
			MaxAge:      365 * 24 * time.Hour,
			Duplicates:  DedupeWindow,
			Replicas:    replicas,
		},
	}
}

// EnsureStreams creates or updates the streams and the snapshot bucket. It
// is safe to call from every service at start.
func EnsureStreams(ctx context.Context, js jetstream.JetStream, replicas int) error {
	for _, cfg := range StreamConfigs(replicas) {
		keepDeployed(ctx, js, &cfg)
		if _, err := js.CreateOrUpdateStream(ctx, cfg); err != nil {
			return fmt.Errorf("declaring stream %s: %w", cfg.Name, err)
		}
	}
	if _, err := js.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{
		Bucket:      events.SnapshotBucket,
		Description: "near-miss snapshots (JPEG, people blurred), keyed by event ID",
		Storage:     jetstream.FileStorage,
		MaxBytes:    2 << 30,
		Replicas:    max(replicas, 1),
	}); err != nil {
		return fmt.Errorf("declaring object store %s: %w", events.SnapshotBucket, err)
	}
	return nil
}

// Publish validates ev and publishes it on its subject with its ID as the
// message ID, waiting for JetStream's acknowledgement.
func Publish(ctx context.Context, js jetstream.JetStream, ev events.Event) (*jetstream.PubAck, error) {
	data, err := events.Encode(ev)
	if err != nil {
		return nil, err
	}
	subj := events.Subject(ev)
	ack, err := js.Publish(ctx, subj, data, jetstream.WithMsgID(ev.Head().ID))
	if err != nil {
		return nil, fmt.Errorf("publishing %s %s on %s: %w", ev.Head().Kind, ev.Head().ID, subj, err)
	}
	return ack, nil
}
