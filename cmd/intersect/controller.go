package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/intersect-oss/intersect/events"
	"github.com/intersect-oss/intersect/events/bus"
	"github.com/intersect-oss/intersect/signals"
	"github.com/intersect-oss/intersect/signals/live"
)

func controllerCommand() command {
	return command{
		name:    "controller",
		summary: "reference signal-controller agent: verify, apply and acknowledge recommendations",
		run:     runController,
	}
}

func runController(ctx context.Context, e env) error {
	fs := newFlags(e, "controller", `controller --id ID --key PUB --plan PLAN.yaml --nats URL [--creds SEED --ca CA]
       intersect controller --id ID --key PUB --plan PLAN.yaml --recommendations RECS.jsonl [--at RFC3339]`,
		`Reference controller agent on a simulated controller. Live (--nats): it
pulls its own recommendations from JetStream (durable consumer
ctl-<site>-<id>, filtered to intersect.v1.<site>.signal.<id>.recommendation,
the form a least-privilege controller identity may create) and publishes each
acknowledgement on intersect.v1.<site>.signal.<id>.ack. From a file
(--recommendations): it reads recommendations (JSON lines). Either way it
verifies each one's Ed25519 signature and approval with the trusted public
key, its target controller, its validity window and the safety envelope of
its own timing plan, applies only approved ones to the simulated NTCIP state,
and prints one JSON line per NTCIP set it makes ({"set": ...}) and one
acknowledgement per recommendation ({"ack": ...}). Not-yet-approved
recommendations are skipped silently. The simulated state lives in memory:
a restarted agent starts again from its plan's values.`)
	id := fs.String("id", "", "this controller's ID")
	keyPath := fs.String("key", "", "the advisor's public key (PEM) this controller trusts")
	planPath := fs.String("plan", "", "this controller's timing plan (its timing database)")
	recsPath := fs.String("recommendations", "", "recommendations, JSON lines")
	atFlag := fs.String("at", "", "the controller's clock, RFC 3339 (file mode; default now)")
	natsURL := fs.String("nats", "", "NATS server URL: run live, pulling recommendations from JetStream")
	var cred bus.Credentials
	fs.StringVar(&cred.SeedFile, "creds", "", "NKey seed file of this controller's NATS identity (with --nats)")
	fs.StringVar(&cred.CAFile, "ca", "", "CA certificate of the NATS server's TLS (with --nats)")
	secrets := fs.String("secrets", "", "deployment directory from `intersect init`: connect as controller:<site>:<id> and trust DIR/signing/advisor.pub (unless --key)")
	insecure := fs.Bool("insecure", false, "allow connecting to --nats without a credential (logs a warning; never in production)")
	if err := parse(fs, e.args); err != nil {
		return err
	}
	if *keyPath == "" && *secrets != "" {
		*keyPath = signingPubFile(*secrets)
	}
	if *natsURL != "" {
		if *recsPath != "" || *atFlag != "" {
			return badInput("--recommendations and --at are the file mode; live (--nats) uses the JetStream feed and the clock")
		}
		if *id == "" || *keyPath == "" || *planPath == "" {
			return badInput("--id, --key and --plan are required")
		}
		cf := commonFlags{natsURL: *natsURL, secrets: *secrets, insecure: *insecure, creds: cred}
		return runControllerLive(ctx, e, *id, *keyPath, *planPath, &cf)
	}
	if cred.SeedFile != "" || cred.CAFile != "" {
		return badInput("--creds and --ca authenticate to a NATS server: give its --nats URL")
	}
	if *id == "" || *keyPath == "" || *planPath == "" || *recsPath == "" {
		return badInput("--id, --key, --plan and --recommendations are required (or --nats URL instead of --recommendations)")
	}
	now := time.Now()
	if *atFlag != "" {
		t, err := time.Parse(time.RFC3339, *atFlag)
		if err != nil {
			return badInput("--at %q: want RFC 3339", *atFlag)
		}
		now = t
	}
	c, err := loadController(*id, *keyPath, *planPath)
	if err != nil {
		return err
	}
	f, err := os.Open(*recsPath)
	if err != nil {
		return badInput("recommendations: %v", err)
	}
	defer f.Close()
	enc := json.NewEncoder(e.stdout)
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	var applied, rejected, ignored, line int
	for sc.Scan() {
		line++
		if len(sc.Bytes()) == 0 {
			continue
		}
		// Decode without events.Decode's validation: an invalid record must
		// still be acknowledged as rejected, with the reason.
		var r events.Recommendation
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil || r.Kind != events.KindRecommendation {
			fmt.Fprintf(e.stderr, "%s:%d: skipped: not a recommendation record (%v)\n", *recsPath, line, err)
			continue
		}
		out := c.Handle(&r, now)
		if out.Ignored {
			ignored++
			continue
		}
		for _, s := range out.Sets {
			if err := enc.Encode(map[string]any{"set": s}); err != nil {
				return err
			}
		}
		if out.Ack.Result == events.AckApplied {
			applied++
		} else {
			rejected++
			e.log.Warn("rejected", "recommendation", out.Ack.RecommendationID, "reason", out.Ack.Reason)
		}
		if err := enc.Encode(map[string]any{"ack": out.Ack}); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("reading %s: %w", *recsPath, err)
	}
	e.log.Info("done", "controller", *id, "applied", applied, "rejected", rejected, "awaiting_approval", ignored)
	return ctx.Err()
}

// loadController builds the controller core from its trusted key and its
// timing plan; bad files are bad input.
func loadController(id, keyPath, planPath string) (*signals.Controller, error) {
	pub, err := signals.LoadPublicKey(keyPath)
	if err != nil {
		return nil, usageError{err}
	}
	plan, err := signals.LoadPlan(planPath)
	if err != nil {
		return nil, usageError{err}
	}
	c, err := signals.NewController(id, pub, plan)
	if err != nil {
		return nil, usageError{err}
	}
	return c, nil
}

// runControllerLive runs the agent on the JetStream feed until ctx ends. It
// never declares streams: a controller identity may not, and ingest or the
// advisor has.
func runControllerLive(ctx context.Context, e env, id, keyPath, planPath string, cf *commonFlags) error {
	core, err := loadController(id, keyPath, planPath)
	if err != nil {
		return err
	}
	plan, err := signals.LoadPlan(planPath)
	if err != nil {
		return usageError{err}
	}
	cf.identity = controllerIdentity(plan.Site, id)
	js, closeBus, err := dialBus(ctx, e, cf, "intersect-controller-"+id, cf.creds, false)
	if err != nil {
		return err
	}
	defer closeBus()
	agent, err := live.NewController(js, core, e.stdout, e.log)
	if err != nil {
		return err
	}
	err = agent.Run(ctx)
	s := agent.Stats()
	e.log.Info("controller agent stopped", "applied", s.Applied, "rejected", s.Rejected, "awaiting_approval", s.Ignored, "unreadable", s.Unreadable)
	return err
}
