package signals

import (
	"fmt"
	"math"

	"github.com/intersect-oss/intersect/events"
)

// Constants of the textbook formulas, with their sources.
const (
	// MUTCDWalkSpeedMPS is the walking speed for pedestrian clearance:
	// 3.5 ft/s (MUTCD 2009 Section 4E.06, paragraph 07).
	MUTCDWalkSpeedMPS = 1.07
	// MUTCDTotalWalkSpeedMPS is the speed for walk + clearance, measured
	// from 6 ft (1.8 m) behind the curb: 3.0 ft/s (MUTCD 4E.06, par. 08).
	MUTCDTotalWalkSpeedMPS = 0.91
	// MUTCDPushbuttonSetbackM is the 6 ft that par. 08 adds to the crossing.
	MUTCDPushbuttonSetbackM = 1.8
	// MinWalkS is the MUTCD walk minimum (4E.06 par. 14); MinShortWalkS
	// applies where pedestrian volumes and characteristics do not need 7 s.
	MinWalkS      = 7.0
	MinShortWalkS = 4.0
	// MinYellowS and MaxYellowS: MUTCD 4D.26 (yellow change 3 to 6 s).
	MinYellowS = 3.0
	MaxYellowS = 6.0
	// MaxRedClearanceS: MUTCD 4D.26 (red clearance should not exceed 6 s).
	MaxRedClearanceS = 6.0
	// MinLPIS and MaxLPIS: FHWA Proven Safety Countermeasures, Leading
	// Pedestrian Interval (3 to 7 s).
	MinLPIS = 3.0
	MaxLPIS = 7.0
	// ITEPerceptionS and ITEDecelMPS2 are the ITE kinematic yellow inputs
	// (ITE, Guidelines for Determining Traffic Signal Change and Clearance
	// Intervals, 2020): t = 1 s, a = 10 ft/s².
	ITEPerceptionS = 1.0
	ITEDecelMPS2   = 3.05
	gravityMPS2    = 9.81
	mphToMPS       = 0.44704
	// laneWidthM is the lane a pedestrian should have crossed before
	// turning vehicles get green; used to size an LPI.
	laneWidthM = 3.6
)

// MinWalk is the MUTCD minimum walk interval.
func MinWalk(shortAllowed bool) float64 {
	if shortAllowed {
		return MinShortWalkS
	}
	return MinWalkS
}

// PedClearanceS is the pedestrian clearance time for a crossing of lengthM at
// speedMPS: length / speed (MUTCD 4E.06).
func PedClearanceS(lengthM, speedMPS float64) float64 { return lengthM / speedMPS }

// WalkPlusClearanceMinS is the MUTCD minimum of walk + pedestrian clearance:
// (length + 1.8 m) / 0.91 m/s (MUTCD 4E.06 par. 08).
func WalkPlusClearanceMinS(lengthM float64) float64 {
	return (lengthM + MUTCDPushbuttonSetbackM) / MUTCDTotalWalkSpeedMPS
}

// YellowS is the ITE kinematic yellow change interval
// t + v / (2a + 2Gg), with grade as a fraction (+ uphill).
func YellowS(speedMPS, decelMPS2, grade float64) float64 {
	return ITEPerceptionS + speedMPS/(2*decelMPS2+2*grade*gravityMPS2)
}

// RedClearanceS is the ITE red clearance interval (W + L) / v.
func RedClearanceS(widthM, vehLengthM, speedMPS float64) float64 {
	return (widthM + vehLengthM) / speedMPS
}

// WebsterCycleS is Webster's optimum cycle C₀ = (1.5 L + 5) / (1 − Y) for
// total lost time L and the sum of critical flow ratios Y (Webster, Road
// Research Technical Paper 39, 1958). It fails when Y ≥ 1: the intersection
// is over capacity and no cycle serves it.
func WebsterCycleS(lostS, flowRatioSum float64) (float64, error) {
	if flowRatioSum >= 1 {
		return 0, fmt.Errorf("sum of critical flow ratios Y = %.3f ≥ 1: over capacity, no Webster cycle", flowRatioSum)
	}
	if flowRatioSum < 0 || lostS < 0 {
		return 0, fmt.Errorf("Webster inputs must not be negative (L = %v, Y = %v)", lostS, flowRatioSum)
	}
	return (1.5*lostS + 5) / (1 - flowRatioSum), nil
}

