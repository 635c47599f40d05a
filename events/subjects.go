package events

import "fmt"

// Prefix is the first two tokens of every subject; the version lets a v2
// contract run beside v1 during an upgrade.
const Prefix = "intersect.v1"

// Stream names. Events (near misses, tracks, health, weather) and
// recommendations (with acks) live in separate streams so that their
// retention and permissions can differ.
const (
	EventsStream          = "INTERSECT_EVENTS"
	RecommendationsStream = "INTERSECT_RECOMMENDATIONS"
	SnapshotBucket        = "intersect-snapshots"
)

// CameraSubject is the subject of a camera's events of kind k
// (nearmiss, track or health): intersect.v1.<site>.<camera>.<kind>.
func CameraSubject(site, camera string, k Kind) string {
	return fmt.Sprintf("%s.%s.%s.%s", Prefix, site, camera, k)
}

// WeatherSubject is intersect.v1.<site>.weather.
func WeatherSubject(site string) string { return fmt.Sprintf("%s.%s.weather", Prefix, site) }

// RecommendationSubject is intersect.v1.<site>.signal.<controller>.recommendation.
func RecommendationSubject(site, controller string) string {
	return fmt.Sprintf("%s.%s.signal.%s.recommendation", Prefix, site, controller)
}

// AckSubject is intersect.v1.<site>.signal.<controller>.ack.
func AckSubject(site, controller string) string {
	return fmt.Sprintf("%s.%s.signal.%s.ack", Prefix, site, controller)
}

// Subject returns the subject an event is published on.
func Subject(ev Event) string {
	h := ev.Head()
	switch e := ev.(type) {
	case *WeatherObservation:
		return WeatherSubject(h.Site)
	case *Recommendation:
		return RecommendationSubject(h.Site, e.Target.Controller)
	case *Ack:
		return AckSubject(h.Site, e.Controller)
	}
	return CameraSubject(h.Site, h.Camera, h.Kind)
}

// Subject filters for the streams and for consumers.
const (
	// CameraEventsFilter matches every camera's nearmiss, track and health.
	CameraEventsFilter = Prefix + ".*.*.*"
	// WeatherFilter matches every site's weather.
	WeatherFilter = Prefix + ".*.weather"
	// SignalFilter matches every recommendation and ack.
	SignalFilter = Prefix + ".*.signal.*.*"
)
