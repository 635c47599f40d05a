package signals

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"

	"github.com/intersect-oss/intersect/events"
)

// objectSpec is what the envelope knows about one settable object, in the
// object's NTCIP unit.
type objectSpec struct {
	Object      string
	Unit        string
	Phase       int // 0 for pattern-level objects
	Min, Max    float64
	Step        float64 // largest |proposed − current|
	ZeroAllowed bool    // 0 means "off" and is allowed below Min (LPI)
	// Allowed, when set, lists the only values the object may take (pattern
	// numbers the plan defines).
	Allowed []float64
}

// objects lists every object a recommendation for this plan may set, keyed
// by OID. An OID not listed here is outside the envelope.
func (p *Plan) objects() map[string]objectSpec {
	m := map[string]objectSpec{}
	for _, ph := range p.Phases {
		n := ph.Number
		if L := ph.CrossingLengthM(); L > 0 {
			m[PhaseOID(ObjWalk, n)] = objectSpec{ObjWalk, UnitSeconds, n, MinWalk(ph.ShortWalkAllowed), p.Maxima.WalkS, p.MaxStep.WalkS, false, nil}
			m[PhaseOID(ObjPedClear, n)] = objectSpec{ObjPedClear, UnitSeconds, n, ceilSecond(PedClearanceS(L, MUTCDWalkSpeedMPS)), p.Maxima.PedClearanceS, p.MaxStep.PedClearanceS, false, nil}
			if p.LPI.Supported {
				m[p.lpiOID(n)] = objectSpec{p.LPI.Object, UnitSeconds, n, MinLPIS, math.Min(p.Maxima.LPIS, MaxLPIS), p.MaxStep.LPIS, true, nil}
			}
		}
		m[PhaseOID(ObjYellow, n)] = objectSpec{ObjYellow, UnitTenths, n, MinYellowS * 10, p.Maxima.YellowS * 10, p.MaxStep.YellowS * 10, false, nil}
		m[PhaseOID(ObjRedClear, n)] = objectSpec{ObjRedClear, UnitTenths, n, 0, p.Maxima.RedClearanceS * 10, p.MaxStep.RedClearanceS * 10, false, nil}
		m[SplitOID(p.SplitTable, n)] = objectSpec{ObjSplit, UnitSeconds, n, 1, p.Maxima.SplitS, p.MaxStep.SplitS, false, nil}
		if ph.RTOR != nil && ph.RTOR.Allowed {
			m[SpecialOutputOID(ph.RTOR.BlankoutOutput)] = objectSpec{ObjSpecialOutput, UnitBool, n, 0, 1, 1, false, nil}
		}
	}
	m[CycleOID(p.Pattern)] = objectSpec{ObjCycle, UnitSeconds, 0, 1, p.Maxima.CycleS, p.MaxStep.CycleS, false, nil}
	for _, t := range p.TODPlans {
		// Any pattern the plan defines, in one step: switching patterns is
		// what a time base action does; each pattern is itself checked.
		m[TimebasePatternOID(t.Action)] = objectSpec{ObjTimebasePattern, UnitPattern, 0, 1, 255, 255, false, p.patterns()}
	}
	return m
}

// patterns lists the pattern numbers the plan runs (base and time of day).
func (p *Plan) patterns() []float64 {
	ps := []float64{float64(p.Pattern)}
	for _, t := range p.TODPlans {
		if !slices.Contains(ps, float64(t.Pattern)) {
			ps = append(ps, float64(t.Pattern))
		}
	}
	sort.Float64s(ps)
	return ps
}

func (p *Plan) lpiOID(phase int) string { return fmt.Sprintf("%s.%d", p.LPI.OIDBase, phase) }

// ControllerState is the plan's current values by OID, in NTCIP units: the
// state a controller running this plan holds.
func (p *Plan) ControllerState() map[string]float64 {
	s := map[string]float64{}
	for _, ph := range p.Phases {
		n := ph.Number
		if ph.CrossingLengthM() > 0 {
			s[PhaseOID(ObjWalk, n)] = ph.WalkS
			s[PhaseOID(ObjPedClear, n)] = ph.PedClearanceS
			if p.LPI.Supported {
				s[p.lpiOID(n)] = p.LPI.CurrentS
			}
		}
		s[PhaseOID(ObjYellow, n)] = roundTenths(ph.YellowS)
		s[PhaseOID(ObjRedClear, n)] = roundTenths(ph.RedClearanceS)
		s[SplitOID(p.SplitTable, n)] = ph.SplitS
		if ph.RTOR != nil && ph.RTOR.Allowed {
			s[SpecialOutputOID(ph.RTOR.BlankoutOutput)] = 0
		}
	}
	s[CycleOID(p.Pattern)] = p.CycleS
	for _, t := range p.TODPlans {
		s[TimebasePatternOID(t.Action)] = float64(t.Pattern)
	}
	return s
}

// ErrOutsideEnvelope marks a recommendation the safety envelope refuses.
var ErrOutsideEnvelope = errors.New("outside the safety envelope")

