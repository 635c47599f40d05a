package signals

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/intersect-oss/intersect/events"
)

// candidate is what a rule proposes before the advisor wraps it in a
// record, checks the envelope and signs it.
type candidate struct {
	rule          string
	phase         int
	changes       []events.Change
	rationale     string
	evidence      events.Evidence
	effect        events.Effect
	window        string
	validFor      time.Duration
	weatherDriven bool
}

// Rule names (events.Recommendation.Rule).
const (
	RuleLPI          = "lpi"
	RulePedClearance = "ped-clearance"
	RuleClearance    = "clearance" // yellow change and red clearance
	RuleCycle        = "cycle"
	RuleNoRTOR       = "no-rtor"
)

// observations are the event histories the rules read, already filtered to
// the plan's site and the lookback window.
type observations struct {
	from, to   time.Time
	nearMisses []*events.NearMiss
	// crossings counts pedestrians per crosswalk zone; speeds holds their
	// walking speeds (m/s) per zone.
	crossings map[string]int
	speeds    map[string][]float64
	// windowCrossings counts crossing pedestrians per time-of-day window
	// (by name; "" outside every window).
	windowCrossings map[string]int
	// vehicles counts vehicles per clock hour, then approach and
	// movement: the cycle rule reads one hour at a time.
	vehicles map[time.Time]map[flow]int
}

// VehicleCount is how many vehicles on one approach making one movement
// were counted in one clock hour.
type VehicleCount struct {
	Hour     time.Time // the hour's start
	Approach string    // NB, SB, EB, WB
	Movement string    // through, left, right
	Vehicles int
}

type flow struct{ approach, movement string }

// countVehicles adds n vehicles at t's clock hour.
func (o *observations) countVehicles(t time.Time, approach, movement string, n int) {
	h := HourOf(t)
	if o.vehicles[h] == nil {
		o.vehicles[h] = map[flow]int{}
	}
	o.vehicles[h][flow{approach, movement}] += n
}

// HourOf is the start of the clock hour holding t (UTC hours: the counts'
// bucket, whatever the plan's time zone).
func HourOf(t time.Time) time.Time { return t.UTC().Truncate(time.Hour) }

func (o *observations) addCounts(cs []VehicleCount) {
	for _, c := range cs {
		h := HourOf(c.Hour)
		if h.Before(HourOf(o.from)) || h.After(o.to) || c.Vehicles <= 0 {
			continue
		}
		o.countVehicles(h, c.Approach, c.Movement, c.Vehicles)
	}
}

// groupFlow is a lane group set's flow in one clock hour: the count of
// the busiest of f's approaches (its vehicles making f's movements).
func (o *observations) groupFlow(f *ObservedFlow, hour time.Time) int {
	per := map[string]int{}
	for k, n := range o.vehicles[hour] {
		if f.counts(k.approach, k.movement) {
			per[k.approach] += n
		}
	}
	best := 0
	for _, n := range per {
		best = max(best, n)
	}
	return best
}

// countedHours lists the clock hours with any vehicle counted.
func (o *observations) countedHours() []time.Time {
	hs := make([]time.Time, 0, len(o.vehicles))
	for h := range o.vehicles {
		hs = append(hs, h)
	}
	sort.Slice(hs, func(i, j int) bool { return hs[i].Before(hs[j]) })
	return hs
}

// Walking speeds outside this band are not walking: people standing in the
// zone, or tracker glitches and runners. The band follows the range of
// measured walking speeds in Fitzpatrick et al. 2006 (TCRP Report 112).
const (
	minWalkingSpeedMPS = 0.2
	maxWalkingSpeedMPS = 3.0
)

