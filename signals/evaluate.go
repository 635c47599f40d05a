package signals

import (
	"fmt"
	"slices"
	"time"

	"github.com/intersect-oss/intersect/events"
)

// Evaluation is the before/after comparison of a deployed change: the
// pedestrian conflict rate per 1,000 crossing pedestrians in its scope over
// two periods of equal length, before and after deployment.
type Evaluation struct {
	Before, After events.Rate
	// PValue is the one-sided probability of seeing this few conflicts
	// after (or fewer) if the rate had not changed: conditional binomial
	// test of two Poisson rates, weighted by each period's exposure.
	PValue float64
	// Improved is a significant drop (PValue < 0.05).
	Improved bool
	Text     string
}

// EvaluateDeployed compares the scope of r (its phase's crosswalks, or the
// whole site for plan-wide changes) in [deployedAt-period, deployedAt) and
// [deployedAt, deployedAt+period). ok is false until the after period is
// over, or while either period has fewer crossings than the plan's minimum
// exposure: no verdict from too little data.
func EvaluateDeployed(p *Plan, r *events.Recommendation, deployedAt, now time.Time, period time.Duration, nms []*events.NearMiss, tracks []*events.TrackSummary) (Evaluation, bool) {
	if now.Before(deployedAt.Add(period)) {
		return Evaluation{}, false
	}
	var zones []string
	for _, ph := range p.Phases {
		if ph.Number == r.Target.Phase {
			zones = crosswalkNames(&ph)
		}
	}
	inScope := func(zone string) bool { return len(zones) == 0 || slices.Contains(zones, zone) }
	type counts struct{ conflicts, crossings int }
	var before, after counts
	bucket := func(t time.Time) *counts {
		switch {
		case !t.Before(deployedAt.Add(-period)) && t.Before(deployedAt):
			return &before
		case !t.Before(deployedAt) && t.Before(deployedAt.Add(period)):
			return &after
		}
		return nil
	}
	for _, n := range nms {
		if c := bucket(n.Time); c != nil && n.Site == p.Site && pedInvolved(n) && inScope(n.Zone) {
			c.conflicts++
		}
	}
	for _, t := range tracks {
		if c := bucket(t.Time); c != nil && t.Site == p.Site && t.Class == events.Pedestrian && t.Crosswalk != "" && inScope(t.Crosswalk) {
			c.crossings++
		}
	}
	if before.crossings < p.Rules.MinCrossingPeds || after.crossings < p.Rules.MinCrossingPeds {
		return Evaluation{}, false
	}
	scope := "the site's crosswalks"
	if len(zones) > 0 {
		scope = fmt.Sprintf("phase %d crosswalks", r.Target.Phase)
	}
	e := Evaluation{
		Before: NewRate("pedestrian conflicts per 1000 crossing pedestrians, "+scope+", before", before.conflicts, float64(before.crossings), 1000),
		After:  NewRate("pedestrian conflicts per 1000 crossing pedestrians, "+scope+", after", after.conflicts, float64(after.crossings), 1000),
	}
	n := before.conflicts + after.conflicts
	q := float64(after.crossings) / float64(before.crossings+after.crossings)
	// P(X ≤ after) for X ~ Binomial(n, q): one minus the upper tail above it.
	e.PValue = 1 - binomialUpperTail(after.conflicts+1, n, q)
	e.Improved = e.PValue < significanceLevel
	verdict := "no significant change"
	if e.Improved {
		verdict = "a significant drop"
	}
	e.Text = fmt.Sprintf("%s over %s before and after deployment: %.1f per 1,000 (%d over %d crossings) → %.1f per 1,000 (%d over %d); %s (one-sided p = %.3f)",
		scope, period, e.Before.Value, before.conflicts, before.crossings, e.After.Value, after.conflicts, after.crossings, verdict, e.PValue)
	return e, true
}
