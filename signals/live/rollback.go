package live

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/intersect-oss/intersect/events"
	"github.com/intersect-oss/intersect/signals"
)

// RuleRollback names a recommendation that undoes a deployed one (its
// Evidence.Inputs["rollback_of"] is the ID of the one it undoes).
const RuleRollback = "rollback"

// inEffect reports whether a stored recommendation's changes are on the
// controller: deployed, and still so after its evaluation.
func inEffect(s events.State) bool { return s == events.Deployed || s == events.Evaluated }

// controllerState is the controller's values as far as the store knows:
// the plan's values with the changes of every recommendation in effect
// applied oldest first, and for each changed OID the recommendation that
// set it. The core rules compute from the plan file; this is what tells the
// advisor that the controller has moved on since (a deployed LPI must not
// be proposed again from the plan's 0 s).
func controllerState(p *signals.Plan, recs []events.Recommendation) (map[string]float64, map[string]string) {
	state := p.ControllerState()
	by := map[string]string{}
	var eff []events.Recommendation
	for _, r := range recs {
		if inEffect(r.State) {
			eff = append(eff, r)
		}
	}
	sort.SliceStable(eff, func(i, j int) bool { return eff[i].Time.Before(eff[j].Time) })
	for _, r := range eff {
		for _, ch := range r.Changes {
			state[ch.OID] = ch.Proposed
			by[ch.OID] = r.ID
		}
	}
	return state, by
}

// stale says why a freshly evaluated recommendation does not fit the
// controller any more (a change starting from a value the controller no
// longer holds), or "" when it fits.
func stale(r *events.Recommendation, state map[string]float64, by map[string]string) string {
	var why []string
	for _, ch := range r.Changes {
		if cur, ok := state[ch.OID]; ok && math.Abs(cur-ch.Current) > 1e-6 {
			why = append(why, fmt.Sprintf("%s is %v on the controller (set by %s), not the plan's %v", ch.Object, cur, by[ch.OID], ch.Current))
		}
	}
	if len(why) == 0 {
		return ""
	}
	return strings.Join(why, "; ") + ": update the plan file once the change is confirmed"
}

// rollbackOf builds the recommendation that undoes orig on a controller
// holding state: each of orig's changes back to the value it replaced.
// It returns nil when the controller already holds those values.
func rollbackOf(p *signals.Plan, orig *events.Recommendation, state map[string]float64, at time.Time, why string) *events.Recommendation {
	var changes, undo []events.Change
	var parts []string
	for _, ch := range orig.Rollback {
		cur := state[ch.OID]
		if math.Abs(cur-ch.Proposed) < 1e-9 {
			continue
		}
		c := ch
		c.Current = cur
		changes = append(changes, c)
		u := c
		u.Current, u.Proposed = c.Proposed, c.Current
		undo = append(undo, u)
		parts = append(parts, fmt.Sprintf("%s %v → %v %s", c.Object, c.Current, c.Proposed, c.Unit))
	}
	if len(changes) == 0 {
		return nil
	}
	valid := time.Duration(p.Rules.WeatherValidityH * float64(time.Hour))
	return &events.Recommendation{
		Header:    events.NewHeader(events.KindRecommendation, p.Site, "", at),
		Rule:      RuleRollback,
		Target:    orig.Target,
		Changes:   changes,
		Rationale: fmt.Sprintf("Undo %s (%s, phase %d): %s. Restores %s.", orig.ID, orig.Rule, orig.Target.Phase, why, strings.Join(parts, ", ")),
		Evidence: events.Evidence{
			Inputs: map[string]string{"rollback_of": orig.ID, "rollback_rule": orig.Rule, "reason": why},
			From:   orig.ValidFrom, To: at.UTC(),
		},
		Effect:     events.Effect{Description: "the timing the plan holds for the current conditions", Source: "rollback of " + orig.ID + ", as recorded in it"},
		ValidFrom:  at.UTC(),
		ValidUntil: at.Add(valid).UTC(),
		Rollback:   undo,
		State:      events.Proposed,
	}
}
