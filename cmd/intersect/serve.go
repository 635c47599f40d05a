package main

import (
	"context"

	"github.com/intersect-oss/intersect/api"
)

func serveCommand() command {
	return command{
		name:    "serve",
		summary: "serve the HTTP API and dashboard from the store",
		run:     runServe,
	}
}

func runServe(ctx context.Context, e env) error {
	fs := newFlags(e, "serve", "serve [--addr 127.0.0.1:8080] [--db DSN] [--data-dir DIR]", `
Serves the v1 HTTP API (GET /api/v1/nearmisses, /healthz, ...) from the
store. Binds to the loopback address by default; put a TLS-terminating proxy
in front, or see the security notes in the README, before exposing it.`)
	var c commonFlags
	c.register(fs, "data")
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on")
	if err := parse(fs, e.args); err != nil {
		return err
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
	srv := api.New(api.Options{Store: st, Log: e.log})
	e.log.Info("serving", "url", "http://"+l.Addr().String()+"/")
	return serveHTTP(ctx, l, srv.Handler(), e.log)
}
