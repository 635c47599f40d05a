package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/nats-io/nats.go"

	"github.com/intersect-oss/intersect/events"
)

// LiveSubjects are the NATS core subjects the live feed listens to. They
// are plain subscriptions, not JetStream consumers: the feed is
// best-effort, and history comes from the store.
var LiveSubjects = []string{
	events.Prefix + ".*.*." + string(events.KindNearMiss),
	events.Prefix + ".*.*." + string(events.KindHealth),
	events.Prefix + ".*.signal.*." + string(events.KindRecommendation),
}

// Source delivers the raw messages of a subject to the hub. NATSSource is
// the production one; tests can feed the hub directly.
type Source interface {
	Subscribe(subject string, deliver func(data []byte)) (unsubscribe func() error, err error)
}

// NATSSource subscribes with NATS core subscriptions.
type NATSSource struct{ Conn *nats.Conn }

// Subscribe implements Source.
func (n NATSSource) Subscribe(subject string, deliver func(data []byte)) (func() error, error) {
	sub, err := n.Conn.Subscribe(subject, func(m *nats.Msg) { deliver(m.Data) })
	if err != nil {
		return nil, fmt.Errorf("subscribing to %s: %w", subject, err)
	}
	return sub.Unsubscribe, nil
}

// HubOptions configures a Hub. Zero values take the defaults.
type HubOptions struct {
	Log *slog.Logger
	// QueueLen is each client's send queue; a client whose queue is full
	// is dropped (close code 1008) rather than slowing anyone else.
	// Default 256.
	QueueLen int
	// PingInterval is how often the server pings; a client that has not
	// answered within two intervals is disconnected. Default 20 s.
	PingInterval time.Duration
	// WriteTimeout bounds one write to a client. Default 10 s.
	WriteTimeout time.Duration
}

// Hub fans live events out to websocket clients, each with its own filter
// and bounded queue. It is safe for concurrent use.
type Hub struct {
	log      *slog.Logger
	opts     HubOptions
	upgrader websocket.Upgrader

	mu      sync.RWMutex
	clients map[*client]struct{}
	closed  bool

	dropped   atomic.Int64 // clients dropped for being slow
	delivered atomic.Int64 // messages queued to clients
	undecoded atomic.Int64 // bus messages that were not valid events
}

// NewHub returns a hub with no clients; feed it with Feed or Run.
func NewHub(o HubOptions) *Hub {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.QueueLen <= 0 {
		o.QueueLen = 256
	}
	if o.PingInterval <= 0 {
		o.PingInterval = 20 * time.Second
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 10 * time.Second
	}
	return &Hub{
		log: o.Log, opts: o, clients: map[*client]struct{}{},
		upgrader: websocket.Upgrader{
			ReadBufferSize: 1024, WriteBufferSize: 4096,
			// The API checks the Origin itself before upgrading, so that
			// a refusal is a JSON 403 naming the header.
			CheckOrigin: func(*http.Request) bool { return true },
		},
	}
}

// Feed subscribes the hub to LiveSubjects on nc until ctx ends.
func (h *Hub) Feed(ctx context.Context, nc *nats.Conn) error {
	return h.Run(ctx, NATSSource{Conn: nc})
}

// Run subscribes the hub to LiveSubjects on src until ctx ends.
func (h *Hub) Run(ctx context.Context, src Source) error {
	var unsubs []func() error
	defer func() {
		for _, u := range unsubs {
			_ = u()
		}
	}()
	for _, subj := range LiveSubjects {
		u, err := src.Subscribe(subj, h.deliver)
		if err != nil {
			return fmt.Errorf("live feed: %w", err)
		}
		unsubs = append(unsubs, u)
	}
	h.log.Info("live feed subscribed", "subjects", strings.Join(LiveSubjects, " "))
	<-ctx.Done()
	return nil
}

func (h *Hub) deliver(data []byte) {
	ev, err := events.Decode(data)
	if err != nil {
		// The ingest dead-letters these; the live feed just skips them.
		if h.undecoded.Add(1) == 1 {
			h.log.Warn("live feed: skipping a message that is not a valid event", "err", err)
		}
		return
	}
	h.Broadcast(ev)
}

// liveMessage is what clients receive: {"type": ..., "data": ...}.
type liveMessage struct {
	Type string `json:"type"`
	Data any    `json:"data"`
}

