package live

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/intersect-oss/intersect/events"
	"github.com/intersect-oss/intersect/events/bus"
	"github.com/intersect-oss/intersect/signals"
	"github.com/intersect-oss/intersect/signals/weather"
	"github.com/intersect-oss/intersect/store"
)

// Store is what the advisor needs from the store; store.Store has it.
type Store interface {
	NearMisses(ctx context.Context, q store.NearMissQuery) (store.NearMissPage, error)
	TrackSummaries(ctx context.Context, q store.TrackQuery) ([]events.TrackSummary, error)
	LatestWeather(ctx context.Context, site string) (*events.WeatherObservation, error)
	Recommendations(ctx context.Context, q store.RecommendationQuery) ([]events.Recommendation, error)
	Transition(ctx context.Context, id string, from, to events.State, by, why string) error
	Transitions(ctx context.Context, id string) ([]store.Transition, error)
	UpdateRecommendation(ctx context.Context, rec *events.Recommendation) error
}

// Config tunes the advisor. The zero value is usable.
type Config struct {
	// Window is how far back events are kept (default 7 days). The rules
	// see the shorter of this and the plan's rules.lookback_h.
	Window time.Duration
	// Every is the evaluation schedule (default 1 min); a weather change
	// triggers an evaluation at once as well.
	Every time.Duration
	// Settle: new evidence (a near miss, a pedestrian crossing) triggers
	// an evaluation this long after it arrived, so that a burst of events
	// makes one evaluation, not one each (default 5 s; negative: only the
	// schedule). An engineer sees a suggestion seconds after the conflict
	// that justified it, not up to Every later.
	Settle time.Duration
	// ApprovalPoll is how often the store is checked for approvals to sign
	// (default 2 s): the delay between an engineer's click and the signed
	// copy reaching the controller.
	ApprovalPoll time.Duration
	// MaxEvents bounds the window per kind (near misses, crossings);
	// default 200,000. The oldest go first.
	MaxEvents int
	// Weather, if set, is polled on every evaluation; a change is published
	// on the site's weather subject. Without it the weather comes only
	// from observations on the bus (intersect weather set, NWS pollers).
	Weather weather.Provider
	// CatchUp bounds how long the first evaluation waits for the consumer
	// to read the backlog (default 30 s).
	CatchUp time.Duration
	// EvaluationPeriod is the length of the before and after periods a
	// deployed change is judged on (default: half of Window, so the
	// history holds both).
	EvaluationPeriod time.Duration
	// Durable is the events-stream consumer name (default
	// bus.AdvisorConsumer(site), the name the advisor NATS identity may use).
	Durable string
	// By names the advisor in the store's transition history (default
	// "advisor:<key ID>").
	By string
	// Now is the clock (default time.Now).
	Now func() time.Time
}

