package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/intersect-oss/intersect/api"
	"github.com/intersect-oss/intersect/events"
	"github.com/intersect-oss/intersect/events/bus"
	"github.com/intersect-oss/intersect/store"
)

// commonFlags are the flags every service shares (DESIGN.md).
type commonFlags struct {
	natsURL string
	db      string
	dataDir string
	// secrets is a deployment written by `intersect init`; with it the
	// embedded server enforces its identities and TLS, and the service
	// connects as identity.
	secrets  string
	insecure bool
	creds    bus.Credentials
	// identity is the deployment identity the command connects as (set by
	// the command: "ingest", "api", "edge:<site>:<set>", ...).
	identity string
}

func (c *commonFlags) register(fs *flag.FlagSet, defaultDataDir string) {
	fs.StringVar(&c.natsURL, "nats", "", "NATS server URL; empty starts an embedded server (JetStream data under --data-dir, random free port)")
	fs.StringVar(&c.db, "db", "", "database DSN; empty uses the SQLite file <data-dir>/intersect.db; postgres://user@host/db for PostgreSQL")
	fs.StringVar(&c.dataDir, "data-dir", defaultDataDir, "directory for local state (SQLite database, embedded NATS storage, outbox)")
	fs.StringVar(&c.secrets, "secrets", "", "deployment directory written by `intersect init`: the embedded NATS server enforces its identities and TLS, and this service connects with its own identity")
	fs.BoolVar(&c.insecure, "insecure", false, "allow running without credentials (anonymous NATS connection, API without tokens); logs a warning. Never in production")
}

// registerCreds adds --creds and --ca, for commands without their own.
func (c *commonFlags) registerCreds(fs *flag.FlagSet) {
	fs.StringVar(&c.creds.SeedFile, "creds", "", "NKey seed file of this service's NATS identity (instead of --secrets)")
	fs.StringVar(&c.creds.CAFile, "ca", "", "CA certificate of the NATS server's TLS (instead of --secrets)")
}

// deployment is the NATS half of --secrets.
func (c *commonFlags) deployment() bus.Deployment {
	return bus.Deployment{Dir: filepath.Join(c.secrets, "nats")}
}

// roleOf is the role part of an identity name ("edge:demo:all" → edge).
func roleOf(identity string) bus.Role {
	r, _, _ := strings.Cut(identity, ":")
	return bus.Role(r)
}

// natsOptions returns how this service authenticates to NATS: the
// deployment's identity, explicit --creds/--ca, or nothing, which is
// refused for an external server unless --insecure.
func (c *commonFlags) natsOptions(log *slog.Logger) ([]nats.Option, error) {
	switch {
	case c.secrets != "":
		d := c.deployment()
		if !d.Exists() {
			return nil, badInput("--secrets %s holds no deployment (no %s); create one with `intersect init`", c.secrets, d.IdentitiesFile())
		}
		for _, err := range d.LoosePermissions() {
			log.Warn("key material is readable by others", "err", err)
		}
		cred := d.Credentials(c.identity)
		if _, err := os.Stat(cred.SeedFile); err != nil {
			return nil, badInput("--secrets %s has no identity %q (%s missing): was it initialised for another site, camera set or controller?", c.secrets, c.identity, cred.SeedFile)
		}
		opts, err := cred.Options(log)
		if err != nil {
			return nil, usageError{err}
		}
		return opts, nil
	case c.creds.SeedFile != "" || c.creds.CAFile != "":
		opts, err := c.creds.Options(log)
		if err != nil {
			return nil, usageError{err}
		}
		return opts, nil
	case c.natsURL != "" && !c.insecure:
		return nil, badInput("refusing to connect to NATS at %s without a credential: give --secrets DIR (from `intersect init`) or --creds SEED --ca CA, or --insecure to connect anonymously", c.natsURL)
	case c.natsURL != "":
		log.Warn("INSECURE: connecting to NATS without any credential (--insecure); anyone who can reach the server can read and forge events", "nats", c.natsURL)
	}
	return nil, nil
}

// prepareDataDir creates the data dir and checks that it is writable, so a
// bad path is reported once, up front, naming the directory.
func (c *commonFlags) prepareDataDir() error {
	if err := os.MkdirAll(c.dataDir, 0o750); err != nil {
		return badInput("data dir %s cannot be created: %v", c.dataDir, err)
	}
	f, err := os.CreateTemp(c.dataDir, ".write-check-*")
	if err != nil {
		return badInput("data dir %s is not writable: %v", c.dataDir, err)
	}
	name := f.Name()
	f.Close()
	os.Remove(name)
	return nil
}

// busConn is a connection to NATS, with the embedded server when there is one.
type busConn struct {
	server *bus.Server
	nc     *nats.Conn
	js     jetstream.JetStream
	url    string
}

