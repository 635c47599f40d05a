package bus

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/intersect-oss/intersect/events"
)

// Edge boxes can run their embedded server as a NATS leaf node of the
// central server instead of relying on the client outbox. The edge server
// has its own JetStream domain (edge-<site>) with a local stream that
// buffers the site's events on the edge's disk; the central events stream
// sources from that stream through the leaf connection, so whatever the
// edge published while the uplink was down flows in, in order, once it
// returns. The leaf connection does not forward the event subjects
// themselves: the sourced stream is the only path, so nothing arrives twice.
// docs/capacity.md shows the equivalent server configuration files.

// HubDomain is the JetStream domain of the central server or cluster.
const HubDomain = "hub"

// EdgeDomain is the JetStream domain of a site's edge server.
func EdgeDomain(site string) string { return "edge-" + site }

// EdgeStream is the name of the buffering stream on a site's edge.
func EdgeStream(site string) string {
	return "EDGE_" + strings.ToUpper(strings.ReplaceAll(site, "-", "_"))
}

// EdgeSubjects are the subjects an edge stream captures: the site's camera
// events and weather.
func EdgeSubjects(site string) []string {
	return []string{events.Prefix + "." + site + ".*.*", events.WeatherSubject(site)}
}

// HubLeafListener returns a ServerOptions.Configure that makes a central
// server accept edge leaf node connections on host:port and puts its
// JetStream in HubDomain, and the nats-leaf:// URL edges dial. Port 0 picks
// a free port now, so the URL is known before the server starts.
func HubLeafListener(host string, port int) (configure func(*server.Options) error, leafURL string, err error) {
	if host == "" {
		host = "127.0.0.1"
	}
	if port == 0 {
		ps, err := freePorts(1)
		if err != nil {
			return nil, "", fmt.Errorf("leaf node listener: %w", err)
		}
		port = ps[0]
	}
	configure = func(o *server.Options) error {
		o.LeafNode.Host = host
		o.LeafNode.Port = port
		o.JetStreamDomain = HubDomain
		return nil
	}
	return configure, "nats-leaf://" + net.JoinHostPort(host, strconv.Itoa(port)), nil
}

// EdgeLeaf configures a site's edge server as a leaf node of the hub at
// hubURLs (comma-separated nats-leaf:// URLs, several for a cluster) with
// JetStream domain edge-<site>. The site's event subjects are not exported
// over the leaf connection: they reach the centre only through the sourced
// stream. Use it as ServerOptions.Configure.
func EdgeLeaf(site, hubURLs string, reconnect time.Duration) func(*server.Options) error {
	return func(o *server.Options) error {
		if !events.ValidID(site) {
			return fmt.Errorf("leaf node: site %q must match [a-z0-9-]+", site)
		}
		var us []*url.URL
		for _, s := range strings.Split(hubURLs, ",") {
			u, err := url.Parse(strings.TrimSpace(s))
			if err != nil || u.Host == "" {
				return fmt.Errorf("leaf node: hub URL %q is not a URL like nats-leaf://host:7422", s)
			}
			us = append(us, u)
		}
		if reconnect <= 0 {
			reconnect = time.Second
		}
		o.JetStreamDomain = EdgeDomain(site)
		o.LeafNode.ReconnectInterval = reconnect
		o.LeafNode.Remotes = append(o.LeafNode.Remotes, &server.RemoteLeafOpts{
			URLs:        us,
			DenyExports: []string{events.Prefix + ".>"},
		})
		return nil
	}
}

// EdgeStreamConfig is the edge's buffering stream: file storage on the edge
// box, deduped by event ID like the central stream, kept long enough to
// ride out a long uplink outage.
func EdgeStreamConfig(site string, maxAge time.Duration, maxBytes int64) jetstream.StreamConfig {
	if maxAge <= 0 {
		maxAge = 7 * 24 * time.Hour
	}
	return jetstream.StreamConfig{
		Name:        EdgeStream(site),
		Description: "intersect edge buffer for site " + site + "; sourced by the central events stream",
		Subjects:    EdgeSubjects(site),
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		MaxAge:      maxAge,
		MaxBytes:    maxBytes,
		Duplicates:  DedupeWindow,
		Discard:     jetstream.DiscardOld,
	}
}

// EnsureEdgeStream declares the edge's buffering stream on the edge server
// (js connected to the edge).
func EnsureEdgeStream(ctx context.Context, js jetstream.JetStream, site string) error {
	if _, err := js.CreateOrUpdateStream(ctx, EdgeStreamConfig(site, 0, 0)); err != nil {
		return fmt.Errorf("declaring edge stream for site %s: %w", site, err)
	}
	return nil
}

// EdgeSource is the StreamSource that pulls a site's edge stream into a
// central stream across the leaf connection.
func EdgeSource(site string) *jetstream.StreamSource {
	return &jetstream.StreamSource{
		Name:     EdgeStream(site),
		External: &jetstream.ExternalStream{APIPrefix: "$JS." + EdgeDomain(site) + ".API"},
	}
}

// SourceEdges adds the edge streams of sites to the central events stream
// (js connected to the hub), keeping its other settings and sources. The
// stream must exist (EnsureStreams). Adding a site twice is a no-op.
func SourceEdges(ctx context.Context, js jetstream.JetStream, sites ...string) error {
	s, err := js.Stream(ctx, events.EventsStream)
	if err != nil {
		return fmt.Errorf("adding edge sources: stream %s: %w", events.EventsStream, err)
	}
	cfg := s.CachedInfo().Config
	have := map[string]bool{}
	for _, src := range cfg.Sources {
		have[src.Name] = true
	}
	for _, site := range sites {
		if !events.ValidID(site) {
			return fmt.Errorf("adding edge sources: site %q must match [a-z0-9-]+", site)
		}
		if !have[EdgeStream(site)] {
			cfg.Sources = append(cfg.Sources, EdgeSource(site))
			have[EdgeStream(site)] = true
		}
	}
	if _, err := js.UpdateStream(ctx, cfg); err != nil {
		return fmt.Errorf("adding edge sources for %v to %s: %w", sites, events.EventsStream, err)
	}
	return nil
}
