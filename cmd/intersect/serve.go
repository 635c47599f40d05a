package main

import (
	"context"
	"strings"

	"github.com/intersect-oss/intersect/api"
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
so. Binds to the loopback address by default; put a TLS-terminating proxy in
front before exposing it.`)
	var c commonFlags
	c.register(fs, "data")
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on")
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
	if err := c.prepareDataDir(); err != nil {
		return err
	}
	l, err := listen(*addr)
	if err != nil {
		return err
	}
	st, err := openStore(ctx, &c, e.log)
	if err != nil {
		l.Close()
		return err
	}
	defer st.Close()
	opts := api.Options{Store: st, Log: e.log, AllowedOrigins: allowed}
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
		snaps, err := api.OpenSnapshots(ctx, b.js)
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
	e.log.Info("serving", "url", "http://"+l.Addr().String()+"/", "live", opts.Live != nil)
	g.spawn("http", func(ctx context.Context) error {
		err := serveHTTP(ctx, l, srv.Handler(), e.log)
		if opts.Live != nil {
			opts.Live.Close() // hijacked websockets outlive http.Server.Shutdown
		}
		return err
	})
	return g.wait()
}