func observe(p *Plan, at time.Time, nms []*events.NearMiss, tracks []*events.TrackSummary) observations {
	o := observations{
		from: at.Add(-time.Duration(p.Rules.LookbackH * float64(time.Hour))), to: at,
		crossings: map[string]int{}, speeds: map[string][]float64{}, windowCrossings: map[string]int{},
		vehicles: map[time.Time]map[flow]int{},
	}
	in := func(h *events.Header) bool {
		return h.Site == p.Site && !h.Time.Before(o.from) && !h.Time.After(o.to)
	}
	for _, n := range nms {
		if in(&n.Header) {
			o.nearMisses = append(o.nearMisses, n)
		}
	}
	for _, t := range tracks {
		if in(&t.Header) && !t.Class.Vulnerable() && t.Approach != "" && t.Movement != "" {
			o.countVehicles(t.Time, t.Approach, t.Movement, 1)
			continue
		}
		if !in(&t.Header) || t.Class != events.Pedestrian || t.Crosswalk == "" {
			continue
		}
		o.crossings[t.Crosswalk]++
		o.windowCrossings[p.windowName(t.Time)]++
		if s := t.MeanSpeedMPS; s >= minWalkingSpeedMPS && s <= maxWalkingSpeedMPS {
			o.speeds[t.Crosswalk] = append(o.speeds[t.Crosswalk], s)
		}
	}
	return o
}

// pedInvolved reports whether a pedestrian is one of the two road users.
func pedInvolved(n *events.NearMiss) bool {
	return n.ClassA == events.Pedestrian || n.ClassB == events.Pedestrian
}

// Percentile is the p-th percentile (0..100) of xs by linear interpolation
// between order statistics; xs is sorted in place.
func Percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	sort.Float64s(xs)
	r := p / 100 * float64(len(xs)-1)
	i := int(math.Floor(r))
	if i >= len(xs)-1 {
		return xs[len(xs)-1]
	}
	return xs[i] + (r-float64(i))*(xs[i+1]-xs[i])
}

func ids(ns []*events.NearMiss) []string {
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = n.ID
	}
	return out
}

func crosswalkNames(ph *Phase) []string {
	out := make([]string, len(ph.Crosswalks))
	for i, c := range ph.Crosswalks {
		out[i] = c.Name
	}
	return out
}

func fmtS(v float64) string { return fmt.Sprintf("%g", math.Round(v*100)/100) }

// stepToward moves cur toward want by at most step, and says whether it
// was cut short.
func stepToward(cur, want, step float64) (float64, bool) {
	if want > cur+step {
		return cur + step, true
	}
	if want < cur-step {
		return cur - step, true
	}
	return want, false
}

