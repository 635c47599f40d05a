package signals

import (
	"crypto/ed25519"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/intersect-oss/intersect/events"
)

// randomPlan builds a valid plan with random geometry, timings with random
// slack above their minimums, and random limits.
func randomPlan(rng *rand.Rand) *Plan {
	approaches := []string{"NB", "SB", "EB", "WB"}
	n := 1 + rng.IntN(6)
	p := &Plan{Site: "demo", Controller: "ctl-1", TimeZone: "America/Denver", Pattern: 1 + rng.IntN(4), SplitTable: 1 + rng.IntN(4)}
	p.Maxima = Maxima{WalkS: 10 + rng.Float64()*20, PedClearanceS: 30 + rng.Float64()*30, YellowS: 4.5 + rng.Float64()*1.5,
		RedClearanceS: 2 + rng.Float64()*4, CycleS: 150 + math.Floor(rng.Float64()*100), SplitS: 60 + rng.Float64()*60, LPIS: 3 + rng.Float64()*4}
	p.MaxStep = Maxima{WalkS: 0.5 + rng.Float64()*5, PedClearanceS: 0.5 + rng.Float64()*10, YellowS: 0.1 + rng.Float64()*2,
		RedClearanceS: 0.1 + rng.Float64()*2, CycleS: 1 + rng.Float64()*40, SplitS: 1 + rng.Float64()*30, LPIS: 1 + rng.Float64()*7}
	p.Rules = RuleConfig{LPIThresholdPer1000: 1 + rng.Float64()*20, MinCrossingPeds: 1 + rng.IntN(100), MinConflicts: 1 + rng.IntN(6),
		MinSpeedSamples: 1 + rng.IntN(20), RTORShare: 0.1 + rng.Float64()*0.9}
	if rng.IntN(2) == 0 {
		p.LPI = LPIConfig{Supported: true, Object: "lpi", OIDBase: "1.3.6.1.4.1.32473.1.1"}
		if rng.IntN(3) == 0 {
			p.LPI.CurrentS = 3
		}
	}
	cycle := 0.0
	blank := 1
	for i := 0; i < n; i++ {
		ph := Phase{Number: i + 1, Approaches: []string{approaches[i%4]}, Movements: []string{"through", "right"}[:1+rng.IntN(2)],
			SpeedKPH: 30 + rng.Float64()*50, GradePct: rng.Float64()*8 - 4, WidthM: 10 + rng.Float64()*30, VehLengthM: 6.1,
			MinGreenS: 4 + math.Floor(rng.Float64()*10)}
		if i >= 4 { // second ring of approaches: only lefts, so no movement repeats
			ph.Movements = []string{"left"}
			ph.Approaches = []string{approaches[i-4]}
		}
		v := ph.SpeedMPS()
		ph.YellowS = math.Min(math.Max(ceilTenth(YellowS(v, ITEDecelMPS2, ph.GradePct/100))+math.Floor(rng.Float64()*5)/10, MinYellowS), p.Maxima.YellowS)
		ph.YellowS = math.Floor(ph.YellowS*10) / 10
		ph.RedClearanceS = math.Floor(math.Min(RedClearanceS(ph.WidthM, 6.1, v)+rng.Float64(), p.Maxima.RedClearanceS)*10) / 10
		if rng.IntN(2) == 0 {
			L := 8 + rng.Float64()*20
			ph.Crosswalks = []Crosswalk{{Name: fmt.Sprintf("cw-%d", i), LengthM: L}}
			ph.ShortWalkAllowed = rng.IntN(4) == 0
			ph.PedClearanceS = ceilSecond(L/MUTCDWalkSpeedMPS) + math.Floor(rng.Float64()*3)
			ph.WalkS = math.Max(MinWalk(ph.ShortWalkAllowed), ceilSecond(WalkPlusClearanceMinS(L)-ph.PedClearanceS))
			if ph.PedClearanceS > p.Maxima.PedClearanceS || ph.WalkS > p.Maxima.WalkS {
				p.Maxima.PedClearanceS = math.Max(p.Maxima.PedClearanceS, ph.PedClearanceS)
				p.Maxima.WalkS = math.Max(p.Maxima.WalkS, ph.WalkS)
			}
		}
		ph.SplitS = p.minSplitS(&ph, ph.YellowS, ph.RedClearanceS) + math.Floor(rng.Float64()*10)
		if ph.Has("right") && rng.IntN(2) == 0 {
			ph.RTOR = &RTOR{Allowed: true, BlankoutOutput: blank}
			blank++
		}
		ph.Webster = &Webster{DesignVolumeVPH: 50 + rng.Float64()*500, SaturationFlowVPH: 1500 + rng.Float64()*2500, LostTimeS: 3 + rng.Float64()*2}
		if rng.IntN(2) == 0 { // the cycle rule on counted flows
			ph.Webster.Observed = &ObservedFlow{Approaches: ph.Approaches, Movements: ph.Movements}
		}
		cycle += ph.SplitS
		p.Phases = append(p.Phases, ph)
	}
	p.CycleS = cycle
	p.Maxima.CycleS = math.Min(math.Max(p.Maxima.CycleS, cycle), 255)
	p.Maxima.SplitS = math.Max(p.Maxima.SplitS, 100)
	p.TODPlans = []TODPlan{{Name: "am", Days: "weekday", Start: "07:00", End: "09:00", Pattern: 1}}
	p.fillDefaults()
	return p
}

