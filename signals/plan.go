package signals

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/intersect-oss/intersect/events"
	"gopkg.in/yaml.v3"
)

// Plan is one intersection's timing plan as the engineer maintains it: the
// values the controller runs now, the geometry the formulas need, and the
// limits no recommendation may cross.
type Plan struct {
	Site       string  `yaml:"site"`
	Controller string  `yaml:"controller"`
	TimeZone   string  `yaml:"time_zone"` // IANA, e.g. America/Denver
	CycleS     float64 `yaml:"cycle_s"`
	OffsetS    float64 `yaml:"offset_s"`
	// Pattern and SplitTable index the NTCIP 1202 pattern and split tables
	// that hold CycleS and the phases' SplitS.
	Pattern    int        `yaml:"pattern"`
	SplitTable int        `yaml:"split_table"`
	LPI        LPIConfig  `yaml:"lpi"`
	Maxima     Maxima     `yaml:"maxima"`
	MaxStep    Maxima     `yaml:"max_step"`
	Rules      RuleConfig `yaml:"rules"`
	Phases     []Phase    `yaml:"phases"`
	TODPlans   []TODPlan  `yaml:"tod_plans"`

	loc *time.Location
}

// LPIConfig says whether the controller runs a leading pedestrian interval
// and through which object. NTCIP 1202 v02 has no standard LPI object, so the
// vendor object and its OID prefix (the phase number is appended) come from
// the plan.
type LPIConfig struct {
	Supported bool    `yaml:"supported"`
	CurrentS  float64 `yaml:"current_s"` // 0: no LPI today
	Object    string  `yaml:"object"`
	OIDBase   string  `yaml:"oid_base"`
}

// Maxima are upper bounds (in Plan.Maxima) or largest single steps (in
// Plan.MaxStep), in seconds. Zero means "use the default".
type Maxima struct {
	WalkS         float64 `yaml:"walk_s"`
	PedClearanceS float64 `yaml:"ped_clearance_s"`
	YellowS       float64 `yaml:"yellow_s"`
	RedClearanceS float64 `yaml:"red_clearance_s"`
	CycleS        float64 `yaml:"cycle_s"`
	SplitS        float64 `yaml:"split_s"`
	LPIS          float64 `yaml:"lpi_s"`
}

// RuleConfig holds the thresholds of the rules. Zero means default.
type RuleConfig struct {
	// LPIThresholdPer1000 is the turning-vehicle vs pedestrian conflict rate
	// per 1,000 crossing pedestrians above which an LPI is suggested; the
	// rate's lower 95 % bound must exceed it.
	LPIThresholdPer1000 float64 `yaml:"lpi_threshold_per_1000_peds"`
	// MinCrossingPeds is the minimum exposure for any pedestrian rate.
	MinCrossingPeds int `yaml:"min_crossing_pedestrians"`
	// MinConflicts is the minimum count behind any conflict-based rule.
	MinConflicts int `yaml:"min_conflicts"`
	// MinSpeedSamples is the minimum number of measured crossings before
	// the observed 15th-percentile walking speed is used.
	MinSpeedSamples int `yaml:"min_walking_speed_samples"`
	// RTORShare is the share of an approach's pedestrian conflicts that must
	// be right-turn conflicts before no-right-turn-on-red is suggested.
	RTORShare float64 `yaml:"rtor_share"`
	// CycleChangeMinS is the smallest cycle change worth suggesting.
	CycleChangeMinS float64 `yaml:"cycle_change_min_s"`
	// LookbackH is how far back events count (hours).
	LookbackH float64 `yaml:"lookback_h"`
	// WeatherValidityH is how long a weather-driven recommendation stays
	// valid unless the weather changes first (hours).
	WeatherValidityH float64 `yaml:"weather_validity_h"`
	// SafetyValidityDays is how long a conflict-driven recommendation stays
	// valid (days).
	SafetyValidityDays float64 `yaml:"safety_validity_days"`
	// MinObservedVehicles is how many vehicles the counted lane groups
	// (webster.observed) must hold between them in an hour before the
	// cycle rule may take that hour's counts instead of design volumes.
	MinObservedVehicles int `yaml:"min_observed_vehicles"`
}