// lpiRule suggests a leading pedestrian interval for a phase whose turning
// vehicles keep meeting pedestrians in its crosswalks.
//
// Source: FHWA Proven Safety Countermeasures, "Leading Pedestrian Interval"
// (LPI of 3–7 s; CMF 0.87 for pedestrian–vehicle crashes, Fayish & Gross,
// TRR 2198, 2010). Trigger: turning-vehicle vs pedestrian conflicts in the
// phase's crosswalks per 1,000 crossing pedestrians whose exact 95 % lower
// bound exceeds rules.lpi_threshold_per_1000_peds, with at least
// rules.min_crossing_pedestrians crossings and rules.min_conflicts conflicts.
// A turn conflict counts for the phase whose crosswalk it is in when the
// vehicle came from an approach of that same phase (turning on green); a
// vehicle from a crossing approach was turning on red (noRTORRule).
func lpiRule(p *Plan, ph *Phase, o observations) (*candidate, string) {
	if !p.LPI.Supported || len(ph.Crosswalks) == 0 {
		return nil, ""
	}
	var hits []*events.NearMiss
	peds := 0
	for _, c := range ph.Crosswalks {
		peds += o.crossings[c.Name]
	}
	for _, n := range o.nearMisses {
		if !pedInvolved(n) || (n.Type != events.RightTurnCrosswalk && n.Type != events.LeftTurnCrosswalk) {
			continue
		}
		if ph.HasCrosswalk(n.Zone) && (n.Approach == "" || ph.Serves(n.Approach)) {
			hits = append(hits, n)
		}
	}
	if len(hits) == 0 {
		return nil, ""
	}
	if peds < p.Rules.MinCrossingPeds {
		return nil, fmt.Sprintf("%d turning conflicts but only %d crossing pedestrians (minimum %d): too little exposure", len(hits), peds, p.Rules.MinCrossingPeds)
	}
	if len(hits) < p.Rules.MinConflicts {
		return nil, ""
	}
	rate := NewRate(fmt.Sprintf("turning-vehicle vs pedestrian conflicts per 1000 crossing pedestrians, phase %d crosswalks", ph.Number), len(hits), float64(peds), 1000)
	if rate.CILow <= p.Rules.LPIThresholdPer1000 {
		return nil, ""
	}
	// Size: long enough to cross one lane ahead of turning vehicles at the
	// slower of 1.07 m/s and the observed 15th percentile, within 3–7 s.
	speed, speedNote := walkingSpeed(p, ph, o)
	lpi := math.Min(math.Max(ceilSecond(laneWidthM/speed), MinLPIS), math.Min(p.Maxima.LPIS, MaxLPIS))
	if p.LPI.CurrentS >= lpi {
		return nil, ""
	}
	want := lpi
	lpi, cut := stepToward(p.LPI.CurrentS, lpi, p.MaxStep.LPIS)
	if lpi != 0 && lpi < MinLPIS {
		return nil, fmt.Sprintf("LPI step limit %v s cannot reach the 3 s minimum", p.MaxStep.LPIS)
	}
	cmf := 0.87
	rat := fmt.Sprintf("Turning vehicles met pedestrians in the phase %d crosswalks (%s) %d times over %d crossings: %.1f per 1,000 (95 %% CI %.1f–%.1f), above the %.1f threshold. A %s s leading pedestrian interval lets pedestrians occupy the crosswalk (one %.1f m lane at %s m/s, %s) before turning vehicles get green.",
		ph.Number, strings.Join(crosswalkNames(ph), ", "), len(hits), peds, rate.Value, rate.CILow, rate.CIHigh, p.Rules.LPIThresholdPer1000, fmtS(lpi), laneWidthM, fmtS(speed), speedNote)
	if cut {
		rat += fmt.Sprintf(" Step limited from %s s.", fmtS(want))
	}
	return &candidate{
		rule: RuleLPI, phase: ph.Number,
		changes:   []events.Change{secondsChange(p.LPI.Object, p.lpiOID(ph.Number), p.LPI.CurrentS, lpi)},
		rationale: rat,
		evidence: events.Evidence{EventIDs: ids(hits), Rates: []events.Rate{rate}, From: o.from, To: o.to,
			Inputs: map[string]string{"crossing_pedestrians": fmt.Sprint(peds), "walking_speed_mps": fmtS(speed)}},
		effect: events.Effect{Description: "fewer pedestrian–vehicle crashes at the treated crossings", CMF: &cmf,
			Source: "FHWA Proven Safety Countermeasures: Leading Pedestrian Interval (CMF 0.87, Fayish & Gross, TRR 2198, 2010)"},
		validFor: time.Duration(p.Rules.SafetyValidityDays * 24 * float64(time.Hour)),
	}, ""
}

// walkingSpeed is the speed pedestrian timing should use for a phase: the
// MUTCD 1.07 m/s, or the observed 15th percentile of its crossings when
// that is slower and rests on enough samples.
func walkingSpeed(p *Plan, ph *Phase, o observations) (float64, string) {
	var all []float64
	for _, c := range ph.Crosswalks {
		all = append(all, o.speeds[c.Name]...)
	}
	if len(all) < p.Rules.MinSpeedSamples {
		return MUTCDWalkSpeedMPS, fmt.Sprintf("MUTCD 3.5 ft/s; %d measured crossings, fewer than %d", len(all), p.Rules.MinSpeedSamples)
	}
	p15 := Percentile(all, 15)
	if p15 < MUTCDWalkSpeedMPS {
		return p15, fmt.Sprintf("observed 15th percentile of %d crossings", len(all))
	}
	return MUTCDWalkSpeedMPS, fmt.Sprintf("MUTCD 3.5 ft/s; observed 15th percentile %s m/s of %d crossings is faster", fmtS(p15), len(all))
}