// Broadcast queues ev to every client whose filter matches. It never
// blocks: a client whose queue is full is dropped.
func (h *Hub) Broadcast(ev events.Event) {
	var typ string
	switch ev.(type) {
	case *events.NearMiss:
		typ = "nearmiss"
	case *events.CameraHealth:
		typ = "health"
	case *events.Recommendation:
		typ = "recommendation"
	default:
		return
	}
	msg, err := json.Marshal(liveMessage{Type: typ, Data: ev})
	if err != nil {
		h.log.Error("live feed: encoding event", "id", ev.Head().ID, "err", err)
		return
	}
	h.mu.RLock()
	defer h.mu.RUnlock()
	for c := range h.clients {
		if c.closing() || !c.filter.Load().match(ev) {
			// A client already being dropped stays in the map until its
			// loops end; it gets nothing more and is not counted twice.
			continue
		}
		select {
		case c.send <- msg:
			h.delivered.Add(1)
		default:
			if c.kick(websocket.ClosePolicyViolation, fmt.Sprintf("slow consumer: send queue of %d messages full", cap(c.send))) {
				h.dropped.Add(1)
			}
		}
	}
}

// Clients is the number of connected clients.
func (h *Hub) Clients() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.clients)
}

// Dropped is the number of clients dropped for being too slow.
func (h *Hub) Dropped() int64 { return h.dropped.Load() }

// Close disconnects every client with 1001 (going away) and refuses new
// ones; http.Server.Shutdown does not close hijacked websocket connections.
func (h *Hub) Close() {
	h.mu.Lock()
	h.closed = true
	cs := make([]*client, 0, len(h.clients))
	for c := range h.clients {
		cs = append(cs, c)
	}
	h.mu.Unlock()
	for _, c := range cs {
		c.kick(websocket.CloseGoingAway, "server shutting down")
	}
}

// LiveFilter is what a client may send (or give as query parameters) to
// narrow its feed. Empty fields match everything.
type LiveFilter struct {
	Site        string                `json:"site,omitempty"`
	Camera      string                `json:"camera,omitempty"`
	Types       []events.ConflictType `json:"types,omitempty"`
	MinSeverity events.Severity       `json:"min_severity,omitempty"`
}

// check returns the offending field and why, or "" when f is usable.
func (f *LiveFilter) check() (string, string) {
	if f.Site != "" && !events.ValidID(f.Site) {
		return "site", fmt.Sprintf("%q must match [a-z0-9-]+", truncate(f.Site, 80))
	}
	if f.Camera != "" && !events.ValidID(f.Camera) {
		return "camera", fmt.Sprintf("%q must match [a-z0-9-]+", truncate(f.Camera, 80))
	}
	if len(f.Types) > len(events.ConflictTypes) {
		return "types", fmt.Sprintf("at most %d types", len(events.ConflictTypes))
	}
	for _, t := range f.Types {
		if !t.Valid() {
			return "types", fmt.Sprintf("unknown type %q (want one of %v)", truncate(string(t), 80), events.ConflictTypes)
		}
	}
	if f.MinSeverity != "" && !f.MinSeverity.Valid() {
		return "min_severity", fmt.Sprintf("unknown severity %q (want one of %v)", truncate(string(f.MinSeverity), 80), events.Severities)
	}
	return "", ""
}

func (f *LiveFilter) match(ev events.Event) bool {
	if f == nil {
		return true
	}
	h := ev.Head()
	if f.Site != "" && h.Site != f.Site {
		return false
	}
	switch e := ev.(type) {
	case *events.NearMiss:
		if f.Camera != "" && h.Camera != f.Camera {
			return false
		}
		if f.MinSeverity != "" && e.Severity.Weight() < f.MinSeverity.Weight() {
			return false
		}
		if len(f.Types) > 0 {
			for _, t := range f.Types {
				if t == e.Type {
					return true
				}
			}
			return false
		}
	case *events.CameraHealth:
		if f.Camera != "" && h.Camera != f.Camera {
			return false
		}
	}
	return true
}

// client is one websocket connection.
type client struct {
	hub    *Hub
	conn   *websocket.Conn
	send   chan []byte
	filter atomic.Pointer[LiveFilter]
	done   chan struct{}
	once   sync.Once
}

// closing reports whether the client was kicked or stopped.
func (c *client) closing() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// kick closes the client with a close code and reason, without blocking
// the caller (the hub's fan-out). It reports whether this call did it (false
// when the client was already closing).
func (c *client) kick(code int, reason string) (kicked bool) {
	c.once.Do(func() {
		kicked = true
		close(c.done)
		wt := c.hub.opts.WriteTimeout
		go func() {
			// A slow client's socket may be full: the close frame waits
			// for room as long as any write would, then the socket goes
			// whether or not the peer answered the close handshake.
			msg := websocket.FormatCloseMessage(code, reason)
			_ = c.conn.WriteControl(websocket.CloseMessage, msg, time.Now().Add(wt))
			time.AfterFunc(time.Second, func() { _ = c.conn.Close() })
		}()
	})
	return kicked
}

