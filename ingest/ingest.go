// Package ingest moves events from JetStream into the store. It pulls from a
// durable consumer per stream, decodes and validates each message, writes a
// batch in one transaction and acknowledges only after the commit, so a
// crash at any point loses nothing: unacknowledged messages are delivered
// again and the store drops them by event ID. A message that cannot be used
// goes to the dead-letter table with the reason and is acknowledged; it never
// stops the consumer.
package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/intersect-oss/intersect/events"
	"github.com/intersect-oss/intersect/store"
)

// Writer is the part of the store ingest needs.
type Writer interface {
	Write(ctx context.Context, b store.Batch) (store.WriteResult, error)
}

// Config tunes the consumer. The zero value is usable.
type Config struct {
	// Durable is the consumer name; services sharing it share the work.
	Durable string
	// BatchSize is the most messages written in one transaction.
	BatchSize int
	// MaxWait is how long a fetch waits to fill a batch before writing
	// what it has: the bound on added latency at low rates.
	MaxWait time.Duration
	// AckWait is how long JetStream waits for an ack before redelivering;
	// after a crash, this is how long the unacknowledged tail waits.
	AckWait time.Duration
	// MaxAckPending bounds messages in flight: the backpressure that keeps
	// memory flat when the store is slow (JetStream holds the backlog).
	MaxAckPending int
}

func (c Config) withDefaults() Config {
	if c.Durable == "" {
		c.Durable = "ingest"
	}
	if c.BatchSize <= 0 {
		c.BatchSize = 1000
	}
	if c.MaxWait <= 0 {
		c.MaxWait = 200 * time.Millisecond
	}
	if c.AckWait <= 0 {
		c.AckWait = 10 * time.Second
	}
	if c.MaxAckPending <= 0 {
		c.MaxAckPending = 4 * c.BatchSize
	}
	return c
}

// Stats are the ingest counters since start.
type Stats struct {
	Received    int64 `json:"received"`
	Inserted    int64 `json:"inserted"`
	Duplicates  int64 `json:"duplicates"`
	DeadLetters int64 `json:"dead_letters"`
	Batches     int64 `json:"batches"`
	WriteErrors int64 `json:"write_errors"`
	// Pending is the consumers' backlog (messages not yet delivered) at the
	// last check: the lag health reports.
	Pending int64 `json:"pending"`
}

// Ingester runs the consumers.
type Ingester struct {
	js  jetstream.JetStream
	w   Writer
	cfg Config
	log *slog.Logger

	received, inserted, duplicates, dead, batches, writeErrors atomic.Int64
	pending                                                    sync.Map // stream name → int64
}

// New returns an Ingester; call Run to start it.
func New(js jetstream.JetStream, w Writer, cfg Config, log *slog.Logger) *Ingester {
	return &Ingester{js: js, w: w, cfg: cfg.withDefaults(), log: log}
}

// Stats returns a snapshot of the counters.
func (in *Ingester) Stats() Stats {
	s := Stats{
		Received: in.received.Load(), Inserted: in.inserted.Load(), Duplicates: in.duplicates.Load(),
		DeadLetters: in.dead.Load(), Batches: in.batches.Load(), WriteErrors: in.writeErrors.Load(),
	}
	in.pending.Range(func(_, v any) bool { s.Pending += v.(int64); return true })
	return s
}

// Run consumes both streams until ctx ends. It returns nil on a clean
// shutdown and an error only when the consumers cannot be set up.
func (in *Ingester) Run(ctx context.Context) error {
	streams := []string{events.EventsStream, events.RecommendationsStream}
	consumers := make([]jetstream.Consumer, 0, len(streams))
	for _, name := range streams {
		c, err := in.js.CreateOrUpdateConsumer(ctx, name, jetstream.ConsumerConfig{
			Durable:       in.cfg.Durable,
			Description:   "intersect ingest: events into the store, ack after commit",
			AckPolicy:     jetstream.AckExplicitPolicy,
			AckWait:       in.cfg.AckWait,
			MaxAckPending: in.cfg.MaxAckPending,
			MaxDeliver:    -1,
			DeliverPolicy: jetstream.DeliverAllPolicy,
		})
		if err != nil {
			return fmt.Errorf("ingest: creating consumer %s on stream %s: %w", in.cfg.Durable, name, err)
		}
		consumers = append(consumers, c)
	}
	var wg sync.WaitGroup
	for i, c := range consumers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			in.consume(ctx, streams[i], c)
		}()
	}
	wg.Wait()
	return nil
}

