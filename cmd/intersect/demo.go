package main

import (
	"context"
	"fmt"

	"github.com/intersect-oss/intersect/api"
	"github.com/intersect-oss/intersect/ingest"
)

func demoCommand() command {
	return command{
		name:    "demo",
		summary: "run the whole pipeline in one process on the sample cameras (embedded NATS + SQLite)",
		run:     runDemo,
	}
}

func runDemo(ctx context.Context, e env) error {
	fs := newFlags(e, "demo", "demo [--addr 127.0.0.1:8080] [--data-dir DIR]", `
Runs everything in one process: an embedded NATS server (random free port),
the SQLite store, ingest, the API and dashboard on --addr, and edge workers on
the sample cameras. Stop it with Ctrl-C; every part shuts down cleanly and its
data (JetStream and SQLite under --data-dir) is kept for the next run.`)
	var c commonFlags
	c.register(fs, "data/demo")
	addr := fs.String("addr", "127.0.0.1:8080", "address of the dashboard and API")
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
	b, err := openBus(ctx, &c, "intersect-demo", e.log)
	if err != nil {
		l.Close()
		return err
	}
	defer b.close()

	g := newGroup(ctx)
	in := ingest.New(b.js, st, ingest.Config{}, e.log.With("part", "ingest"))
	g.spawn("ingest", in.Run)
	srv := api.New(api.Options{Store: st, Log: e.log.With("part", "api")})
	g.spawn("api", func(ctx context.Context) error { return serveHTTP(ctx, l, srv.Handler(), e.log) })
	fmt.Fprintf(e.stdout, "intersect demo is running. Dashboard: http://%s/  (Ctrl-C to stop)\n", l.Addr())
	err = g.wait()
	e.log.Info("demo stopped", "ingest", in.Stats())
	return err
}