func randomHistory(rng *rand.Rand, p *Plan, at time.Time) ([]*events.NearMiss, []*events.TrackSummary, []VehicleCount) {
	var zones []string
	for _, ph := range p.Phases {
		for _, c := range ph.Crosswalks {
			zones = append(zones, c.Name)
		}
	}
	zones = append(zones, "")
	types := []events.ConflictType{events.RightTurnCrosswalk, events.LeftTurnCrosswalk, events.ThroughCrosswalk, events.RightTurnMidBlock}
	approaches := []string{"NB", "SB", "EB", "WB", ""}
	var nms []*events.NearMiss
	for i, k := 0, rng.IntN(60); i < k; i++ {
		t := at.Add(-time.Duration(rng.Float64() * float64(40*24*time.Hour)))
		nms = append(nms, nearMiss(t, types[rng.IntN(len(types))], approaches[rng.IntN(len(approaches))], zones[rng.IntN(len(zones))]))
	}
	var tracks []*events.TrackSummary
	for _, z := range zones[:len(zones)-1] {
		slow := 0.5 + rng.Float64()
		tracks = append(tracks, crossings(at, z, rng.IntN(400), func(int) float64 { return slow + rng.Float64()*0.8 })...)
	}
	// Counted vehicles: from none to more than any lane group can carry.
	var counts []VehicleCount
	for i, k := 0, rng.IntN(30); i < k; i++ {
		counts = append(counts, VehicleCount{
			Hour:     HourOf(at.Add(-time.Duration(rng.IntN(30*24)) * time.Hour)),
			Approach: approaches[rng.IntN(4)], Movement: []string{"through", "left", "right"}[rng.IntN(3)],
			Vehicles: rng.IntN(2500),
		})
	}
	return nms, tracks, counts
}

// oracle checks a recommendation against the plan directly from the rules
// as written in DESIGN.md, independently of CheckEnvelope.
func oracle(p *Plan, r *events.Recommendation) error {
	val := map[string]float64{}
	for k, v := range p.ControllerState() {
		val[k] = v
	}
	for _, ch := range r.Changes {
		if _, ok := val[ch.OID]; !ok {
			return fmt.Errorf("unknown OID %s", ch.OID)
		}
		if ch.Current != val[ch.OID] {
			return fmt.Errorf("%s current %v, plan %v", ch.Object, ch.Current, val[ch.OID])
		}
		if ch.Object == ObjTimebasePattern {
			// A time base action may run any pattern the plan defines, and
			// nothing else.
			known := ch.Proposed == float64(p.Pattern)
			for _, t := range p.TODPlans {
				known = known || ch.Proposed == float64(t.Pattern)
			}
			if !known {
				return fmt.Errorf("pattern %v is not one of the plan's", ch.Proposed)
			}
			val[ch.OID] = ch.Proposed
			continue
		}
		step := map[string]float64{ObjWalk: p.MaxStep.WalkS, ObjPedClear: p.MaxStep.PedClearanceS, ObjYellow: p.MaxStep.YellowS * 10,
			ObjRedClear: p.MaxStep.RedClearanceS * 10, ObjCycle: p.MaxStep.CycleS, ObjSplit: p.MaxStep.SplitS, p.LPI.Object: p.MaxStep.LPIS, ObjSpecialOutput: 1}[ch.Object]
		if math.Abs(ch.Proposed-ch.Current) > step+1e-9 {
			return fmt.Errorf("%s step %v > %v", ch.Object, ch.Proposed-ch.Current, step)
		}
		val[ch.OID] = ch.Proposed
	}
	sum := 0.0
	for _, ph := range p.Phases {
		n := ph.Number
		y, red := val[PhaseOID(ObjYellow, n)]/10, val[PhaseOID(ObjRedClear, n)]/10
		if y < 3 || y > 6 || y > p.Maxima.YellowS+1e-9 {
			return fmt.Errorf("phase %d yellow %v", n, y)
		}
		if red < 0 || red > 6 || red > p.Maxima.RedClearanceS+1e-9 {
			return fmt.Errorf("phase %d red %v", n, red)
		}
		s := val[SplitOID(p.SplitTable, n)]
		sum += s
		if s > p.Maxima.SplitS || s < ph.MinGreenS+y+red-1e-9 {
			return fmt.Errorf("phase %d split %v", n, s)
		}
		if L := ph.CrossingLengthM(); L > 0 {
			w, pc := val[PhaseOID(ObjWalk, n)], val[PhaseOID(ObjPedClear, n)]
			minW := 7.0
			if ph.ShortWalkAllowed {
				minW = 4
			}
			if w < minW || w > p.Maxima.WalkS || pc < L/1.07 || pc > p.Maxima.PedClearanceS || w+pc < (L+1.8)/0.91-1e-9 {
				return fmt.Errorf("phase %d walk %v clearance %v for %v m", n, w, pc, L)
			}
			if p.LPI.Supported {
				l := val[p.lpiOID(n)]
				if l != 0 && (l < 3 || l > 7 || l > p.Maxima.LPIS) {
					return fmt.Errorf("phase %d LPI %v", n, l)
				}
				if s < l+w+pc+y+red-1e-9 {
					return fmt.Errorf("phase %d split %v < LPI+walk+clearance+yellow+red", n, s)
				}
			}
		}
	}
	if c := val[CycleOID(p.Pattern)]; c > p.Maxima.CycleS || math.Abs(sum-c) > 0.5 {
		return fmt.Errorf("cycle %v (max %v), splits sum %v", c, p.Maxima.CycleS, sum)
	}
	if !slices.Equal(r.Rollback, reversed(r.Changes)) {
		return fmt.Errorf("rollback")
	}
	return nil
}

