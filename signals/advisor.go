package signals

import (
	"crypto/ed25519"
	"fmt"
	"time"

	"github.com/intersect-oss/intersect/events"
)

// Input is everything one evaluation looks at.
type Input struct {
	At         time.Time
	Weather    events.Condition // empty means dry
	NearMisses []*events.NearMiss
	Tracks     []*events.TrackSummary
	// VehicleCounts are vehicles counted per clock hour, approach and
	// movement, for callers that keep counts rather than every vehicle's
	// summary (the live advisor); vehicles in Tracks count too.
	VehicleCounts []VehicleCount
	// Pending are recommendations not yet deployed, rejected or expired;
	// no new one may set an object they set.
	Pending []*events.Recommendation
}

// Skip says why a rule that had something to say made no recommendation.
type Skip struct {
	Rule   string `json:"rule"`
	Phase  int    `json:"phase,omitempty"`
	Reason string `json:"reason"`
}

// Result is one evaluation's output.
type Result struct {
	Recommendations []*events.Recommendation
	Skipped         []Skip
}

// Advisor evaluates one intersection's plan. It is pure: the same input
// gives the same suggestions (IDs and signatures aside), and it does no I/O.
type Advisor struct {
	Plan  *Plan
	Key   ed25519.PrivateKey // nil: records are returned unsigned
	KeyID string
}

// WeatherDriven reports whether a recommendation exists because of the
// weather (and so retires when the weather clears).
func WeatherDriven(r *events.Recommendation) bool {
	w, ok := r.Evidence.Inputs["weather"]
	return ok && w != string(events.Dry) && (r.Rule == RuleClearance || r.Rule == RuleCycle)
}

// Evaluate runs every rule and returns the recommendations that pass the
// safety envelope, signed when the advisor has a key.
func (a *Advisor) Evaluate(in Input) (Result, error) {
	p := a.Plan
	if in.At.IsZero() {
		return Result{}, fmt.Errorf("evaluating plan for %s: no evaluation time", p.Site)
	}
	w := in.Weather
	if w == "" {
		w = events.Dry
	}
	if !w.Valid() {
		return Result{}, fmt.Errorf("evaluating plan for %s: unknown weather %q", p.Site, w)
	}
	o := observe(p, in.At, in.NearMisses, in.Tracks)
	o.addCounts(in.VehicleCounts)
	var res Result
	var cands []*candidate
	add := func(rule string, phase int, c *candidate, skip string) {
		if skip != "" {
			res.Skipped = append(res.Skipped, Skip{rule, phase, skip})
		}
		if c != nil {
			cands = append(cands, c)
		}
	}
	// Order matters only for the one-change-per-object rule: MUTCD
	// compliance first, then the safety treatments, then weather.
	for i := range p.Phases {
		ph := &p.Phases[i]
		c, s := pedClearanceRule(p, ph, o)
		add(RulePedClearance, ph.Number, c, s)
	}
	for i := range p.Phases {
		ph := &p.Phases[i]
		c, s := lpiRule(p, ph, o)
		add(RuleLPI, ph.Number, c, s)
		c, s = noRTORRule(p, ph, o)
		add(RuleNoRTOR, ph.Number, c, s)
	}
	clear := map[int][2]float64{}
	for i := range p.Phases {
		ph := &p.Phases[i]
		c, s := clearanceRule(p, ph, w, o)
		add(RuleClearance, ph.Number, c, s)
		if c != nil {
			y, r := ph.YellowS, ph.RedClearanceS
			for _, ch := range c.changes {
				switch ch.Object {
				case ObjYellow:
					y = ch.Proposed / 10
				case ObjRedClear:
					r = ch.Proposed / 10
				}
			}
			clear[ph.Number] = [2]float64{y, r}
		}
	}
	c, s := cycleRule(p, w, clear, o)
	add(RuleCycle, 0, c, s)
	c, s = todPlanRule(p, o)
	add(RuleTODPlan, 0, c, s)

	pending := append([]*events.Recommendation(nil), in.Pending...)
	for _, c := range cands {
		r := a.record(c, in.At, w)
		if err := p.CheckEnvelope(r, nil); err != nil {
			res.Skipped = append(res.Skipped, Skip{c.rule, c.phase, err.Error()})
			continue
		}
		if err := CheckPending(r, pending); err != nil {
			res.Skipped = append(res.Skipped, Skip{c.rule, c.phase, err.Error()})
			continue
		}
		if a.Key != nil {
			if err := r.Sign(a.Key, a.KeyID); err != nil {
				return Result{}, err
			}
		}
		pending = append(pending, r)
		res.Recommendations = append(res.Recommendations, r)
	}
	return res, nil
}

// record wraps a candidate in the wire record.
func (a *Advisor) record(c *candidate, at time.Time, w events.Condition) *events.Recommendation {
	p := a.Plan
	plan, window := "base", "outside the time-of-day windows"
	if t, ok := p.ActiveTOD(at); ok {
		plan, window = t.Name, p.window(t)
	}
	if c.window != "" {
		window = c.window
	}
	if c.weatherDriven {
		window = fmt.Sprintf("while %s (from %s)", w, at.In(p.Location()).Format("2006-01-02 15:04 MST"))
	}
	if c.evidence.Inputs == nil {
		c.evidence.Inputs = map[string]string{}
	}
	if _, ok := c.evidence.Inputs["weather"]; !ok {
		c.evidence.Inputs["weather_at_evaluation"] = string(w)
	}
	r := &events.Recommendation{
		Header:     events.NewHeader(events.KindRecommendation, p.Site, "", at),
		Rule:       c.rule,
		Target:     events.Target{Controller: p.Controller, Phase: c.phase, Plan: plan, Window: window},
		Changes:    c.changes,
		Rationale:  c.rationale,
		Evidence:   c.evidence,
		Effect:     c.effect,
		ValidFrom:  at.UTC(),
		ValidUntil: at.Add(c.validFor).UTC(),
		Rollback:   reversed(c.changes),
		State:      events.Proposed,
	}
	return r
}
