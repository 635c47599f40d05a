package main

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/intersect-oss/intersect/events"
	"github.com/intersect-oss/intersect/signals"
)

func adviseCommand() command {
	return command{
		name:    "advise",
		summary: "signal-timing advisor: what-if recommendations from a plan and events (--once)",
		run:     runAdvise,
	}
}

func runAdvise(ctx context.Context, e env) error {
	fs := newFlags(e, "advise", "advise --once --plan PLAN.yaml --events EVENTS.jsonl [--weather W] [--at RFC3339] [--key KEYFILE]",
		`What-if mode: read near-miss and track-summary events (JSON lines, the wire
format), evaluate the timing plan against them and print the recommendations
the advisor would make, one JSON record per line. No NATS, no store.
Weather comes from --weather, else from the latest weather event in the file
at or before --at, else dry. With --key the records are signed (Ed25519).
--new-key writes a key pair (KEYFILE, mode 0600, and KEYFILE.pub for the
controllers) and exits.`)
	once := fs.Bool("once", false, "evaluate once and exit (what-if mode)")
	planPath := fs.String("plan", "", "timing plan YAML")
	eventsPath := fs.String("events", "", "events, JSON lines")
	weather := fs.String("weather", "", "dry, wet, snow, ice or fog (overrides weather events)")
	atFlag := fs.String("at", "", "evaluation time, RFC 3339 (default now)")
	keyPath := fs.String("key", "", "Ed25519 private key (PEM PKCS #8) to sign with")
	newKey := fs.Bool("new-key", false, "generate a key pair at --key and --key.pub, then exit")
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
		return badInput("--once is required: this build has the what-if mode only (see --help)")
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
	if *weather != "" {
		cond = events.Condition(*weather)
		if !cond.Valid() {
			return badInput("--weather %q: want one of %v", *weather, events.Conditions)
		}
	}
	plan, err := signals.LoadPlan(*planPath)
	if err != nil {
		return usageError{err}
	}
	a := &signals.Advisor{Plan: plan}
	if *keyPath != "" {
		key, warn, err := signals.LoadPrivateKey(*keyPath)
		if err != nil {
			return usageError{err}
		}
		if warn != "" {
			e.log.Warn(warn)
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
