// Package events is the wire contract of intersect: every message that
// crosses NATS is one of the types defined here, encoded as JSON with a
// "schema" version and a "kind", and checked by Validate before anyone acts
// on it. Producers mint the event ID where the event is born (UUIDv7, so IDs
// sort by time) and every retry reuses it, which is what lets JetStream and
// the store drop duplicates.
package events

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"time"

	"github.com/google/uuid"
)

// SchemaVersion is the version of the wire format this build writes and the
// only one it accepts. A consumer that sees another version refuses the
// message rather than guessing at its meaning.
const SchemaVersion = 1

// Kind names what an event is; it is also the last token of its subject.
type Kind string

const (
	KindNearMiss       Kind = "nearmiss"
	KindTrack          Kind = "track"
	KindHealth         Kind = "health"
	KindWeather        Kind = "weather"
	KindRecommendation Kind = "recommendation"
	KindAck            Kind = "ack"
)

// Class is a road-user class.
type Class string

const (
	Pedestrian Class = "pedestrian"
	Bicycle    Class = "bicycle"
	Motorcycle Class = "motorcycle"
	Car        Class = "car"
	Bus        Class = "bus"
	Truck      Class = "truck"
)

// Classes lists every valid road-user class, in a stable order.
var Classes = []Class{Pedestrian, Bicycle, Motorcycle, Car, Bus, Truck}

// Valid reports whether c is one of Classes.
func (c Class) Valid() bool {
	for _, k := range Classes {
		if c == k {
			return true
		}
	}
	return false
}

// Vulnerable reports whether c is a vulnerable road user (no vehicle body
// around them): pedestrians and cyclists.
func (c Class) Vulnerable() bool { return c == Pedestrian || c == Bicycle }

// ParseClass returns the class named s, or an error listing the valid ones.
func ParseClass(s string) (Class, error) {
	c := Class(s)
	if !c.Valid() {
		return "", fmt.Errorf("unknown class %q (want one of %v)", s, Classes)
	}
	return c, nil
}

var idPattern = regexp.MustCompile(`^[a-z0-9-]+$`)

// ValidID reports whether s is a valid site, camera or controller ID.
func ValidID(s string) bool { return len(s) <= 64 && idPattern.MatchString(s) }

// NewID mints a time-ordered event ID (UUIDv7). Call it once, where the event
// is born, and keep it across retries.
func NewID() string {
	id, err := uuid.NewV7()
	if err != nil {
		// uuid.NewV7 fails only if the system's random source fails, and
		// then nothing else in the process can be trusted either.
		panic(fmt.Sprintf("events: minting UUIDv7: %v", err))
	}
	return id.String()
}

// Header is common to every event.
type Header struct {
	Schema int       `json:"schema"`
	Kind   Kind      `json:"kind"`
	ID     string    `json:"id"`
	Site   string    `json:"site"`
	Camera string    `json:"camera,omitempty"`
	Time   time.Time `json:"time"`
}

// NewHeader returns a header for a new event of kind k, with a fresh ID.
func NewHeader(k Kind, site, camera string, t time.Time) Header {
	return Header{Schema: SchemaVersion, Kind: k, ID: NewID(), Site: site, Camera: camera, Time: t.UTC()}
}

// Event is implemented by every wire type.
type Event interface {
	Head() *Header
	Validate() error
}

// Head returns the header; it makes Header embeddable as Event's method.
func (h *Header) Head() *Header { return h }