func (c Config) withDefaults(site, keyID string) Config {
	if c.Window <= 0 {
		c.Window = 7 * 24 * time.Hour
	}
	if c.Every <= 0 {
		c.Every = time.Minute
	}
	if c.EvaluationPeriod <= 0 || c.EvaluationPeriod > c.Window/2 {
		c.EvaluationPeriod = c.Window / 2
	}
	if c.ApprovalPoll <= 0 {
		c.ApprovalPoll = 2 * time.Second
	}
	if c.Settle == 0 {
		c.Settle = 5 * time.Second
	}
	if c.CatchUp <= 0 {
		c.CatchUp = 30 * time.Second
	}
	if c.MaxEvents <= 0 {
		c.MaxEvents = 200_000
	}
	if c.Durable == "" {
		c.Durable = bus.AdvisorConsumer(site)
	}
	if c.By == "" {
		c.By = "advisor:" + keyID
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Report is what one evaluation did.
type Report struct {
	At        time.Time
	Weather   events.Condition
	Published []*events.Recommendation // new recommendations, rollbacks included
	Retired   []string                 // IDs moved to expired
	Evaluated []string                 // IDs moved from deployed to evaluated
	Skipped   []signals.Skip
}

// Advisor is the live advisor service for one intersection (one plan, one
// controller).
type Advisor struct {
	js   jetstream.JetStream
	st   Store
	plan *signals.Plan
	core *signals.Advisor
	pub  ed25519.PublicKey
	cfg  Config
	log  *slog.Logger

	mu      sync.Mutex
	hist    *history
	weather *events.WeatherObservation // latest observation; nil: none yet (dry)
	// recent are recommendations published but not yet seen in the store;
	// they count as pending (until stored or expired) so that neither a
	// quick re-evaluation nor a stalled ingest makes the advisor propose
	// them twice.
	recent map[string]*events.Recommendation
	warned map[string]bool // recent ones logged as missing from the store
	// approvalSent are approvals republished by this process.
	approvalSent map[string]bool

	evalMu      sync.Mutex // one evaluation at a time
	wake        chan struct{}
	evidence    chan struct{} // new evidence kept: arm the settle timer
	evaluations atomic.Int64
}

// NewAdvisor returns the live advisor for plan, signing with key. Call Run.
func NewAdvisor(js jetstream.JetStream, st Store, plan *signals.Plan, key ed25519.PrivateKey, cfg Config, log *slog.Logger) (*Advisor, error) {
	if plan == nil {
		return nil, errors.New("live advisor: a timing plan is required")
	}
	if len(key) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("live advisor for %s: an Ed25519 private key is required (got %d bytes)", plan.Site, len(key))
	}
	if js == nil || st == nil {
		return nil, fmt.Errorf("live advisor for %s: JetStream and a store are required", plan.Site)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	pub := key.Public().(ed25519.PublicKey)
	keyID := signals.KeyID(pub)
	cfg = cfg.withDefaults(plan.Site, keyID)
	return &Advisor{
		js: js, st: st, plan: plan, pub: pub, cfg: cfg,
		core: &signals.Advisor{Plan: plan, Key: key, KeyID: keyID},
		log:  log.With("site", plan.Site, "controller", plan.Controller),
		hist: newHistory(cfg.Window, cfg.MaxEvents), recent: map[string]*events.Recommendation{}, warned: map[string]bool{},
		approvalSent: map[string]bool{}, wake: make(chan struct{}, 1), evidence: make(chan struct{}, 1),
	}, nil
}

// Evaluations is how many evaluations have run.
func (a *Advisor) Evaluations() int64 { return a.evaluations.Load() }

// Window reports how many near misses and pedestrian crossings the
// sliding window holds, and how many the count bound has evicted.
func (a *Advisor) Window() (nearMisses, crossings, evicted int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.hist.nms), len(a.hist.tracks), a.hist.dropped
}

// Weather is the condition the advisor currently plans for.
func (a *Advisor) Weather() events.Condition {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.condition()
}

func (a *Advisor) condition() events.Condition {
	if a.weather == nil {
		return events.Dry
	}
	return a.weather.Condition
}

// Run consumes events, evaluates on schedule and on weather changes, and
// signs approvals, until ctx ends. It returns an error only when it cannot
// start (consumer or store unavailable).
func (a *Advisor) Run(ctx context.Context) error {
	cons, err := a.consumer(ctx)
	if err != nil {
		return err
	}
	if err := a.seed(ctx); err != nil {
		return err
	}
	caughtUp := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		a.consume(ctx, cons, caughtUp)
	}()
	defer wg.Wait()
	// Judge only on the whole window: the first evaluation waits until the
	// consumer has read the backlog JetStream holds, or a while at most.
	catchUp := time.NewTimer(a.cfg.CatchUp)
	select {
	case <-ctx.Done():
		catchUp.Stop()
		return nil
	case <-caughtUp:
	case <-catchUp.C:
		a.log.Warn("still reading the event backlog; evaluating on what has arrived", "after", a.cfg.CatchUp)
	}
	catchUp.Stop()
	a.log.Info("advisor running", "every", a.cfg.Every, "window", a.cfg.Window, "weather", a.Weather(), "key_id", a.core.KeyID)
	eval := time.NewTicker(a.cfg.Every)
	defer eval.Stop()
	poll := time.NewTicker(a.cfg.ApprovalPoll)
	defer poll.Stop()
	a.evaluateAndLog(ctx)
	var settle <-chan time.Time // armed by new evidence, nil otherwise
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-eval.C:
			a.evaluateAndLog(ctx)
		case <-a.wake:
			a.evaluateAndLog(ctx)
		case <-a.evidence:
			if settle == nil && a.cfg.Settle > 0 {
				settle = time.After(a.cfg.Settle)
			}
		case <-settle:
			settle = nil
			a.evaluateAndLog(ctx)
		case <-poll.C:
			if _, err := a.SignApprovals(ctx); err != nil && ctx.Err() == nil {
				a.log.Error("signing approvals", "err", err)
			}
		}
	}
}