// Phase is one NEMA phase: its vehicle movements, its crosswalk and its
// timings.
type Phase struct {
	Number     int         `yaml:"number"`
	Approaches []string    `yaml:"approaches"` // NB, SB, EB, WB: the vehicles this phase serves
	Movements  []string    `yaml:"movements"`  // through, right, left
	Crosswalks []Crosswalk `yaml:"crosswalks"` // the crossings that walk with this phase
	// ShortWalkAllowed: MUTCD 4E.06 lets walk be 4 s where pedestrian
	// volumes and characteristics do not need 7 s.
	ShortWalkAllowed bool    `yaml:"short_walk_allowed"`
	SpeedKPH         float64 `yaml:"approach_speed_kph"`
	SpeedMPH         float64 `yaml:"approach_speed_mph"`
	GradePct         float64 `yaml:"grade_pct"` // + uphill
	WidthM           float64 `yaml:"intersection_width_m"`
	VehLengthM       float64 `yaml:"vehicle_length_m"` // default 6.1 m (20 ft, ITE)

	WalkS         float64 `yaml:"walk_s"`
	PedClearanceS float64 `yaml:"ped_clearance_s"`
	MinGreenS     float64 `yaml:"min_green_s"`
	YellowS       float64 `yaml:"yellow_s"`
	RedClearanceS float64 `yaml:"red_clearance_s"`
	SplitS        float64 `yaml:"split_s"`

	RTOR    *RTOR    `yaml:"rtor"`
	Webster *Webster `yaml:"webster"`
}

// Crosswalk is a pedestrian crossing served with a phase.
type Crosswalk struct {
	Name    string  `yaml:"name"` // the zone name near misses and tracks carry, e.g. crosswalk-east
	LengthM float64 `yaml:"crossing_length_m"`
}

// RTOR says a phase's right turns may turn on red, and which special
// function output drives its "no turn on red" blank-out sign.
type RTOR struct {
	Allowed        bool `yaml:"allowed"`
	BlankoutOutput int  `yaml:"blankout_special_function"`
}

// Webster holds a critical phase's design flows for the cycle rule.
type Webster struct {
	DesignVolumeVPH   float64 `yaml:"design_volume_vph"`
	SaturationFlowVPH float64 `yaml:"saturation_flow_vph"`
	LostTimeS         float64 `yaml:"lost_time_s"`
	// Observed, when set, lets the cameras' counts stand in for the design
	// volume: in the design hour (the clock hour in which the counted
	// groups, at least rules.min_observed_vehicles vehicles between them,
	// load the intersection most), the vehicles of the busiest of these
	// approaches making these movements (the critical lane group, whose
	// saturation flow saturation_flow_vph is).
	Observed *ObservedFlow `yaml:"observed"`
}

// ObservedFlow says which counted vehicles make a phase's lane groups:
// one per approach, of the movements named.
type ObservedFlow struct {
	Approaches []string `yaml:"approaches"` // NB, SB, EB, WB
	Movements  []string `yaml:"movements"`  // through, left, right
}

// counts reports whether a vehicle on approach a making movement m is in
// the group.
func (f *ObservedFlow) counts(a, m string) bool {
	return slices.Contains(f.Approaches, a) && slices.Contains(f.Movements, m)
}

// TODPlan is a time-of-day window the controller runs a pattern in.
type TODPlan struct {
	Name    string `yaml:"name"`
	Days    string `yaml:"days"`  // weekday, weekend, daily
	Start   string `yaml:"start"` // HH:MM local
	End     string `yaml:"end"`   // HH:MM local, exclusive; may wrap past midnight
	Pattern int    `yaml:"pattern"`
	// Action is the controller's time base action (timebaseAscActionTable
	// row) that runs this window's pattern; default: the window's position
	// in tod_plans, from 1.
	Action int `yaml:"action"`
}

// Defaults for zero-valued limits. MUTCD 4D.26 bounds yellow change to
// 3–6 s and red clearance to at most 6 s; FHWA bounds the LPI to 3–7 s.
var defaultMaxima = Maxima{WalkS: 30, PedClearanceS: 60, YellowS: 6, RedClearanceS: 6, CycleS: 180, SplitS: 120, LPIS: 7}

// defaultMaxStep bounds a single change so that no suggestion swings the
// timing far from what people are used to in one go.
var defaultMaxStep = Maxima{WalkS: 5, PedClearanceS: 10, YellowS: 1.5, RedClearanceS: 2, CycleS: 30, SplitS: 20, LPIS: 7}