func (h *Header) validate(want Kind, needCamera bool) error {
	var errs []error
	if h.Schema != SchemaVersion {
		errs = append(errs, fmt.Errorf("schema %d is not supported (this build reads %d)", h.Schema, SchemaVersion))
	}
	if h.Kind != want {
		errs = append(errs, fmt.Errorf("kind %q, want %q", h.Kind, want))
	}
	if _, err := uuid.Parse(h.ID); err != nil {
		errs = append(errs, fmt.Errorf("id %q is not a UUID", h.ID))
	}
	if !ValidID(h.Site) {
		errs = append(errs, fmt.Errorf("site %q must match [a-z0-9-]+", h.Site))
	}
	if needCamera && !ValidID(h.Camera) {
		errs = append(errs, fmt.Errorf("camera %q must match [a-z0-9-]+", h.Camera))
	}
	if !needCamera && h.Camera != "" && !ValidID(h.Camera) {
		errs = append(errs, fmt.Errorf("camera %q must match [a-z0-9-]+", h.Camera))
	}
	if h.Time.IsZero() {
		errs = append(errs, errors.New("time is missing"))
	}
	return errors.Join(errs...)
}

// checker collects field errors so Validate reports every problem at once.
type checker struct{ errs []error }

func (c *checker) failf(format string, a ...any) { c.errs = append(c.errs, fmt.Errorf(format, a...)) }

// finite checks that v is a real number and, if nonNeg, not negative.
func (c *checker) finite(name string, v float64, nonNeg bool) {
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		c.failf("%s is %v", name, v)
	case nonNeg && v < 0:
		c.failf("%s is negative (%v)", name, v)
	}
}

// optional is finite for a measure that may be undefined (nil).
func (c *checker) optional(name string, v *float64, nonNeg bool) {
	if v != nil {
		c.finite(name, *v, nonNeg)
	}
}

func (c *checker) class(name string, v Class) {
	if !v.Valid() {
		c.failf("%s: unknown class %q", name, v)
	}
}

func (c *checker) err(h *Header, kind Kind, needCamera bool) error {
	if err := h.validate(kind, needCamera); err != nil {
		c.errs = append([]error{err}, c.errs...)
	}
	if len(c.errs) == 0 {
		return nil
	}
	return &ValidationError{Kind: kind, ID: h.ID, Err: errors.Join(c.errs...)}
}

// ValidationError says why an event cannot be used.
type ValidationError struct {
	Kind Kind
	ID   string
	Err  error
}

func (e *ValidationError) Error() string {
	return fmt.Sprintf("invalid %s event %q: %v", e.Kind, e.ID, e.Err)
}

func (e *ValidationError) Unwrap() error { return e.Err }

// Encode validates ev and returns its JSON.
func Encode(ev Event) ([]byte, error) {
	if err := ev.Validate(); err != nil {
		return nil, err
	}
	return json.Marshal(ev)
}

// Decode parses one JSON event of any kind and validates it. The error says
// what is wrong in words a person can act on; the caller decides whether to
// dead-letter the message.
func Decode(data []byte) (Event, error) {
	var h struct {
		Schema *int `json:"schema"`
		Kind   Kind `json:"kind"`
	}
	if err := json.Unmarshal(data, &h); err != nil {
		return nil, fmt.Errorf("malformed event JSON: %w", err)
	}
	if h.Schema == nil {
		return nil, errors.New("event has no schema field")
	}
	if *h.Schema != SchemaVersion {
		return nil, fmt.Errorf("event schema %d is not supported (this build reads %d)", *h.Schema, SchemaVersion)
	}
	ev, err := newOfKind(h.Kind)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(data, ev); err != nil {
		return nil, fmt.Errorf("malformed %s event: %w", h.Kind, err)
	}
	if err := ev.Validate(); err != nil {
		return nil, err
	}
	return ev, nil
}

func newOfKind(k Kind) (Event, error) {
	switch k {
	case KindNearMiss:
		return new(NearMiss), nil
	case KindTrack:
		return new(TrackSummary), nil
	case KindHealth:
		return new(CameraHealth), nil
	case KindWeather:
		return new(WeatherObservation), nil
	case KindRecommendation:
		return new(Recommendation), nil
	case KindAck:
		return new(Ack), nil
	}
	return nil, fmt.Errorf("unknown event kind %q", k)
}
