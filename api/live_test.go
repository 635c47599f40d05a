package api

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/intersect-oss/intersect/events"
	"github.com/intersect-oss/intersect/events/bus"
	"github.com/intersect-oss/intersect/events/bus/bustest"
	"github.com/intersect-oss/intersect/store/storetest"
)

// chanSource is an in-process Source: publish delivers to the subscribers
// whose subject pattern matches, as NATS would.
type chanSource struct {
	mu   sync.Mutex
	subs map[string][]func([]byte)
}

func (c *chanSource) Subscribe(subject string, deliver func([]byte)) (func() error, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.subs == nil {
		c.subs = map[string][]func([]byte){}
	}
	c.subs[subject] = append(c.subs[subject], deliver)
	return func() error { c.mu.Lock(); delete(c.subs, subject); c.mu.Unlock(); return nil }, nil
}

func subjectMatches(pattern, subject string) bool {
	p, s := strings.Split(pattern, "."), strings.Split(subject, ".")
	if len(p) != len(s) {
		return false
	}
	for i := range p {
		if p[i] != "*" && p[i] != s[i] {
			return false
		}
	}
	return true
}

func (c *chanSource) publish(t testing.TB, ev events.Event) {
	t.Helper()
	data, err := events.Encode(ev)
	if err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for pat, fns := range c.subs {
		if subjectMatches(pat, events.Subject(ev)) {
			for _, fn := range fns {
				fn(data)
			}
		}
	}
}

// runHub feeds hub from src until the test ends.
func runHub(t testing.TB, hub *Hub, src Source) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- hub.Run(ctx, src) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
		hub.Close()
	})
}

