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
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

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
	// MaxWait is how long a batch waits to fill before it is written with
	// what it has: the bound on added latency at low rates.
	MaxWait time.Duration
	// AckWait is how long JetStream waits for an ack before redelivering;
	// after a crash, this is how long the unacknowledged tail waits.
	AckWait time.Duration
	// MaxAckPending bounds messages in flight (delivered, not yet acked):
	// the backpressure that keeps memory flat when the store is slow, since
	// JetStream stops delivering and holds the backlog. Default
	// (Writers+2)×BatchSize: every writer busy, one batch filling, one
	// queued.
	MaxAckPending int
	// Writers is how many batches are decoded and written concurrently per
	// stream (default 2): one batch is written while the next is decoded,
	// and the database commits of two batches overlap.
	Writers int
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
	if c.Writers <= 0 {
		c.Writers = 2
	}
	if c.MaxAckPending <= 0 {
		c.MaxAckPending = (c.Writers + 2) * c.BatchSize
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
	// Held is the messages ingest holds in memory right now (received,
	// not yet acknowledged); MaxHeld is its peak. Both stay within
	// MaxAckPending per stream however large the backlog.
	Held    int64 `json:"held"`
	MaxHeld int64 `json:"max_held"`
}

// Ingester runs the consumers.
type Ingester struct {
	js  jetstream.JetStream
	w   Writer
	cfg Config
	log *slog.Logger

	received, inserted, duplicates, dead, batches, writeErrors atomic.Int64
	held, maxHeld                                              atomic.Int64
	pending                                                    sync.Map // stream name → int64
	weather                                                    *weatherStamper
}

// New returns an Ingester; call Run to start it.
func New(js jetstream.JetStream, w Writer, cfg Config, log *slog.Logger) *Ingester {
	return &Ingester{js: js, w: w, cfg: cfg.withDefaults(), log: log, weather: newWeatherStamper(w)}
}

// Config returns the configuration in effect (defaults applied).
func (in *Ingester) Config() Config { return in.cfg }

// Stats returns a snapshot of the counters.
func (in *Ingester) Stats() Stats {
	s := Stats{
		Received: in.received.Load(), Inserted: in.inserted.Load(), Duplicates: in.duplicates.Load(),
		DeadLetters: in.dead.Load(), Batches: in.batches.Load(), WriteErrors: in.writeErrors.Load(),
		Held: in.held.Load(), MaxHeld: in.maxHeld.Load(),
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
		wg.Add(2)
		go func() {
			defer wg.Done()
			in.consume(ctx, streams[i], c)
		}()
		go func() {
			defer wg.Done()
			in.watchLag(ctx, streams[i], c)
		}()
	}
	wg.Wait()
	return nil
}

// watchLag refreshes the stream's backlog for Stats every second.
func (in *Ingester) watchLag(ctx context.Context, stream string, c jetstream.Consumer) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		ictx, cancel := context.WithTimeout(ctx, 2*time.Second)
		if info, err := c.Info(ictx); err == nil {
			in.pending.Store(stream, int64(info.NumPending))
		}
		cancel()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// consume runs one stream's pipeline: a collector pulls messages into
// batches (JetStream keeps up to MaxAckPending delivered ahead), and Writers
// goroutines decode, write and ack them.
func (in *Ingester) consume(ctx context.Context, stream string, c jetstream.Consumer) {
	log := in.log.With("stream", stream)
	batches := make(chan []jetstream.Msg, 1)
	var wg sync.WaitGroup
	for range in.cfg.Writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for msgs := range batches {
				if ctx.Err() != nil || !in.handle(ctx, log, msgs) {
					// Not committed: JetStream redelivers them to
					// whoever consumes next.
					in.release(len(msgs))
				}
			}
		}()
	}
	in.collect(ctx, log, c, batches)
	close(batches)
	wg.Wait()
}

