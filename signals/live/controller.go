package live

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/intersect-oss/intersect/events"
	"github.com/intersect-oss/intersect/events/bus"
	"github.com/intersect-oss/intersect/signals"
)

// ControllerStats are the agent's counters since start.
type ControllerStats struct {
	Applied  int64 `json:"applied"`
	Rejected int64 `json:"rejected"`
	// Ignored are validly signed recommendations awaiting approval.
	Ignored int64 `json:"ignored"`
	// Unreadable are messages that are not recommendation records at all
	// (no ID to acknowledge).
	Unreadable int64 `json:"unreadable"`
}

// Controller is the live controller agent: it pulls its own
// recommendations from JetStream and hands each to the signals.Controller
// core, which trusts nothing the network says.
type Controller struct {
	js   jetstream.JetStream
	core *signals.Controller
	out  io.Writer
	log  *slog.Logger
	// Now is the controller's clock (default time.Now).
	Now func() time.Time

	outMu                                  sync.Mutex
	applied, rejected, ignored, unreadable atomic.Int64
}

// NewController returns the agent around core. It prints one JSON line per
// NTCIP set ({"set": ...}) and per acknowledgement ({"ack": ...}) on out
// (nil: nowhere).
func NewController(js jetstream.JetStream, core *signals.Controller, out io.Writer, log *slog.Logger) (*Controller, error) {
	if js == nil || core == nil || core.Plan == nil {
		return nil, errors.New("live controller: JetStream and a controller core with its plan are required")
	}
	if out == nil {
		out = io.Discard
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Controller{js: js, core: core, out: out, log: log.With("controller", core.ID, "site", core.Plan.Site), Now: time.Now}, nil
}

// Stats returns the counters.
func (c *Controller) Stats() ControllerStats {
	return ControllerStats{Applied: c.applied.Load(), Rejected: c.rejected.Load(), Ignored: c.ignored.Load(), Unreadable: c.unreadable.Load()}
}

// Subject is the only subject the agent reads.
func (c *Controller) Subject() string {
	return events.RecommendationSubject(c.core.Plan.Site, c.core.ID)
}

// Run consumes until ctx ends. The consumer is the durable
// bus.ConsumerName(site, id), created in the filtered form the controller
// NATS identity is allowed, so the agent works under least privilege.
func (c *Controller) Run(ctx context.Context) error {
	name := bus.ConsumerName(c.core.Plan.Site, c.core.ID)
	cons, err := c.js.CreateOrUpdateConsumer(ctx, events.RecommendationsStream, jetstream.ConsumerConfig{
		Durable:       name,
		Description:   "intersect controller agent " + c.core.ID,
		FilterSubject: c.Subject(),
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       30 * time.Second,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		// One at a time: each recommendation is checked against the state
		// the previous one left.
		MaxAckPending: 1,
	})
	if err != nil {
		return fmt.Errorf("controller %s: consumer %s on stream %s: %w", c.core.ID, name, events.RecommendationsStream, err)
	}
	c.log.Info("controller agent running", "subject", c.Subject(), "consumer", name)
	wait := 100 * time.Millisecond
	for ctx.Err() == nil {
		batch, err := cons.Fetch(1, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			c.log.Warn("fetch failed; retrying", "err", err, "in", wait)
			sleep(ctx, wait)
			wait = min(2*wait, 5*time.Second)
			continue
		}
		wait = 100 * time.Millisecond
		for m := range batch.Messages() {
			if err := c.handle(ctx, m); err != nil {
				// Only ctx ending gets here: leave the message for redelivery.
				return nil
			}
		}
		if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) && ctx.Err() == nil {
			c.log.Warn("fetch ended early", "err", err)
		}
	}
	return nil
}

// handle runs one message through the core, publishes its acknowledgement
// and only then acknowledges the message to JetStream: a crash in between
// redelivers it, and the core's replay guard answers the second time.
func (c *Controller) handle(ctx context.Context, m jetstream.Msg) error {
	// Not events.Decode: an invalid record must still be answered with a
	// rejection naming the reason, which Handle does.
	var r events.Recommendation
	if err := json.Unmarshal(m.Data(), &r); err != nil || r.Kind != events.KindRecommendation {
		c.unreadable.Add(1)
		c.log.Warn("not a recommendation record; dropped", "subject", m.Subject(), "err", err, "kind", r.Kind)
		return c.ackMsg(m)
	}
	out := c.core.Handle(&r, c.Now())
	if out.Ignored {
		c.ignored.Add(1)
		c.log.Info("awaiting approval", "recommendation", r.ID, "rule", r.Rule)
		return c.ackMsg(m)
	}
	ack := out.Ack
	// The ack is this controller's statement: its own site, whatever
	// site a forged record claimed (and the only ack subject it may use).
	ack.Site = c.core.Plan.Site
	c.outMu.Lock()
	enc := json.NewEncoder(c.out)
	for _, s := range out.Sets {
		_ = enc.Encode(map[string]any{"set": s, "recommendation": r.ID})
	}
	_ = enc.Encode(map[string]any{"ack": ack})
	c.outMu.Unlock()
	if ack.Result == events.AckApplied {
		c.applied.Add(1)
		c.log.Info("applied", "recommendation", r.ID, "rule", r.Rule, "sets", len(out.Sets))
	} else {
		c.rejected.Add(1)
		c.log.Warn("rejected", "recommendation", ack.RecommendationID, "reason", ack.Reason)
	}
	if err := ack.Validate(); err != nil {
		// Retrying cannot fix this one; say so and move on.
		c.log.Error("acknowledgement is not publishable", "recommendation", ack.RecommendationID, "err", err)
		return c.ackMsg(m)
	}
	wait := 100 * time.Millisecond
	for {
		_, err := bus.Publish(ctx, c.js, ack)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		c.log.Warn("publishing the acknowledgement failed; retrying", "recommendation", ack.RecommendationID, "err", err)
		sleep(ctx, wait)
		wait = min(2*wait, 5*time.Second)
	}
	return c.ackMsg(m)
}

func (c *Controller) ackMsg(m jetstream.Msg) error {
	if err := m.Ack(); err != nil {
		c.log.Debug("JetStream ack failed", "err", err)
	}
	return nil
}
