package conflict

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"

	"gopkg.in/yaml.v3"

	"github.com/intersect-oss/intersect/events"
	"github.com/intersect-oss/intersect/tracker"
)

// ZoneKind says what a zone is for conflict typing.
type ZoneKind string

const (
	ZoneCrosswalk ZoneKind = "crosswalk"
	ZoneApproachN ZoneKind = "approach-nb" // vehicles entering northbound
	ZoneApproachS ZoneKind = "approach-sb"
	ZoneApproachE ZoneKind = "approach-eb"
	ZoneApproachW ZoneKind = "approach-wb"
	ZoneExclusion ZoneKind = "exclusion" // conflicts located here are not reported (parking, driveways)
)

// Zone is a named polygon on the ground plane, in metres.
type Zone struct {
	Name    string   `yaml:"name"`
	Kind    ZoneKind `yaml:"kind"`
	Polygon Polygon  `yaml:"polygon"`
}

// Config holds every threshold of the engine. DefaultConfig gives DESIGN.md's
// values; raw measures are always kept, thresholds only decide what is
// reported and how it is graded.
type Config struct {
	HorizonS         float64 `yaml:"horizon_s"`          // TTC prediction horizon
	NearMissTTCS     float64 `yaml:"near_miss_ttc_s"`    // TTC at or below: near miss
	NearMissPETS     float64 `yaml:"near_miss_pet_s"`    // PET at or below: near miss
	InteractionPETS  float64 `yaml:"interaction_pet_s"`  // PET at or below: reported as an interaction
	DRACFlagMPS2     float64 `yaml:"drac_flag_mps2"`     // DRAC at or above is flagged
	CriticalS        float64 `yaml:"critical_s"`         // TTC or PET at or below: critical
	SeriousS         float64 `yaml:"serious_s"`          // TTC or PET at or below: serious
	MinTrackFrames   int     `yaml:"min_track_frames"`   // younger tracks make no conflicts
	SearchRadiusM    float64 `yaml:"search_radius_m"`    // pairs farther apart (centres) get no TTC
	CloseAfterS      float64 `yaml:"close_after_s"`      // an encounter closes after this long without activity
	MinPathAngleDeg  float64 `yaml:"min_path_angle_deg"` // paths crossing at a shallower angle get no PET
	IncludePedPed    bool    `yaml:"include_ped_ped"`    // pedestrian–pedestrian pairs (off: they are not traffic conflicts)
	MinMovingMPS     float64 `yaml:"min_moving_mps"`     // TTC needs a non-pedestrian user moving at least this fast
	TurnThresholdDeg float64 `yaml:"turn_threshold_deg"` // heading change beyond which a vehicle turned
	AccelWindowS     float64 `yaml:"accel_window_s"`     // acceleration is measured over this window (filters jitter)
	PathCellM        float64 `yaml:"path_cell_m"`        // grid cell of the path index that finds crossing paths
	HistoryS         float64 `yaml:"history_s"`          // path history kept per track
	// A vehicle's movement (right, left, through) is judged once it has
	// finished the manoeuvre, not when the encounter closes: a car stopped
	// for a red light has not turned yet when the pedestrian in front of
	// it has passed. Vehicle–VRU encounters are held until the vehicle is
	// TypeClearM from the conflict point, its track ends (unseen for
	// close_after_s), or TypeMaxWaitS after closing. 0 s: no holding.
	TypeClearM   float64                         `yaml:"type_clear_m"`
	TypeMaxWaitS float64                         `yaml:"type_max_wait_s"`
	MaxSpeedMPS  map[events.Class]float64        `yaml:"max_speed_mps"`
	MaxAccelMPS2 map[events.Class]float64        `yaml:"max_accel_mps2"`
	Extents      map[events.Class]tracker.Extent `yaml:"extents"`
	Zones        []Zone                          `yaml:"zones"`
}

