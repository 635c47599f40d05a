package live_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/intersect-oss/intersect/api"
	"github.com/intersect-oss/intersect/events"
	"github.com/intersect-oss/intersect/events/bus"
	"github.com/intersect-oss/intersect/ingest"
	"github.com/intersect-oss/intersect/internal/testenv"
	"github.com/intersect-oss/intersect/signals"
	"github.com/intersect-oss/intersect/signals/live"
	"github.com/intersect-oss/intersect/store"
)

func testLog(t testing.TB) *slog.Logger {
	if os.Getenv("LIVE_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// rig is the whole live loop on one machine: embedded NATS, SQLite,
// ingest, the API, the advisor and a controller agent.
type rig struct {
	t   *testing.T
	ctx context.Context
	nc  *nats.Conn
	js  jetstream.JetStream // ingest's connection (the test publishes with it)
	// advJS is the advisor's connection: under least privilege the only
	// one that may publish weather.
	advJS jetstream.JetStream
	st    store.Store
	api   *httptest.Server
	adv   *live.Advisor
	ctl   *live.Controller
	plan  *signals.Plan
	pub   ed25519.PublicKey
	out   *syncBuffer
	// startAdvisor runs the advisor; tests publish their history first.
	startAdvisor func()
	// runAdvisor runs another advisor until stop is called.
	runAdvisor func(*live.Advisor) (stop func())
	key        ed25519.PrivateKey
	log        *slog.Logger
	// tokens holds an engineer API token per approver name: the API records
	// decisions under the token's name, as in production.
	tokens map[string]string
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func loadPlan(t testing.TB) *signals.Plan {
	t.Helper()
	p, err := signals.LoadPlan(filepath.Join(testenv.RepoRoot(), "signals", "testdata", "plan.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func newRig(t *testing.T, cfg live.Config) *rig { return buildRig(t, cfg, false) }

// buildRig starts the loop; with secure, the server enforces one NKey
// identity per part (bus.Permissions) over TLS, so every NATS call the
// advisor and the agent make must be one their role allows.
func buildRig(t *testing.T, cfg live.Config, secure bool) *rig {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	log := testLog(t)
	var d bus.Deployment
	opts := bus.ServerOptions{DataDir: t.TempDir()}
	if secure {
		d = bus.Deployment{Dir: filepath.Join(t.TempDir(), "nats")}
		if _, err := d.Create([]bus.Identity{
			{Name: "ingest", Role: bus.RoleIngest},
			{Name: "advisor:demo", Role: bus.RoleAdvisor, Site: "demo"},
			{Name: "controller:demo:ctl-1", Role: bus.RoleController, Site: "demo", Controller: "ctl-1"},
		}, []string{"127.0.0.1", "localhost"}); err != nil {
			t.Fatal(err)
		}
		opts.Configure = d.ConfigureServer()
	}
	srv, err := bus.StartServer(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	var conns []*nats.Conn
	connect := func(identity string) jetstream.JetStream {
		var o []nats.Option
		if secure {
			if o, err = d.Credentials(identity).Options(log); err != nil {
				t.Fatal(err)
			}
		}
		nc, err := bus.Connect(ctx, srv.ClientURL(), identity, log, o...)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, nc)
		js, err := jetstream.New(nc)
		if err != nil {
			t.Fatal(err)
		}
		return js
	}
	js := connect("ingest")
	nc := conns[0]
	if err := bus.EnsureStreams(ctx, js, 1); err != nil {
		t.Fatal(err)
	}
	advJS, ctlJS := js, js
	if secure {
		advJS, ctlJS = connect("advisor:demo"), connect("controller:demo:ctl-1")
	}
	st, err := store.Open(ctx, "", t.TempDir(), log)
	if err != nil {
		t.Fatal(err)
	}
	pub, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{t: t, ctx: ctx, nc: nc, js: js, advJS: advJS, st: st, plan: loadPlan(t), pub: pub, out: &syncBuffer{}}
	r.adv, err = live.NewAdvisor(advJS, st, r.plan, key, cfg, log.With("part", "advisor"))
	if err != nil {
		t.Fatal(err)
	}
	core, err := signals.NewController("ctl-1", pub, loadPlan(t))
	if err != nil {
		t.Fatal(err)
	}
	r.ctl, err = live.NewController(ctlJS, core, r.out, log.With("part", "controller"))
	if err != nil {
		t.Fatal(err)
	}
	r.api = httptest.NewServer(api.New(api.Options{Store: st, Log: log.With("part", "api")}).Handler())

	var wg sync.WaitGroup
	run := func(name string, fn func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := fn(ctx); err != nil && ctx.Err() == nil {
				t.Errorf("%s: %v", name, err)
			}
		}()
	}
	run("ingest", ingest.New(js, st, ingest.Config{MaxWait: 50 * time.Millisecond}, log.With("part", "ingest")).Run)
	run("controller", r.ctl.Run)
	r.startAdvisor = func() { run("advisor", r.adv.Run) }
	r.key, r.log = key, log
	r.runAdvisor = func(a *live.Advisor) (stop func()) {
		actx, acancel := context.WithCancel(ctx)
		done := make(chan struct{})
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(done)
			if err := a.Run(actx); err != nil && actx.Err() == nil {
				t.Errorf("advisor: %v", err)
			}
		}()
		return func() { acancel(); <-done }
	}
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		r.api.Close()
		for _, nc := range conns {
			nc.Close()
		}
		st.Close()
		srv.Shutdown()
	})
	return r
}

func (r *rig) publish(evs ...events.Event) {
	r.t.Helper()
	for _, ev := range evs {
		if _, err := bus.Publish(r.ctx, r.js, ev); err != nil {
			r.t.Fatal(err)
		}
	}
}

// waitFor polls cond until it holds or d passes; the message says what
// was last seen.
func waitFor(t *testing.T, d time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(d)
	last := ""
	for time.Now().Before(deadline) {
		ok, seen := cond()
		if ok {
			return
		}
		last = seen
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("timed out after %s waiting for %s; last seen: %s", d, what, last)
}

func (r *rig) recs(states ...events.State) []events.Recommendation {
	r.t.Helper()
	recs, err := r.st.Recommendations(r.ctx, store.RecommendationQuery{Site: "demo", States: states})
	if err != nil {
		r.t.Fatal(err)
	}
	return recs
}

func (r *rig) rec(id string) *events.Recommendation {
	r.t.Helper()
	rec, err := r.st.Recommendation(r.ctx, id)
	if err != nil {
		r.t.Fatal(err)
	}
	return rec
}

func summary(recs []events.Recommendation) string {
	var b strings.Builder
	for _, r := range recs {
		fmt.Fprintf(&b, "[%s %s p%d %s] ", r.ID, r.Rule, r.Target.Phase, r.State)
	}
	return b.String()
}

// approve posts an engineer's approval through the real API handler.
func (r *rig) approve(id, by, reason string) {
	r.t.Helper()
	tok, ok := r.tokens[by]
	if !ok {
		var err error
		if tok, _, err = api.IssueToken(r.ctx, r.st, by, api.RoleEngineer); err != nil {
			r.t.Fatal(err)
		}
		if r.tokens == nil {
			r.tokens = map[string]string{}
		}
		r.tokens[by] = tok
	}
	body, _ := json.Marshal(map[string]string{"by": by, "reason": reason})
	req, err := http.NewRequestWithContext(r.ctx, "POST", r.api.URL+"/api/v1/recommendations/"+id+"/approve", bytes.NewReader(body))
	if err != nil {
		r.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		r.t.Fatalf("approve %s: %s: %s", id, resp.Status, b)
	}
}

// waitState waits until the store shows rec id in state s.
func (r *rig) waitState(id string, s events.State, d time.Duration) {
	r.t.Helper()
	waitFor(r.t, d, fmt.Sprintf("%s to be %s", id, s), func() (bool, string) {
		rec := r.rec(id)
		return rec.State == s, string(rec.State)
	})
}

func f64(v float64) *float64 { return &v }

// rightTurnConflicts are NB right turns meeting pedestrians in the phase 2
// east crosswalk: the LPI rule's trigger.
func rightTurnConflicts(now time.Time, n int) []events.Event {
	var out []events.Event
	for i := range n {
		at := now.Add(-time.Duration(i+1) * 7 * time.Minute)
		out = append(out, &events.NearMiss{
			Header: events.NewHeader(events.KindNearMiss, "demo", "cam-1", at),
			TrackA: int64(10 * i), ClassA: events.Car, TrackB: int64(10*i + 1), ClassB: events.Pedestrian,
			Start: at.Add(-2 * time.Second), End: at, MinTTCS: f64(0.9), PETS: f64(1.1),
			MinDistanceM: 1.2, SpeedAMPS: 5, SpeedBMPS: 1.3, AngleDeg: 80, Lat: 40.76, Lng: -111.89,
			Type: events.RightTurnCrosswalk, Severity: events.Serious, Approach: "NB", Zone: "crosswalk-east", Movement: "right",
		})
	}
	return out
}

// crossings are pedestrians walking the east crosswalk at 1.4 m/s, and the
// cars that turned past them (which the advisor must not keep).
func crossings(now time.Time, n int) []events.Event {
	var out []events.Event
	for i := range n {
		at := now.Add(-time.Duration(i+1) * time.Minute)
		out = append(out, &events.TrackSummary{
			Header: events.NewHeader(events.KindTrack, "demo", "cam-1", at),
			Track:  int64(1000 + i), Class: events.Pedestrian, Start: at.Add(-15 * time.Second), End: at,
			Frames: 150, DistanceM: 20, MeanSpeedMPS: 1.4, Crosswalk: "crosswalk-east",
		}, &events.TrackSummary{
			Header: events.NewHeader(events.KindTrack, "demo", "cam-1", at),
			Track:  int64(5000 + i), Class: events.Car, Start: at.Add(-5 * time.Second), End: at,
			Frames: 50, DistanceM: 40, MeanSpeedMPS: 9, Approach: "NB", Movement: "right",
		})
	}
	return out
}

// TestLPIEndToEnd is issue 5's "must show" 3: conflicts concentrated on
// one right-turn movement → an LPI recommendation with evidence, proposed
// in the store → approved through the API → signed by the advisor →
// verified, applied and acknowledged by the controller agent → deployed;
// a tampered copy is rejected.
func TestLPIEndToEnd(t *testing.T) {
	r := newRig(t, live.Config{Every: 200 * time.Millisecond, ApprovalPoll: 100 * time.Millisecond})
	now := time.Now()
	conflicts := rightTurnConflicts(now, 12)
	r.publish(conflicts...)
	r.publish(crossings(now, 260)...)
	r.startAdvisor()

	var lpi events.Recommendation
	waitFor(t, 15*time.Second, "an LPI recommendation in the store", func() (bool, string) {
		recs := r.recs()
		for _, rec := range recs {
			if rec.Rule == signals.RuleLPI {
				lpi = rec
				return true, ""
			}
		}
		return false, summary(recs)
	})
	if nm, cr, ev := r.adv.Window(); nm != len(conflicts) || cr != 260 || ev != 0 {
		t.Errorf("window holds %d near misses and %d crossings (%d evicted), want %d and 260 (cars not kept)", nm, cr, ev, len(conflicts))
	}
	if lpi.State != events.Proposed || lpi.Target.Phase != 2 || lpi.Target.Controller != "ctl-1" {
		t.Fatalf("LPI record: state %s phase %d controller %s, want proposed phase 2 ctl-1", lpi.State, lpi.Target.Phase, lpi.Target.Controller)
	}
	if err := lpi.Verify(r.pub); err != nil {
		t.Fatalf("stored proposal does not verify: %v", err)
	}
	if len(lpi.Evidence.EventIDs) != len(conflicts) || len(lpi.Evidence.Rates) == 0 {
		t.Fatalf("evidence: %d event IDs (want %d), %d rates", len(lpi.Evidence.EventIDs), len(conflicts), len(lpi.Evidence.Rates))
	}
	want := map[string]bool{}
	for _, c := range conflicts {
		want[c.Head().ID] = true
	}
	for _, id := range lpi.Evidence.EventIDs {
		if !want[id] {
			t.Errorf("evidence cites %s, not one of the published conflicts", id)
		}
	}
	if rate := lpi.Evidence.Rates[0]; rate.Count != 12 || rate.Exposure != 260 {
		t.Errorf("rate %d over %v, want 12 over 260 crossing pedestrians (cars must not count)", rate.Count, rate.Exposure)
	}
	if lpi.Approval != nil {
		t.Fatal("a proposal carries an approval before anyone approved it")
	}
	// The proposal reached the controller too, which must wait for approval.
	waitFor(t, 5*time.Second, "the agent to see the unapproved proposal", func() (bool, string) {
		s := r.ctl.Stats()
		return s.Ignored >= 1, fmt.Sprintf("%+v", s)
	})
	if s := r.ctl.Stats(); s.Applied != 0 {
		t.Fatalf("controller applied an unapproved recommendation: %+v", s)
	}

	r.approve(lpi.ID, "j.doe@city.gov", "LPI reviewed with field notes")
	r.waitState(lpi.ID, events.Deployed, 15*time.Second)

	got := r.rec(lpi.ID)
	if got.Approval == nil || got.Approval.By != "j.doe@city.gov" || got.Approval.Reason != "LPI reviewed with field notes" {
		t.Fatalf("stored approval %+v, want the engineer's who and why", got.Approval)
	}
	if err := got.Verify(r.pub); err != nil {
		t.Fatalf("stored approved copy does not verify: %v", err)
	}
	ts, err := r.st.Transitions(r.ctx, lpi.ID)
	if err != nil {
		t.Fatal(err)
	}
	var path []string
	for _, tr := range ts {
		path = append(path, fmt.Sprintf("%s→%s by %s", tr.From, tr.To, tr.By))
	}
	if len(ts) != 3 || ts[1].By != "j.doe@city.gov" || ts[2].To != events.Deployed || ts[2].By != "controller:ctl-1" {
		t.Fatalf("history %v, want stored → approved by the engineer → deployed by controller:ctl-1", path)
	}
	ch := lpi.Changes[0]
	if !strings.Contains(r.out.String(), fmt.Sprintf(`"oid":"%s"`, ch.OID)) || !strings.Contains(r.out.String(), `"result":"applied"`) {
		t.Fatalf("agent output lacks the NTCIP set of %s and the applied ack:\n%s", ch.OID, r.out.String())
	}

	// The controller now runs the LPI; later evaluations must not propose
	// it again from the plan file's 0 s.
	evals := r.adv.Evaluations()
	waitFor(t, 5*time.Second, "three more evaluations", func() (bool, string) {
		return r.adv.Evaluations() >= evals+3, fmt.Sprint(r.adv.Evaluations())
	})
	time.Sleep(200 * time.Millisecond) // let ingest store anything published
	n := 0
	for _, rec := range r.recs() {
		if rec.Rule == signals.RuleLPI {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d LPI recommendations after deployment, want the one: %s", n, summary(r.recs()))
	}

	// A tampered copy: the approved record with a longer LPI, signatures
	// kept, published where the controller listens.
	acks, err := r.nc.SubscribeSync(events.AckSubject("demo", "ctl-1"))
	if err != nil {
		t.Fatal(err)
	}
	bad := *got
	bad.Changes = append([]events.Change(nil), got.Changes...)
	bad.Changes[0].Proposed = 7
	data, err := json.Marshal(&bad)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.js.Publish(r.ctx, r.ctl.Subject(), data, jetstream.WithMsgID(got.ID+"-tampered")); err != nil {
		t.Fatal(err)
	}
	m, err := acks.NextMsg(10 * time.Second)
	if err != nil {
		t.Fatalf("no acknowledgement of the tampered copy: %v", err)
	}
	ev, err := events.Decode(m.Data)
	if err != nil {
		t.Fatal(err)
	}
	ack := ev.(*events.Ack)
	if ack.Result != events.AckRejected || ack.RecommendationID != got.ID || !strings.Contains(ack.Reason, "signature") {
		t.Fatalf("tampered copy answered %s for %s (%q), want rejected for %s naming the signature", ack.Result, ack.RecommendationID, ack.Reason, got.ID)
	}
	if s := r.ctl.Stats(); s.Applied != 1 || s.Rejected != 1 {
		t.Fatalf("controller stats %+v, want 1 applied, 1 rejected", s)
	}
	if strings.Contains(r.out.String(), `"proposed":7`) {
		t.Fatalf("the tampered value reached the controller:\n%s", r.out.String())
	}
	if st := r.rec(lpi.ID).State; st != events.Deployed {
		t.Fatalf("after the tampered copy the record is %s, want still deployed", st)
	}
}

func weatherObs(c events.Condition, at time.Time) *events.WeatherObservation {
	return &events.WeatherObservation{Header: events.NewHeader(events.KindWeather, "demo", "", at), Condition: c, Source: "manual"}
}

// TestWeatherSnowThenDry is issue 5's "must show" 4: snow produces
// clearance and cycle suggestions in the evaluation the weather change
// triggers (the schedule is an hour, so nothing else can), and dry retires
// them: pending ones expire, a deployed one gets a rollback that, once
// approved and applied, marks it rolled back.
func TestWeatherSnowThenDry(t *testing.T) {
	r := newRig(t, live.Config{Every: time.Hour, ApprovalPoll: 100 * time.Millisecond})
	r.startAdvisor()
	waitFor(t, 10*time.Second, "the first evaluation", func() (bool, string) {
		return r.adv.Evaluations() >= 1, ""
	})
	time.Sleep(300 * time.Millisecond)
	if recs := r.recs(); len(recs) != 0 {
		t.Fatalf("dry weather without events proposed %s", summary(recs))
	}
	evals := r.adv.Evaluations()

	r.publish(weatherObs(events.Snow, time.Now()))
	var snow []events.Recommendation
	waitFor(t, 10*time.Second, "snow clearance and cycle recommendations", func() (bool, string) {
		snow = r.recs(events.Proposed)
		rules := map[string]bool{}
		for _, rec := range snow {
			rules[rec.Rule] = true
		}
		return rules[signals.RuleClearance] && rules[signals.RuleCycle], summary(snow)
	})
	if got := r.adv.Evaluations(); got != evals+1 {
		t.Fatalf("%d evaluations since the snow, want exactly the one it triggered", got-evals)
	}
	var deploy *events.Recommendation
	for i := range snow {
		rec := &snow[i]
		if !signals.WeatherDriven(rec) || rec.Evidence.Inputs["weather"] != "snow" {
			t.Errorf("%s %s is not marked as made for snow: %v", rec.ID, rec.Rule, rec.Evidence.Inputs)
		}
		if rec.Rule == signals.RuleClearance && rec.Target.Phase == 2 {
			deploy = rec
		}
	}
	if deploy == nil {
		t.Fatalf("no phase 2 clearance recommendation in snow: %s", summary(snow))
	}
	r.approve(deploy.ID, "ops@city.gov", "storm plan")
	r.waitState(deploy.ID, events.Deployed, 15*time.Second)

	r.publish(weatherObs(events.Dry, time.Now()))
	for _, rec := range snow {
		if rec.ID == deploy.ID {
			continue
		}
		r.waitState(rec.ID, events.Expired, 10*time.Second)
		ts, err := r.st.Transitions(r.ctx, rec.ID)
		if err != nil {
			t.Fatal(err)
		}
		if last := ts[len(ts)-1]; !strings.Contains(last.Why, "weather is now dry") || !strings.HasPrefix(last.By, "advisor:") {
			t.Errorf("%s retired by %q because %q, want the advisor naming the dry weather", rec.ID, last.By, last.Why)
		}
	}
	var rb events.Recommendation
	waitFor(t, 10*time.Second, "a rollback of the deployed snow clearance", func() (bool, string) {
		recs := r.recs(events.Proposed)
		for _, rec := range recs {
			if rec.Rule == live.RuleRollback {
				rb = rec
				return true, ""
			}
		}
		return false, summary(recs)
	})
	if rb.Evidence.Inputs["rollback_of"] != deploy.ID || len(rb.Changes) != len(deploy.Changes) {
		t.Fatalf("rollback %+v does not undo %s", rb.Evidence.Inputs, deploy.ID)
	}
	for i, ch := range rb.Changes {
		if d := deploy.Changes[i]; ch.OID != d.OID || ch.Current != d.Proposed || ch.Proposed != d.Current {
			t.Errorf("rollback change %d: %s %v → %v, want %s %v → %v", i, ch.OID, ch.Current, ch.Proposed, d.OID, d.Proposed, d.Current)
		}
	}
	r.approve(rb.ID, "ops@city.gov", "storm over")
	r.waitState(rb.ID, events.Deployed, 15*time.Second)
	// The next evaluation notices the rollback on the controller.
	if _, err := r.adv.Evaluate(r.ctx); err != nil {
		t.Fatal(err)
	}
	r.waitState(deploy.ID, events.RolledBack, time.Second)
	if s := r.ctl.Stats(); s.Applied != 2 || s.Rejected != 0 {
		t.Fatalf("controller stats %+v, want the snow clearance and its rollback applied", s)
	}
}

// TestLeastPrivilege runs the advisor and the agent under their own NKey
// identities on a server that enforces bus.Permissions: the advisor's
// filtered durable "advisor", its publishes and the agent's filtered
// ctl-<site>-<id> consumer and ack must all be ones their roles allow.
func TestLeastPrivilege(t *testing.T) {
	r := buildRig(t, live.Config{Every: time.Hour, ApprovalPoll: 100 * time.Millisecond}, true)
	r.startAdvisor()
	// Only the advisor identity (and weather providers) may publish weather.
	if _, err := bus.Publish(r.ctx, r.advJS, weatherObs(events.Ice, time.Now())); err != nil {
		t.Fatal(err)
	}
	var target *events.Recommendation
	waitFor(t, 10*time.Second, "ice clearance recommendations", func() (bool, string) {
		recs := r.recs(events.Proposed)
		for i := range recs {
			if recs[i].Rule == signals.RuleClearance && recs[i].Target.Phase == 4 {
				target = &recs[i]
				return true, ""
			}
		}
		return false, summary(recs)
	})
	r.approve(target.ID, "ops@city.gov", "ice storm")
	r.waitState(target.ID, events.Deployed, 15*time.Second)
	if s := r.ctl.Stats(); s.Applied != 1 || s.Rejected != 0 {
		t.Fatalf("controller stats %+v, want one applied", s)
	}
}

// TestRestartSeedsFromStore: the durable consumer does not hand a restarted
// advisor what it acknowledged before, so the window must come back from
// the store, or a restart would silence every rule until the evidence
// piled up again.
func TestRestartSeedsFromStore(t *testing.T) {
	r := newRig(t, live.Config{Every: time.Hour, ApprovalPoll: time.Hour})
	now := time.Now()
	r.publish(rightTurnConflicts(now, 12)...)
	r.publish(crossings(now, 260)...)
	cfg := live.Config{Every: time.Hour, ApprovalPoll: time.Hour}
	first, err := live.NewAdvisor(r.advJS, r.st, r.plan, r.key, cfg, r.log)
	if err != nil {
		t.Fatal(err)
	}
	stop := r.runAdvisor(first)
	waitFor(t, 10*time.Second, "the first advisor to read the stream", func() (bool, string) {
		nm, cr, _ := first.Window()
		return first.Evaluations() >= 1 && nm == 12 && cr == 260, fmt.Sprint(nm, " ", cr)
	})
	waitFor(t, 10*time.Second, "ingest to store the history", func() (bool, string) {
		sites, err := r.st.Sites(r.ctx)
		if err != nil || len(sites) != 1 {
			return false, fmt.Sprint(sites, err)
		}
		return sites[0].NearMisses == 12 && sites[0].Tracks == 520, fmt.Sprintf("%+v", sites[0])
	})
	stop()

	second, err := live.NewAdvisor(r.advJS, r.st, r.plan, r.key, cfg, r.log)
	if err != nil {
		t.Fatal(err)
	}
	defer r.runAdvisor(second)()
	waitFor(t, 10*time.Second, "the restarted advisor's first evaluation", func() (bool, string) {
		return second.Evaluations() >= 1, ""
	})
	if nm, cr, _ := second.Window(); nm != 12 || cr != 260 {
		t.Fatalf("restarted window holds %d near misses and %d crossings, want 12 and 260 from the store", nm, cr)
	}
	// It must not propose the LPI the first one proposed.
	time.Sleep(300 * time.Millisecond)
	n := 0
	for _, rec := range r.recs() {
		if rec.Rule == signals.RuleLPI {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d LPI recommendations after the restart, want 1: %s", n, summary(r.recs()))
	}
}

// TestDeployedChangeIsEvaluated follows a deployed LPI to its evaluation:
// the 12 conflicts over 260 crossings before deployment against none over
// 260 crossings after, over equal periods, is a significant drop, recorded
// as deployed → evaluated with the figures. The clock is moved forward past
// the after period instead of waiting for it.
func TestDeployedChangeIsEvaluated(t *testing.T) {
	var offset atomic.Int64
	clock := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	period := 5 * time.Hour
	r := newRig(t, live.Config{Every: 200 * time.Millisecond, ApprovalPoll: 100 * time.Millisecond, EvaluationPeriod: period, Now: clock})
	now := time.Now()
	r.publish(rightTurnConflicts(now, 12)...)
	r.publish(crossings(now, 260)...)
	r.startAdvisor()
	var lpi events.Recommendation
	waitFor(t, 15*time.Second, "an LPI recommendation", func() (bool, string) {
		for _, rec := range r.recs() {
			if rec.Rule == signals.RuleLPI {
				lpi = rec
				return true, ""
			}
		}
		return false, ""
	})
	r.approve(lpi.ID, "j.doe@city.gov", "LPI reviewed")
	r.waitState(lpi.ID, events.Deployed, 15*time.Second)
	trs, err := r.st.Transitions(r.ctx, lpi.ID)
	if err != nil {
		t.Fatal(err)
	}
	deployedAt := trs[len(trs)-1].At
	// The after period: as many crossings, no conflicts.
	var after []events.Event
	for i := range 260 {
		at := deployedAt.Add(time.Duration(i+1) * time.Minute)
		after = append(after, &events.TrackSummary{
			Header: events.NewHeader(events.KindTrack, "demo", "cam-1", at),
			Track:  int64(9000 + i), Class: events.Pedestrian, Start: at.Add(-15 * time.Second), End: at,
			Frames: 150, DistanceM: 20, MeanSpeedMPS: 1.4, Crosswalk: "crosswalk-east",
		})
	}
	r.publish(after...)
	offset.Store(int64(period + time.Minute))
	r.waitState(lpi.ID, events.Evaluated, 15*time.Second)
	trs, _ = r.st.Transitions(r.ctx, lpi.ID)
	last := trs[len(trs)-1]
	if last.From != events.Deployed || !strings.Contains(last.Why, "significant drop") || !strings.Contains(last.Why, "12 over") {
		t.Fatalf("evaluation transition %+v, want deployed → evaluated with a significant drop from 12 conflicts", last)
	}
}

// TestNewEvidenceTriggersEvaluation: with an hourly schedule, conflicts and
// crossings arriving on the bus still lead to an evaluation Settle after
// they arrive, and so to the LPI recommendation they justify; a burst of
// events makes one evaluation, not one each.
func TestNewEvidenceTriggersEvaluation(t *testing.T) {
	r := newRig(t, live.Config{Every: time.Hour, Settle: 500 * time.Millisecond, ApprovalPoll: 100 * time.Millisecond})
	r.startAdvisor()
	waitFor(t, 10*time.Second, "the first evaluation", func() (bool, string) {
		return r.adv.Evaluations() >= 1, ""
	})
	time.Sleep(700 * time.Millisecond) // nothing arrives: no evaluation beyond the first
	if got := r.adv.Evaluations(); got != 1 {
		t.Fatalf("%d evaluations without new evidence, want 1", got)
	}
	now := time.Now()
	r.publish(crossings(now, 260)...)
	r.publish(rightTurnConflicts(now, 12)...)
	waitFor(t, 10*time.Second, "an LPI recommendation without waiting for the hourly schedule", func() (bool, string) {
		for _, rec := range r.recs() {
			if rec.Rule == signals.RuleLPI {
				return true, ""
			}
		}
		return false, fmt.Sprint(r.adv.Evaluations(), " evaluations")
	})
	time.Sleep(time.Second) // let a straggling settle timer fire, if any
	// 272 events published in well under a second: one evaluation, or two
	// when the burst straddled a settle deadline; never one per event.
	if got := r.adv.Evaluations(); got < 2 || got > 3 {
		t.Fatalf("%d evaluations after a burst of 272 events, want 2 or 3 (the first, then one or two settles)", got)
	}
}