// pedClearanceRule recomputes pedestrian clearance for the longest crossing
// at 1.07 m/s, or at the observed 15th-percentile walking speed when slower
// (MUTCD 2009 §4E.06 par. 07 and its support for slower speeds where slower
// pedestrians routinely cross), and raises walk so that walk + clearance
// covers the crossing plus 1.8 m at 0.91 m/s (par. 08). It never shortens
// pedestrian timing.
func pedClearanceRule(p *Plan, ph *Phase, o observations) (*candidate, string) {
	L := ph.CrossingLengthM()
	if L == 0 {
		return nil, ""
	}
	speed, note := walkingSpeed(p, ph, o)
	pcWant := math.Min(ceilSecond(PedClearanceS(L, speed)), p.Maxima.PedClearanceS)
	var changes []events.Change
	var parts []string
	pc := ph.PedClearanceS
	if pcWant > ph.PedClearanceS {
		var cut bool
		pc, cut = stepToward(ph.PedClearanceS, pcWant, p.MaxStep.PedClearanceS)
		changes = append(changes, secondsChange(ObjPedClear, PhaseOID(ObjPedClear, ph.Number), ph.PedClearanceS, pc))
		s := fmt.Sprintf("pedestrian clearance %s → %s s (%s m at %s m/s, %s)", fmtS(ph.PedClearanceS), fmtS(pc), fmtS(L), fmtS(speed), note)
		if cut {
			s += fmt.Sprintf(", step limited from %s s", fmtS(pcWant))
		}
		parts = append(parts, s)
	}
	walkWant := math.Max(ph.WalkS, ceilSecond(WalkPlusClearanceMinS(L)-pc))
	walkWant = math.Min(walkWant, p.Maxima.WalkS)
	if walkWant > ph.WalkS {
		w, _ := stepToward(ph.WalkS, walkWant, p.MaxStep.WalkS)
		changes = append(changes, secondsChange(ObjWalk, PhaseOID(ObjWalk, ph.Number), ph.WalkS, w))
		parts = append(parts, fmt.Sprintf("walk %s → %s s so walk + clearance ≥ (%s + 1.8 m) / 0.91 m/s = %s s", fmtS(ph.WalkS), fmtS(w), fmtS(L), fmtS(WalkPlusClearanceMinS(L))))
	}
	if len(changes) == 0 {
		return nil, ""
	}
	var n int
	for _, c := range ph.Crosswalks {
		n += len(o.speeds[c.Name])
	}
	return &candidate{
		rule: RulePedClearance, phase: ph.Number, changes: changes,
		rationale: fmt.Sprintf("Phase %d: %s.", ph.Number, strings.Join(parts, "; ")),
		evidence: events.Evidence{From: o.from, To: o.to, Inputs: map[string]string{
			"crossing_length_m": fmtS(L), "walking_speed_mps": fmtS(speed), "walking_speed_samples": fmt.Sprint(n)}},
		effect:   events.Effect{Description: "pedestrian clearance serves the slowest 15 % of observed crossers (MUTCD minimum otherwise)", Source: "MUTCD 2009 §4E.06"},
		validFor: time.Duration(p.Rules.SafetyValidityDays * 24 * float64(time.Hour)),
	}, ""
}