func (a *Advisor) evaluateAndLog(ctx context.Context) {
	rep, err := a.Evaluate(ctx)
	if err != nil {
		if ctx.Err() == nil {
			a.log.Error("evaluation failed; next on schedule", "err", err)
		}
		return
	}
	for _, s := range rep.Skipped {
		a.log.Debug("no recommendation", "rule", s.Rule, "phase", s.Phase, "reason", s.Reason)
	}
	if len(rep.Published) > 0 || len(rep.Retired) > 0 {
		a.log.Info("evaluated", "weather", rep.Weather, "published", len(rep.Published), "retired", len(rep.Retired))
	}
}

// consumer creates (or reuses) the durable consumer of this site's near
// misses, track summaries and weather. A new consumer starts at the
// beginning of the window, so a first start reads the history JetStream
// still holds.
func (a *Advisor) consumer(ctx context.Context) (jetstream.Consumer, error) {
	site := a.plan.Site
	start := a.cfg.Now().Add(-a.cfg.Window)
	cfg := jetstream.ConsumerConfig{
		Durable:     a.cfg.Durable,
		Description: "intersect advisor for site " + site + ": near misses, crossings and weather",
		FilterSubjects: []string{
			events.CameraSubject(site, "*", events.KindNearMiss),
			events.CameraSubject(site, "*", events.KindTrack),
			events.WeatherSubject(site),
		},
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       30 * time.Second,
		MaxAckPending: 10_000,
		DeliverPolicy: jetstream.DeliverByStartTimePolicy,
		OptStartTime:  &start,
	}
	// The start policy of an existing consumer cannot change; keep it and
	// update the rest (a new filter after a plan change, say).
	if c, err := a.js.Consumer(ctx, events.EventsStream, cfg.Durable); err == nil {
		old := c.CachedInfo().Config
		cfg.DeliverPolicy, cfg.OptStartTime, cfg.OptStartSeq = old.DeliverPolicy, old.OptStartTime, old.OptStartSeq
	}
	c, err := a.js.CreateOrUpdateConsumer(ctx, events.EventsStream, cfg)
	if err != nil {
		return nil, fmt.Errorf("advisor: consumer %s on stream %s: %w", cfg.Durable, events.EventsStream, err)
	}
	return c, nil
}

// seed fills the window from the store: JetStream redelivers only what
// the consumer has not acknowledged, so after a restart the store is where
// the rest of the window is.
func (a *Advisor) seed(ctx context.Context) error {
	now := a.cfg.Now()
	from := now.Add(-a.cfg.Window)
	site := a.plan.Site
	var nms, tracks int
	q := store.NearMissQuery{Filter: store.Filter{Site: site, From: from}, Limit: store.MaxLimit}
	for {
		page, err := a.st.NearMisses(ctx, q)
		if err != nil {
			return fmt.Errorf("advisor: reading near misses of %s from the store: %w", site, err)
		}
		a.mu.Lock()
		for i := range page.Items {
			if a.hist.add(&page.Items[i], now) {
				nms++
			}
		}
		a.mu.Unlock()
		if page.Next == "" || len(page.Items) == 0 {
			break
		}
		q.Cursor = page.Next
	}
	// Track summaries page by time, newest first; the page boundary is
	// read twice (To is exclusive) and the duplicates dropped by ID.
	// Pedestrians are the crossings; vehicles the counted flows.
	var vehicles int
	for _, class := range []events.Class{events.Pedestrian, events.Car, events.Bus, events.Truck, events.Motorcycle} {
		to := now.Add(time.Second)
		for {
			ts, err := a.st.TrackSummaries(ctx, store.TrackQuery{Site: site, From: from, To: to, Class: class, Limit: store.MaxLimit})
			if err != nil {
				return fmt.Errorf("advisor: reading %s track summaries of %s from the store: %w", class, site, err)
			}
			added := 0
			a.mu.Lock()
			for i := range ts {
				if a.hist.add(&ts[i], now) {
					added++
				}
			}
			a.mu.Unlock()
			if class == events.Pedestrian {
				tracks += added
			} else {
				vehicles += added
			}
			// Vehicles without a movement are read but not kept, so the
			// paging stops on no progress in time, not on nothing added.
			if len(ts) < store.MaxLimit {
				break
			}
			next := ts[len(ts)-1].Time.Add(time.Microsecond)
			if !next.Before(to) {
				break
			}
			to = next
		}
	}
	w, err := a.st.LatestWeather(ctx, site)
	switch {
	case err == nil:
		a.mu.Lock()
		a.weather = w
		a.mu.Unlock()
	case !errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("advisor: reading the latest weather of %s: %w", site, err)
	}
	a.log.Info("window seeded from the store", "near_misses", nms, "crossings", tracks, "counted_vehicles", vehicles, "weather", a.Weather())
	return nil
}

