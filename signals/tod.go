package signals

import (
	"fmt"
	"math"
	"time"

	"github.com/intersect-oss/intersect/events"
)

// RuleTODPlan suggests a time-of-day plan switch.
const RuleTODPlan = "tod-plan"

// significanceLevel is the one-sided p-value below which two conflict
// rates count as different: between time-of-day windows, and before/after
// a deployed change.
const significanceLevel = 0.05

// windowName is the name of the TOD window in force at t, "" outside all.
func (p *Plan) windowName(t time.Time) string {
	if tp, ok := p.ActiveTOD(t); ok {
		return tp.Name
	}
	return ""
}

// windowRate is one window's pedestrian-conflict exposure.
type windowRate struct {
	name      string // "" is the base pattern, outside every window
	pattern   int
	conflicts []*events.NearMiss
	crossings int
}

func (w windowRate) perThousand() float64 {
	return 1000 * float64(len(w.conflicts)) / float64(w.crossings)
}

func (w windowRate) label() string {
	if w.name == "" {
		return "outside the time-of-day windows"
	}
	return "the " + w.name + " window"
}

// todPlanRule compares pedestrian-conflict rates per crossing pedestrian
// between the time-of-day windows (and the base pattern outside them). When
// one window's rate is significantly higher than another's, it suggests
// running, in that window, the pattern of the window with the lowest rate:
// the engineer then knows where the timing is worst and a pattern that does
// better at this intersection. The comparison is the conditional binomial
// test of two Poisson rates (Przyborowski & Wilenski 1940): given n = a + b
// conflicts, a ~ Binomial(n, Ea/(Ea+Eb)) when the rates are equal.
func todPlanRule(p *Plan, o observations) (*candidate, string) {
	if len(p.TODPlans) == 0 {
		return nil, ""
	}
	windows := []*windowRate{{name: "", pattern: p.Pattern, crossings: o.windowCrossings[""]}}
	byName := map[string]*windowRate{"": windows[0]}
	for _, t := range p.TODPlans {
		w := &windowRate{name: t.Name, pattern: t.Pattern, crossings: o.windowCrossings[t.Name]}
		windows = append(windows, w)
		byName[t.Name] = w
	}
	for _, n := range o.nearMisses {
		if pedInvolved(n) {
			w := byName[p.windowName(n.Time)]
			w.conflicts = append(w.conflicts, n)
		}
	}
	var worst, best *windowRate
	for _, w := range windows {
		if w.crossings < p.Rules.MinCrossingPeds {
			continue
		}
		if worst == nil || w.perThousand() > worst.perThousand() {
			worst = w
		}
	}
	if worst == nil || len(worst.conflicts) < p.Rules.MinConflicts {
		return nil, ""
	}
	for _, w := range windows {
		if w.crossings < p.Rules.MinCrossingPeds || w.pattern == worst.pattern {
			continue
		}
		if best == nil || w.perThousand() < best.perThousand() {
			best = w
		}
	}
	if best == nil {
		return nil, ""
	}
	a, b := len(worst.conflicts), len(best.conflicts)
	pValue := binomialUpperTail(a, a+b, float64(worst.crossings)/float64(worst.crossings+best.crossings))
	if pValue >= significanceLevel {
		return nil, ""
	}
	if worst.name == "" {
		return nil, fmt.Sprintf("pedestrian conflicts are most frequent outside the time-of-day windows (p = %.3f): that is the base pattern, not a time base action; review the base plan", pValue)
	}
	var tp TODPlan
	for _, t := range p.TODPlans {
		if t.Name == worst.name {
			tp = t
		}
	}
	rw := NewRate(fmt.Sprintf("pedestrian conflicts per 1000 crossing pedestrians, %s (pattern %d)", worst.label(), worst.pattern), a, float64(worst.crossings), 1000)
	rb := NewRate(fmt.Sprintf("pedestrian conflicts per 1000 crossing pedestrians, %s (pattern %d)", best.label(), best.pattern), b, float64(best.crossings), 1000)
	return &candidate{
		rule: RuleTODPlan, window: p.window(tp),
		changes: []events.Change{{Object: ObjTimebasePattern, OID: TimebasePatternOID(tp.Action), Unit: UnitPattern,
			Current: float64(tp.Pattern), Proposed: float64(best.pattern)}},
		rationale: fmt.Sprintf("Pedestrian conflicts in %s happen %.1f times per 1,000 crossings (95 %% CI %.1f–%.1f, %d over %d), against %.1f (95 %% CI %.1f–%.1f, %d over %d) %s, which runs pattern %d; the difference is significant (one-sided p = %.3f, conditional binomial test). Run pattern %d in %s (time base action %d), then compare the rates over equal exposure.",
			worst.label(), rw.Value, rw.CILow, rw.CIHigh, a, worst.crossings, rb.Value, rb.CILow, rb.CIHigh, b, best.crossings,
			map[bool]string{true: "outside the windows", false: "in " + best.label()}[best.name == ""], best.pattern, pValue, best.pattern, worst.label(), tp.Action),
		evidence: events.Evidence{EventIDs: ids(worst.conflicts), Rates: []events.Rate{rw, rb}, From: o.from, To: o.to,
			Inputs: map[string]string{"p_value": fmt.Sprintf("%.4f", pValue), "window": tp.Name, "from_pattern": fmt.Sprint(tp.Pattern), "to_pattern": fmt.Sprint(best.pattern)}},
		effect: events.Effect{Description: fmt.Sprintf("the window's pedestrian conflict rate moves toward the %.1f per 1,000 observed under pattern %d; to be confirmed by the before/after evaluation", rb.Value, best.pattern),
			Source: "rates observed at this intersection; test of two Poisson rates: Przyborowski & Wilenski, Biometrika 31 (1940)"},
		validFor: time.Duration(p.Rules.SafetyValidityDays * 24 * float64(time.Hour)),
	}, ""
}

// binomialUpperTail is P(X ≥ k) for X ~ Binomial(n, q), summed in log space.
func binomialUpperTail(k, n int, q float64) float64 {
	if k <= 0 {
		return 1
	}
	if k > n || q <= 0 {
		return 0
	}
	if q >= 1 {
		return 1
	}
	lnq, ln1q := math.Log(q), math.Log1p(-q)
	lgn, _ := math.Lgamma(float64(n + 1))
	sum := 0.0
	for i := k; i <= n; i++ {
		a, _ := math.Lgamma(float64(i + 1))
		b, _ := math.Lgamma(float64(n - i + 1))
		sum += math.Exp(lgn - a - b + float64(i)*lnq + float64(n-i)*ln1q)
	}
	return math.Min(sum, 1)
}