// clearanceRule recomputes yellow change by the ITE kinematic formula and
// red clearance as (W + L) / v with the speed and deceleration the weather
// implies (Factors), rounded up to the NTCIP tenth. It only lengthens:
// shorter clearance intervals are the rollback's job when the weather
// clears. Source: ITE, Guidelines for Determining Traffic Signal Change and
// Clearance Intervals (2020); MUTCD 2009 §4D.26 bounds.
func clearanceRule(p *Plan, ph *Phase, w events.Condition, o observations) (*candidate, string) {
	f := Factors(w)
	v := ph.SpeedMPS() * f.SpeedFactor
	yWant := math.Min(ceilTenth(YellowS(v, f.DecelMPS2, ph.GradePct/100)), p.Maxima.YellowS)
	rWant := math.Min(ceilTenth(RedClearanceS(ph.WidthM, ph.VehLengthM, v)), p.Maxima.RedClearanceS)
	var changes []events.Change
	var parts []string
	if yWant > ph.YellowS+1e-9 {
		y, _ := stepToward(ph.YellowS, yWant, p.MaxStep.YellowS)
		changes = append(changes, tenthsChange(ObjYellow, PhaseOID(ObjYellow, ph.Number), ph.YellowS, y))
		parts = append(parts, fmt.Sprintf("yellow %s → %s s (1 s + v / (2a + 2Gg) with v = %s m/s, a = %s m/s², G = %s %%)", fmtS(ph.YellowS), fmtS(y), fmtS(v), fmtS(f.DecelMPS2), fmtS(ph.GradePct)))
	}
	if rWant > ph.RedClearanceS+1e-9 {
		r, _ := stepToward(ph.RedClearanceS, rWant, p.MaxStep.RedClearanceS)
		changes = append(changes, tenthsChange(ObjRedClear, PhaseOID(ObjRedClear, ph.Number), ph.RedClearanceS, r))
		parts = append(parts, fmt.Sprintf("red clearance %s → %s s ((W + L) / v = (%s + %s m) / %s m/s)", fmtS(ph.RedClearanceS), fmtS(r), fmtS(ph.WidthM), fmtS(ph.VehLengthM), fmtS(v)))
	}
	if len(changes) == 0 {
		return nil, ""
	}
	return &candidate{
		rule: RuleClearance, phase: ph.Number, changes: changes, weatherDriven: w != events.Dry,
		rationale: fmt.Sprintf("Phase %d in %s conditions (design speed %s m/s × %s): %s. Factors: %s.", ph.Number, w, fmtS(ph.SpeedMPS()), fmtS(f.SpeedFactor), strings.Join(parts, "; "), f.Source),
		evidence: events.Evidence{From: o.from, To: o.to, Inputs: map[string]string{
			"weather": string(w), "approach_speed_mps": fmtS(v), "decel_mps2": fmtS(f.DecelMPS2), "grade_pct": fmtS(ph.GradePct),
			"intersection_width_m": fmtS(ph.WidthM), "vehicle_length_m": fmtS(ph.VehLengthM)}},
		effect:   events.Effect{Description: "clearance intervals match the stopping and crossing times the road surface allows", Source: "ITE Guidelines for Determining Traffic Signal Change and Clearance Intervals (2020); " + f.Source},
		validFor: time.Duration(p.Rules.WeatherValidityH * float64(time.Hour)),
	}, ""
}

// minSplitS is the shortest split that holds a phase's intervals with the
// given clearance times.
func (p *Plan) minSplitS(ph *Phase, yellowS, redS float64) float64 {
	m := ph.MinGreenS + yellowS + redS
	if ph.CrossingLengthM() > 0 {
		m = math.Max(m, p.LPI.CurrentS+ph.WalkS+ph.PedClearanceS+yellowS+redS)
	}
	return ceilSecond(m)
}