// consume moves messages into the window until ctx ends. It closes
// caughtUp once the consumer has nothing left to deliver.
func (a *Advisor) consume(ctx context.Context, c jetstream.Consumer, caughtUp chan struct{}) {
	wait := 100 * time.Millisecond
	for ctx.Err() == nil {
		if caughtUp != nil {
			if info, err := c.Info(ctx); err == nil && info.NumPending == 0 && info.NumAckPending == 0 {
				close(caughtUp)
				caughtUp = nil
			}
		}
		batch, err := c.Fetch(500, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			a.log.Warn("fetch failed; retrying", "err", err, "in", wait)
			sleep(ctx, wait)
			wait = min(2*wait, 5*time.Second)
			continue
		}
		wait = 100 * time.Millisecond
		for m := range batch.Messages() {
			a.handle(ctx, m)
			if err := m.Ack(); err != nil {
				a.log.Debug("ack failed", "subject", m.Subject(), "err", err)
			}
		}
		if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) && ctx.Err() == nil {
			a.log.Warn("fetch ended early", "err", err)
		}
	}
}

// handle files one message. Unusable ones are logged and dropped: ingest
// keeps them as dead letters.
func (a *Advisor) handle(ctx context.Context, m jetstream.Msg) {
	ev, err := events.Decode(m.Data())
	if err != nil {
		a.log.Warn("skipping an unusable message", "subject", m.Subject(), "err", err)
		return
	}
	if ev.Head().Site != a.plan.Site {
		return
	}
	if w, ok := ev.(*events.WeatherObservation); ok {
		a.observe(w, true)
		return
	}
	a.mu.Lock()
	kept := a.hist.add(ev, a.cfg.Now())
	a.mu.Unlock()
	if kept {
		select {
		case a.evidence <- struct{}{}:
		default:
		}
	}
}

// observe takes a newer weather observation and reports whether the
// condition changed; with wake, a change triggers an evaluation at once.
func (a *Advisor) observe(w *events.WeatherObservation, wake bool) bool {
	a.mu.Lock()
	if a.weather != nil && !w.Time.After(a.weather.Time) {
		a.mu.Unlock()
		return false
	}
	changed := a.condition() != w.Condition
	a.weather = w
	a.mu.Unlock()
	if changed {
		a.log.Info("weather changed", "condition", w.Condition, "source", w.Source, "observation", w.ID)
	}
	if changed && wake {
		select {
		case a.wake <- struct{}{}:
		default:
		}
	}
	return changed
}

// pollWeather asks the configured provider and publishes a changed
// condition for the rest of the pipeline (ingest stores it, the API shows it).
func (a *Advisor) pollWeather(ctx context.Context) {
	if a.cfg.Weather == nil {
		return
	}
	w, err := a.cfg.Weather.Observe(ctx)
	if err != nil {
		a.log.Warn("weather provider failed; keeping the last condition", "err", err, "condition", a.Weather())
		return
	}
	if w.Site != a.plan.Site {
		a.log.Warn("weather provider answered for another site; ignored", "site", w.Site)
		return
	}
	// No wake: this evaluation is about to use it.
	if !a.observe(w, false) {
		return
	}
	if _, err := bus.Publish(ctx, a.js, w); err != nil {
		a.log.Warn("publishing the weather observation", "err", err)
	}
}

// pendingStates are the states whose recommendations hold their objects.
var pendingStates = []events.State{events.Proposed, events.Approved}

