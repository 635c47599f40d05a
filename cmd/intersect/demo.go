package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/intersect-oss/intersect/api"
	"github.com/intersect-oss/intersect/edge/camera"
	"github.com/intersect-oss/intersect/events"
	"github.com/intersect-oss/intersect/events/bus"
	"github.com/intersect-oss/intersect/ingest"
	"github.com/intersect-oss/intersect/signals"
	"github.com/intersect-oss/intersect/signals/live"
	"github.com/intersect-oss/intersect/store"
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
and SQLite under --data-dir) is kept for the next run.

Secure by default: on first run the demo creates a throwaway deployment
under <data-dir>/secrets (as intersect init would); the embedded NATS server
enforces its NKey identities and TLS, and each part connects as its own
least-privilege identity. The API needs a token: every run issues a new
engineer token named "demo" (revoking the previous run's) and prints the
dashboard URL with it in the fragment, #token=…, which the dashboard trades
for a session cookie.`)
	var c commonFlags
	c.register(fs, "data/demo")
	addr := fs.String("addr", "127.0.0.1:8080", "address of the dashboard and API")
	samples := fs.String("samples", "samples", "directory of the sample cameras, video and timing plan")
	every := fs.Duration("advise-every", 10*time.Second, "how often the advisor re-evaluates (it also does on every weather change)")
	settle := fs.Duration("advise-settle", 2*time.Second, "the advisor also re-evaluates this long after a near miss or crossing arrives")
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
	cams, err := demoCameraFiles(ctx, *samples, c.dataDir, e.log)
	if err != nil {
		return err
	}
	plan, err := signals.LoadPlan(filepath.Join(*samples, "plans", "demo.yaml"))
	if err != nil {
		return badInput("%v", err)
	}
	// The secure path is the default: a throwaway deployment under the
	// data dir, an embedded server enforcing it, and every part on its own
	// least-privilege identity.
	c.secrets = filepath.Join(c.dataDir, "secrets")
	if err := ensureDemoDeployment(ctx, c.secrets, plan.Site, plan.Controller, *samples, cams, e.log); err != nil {
		return err
	}
	srv, err := bus.StartServer(ctx, bus.ServerOptions{DataDir: filepath.Join(c.dataDir, "nats"), Configure: c.deployment().ConfigureServer()})
	if err != nil {
		return err
	}
	defer srv.Shutdown()
	e.log.Info("embedded NATS server started (NKeys + TLS)", "url", srv.ClientURL(), "secrets", c.secrets)
	conns := map[string]*busConn{}
	for _, id := range []string{"ingest", "advisor", "api", controllerIdentity(plan.Site, plan.Controller), edgeIdentity(plan.Site, "all")} {
		cc := c
		cc.natsURL, cc.identity = srv.ClientURL(), id
		b, err := openBus(ctx, &cc, "intersect-demo-"+strings.ReplaceAll(id, ":", "-"), e.log)
		if err != nil {
			return fmt.Errorf("connecting as %s: %w", id, err)
		}
		defer b.close()
		conns[id] = b
	}
	b, apiBus := conns["ingest"], conns["api"]
	snaps, err := api.OpenSnapshots(ctx, apiBus.js)
	if err != nil {
		return err
	}
	key, _, err := signals.LoadPrivateKey(signingKeyFile(c.secrets))
	if err != nil {
		return err
	}
	pub, err := signals.LoadPublicKey(signingPubFile(c.secrets))
	if err != nil {
		return err
	}
	advisor, err := live.NewAdvisor(conns["advisor"].js, st, plan, key, live.Config{Every: *every, Settle: *settle}, e.log.With("part", "advisor"))
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
	agent, err := live.NewController(conns[controllerIdentity(plan.Site, plan.Controller)].js, core, sets, e.log.With("part", "controller", "id", plan.Controller))
	if err != nil {
		return err
	}
	token, err := demoToken(ctx, st)
	if err != nil {
		return err
	}
	hub := api.NewHub(api.HubOptions{Log: e.log.With("part", "live")})
	defer hub.Close()
	// The dashboard's weather switch publishes as the advisor would: the
	// api identity may not publish weather.
	apiSrv := api.New(api.Options{Store: st, Log: e.log.With("part", "api"), Snapshots: snaps, Live: hub, Weather: busWeather{conns["advisor"].js}})
	in := ingest.New(b.js, st, ingest.Config{}, e.log.With("part", "ingest"))

	if err := demoInitialWeather(ctx, st, busWeather{conns["advisor"].js}, plan.Site); err != nil {
		return err
	}

	g := newGroup(ctx)
	g.spawn("ingest", in.Run)
	g.spawn("cameras", func(ctx context.Context) error {
		return runDemoCameras(ctx, cams, conns[edgeIdentity(plan.Site, "all")], c.dataDir, e.log)
	})
	g.spawn("advisor", advisor.Run)
	g.spawn("controller", agent.Run)
	g.spawn("live feed", func(ctx context.Context) error { return hub.Feed(ctx, apiBus.nc) })
	g.spawn("api", func(ctx context.Context) error {
		err := serveHTTP(ctx, l, apiSrv.Handler(), e.log)
		hub.Close() // hijacked websockets outlive http.Server.Shutdown
		return err
	})
	fmt.Fprintf(e.stdout, "intersect demo is running. Dashboard: http://%s/#token=%s  (engineer login for this run; Ctrl-C to stop)\n", l.Addr(), token)
	err = g.wait()
	e.log.Info("demo stopped", "ingest", in.Stats())
	return err
}

// demoInitialWeather starts the demo site dry, the way its manual weather
// provider (the dashboard's switch) would say, unless an earlier run left an
// observation: near misses then carry a weather and the charts group by it.
func demoInitialWeather(ctx context.Context, st store.Store, pub api.WeatherPublisher, site string) error {
	if _, err := st.LatestWeather(ctx, site); err == nil || !errors.Is(err, store.ErrNotFound) {
		return err
	}
	return pub.PublishWeather(ctx, &events.WeatherObservation{
		Header:    events.NewHeader(events.KindWeather, site, "", time.Now()),
		Condition: events.Dry, Source: "manual", Text: "demo start: dry until set on the dashboard",
	})
}

// ensureDemoDeployment creates the demo's deployment on first run: its
// edge identity covers every demo camera (the vtest camera too, even when
// the video is not installed yet, so installing it later needs no new
// identity).
func ensureDemoDeployment(ctx context.Context, dir, site, controller, samples string, cams []*camera.File, log *slog.Logger) error {
	if _, err := os.Stat(filepath.Join(dir, "nats", "identities.json")); err == nil {
		return nil
	}
	var ids []string
	seen := map[string]bool{}
	files := cams
	if f, err := camera.Load(filepath.Join(samples, "cameras", "vtest.yaml")); err == nil {
		files = append(files, f)
	}
	for _, f := range files {
		for _, cam := range f.Cameras {
			if cam.Site != site {
				return fmt.Errorf("demo camera %s is at site %s, not the plan's %s", cam.ID, cam.Site, site)
			}
			if !seen[cam.ID] {
				seen[cam.ID] = true
				ids = append(ids, cam.ID)
			}
		}
	}
	spec := deploymentSpec{site: site, edges: map[string][]string{"all": ids}, controllers: []string{controller}, hosts: []string{"127.0.0.1", "localhost"}}
	if _, err := createDeployment(ctx, dir, spec); err != nil {
		return fmt.Errorf("creating the demo deployment in %s: %w", dir, err)
	}
	log.Info("created the demo's deployment (identities, TLS, signing key)", "dir", dir, "cameras", ids)
	return nil
}

// demoToken revokes the previous runs' demo tokens and issues this run's.
// Only its hash is stored; the secret is printed once, in the URL.
func demoToken(ctx context.Context, st store.Store) (string, error) {
	ts, err := st.Tokens(ctx)
	if err != nil {
		return "", err
	}
	for _, t := range ts {
		if t.Name == "demo" && t.Revoked.IsZero() {
			if err := st.RevokeToken(ctx, t.ID, time.Now()); err != nil {
				return "", err
			}
		}
	}
	secret, _, err := api.IssueToken(ctx, st, "demo", api.RoleEngineer)
	return secret, err
}
