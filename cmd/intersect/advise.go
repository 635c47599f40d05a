package main

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/intersect-oss/intersect/events"
	"github.com/intersect-oss/intersect/events/bus"
	"github.com/intersect-oss/intersect/signals"
	"github.com/intersect-oss/intersect/signals/live"
	"github.com/intersect-oss/intersect/signals/weather"
)

func adviseCommand() command {
	return command{
		name:    "advise",
		summary: "signal-timing advisor: live over NATS, or what-if recommendations from a plan and events (--once)",
		run:     runAdvise,
	}
}

func runAdvise(ctx context.Context, e env) error {
	fs := newFlags(e, "advise", `advise --plan PLAN.yaml --key KEYFILE [--nats URL [--creds SEED --ca CA]] [--db DSN] [--data-dir DIR] [--every 1m] [--settle 5s] [--window 168h] [--weather-file OBS.json | --weather C]
       intersect advise --once --plan PLAN.yaml --events EVENTS.jsonl [--weather W] [--at RFC3339] [--key KEYFILE]`,
		`Live mode (default): consume the plan's site's near misses, track summaries
and weather from JetStream (durable consumer "advisor"), keep a sliding window
of them (--window), re-evaluate every --every, --settle after new evidence
arrives and at once when the weather changes, and publish new signed recommendations on
intersect.v1.<site>.signal.<controller>.recommendation. It reads the store
(--db) for what is pending, retires weather-driven recommendations when the
weather changes (deployed ones get a rollback recommendation to approve),
and signs the approvals engineers record through the API, republishing the
signed copy for the controller. Weather: --weather-file is re-read on every
evaluation (a wire-format observation, e.g. from "intersect weather set", or
a recorded NWS /observations/latest response); --weather pins a manual
condition; with neither, observations published on the bus are used.

What-if mode (--once): read near-miss and track-summary events (JSON lines, the
wire format), evaluate the timing plan against them and print the
recommendations the advisor would make, one JSON record per line. No NATS, no
store. Weather comes from --weather, else from the latest weather event in
the file at or before --at, else dry. With --key the records are signed
(Ed25519).

With --secrets DIR (from intersect init) it connects as the deployment's
advisor identity and signs with DIR/signing/advisor.key unless --key says
otherwise.

--new-key writes a key pair (KEYFILE, mode 0600, and KEYFILE.pub for the
controllers) and exits.`)
	once := fs.Bool("once", false, "evaluate once and exit (what-if mode)")
	planPath := fs.String("plan", "", "timing plan YAML")
	eventsPath := fs.String("events", "", "events, JSON lines (--once)")
	weatherFlag := fs.String("weather", "", "dry, wet, snow, ice or fog (--once: overrides weather events; live: pins a manual condition)")
	atFlag := fs.String("at", "", "evaluation time, RFC 3339 (--once; default now)")
	keyPath := fs.String("key", "", "Ed25519 private key (PEM PKCS #8) to sign with")
	newKey := fs.Bool("new-key", false, "generate a key pair at --key and --key.pub, then exit")
	var c commonFlags
	c.register(fs, "data")
	every := fs.Duration("every", time.Minute, "live: evaluation schedule")
	settle := fs.Duration("settle", 5*time.Second, "live: evaluate this long after new evidence (a near miss, a crossing) arrives; 0: only on schedule")
	window := fs.Duration("window", 7*24*time.Hour, "live: how far back events are kept")
	weatherFile := fs.String("weather-file", "", "live: weather observation file, re-read on every evaluation")
	var cred bus.Credentials
	fs.StringVar(&cred.SeedFile, "creds", "", "live: NKey seed file of the advisor's NATS identity (needs --nats)")
	fs.StringVar(&cred.CAFile, "ca", "", "live: CA certificate of the NATS server's TLS (needs --nats)")
	if err := parse(fs, e.args); err != nil {
		return err
	}
	if *newKey {
		if *keyPath == "" {
			return badInput("--new-key needs --key FILE")
		}
		pub, err := signals.GenerateKeyFiles(*keyPath, *keyPath+".pub")
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "wrote %s (private, 0600) and %s.pub (key ID %s)\n", *keyPath, *keyPath, signals.KeyID(pub))
		return nil
	}
	if !*once {
		c.identity = string(bus.RoleAdvisor)
		if *keyPath == "" && c.secrets != "" {
			*keyPath = signingKeyFile(c.secrets)
		}
		return runAdviseLive(ctx, e, adviseLive{
			planPath: *planPath, keyPath: *keyPath, common: c, cred: cred, every: *every, settle: *settle, window: *window,
			weather: *weatherFlag, weatherFile: *weatherFile, events: *eventsPath, at: *atFlag,
		})
	}
	if *planPath == "" || *eventsPath == "" {
		return badInput("--plan and --events are required")
	}
	at := time.Now()
	if *atFlag != "" {
		t, err := time.Parse(time.RFC3339, *atFlag)
		if err != nil {
			return badInput("--at %q: want RFC 3339, e.g. 2026-11-25T07:30:00-07:00", *atFlag)
		}
		at = t
	}
	var cond events.Condition
	if *weatherFlag != "" {
		cond = events.Condition(*weatherFlag)
		if !cond.Valid() {
			return badInput("--weather %q: want one of %v", *weatherFlag, events.Conditions)
		}
	}
	plan, err := signals.LoadPlan(*planPath)
	if err != nil {
		return usageError{err}
	}
	a := &signals.Advisor{Plan: plan}
	if *keyPath != "" {
		key, err := loadSigningKey(e, *keyPath)
		if err != nil {
			return err
		}
		a.Key, a.KeyID = key, signals.KeyID(key.Public().(ed25519.PublicKey))
	}
	in, err := readEvents(e, *eventsPath, at)
	if err != nil {
		return err
	}
	in.At = at
	if cond != "" {
		in.Weather = cond
	}
	if in.Weather == "" {
		in.Weather = events.Dry
	}
	res, err := a.Evaluate(in)
	if err != nil {
		return err
	}
	for _, s := range res.Skipped {
		e.log.Info("no recommendation", "rule", s.Rule, "phase", s.Phase, "reason", s.Reason)
	}
	enc := json.NewEncoder(e.stdout)
	for _, r := range res.Recommendations {
		if err := enc.Encode(r); err != nil {
			return fmt.Errorf("writing recommendation: %w", err)
		}
	}
	e.log.Info("evaluated", "site", plan.Site, "at", at.Format(time.RFC3339), "weather", in.Weather,
		"near_misses", len(in.NearMisses), "tracks", len(in.Tracks), "recommendations", len(res.Recommendations), "signed", a.Key != nil)
	return ctx.Err()
}

