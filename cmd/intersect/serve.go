package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/intersect-oss/intersect/api"
	"github.com/intersect-oss/intersect/events/bus"
	"github.com/intersect-oss/intersect/store"
)

func serveCommand() command {
	return command{
		name:    "serve",
		summary: "serve the HTTP API, live feed and dashboard from the store",
		run:     runServe,
	}
}

func runServe(ctx context.Context, e env) error {
	fs := newFlags(e, "serve", "serve [--addr 127.0.0.1:8080] [--db DSN] [--data-dir DIR] [--nats URL] [--allow-origin URL,...]", `
Serves the v1 HTTP API (/api/v1/..., documented at /api/v1/openapi.json),
the dashboard at / and /healthz from the store. With --nats it also serves
the websocket live feed (/api/v1/live) and near-miss snapshots from the
JetStream object store; without it, serve runs on the store alone and says
so. Binds to the loopback address by default; give --tls-cert/--tls-key (or
put a TLS-terminating proxy in front) before exposing it.

Every API route but /healthz needs a token (roles viewer, analyst, engineer,
admin). With --secrets DIR (from intersect init) the admin token's hash in
DIR/api/tokens.json is stored in the database on start, and the live feed
connects to --nats as the deployment's "api" identity. serve refuses to
start while the database holds no admin token, unless --insecure (which
serves everyone as an anonymous admin: tests and throwaway setups only).`)
	var c commonFlags
	c.register(fs, "data")
	c.registerCreds(fs)
	c.identity = string(bus.RoleAPI)
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on")
	tlsCert := fs.String("tls-cert", "", "serve HTTPS with this certificate (PEM; with --tls-key)")
	tlsKey := fs.String("tls-key", "", "private key of --tls-cert (PEM)")
	origins := fs.String("allow-origin", "", "comma-separated extra browser origins (scheme://host[:port]) allowed to open the live feed and decide on recommendations; the dashboard's own origin is always allowed")
	if f := fs.Lookup("nats"); f != nil {
		f.Usage = "NATS server URL for the live feed and snapshots; empty serves without them (serve never starts an embedded server)"
	}
	if err := parse(fs, e.args); err != nil {
		return err
	}
	var allowed []string
	for _, o := range strings.Split(*origins, ",") {
		if o = strings.TrimSpace(o); o == "" {
			continue
		}
		if !strings.HasPrefix(o, "http://") && !strings.HasPrefix(o, "https://") {
			return badInput("--allow-origin %q: want scheme://host[:port]", o)
		}
		allowed = append(allowed, o)
	}
	if (*tlsCert == "") != (*tlsKey == "") {
		return badInput("--tls-cert and --tls-key go together")
	}
	var tlsConfig *tls.Config
	if *tlsCert != "" {
		if err := bus.CheckKeyFileMode(*tlsKey); err != nil {
			if !errors.Is(err, bus.ErrKeyFileMode) {
				return badInput("--tls-key: %v", err)
			}
			e.log.Warn("key material is readable by others", "err", err)
		}
		pair, err := tls.LoadX509KeyPair(*tlsCert, *tlsKey)
		if err != nil {
			return badInput("--tls-cert/--tls-key: %v", err)
		}
		tlsConfig = &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}
	}
	if err := c.prepareDataDir(); err != nil {
		return err
	}
	st, err := openStore(ctx, &c, e.log)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := ensureAdminToken(ctx, e, &c, st); err != nil {
		return err
	}
	l, err := listen(*addr)
	if err != nil {
		return err
	}
	scheme := "http"
	if tlsConfig != nil {
		l, scheme = tls.NewListener(l, tlsConfig), "https"
	}
	opts := api.Options{Store: st, Log: e.log, AllowedOrigins: allowed, Insecure: c.insecure, SecureCookies: tlsConfig != nil}
	g := newGroup(ctx)
	if c.natsURL == "" {
		e.log.Warn("no --nats given: serving without the live feed and snapshots (history from the store only)")
	} else {
		// openBus connects (it starts an embedded server only for an empty URL).
		b, err := openBus(ctx, &c, "intersect-serve", e.log)
		if err != nil {
			l.Close()
			return err
		}
		defer b.close()
		snaps, err := openSnapshots(ctx, b.js, e.log)
		if err != nil {
			l.Close()
			return err
		}
		hub := api.NewHub(api.HubOptions{Log: e.log.With("part", "live")})
		defer hub.Close()
		opts.Snapshots, opts.Live, opts.Weather = snaps, hub, busWeather{b.js}
		g.spawn("live feed", func(ctx context.Context) error { return hub.Feed(ctx, b.nc) })
	}
	srv := api.New(opts)
	e.log.Info("serving", "url", scheme+"://"+l.Addr().String()+"/", "live", opts.Live != nil, "tls", tlsConfig != nil, "insecure", c.insecure)
	g.spawn("http", func(ctx context.Context) error {
		err := serveHTTP(ctx, l, srv.Handler(), e.log)
		if opts.Live != nil {
			opts.Live.Close() // hijacked websockets outlive http.Server.Shutdown
		}
		return err
	})
	return g.wait()
}

// ensureAdminToken seeds the deployment's token file into the store and
// refuses to go on without any admin token unless --insecure.
func ensureAdminToken(ctx context.Context, e env, c *commonFlags, st store.Store) error {
	if c.secrets != "" {
		path := tokenFile(c.secrets)
		if _, err := os.Stat(path); err == nil {
			n, err := api.SeedTokenFile(ctx, st, path)
			if err != nil {
				return badInput("%v", err)
			}
			if n > 0 {
				e.log.Info("stored the deployment's API tokens (hashes) in the database", "file", path, "added", n)
			}
		}
	}
	ok, err := api.HasAdmin(ctx, st)
	if err != nil {
		return fmt.Errorf("checking for an admin token: %w", err)
	}
	switch {
	case ok:
		return nil
	case c.insecure:
		e.log.Warn("INSECURE: no API admin token and --insecure: every request is served as an anonymous admin")
		return nil
	}
	return badInput("no API admin token in the database: create a deployment with `intersect init --site S --out DIR` and start with --secrets DIR, or pass --insecure (never in production)")
}
