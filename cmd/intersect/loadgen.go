package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/intersect-oss/intersect/events/bus"
	"github.com/intersect-oss/intersect/events/loadgen"
)

func loadgenCommand() command {
	return command{
		name:    "loadgen",
		summary: "publish a realistic event mix for N sites × M cameras at a target rate (benchmarks, fault drills)",
		run:     runLoadgen,
	}
}

func runLoadgen(ctx context.Context, e env) error {
	fs := newFlags(e, "loadgen", "loadgen --nats URL[,URL…] [--sites N] [--cameras M] [--rate R] [--duration D | --count K]", `
Publishes a realistic mix of camera events to JetStream: per camera, track
summaries at traffic rates (--tracks-per-hour), near misses at a few per hour
with plausible TTC/PET/severity/type and positions around each site, and a
health report every --health-every. When --rate is above what the cameras
would produce, simulated time runs faster so the mix keeps its proportions.
Each event is published asynchronously with its ID as Nats-Msg-Id and retried
with the same ID on error, so the stream holds it once. Prints what it
published per kind (and per subject with --by-subject).

--nats is required: an embedded server that nothing consumes would only fill
a disk. Give a cluster's seed list comma-separated.`)
	var (
		natsURL   string
		layout    loadgen.Layout
		mix       = loadgen.DefaultMix
		opts      loadgen.Options
		replicas  int
		bySubject bool
	)
	fs.StringVar(&natsURL, "nats", "", "NATS server URL or comma-separated seed list (required)")
	fs.IntVar(&layout.Sites, "sites", 1, "number of sites (intersections)")
	fs.IntVar(&layout.Cameras, "cameras", 4, "cameras per site")
	fs.Float64Var(&opts.RatePerS, "rate", 100, "target events/s over all cameras; 0 = as fast as JetStream acknowledges")
	fs.DurationVar(&opts.Duration, "duration", 10*time.Second, "how long to publish (0 with --count: until the count)")
	fs.IntVar(&opts.Count, "count", 0, "stop after this many events (0: only --duration bounds the run)")
	fs.Float64Var(&mix.TracksPerHour, "tracks-per-hour", mix.TracksPerHour, "road users per camera per hour")
	fs.Float64Var(&mix.NearMissesPerHour, "nearmisses-per-hour", mix.NearMissesPerHour, "near misses per camera per hour")
	fs.DurationVar(&mix.HealthEvery, "health-every", mix.HealthEvery, "health report period per camera (0: none)")
	fs.Uint64Var(&layout.Seed, "seed", 1, "random seed of the mix")
	fs.IntVar(&opts.MaxPending, "max-pending", 4096, "async publishes awaiting their ack")
	fs.IntVar(&replicas, "replicas", 0, "stream replicas when declaring the streams (0: 3 on a cluster of 3 or more nodes, else 1)")
	fs.BoolVar(&bySubject, "by-subject", false, "also print the count per subject")
	if err := parse(fs, e.args); err != nil {
		return err
	}
	switch {
	case strings.TrimSpace(natsURL) == "":
		return badInput("--nats is required (loadgen publishes to a running server or cluster; see --help)")
	case layout.Sites < 1 || layout.Cameras < 1:
		return badInput("--sites %d and --cameras %d must both be at least 1", layout.Sites, layout.Cameras)
	case opts.RatePerS < 0:
		return badInput("--rate %v must not be negative", opts.RatePerS)
	case opts.Duration <= 0 && opts.Count <= 0:
		return badInput("set --duration or --count: the run needs an end")
	case opts.Count < 0 || opts.Duration < 0:
		return badInput("--count and --duration must not be negative")
	case replicas < 0 || replicas > 5:
		return badInput("--replicas %d: want 0 (auto) or 1..5", replicas)
	}
	gen, err := loadgen.NewGenerator(layout, mix)
	if err != nil {
		return badInput("%v", err)
	}
	cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	nc, err := bus.Connect(cctx, natsURL, "intersect-loadgen", e.log)
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("JetStream on %s: %w", natsURL, err)
	}
	if replicas == 0 {
		replicas = bus.ReplicasFor(nc)
	}
	if err := bus.EnsureStreams(cctx, js, replicas); err != nil {
		return err
	}
	opts.Log = e.log
	e.log.Info("loadgen running", "nats", natsURL, "cameras", gen.Cameras(), "rate", opts.RatePerS, "duration", opts.Duration, "count", opts.Count,
		"natural_rate_per_s", fmt.Sprintf("%.1f", float64(gen.Cameras())*mix.EventsPerSecond()))
	rep, err := loadgen.Run(ctx, nc, gen, opts)
	fmt.Fprint(e.stdout, rep.String())
	if bySubject {
		for _, subj := range slices.Sorted(maps.Keys(rep.BySubject)) {
			fmt.Fprintf(e.stdout, "  %-48s %d\n", subj, rep.BySubject[subj])
		}
	}
	if errors.Is(err, context.Canceled) {
		return nil // interrupted: the report says how far it got
	}
	return err
}
