package events

import (
	"time"
)

// ConflictType says which movements met. Pedestrian–vehicle types name the
// vehicle's movement and the pedestrian's zone; vehicle–vehicle types follow
// SSAM's angle rules (rear-end < 30°, crossing > 80°, lane change between).
type ConflictType string

const (
	RightTurnCrosswalk ConflictType = "right-turn-crosswalk"
	RightTurnMidBlock  ConflictType = "right-turn-mid-block"
	LeftTurnCrosswalk  ConflictType = "left-turn-crosswalk"
	LeftTurnMidBlock   ConflictType = "left-turn-mid-block"
	ThroughCrosswalk   ConflictType = "through-crosswalk"
	ThroughMidBlock    ConflictType = "through-mid-block"
	RearEnd            ConflictType = "rear-end"
	Crossing           ConflictType = "crossing"
	LaneChange         ConflictType = "lane-change"
	Unclassified       ConflictType = "unclassified"
)

// ConflictTypes lists every valid conflict type.
var ConflictTypes = []ConflictType{
	RightTurnCrosswalk, RightTurnMidBlock, LeftTurnCrosswalk, LeftTurnMidBlock,
	ThroughCrosswalk, ThroughMidBlock, RearEnd, Crossing, LaneChange, Unclassified,
}

// Valid reports whether t is one of ConflictTypes.
func (t ConflictType) Valid() bool {
	for _, k := range ConflictTypes {
		if t == k {
			return true
		}
	}
	return false
}

// Severity grades a near miss (DESIGN.md): critical when TTC or PET ≤ 0.5 s,
// serious when ≤ 1.0 s, minor within the near-miss thresholds.
type Severity string

const (
	Critical Severity = "critical"
	Serious  Severity = "serious"
	Minor    Severity = "minor"
)

// Severities lists every valid severity, most severe first.
var Severities = []Severity{Critical, Serious, Minor}

// Valid reports whether s is one of Severities.
func (s Severity) Valid() bool { return s == Critical || s == Serious || s == Minor }

// Weight is the severity weight used for severity-weighted scores and
// rankings (critical counts as 9 minor events, serious as 3).
func (s Severity) Weight() float64 {
	switch s {
	case Critical:
		return 9
	case Serious:
		return 3
	case Minor:
		return 1
	}
	return 0
}

// NearMiss is one encounter between two road users whose TTC or PET fell
// within the near-miss thresholds. Measures that are not defined for the
// pair (PET when the paths never cross, DRAC with no closing vehicle) are nil.
// Header.Time is the moment of the minimum TTC (or of the second user's
// entry into the conflict area when there is no TTC).
type NearMiss struct {
	Header
	TrackA       int64        `json:"track_a"`
	ClassA       Class        `json:"class_a"`
	TrackB       int64        `json:"track_b"`
	ClassB       Class        `json:"class_b"`
	Start        time.Time    `json:"start"`
	End          time.Time    `json:"end"`
	MinTTCS      *float64     `json:"min_ttc_s"`
	PETS         *float64     `json:"pet_s"`
	MaxDRACMPS2  *float64     `json:"max_drac_mps2"`
	MinDistanceM float64      `json:"min_distance_m"`
	SpeedAMPS    float64      `json:"speed_a_mps"`
	SpeedBMPS    float64      `json:"speed_b_mps"`
	AngleDeg     float64      `json:"angle_deg"`
	Type         ConflictType `json:"type"`
	Severity     Severity     `json:"severity"`
	XM           float64      `json:"x_m"` // conflict point, local ground metres
	YM           float64      `json:"y_m"`
	Lat          float64      `json:"lat"` // conflict point, WGS84
	Lng          float64      `json:"lng"`
	Zone         string       `json:"zone,omitempty"`     // e.g. "crosswalk-north"
	Approach     string       `json:"approach,omitempty"` // NB, SB, EB, WB: the vehicle's approach
	Movement     string       `json:"movement,omitempty"` // right, left, through
	Weather      string       `json:"weather,omitempty"`  // condition when it happened, if known
	SnapshotKey  string       `json:"snapshot,omitempty"` // object-store key of the blurred JPEG
}

// Validate reports every reason a consumer could not use n.
func (n *NearMiss) Validate() error {
	var c checker
	if n.TrackA == n.TrackB {
		c.failf("track_a and track_b are both %d", n.TrackA)
	}
	c.class("class_a", n.ClassA)
	c.class("class_b", n.ClassB)
	if n.Start.IsZero() || n.End.IsZero() {
		c.failf("start and end are required")
	} else if n.End.Before(n.Start) {
		c.failf("end %s is before start %s", n.End.Format(time.RFC3339Nano), n.Start.Format(time.RFC3339Nano))
	}
	if n.MinTTCS == nil && n.PETS == nil {
		c.failf("a near miss needs min_ttc_s or pet_s")
	}
	c.optional("min_ttc_s", n.MinTTCS, true)
	c.optional("pet_s", n.PETS, true)
	c.optional("max_drac_mps2", n.MaxDRACMPS2, true)
	c.finite("min_distance_m", n.MinDistanceM, true)
	c.finite("speed_a_mps", n.SpeedAMPS, true)
	c.finite("speed_b_mps", n.SpeedBMPS, true)
	c.finite("angle_deg", n.AngleDeg, true)
	c.finite("x_m", n.XM, false)
	c.finite("y_m", n.YM, false)
	c.finite("lat", n.Lat, false)
	c.finite("lng", n.Lng, false)
	if n.Lat < -90 || n.Lat > 90 || n.Lng < -180 || n.Lng > 180 {
		c.failf("lat/lng %v,%v out of range", n.Lat, n.Lng)
	}
	if !n.Type.Valid() {
		c.failf("unknown type %q", n.Type)
	}
	if !n.Severity.Valid() {
		c.failf("unknown severity %q", n.Severity)
	}
	return c.err(&n.Header, KindNearMiss, true)
}