var defaultRules = RuleConfig{
	LPIThresholdPer1000: 5, MinCrossingPeds: 200, MinConflicts: 5, MinSpeedSamples: 30,
	RTORShare: 0.5, CycleChangeMinS: 5, LookbackH: 24 * 28, WeatherValidityH: 6, SafetyValidityDays: 90,
	MinObservedVehicles: 100,
}

// LoadPlan reads and validates a timing plan YAML file.
func LoadPlan(path string) (*Plan, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading timing plan: %w", err)
	}
	p, err := ParsePlan(b)
	if err != nil {
		return nil, fmt.Errorf("timing plan %s: %w", path, err)
	}
	return p, nil
}

// ParsePlan decodes (unknown fields are errors: a misspelt limit must not
// silently fall back to a default) and validates a timing plan.
func ParsePlan(b []byte) (*Plan, error) {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var p Plan
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("decoding YAML: %w", err)
	}
	p.fillDefaults()
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return &p, nil
}

func fill(v *float64, d float64) {
	if *v == 0 {
		*v = d
	}
}

func fillMaxima(m *Maxima, d Maxima) {
	fill(&m.WalkS, d.WalkS)
	fill(&m.PedClearanceS, d.PedClearanceS)
	fill(&m.YellowS, d.YellowS)
	fill(&m.RedClearanceS, d.RedClearanceS)
	fill(&m.CycleS, d.CycleS)
	fill(&m.SplitS, d.SplitS)
	fill(&m.LPIS, d.LPIS)
}

func (p *Plan) fillDefaults() {
	for i := range p.TODPlans {
		if p.TODPlans[i].Action == 0 {
			p.TODPlans[i].Action = i + 1
		}
	}
	fillMaxima(&p.Maxima, defaultMaxima)
	fillMaxima(&p.MaxStep, defaultMaxStep)
	r, d := &p.Rules, defaultRules
	fill(&r.LPIThresholdPer1000, d.LPIThresholdPer1000)
	fill(&r.RTORShare, d.RTORShare)
	fill(&r.CycleChangeMinS, d.CycleChangeMinS)
	fill(&r.LookbackH, d.LookbackH)
	fill(&r.WeatherValidityH, d.WeatherValidityH)
	fill(&r.SafetyValidityDays, d.SafetyValidityDays)
	if r.MinCrossingPeds == 0 {
		r.MinCrossingPeds = d.MinCrossingPeds
	}
	if r.MinConflicts == 0 {
		r.MinConflicts = d.MinConflicts
	}
	if r.MinObservedVehicles == 0 {
		r.MinObservedVehicles = d.MinObservedVehicles
	}
	if r.MinSpeedSamples == 0 {
		r.MinSpeedSamples = d.MinSpeedSamples
	}
	if p.Pattern == 0 {
		p.Pattern = 1
	}
	if p.SplitTable == 0 {
		p.SplitTable = 1
	}
	for i := range p.Phases {
		if p.Phases[i].VehLengthM == 0 {
			p.Phases[i].VehLengthM = 6.1
		}
	}
}

// fieldErrs collects validation errors named by field path.
type fieldErrs []error

func (e *fieldErrs) add(path, format string, a ...any) {
	*e = append(*e, fmt.Errorf("%s: %s", path, fmt.Sprintf(format, a...)))
}

func (e *fieldErrs) positive(path string, v float64) {
	if !(v > 0) || math.IsInf(v, 0) {
		e.add(path, "must be > 0 (got %v)", v)
	}
}

func (e *fieldErrs) nonNeg(path string, v float64) {
	if !(v >= 0) || math.IsInf(v, 0) {
		e.add(path, "must be >= 0 (got %v)", v)
	}
}