// DefaultConfig returns DESIGN.md's defaults.
func DefaultConfig() Config {
	return Config{
		HorizonS:        10,
		NearMissTTCS:    1.5,
		NearMissPETS:    2.0,
		InteractionPETS: 5.0,
		DRACFlagMPS2:    3.0,
		CriticalS:       0.5,
		SeriousS:        1.0,
		MinTrackFrames:  10,
		SearchRadiusM:   30,
		CloseAfterS:     1.0,
		MinPathAngleDeg: 20,
		// A pedestrian walking up to a parked car is not a conflict: the car
		// cannot threaten and the pedestrian walks around it (on DUT this
		// rule removes "TTC 0" pairs of pedestrians brushing a parked car).
		MinMovingMPS:     0.5,
		TurnThresholdDeg: 30,
		AccelWindowS:     0.5,
		PathCellM:        2,
		HistoryS:         25, // covers type_max_wait_s + close_after_s + interaction_pet_s
		// 10 m past the conflict point a turning car has finished its
		// turn (a right turn's arc is ~8 m). A car turning right on red
		// may wait out a walker and the cross traffic first: on the twin
		// one waits 11 s, and judged at 8 s its right turn was typed
		// as going straight.
		TypeClearM:   10,
		TypeMaxWaitS: 15,
		// Beyond these a track is a tracking error, not a road user: a
		// sprinting adult tops out near 10 m/s, a car on an urban
		// intersection well under 40 m/s; braking above ~1.2 g is not real;
		// a pedestrian's speed changes by under ~4 m/s² over half a second
		// even breaking into a run (a walker's track swinging faster is two
		// walkers merged into one blob: on the twin one such swing made a
		// false pedestrian–cyclist near miss).
		MaxSpeedMPS: map[events.Class]float64{
			events.Pedestrian: 10, events.Bicycle: 20, events.Motorcycle: 50,
			events.Car: 50, events.Bus: 35, events.Truck: 35,
		},
		MaxAccelMPS2: map[events.Class]float64{
			events.Pedestrian: 4.5, events.Bicycle: 8, events.Motorcycle: 12,
			events.Car: 12, events.Bus: 8, events.Truck: 8,
		},
		Extents: tracker.DefaultExtents(),
	}
}

