package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/intersect-oss/intersect/api"
	"github.com/intersect-oss/intersect/ingest"
	"github.com/intersect-oss/intersect/signals"
	"github.com/intersect-oss/intersect/signals/live"
)

func demoCommand() command {
	return command{
		name:    "demo",
		summary: "run the whole pipeline in one process on the sample cameras (embedded NATS + SQLite)",
		run:     runDemo,
	}
}

func runDemo(ctx context.Context, e env) error {
	fs := newFlags(e, "demo", "demo [--addr 127.0.0.1:8080] [--data-dir DIR] [--samples DIR]", `
Runs everything in one process: an embedded NATS server (random free port),
the SQLite store, ingest, edge workers on the sample cameras (the real
vtest.avi and a rendered intersection with scripted near misses, rendered
into the data dir on first run), the signal-timing advisor with the sample
plan (signing key generated under the data dir), a reference controller
agent for its controller, and the API and dashboard on --addr.
Recorded videos are replayed when they end, as if they were live cameras.
Stop it with Ctrl-C: every part shuts down cleanly and its data (JetStream
and SQLite under --data-dir) is kept for the next run.`)
	var c commonFlags
	c.register(fs, "data/demo")
	addr := fs.String("addr", "127.0.0.1:8080", "address of the dashboard and API")
	samples := fs.String("samples", "samples", "directory of the sample cameras, video and timing plan")
	every := fs.Duration("advise-every", 10*time.Second, "how often the advisor re-evaluates (it also does on every weather change)")
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
	defer l.Close()
	st, err := openStore(ctx, &c, e.log)
	if err != nil {
		return err
	}
	defer st.Close()
	b, err := openBus(ctx, &c, "intersect-demo", e.log)
	if err != nil {
		return err
	}
	defer b.close()
	cams, err := demoCameraFiles(ctx, *samples, c.dataDir, e.log)
	if err != nil {
		return err
	}
	snaps, err := api.OpenSnapshots(ctx, b.js)
	if err != nil {
		return err
	}
	plan, err := signals.LoadPlan(filepath.Join(*samples, "plans", "demo.yaml"))
	if err != nil {
		return badInput("%v", err)
	}
	key, pub, err := demoSigningKey(c.dataDir, e.log)
	if err != nil {
		return err
	}
	advisor, err := live.NewAdvisor(b.js, st, plan, key, live.Config{Every: *every}, e.log.With("part", "advisor"))
	if err != nil {
		return err
	}
	core, err := signals.NewController(plan.Controller, pub, plan)
	if err != nil {
		return err
	}
	// The agent's NTCIP sets and acks, one JSON line each, for whoever
	// wants to see what the simulated controller did.
	setsPath := filepath.Join(c.dataDir, "controller-"+plan.Controller+".jsonl")
	sets, err := os.OpenFile(setsPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o640)
	if err != nil {
		return fmt.Errorf("opening %s: %w", setsPath, err)
	}
	defer sets.Close()
	agent, err := live.NewController(b.js, core, sets, e.log.With("part", "controller", "id", plan.Controller))
	if err != nil {
		return err
	}
	hub := api.NewHub(api.HubOptions{Log: e.log.With("part", "live")})
	defer hub.Close()
	srv := api.New(api.Options{Store: st, Log: e.log.With("part", "api"), Snapshots: snaps, Live: hub, Weather: busWeather{b.js}})
	in := ingest.New(b.js, st, ingest.Config{}, e.log.With("part", "ingest"))

	g := newGroup(ctx)
	g.spawn("ingest", in.Run)
	g.spawn("cameras", func(ctx context.Context) error { return runDemoCameras(ctx, cams, b, c.dataDir, e.log) })
	g.spawn("advisor", advisor.Run)
	g.spawn("controller", agent.Run)
	g.spawn("live feed", func(ctx context.Context) error { return hub.Feed(ctx, b.nc) })
	g.spawn("api", func(ctx context.Context) error {
		err := serveHTTP(ctx, l, srv.Handler(), e.log)
		hub.Close() // hijacked websockets outlive http.Server.Shutdown
		return err
	})
	fmt.Fprintf(e.stdout, "intersect demo is running. Dashboard: http://%s/  (Ctrl-C to stop)\n", l.Addr())
	err = g.wait()
	e.log.Info("demo stopped", "ingest", in.Stats())
	return err
}
