package main

import (
	"context"
	"strings"
	"time"

	"github.com/intersect-oss/intersect/events"
	"github.com/intersect-oss/intersect/events/bus"
	"github.com/intersect-oss/intersect/ingest"
	"github.com/intersect-oss/intersect/store"
)

func ingestCommand() command {
	return command{
		name:    "ingest",
		summary: "move events from NATS JetStream into the store (ack after commit, idempotent)",
		run:     runIngest,
	}
}

func runIngest(ctx context.Context, e env) error {
	fs := newFlags(e, "ingest", "ingest [--nats URL[,URL…]] [--db DSN] [--data-dir DIR] [--replicas N] [--edge-sites A,B]", `
Consumes near misses, track summaries, camera health, weather, recommendations
and acks from JetStream (durable consumer "ingest") and writes them to the
store in batches, acknowledging each message only after its batch commits.
Duplicates (same event ID) are dropped; messages that fail validation go to
the dead-letter table with the reason. Safe to kill at any time: restarting
resumes where the last commit ended.

Against a NATS cluster, give its seed list comma-separated in --nats; streams
are replicated 3 ways when the cluster has 3 or more nodes (--replicas). When
the store is slow or down, ingest holds at most --max-ack-pending messages per
stream and JetStream keeps the backlog; the lag is logged as "pending".
--edge-sites adds the named sites' edge leaf-node streams (JetStream domain
edge-<site>) as sources of the central events stream; see docs/capacity.md.

Retention runs at start and daily: near misses are kept --retain-near-misses
(critical ones --retain-critical, by default for ever), track summaries
--retain-tracks and camera health --retain-health; 0 keeps for ever. On
PostgreSQL, months entirely past retention are dropped as whole partitions.`)
	var c commonFlags
	c.register(fs, "data")
	c.registerCreds(fs)
	c.identity = string(bus.RoleIngest)
	var cfg ingest.Config
	fs.IntVar(&cfg.BatchSize, "batch", 1000, "most events written per transaction")
	fs.DurationVar(&cfg.MaxWait, "max-wait", 200*time.Millisecond, "longest wait to fill a batch before writing it")
	fs.DurationVar(&cfg.AckWait, "ack-wait", 10*time.Second, "JetStream redelivery timeout for unacknowledged messages")
	fs.IntVar(&cfg.Writers, "writers", 2, "batches decoded and written concurrently per stream")
	fs.IntVar(&cfg.MaxAckPending, "max-ack-pending", 0, "most messages in flight per stream (0: (writers+2)×batch); bounds memory when the store is slow")
	replicas := fs.Int("replicas", 0, "stream replicas (0: 3 on a cluster of 3 or more nodes, else 1)")
	edgeSites := fs.String("edge-sites", "", "comma-separated sites whose edge leaf-node streams the central events stream sources")
	var keep store.RetentionPolicy
	fs.DurationVar(&keep.NearMisses, "retain-near-misses", 2*365*24*time.Hour, "how long minor and serious near misses are kept (0: for ever)")
	fs.DurationVar(&keep.CriticalNearMisses, "retain-critical", 0, "how long critical near misses are kept (0: for ever; else at least --retain-near-misses)")
	fs.DurationVar(&keep.Tracks, "retain-tracks", 365*24*time.Hour, "how long track summaries (exposure) are kept (0: for ever)")
	fs.DurationVar(&keep.Health, "retain-health", 30*24*time.Hour, "how long camera health reports are kept (0: for ever)")
	if err := parse(fs, e.args); err != nil {
		return err
	}
	if err := keep.Validate(); err != nil {
		return usageError{err}
	}
	switch {
	case cfg.BatchSize < 1 || cfg.Writers < 1:
		return badInput("--batch %d and --writers %d must be at least 1", cfg.BatchSize, cfg.Writers)
	case cfg.MaxAckPending < 0:
		return badInput("--max-ack-pending %d must not be negative", cfg.MaxAckPending)
	case cfg.MaxAckPending > 0 && cfg.MaxAckPending < cfg.BatchSize:
		return badInput("--max-ack-pending %d is smaller than --batch %d: batches could never fill", cfg.MaxAckPending, cfg.BatchSize)
	case *replicas < 0 || *replicas > 5:
		return badInput("--replicas %d: want 0 (auto) or 1..5", *replicas)
	}
	var sites []string
	for _, s := range strings.Split(*edgeSites, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		if !events.ValidID(s) {
			return badInput("--edge-sites: site %q must match [a-z0-9-]+", s)
		}
		sites = append(sites, s)
	}
	if err := c.prepareDataDir(); err != nil {
		return err
	}
	st, err := openStore(ctx, &c, e.log)
	if err != nil {
		return err
	}
	defer st.Close()
	b, err := openBus(ctx, &c, "intersect-ingest", e.log)
	if err != nil {
		return err
	}
	defer b.close()
	r := *replicas
	if r == 0 {
		r = bus.ReplicasFor(b.nc)
	}
	if r > 1 {
		if err := bus.EnsureStreams(ctx, b.js, r); err != nil {
			return err
		}
	}
	if len(sites) > 0 {
		if err := bus.SourceEdges(ctx, b.js, sites...); err != nil {
			return err
		}
	}
	in := ingest.New(b.js, st, cfg, e.log)
	e.log.Info("ingest running", "nats", b.url, "batch", cfg.BatchSize, "writers", in.Config().Writers,
		"max_ack_pending", in.Config().MaxAckPending, "replicas", r, "edge_sites", sites)
	g := newGroup(ctx)
	g.spawn("ingest", in.Run)
	g.spawn("progress", func(ctx context.Context) error { return logProgress(ctx, e, in) })
	g.spawn("retention", func(ctx context.Context) error { return retentionLoop(ctx, e, st, keep) })
	err = g.wait()
	s := in.Stats()
	e.log.Info("ingest stopped", "received", s.Received, "inserted", s.Inserted, "duplicates", s.Duplicates, "dead_letters", s.DeadLetters)
	return err
}

// retentionLoop applies the retention policy at start and then daily. A
// failure is logged and retried the next day: it never stops ingest.
func retentionLoop(ctx context.Context, e env, st store.Store, p store.RetentionPolicy) error {
	for {
		res, err := store.ApplyRetention(ctx, st, p, time.Now())
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			e.log.Error("retention failed; retrying tomorrow", "err", err)
		case res.NearMisses+res.Tracks+res.Health > 0 || len(res.PartitionsDropped) > 0:
			e.log.Info("retention applied", "near_misses", res.NearMisses, "tracks", res.Tracks, "health", res.Health, "partitions_dropped", res.PartitionsDropped)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(24 * time.Hour):
		}
	}
}

// logProgress logs ingest counters every 10 s while they change.
func logProgress(ctx context.Context, e env, in *ingest.Ingester) error {
	t := time.NewTicker(10 * time.Second)
	defer t.Stop()
	var last ingest.Stats
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			s := in.Stats()
			if s != last {
				e.log.Info("ingest progress", "received", s.Received, "inserted", s.Inserted, "duplicates", s.Duplicates, "dead_letters", s.DeadLetters,
					"pending", s.Pending, "held", s.Held, "write_errors", s.WriteErrors)
				last = s
			}
		}
	}
}
