package outbox

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/intersect-oss/intersect/events"
	"github.com/intersect-oss/intersect/events/bus"
	"github.com/intersect-oss/intersect/events/bus/bustest"
)

var long = flag.Bool("long", false, "run the NATS outage test with the issue's 30 s outage")

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// memPub records what it was given; fail makes it return an error.
type memPub struct {
	mu   sync.Mutex
	got  []string
	fail bool
}

func (m *memPub) Publish(_ context.Context, subject, id string, data []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail {
		return errors.New("down")
	}
	m.got = append(m.got, id)
	return nil
}

func TestOutboxSurvivesRestartAndKeepsOrder(t *testing.T) {
	dir := t.TempDir()
	o, err := Open(dir, Options{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		if err := o.Put("s", fmt.Sprint(i), events.KindNearMiss, []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	// A new process opens the same directory: everything is still there.
	o2, err := Open(dir, Options{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	if s := o2.Stats(); s.Events != 5 {
		t.Fatalf("reopened outbox holds %d events, want 5", s.Events)
	}
	_ = o2.Put("s", "5", events.KindTrack, []byte("y"))
	p := &memPub{}
	if err := o2.Drain(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(p.got) != "[0 1 2 3 4 5]" {
		t.Errorf("delivered %v, want 0..5 in order", p.got)
	}
	if s := o2.Stats(); s.Events != 0 || s.Published != 6 {
		t.Errorf("after drain: %+v", s)
	}
}

func TestOutboxCapPolicy(t *testing.T) {
	o, err := Open(t.TempDir(), Options{MaxEvents: 4, HardCap: 6, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	put := func(id string, k events.Kind) {
		if err := o.Put("s", id, k, nil); err != nil {
			t.Fatal(err)
		}
	}
	put("h1", events.KindHealth)
	put("n1", events.KindNearMiss)
	put("t1", events.KindTrack)
	put("h2", events.KindHealth)
	put("n2", events.KindNearMiss) // over 4: h1 goes
	put("n3", events.KindNearMiss) // h2 goes
	put("n4", events.KindNearMiss) // t1 goes
	put("n5", events.KindNearMiss) // only near misses left: kept up to the hard cap
	put("n6", events.KindNearMiss)
	put("n7", events.KindNearMiss) // over the hard cap (6): n1 goes
	p := &memPub{}
	if err := o.Drain(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(p.got); got != "[n2 n3 n4 n5 n6 n7]" {
		t.Errorf("delivered %s", got)
	}
	s := o.Stats()
	if s.Dropped[events.KindHealth] != 2 || s.Dropped[events.KindTrack] != 1 || s.Dropped[events.KindNearMiss] != 1 {
		t.Errorf("dropped %v, want health 2, track 1, nearmiss 1", s.Dropped)
	}
}

func TestOutboxRetriesInOrder(t *testing.T) {
	o, _ := Open(t.TempDir(), Options{RetryMin: time.Millisecond, RetryMax: 5 * time.Millisecond, Logger: quiet()})
	p := &memPub{fail: true}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- o.Run(ctx, p) }()
	for i := 0; i < 3; i++ {
		_ = o.Put("s", strconv.Itoa(i), events.KindNearMiss, nil)
	}
	time.Sleep(30 * time.Millisecond)
	if s := o.Stats(); s.Events != 3 || s.Oldest <= 0 {
		t.Errorf("while down: %+v, want 3 waiting with an age", s)
	}
	p.mu.Lock()
	p.fail = false
	p.mu.Unlock()
	deadline := time.Now().Add(5 * time.Second)
	for o.Stats().Events > 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
	if fmt.Sprint(p.got) != "[0 1 2]" {
		t.Errorf("delivered %v", p.got)
	}
}

// lossyAck publishes but, every 7th message, reports a failure as if the
// PubAck had been lost: the outbox retries and the stream must drop the
// duplicate by Nats-Msg-Id.
type lossyAck struct {
	JetStream
	n atomic.Int64
}

func (l *lossyAck) Publish(ctx context.Context, subject, id string, data []byte) error {
	if err := l.JetStream.Publish(ctx, subject, id, data); err != nil {
		return err
	}
	if l.n.Add(1)%7 == 0 {
		return errors.New("PubAck lost (simulated)")
	}
	return nil
}

// TestNATSOutageExactlyOnce is issue 3's must-show 4: events are produced
// steadily while the NATS server is stopped for an outage and restarted on
// the same port and store; every event arrives exactly once and in order.
// The outage is 5 s by default and the 30 s with -long. (Under CI
// the worker-level test in package edge runs the 30 s outage; once is
// enough for the CI budget.)
func TestNATSOutageExactlyOnce(t *testing.T) {
	outage := 5 * time.Second
	if *long {
		outage = 30 * time.Second
	}
	runOutage(t, outage)
}

func runOutage(t *testing.T, outage time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), outage+60*time.Second)
	defer cancel()
	natsDir := t.TempDir()
	nb := bustest.StartWith(t, bus.ServerOptions{DataDir: natsDir, Name: "outage-test"})
	srv, js := nb.Server, nb.JS
	u, _ := url.Parse(nb.URL)
	port, _ := strconv.Atoi(u.Port())

	ob, err := Open(t.TempDir(), Options{RetryMin: 50 * time.Millisecond, RetryMax: time.Second, PublishTTL: time.Second, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stopRun := context.WithCancel(ctx)
	runDone := make(chan error, 1)
	go func() { runDone <- ob.Run(runCtx, &lossyAck{JetStream: JetStream{JS: js}}) }()

	// The producer: a near miss every 50 ms, plus a snapshot with each
	// 10th, for the whole test, like a worker on a file.
	subject := events.CameraSubject("demo", "cam-1", events.KindNearMiss)
	var ids []string
	produce := func(d time.Duration) {
		end := time.Now().Add(d)
		for time.Now().Before(end) {
			id := events.NewID()
			if len(ids)%10 == 0 {
				if err := ob.Put(SnapshotSubject, id, KindSnapshot, []byte("jpeg-"+id)); err != nil {
					t.Fatal(err)
				}
			}
			if err := ob.Put(subject, id, events.KindNearMiss, []byte(`{"id":"`+id+`"}`)); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, id)
			time.Sleep(50 * time.Millisecond)
		}
	}
	produce(time.Second)
	srv.Shutdown()
	t.Logf("NATS stopped for %s", outage)
	produce(outage)
	if s := ob.Stats(); s.Events == 0 || s.Oldest < outage/2 {
		t.Errorf("during the outage the outbox holds %d events, oldest %s: events were not kept", s.Events, s.Oldest)
	}
	srv, err = bus.StartServer(ctx, bus.ServerOptions{DataDir: natsDir, Name: "outage-test", Port: port})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	produce(time.Second)
	for ob.Stats().Events > 0 && ctx.Err() == nil {
		time.Sleep(20 * time.Millisecond)
	}
	stopRun()
	<-runDone
	if ctx.Err() != nil {
		t.Fatalf("outbox not drained: %+v", ob.Stats())
	}

	// Read the stream back: every ID exactly once, in production order.
	cons, err := js.OrderedConsumer(ctx, events.EventsStream, jetstream.OrderedConsumerConfig{FilterSubjects: []string{subject}})
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	var order []string
	for len(order) < len(ids)+1 {
		m, err := cons.Next(jetstream.FetchMaxWait(2 * time.Second))
		if err != nil {
			break // no more messages
		}
		id := m.Headers().Get("Nats-Msg-Id")
		count[id]++
		order = append(order, id)
	}
	if len(order) != len(ids) {
		t.Errorf("stream holds %d messages, produced %d", len(order), len(ids))
	}
	for i, id := range ids {
		if count[id] != 1 {
			t.Errorf("event %d (%s) arrived %d times", i, id, count[id])
		}
	}
	for i := range order {
		if i < len(ids) && order[i] != ids[i] {
			t.Errorf("message %d is %s, want %s: order broken", i, order[i], ids[i])
			break
		}
	}
	obs, err := js.ObjectStore(ctx, events.SnapshotBucket)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(ids); i += 10 {
		b, err := obs.GetBytes(ctx, ids[i])
		if err != nil || string(b) != "jpeg-"+ids[i] {
			t.Errorf("snapshot %s: %q, %v", ids[i], b, err)
		}
	}
	t.Logf("%d events through a %s outage: all exactly once, in order; %d snapshots stored", len(ids), outage, (len(ids)+9)/10)
}