// Evaluate runs one evaluation now: retire what the weather or time has
// overtaken, propose rollbacks of deployed weather-driven changes, run the
// rules over the window and publish what is new.
func (a *Advisor) Evaluate(ctx context.Context) (Report, error) {
	a.evalMu.Lock()
	defer a.evalMu.Unlock()
	a.pollWeather(ctx)
	now := a.cfg.Now()
	a.mu.Lock()
	a.hist.prune(now)
	nms, tracks, counts := a.hist.snapshot()
	cond := a.condition()
	obs := "no observation yet"
	if a.weather != nil {
		obs = fmt.Sprintf("observation %s (%s, %s)", a.weather.ID, a.weather.Source, a.weather.Time.Format(time.RFC3339))
	}
	a.mu.Unlock()
	rep := Report{At: now, Weather: cond}

	recs, err := a.st.Recommendations(ctx, store.RecommendationQuery{Site: a.plan.Site, Controller: a.plan.Controller, Limit: store.MaxLimit})
	if err != nil {
		return rep, fmt.Errorf("advisor: listing recommendations of %s/%s: %w", a.plan.Site, a.plan.Controller, err)
	}
	byID := make(map[string]*events.Recommendation, len(recs))
	for i := range recs {
		byID[recs[i].ID] = &recs[i]
	}
	state, setBy := controllerState(a.plan, recs)

	var pending []*events.Recommendation
	rolledBack := map[string]bool{} // originals with a rollback underway or done
	for i := range recs {
		r := &recs[i]
		if r.Rule == RuleRollback && r.State != events.Rejected && r.State != events.Expired {
			rolledBack[r.Evidence.Inputs["rollback_of"]] = true
		}
	}
	for i := range recs {
		r := &recs[i]
		switch {
		case r.State == events.Proposed || r.State == events.Approved:
			why := ""
			switch {
			case !now.Before(r.ValidUntil):
				why = "validity ended at " + r.ValidUntil.Format(time.RFC3339)
			case signals.WeatherDriven(r) && r.Evidence.Inputs["weather"] != string(cond):
				why = fmt.Sprintf("made for %s; the weather is now %s (%s)", r.Evidence.Inputs["weather"], cond, obs)
			}
			if why == "" {
				pending = append(pending, r)
				continue
			}
			err := a.st.Transition(ctx, r.ID, r.State, events.Expired, a.cfg.By, why)
			switch {
			case err == nil:
				rep.Retired = append(rep.Retired, r.ID)
				a.log.Info("retired", "id", r.ID, "rule", r.Rule, "phase", r.Target.Phase, "why", why)
			case errors.Is(err, store.ErrConflict):
				// Someone decided it meanwhile; next evaluation sees it.
			default:
				return rep, fmt.Errorf("advisor: retiring %s: %w", r.ID, err)
			}
		case inEffect(r.State) && r.Rule == RuleRollback:
			// The rollback is on the controller: its original is rolled back.
			if o := byID[r.Evidence.Inputs["rollback_of"]]; o != nil && inEffect(o.State) {
				err := a.st.Transition(ctx, o.ID, o.State, events.RolledBack, a.cfg.By, "rollback "+r.ID+" applied by the controller")
				if err != nil && !errors.Is(err, store.ErrConflict) {
					return rep, fmt.Errorf("advisor: marking %s rolled back: %w", o.ID, err)
				}
			}
		}
	}
	if err := a.evaluateDeployed(ctx, recs, nms, tracks, now, &rep); err != nil {
		return rep, err
	}
	a.mu.Lock()
	for id, r := range a.recent {
		if _, stored := byID[id]; stored || !now.Before(r.ValidUntil) {
			delete(a.recent, id)
			delete(a.warned, id)
			continue
		}
		if now.Sub(r.Time) > time.Minute && !a.warned[id] {
			a.warned[id] = true
			a.log.Warn("a published recommendation is not in the store after a minute; is ingest running?", "id", id, "rule", r.Rule)
		}
		pending = append(pending, r)
		if r.Rule == RuleRollback {
			rolledBack[r.Evidence.Inputs["rollback_of"]] = true
		}
	}
	a.mu.Unlock()

	// Deployed weather-driven changes the weather has overtaken get a
	// rollback for an engineer to approve: the advisor never reverts a
	// controller on its own.
	var out []*events.Recommendation
	for i := range recs {
		r := &recs[i]
		if !inEffect(r.State) || !signals.WeatherDriven(r) || r.Evidence.Inputs["weather"] == string(cond) || rolledBack[r.ID] {
			continue
		}
		rb := rollbackOf(a.plan, r, state, now, fmt.Sprintf("it was made for %s and the weather is now %s (%s)", r.Evidence.Inputs["weather"], cond, obs))
		if rb == nil {
			continue
		}
		if err := a.plan.CheckEnvelope(rb, state); err != nil {
			rep.Skipped = append(rep.Skipped, signals.Skip{Rule: RuleRollback, Phase: r.Target.Phase, Reason: err.Error()})
			continue
		}
		if err := signals.CheckPending(rb, pending); err != nil {
			rep.Skipped = append(rep.Skipped, signals.Skip{Rule: RuleRollback, Phase: r.Target.Phase, Reason: err.Error()})
			continue
		}
		if err := rb.Sign(a.core.Key, a.core.KeyID); err != nil {
			return rep, err
		}
		pending = append(pending, rb)
		out = append(out, rb)
	}

	res, err := a.core.Evaluate(signals.Input{At: now, Weather: cond, NearMisses: nms, Tracks: tracks, VehicleCounts: counts, Pending: pending})
	if err != nil {
		return rep, err
	}
	a.evaluations.Add(1)
	rep.Skipped = append(rep.Skipped, res.Skipped...)
	for _, r := range res.Recommendations {
		if why := stale(r, state, setBy); why != "" {
			rep.Skipped = append(rep.Skipped, signals.Skip{Rule: r.Rule, Phase: r.Target.Phase, Reason: why})
			continue
		}
		// The core checked against the plan's values; the controller may
		// hold others (an LPI deployed since eats into the split).
		if err := a.plan.CheckEnvelope(r, state); err != nil {
			rep.Skipped = append(rep.Skipped, signals.Skip{Rule: r.Rule, Phase: r.Target.Phase, Reason: err.Error()})
			continue
		}
		out = append(out, r)
	}
	for _, r := range out {
		if _, err := bus.Publish(ctx, a.js, r); err != nil {
			return rep, fmt.Errorf("advisor: %w", err)
		}
		a.mu.Lock()
		a.recent[r.ID] = r
		a.mu.Unlock()
		rep.Published = append(rep.Published, r)
		a.log.Info("proposed", "id", r.ID, "rule", r.Rule, "phase", r.Target.Phase, "changes", len(r.Changes))
	}
	return rep, nil
}