// cycleRule recomputes the cycle by Webster with the saturation flow the
// weather leaves (Factors) and shares it by flow ratio, never giving a phase
// less than its intervals need (then the cycle grows to fit). Source:
// Webster, Road Research Technical Paper 39 (1958); saturation flow
// reductions as in Factors. It needs webster inputs on every phase.
func cycleRule(p *Plan, w events.Condition, clear map[int][2]float64, o observations) (*candidate, string) {
	for _, ph := range p.Phases {
		if ph.Webster == nil {
			return nil, ""
		}
	}
	f := Factors(w)
	n := len(p.Phases)
	ratios, lost, mins := make([]float64, n), make([]float64, n), make([]float64, n)
	var Y, L, minSum float64
	// The flows are the design volumes, or, where phases name their
	// counted lane groups, those counted in the design hour: the clock
	// hour in which the counted groups (at least min_observed_vehicles
	// vehicles between them) load the intersection most (largest Y).
	q := make([]float64, n)
	for i := range p.Phases {
		q[i] = p.Phases[i].Webster.DesignVolumeVPH
	}
	var hour time.Time
	bestY := -1.0
	for _, h := range o.countedHours() {
		var y float64
		total := 0
		for i := range p.Phases {
			ph := &p.Phases[i]
			qi := ph.Webster.DesignVolumeVPH
			if obs := ph.Webster.Observed; obs != nil {
				c := o.groupFlow(obs, h)
				total += c
				qi = float64(c)
			}
			y += qi / (ph.Webster.SaturationFlowVPH * f.SatFlowFactor)
		}
		if total >= p.Rules.MinObservedVehicles && y > bestY {
			bestY, hour = y, h
		}
	}
	var flowNotes []string
	inputs := map[string]string{}
	for i := range p.Phases {
		ph := &p.Phases[i]
		obs := ph.Webster.Observed
		if obs == nil {
			continue
		}
		key := fmt.Sprintf("phase_%d_flow_vph", ph.Number)
		if hour.IsZero() {
			inputs[key] = fmtS(q[i]) + " design"
			continue
		}
		q[i] = float64(o.groupFlow(obs, hour))
		inputs[key] = fmtS(q[i]) + " counted"
		flowNotes = append(flowNotes, fmt.Sprintf("phase %d %s veh/h counted (busiest of %s, %s; design %s)",
			ph.Number, fmtS(q[i]), strings.Join(obs.Approaches, "/"), strings.Join(obs.Movements, "+"), fmtS(ph.Webster.DesignVolumeVPH)))
	}
	if !hour.IsZero() {
		inputs["design_hour"] = hour.In(p.Location()).Format(time.RFC3339)
	}
	for i := range p.Phases {
		ph := &p.Phases[i]
		ratios[i] = q[i] / (ph.Webster.SaturationFlowVPH * f.SatFlowFactor)
		lost[i] = ph.Webster.LostTimeS
		y, r := ph.YellowS, ph.RedClearanceS
		if c, ok := clear[ph.Number]; ok { // clearance this evaluation also proposes
			y, r = math.Max(y, c[0]), math.Max(r, c[1])
		}
		mins[i] = p.minSplitS(ph, y, r)
		Y += ratios[i]
		L += lost[i]
		minSum += mins[i]
	}
	c0, err := WebsterCycleS(L, Y)
	if err != nil {
		return nil, fmt.Sprintf("cycle: %v in %s conditions", err, w)
	}
	want := math.Max(ceilSecond(c0), minSum)
	want = math.Min(want, p.Maxima.CycleS)
	if math.Abs(want-p.CycleS) < p.Rules.CycleChangeMinS {
		return nil, ""
	}
	cycle, cut := stepToward(p.CycleS, want, p.MaxStep.CycleS)
	splits, ok := shareSplits(cycle, ratios, lost, mins)
	if !ok {
		return nil, fmt.Sprintf("cycle: %s s cannot hold the phases' minimum splits (sum %s s)", fmtS(cycle), fmtS(minSum))
	}
	changes := []events.Change{secondsChange(ObjCycle, CycleOID(p.Pattern), p.CycleS, cycle)}
	var parts []string
	for i := range p.Phases {
		ph := &p.Phases[i]
		if splits[i] != ph.SplitS {
			changes = append(changes, secondsChange(ObjSplit, SplitOID(p.SplitTable, ph.Number), ph.SplitS, splits[i]))
			parts = append(parts, fmt.Sprintf("phase %d %s → %s s", ph.Number, fmtS(ph.SplitS), fmtS(splits[i])))
		}
	}
	rat := fmt.Sprintf("Webster in %s conditions: saturation flow × %s gives Y = %.3f, L = %s s, C₀ = (1.5 L + 5) / (1 − Y) = %s s; with the phases' minimum splits the cycle should be %s s (now %s s). Splits: %s.",
		w, fmtS(f.SatFlowFactor), Y, fmtS(L), fmtS(c0), fmtS(want), fmtS(p.CycleS), strings.Join(parts, ", "))
	if len(flowNotes) > 0 {
		rat += fmt.Sprintf(" Flows counted in the design hour from %s, the busiest for the intersection: %s.",
			hour.In(p.Location()).Format("2006-01-02 15:04"), strings.Join(flowNotes, "; "))
	}
	if cut {
		rat += fmt.Sprintf(" Step limited to %s s.", fmtS(cycle))
	}
	return &candidate{
		rule: RuleCycle, changes: changes, rationale: rat, weatherDriven: w != events.Dry,
		evidence: events.Evidence{From: o.from, To: o.to, Inputs: mergeInputs(inputs, map[string]string{
			"weather": string(w), "flow_ratio_sum": fmt.Sprintf("%.3f", Y), "lost_time_s": fmtS(L), "webster_cycle_s": fmtS(c0)})},
		effect:   events.Effect{Description: "cycle near Webster's minimum-delay optimum for the flows the weather allows", Source: "Webster 1958, Road Research Technical Paper 39; " + f.Source},
		validFor: time.Duration(p.Rules.WeatherValidityH * float64(time.Hour)),
	}, ""
}