// readEvents reads a JSON-lines event file. Bad lines are reported with
// their line numbers and skipped; the count goes to the log.
func readEvents(e env, path string, at time.Time) (signals.Input, error) {
	var in signals.Input
	f, err := os.Open(path)
	if err != nil {
		return in, badInput("events: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	var bad, other, line int
	var latest *events.WeatherObservation
	for sc.Scan() {
		line++
		b := sc.Bytes()
		if len(b) == 0 {
			continue
		}
		ev, err := events.Decode(b)
		if err != nil {
			bad++
			fmt.Fprintf(e.stderr, "%s:%d: skipped: %v\n", path, line, err)
			continue
		}
		switch v := ev.(type) {
		case *events.NearMiss:
			in.NearMisses = append(in.NearMisses, v)
		case *events.TrackSummary:
			in.Tracks = append(in.Tracks, v)
		case *events.WeatherObservation:
			if !v.Time.After(at) && (latest == nil || v.Time.After(latest.Time)) {
				latest = v
			}
		default:
			other++
		}
	}
	if err := sc.Err(); err != nil {
		return in, fmt.Errorf("reading %s at line %d: %w", path, line+1, err)
	}
	if latest != nil {
		in.Weather = latest.Condition
	}
	if bad > 0 || other > 0 {
		e.log.Warn("events skipped", "file", path, "bad_lines", bad, "other_kinds", other)
	}
	return in, nil
}

// loadSigningKey reads the advisor's private key; a bad file is bad input.
func loadSigningKey(e env, path string) (ed25519.PrivateKey, error) {
	key, warn, err := signals.LoadPrivateKey(path)
	if err != nil {
		return nil, usageError{err}
	}
	if warn != "" {
		e.log.Warn(warn)
	}
	return key, nil
}

// adviseLive is the live mode's configuration.
type adviseLive struct {
	planPath, keyPath    string
	common               commonFlags
	cred                 bus.Credentials
	every, window        time.Duration
	settle               time.Duration
	weather, weatherFile string
	events, at           string // what-if flags, refused here
}

func runAdviseLive(ctx context.Context, e env, o adviseLive) error {
	switch {
	case o.events != "" || o.at != "":
		return badInput("--events and --at belong to the what-if mode: add --once")
	case o.planPath == "" || o.keyPath == "":
		return badInput("--plan and --key (or --secrets) are required (the advisor signs what it publishes; make a key with --new-key)")
	case o.every <= 0 || o.window <= 0:
		return badInput("--every and --window must be positive")
	case o.settle < 0:
		return badInput("--settle must be 0 (schedule only) or positive")
	case o.weather != "" && o.weatherFile != "":
		return badInput("give --weather or --weather-file, not both")
	case o.common.natsURL == "" && (o.cred.SeedFile != "" || o.cred.CAFile != ""):
		return badInput("--creds and --ca authenticate to a NATS server: give its --nats URL")
	}
	plan, err := signals.LoadPlan(o.planPath)
	if err != nil {
		return usageError{err}
	}
	key, err := loadSigningKey(e, o.keyPath)
	if err != nil {
		return err
	}
	cfg := live.Config{Every: o.every, Settle: o.settle, Window: o.window}
	if o.settle == 0 {
		cfg.Settle = -1 // only the schedule
	}
	switch {
	case o.weather != "":
		cond := events.Condition(o.weather)
		if !cond.Valid() {
			return badInput("--weather %q: want one of %v", o.weather, events.Conditions)
		}
		cfg.Weather = weather.Manual{Site: plan.Site, Condition: cond}
	case o.weatherFile != "":
		fw := live.FileWeather{Site: plan.Site, Path: o.weatherFile}
		if _, err := fw.Observe(ctx); err != nil {
			return usageError{err}
		}
		cfg.Weather = fw
	}
	if err := o.common.prepareDataDir(); err != nil {
		return err
	}
	st, err := openStore(ctx, &o.common, e.log)
	if err != nil {
		return err
	}
	defer st.Close()
	js, closeBus, err := dialBus(ctx, e, &o.common, "intersect-advise", o.cred, true)
	if err != nil {
		return err
	}
	defer closeBus()
	adv, err := live.NewAdvisor(js, st, plan, key, cfg, e.log)
	if err != nil {
		return err
	}
	return adv.Run(ctx)
}

// dialBus connects a live service: to --nats with the given credentials,
// or to a new embedded server when --nats is empty. With declare it
// creates the streams if it may (a least-privilege identity that may not
// has them declared by ingest).
func dialBus(ctx context.Context, e env, c *commonFlags, name string, cred bus.Credentials, declare bool) (jetstream.JetStream, func(), error) {
	if cred.SeedFile != "" || cred.CAFile != "" {
		c.creds = cred
	}
	if c.natsURL == "" {
		b, err := openBus(ctx, c, name, e.log)
		if err != nil {
			return nil, nil, err
		}
		return b.js, b.close, nil
	}
	opts, err := c.natsOptions(e.log)
	if err != nil {
		return nil, nil, err
	}
	cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	nc, err := bus.Connect(cctx, c.natsURL, name, e.log, opts...)
	if err != nil {
		return nil, nil, err
	}
	closeFn := func() { _ = nc.Drain() }
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("JetStream on %s: %w", c.natsURL, err)
	}
	if declare {
		if err := bus.EnsureStreams(cctx, js, 1); err != nil {
			e.log.Warn("could not declare the streams; assuming ingest did", "err", err)
		}
	}
	return js, closeFn, nil
}