// SignApprovals signs the approvals engineers recorded in the store
// (state approved, no signed approval yet) with the who, why and when of
// their transition, stores the signed copy and republishes it for the
// controller. It returns how many it signed.
func (a *Advisor) SignApprovals(ctx context.Context) (int, error) {
	recs, err := a.st.Recommendations(ctx, store.RecommendationQuery{
		Site: a.plan.Site, Controller: a.plan.Controller, States: []events.State{events.Approved}, Limit: store.MaxLimit,
	})
	if err != nil {
		return 0, fmt.Errorf("advisor: listing approved recommendations: %w", err)
	}
	signed := 0
	var errs []error
	for i := range recs {
		r := &recs[i]
		if r.Approval != nil {
			// Signed before; republish once per process in case the
			// last run stopped between storing and publishing (JetStream
			// drops the copy if it already has it).
			if !a.sent(r.ID) {
				errs = append(errs, a.publishApproved(ctx, r))
			}
			continue
		}
		ok, err := a.signApproval(ctx, r)
		if err != nil {
			errs = append(errs, err)
		}
		if ok {
			signed++
		}
	}
	return signed, errors.Join(errs...)
}

func (a *Advisor) sent(id string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.approvalSent[id]
}

func (a *Advisor) signApproval(ctx context.Context, r *events.Recommendation) (bool, error) {
	// Never lend the key's approval to content it did not sign: the store
	// is not the advisor's, and a row edited there must not reach a
	// controller with a valid approval.
	if err := r.Verify(a.pub); err != nil {
		why := fmt.Sprintf("not signing the approval: the stored record does not verify with advisor key %s (%v)", a.core.KeyID, err)
		a.log.Error("refusing to sign an approval", "id", r.ID, "err", err)
		return false, a.transition(ctx, r.ID, events.Approved, events.Rejected, why)
	}
	now := a.cfg.Now()
	if !now.Before(r.ValidUntil) {
		return false, a.transition(ctx, r.ID, events.Approved, events.Expired, "approved after its validity ended at "+r.ValidUntil.Format(time.RFC3339))
	}
	ts, err := a.st.Transitions(ctx, r.ID)
	if err != nil {
		return false, fmt.Errorf("advisor: history of %s: %w", r.ID, err)
	}
	var dec *store.Transition
	for i := range ts {
		if ts[i].To == events.Approved {
			dec = &ts[i]
		}
	}
	if dec == nil {
		return false, fmt.Errorf("advisor: %s is approved but its history has no approval (who and why unknown); not signing", r.ID)
	}
	if err := r.Approve(a.core.Key, dec.By, dec.Why, dec.At); err != nil {
		return false, fmt.Errorf("advisor: signing the approval of %s: %w", r.ID, err)
	}
	if err := a.st.UpdateRecommendation(ctx, r); err != nil {
		return false, fmt.Errorf("advisor: storing the signed approval of %s: %w", r.ID, err)
	}
	a.log.Info("approval signed", "id", r.ID, "rule", r.Rule, "by", dec.By)
	return true, a.publishApproved(ctx, r)
}