// mergeInputs returns b with a's entries added.
func mergeInputs(a, b map[string]string) map[string]string {
	for k, v := range a {
		b[k] = v
	}
	return b
}

// shareSplits shares a whole-second cycle among phases by flow ratio, each
// getting its lost time plus its share of the effective green, and at least
// its minimum (phases pinned at their minimum drop out of the sharing).
// Splits are whole seconds summing exactly to the cycle.
func shareSplits(cycle float64, ratios, lost, mins []float64) ([]float64, bool) {
	n := len(ratios)
	pinned := make([]bool, n)
	out := make([]float64, n)
	for {
		var fixed, y float64
		for i := range ratios {
			if pinned[i] {
				fixed += mins[i]
			} else {
				fixed += lost[i]
				y += ratios[i]
			}
		}
		g := cycle - fixed
		if g < 0 {
			return nil, false
		}
		again := false
		for i := range ratios {
			if pinned[i] {
				out[i] = mins[i]
				continue
			}
			out[i] = lost[i] + g*ratios[i]/y
			if out[i] < mins[i] {
				pinned[i], again = true, true
			}
		}
		if y == 0 && !again {
			break
		}
		if !again {
			break
		}
	}
	// Round down, then hand the leftover seconds to the largest remainders.
	sum := 0.0
	type rem struct {
		i int
		r float64
	}
	var rs []rem
	for i := range out {
		f := math.Floor(out[i] + 1e-9)
		rs = append(rs, rem{i, out[i] - f})
		out[i] = f
		sum += f
	}
	sort.SliceStable(rs, func(a, b int) bool { return rs[a].r > rs[b].r })
	for k := 0; sum < cycle; k++ {
		out[rs[k%n].i]++
		sum++
	}
	for i := range out {
		if out[i] < mins[i] {
			return nil, false
		}
	}
	return out, sum == cycle
}

