// Package outbox keeps a camera's events on disk until JetStream has
// acknowledged them, so that a NATS outage of minutes loses nothing and
// events still arrive in the order they were born.
//
// Layout: one file per event in the outbox directory, named by a
// zero-padded sequence number, written to a temporary name, fsynced and
// renamed (then the directory fsynced). One-file-per-event was chosen over
// an append-only segment because removal after the PubAck is a single
// unlink with no compaction, a crash can leave at worst one temporary file
// (ignored at open), and the directory listing is the queue: the edge box
// produces a few events per second, far below where per-file cost matters.
//
// Bound and policy when full (Options.MaxEvents): the oldest health report
// is dropped first, then the oldest track summary; near misses are never
// dropped until HardCap, after which the oldest near miss goes too. Every
// drop is counted by kind (Stats).
package outbox

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/intersect-oss/intersect/events"
)

// Publisher sends one message and returns once the server has acknowledged
// it (JetStream PubAck). msgID is the event ID, used for deduplication.
type Publisher interface {
	Publish(ctx context.Context, subject, msgID string, data []byte) error
}

// Options bound the outbox.
type Options struct {
	MaxEvents  int           // soft cap: beyond it health, then track events are dropped [10000]
	HardCap    int           // beyond it even near misses are dropped, oldest first [100000]
	RetryMin   time.Duration // first retry delay after a failed publish [200ms]
	RetryMax   time.Duration // cap of the exponential backoff [10s]
	Logger     *slog.Logger
	NoSync     bool // skip fsync (benchmarks of the rest of the pipeline only)
	PublishTTL time.Duration
}

// Stats describes the outbox for CameraHealth.
type Stats struct {
	Events    int           // waiting
	Oldest    time.Duration // age of the oldest waiting event
	Published int64
	Dropped   map[events.Kind]int64
}

type entry struct {
	seq     uint64
	kind    events.Kind
	created time.Time
}

// Outbox is a directory of events waiting for their PubAck.
type Outbox struct {
	dir  string
	opts Options
	log  *slog.Logger

	mu        sync.Mutex
	queue     []entry // ascending seq
	next      uint64
	published int64
	dropped   map[events.Kind]int64
	wake      chan struct{}
}

// header is the first line of an event file.
type header struct {
	Subject string      `json:"subject"`
	MsgID   string      `json:"msg_id"`
	Kind    events.Kind `json:"kind"`
	Created time.Time   `json:"created"`
}

const suffix = ".evt"

// Open opens (creating if needed) the outbox in dir and reloads whatever a
// previous run left in it.
func Open(dir string, opts Options) (*Outbox, error) {
	if opts.MaxEvents <= 0 {
		opts.MaxEvents = 10000
	}
	if opts.HardCap < opts.MaxEvents {
		opts.HardCap = max(100000, opts.MaxEvents)
	}
	if opts.RetryMin <= 0 {
		opts.RetryMin = 200 * time.Millisecond
	}
	if opts.RetryMax <= 0 {
		opts.RetryMax = 10 * time.Second
	}
	if opts.PublishTTL <= 0 {
		opts.PublishTTL = 5 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating outbox %s: %w", dir, err)
	}
	o := &Outbox{dir: dir, opts: opts, log: opts.Logger, dropped: map[events.Kind]int64{}, wake: make(chan struct{}, 1)}
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("reading outbox %s: %w", dir, err)
	}
	for _, de := range des {
		name := de.Name()
		if strings.HasSuffix(name, ".tmp") {
			_ = os.Remove(filepath.Join(dir, name)) // a write cut short by a crash: never acknowledged to the producer
			continue
		}
		if !strings.HasSuffix(name, suffix) {
			continue
		}
		seq, err := strconv.ParseUint(strings.TrimSuffix(name, suffix), 10, 64)
		if err != nil {
			continue
		}
		h, _, err := o.read(seq)
		if err != nil {
			o.log.Warn("outbox: unreadable event file set aside", "file", filepath.Join(dir, name), "err", err)
			_ = os.Rename(filepath.Join(dir, name), filepath.Join(dir, name+".bad"))
			continue
		}
		o.queue = append(o.queue, entry{seq: seq, kind: h.Kind, created: h.Created})
		o.next = max(o.next, seq+1)
	}
	sort.Slice(o.queue, func(i, j int) bool { return o.queue[i].seq < o.queue[j].seq })
	return o, nil
}

func (o *Outbox) path(seq uint64) string {
	return filepath.Join(o.dir, fmt.Sprintf("%020d%s", seq, suffix))
}

// Put stores an event durably. It returns once the event is on disk; it
// never waits for NATS.
func (o *Outbox) Put(subject, msgID string, kind events.Kind, data []byte) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	seq := o.next
	o.next++
	h, err := json.Marshal(header{Subject: subject, MsgID: msgID, Kind: kind, Created: time.Now().UTC()})
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	buf.Grow(len(h) + 1 + len(data))
	buf.Write(h)
	buf.WriteByte('\n')
	buf.Write(data)
	final := o.path(seq)
	tmp := final + ".tmp"
	if err := writeFile(tmp, buf.Bytes(), !o.opts.NoSync); err != nil {
		return fmt.Errorf("outbox: writing %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, final); err != nil {
		return fmt.Errorf("outbox: renaming %s: %w", tmp, err)
	}
	if !o.opts.NoSync {
		syncDir(o.dir)
	}
	o.queue = append(o.queue, entry{seq: seq, kind: kind, created: time.Now()})
	o.enforceCap()
	select {
	case o.wake <- struct{}{}:
	default:
	}
	return nil
}