func (in *Ingester) consume(ctx context.Context, stream string, c jetstream.Consumer) {
	log := in.log.With("stream", stream)
	backoff := newBackoff(100*time.Millisecond, 5*time.Second)
	lastLagCheck := time.Time{}
	for ctx.Err() == nil {
		if time.Since(lastLagCheck) > 2*time.Second {
			lastLagCheck = time.Now()
			if info, err := c.Info(ctx); err == nil {
				in.pending.Store(stream, int64(info.NumPending))
			}
		}
		batch, err := c.Fetch(in.cfg.BatchSize, jetstream.FetchMaxWait(in.cfg.MaxWait))
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			log.Warn("fetch failed; retrying", "err", err)
			backoff.wait(ctx)
			continue
		}
		var msgs []jetstream.Msg
		for m := range batch.Messages() {
			msgs = append(msgs, m)
		}
		if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) && ctx.Err() == nil {
			log.Warn("fetch ended early", "err", err, "messages", len(msgs))
		}
		if len(msgs) == 0 {
			continue
		}
		backoff.reset()
		if !in.handle(ctx, log, msgs) {
			return
		}
	}
}

// handle writes one fetched batch and acks it. It returns false when ctx
// ended before the batch could be committed (the messages will be
// redelivered to whoever consumes next).
func (in *Ingester) handle(ctx context.Context, log *slog.Logger, msgs []jetstream.Msg) bool {
	in.received.Add(int64(len(msgs)))
	b := Decode(msgs, log)
	backoff := newBackoff(200*time.Millisecond, 5*time.Second)
	for {
		res, err := in.w.Write(ctx, b)
		if err == nil {
			in.inserted.Add(int64(res.Inserted))
			in.duplicates.Add(int64(res.Duplicates))
			in.dead.Add(int64(res.Dead))
			in.batches.Add(1)
			break
		}
		if ctx.Err() != nil {
			return false
		}
		in.writeErrors.Add(1)
		log.Error("store write failed; holding the batch and retrying", "err", err, "messages", len(msgs))
		// Keep the messages ours while we retry, so JetStream does not
		// hand them to another consumer meanwhile.
		for _, m := range msgs {
			_ = m.InProgress()
		}
		backoff.wait(ctx)
	}
	for _, m := range msgs {
		if err := m.Ack(); err != nil {
			// The rows are committed; a lost ack means a redelivery that
			// the store drops as a duplicate.
			log.Debug("ack failed", "err", err)
		}
	}
	return true
}

// Decode turns fetched messages into a store batch: valid events, and dead
// letters with the reason for the rest.
func Decode(msgs []jetstream.Msg, log *slog.Logger) store.Batch {
	var b store.Batch
	for _, m := range msgs {
		ev, err := events.Decode(m.Data())
		if err != nil {
			key := m.Headers().Get(jetstream.MsgIDHeader)
			if md, mdErr := m.Metadata(); mdErr == nil {
				key = fmt.Sprintf("%s:%d", md.Stream, md.Sequence.Stream)
			}
			log.Warn("dead-lettering a message", "subject", m.Subject(), "reason", err)
			b.Dead = append(b.Dead, store.DeadLetter{Key: key, Subject: m.Subject(), Data: m.Data(), Reason: err.Error(), At: time.Now().UTC()})
			continue
		}
		b.Events = append(b.Events, ev)
	}
	return b
}

type backoff struct {
	min, max, cur time.Duration
}

func newBackoff(min, max time.Duration) *backoff { return &backoff{min: min, max: max, cur: min} }

func (b *backoff) reset() { b.cur = b.min }

func (b *backoff) wait(ctx context.Context) {
	t := time.NewTimer(b.cur)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
	b.cur = min(2*b.cur, b.max)
}