// Validate reports every problem in the plan, each naming its field path
// (phases[2].crosswalk.crossing_length_m: must be > 0). It checks that the
// plan's own current values sit inside its envelope, because every bound
// the advisor enforces is relative to them.
func (p *Plan) Validate() error {
	var e fieldErrs
	if !events.ValidID(p.Site) {
		e.add("site", "%q must match [a-z0-9-]+", p.Site)
	}
	if !events.ValidID(p.Controller) {
		e.add("controller", "%q must match [a-z0-9-]+", p.Controller)
	}
	if p.TimeZone == "" {
		e.add("time_zone", "is required (IANA name, e.g. America/Denver)")
	} else if loc, err := time.LoadLocation(p.TimeZone); err != nil {
		e.add("time_zone", "unknown IANA time zone %q", p.TimeZone)
	} else {
		p.loc = loc
	}
	e.positive("cycle_s", p.CycleS)
	e.nonNeg("offset_s", p.OffsetS)
	if p.OffsetS >= p.CycleS && p.CycleS > 0 {
		e.add("offset_s", "%v must be less than cycle_s %v", p.OffsetS, p.CycleS)
	}
	if p.Pattern < 1 || p.Pattern > 255 {
		e.add("pattern", "%d out of range 1..255", p.Pattern)
	}
	if p.SplitTable < 1 || p.SplitTable > 255 {
		e.add("split_table", "%d out of range 1..255", p.SplitTable)
	}
	for _, m := range []struct {
		name string
		v    Maxima
	}{{"maxima", p.Maxima}, {"max_step", p.MaxStep}} {
		e.positive(m.name+".walk_s", m.v.WalkS)
		e.positive(m.name+".ped_clearance_s", m.v.PedClearanceS)
		e.positive(m.name+".yellow_s", m.v.YellowS)
		e.positive(m.name+".red_clearance_s", m.v.RedClearanceS)
		e.positive(m.name+".cycle_s", m.v.CycleS)
		e.positive(m.name+".split_s", m.v.SplitS)
		e.positive(m.name+".lpi_s", m.v.LPIS)
	}
	if p.Maxima.YellowS > MaxYellowS {
		e.add("maxima.yellow_s", "%v exceeds the MUTCD maximum of %v s", p.Maxima.YellowS, MaxYellowS)
	}
	if p.Maxima.RedClearanceS > MaxRedClearanceS {
		e.add("maxima.red_clearance_s", "%v exceeds the MUTCD maximum of %v s", p.Maxima.RedClearanceS, MaxRedClearanceS)
	}
	if p.Maxima.LPIS < MinLPIS || p.Maxima.LPIS > MaxLPIS {
		e.add("maxima.lpi_s", "%v outside the FHWA range %v..%v s", p.Maxima.LPIS, MinLPIS, MaxLPIS)
	}
	if p.Maxima.CycleS > 255 {
		e.add("maxima.cycle_s", "%v exceeds 255 s, the largest patternCycleTime NTCIP 1202 v02 can hold", p.Maxima.CycleS)
	}
	if p.CycleS > p.Maxima.CycleS {
		e.add("cycle_s", "%v exceeds maxima.cycle_s %v", p.CycleS, p.Maxima.CycleS)
	}
	r := p.Rules
	e.positive("rules.lpi_threshold_per_1000_peds", r.LPIThresholdPer1000)
	if r.MinCrossingPeds < 1 {
		e.add("rules.min_crossing_pedestrians", "must be >= 1")
	}
	if r.MinConflicts < 1 {
		e.add("rules.min_conflicts", "must be >= 1")
	}
	if r.MinObservedVehicles < 1 {
		e.add("rules.min_observed_vehicles", "must be >= 1")
	}
	if r.MinSpeedSamples < 1 {
		e.add("rules.min_walking_speed_samples", "must be >= 1")
	}
	if !(r.RTORShare > 0 && r.RTORShare <= 1) {
		e.add("rules.rtor_share", "must be in (0, 1] (got %v)", r.RTORShare)
	}
	e.positive("rules.cycle_change_min_s", r.CycleChangeMinS)
	e.positive("rules.lookback_h", r.LookbackH)
	e.positive("rules.weather_validity_h", r.WeatherValidityH)
	e.positive("rules.safety_validity_days", r.SafetyValidityDays)
	if p.LPI.Supported {
		if p.LPI.Object == "" {
			e.add("lpi.object", "is required when lpi.supported (NTCIP 1202 v02 has no standard LPI object; name your controller's)")
		}
		if !validOID(p.LPI.OIDBase) {
			e.add("lpi.oid_base", "%q is not a dotted numeric OID", p.LPI.OIDBase)
		}
		if p.LPI.CurrentS != 0 && (p.LPI.CurrentS < MinLPIS || p.LPI.CurrentS > p.Maxima.LPIS) {
			e.add("lpi.current_s", "%v must be 0 (none) or within %v..%v s", p.LPI.CurrentS, MinLPIS, p.Maxima.LPIS)
		}
	} else if p.LPI.CurrentS != 0 {
		e.add("lpi.current_s", "set but lpi.supported is false")
	}
	if len(p.Phases) == 0 {
		e.add("phases", "at least one phase is required")
	}
	seen := map[int]bool{}
	blankouts := map[int]int{}
	crosswalks := map[string]int{}
	approaches := map[string]int{}
	splitSum := 0.0
	for i := range p.Phases {
		ph := &p.Phases[i]
		path := fmt.Sprintf("phases[%d]", i)
		if ph.Number < 1 || ph.Number > 40 {
			e.add(path+".number", "%d out of range 1..40", ph.Number)
		} else if seen[ph.Number] {
			e.add(path+".number", "phase %d appears twice", ph.Number)
		}
		seen[ph.Number] = true
		if len(ph.Approaches) == 0 {
			e.add(path+".approaches", "at least one of NB, SB, EB, WB is required")
		}
		for j, a := range ph.Approaches {
			switch a {
			case "NB", "SB", "EB", "WB":
				for _, m := range ph.Movements {
					if k, dup := approaches[a+" "+m]; dup {
						e.add(fmt.Sprintf("%s.approaches[%d]", path, j), "%s %s is already served by phases[%d]", a, m, k)
					}
					approaches[a+" "+m] = i
				}
			default:
				e.add(fmt.Sprintf("%s.approaches[%d]", path, j), "%q must be NB, SB, EB or WB", a)
			}
		}
		if len(ph.Movements) == 0 {
			e.add(path+".movements", "at least one of through, right, left is required")
		}
		for j, m := range ph.Movements {
			if m != "through" && m != "right" && m != "left" {
				e.add(fmt.Sprintf("%s.movements[%d]", path, j), "%q must be through, right or left", m)
			}
		}
		switch {
		case ph.SpeedKPH != 0 && ph.SpeedMPH != 0:
			e.add(path+".approach_speed_kph", "give approach_speed_kph or approach_speed_mph, not both")
		case ph.SpeedKPH == 0 && ph.SpeedMPH == 0:
			e.add(path+".approach_speed_kph", "is required (or approach_speed_mph)")
		default:
			e.positive(path+".approach_speed_kph", ph.SpeedMPS())
		}
		if math.Abs(ph.GradePct) > 15 || math.IsNaN(ph.GradePct) {
			e.add(path+".grade_pct", "%v outside -15..15 %%", ph.GradePct)
		}
		e.positive(path+".intersection_width_m", ph.WidthM)
		e.positive(path+".vehicle_length_m", ph.VehLengthM)
		e.positive(path+".min_green_s", ph.MinGreenS)
		if ph.YellowS < MinYellowS || ph.YellowS > p.Maxima.YellowS {
			e.add(path+".yellow_s", "%v outside %v..%v s (MUTCD 4D.26 / maxima.yellow_s)", ph.YellowS, MinYellowS, p.Maxima.YellowS)
		}
		if ph.RedClearanceS < 0 || ph.RedClearanceS > p.Maxima.RedClearanceS {
			e.add(path+".red_clearance_s", "%v outside 0..%v s", ph.RedClearanceS, p.Maxima.RedClearanceS)
		}
		e.positive(path+".split_s", ph.SplitS)
		if ph.SplitS > p.Maxima.SplitS {
			e.add(path+".split_s", "%v exceeds maxima.split_s %v", ph.SplitS, p.Maxima.SplitS)
		}
		if min := ph.MinGreenS + ph.YellowS + ph.RedClearanceS; ph.SplitS < min {
			e.add(path+".split_s", "%v is shorter than min green + yellow + red clearance (%v)", ph.SplitS, min)
		}
		for j, cw := range ph.Crosswalks {
			cp := fmt.Sprintf("%s.crosswalks[%d]", path, j)
			if !events.ValidID(cw.Name) {
				e.add(cp+".name", "%q must match [a-z0-9-]+ (the zone name near misses carry)", cw.Name)
			} else if k, dup := crosswalks[cw.Name]; dup {
				e.add(cp+".name", "%q is already used by phases[%d]", cw.Name, k)
			}
			crosswalks[cw.Name] = i
			e.positive(cp+".crossing_length_m", cw.LengthM)
		}
		if L := ph.CrossingLengthM(); L > 0 {
			if ph.WalkS < MinWalk(ph.ShortWalkAllowed) {
				e.add(path+".walk_s", "%v is below the MUTCD minimum of %v s", ph.WalkS, MinWalk(ph.ShortWalkAllowed))
			}
			if ph.WalkS > p.Maxima.WalkS {
				e.add(path+".walk_s", "%v exceeds maxima.walk_s %v", ph.WalkS, p.Maxima.WalkS)
			}
			if need := ceilSecond(PedClearanceS(L, MUTCDWalkSpeedMPS)); ph.PedClearanceS < need {
				e.add(path+".ped_clearance_s", "%v is below the MUTCD minimum %v s for the %v m crossing at 1.07 m/s", ph.PedClearanceS, need, L)
			}
			if ph.PedClearanceS > p.Maxima.PedClearanceS {
				e.add(path+".ped_clearance_s", "%v exceeds maxima.ped_clearance_s %v", ph.PedClearanceS, p.Maxima.PedClearanceS)
			}
			if need := WalkPlusClearanceMinS(L); ph.WalkS+ph.PedClearanceS < need-1e-9 {
				e.add(path+".walk_s", "walk + ped clearance %v is below the MUTCD minimum %.1f s ((length + 1.8 m) / 0.91 m/s)", ph.WalkS+ph.PedClearanceS, need)
			}
			if min := p.LPI.CurrentS + ph.WalkS + ph.PedClearanceS + ph.YellowS + ph.RedClearanceS; ph.SplitS < min-1e-9 {
				e.add(path+".split_s", "%v is shorter than LPI + walk + ped clearance + yellow + red clearance (%v)", ph.SplitS, min)
			}
		} else if ph.WalkS != 0 || ph.PedClearanceS != 0 {
			e.add(path+".walk_s", "walk/ped clearance set but the phase has no crosswalks")
		}
		if ph.RTOR != nil && ph.RTOR.Allowed {
			if !ph.Has("right") {
				e.add(path+".rtor", "right turn on red allowed but the phase has no right movement")
			}
			if n := ph.RTOR.BlankoutOutput; n < 1 || n > 255 {
				e.add(path+".rtor.blankout_special_function", "%d out of range 1..255", n)
			} else if j, dup := blankouts[n]; dup {
				e.add(path+".rtor.blankout_special_function", "%d is already used by phases[%d]", n, j)
			} else {
				blankouts[n] = i
			}
		}
		if w := ph.Webster; w != nil {
			wp := path + ".webster"
			e.positive(wp+".design_volume_vph", w.DesignVolumeVPH)
			e.positive(wp+".saturation_flow_vph", w.SaturationFlowVPH)
			e.positive(wp+".lost_time_s", w.LostTimeS)
			if w.DesignVolumeVPH >= w.SaturationFlowVPH && w.SaturationFlowVPH > 0 {
				e.add(wp+".design_volume_vph", "%v must be below saturation_flow_vph %v", w.DesignVolumeVPH, w.SaturationFlowVPH)
			}
			if o := w.Observed; o != nil {
				op := wp + ".observed"
				if len(o.Approaches) == 0 {
					e.add(op+".approaches", "name at least one of NB, SB, EB, WB")
				}
				for j, a := range o.Approaches {
					if !slices.Contains([]string{"NB", "SB", "EB", "WB"}, a) {
						e.add(fmt.Sprintf("%s.approaches[%d]", op, j), "%q is not one of NB, SB, EB, WB", a)
					}
				}
				if len(o.Movements) == 0 {
					e.add(op+".movements", "name at least one of through, left, right")
				}
				for j, m := range o.Movements {
					if !slices.Contains([]string{"through", "left", "right"}, m) {
						e.add(fmt.Sprintf("%s.movements[%d]", op, j), "%q is not one of through, left, right", m)
					}
				}
			}
		}
		splitSum += ph.SplitS
	}
	if len(p.Phases) > 0 && math.Abs(splitSum-p.CycleS) > 0.5 {
		e.add("phases", "splits sum to %v s, not cycle_s %v (phases run in one ring, in order)", splitSum, p.CycleS)
	}
	names := map[string]bool{}
	actions := map[int]bool{}
	for i, t := range p.TODPlans {
		path := fmt.Sprintf("tod_plans[%d]", i)
		if !events.ValidID(t.Name) {
			e.add(path+".name", "%q must match [a-z0-9-]+", t.Name)
		} else if names[t.Name] {
			e.add(path+".name", "%q appears twice", t.Name)
		}
		names[t.Name] = true
		switch t.Days {
		case "weekday", "weekend", "daily":
		default:
			e.add(path+".days", "%q must be weekday, weekend or daily", t.Days)
		}
		if _, err := parseClock(t.Start); err != nil {
			e.add(path+".start", "%v", err)
		}
		if _, err := parseClock(t.End); err != nil {
			e.add(path+".end", "%v", err)
		}
		if t.Start == t.End {
			e.add(path+".end", "window %s-%s is empty", t.Start, t.End)
		}
		if t.Pattern < 1 || t.Pattern > 255 {
			e.add(path+".pattern", "%d out of range 1..255", t.Pattern)
		}
		if t.Action < 1 || t.Action > 255 {
			e.add(path+".action", "%d out of range 1..255", t.Action)
		} else if actions[t.Action] {
			e.add(path+".action", "time base action %d is used by two windows", t.Action)
		}
		actions[t.Action] = true
	}
	return errors.Join(e...)
}