// ParseConfig reads a YAML config: fields present override DefaultConfig,
// unknown fields are errors (a typo must not silently keep a default).
func ParseConfig(data []byte) (Config, error) {
	cfg := DefaultConfig()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) { // empty file: all defaults
		return Config{}, fmt.Errorf("conflict config: %w", err)
	}
	// A class map in the file may name only some classes; the others keep
	// their defaults.
	def := DefaultConfig()
	if cfg.MaxSpeedMPS == nil {
		cfg.MaxSpeedMPS = map[events.Class]float64{}
	}
	if cfg.MaxAccelMPS2 == nil {
		cfg.MaxAccelMPS2 = map[events.Class]float64{}
	}
	if cfg.Extents == nil {
		cfg.Extents = map[events.Class]tracker.Extent{}
	}
	for _, c := range events.Classes {
		if _, ok := cfg.MaxSpeedMPS[c]; !ok {
			cfg.MaxSpeedMPS[c] = def.MaxSpeedMPS[c]
		}
		if _, ok := cfg.MaxAccelMPS2[c]; !ok {
			cfg.MaxAccelMPS2[c] = def.MaxAccelMPS2[c]
		}
		if _, ok := cfg.Extents[c]; !ok {
			cfg.Extents[c] = def.Extents[c]
		}
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// Validate reports every field that would make the engine misbehave.
func (c Config) Validate() error {
	var errs []error
	pos := func(name string, v float64) {
		if !(v > 0) || math.IsInf(v, 0) {
			errs = append(errs, fmt.Errorf("%s must be a positive number, got %v", name, v))
		}
	}
	pos("horizon_s", c.HorizonS)
	pos("near_miss_ttc_s", c.NearMissTTCS)
	pos("near_miss_pet_s", c.NearMissPETS)
	pos("interaction_pet_s", c.InteractionPETS)
	pos("drac_flag_mps2", c.DRACFlagMPS2)
	pos("critical_s", c.CriticalS)
	pos("serious_s", c.SeriousS)
	pos("search_radius_m", c.SearchRadiusM)
	pos("close_after_s", c.CloseAfterS)
	pos("turn_threshold_deg", c.TurnThresholdDeg)
	pos("accel_window_s", c.AccelWindowS)
	pos("path_cell_m", c.PathCellM)
	pos("history_s", c.HistoryS)
	if c.MinMovingMPS < 0 {
		errs = append(errs, fmt.Errorf("min_moving_mps must not be negative, got %v", c.MinMovingMPS))
	}
	if !(c.TypeClearM >= 0) || math.IsInf(c.TypeClearM, 0) {
		errs = append(errs, fmt.Errorf("type_clear_m must be a non-negative number, got %v", c.TypeClearM))
	}
	if !(c.TypeMaxWaitS >= 0) || math.IsInf(c.TypeMaxWaitS, 0) {
		errs = append(errs, fmt.Errorf("type_max_wait_s must be a non-negative number, got %v", c.TypeMaxWaitS))
	}
	if c.HistoryS < c.TypeMaxWaitS+c.CloseAfterS+c.InteractionPETS {
		errs = append(errs, fmt.Errorf("history_s %v must cover type_max_wait_s + close_after_s + interaction_pet_s (%v): the vehicle's approach must still be in its history when its movement is judged",
			c.HistoryS, c.TypeMaxWaitS+c.CloseAfterS+c.InteractionPETS))
	}
	if c.MinTrackFrames < 0 {
		errs = append(errs, fmt.Errorf("min_track_frames must not be negative, got %d", c.MinTrackFrames))
	}
	if c.NearMissTTCS > c.HorizonS {
		errs = append(errs, fmt.Errorf("near_miss_ttc_s %v exceeds horizon_s %v", c.NearMissTTCS, c.HorizonS))
	}
	if c.InteractionPETS < c.NearMissPETS {
		errs = append(errs, fmt.Errorf("interaction_pet_s %v is below near_miss_pet_s %v", c.InteractionPETS, c.NearMissPETS))
	}
	if c.CriticalS > c.SeriousS {
		errs = append(errs, fmt.Errorf("critical_s %v exceeds serious_s %v", c.CriticalS, c.SeriousS))
	}
	if c.HistoryS < c.InteractionPETS+c.CloseAfterS {
		errs = append(errs, fmt.Errorf("history_s %v must cover interaction_pet_s + close_after_s (%v)", c.HistoryS, c.InteractionPETS+c.CloseAfterS))
	}
	for _, cl := range events.Classes {
		if v, ok := c.MaxSpeedMPS[cl]; !ok || !(v > 0) {
			errs = append(errs, fmt.Errorf("max_speed_mps[%s] must be positive", cl))
		}
		if v, ok := c.MaxAccelMPS2[cl]; !ok || !(v > 0) {
			errs = append(errs, fmt.Errorf("max_accel_mps2[%s] must be positive", cl))
		}
		if e, ok := c.Extents[cl]; !ok || !(e.LengthM > 0) || !(e.WidthM > 0) {
			errs = append(errs, fmt.Errorf("extents[%s] must have positive length_m and width_m", cl))
		}
	}
	for cl := range c.MaxSpeedMPS {
		if !cl.Valid() {
			errs = append(errs, fmt.Errorf("max_speed_mps: unknown class %q", cl))
		}
	}
	for i, z := range c.Zones {
		switch z.Kind {
		case ZoneCrosswalk, ZoneApproachN, ZoneApproachS, ZoneApproachE, ZoneApproachW, ZoneExclusion:
		default:
			errs = append(errs, fmt.Errorf("zones[%d] %q: unknown kind %q (want crosswalk, approach-nb|sb|eb|wb or exclusion)", i, z.Name, z.Kind))
		}
		if len(z.Polygon) < 3 {
			errs = append(errs, fmt.Errorf("zones[%d] %q: polygon needs at least 3 points, has %d", i, z.Name, len(z.Polygon)))
		}
		for j, p := range z.Polygon {
			if math.IsNaN(p[0]) || math.IsNaN(p[1]) || math.IsInf(p[0], 0) || math.IsInf(p[1], 0) {
				errs = append(errs, fmt.Errorf("zones[%d] %q: point %d is not finite", i, z.Name, j))
			}
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("conflict config: %w", errors.Join(errs...))
	}
	return nil
}