// enforceCap applies the drop policy; o.mu is held.
func (o *Outbox) enforceCap() {
	for len(o.queue) > o.opts.MaxEvents {
		i := o.oldestOf(events.KindHealth)
		if i < 0 {
			i = o.oldestOf(events.KindTrack)
		}
		if i < 0 {
			if len(o.queue) <= o.opts.HardCap {
				return
			}
			i = 0
		}
		e := o.queue[i]
		_ = os.Remove(o.path(e.seq))
		o.queue = append(o.queue[:i], o.queue[i+1:]...)
		o.dropped[e.kind]++
		o.log.Warn("outbox full: dropped an event", "kind", e.kind, "waiting", len(o.queue))
	}
}

func (o *Outbox) oldestOf(k events.Kind) int {
	for i, e := range o.queue {
		if e.kind == k {
			return i
		}
	}
	return -1
}

// Stats returns the outbox's size, the age of its oldest event and counters.
func (o *Outbox) Stats() Stats {
	o.mu.Lock()
	defer o.mu.Unlock()
	s := Stats{Events: len(o.queue), Published: o.published, Dropped: map[events.Kind]int64{}}
	for k, v := range o.dropped {
		s.Dropped[k] = v
	}
	if len(o.queue) > 0 {
		s.Oldest = time.Since(o.queue[0].created)
	}
	return s
}

func (o *Outbox) read(seq uint64) (header, []byte, error) {
	b, err := os.ReadFile(o.path(seq))
	if err != nil {
		return header{}, nil, err
	}
	nl := bytes.IndexByte(b, '\n')
	if nl < 0 {
		return header{}, nil, errors.New("no header line")
	}
	var h header
	if err := json.Unmarshal(b[:nl], &h); err != nil {
		return header{}, nil, fmt.Errorf("header: %w", err)
	}
	return h, b[nl+1:], nil
}

// Run delivers events in order until ctx ends: the head of the queue is
// published until acknowledged (retrying with capped exponential backoff),
// then removed. Order is strict: nothing behind a failing event overtakes it.
func (o *Outbox) Run(ctx context.Context, pub Publisher) error {
	delay := o.opts.RetryMin
	for {
		n, err := o.deliverHead(ctx, pub)
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case err != nil:
			o.log.Debug("outbox: publish failed, will retry", "err", err, "retry_in", delay)
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(delay):
			}
			delay = min(delay*2, o.opts.RetryMax)
		case n == 0:
			delay = o.opts.RetryMin
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-o.wake:
			}
		default:
			delay = o.opts.RetryMin
		}
	}
}

// Drain delivers everything waiting, for a graceful shutdown; it gives up
// when ctx ends and leaves the rest on disk for the next run.
func (o *Outbox) Drain(ctx context.Context, pub Publisher) error {
	for {
		n, err := o.deliverHead(ctx, pub)
		if err != nil {
			return fmt.Errorf("outbox: draining: %w (%d events stay on disk)", err, o.Stats().Events)
		}
		if n == 0 {
			return nil
		}
	}
}

// deliverHead publishes the oldest event; it returns 0 when empty.
func (o *Outbox) deliverHead(ctx context.Context, pub Publisher) (int, error) {
	o.mu.Lock()
	if len(o.queue) == 0 {
		o.mu.Unlock()
		return 0, nil
	}
	head := o.queue[0]
	o.mu.Unlock()
	h, data, err := o.read(head.seq)
	if err != nil {
		// Dropped by the cap policy between unlock and read, or damaged.
		o.remove(head.seq)
		if errors.Is(err, os.ErrNotExist) {
			return 1, nil
		}
		o.log.Error("outbox: unreadable event dropped", "seq", head.seq, "err", err)
		return 1, nil
	}
	pctx, cancel := context.WithTimeout(ctx, o.opts.PublishTTL)
	err = pub.Publish(pctx, h.Subject, h.MsgID, data)
	cancel()
	if err != nil {
		return 0, fmt.Errorf("publishing %s %s: %w", h.Kind, h.MsgID, err)
	}
	o.remove(head.seq)
	o.mu.Lock()
	o.published++
	o.mu.Unlock()
	return 1, nil
}

func (o *Outbox) remove(seq uint64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for i, e := range o.queue {
		if e.seq == seq {
			o.queue = append(o.queue[:i], o.queue[i+1:]...)
			break
		}
	}
	_ = os.Remove(o.path(seq))
}

func writeFile(name string, data []byte, sync bool) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if sync {
		if err := f.Sync(); err != nil {
			f.Close()
			return err
		}
	}
	return f.Close()
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
}
