package loadgen

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/intersect-oss/intersect/events"
)

// Options bound a load run. At least one of Duration and Count is required.
type Options struct {
	// RatePerS is the target events/s over all cameras; 0 publishes as fast
	// as JetStream acknowledges.
	RatePerS float64
	// Duration stops the run after this long (wall time).
	Duration time.Duration
	// Count stops the run after this many distinct events.
	Count int
	// MaxPending bounds async publishes awaiting their ack (default 4096).
	MaxPending int
	// AckTimeout is how long one publish waits for its ack before it is
	// retried with the same message ID (default 5 s).
	AckTimeout time.Duration
	// OnPublished, if set, is called once per distinct event after
	// JetStream acknowledged it (from one goroutine, in ack order).
	OnPublished func(ev events.Event, ack *jetstream.PubAck)
	Log         *slog.Logger
}

// Report is what a run published.
type Report struct {
	// Events is the number of distinct events acknowledged by JetStream.
	Events int64 `json:"events"`
	// Retries counts publishes repeated after an error or timeout (same
	// message ID); Duplicates counts acks JetStream flagged as duplicate,
	// i.e. retries of events it had already stored.
	Retries    int64            `json:"retries"`
	Duplicates int64            `json:"duplicates"`
	ByKind     map[string]int64 `json:"by_kind"`
	BySubject  map[string]int64 `json:"by_subject"`
	Elapsed    time.Duration    `json:"elapsed_ns"`
	// SimulatedSpan is how much simulated traffic time the events cover.
	SimulatedSpan time.Duration `json:"simulated_span_ns"`
}

// RatePerS is the achieved rate of distinct events.
func (r Report) RatePerS() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Events) / r.Elapsed.Seconds()
}

// String is a short human summary, one line per kind.
func (r Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "published %d events in %s (%.0f events/s), %d retries, %d duplicates dropped by JetStream, %s of simulated traffic\n",
		r.Events, r.Elapsed.Round(time.Millisecond), r.RatePerS(), r.Retries, r.Duplicates, r.SimulatedSpan.Round(time.Second))
	for _, k := range slices.Sorted(maps.Keys(r.ByKind)) {
		fmt.Fprintf(&b, "  %-10s %d\n", k, r.ByKind[k])
	}
	return b.String()
}

type inflight struct {
	ev   events.Event
	subj string
	data []byte
	f    jetstream.PubAckFuture
}

// Run publishes gen's events to JetStream over nc until the options' count
// or duration is reached or ctx ends. Every event is published with its ID
// as Nats-Msg-Id; a publish that fails or times out is repeated with the
// same ID until it is acknowledged, so the stream holds each event once
// even across a server failover. Run returns when every published event has
// been acknowledged (or ctx ended: then with ctx's error).
func Run(ctx context.Context, nc *nats.Conn, gen *Generator, o Options) (Report, error) {
	if o.Duration <= 0 && o.Count <= 0 {
		return Report{}, errors.New("loadgen: set a duration or a count, or the run never ends")
	}
	if o.RatePerS < 0 {
		return Report{}, fmt.Errorf("loadgen: rate %v events/s is negative", o.RatePerS)
	}
	if o.MaxPending <= 0 {
		o.MaxPending = 4096
	}
	if o.AckTimeout <= 0 {
		o.AckTimeout = 5 * time.Second
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(o.MaxPending), jetstream.WithPublishAsyncTimeout(o.AckTimeout))
	if err != nil {
		return Report{}, fmt.Errorf("loadgen: JetStream: %w", err)
	}
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	rep := Report{ByKind: map[string]int64{}, BySubject: map[string]int64{}}
	first := time.Time{}
	start := time.Now()

	// The acker waits for each ack in publish order and retries failures;
	// the channel bound is the publishing window.
	pending := make(chan inflight, o.MaxPending)
	var ackErr error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for p := range pending {
			var ack *jetstream.PubAck
			select {
			case ack = <-p.f.Ok():
			case err := <-p.f.Err():
				o.Log.Debug("publish failed; retrying with the same message ID", "id", p.ev.Head().ID, "err", err)
				ack, err = publishUntilAcked(ctx, js, p, o, &rep.Retries)
				if err != nil {
					ackErr = err
					cancel()
					// Drain so the publisher never blocks on a full window.
					for range pending {
					}
					return
				}
			case <-ctx.Done():
				ackErr = ctx.Err()
				for range pending {
				}
				return
			}
			if ack.Duplicate {
				rep.Duplicates++
			}
			rep.Events++
			rep.ByKind[string(p.ev.Head().Kind)]++
			rep.BySubject[p.subj]++
			if o.OnPublished != nil {
				o.OnPublished(p.ev, ack)
			}
		}
	}()

	var pubErr error
	for n := 0; o.Count <= 0 || n < o.Count; n++ {
		if ctx.Err() != nil {
			pubErr = ctx.Err()
			break
		}
		if o.Duration > 0 && time.Since(start) >= o.Duration {
			break
		}
		if o.RatePerS > 0 {
			// Pace against the schedule, not the previous send, so
			// the average rate holds even when single sends are slow.
			due := start.Add(time.Duration(float64(n) / o.RatePerS * float64(time.Second)))
			if d := time.Until(due); d > 0 {
				t := time.NewTimer(d)
				select {
				case <-ctx.Done():
				case <-t.C:
				}
				t.Stop()
			}
		}
		ev := gen.Next()
		if first.IsZero() {
			first = ev.Head().Time
		}
		data, err := events.Encode(ev)
		if err != nil {
			pubErr = fmt.Errorf("loadgen: generated an invalid event (a loadgen bug): %w", err)
			break
		}
		p := inflight{ev: ev, subj: events.Subject(ev), data: data}
		for {
			p.f, err = js.PublishAsync(p.subj, p.data, jetstream.WithMsgID(ev.Head().ID))
			if err == nil {
				break
			}
			// Stalled window or no connection right now: wait and
			// try again with the same ID.
			if ctx.Err() != nil {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if err != nil {
			pubErr = ctx.Err()
			break
		}
		pending <- p
	}
	close(pending)
	wg.Wait()
	rep.Elapsed = time.Since(start)
	if !first.IsZero() {
		rep.SimulatedSpan = gen.Now().Sub(first)
	}
	if ackErr != nil {
		return rep, ackErr
	}
	if pubErr != nil {
		return rep, pubErr
	}
	return rep, parent.Err()
}

// publishUntilAcked repeats one publish, synchronously, with the same
// message ID until JetStream acknowledges it or ctx ends.
func publishUntilAcked(ctx context.Context, js jetstream.JetStream, p inflight, o Options, retries *int64) (*jetstream.PubAck, error) {
	wait := 100 * time.Millisecond
	for {
		*retries++
		pctx, cancel := context.WithTimeout(ctx, o.AckTimeout)
		ack, err := js.Publish(pctx, p.subj, p.data, jetstream.WithMsgID(p.ev.Head().ID))
		cancel()
		if err == nil {
			return ack, nil
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("loadgen: publishing %s on %s: %w", p.ev.Head().ID, p.subj, ctx.Err())
		}
		o.Log.Debug("retry failed", "id", p.ev.Head().ID, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
		wait = min(2*wait, 2*time.Second)
	}
}
