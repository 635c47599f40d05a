package loadgen_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/intersect-oss/intersect/events/bus"
	"github.com/intersect-oss/intersect/events/loadgen"
)

// BenchmarkPublish measures what one publisher gets acknowledged by
// JetStream with the realistic mix: a single server with R1 streams and a
// 3-node in-process cluster with R3 streams (all on this machine's cores, so
// the cluster figure is a floor for three real hosts).
func BenchmarkPublish(b *testing.B) {
	const perIter = 50000
	for _, setup := range []struct {
		name     string
		replicas int
	}{{"single-R1", 1}, {"cluster-R3", 3}} {
		b.Run(setup.name, func(b *testing.B) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			var url string
			if setup.replicas == 1 {
				srv, err := bus.StartServer(ctx, bus.ServerOptions{DataDir: b.TempDir()})
				if err != nil {
					b.Fatal(err)
				}
				defer srv.Shutdown()
				url = srv.ClientURL()
			} else {
				cl, err := bus.StartCluster(ctx, bus.ClusterOptions{DataDir: b.TempDir()})
				if err != nil {
					b.Fatal(err)
				}
				defer cl.Shutdown()
				url = cl.URLs()
			}
			nc, err := bus.Connect(ctx, url, "bench", slog.New(slog.DiscardHandler))
			if err != nil {
				b.Fatal(err)
			}
			defer nc.Close()
			js, _ := jetstream.New(nc)
			if err := bus.EnsureStreams(ctx, js, setup.replicas); err != nil {
				b.Fatal(err)
			}
			gen, _ := loadgen.NewGenerator(loadgen.Layout{Sites: 50, Cameras: 4, Seed: 2}, loadgen.DefaultMix)
			var total time.Duration
			for range b.N {
				rep, err := loadgen.Run(ctx, nc, gen, loadgen.Options{Count: perIter})
				if err != nil {
					b.Fatal(err)
				}
				total += rep.Elapsed
			}
			b.ReportMetric(float64(perIter*b.N)/total.Seconds(), "events/s")
		})
	}
}
