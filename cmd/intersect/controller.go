package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/intersect-oss/intersect/events"
	"github.com/intersect-oss/intersect/signals"
)

func controllerCommand() command {
	return command{
		name:    "controller",
		summary: "reference signal-controller agent: verify, apply and acknowledge recommendations",
		run:     runController,
	}
}

func runController(ctx context.Context, e env) error {
	fs := newFlags(e, "controller", "controller --id ID --key PUB --plan PLAN.yaml --recommendations RECS.jsonl [--at RFC3339]",
		`Reference controller agent on a simulated controller. It reads
recommendations (JSON lines), verifies each one's Ed25519 signature and
approval with the trusted public key, its target controller, its validity
window and the safety envelope of its own timing plan, applies only approved
ones to the simulated NTCIP state, and prints one JSON line per NTCIP set it
makes ({"set": ...}) and one acknowledgement per recommendation ({"ack": ...}).
Not-yet-approved recommendations are skipped silently.`)
	id := fs.String("id", "", "this controller's ID")
	keyPath := fs.String("key", "", "the advisor's public key (PEM) this controller trusts")
	planPath := fs.String("plan", "", "this controller's timing plan (its timing database)")
	recsPath := fs.String("recommendations", "", "recommendations, JSON lines")
	atFlag := fs.String("at", "", "the controller's clock, RFC 3339 (default now)")
	if err := parse(fs, e.args); err != nil {
		return err
	}
	if *id == "" || *keyPath == "" || *planPath == "" || *recsPath == "" {
		return badInput("--id, --key, --plan and --recommendations are required")
	}
	now := time.Now()
	if *atFlag != "" {
		t, err := time.Parse(time.RFC3339, *atFlag)
		if err != nil {
			return badInput("--at %q: want RFC 3339", *atFlag)
		}
		now = t
	}
	pub, err := signals.LoadPublicKey(*keyPath)
	if err != nil {
		return usageError{err}
	}
	plan, err := signals.LoadPlan(*planPath)
	if err != nil {
		return usageError{err}
	}
	c, err := signals.NewController(*id, pub, plan)
	if err != nil {
		return usageError{err}
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