// noRTORRule suggests turning on a phase's "no turn on red" blank-out sign
// when right-turn-on-red conflicts with pedestrians dominate its vehicles'
// pedestrian conflicts. A right-turn conflict in a crosswalk that walks with
// another phase means the vehicle turned while its own phase was red.
// Source: Zegeer & Cynecki, FHWA/RD-85/047 (1985), on RTOR restrictions
// where pedestrian conflicts are frequent; MUTCD 2009 §2B.54 (R10-11
// series, blank-out signs for part-time prohibition).
func noRTORRule(p *Plan, ph *Phase, o observations) (*candidate, string) {
	if ph.RTOR == nil || !ph.RTOR.Allowed {
		return nil, ""
	}
	var rtor []*events.NearMiss
	all := 0
	zones := map[string]bool{}
	for _, n := range o.nearMisses {
		if !pedInvolved(n) || !ph.Serves(n.Approach) {
			continue
		}
		all++
		if n.Type == events.RightTurnCrosswalk && n.Zone != "" && !ph.HasCrosswalk(n.Zone) {
			rtor = append(rtor, n)
			zones[n.Zone] = true
		}
	}
	if len(rtor) < p.Rules.MinConflicts {
		return nil, ""
	}
	peds := 0
	for z := range zones {
		peds += o.crossings[z]
	}
	if peds < p.Rules.MinCrossingPeds {
		return nil, fmt.Sprintf("%d right-turn-on-red conflicts but only %d crossing pedestrians (minimum %d): too little exposure", len(rtor), peds, p.Rules.MinCrossingPeds)
	}
	share := float64(len(rtor)) / float64(all)
	if share < p.Rules.RTORShare {
		return nil, ""
	}
	// The window: the TOD plan in which most of these conflicts happened,
	// or all day when the plan has none or they fall outside every window.
	window := "daily 00:00-24:00 " + p.TimeZone
	counts := map[string]int{}
	for _, n := range rtor {
		if t, ok := p.ActiveTOD(n.Time); ok {
			counts[t.Name]++
		}
	}
	best, bestN := "", 0
	for _, t := range p.TODPlans {
		if counts[t.Name] > bestN {
			best, bestN = t.Name, counts[t.Name]
		}
	}
	if bestN*2 > len(rtor) {
		for _, t := range p.TODPlans {
			if t.Name == best {
				window = p.window(t)
			}
		}
	}
	rate := NewRate(fmt.Sprintf("right-turn-on-red vs pedestrian conflicts per 1000 crossing pedestrians, phase %d approaches", ph.Number), len(rtor), float64(peds), 1000)
	out := SpecialOutputOID(ph.RTOR.BlankoutOutput)
	zs := make([]string, 0, len(zones))
	for z := range zones {
		zs = append(zs, z)
	}
	sort.Strings(zs)
	return &candidate{
		rule: RuleNoRTOR, phase: ph.Number, window: window,
		changes: []events.Change{{Object: ObjSpecialOutput, OID: out, Unit: UnitBool, Current: 0, Proposed: 1}},
		rationale: fmt.Sprintf("Vehicles from %s turning right on red met pedestrians in %s %d times: %.0f %% of the %d pedestrian conflicts of these approaches (threshold %.0f %%), %.1f per 1,000 crossings (95 %% CI %.1f–%.1f). Light the no-turn-on-red blank-out sign (special function %d) during %s.",
			strings.Join(ph.Approaches, "/"), strings.Join(zs, ", "), len(rtor), share*100, all, p.Rules.RTORShare*100, rate.Value, rate.CILow, rate.CIHigh, ph.RTOR.BlankoutOutput, window),
		evidence: events.Evidence{EventIDs: ids(rtor), Rates: []events.Rate{rate}, From: o.from, To: o.to, Inputs: map[string]string{
			"rtor_share": fmt.Sprintf("%.2f", share), "pedestrian_conflicts": fmt.Sprint(all), "crossing_pedestrians": fmt.Sprint(peds)}},
		effect:   events.Effect{Description: "removes the right-turn-on-red conflict with pedestrians crossing in front of stopped vehicles", Source: "Zegeer & Cynecki, FHWA/RD-85/047 (1985); MUTCD 2009 §2B.54"},
		validFor: time.Duration(p.Rules.SafetyValidityDays * 24 * float64(time.Hour)),
	}, ""
}