func (c *client) stop() { c.once.Do(func() { close(c.done) }) }

// liveSocket upgrades to a websocket after checking the Origin and any
// filter given as query parameters (site, camera, type, min_severity).
func (s *Server) liveSocket(w http.ResponseWriter, r *http.Request) {
	if !s.originAllowed(r) {
		writeError(w, http.StatusForbidden, "Origin", "websocket from origin "+truncate(r.Header.Get("Origin"), 100)+" is not allowed")
		return
	}
	p := &params{v: r.URL.Query()}
	f := &LiveFilter{Site: p.id("site"), Camera: p.id("camera")}
	f.Types = enum(p, "type", events.ConflictType.Valid, events.ConflictTypes)
	if sev := enum(p, "min_severity", events.Severity.Valid, events.Severities); len(sev) > 1 {
		p.fail("min_severity", "give one severity")
	} else if len(sev) == 1 {
		f.MinSeverity = sev[0]
	}
	if perr := p.finish(); perr != nil {
		writeError(w, http.StatusBadRequest, perr.Param, perr.Error())
		return
	}
	if s.live == nil {
		writeError(w, http.StatusServiceUnavailable, "", "no live feed: this server is not connected to NATS (start serve with --nats)")
		return
	}
	if !websocket.IsWebSocketUpgrade(r) {
		writeError(w, http.StatusBadRequest, "Upgrade", "this route is a websocket; connect with a websocket client")
		return
	}
	s.live.serve(w, r, f)
}

func (h *Hub) serve(w http.ResponseWriter, r *http.Request, f *LiveFilter) {
	conn, err := h.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader has answered
	}
	c := &client{hub: h, conn: conn, send: make(chan []byte, h.opts.QueueLen), done: make(chan struct{})}
	c.filter.Store(f)
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		c.kick(websocket.CloseGoingAway, "server shutting down")
		return
	}
	h.clients[c] = struct{}{}
	h.mu.Unlock()
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		c.writeLoop()
	}()
	c.readLoop()
	c.stop()
	<-writerDone
	h.mu.Lock()
	delete(h.clients, c)
	h.mu.Unlock()
	_ = conn.Close()
}

// maxClientMessage bounds what a client may send (a filter).
const maxClientMessage = 4096

func (c *client) readLoop() {
	pongWait := 2 * c.hub.opts.PingInterval
	c.conn.SetReadLimit(maxClientMessage)
	_ = c.conn.SetReadDeadline(time.Now().Add(pongWait))
	c.conn.SetPongHandler(func(string) error { return c.conn.SetReadDeadline(time.Now().Add(pongWait)) })
	for {
		_, data, err := c.conn.ReadMessage()
		if err != nil {
			return
		}
		_ = c.conn.SetReadDeadline(time.Now().Add(pongWait))
		var f LiveFilter
		dec := json.NewDecoder(strings.NewReader(string(data)))
		dec.DisallowUnknownFields()
		var reply liveMessage
		if err := dec.Decode(&f); err != nil {
			reply = liveMessage{Type: "error", Data: apiError{Param: "filter", Error: "a filter is a JSON object {site, camera, types, min_severity}: " + err.Error()}}
		} else if param, msg := f.check(); param != "" {
			reply = liveMessage{Type: "error", Data: apiError{Param: param, Error: msg}}
		} else {
			c.filter.Store(&f)
			reply = liveMessage{Type: "filter", Data: f}
		}
		b, _ := json.Marshal(reply)
		select {
		case c.send <- b:
		default:
			c.kick(websocket.ClosePolicyViolation, "slow consumer: send queue full")
			return
		}
	}
}

func (c *client) writeLoop() {
	t := time.NewTicker(c.hub.opts.PingInterval)
	defer t.Stop()
	for {
		select {
		case <-c.done:
			return
		case msg := <-c.send:
			_ = c.conn.SetWriteDeadline(time.Now().Add(c.hub.opts.WriteTimeout))
			if err := c.conn.WriteMessage(websocket.TextMessage, msg); err != nil {
				c.fail(err)
				return
			}
		case <-t.C:
			if err := c.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(c.hub.opts.WriteTimeout)); err != nil {
				c.fail(err)
				return
			}
		}
	}
}

// fail ends a client whose socket broke; closing the socket ends readLoop.
func (c *client) fail(err error) {
	if !errors.Is(err, websocket.ErrCloseSent) {
		c.hub.log.Debug("live client write failed", "remote", c.conn.RemoteAddr(), "err", err)
	}
	c.stop()
	_ = c.conn.Close()
}
