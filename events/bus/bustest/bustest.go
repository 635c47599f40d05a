// Package bustest gives tests of NATS users the bus they run against: an
// embedded JetStream server with intersect's streams and snapshot bucket,
// and a client connected to it, both stopped when the test ends. Tests
// inside package bus cannot import it (bustest imports bus) and keep their
// own setup.
package bustest

import (
	"log/slog"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/intersect-oss/intersect/events/bus"
)

// Bus is a running embedded server and one client of it.
type Bus struct {
	Server *bus.Server
	URL    string // the server's client URL
	NC     *nats.Conn
	JS     jetstream.JetStream
}

// Start starts a fresh server with its data in a temporary directory; see
// StartWith.
func Start(tb testing.TB) *Bus {
	tb.Helper()
	return StartWith(tb, bus.ServerOptions{})
}

// StartWith starts an embedded server with o (DataDir defaults to a
// temporary directory; set it and Name to restart the same server in an
// outage test), connects a client that logs nothing, and declares the
// streams with one replica. The client and the server are closed when the
// test ends; shutting the server down earlier is fine.
func StartWith(tb testing.TB, o bus.ServerOptions) *Bus {
	tb.Helper()
	ctx := tb.Context()
	if o.DataDir == "" {
		o.DataDir = tb.TempDir()
	}
	srv, err := bus.StartServer(ctx, o)
	if err != nil {
		tb.Fatalf("starting embedded NATS: %v", err)
	}
	tb.Cleanup(srv.Shutdown)
	nc, err := bus.Connect(ctx, srv.ClientURL(), tb.Name(), slog.New(slog.DiscardHandler))
	if err != nil {
		tb.Fatalf("connecting to embedded NATS: %v", err)
	}
	tb.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		tb.Fatalf("JetStream on embedded NATS: %v", err)
	}
	if err := bus.EnsureStreams(ctx, js, 1); err != nil {
		tb.Fatalf("declaring streams on embedded NATS: %v", err)
	}
	return &Bus{Server: srv, URL: srv.ClientURL(), NC: nc, JS: js}
}
