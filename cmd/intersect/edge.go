package main

import (
	"context"
	"errors"

	"github.com/intersect-oss/intersect/edge"
	"github.com/intersect-oss/intersect/edge/camera"
	"github.com/intersect-oss/intersect/edge/outbox"
)

func edgeCommand() command {
	return command{
		name:    "edge",
		summary: "edge worker: detect, track and measure near misses on one or more cameras",
		run:     runEdge,
	}
}

func runEdge(ctx context.Context, e env) error {
	fs := newFlags(e, "edge", "edge --config CAM.yaml [--nats URL] [--data-dir DIR] [--model M]", `
Runs one worker per camera of the config: capture (file, rtsp/http URL or
V4L2 device, reconnecting with backoff), detection (YOLOX model or the MOG2
motion fallback; the log says which), tracking, ground-plane projection,
TTC/PET/DRAC, and events: NearMiss with a people-blurred snapshot in the
JetStream object store, TrackSummary, and CameraHealth every
health_interval_s. Events go through an on-disk outbox under
DATA-DIR/outbox/<site>/<camera>, so a NATS outage loses nothing.
File sources are paced at their frame rate, as a live camera would be.
Ctrl-C stops gracefully: frames are released, open encounters flushed and
the outbox drained (for up to 10 s; the rest stays on disk for next time).
With --secrets DIR it connects as edge:<site>:<camera-set>, which the server
lets publish only for its own site's cameras.`)
	var c commonFlags
	c.register(fs, "data")
	c.registerCreds(fs)
	set := fs.String("camera-set", "all", "with --secrets: the camera set of this edge's identity, edge:<site>:<camera-set> (intersect init --camera-set)")
	cfgPath := fs.String("config", "", "camera config YAML (required)")
	model := fs.String("model", "", "ONNX detector model for every camera (default: each camera's detector)")
	fast := fs.Bool("no-pace", false, "process file sources as fast as possible instead of at their frame rate")
	if err := parse(fs, e.args); err != nil {
		return err
	}
	if *cfgPath == "" {
		return badInput("--config is required")
	}
	f, err := camera.Load(*cfgPath)
	if err != nil {
		return configErr(err)
	}
	// The identity is the config's site's: one edge box serves one site.
	site := f.Cameras[0].Site
	for _, cam := range f.Cameras[1:] {
		if cam.Site != site && c.secrets != "" {
			return badInput("%s: cameras of sites %s and %s: with --secrets one edge identity serves one site; split the config", *cfgPath, site, cam.Site)
		}
	}
	c.identity = edgeIdentity(site, *set)
	if err := c.prepareDataDir(); err != nil {
		return err
	}
	b, err := openBus(ctx, &c, "intersect-edge", e.log)
	if err != nil {
		return err
	}
	defer b.close()
	err = edge.Run(ctx, f, edge.WorkerOptions{
		DataDir: c.dataDir, Publisher: outbox.JetStream{JS: b.js}, Model: *model, Pace: !*fast, Logger: e.log,
	})
	var ie *edge.InputError
	if camera.IsConfigError(err) || errors.As(err, &ie) {
		return badInput("%v", err)
	}
	return err
}