// validOID reports whether s is a dotted numeric OID.
func validOID(s string) bool {
	if s == "" {
		return false
	}
	for _, part := range strings.Split(s, ".") {
		if part == "" {
			return false
		}
		for _, r := range part {
			if r < '0' || r > '9' {
				return false
			}
		}
	}
	return true
}

// parseClock parses HH:MM into minutes after midnight.
func parseClock(s string) (int, error) {
	t, err := time.Parse("15:04", s)
	if err != nil {
		return 0, fmt.Errorf("%q is not HH:MM", s)
	}
	return t.Hour()*60 + t.Minute(), nil
}

// SpeedMPS is the approach (design) speed in metres per second.
func (ph *Phase) SpeedMPS() float64 {
	if ph.SpeedMPH != 0 {
		return ph.SpeedMPH * mphToMPS
	}
	return ph.SpeedKPH / 3.6
}

// Has reports whether the phase serves movement m.
func (ph *Phase) Has(m string) bool {
	for _, x := range ph.Movements {
		if x == m {
			return true
		}
	}
	return false
}

// CrossingLengthM is the longest of the phase's crosswalks (0 without any):
// pedestrian timing must serve the longest crossing.
func (ph *Phase) CrossingLengthM() float64 {
	l := 0.0
	for _, c := range ph.Crosswalks {
		l = math.Max(l, c.LengthM)
	}
	return l
}