// openBus connects to --nats, or starts an embedded server when it is
// empty, and declares the streams.
//
// With --secrets the embedded server enforces the deployment (NKey users
// with least-privilege permissions, TLS), and the client connects as
// c.identity; identities that may not declare streams (edge, api,
// controller) leave that to ingest, or, on an embedded server, to a short
// connection as the deployment's ingest identity.
func openBus(ctx context.Context, c *commonFlags, name string, log *slog.Logger) (*busConn, error) {
	opts, err := c.natsOptions(log)
	if err != nil {
		return nil, err
	}
	b := &busConn{url: c.natsURL}
	if b.url == "" {
		so := bus.ServerOptions{DataDir: filepath.Join(c.dataDir, "nats")}
		if c.secrets != "" {
			so.Configure = c.deployment().ConfigureServer()
		} else {
			log.Warn("embedded NATS server without --secrets: any local process can connect; run `intersect init` and pass --secrets")
		}
		srv, err := bus.StartServer(ctx, so)
		if err != nil {
			return nil, err
		}
		b.server, b.url = srv, srv.ClientURL()
		log.Info("embedded NATS server started", "url", b.url, "store", filepath.Join(c.dataDir, "nats"), "secured", c.secrets != "")
	}
	cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	mayDeclare := c.secrets == "" && c.creds.SeedFile == "" || roleOf(c.identity) == bus.RoleIngest || roleOf(c.identity) == bus.RoleAdvisor
	if !mayDeclare && b.server != nil && c.secrets != "" {
		if err := declareAsIngest(cctx, c, b.url, log); err != nil {
			b.close()
			return nil, err
		}
	}
	nc, err := bus.Connect(cctx, b.url, name, log, opts...)
	if err != nil {
		b.close()
		return nil, err
	}
	b.nc = nc
	if b.js, err = jetstream.New(nc); err != nil {
		b.close()
		return nil, fmt.Errorf("JetStream on %s: %w", b.url, err)
	}
	if mayDeclare {
		if err := bus.EnsureStreams(cctx, b.js, 1); err != nil {
			b.close()
			return nil, err
		}
	}
	return b, nil
}

// declareAsIngest declares the streams on a secured embedded server with
// the deployment's ingest identity, for a service whose own identity may
// not.
func declareAsIngest(ctx context.Context, c *commonFlags, url string, log *slog.Logger) error {
	opts, err := c.deployment().Credentials(string(bus.RoleIngest)).Options(log)
	if err != nil {
		return usageError{err}
	}
	nc, err := bus.Connect(ctx, url, "intersect-declare", log, opts...)
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("JetStream on %s: %w", url, err)
	}
	return bus.EnsureStreams(ctx, js, 1)
}

func (b *busConn) close() {
	if b.nc != nil {
		// Drain lets in-flight acks and publishes finish.
		_ = b.nc.Drain()
		for i := 0; i < 50 && !b.nc.IsClosed(); i++ {
			time.Sleep(20 * time.Millisecond)
		}
		b.nc.Close()
	}
	if b.server != nil {
		b.server.Shutdown()
	}
}

// openStore opens --db, turning the store's bad-input errors into usage errors.
func openStore(ctx context.Context, c *commonFlags, log *slog.Logger) (store.Store, error) {
	st, err := store.Open(ctx, c.db, c.dataDir, log)
	if err != nil {
		if errors.Is(err, store.ErrBadInput) {
			return nil, usageError{err}
		}
		return nil, err
	}
	return st, nil
}

// listen binds addr now, so a port in use is reported before anything else
// starts.
func listen(addr string) (net.Listener, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("cannot listen on %s (is another intersect or program using it? pick another with --addr): %w", addr, err)
	}
	return l, nil
}

// serveHTTP serves h on l until ctx ends, then shuts down gracefully.
func serveHTTP(ctx context.Context, l net.Listener, h http.Handler, log *slog.Logger) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	select {
	case err := <-errc:
		return fmt.Errorf("HTTP server on %s: %w", l.Addr(), err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("HTTP shutdown: %w", err)
	}
	return nil
}

// group runs functions until the first fails or ctx ends, then cancels the
// rest and waits for them: every part stops when any part stops.
type group struct {
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
	err    error
}

func newGroup(ctx context.Context) *group {
	g := &group{}
	g.ctx, g.cancel = context.WithCancel(ctx)
	return g
}

func (g *group) spawn(name string, fn func(ctx context.Context) error) {
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		if err := fn(g.ctx); err != nil && !errors.Is(err, context.Canceled) {
			g.once.Do(func() { g.err = fmt.Errorf("%s: %w", name, err) })
		}
		g.cancel()
	}()
}

func (g *group) wait() error {
	g.wg.Wait()
	g.cancel()
	return g.err
}

// busWeather publishes the dashboard's manual weather observations on NATS.
type busWeather struct{ js jetstream.JetStream }

func (b busWeather) PublishWeather(ctx context.Context, w *events.WeatherObservation) error {
	_, err := bus.Publish(ctx, b.js, w)
	return err
}

// openSnapshots opens the snapshot bucket, waiting while it does not exist
// yet: on a secured deployment only ingest (or the advisor) may declare the
// streams, and serve may well start first.
func openSnapshots(ctx context.Context, js jetstream.JetStream, log *slog.Logger) (*api.ObjectStoreSnapshots, error) {
	warned := false
	for {
		snaps, err := api.OpenSnapshots(ctx, js)
		if err == nil || !errors.Is(err, jetstream.ErrBucketNotFound) {
			return snaps, err
		}
		if !warned {
			log.Warn("snapshot bucket not declared yet; waiting (is intersect ingest running?)", "bucket", events.SnapshotBucket)
			warned = true
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Second):
		}
	}
}
