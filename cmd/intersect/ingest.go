package main

import (
	"context"
	"time"

	"github.com/intersect-oss/intersect/ingest"
)

func ingestCommand() command {
	return command{
		name:    "ingest",
		summary: "move events from NATS JetStream into the store (ack after commit, idempotent)",
		run:     runIngest,
	}
}

func runIngest(ctx context.Context, e env) error {
	fs := newFlags(e, "ingest", "ingest [--nats URL] [--db DSN] [--data-dir DIR]", `
Consumes near misses, track summaries, camera health, weather, recommendations
and acks from JetStream (durable consumer "ingest") and writes them to the
store in batches, acknowledging each message only after its batch commits.
Duplicates (same event ID) are dropped; messages that fail validation go to
the dead-letter table with the reason. Safe to kill at any time: restarting
resumes where the last commit ended.`)
	var c commonFlags
	c.register(fs, "data")
	var cfg ingest.Config
	fs.IntVar(&cfg.BatchSize, "batch", 1000, "most events written per transaction")
	fs.DurationVar(&cfg.MaxWait, "max-wait", 200*time.Millisecond, "longest wait to fill a batch before writing it")
	fs.DurationVar(&cfg.AckWait, "ack-wait", 10*time.Second, "JetStream redelivery timeout for unacknowledged messages")
	if err := parse(fs, e.args); err != nil {
		return err
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
	in := ingest.New(b.js, st, cfg, e.log)
	e.log.Info("ingest running", "nats", b.url, "batch", cfg.BatchSize)
	g := newGroup(ctx)
	g.spawn("ingest", in.Run)
	g.spawn("progress", func(ctx context.Context) error { return logProgress(ctx, e, in) })
	err = g.wait()
	s := in.Stats()
	e.log.Info("ingest stopped", "received", s.Received, "inserted", s.Inserted, "duplicates", s.Duplicates, "dead_letters", s.DeadLetters)
	return err
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
				e.log.Info("ingest progress", "received", s.Received, "inserted", s.Inserted, "duplicates", s.Duplicates, "dead_letters", s.DeadLetters, "pending", s.Pending)
				last = s
			}
		}
	}
}