func dial(t testing.TB, f *fixture, query string, hdr http.Header) *websocket.Conn {
	t.Helper()
	c, resp, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(f.srv.URL, "http")+"/api/v1/live?"+query, f.wsHeader(hdr))
	if err != nil {
		code := 0
		if resp != nil {
			code = resp.StatusCode
		}
		t.Fatalf("dial: %v (HTTP %d)", err, code)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// wsHeader adds the fixture's token to a websocket handshake's headers.
func (f *fixture) wsHeader(hdr http.Header) http.Header {
	if hdr == nil {
		hdr = http.Header{}
	}
	if f.token != "" {
		hdr.Set("Authorization", "Bearer "+f.token)
	}
	return hdr
}

type liveIn struct {
	Type string          `json:"type"`
	Data json.RawMessage `json:"data"`
}

func read(t testing.TB, c *websocket.Conn) liveIn {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
	var m liveIn
	if err := c.ReadJSON(&m); err != nil {
		t.Fatalf("reading live message: %v", err)
	}
	return m
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestLiveFiltersAndKinds(t *testing.T) {
	hub := NewHub(HubOptions{})
	src := &chanSource{}
	runHub(t, hub, src)
	f := newFixture(t, Options{Live: hub})
	all := dial(t, f, "", nil)
	critical := dial(t, f, "site=main-and-5th&min_severity=critical", nil)
	rightTurns := dial(t, f, "", nil)
	// A filter sent as a message replaces the query's; bad ones are refused.
	if err := rightTurns.WriteJSON(map[string]any{"types": []string{"right-turn-crosswalk"}, "min_severity": "bogus"}); err != nil {
		t.Fatal(err)
	}
	if m := read(t, rightTurns); m.Type != "error" || !strings.Contains(string(m.Data), `"param":"min_severity"`) {
		t.Fatalf("bad filter answered %s %s", m.Type, m.Data)
	}
	if err := rightTurns.WriteMessage(websocket.TextMessage, []byte(`{"site":"x' OR 1=1"}`)); err != nil {
		t.Fatal(err)
	}
	if m := read(t, rightTurns); m.Type != "error" || !strings.Contains(string(m.Data), `"param":"site"`) {
		t.Fatalf("bad site answered %s %s", m.Type, m.Data)
	}
	if err := rightTurns.WriteJSON(LiveFilter{Types: []events.ConflictType{events.RightTurnCrosswalk}}); err != nil {
		t.Fatal(err)
	}
	if m := read(t, rightTurns); m.Type != "filter" {
		t.Fatalf("filter answered %s %s", m.Type, m.Data)
	}
	waitFor(t, "three clients", func() bool { return hub.Clients() == 3 })

	rng := rand.New(rand.NewPCG(3, 4))
	var sent []*events.NearMiss
	for i := range 40 {
		site := []string{"main-and-5th", "state-and-400s"}[i%2]
		n := storetest.Synthetic(rng, site, "cam-1", t0.Add(time.Duration(i)*time.Second))
		sent = append(sent, n)
		src.publish(t, n)
	}
	h := &events.CameraHealth{Header: events.NewHeader(events.KindHealth, "state-and-400s", "cam-1", t0), Status: events.CameraDown, Detector: "yolox", Error: "rtsp timeout"}
	src.publish(t, h)
	src.publish(t, f.recs[0])

	expect := func(c *websocket.Conn, name string, keep func(*events.NearMiss) bool, health, rec bool) {
		t.Helper()
		var want []string
		for _, n := range sent {
			if keep(n) {
				want = append(want, "nearmiss:"+n.ID)
			}
		}
		if health {
			want = append(want, "health:"+h.ID)
		}
		if rec {
			want = append(want, "recommendation:"+f.recs[0].ID)
		}
		for i, w := range want {
			m := read(t, c)
			var hd events.Header
			_ = json.Unmarshal(m.Data, &hd)
			if got := m.Type + ":" + hd.ID; got != w {
				t.Fatalf("%s: message %d is %s, want %s", name, i, got, w)
			}
		}
	}
	expect(all, "all", func(*events.NearMiss) bool { return true }, true, true)
	expect(critical, "critical at main-and-5th", func(n *events.NearMiss) bool {
		return n.Site == "main-and-5th" && n.Severity == events.Critical
	}, false, true)
	expect(rightTurns, "right turns", func(n *events.NearMiss) bool { return n.Type == events.RightTurnCrosswalk }, true, true)

	// A decision made through the API is pushed to the feed.
	code, _, b := f.post(t, "/api/v1/recommendations/"+f.recs[1].ID+"/approve", "application/json", `{"by":"ops"}`, nil)
	if code != 200 {
		t.Fatalf("approve: %d %s", code, b)
	}
	m := read(t, all)
	var rec events.Recommendation
	_ = json.Unmarshal(m.Data, &rec)
	if m.Type != "recommendation" || rec.ID != f.recs[1].ID || rec.State != events.Approved {
		t.Fatalf("after approve the feed sent %s %s", m.Type, m.Data)
	}
}

// TestLiveSlowClientIsDroppedWithReason: a client that stops reading fills
// its socket and then its queue; it is closed with 1008 and a reason while
// a reading client gets every message.
func TestLiveSlowClientIsDroppedWithReason(t *testing.T) {
	// The write timeout is long so the queue, not the timeout, drops the client.
	hub := NewHub(HubOptions{QueueLen: 16, WriteTimeout: 30 * time.Second, PingInterval: 10 * time.Minute})
	f := newFixture(t, Options{Live: hub})
	// The slow client stops reading; big messages fill its socket buffers
	// (a small SO_RCVBUF would too, but then reading it back crawls).
	slow, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(f.srv.URL, "http")+"/api/v1/live", f.wsHeader(nil))
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	fast := dial(t, f, "", nil)
	waitFor(t, "two clients", func() bool { return hub.Clients() == 2 })

	var got atomic.Int64
	fastDone := make(chan error, 1)
	go func() {
		for {
			_ = fast.SetReadDeadline(time.Now().Add(60 * time.Second))
			if _, _, err := fast.ReadMessage(); err != nil {
				fastDone <- err
				return
			}
			got.Add(1)
		}
	}()
	rng := rand.New(rand.NewPCG(5, 6))
	n := storetest.Synthetic(rng, "main-and-5th", "cam-1", t0)
	n.Zone = strings.Repeat("z", 32<<10) // big messages fill the socket sooner
	sent := 0
	for hub.Dropped() == 0 && sent < 5000 {
		hub.Broadcast(n)
		sent++
		if sent%4 == 0 { // pace to the fast reader (4 < QueueLen) so only the stuck one falls behind
			for deadline := time.Now().Add(5 * time.Second); got.Load() < int64(sent); time.Sleep(100 * time.Microsecond) {
				if time.Now().After(deadline) {
					t.Fatalf("the fast client is stuck at %d of %d", got.Load(), sent)
				}
			}
		}
	}
	if hub.Dropped() != 1 {
		t.Fatalf("slow client not dropped after %d messages", sent)
	}
	t.Logf("slow client dropped after %d messages (fast client had %d)", sent, got.Load())
	// The slow client now reads: queued messages, then the close reason.
	var closeErr *websocket.CloseError
	for {
		_ = slow.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, _, err := slow.ReadMessage(); err != nil {
			if !errors.As(err, &closeErr) {
				t.Fatalf("slow client ended with %v, want a close frame", err)
			}
			break
		}
	}
	if closeErr.Code != websocket.ClosePolicyViolation || !strings.Contains(closeErr.Text, "slow consumer") {
		t.Fatalf("close %d %q", closeErr.Code, closeErr.Text)
	}
	for i := 0; i < 10; i++ {
		hub.Broadcast(n)
	}
	sent += 10
	waitFor(t, "the fast client's messages", func() bool { return got.Load() == int64(sent) })
	if hub.Dropped() != 1 {
		t.Fatalf("%d clients dropped; only the slow one should be", hub.Dropped())
	}
	waitFor(t, "the slow client to be gone", func() bool { return hub.Clients() == 1 })
	select {
	case err := <-fastDone:
		t.Fatalf("fast client ended: %v", err)
	default:
	}
}

func TestLivePingPong(t *testing.T) {
	hub := NewHub(HubOptions{PingInterval: 50 * time.Millisecond})
	f := newFixture(t, Options{Live: hub})
	reader := dial(t, f, "", nil)
	pings := atomic.Int64{}
	reader.SetPingHandler(func(s string) error {
		pings.Add(1)
		return reader.WriteControl(websocket.PongMessage, []byte(s), time.Now().Add(time.Second))
	})
	go func() {
		for {
			if _, _, err := reader.ReadMessage(); err != nil {
				return
			}
		}
	}()
	deaf := dial(t, f, "", nil) // never reads, so never answers a ping
	_ = deaf
	waitFor(t, "two clients", func() bool { return hub.Clients() == 2 })
	waitFor(t, "the client that does not answer pings to be dropped", func() bool { return hub.Clients() == 1 })
	time.Sleep(300 * time.Millisecond)
	if hub.Clients() != 1 || pings.Load() < 3 {
		t.Fatalf("clients %d, pings answered %d", hub.Clients(), pings.Load())
	}
}

func TestLiveOriginCheck(t *testing.T) {
	hub := NewHub(HubOptions{})
	f := newFixture(t, Options{Live: hub, AllowedOrigins: []string{"https://ops.example.org"}})
	wsURL := "ws" + strings.TrimPrefix(f.srv.URL, "http") + "/api/v1/live"
	for _, c := range []struct {
		origin string
		ok     bool
	}{
		{"", true},
		{f.srv.URL, true},
		{"https://ops.example.org", true},
		{"https://OPS.example.org/", true},
		{"https://evil.example.com", false},
		{"null", false},
		{"http://" + strings.TrimPrefix(f.srv.URL, "http://") + ".evil.com", false},
	} {
		hdr := http.Header{}
		if c.origin != "" {
			hdr.Set("Origin", c.origin)
		}
		conn, resp, err := websocket.DefaultDialer.Dial(wsURL, f.wsHeader(hdr))
		if c.ok {
			if err != nil {
				t.Errorf("origin %q refused: %v", c.origin, err)
				continue
			}
			conn.Close()
			continue
		}
		if err == nil {
			conn.Close()
			t.Errorf("origin %q accepted", c.origin)
			continue
		}
		var e apiError
		_ = json.NewDecoder(resp.Body).Decode(&e)
		if resp.StatusCode != http.StatusForbidden || e.Param != "Origin" {
			t.Errorf("origin %q: %d %+v", c.origin, resp.StatusCode, e)
		}
	}
	// Without a hub the route says there is no live feed.
	g := newFixture(t, Options{})
	_, resp, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(g.srv.URL, "http")+"/api/v1/live", g.wsHeader(nil))
	if err == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("no hub: %v %v", err, resp)
	}
}