// collect pulls messages and hands out batches of up to BatchSize, or what
// arrived within MaxWait of a batch's first message, until ctx ends.
//
// It uses Consume rather than Messages().Next with a short timeout: Consume
// keeps one heartbeat monitor for the whole pull, so when a server dies with
// our pull request (a cluster failover) the client notices the missing
// heartbeats and pulls again. With Next and a timeout shorter than the
// heartbeat check, the lost pull went unnoticed and ingest stalled (seen in
// TestClusterNodeLossExactlyOnce).
func (in *Ingester) collect(ctx context.Context, log *slog.Logger, c jetstream.Consumer, out chan<- []jetstream.Msg) {
	msgs := make(chan jetstream.Msg, in.cfg.BatchSize)
	backoff := newBackoff(100*time.Millisecond, 5*time.Second)
	var cc jetstream.ConsumeContext
	for ctx.Err() == nil {
		var err error
		cc, err = c.Consume(func(m jetstream.Msg) {
			select {
			case msgs <- m:
			case <-ctx.Done():
			}
		},
			jetstream.PullMaxMessages(min(in.cfg.MaxAckPending, 2*in.cfg.BatchSize)),
			jetstream.PullHeartbeat(2*time.Second),
			jetstream.PullExpiry(10*time.Second),
			jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
				if ctx.Err() == nil {
					log.Warn("pulling messages", "err", err)
				}
			}))
		if err == nil {
			break
		}
		log.Warn("starting to pull messages failed; retrying", "err", err)
		backoff.wait(ctx)
	}
	if cc == nil {
		return
	}
	defer cc.Stop()

	var batch []jetstream.Msg
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	flush := func() bool {
		timer.Stop()
		if len(batch) == 0 {
			return true
		}
		select {
		case out <- batch:
			batch = nil
			return true
		case <-ctx.Done():
			in.release(len(batch))
			return false
		}
	}
	for {
		select {
		case <-ctx.Done():
			flush()
			return
		case <-timer.C:
			if !flush() {
				return
			}
		case m := <-msgs:
			if len(batch) == 0 {
				timer.Reset(in.cfg.MaxWait)
				batch = make([]jetstream.Msg, 0, in.cfg.BatchSize)
			}
			batch = append(batch, m)
			in.received.Add(1)
			if h := in.held.Add(1); h > in.maxHeld.Load() {
				in.maxHeld.Store(h) // a racy peak is fine for a gauge
			}
			if len(batch) >= in.cfg.BatchSize && !flush() {
				return
			}
		}
	}
}

// release forgets messages that will be redelivered.
func (in *Ingester) release(n int) { in.held.Add(-int64(n)) }

// handle writes one batch and acks it. It returns false when ctx ended
// before the batch could be committed (the messages will be redelivered to
// whoever consumes next).
func (in *Ingester) handle(ctx context.Context, log *slog.Logger, msgs []jetstream.Msg) bool {
	b := Decode(msgs, log)
	// The stamper fills the weather of near misses; their raw bytes then no
	// longer describe them, so the store must encode those afresh.
	var unstamped []int
	for i, ev := range b.Events {
		if nm, ok := ev.(*events.NearMiss); ok && nm.Weather == "" {
			unstamped = append(unstamped, i)
		}
	}
	in.weather.stamp(ctx, b.Events)
	for _, i := range unstamped {
		if b.Events[i].(*events.NearMiss).Weather != "" {
			b.Raw[i] = nil
		}
	}
	// Retry at least twice per AckWait: each retry renews the messages'
	// ack timers with InProgress, so they are not redelivered meanwhile.
	backoff := newBackoff(min(200*time.Millisecond, in.cfg.AckWait/4), min(5*time.Second, in.cfg.AckWait/2))
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
		// hand them to another consumer meanwhile. MaxAckPending stops
		// further deliveries, so the backlog stays in JetStream.
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
	in.release(len(msgs))
	return true
}

// Decode turns fetched messages into a store batch: valid events, each with
// the message's bytes as its raw body, and dead letters with the reason for
// the rest.
func Decode(msgs []jetstream.Msg, log *slog.Logger) store.Batch {
	var b store.Batch
	b.Events = make([]events.Event, 0, len(msgs))
	b.Raw = make([][]byte, 0, len(msgs))
	for _, m := range msgs {
		ev, err := decodeEvent(m.Subject(), m.Data())
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
		b.Raw = append(b.Raw, m.Data())
	}
	return b
}

// decodeEvent is events.Decode in one JSON pass instead of two for the
// common case: the subject's last token names the kind, so the message is
// decoded straight into its type. Anything unusual (a kind the subject does
// not name, a wrong schema or kind in the body, malformed JSON) goes through
// events.Decode, whose verdict and error wording stay the reference. Profiles
// of ingest showed JSON decoding as its largest CPU cost.
func decodeEvent(subject string, data []byte) (events.Event, error) {
	kind := events.Kind(subject[strings.LastIndexByte(subject, '.')+1:])
	var ev events.Event
	switch kind {
	case events.KindNearMiss:
		ev = new(events.NearMiss)
	case events.KindTrack:
		ev = new(events.TrackSummary)
	case events.KindHealth:
		ev = new(events.CameraHealth)
	case events.KindWeather:
		ev = new(events.WeatherObservation)
	case events.KindRecommendation:
		ev = new(events.Recommendation)
	case events.KindAck:
		ev = new(events.Ack)
	default:
		return events.Decode(data)
	}
	if err := json.Unmarshal(data, ev); err != nil {
		return events.Decode(data)
	}
	if h := ev.Head(); h.Schema != events.SchemaVersion || h.Kind != kind {
		return events.Decode(data)
	}
	if err := ev.Validate(); err != nil {
		return nil, err
	}
	return ev, nil
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