// publishApproved republishes an approved record on its controller's
// subject. The message ID differs from the proposal's, or JetStream would
// drop it as a duplicate; ingest drops it by event ID (the store already
// has the signed copy).
func (a *Advisor) publishApproved(ctx context.Context, r *events.Recommendation) error {
	data, err := events.Encode(r)
	if err != nil {
		return fmt.Errorf("advisor: encoding approved %s: %w", r.ID, err)
	}
	subj := events.Subject(r)
	if _, err := a.js.Publish(ctx, subj, data, jetstream.WithMsgID(r.ID+"-approved")); err != nil {
		return fmt.Errorf("advisor: publishing approved %s on %s: %w", r.ID, subj, err)
	}
	a.mu.Lock()
	a.approvalSent[r.ID] = true
	a.mu.Unlock()
	return nil
}

// evaluateDeployed judges each deployed change (not weather-driven ones:
// the weather, not the change, drives their rates) once its after period is
// over: before/after pedestrian conflict rates over equal periods, with a
// significance test (signals.EvaluateDeployed), recorded as the transition
// deployed → evaluated with the result as its reason.
func (a *Advisor) evaluateDeployed(ctx context.Context, recs []events.Recommendation, nms []*events.NearMiss, tracks []*events.TrackSummary, now time.Time, rep *Report) error {
	for i := range recs {
		r := &recs[i]
		if r.State != events.Deployed || r.Rule == RuleRollback || signals.WeatherDriven(r) {
			continue
		}
		trs, err := a.st.Transitions(ctx, r.ID)
		if err != nil {
			return fmt.Errorf("advisor: history of %s: %w", r.ID, err)
		}
		var deployedAt time.Time
		for _, t := range trs {
			if t.To == events.Deployed {
				deployedAt = t.At
			}
		}
		if deployedAt.IsZero() {
			continue
		}
		e, ok := signals.EvaluateDeployed(a.plan, r, deployedAt, now, a.cfg.EvaluationPeriod, nms, tracks)
		if !ok {
			continue
		}
		err = a.st.Transition(ctx, r.ID, events.Deployed, events.Evaluated, a.cfg.By, e.Text)
		switch {
		case err == nil:
			rep.Evaluated = append(rep.Evaluated, r.ID)
			a.log.Info("evaluated a deployed change", "id", r.ID, "rule", r.Rule, "result", e.Text)
		case errors.Is(err, store.ErrConflict):
		default:
			return fmt.Errorf("advisor: recording the evaluation of %s: %w", r.ID, err)
		}
	}
	return nil
}

func (a *Advisor) transition(ctx context.Context, id string, from, to events.State, why string) error {
	if err := a.st.Transition(ctx, id, from, to, a.cfg.By, why); err != nil && !errors.Is(err, store.ErrConflict) {
		return fmt.Errorf("advisor: moving %s %s → %s: %w", id, from, to, err)
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