// WebsterSplitsS shares the cycle's effective green (C − L) among critical
// phases in proportion to their flow ratios and adds each phase's lost time
// back, so the splits sum to the cycle.
func WebsterSplitsS(cycleS float64, ratios, lostS []float64) []float64 {
	var y, l float64
	for i := range ratios {
		y += ratios[i]
		l += lostS[i]
	}
	out := make([]float64, len(ratios))
	for i := range ratios {
		out[i] = (cycleS-l)*ratios[i]/y + lostS[i]
	}
	return out
}

// WeatherFactors are what a road-weather condition does to the timing
// inputs.
type WeatherFactors struct {
	SpeedFactor   float64 // multiplies the design approach speed
	DecelMPS2     float64 // comfortable deceleration for the yellow
	SatFlowFactor float64 // multiplies the saturation flow
	Source        string
}

// Factors returns the weather factors for condition c. The values are
// chosen inside the ranges the sources report, and stay conservative for
// clearance (lower deceleration lengthens yellow even as speed drops):
//
//   - dry: ITE defaults.
//   - wet: speed −10 % (FHWA Road Weather Management, "How do weather events
//     impact roads": arterial speeds fall 10–25 % on wet pavement);
//     deceleration 2.44 m/s² (8 ft/s², ITE 2020 notes lower comfortable
//     deceleration on wet pavement); saturation flow −14 %, the upper end
//     of the rain effect in the HCM (Chapter 19 / Agbolosu-Amison et al.
//     2004: 2–14 %).
//   - snow: speed −30 % (Perrin, Martin & Hansen 2001, TRR 1748, Utah:
//     ~30 % in snow; FHWA: 30–40 % on snowy/slushy pavement); deceleration
//     1.96 m/s² (0.2 g, packed-snow friction); saturation flow −20 %
//     (slush, Perrin et al. 2001; FHWA: capacity −12 to −27 % in snow).
//   - ice: speed −40 % (FHWA upper bound for snowy/slushy pavement);
//     deceleration 1.47 m/s² (0.15 g); saturation flow −20 % (no separate
//     figure; at least slush).
//   - fog: speed −10 % (FHWA: 10–12 % in low visibility); dry-pavement
//     deceleration; saturation flow −10 % (FHWA: capacity −12 % in low
//     visibility, rounded down).
//
// They are suggestions' inputs, not laws: the rationale of every weather
// recommendation states them so an engineer can disagree.
func Factors(c events.Condition) WeatherFactors {
	switch c {
	case events.Wet:
		return WeatherFactors{0.90, 2.44, 0.86, "FHWA Road Weather Management (wet: speed −10 to −25 %); ITE 2020 (a = 8 ft/s² wet); HCM rain saturation flow −2 to −14 %"}
	case events.Snow:
		return WeatherFactors{0.70, 1.96, 0.80, "Perrin, Martin & Hansen 2001, TRR 1748 (snow: speed −30 %, slush saturation flow −20 %); a = 0.2 g packed snow"}
	case events.Ice:
		return WeatherFactors{0.60, 1.47, 0.80, "FHWA Road Weather Management (snowy/slushy: speed −30 to −40 %); a = 0.15 g ice; saturation flow as slush (Perrin et al. 2001)"}
	case events.Fog:
		return WeatherFactors{0.90, ITEDecelMPS2, 0.90, "FHWA Road Weather Management (low visibility: speed −10 to −12 %, capacity −12 %)"}
	}
	return WeatherFactors{1, ITEDecelMPS2, 1, "ITE 2020 kinematic defaults (dry)"}
}

// ceilTenth rounds seconds up to the next tenth (the NTCIP resolution of
// yellow and red clearance). The small epsilon keeps 3.6000000001 at 3.6.
func ceilTenth(s float64) float64 { return math.Ceil(s*10-1e-6) / 10 }

// ceilSecond rounds seconds up to a whole second (walk, ped clearance).
func ceilSecond(s float64) float64 { return math.Ceil(s - 1e-6) }