// TrackSummary describes one road user's passage once its track ends. The
// advisor counts crossing pedestrians as exposure and takes walking speeds
// from them; vehicles' approaches and movements make the turning movement
// counts (API: /api/v1/sites/{site}/movements).
type TrackSummary struct {
	Header
	Track        int64     `json:"track"`
	Class        Class     `json:"class"`
	Start        time.Time `json:"start"`
	End          time.Time `json:"end"`
	Frames       int       `json:"frames"`
	DistanceM    float64   `json:"distance_m"`
	MeanSpeedMPS float64   `json:"mean_speed_mps"`
	Approach     string    `json:"approach,omitempty"`
	Movement     string    `json:"movement,omitempty"`
	Crosswalk    string    `json:"crosswalk,omitempty"` // crosswalk zone crossed, if any
}

// Validate reports every reason a consumer could not use s.
func (s *TrackSummary) Validate() error {
	var c checker
	c.class("class", s.Class)
	if s.Start.IsZero() || s.End.IsZero() {
		c.failf("start and end are required")
	} else if s.End.Before(s.Start) {
		c.failf("end is before start")
	}
	if s.Frames < 1 {
		c.failf("frames %d < 1", s.Frames)
	}
	c.finite("distance_m", s.DistanceM, true)
	c.finite("mean_speed_mps", s.MeanSpeedMPS, true)
	return c.err(&s.Header, KindTrack, true)
}

// CameraStatus is the coarse state of a camera worker.
type CameraStatus string

const (
	CameraOK       CameraStatus = "ok"
	CameraDegraded CameraStatus = "degraded" // running, but dropping frames or behind on publishing
	CameraDown     CameraStatus = "down"     // source unreachable; retrying
	CameraEnded    CameraStatus = "ended"    // a file source reached its end
)

// CameraHealth is a camera worker's periodic report.
type CameraHealth struct {
	Header
	Status         CameraStatus  `json:"status"`
	Detector       string        `json:"detector"`
	FPSIn          float64       `json:"fps_in"`
	FPSOut         float64       `json:"fps_out"`
	FramesIn       int64         `json:"frames_in"`
	FramesDropped  int64         `json:"frames_dropped"`
	DetectorP50    time.Duration `json:"detector_p50_ns"`
	DetectorP95    time.Duration `json:"detector_p95_ns"`
	LastFrame      time.Time     `json:"last_frame,omitempty"`
	OutboxEvents   int           `json:"outbox_events"`
	OutboxOldest   time.Duration `json:"outbox_oldest_ns"`
	ActiveTracks   int           `json:"active_tracks"`
	Error          string        `json:"error,omitempty"`
	Reconnects     int           `json:"reconnects"`
	SuppressedRate float64       `json:"suppressed_share"` // share of candidate conflicts the tracking-error guard dropped
}

// Validate reports every reason a consumer could not use h.
func (h *CameraHealth) Validate() error {
	var c checker
	switch h.Status {
	case CameraOK, CameraDegraded, CameraDown, CameraEnded:
	default:
		c.failf("unknown status %q", h.Status)
	}
	c.finite("fps_in", h.FPSIn, true)
	c.finite("fps_out", h.FPSOut, true)
	c.finite("suppressed_share", h.SuppressedRate, true)
	if h.FramesIn < 0 || h.FramesDropped < 0 || h.OutboxEvents < 0 {
		c.failf("counters must not be negative")
	}
	return c.err(&h.Header, KindHealth, true)
}

// Condition is the road-weather class the advisor works with.
type Condition string

const (
	Dry  Condition = "dry"
	Wet  Condition = "wet"
	Snow Condition = "snow"
	Ice  Condition = "ice"
	Fog  Condition = "fog"
)

// Conditions lists every valid weather condition.
var Conditions = []Condition{Dry, Wet, Snow, Ice, Fog}

// Valid reports whether c is one of Conditions.
func (c Condition) Valid() bool {
	for _, k := range Conditions {
		if c == k {
			return true
		}
	}
	return false
}

// WeatherObservation is the weather at a site, classified. Raw fields are
// nil when the source did not report them.
type WeatherObservation struct {
	Header
	Condition      Condition `json:"condition"`
	Source         string    `json:"source"` // "nws:KSLC", "manual", ...
	Text           string    `json:"text,omitempty"`
	TempC          *float64  `json:"temp_c,omitempty"`
	PrecipMMPerH   *float64  `json:"precip_mm_per_h,omitempty"`
	VisibilityM    *float64  `json:"visibility_m,omitempty"`
	WindMPS        *float64  `json:"wind_mps,omitempty"`
	RoadSurfaceWet *bool     `json:"road_surface_wet,omitempty"`
}

// Validate reports every reason a consumer could not use w.
func (w *WeatherObservation) Validate() error {
	var c checker
	if !w.Condition.Valid() {
		c.failf("unknown condition %q (want one of %v)", w.Condition, Conditions)
	}
	if w.Source == "" {
		c.failf("source is required")
	}
	c.optional("temp_c", w.TempC, false)
	c.optional("precip_mm_per_h", w.PrecipMMPerH, true)
	c.optional("visibility_m", w.VisibilityM, true)
	c.optional("wind_mps", w.WindMPS, true)
	return c.err(&w.Header, KindWeather, false)
}