func TestLiveFromNATS(t *testing.T) {
	nb := bustest.Start(t)
	nc, js := nb.NC, nb.JS
	hub := NewHub(HubOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	fed := make(chan error, 1)
	go func() { fed <- hub.Feed(ctx, nc) }()
	defer func() { cancel(); <-fed; hub.Close() }()
	f := newFixture(t, Options{Live: hub})
	c := dial(t, f, "", nil)
	waitFor(t, "the client", func() bool { return hub.Clients() == 1 })
	time.Sleep(50 * time.Millisecond) // let the subscriptions reach the server
	// Garbage on a live subject is skipped; the feed goes on.
	if err := nc.Publish("intersect.v1.main-and-5th.cam-1.nearmiss", []byte("{not json")); err != nil {
		t.Fatal(err)
	}
	n := storetest.Synthetic(rand.New(rand.NewPCG(7, 8)), "main-and-5th", "cam-1", t0)
	start := time.Now()
	if _, err := bus.Publish(context.Background(), js, n); err != nil {
		t.Fatal(err)
	}
	m := read(t, c)
	var got events.NearMiss
	if err := json.Unmarshal(m.Data, &got); err != nil || m.Type != "nearmiss" || got.ID != n.ID {
		t.Fatalf("got %s %s", m.Type, m.Data)
	}
	t.Logf("published → websocket in %v", time.Since(start))
}

func TestSnapshotFromObjectStore(t *testing.T) {
	js := bustest.Start(t).JS
	ctx := context.Background()
	snaps, err := OpenSnapshots(ctx, js)
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, Options{Snapshots: snaps})
	jpeg := append([]byte{0xFF, 0xD8, 0xFF, 0xE0}, []byte("…a blurred frame…")...)
	// Store three near misses: with a snapshot, with a missing one, with
	// something that is not a JPEG under its key.
	rng := rand.New(rand.NewPCG(9, 9))
	withImg := storetest.Synthetic(rng, "main-and-5th", "cam-1", t0)
	withImg.SnapshotKey = withImg.ID + ".jpg"
	missing := storetest.Synthetic(rng, "main-and-5th", "cam-1", t0)
	missing.SnapshotKey = missing.ID + ".jpg"
	notJPEG := storetest.Synthetic(rng, "main-and-5th", "cam-1", t0)
	notJPEG.SnapshotKey = notJPEG.ID + ".jpg"
	if _, err := f.st.Write(ctx, storeBatch(withImg, missing, notJPEG)); err != nil {
		t.Fatal(err)
	}
	if _, err := snaps.Store.PutBytes(ctx, withImg.SnapshotKey, jpeg); err != nil {
		t.Fatal(err)
	}
	if _, err := snaps.Store.PutBytes(ctx, notJPEG.SnapshotKey, []byte("<html>")); err != nil {
		t.Fatal(err)
	}
	resp, b := f.get(t, "/api/v1/nearmisses/"+withImg.ID+"/snapshot")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/jpeg" || string(b) != string(jpeg) {
		t.Fatalf("snapshot: %d %s %q", resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	for _, c := range []struct {
		id   string
		code int
	}{{missing.ID, 404}, {notJPEG.ID, 502}, {f.nms[0].ID, 404}, {events.NewID(), 404}} {
		resp, b := f.get(t, "/api/v1/nearmisses/"+c.id+"/snapshot")
		if resp.StatusCode != c.code || !json.Valid(b) {
			t.Errorf("%s: %d %s, want %d", c.id, resp.StatusCode, b, c.code)
		}
	}
	// Without an object store: 503, not a crash.
	g := newFixture(t, Options{})
	if _, err := g.st.Write(ctx, storeBatch(withImg)); err != nil {
		t.Fatal(err)
	}
	if resp, _ := g.get(t, "/api/v1/nearmisses/"+withImg.ID+"/snapshot"); resp.StatusCode != 503 {
		t.Fatalf("no object store: %d", resp.StatusCode)
	}
}