// Serves reports whether the phase serves vehicles from approach a.
func (ph *Phase) Serves(a string) bool {
	for _, x := range ph.Approaches {
		if x == a {
			return true
		}
	}
	return false
}

// HasCrosswalk reports whether crosswalk zone z walks with this phase.
func (ph *Phase) HasCrosswalk(z string) bool {
	for _, c := range ph.Crosswalks {
		if c.Name == z {
			return true
		}
	}
	return false
}

// Phase returns the phase numbered n, or nil.
func (p *Plan) Phase(n int) *Phase {
	for i := range p.Phases {
		if p.Phases[i].Number == n {
			return &p.Phases[i]
		}
	}
	return nil
}

// Location is the plan's time zone.
func (p *Plan) Location() *time.Location {
	if p.loc == nil {
		return time.UTC
	}
	return p.loc
}

// contains reports whether local time t falls in the TOD window.
func (t TODPlan) contains(local time.Time) bool {
	wd := local.Weekday()
	weekend := wd == time.Saturday || wd == time.Sunday
	switch t.Days {
	case "weekday":
		if weekend {
			return false
		}
	case "weekend":
		if !weekend {
			return false
		}
	}
	start, _ := parseClock(t.Start)
	end, _ := parseClock(t.End)
	m := local.Hour()*60 + local.Minute()
	if start < end {
		return m >= start && m < end
	}
	return m >= start || m < end // wraps past midnight
}

// Window describes the TOD window in words, e.g.
// "weekday 07:00-09:00 America/Denver".
func (p *Plan) window(t TODPlan) string {
	return fmt.Sprintf("%s %s-%s %s", t.Days, t.Start, t.End, p.TimeZone)
}

// ActiveTOD returns the TOD plan in force at t (the first matching window in
// file order), or false when none is (the base pattern runs).
func (p *Plan) ActiveTOD(t time.Time) (TODPlan, bool) {
	local := t.In(p.Location())
	for _, tp := range p.TODPlans {
		if tp.contains(local) {
			return tp, true
		}
	}
	return TODPlan{}, false
}
