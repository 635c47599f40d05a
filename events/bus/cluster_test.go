package bus

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/intersect-oss/intersect/events"
)

// TestClusterSurvivesLeaderLoss starts three nodes, declares R3 streams
// through the seed list, kills the events stream's leader, and checks that
// a new leader is elected, the stored events survive and publishing goes on.
func TestClusterSurvivesLeaderLoss(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl, err := StartCluster(ctx, ClusterOptions{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Shutdown()
	seeds := cl.URLs()
	if n := len(strings.Split(seeds, ",")); n != 3 {
		t.Fatalf("seed list %q has %d URLs, want 3", seeds, n)
	}
	nc, err := Connect(ctx, seeds, "test", quiet())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if r := ReplicasFor(nc); r != 3 {
		t.Errorf("ReplicasFor on a 3-node cluster = %d, want 3", r)
	}
	js, _ := jetstream.New(nc)
	if err := EnsureStreams(ctx, js, 3); err != nil {
		t.Fatal(err)
	}
	// A service started with replicas=1 must not shrink the stream.
	if err := EnsureStreams(ctx, js, 1); err != nil {
		t.Fatal(err)
	}
	s, _ := js.Stream(ctx, events.EventsStream)
	if r := s.CachedInfo().Config.Replicas; r != 3 {
		t.Fatalf("events stream has %d replicas after EnsureStreams(1), want 3", r)
	}
	publish := func(n int) {
		for range n {
			ev := &events.CameraHealth{Header: events.NewHeader(events.KindHealth, "s", "c", time.Now()), Status: events.CameraOK, Detector: "motion"}
			for {
				pctx, pcancel := context.WithTimeout(ctx, 2*time.Second)
				_, err := Publish(pctx, js, ev)
				pcancel()
				if err == nil {
					break
				}
				if ctx.Err() != nil {
					t.Fatalf("publishing during failover: %v", err)
				}
				time.Sleep(100 * time.Millisecond)
			}
		}
	}
	publish(100)
	leader, err := cl.WaitStreamLeader(ctx, events.EventsStream)
	if err != nil {
		t.Fatal(err)
	}
	cl.Kill(leader)
	publish(100)
	next, err := cl.WaitStreamLeader(ctx, events.EventsStream)
	if err != nil {
		t.Fatal(err)
	}
	if next == leader {
		t.Fatalf("node %d still leads after it was killed", leader)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 200 {
		t.Errorf("stream holds %d messages after the leader's loss, want 200", info.State.Msgs)
	}
	if n := len(strings.Split(cl.URLs(), ",")); n != 2 {
		t.Errorf("seed list after a kill names %d running nodes, want 2", n)
	}
}

func TestStandaloneReplicas(t *testing.T) {
	ctx := context.Background()
	srv, err := StartServer(ctx, ServerOptions{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	nc, err := Connect(ctx, srv.ClientURL(), "test", quiet())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if r := ReplicasFor(nc); r != 1 {
		t.Errorf("ReplicasFor on one server = %d, want 1", r)
	}
}