// CheckEnvelope reports whether r may be applied to a controller whose
// current values are state (nil: the plan's own values). It checks each
// change against MUTCD minimums, the plan's maxima and the largest step,
// that each change starts from the value the controller holds, the
// combinations (walk + clearance, splits fitting their intervals, splits
// summing to the cycle) on the resulting timing, and that the rollback
// undoes exactly the changes.
func (p *Plan) CheckEnvelope(r *events.Recommendation, state map[string]float64) error {
	if state == nil {
		state = p.ControllerState()
	}
	specs := p.objects()
	var errs []error
	fail := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if r.Target.Controller != p.Controller {
		fail("target controller %q is not this plan's %q", r.Target.Controller, p.Controller)
	}
	if len(r.Changes) == 0 {
		fail("no changes")
	}
	after := make(map[string]float64, len(state))
	for k, v := range state {
		after[k] = v
	}
	seen := map[string]bool{}
	for i, ch := range r.Changes {
		sp, ok := specs[ch.OID]
		switch {
		case !ok:
			fail("changes[%d]: OID %s (%s) is not a settable object of this plan", i, ch.OID, ch.Object)
			continue
		case seen[ch.OID]:
			fail("changes[%d]: OID %s set twice", i, ch.OID)
			continue
		case ch.Object != sp.Object || ch.Unit != sp.Unit:
			fail("changes[%d]: OID %s is %s in %s, not %s in %s", i, ch.OID, sp.Object, sp.Unit, ch.Object, ch.Unit)
			continue
		}
		seen[ch.OID] = true
		if cur := state[ch.OID]; math.Abs(cur-ch.Current) > 1e-6 {
			fail("changes[%d]: %s current %v does not match the controller's %v", i, ch.Object, ch.Current, cur)
		}
		v := ch.Proposed
		switch {
		case math.IsNaN(v) || math.IsInf(v, 0):
			fail("changes[%d]: %s proposed %v", i, ch.Object, v)
		case sp.ZeroAllowed && v == 0:
		case v < sp.Min-1e-9:
			fail("changes[%d]: %s phase %d proposed %v %s below the minimum %v", i, ch.Object, sp.Phase, v, ch.Unit, sp.Min)
		case v > sp.Max+1e-9:
			fail("changes[%d]: %s phase %d proposed %v %s above the maximum %v", i, ch.Object, sp.Phase, v, ch.Unit, sp.Max)
		}
		if d := math.Abs(v - ch.Current); d > sp.Step+1e-9 {
			fail("changes[%d]: %s step %v %s exceeds the largest step %v", i, ch.Object, d, ch.Unit, sp.Step)
		}
		if len(sp.Allowed) > 0 && !slices.Contains(sp.Allowed, v) {
			fail("changes[%d]: %s %v is not one of this plan's patterns %v", i, ch.Object, v, sp.Allowed)
		}
		if sp.Unit == UnitBool && v != 0 && v != 1 {
			fail("changes[%d]: %s must be 0 or 1", i, ch.Object)
		}
		after[ch.OID] = v
	}
	if !slices.Equal(r.Rollback, reversed(r.Changes)) {
		fail("rollback does not undo the changes exactly")
	}
	errs = append(errs, p.checkCombined(after)...)
	if len(errs) > 0 {
		return fmt.Errorf("recommendation %s (%s): %w: %w", r.ID, r.Rule, ErrOutsideEnvelope, errors.Join(errs...))
	}
	return nil
}

// checkCombined checks the rules that tie objects together on a full set of
// values (NTCIP units).
func (p *Plan) checkCombined(v map[string]float64) []error {
	var errs []error
	split := 0.0
	for _, ph := range p.Phases {
		n := ph.Number
		y := v[PhaseOID(ObjYellow, n)] / 10
		rc := v[PhaseOID(ObjRedClear, n)] / 10
		s := v[SplitOID(p.SplitTable, n)]
		need := ph.MinGreenS + y + rc
		if L := ph.CrossingLengthM(); L > 0 {
			w, pc := v[PhaseOID(ObjWalk, n)], v[PhaseOID(ObjPedClear, n)]
			if min := WalkPlusClearanceMinS(L); w+pc < min-1e-9 {
				errs = append(errs, fmt.Errorf("phase %d: walk + ped clearance %v s below the MUTCD minimum %.1f s", n, w+pc, min))
			}
			lpi := 0.0
			if p.LPI.Supported {
				lpi = v[p.lpiOID(n)]
			}
			need = math.Max(need, lpi+w+pc+y+rc)
		}
		if s < need-1e-9 {
			errs = append(errs, fmt.Errorf("phase %d: split %v s cannot hold its intervals (%v s)", n, s, need))
		}
		split += s
	}
	if c := v[CycleOID(p.Pattern)]; math.Abs(split-c) > 0.5 {
		errs = append(errs, fmt.Errorf("splits sum to %v s, not the cycle %v s", split, c))
	}
	return errs
}

// CheckPending enforces one pending change per object: r may not set an OID
// that a pending (proposed or approved, not yet deployed) recommendation
// already sets, so two suggestions never race for the same controller
// value.
func CheckPending(r *events.Recommendation, pending []*events.Recommendation) error {
	busy := map[string]string{}
	for _, q := range pending {
		if q.ID == r.ID || (q.State != events.Proposed && q.State != events.Approved) {
			continue
		}
		for _, ch := range q.Changes {
			busy[ch.OID] = q.ID
		}
	}
	var clash []string
	for _, ch := range r.Changes {
		if id, ok := busy[ch.OID]; ok {
			clash = append(clash, fmt.Sprintf("%s (pending in %s)", ch.Object, id))
		}
	}
	if len(clash) > 0 {
		sort.Strings(clash)
		return fmt.Errorf("recommendation %s: %w: %v", r.ID, ErrOutsideEnvelope, clash)
	}
	return nil
}
