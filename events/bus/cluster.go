package bus

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ClusterOptions configures an in-process NATS cluster, the shape of a
// production central cluster (three nodes, JetStream, routes between all)
// used by tests and by anyone who wants to try failover on one machine.
type ClusterOptions struct {
	// Nodes is the cluster size; 3 (the default) survives one loss with R3
	// streams.
	Nodes int
	// DataDir holds one store directory per node (DataDir/<node>).
	DataDir string
	// Name is the cluster name (default "intersect").
	Name string
}

// Cluster is a set of in-process NATS servers forming one JetStream cluster
// on loopback ports.
type Cluster struct {
	Name    string
	Servers []*Server
	names   []string
}

// StartCluster starts opts.Nodes servers with JetStream, routes between all
// of them on free loopback ports and distinct store directories, and waits
// until the cluster has elected a JetStream meta leader, so streams can be
// declared right away.
func StartCluster(ctx context.Context, o ClusterOptions) (*Cluster, error) {
	if o.Nodes == 0 {
		o.Nodes = 3
	}
	if o.Nodes < 1 {
		return nil, fmt.Errorf("NATS cluster: %d nodes", o.Nodes)
	}
	if o.DataDir == "" {
		return nil, errors.New("NATS cluster: a data directory is required")
	}
	if o.Name == "" {
		o.Name = "intersect"
	}
	// Route ports must be known before any node starts, because each
	// node's route list names all the others.
	ports, err := freePorts(o.Nodes)
	if err != nil {
		return nil, fmt.Errorf("NATS cluster: %w", err)
	}
	routes := make([]string, o.Nodes)
	for i, p := range ports {
		routes[i] = "nats-route://127.0.0.1:" + strconv.Itoa(p)
	}
	c := &Cluster{Name: o.Name}
	for i := range o.Nodes {
		name := fmt.Sprintf("%s-n%d", o.Name, i+1)
		srv, err := startClusterNode(ctx, o, name, ports[i], routes)
		if err != nil {
			c.Shutdown()
			return nil, err
		}
		c.Servers = append(c.Servers, srv)
		c.names = append(c.names, name)
	}
	if err := c.waitForMetaLeader(ctx); err != nil {
		c.Shutdown()
		return nil, err
	}
	return c, nil
}

func startClusterNode(ctx context.Context, o ClusterOptions, name string, routePort int, routes []string) (*Server, error) {
	return StartServer(ctx, ServerOptions{
		DataDir: filepath.Join(o.DataDir, name),
		Name:    name,
		Configure: func(opts *server.Options) error {
			opts.Cluster.Name = o.Name
			opts.Cluster.Host = "127.0.0.1"
			opts.Cluster.Port = routePort
			for _, r := range routes {
				if strings.HasSuffix(r, ":"+strconv.Itoa(routePort)) {
					continue
				}
				opts.Routes = append(opts.Routes, server.RoutesFromStr(r)...)
			}
			return nil
		},
	})
}

// freePorts reserves n free loopback ports and releases them for the
// servers to bind (a tiny race with other processes, acceptable for tests).
func freePorts(n int) ([]int, error) {
	ls := make([]net.Listener, 0, n)
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("finding a free route port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func (c *Cluster) waitForMetaLeader(ctx context.Context) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		for _, s := range c.Servers {
			if s.ns.JetStreamIsLeader() {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("NATS cluster %s: waiting for a JetStream leader: %w", c.Name, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("NATS cluster %s: no JetStream meta leader elected within 30s", c.Name)
}

// URLs is the cluster's seed list, comma-separated, as --nats takes it.
func (c *Cluster) URLs() string {
	var us []string
	for _, s := range c.Servers {
		if s.ns.Running() {
			us = append(us, s.ClientURL())
		}
	}
	return strings.Join(us, ",")
}

// StreamLeader returns the index of the node leading stream (in the global
// account), or -1 when none does right now.
func (c *Cluster) StreamLeader(stream string) int {
	for i, s := range c.Servers {
		if s.ns.Running() && s.ns.JetStreamIsStreamLeader(server.DEFAULT_GLOBAL_ACCOUNT, stream) {
			return i
		}
	}
	return -1
}

// WaitStreamLeader waits until stream has a leader and returns its index.
func (c *Cluster) WaitStreamLeader(ctx context.Context, stream string) (int, error) {
	for {
		if i := c.StreamLeader(stream); i >= 0 {
			return i, nil
		}
		select {
		case <-ctx.Done():
			return -1, fmt.Errorf("NATS cluster %s: stream %s has no leader: %w", c.Name, stream, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Kill shuts node i down (as a crash would, from the cluster's point of
// view: its peers lose it without notice of a planned leave).
func (c *Cluster) Kill(i int) { c.Servers[i].Shutdown() }

// Shutdown stops every node still running.
func (c *Cluster) Shutdown() {
	for _, s := range c.Servers {
		if s.ns.Running() {
			s.Shutdown()
		}
	}
}

// ReplicasFor returns the stream replica count suited to the servers nc
// knows: 3 when it is connected to a cluster of at least three nodes, 1
// otherwise. Services use it so that the same binary declares R1 streams on
// one box and R3 on a central cluster.
func ReplicasFor(nc *nats.Conn) int {
	if nc.ConnectedClusterName() == "" {
		return 1
	}
	if len(nc.Servers()) >= 3 {
		return 3
	}
	return 1
}

// keepDeployed carries over what an operator (or another service) set on an
// existing stream that a plain EnsureStreams must not undo: a higher replica
// count (a service started with replicas=1 must not shrink an R3 stream) and
// the sources that pull in edge leaf domains.
func keepDeployed(ctx context.Context, js jetstream.JetStream, cfg *jetstream.StreamConfig) {
	s, err := js.Stream(ctx, cfg.Name)
	if err != nil {
		return
	}
	old := s.CachedInfo().Config
	cfg.Replicas = max(cfg.Replicas, old.Replicas)
	if len(cfg.Sources) == 0 {
		cfg.Sources = old.Sources
	}
}