// Issue 5, "Must show" 2: 10,000 random plans and event histories never
// produce a recommendation outside the envelope, checked by an oracle
// written from the rules rather than by CheckEnvelope; and pending changes
// are never doubled.
func TestPropertyEnvelope(t *testing.T) {
	rng := rand.New(rand.NewPCG(2026, 5))
	_, priv, _ := ed25519.GenerateKey(nil)
	conds := events.Conditions
	var plans, recs, invalid int
	byRuleN := map[string]int{}
	for i := 0; i < 10000; i++ {
		p := randomPlan(rng)
		if err := p.Validate(); err != nil {
			invalid++
			continue
		}
		plans++
		at := time.Date(2026, 11, 1+rng.IntN(28), rng.IntN(24), 0, 0, 0, time.UTC)
		nms, tracks, counts := randomHistory(rng, p, at)
		a := &Advisor{Plan: p, Key: priv}
		in := Input{At: at, Weather: conds[rng.IntN(len(conds))], NearMisses: nms, Tracks: tracks, VehicleCounts: counts}
		res, err := a.Evaluate(in)
		if err != nil {
			t.Fatalf("plan %d: %v", i, err)
		}
		seen := map[string]bool{}
		for _, r := range res.Recommendations {
			recs++
			byRuleN[r.Rule]++
			if err := oracle(p, r); err != nil {
				t.Fatalf("plan %d, %s phase %d outside the envelope: %v\n%s", i, r.Rule, r.Target.Phase, err, r.Rationale)
			}
			if err := r.Validate(); err != nil {
				t.Fatalf("plan %d: invalid record: %v", i, err)
			}
			for _, ch := range r.Changes {
				if seen[ch.OID] {
					t.Fatalf("plan %d: two recommendations set %s", i, ch.Object)
				}
				seen[ch.OID] = true
			}
		}
		// Feeding them back as pending must stop every one of them.
		in.Pending = res.Recommendations
		again, _ := a.Evaluate(in)
		for _, r := range again.Recommendations {
			for _, ch := range r.Changes {
				if seen[ch.OID] {
					t.Fatalf("plan %d: %s proposed again while pending", i, ch.Object)
				}
			}
		}
	}
	if plans < 9000 {
		t.Fatalf("only %d of 10000 random plans were valid: the generator is broken", plans)
	}
	for _, rule := range []string{RuleLPI, RulePedClearance, RuleClearance, RuleCycle, RuleNoRTOR, RuleTODPlan} {
		if byRuleN[rule] == 0 {
			t.Errorf("no %s recommendation in %d plans: the property test does not exercise it", rule, plans)
		}
	}
	t.Logf("%d valid plans (%d invalid), %d recommendations %v", plans, invalid, recs, byRuleN)
}
