// Package loadgen generates and publishes realistic intersect event mixes for
// benchmarks and fault tests: for N sites × M cameras it interleaves track
// summaries at traffic rates, near misses at a few per hour with plausible
// TTC/PET/severity/type distributions around each site, and a health report
// every 10 s per camera, then publishes them to JetStream asynchronously
// with each event's ID as Nats-Msg-Id, retrying failures with the same ID so
// that a retry is a duplicate the stream drops.
//
// The mix keeps its real-world proportions at any target rate: the
// generator runs a simulated clock that advances faster than wall time when
// the target rate is above what the cameras would produce, so event times
// stay consistent with the rates they model.
package loadgen

import (
	"container/heap"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/intersect-oss/intersect/events"
)

// Mix is the per-camera event mix, in real-world rates.
type Mix struct {
	// TracksPerHour is road users per camera per hour (vehicles and
	// pedestrians): a busy urban approach sees 1,000–2,000.
	TracksPerHour float64
	// NearMissesPerHour is pedestrian–vehicle near misses per camera per
	// hour: a few at a conflict-prone corner.
	NearMissesPerHour float64
	// HealthEvery is the period of a camera's health report.
	HealthEvery time.Duration
}

// DefaultMix is a busy signalised intersection approach.
var DefaultMix = Mix{TracksPerHour: 1500, NearMissesPerHour: 4, HealthEvery: 10 * time.Second}

// EventsPerSecond is the mix's natural rate per camera.
func (m Mix) EventsPerSecond() float64 {
	r := (m.TracksPerHour + m.NearMissesPerHour) / 3600
	if m.HealthEvery > 0 {
		r += 1 / m.HealthEvery.Seconds()
	}
	return r
}

func (m Mix) validate() error {
	if m.TracksPerHour < 0 || m.NearMissesPerHour < 0 || m.HealthEvery < 0 ||
		math.IsNaN(m.TracksPerHour) || math.IsNaN(m.NearMissesPerHour) {
		return fmt.Errorf("loadgen: mix rates must be non-negative numbers (got %+v)", m)
	}
	if m.EventsPerSecond() <= 0 {
		return fmt.Errorf("loadgen: mix %+v produces no events", m)
	}
	return nil
}

// Layout places the sites.
type Layout struct {
	Sites, Cameras int
	// Lat, Lng is the first site; the others sit on a 500 m grid from it.
	Lat, Lng float64
	// Start is the simulated time of the first event.
	Start time.Time
	// Seed makes the sequence reproducible (event IDs excepted: they are
	// UUIDv7 minted at generation, like at a real edge).
	Seed uint64
}

// Generator yields an endless, time-ordered event mix for a layout.
type Generator struct {
	mix   Mix
	sites []site
	rng   *rand.Rand
	queue schedule
	now   time.Time
	track int64
}

type site struct {
	id       string
	lat, lng float64
	cameras  []string
}

// NewGenerator checks the layout and mix and returns a generator.
func NewGenerator(l Layout, mix Mix) (*Generator, error) {
	if l.Sites < 1 || l.Cameras < 1 {
		return nil, fmt.Errorf("loadgen: need at least one site and one camera (got %d sites × %d cameras)", l.Sites, l.Cameras)
	}
	if l.Sites*l.Cameras > 1_000_000 {
		return nil, fmt.Errorf("loadgen: %d sites × %d cameras is more than a million cameras", l.Sites, l.Cameras)
	}
	if err := mix.validate(); err != nil {
		return nil, err
	}
	if l.Lat == 0 && l.Lng == 0 {
		l.Lat, l.Lng = 40.7608, -111.8910 // Salt Lake City, downtown grid
	}
	if l.Lat < -89 || l.Lat > 89 || l.Lng < -180 || l.Lng > 180 {
		return nil, fmt.Errorf("loadgen: site origin %v,%v out of range", l.Lat, l.Lng)
	}
	if l.Start.IsZero() {
		l.Start = time.Now().UTC()
	}
	g := &Generator{mix: mix, rng: rand.New(rand.NewPCG(l.Seed, l.Seed^0x9e3779b97f4a7c15)), now: l.Start}
	side := int(math.Ceil(math.Sqrt(float64(l.Sites))))
	const gridM = 500.0
	mPerDegLat := 111_320.0
	mPerDegLng := mPerDegLat * math.Cos(l.Lat*math.Pi/180)
	for i := range l.Sites {
		s := site{
			id:  fmt.Sprintf("site-%04d", i+1),
			lat: l.Lat + float64(i/side)*gridM/mPerDegLat,
			lng: l.Lng + float64(i%side)*gridM/mPerDegLng,
		}
		for j := range l.Cameras {
			s.cameras = append(s.cameras, fmt.Sprintf("cam-%d", j+1))
		}
		g.sites = append(g.sites, s)
	}
	for si := range g.sites {
		for ci := range g.sites[si].cameras {
			for _, k := range []events.Kind{events.KindTrack, events.KindNearMiss, events.KindHealth} {
				it := &item{site: si, camera: ci, kind: k}
				next, ok := g.after(l.Start, k, true)
				if !ok {
					continue
				}
				it.at = next
				heap.Push(&g.queue, it)
			}
		}
	}
	return g, nil
}

// Cameras is the number of cameras the generator simulates.
func (g *Generator) Cameras() int { return len(g.sites) * len(g.sites[0].cameras) }

// Now is the simulated time of the last event.
func (g *Generator) Now() time.Time { return g.now }

// after returns when the next event of kind k follows t: Poisson arrivals
// for tracks and near misses, a fixed period (with a random phase at start)
// for health.
func (g *Generator) after(t time.Time, k events.Kind, first bool) (time.Time, bool) {
	var perHour float64
	switch k {
	case events.KindHealth:
		if g.mix.HealthEvery <= 0 {
			return time.Time{}, false
		}
		if first {
			return t.Add(time.Duration(g.rng.Int64N(int64(g.mix.HealthEvery)))), true
		}
		return t.Add(g.mix.HealthEvery), true
	case events.KindTrack:
		perHour = g.mix.TracksPerHour
	case events.KindNearMiss:
		perHour = g.mix.NearMissesPerHour
	}
	if perHour <= 0 {
		return time.Time{}, false
	}
	gap := g.rng.ExpFloat64() * 3600 / perHour
	return t.Add(time.Duration(gap * float64(time.Second))), true
}

// Next returns the next event in simulated-time order.
func (g *Generator) Next() events.Event {
	it := g.queue[0]
	g.now = it.at
	s := &g.sites[it.site]
	ev := g.event(s, s.cameras[it.camera], it.kind, it.at)
	it.at, _ = g.after(it.at, it.kind, false)
	heap.Fix(&g.queue, 0)
	return ev
}

func (g *Generator) event(s *site, camera string, k events.Kind, at time.Time) events.Event {
	switch k {
	case events.KindTrack:
		return g.trackSummary(s, camera, at)
	case events.KindNearMiss:
		return g.nearMiss(s, camera, at)
	}
	return g.health(s, camera, at)
}

// pick returns one of choices with the given weights.
func pick[T any](rng *rand.Rand, choices []T, weights []float64) T {
	var sum float64
	for _, w := range weights {
		sum += w
	}
	r := rng.Float64() * sum
	for i, w := range weights {
		if r < w {
			return choices[i]
		}
		r -= w
	}
	return choices[len(choices)-1]
}

var (
	approaches = []string{"NB", "SB", "EB", "WB"}
	movements  = []string{"through", "left", "right"}
	moveShare  = []float64{0.7, 0.15, 0.15}
	// Urban counts: mostly cars, one road user in six on foot.
	trackClasses = []events.Class{events.Car, events.Pedestrian, events.Bicycle, events.Motorcycle, events.Bus, events.Truck}
	trackShare   = []float64{0.68, 0.17, 0.04, 0.02, 0.02, 0.07}
	// Pedestrian–vehicle conflicts at signals are dominated by turning
	// vehicles (right turns first, then permissive lefts).
	conflictTypes = []events.ConflictType{events.RightTurnCrosswalk, events.LeftTurnCrosswalk, events.ThroughCrosswalk,
		events.RightTurnMidBlock, events.LeftTurnMidBlock, events.ThroughMidBlock}
	conflictShare = []float64{0.38, 0.30, 0.12, 0.08, 0.06, 0.06}
	vehicles      = []events.Class{events.Car, events.Truck, events.Bus, events.Motorcycle}
	vehicleShare  = []float64{0.85, 0.09, 0.04, 0.02}
	vru           = []events.Class{events.Pedestrian, events.Bicycle}
	vruShare      = []float64{0.85, 0.15}
)

func clamp(v, lo, hi float64) float64 { return math.Max(lo, math.Min(hi, v)) }

func (g *Generator) trackSummary(s *site, camera string, at time.Time) *events.TrackSummary {
	c := pick(g.rng, trackClasses, trackShare)
	var speed float64
	switch c {
	case events.Pedestrian:
		speed = clamp(1.35+0.25*g.rng.NormFloat64(), 0.5, 2.5)
	case events.Bicycle:
		speed = clamp(4.5+1.2*g.rng.NormFloat64(), 1.5, 9)
	default:
		speed = clamp(9+3*g.rng.NormFloat64(), 0.5, 20)
	}
	dist := 20 + 40*g.rng.Float64()
	dur := time.Duration(dist / speed * float64(time.Second))
	g.track++
	ts := &events.TrackSummary{
		Header: events.NewHeader(events.KindTrack, s.id, camera, at),
		Track:  g.track, Class: c, Start: at.Add(-dur), End: at,
		Frames: max(1, int(dur.Seconds()*15)), DistanceM: dist, MeanSpeedMPS: speed,
		Approach: approaches[g.rng.IntN(4)],
	}
	if c == events.Pedestrian {
		ts.Crosswalk = "crosswalk-" + []string{"north", "south", "east", "west"}[g.rng.IntN(4)]
	} else {
		ts.Movement = pick(g.rng, movements, moveShare)
	}
	return ts
}

func (g *Generator) nearMiss(s *site, camera string, at time.Time) *events.NearMiss {
	typ := pick(g.rng, conflictTypes, conflictShare)
	veh := pick(g.rng, vehicles, vehicleShare)
	ped := pick(g.rng, vru, vruShare)
	// Measures are skewed towards the thresholds: most near misses are
	// minor, a few critical. Some pairs have only TTC or only PET.
	var ttc, pet *float64
	r := g.rng.Float64()
	if r < 0.75 {
		v := clamp(1.5*math.Sqrt(g.rng.Float64()), 0.05, 1.5)
		ttc = &v
	}
	if r > 0.55 {
		v := clamp(2.0*math.Sqrt(g.rng.Float64()), 0.05, 2.0)
		pet = &v
	}
	worst := math.Inf(1)
	if ttc != nil {
		worst = *ttc
	}
	if pet != nil {
		worst = math.Min(worst, *pet)
	}
	sev := events.Minor
	switch {
	case worst <= 0.5:
		sev = events.Critical
	case worst <= 1.0:
		sev = events.Serious
	}
	speedA := clamp(6+2.5*g.rng.NormFloat64(), 1, 16)
	var drac *float64
	if ttc != nil && *ttc > 0 {
		v := speedA / (2 * *ttc)
		drac = &v
	}
	xm, ym := 20*g.rng.Float64()-10, 20*g.rng.Float64()-10
	movement := "through"
	switch typ {
	case events.RightTurnCrosswalk, events.RightTurnMidBlock:
		movement = "right"
	case events.LeftTurnCrosswalk, events.LeftTurnMidBlock:
		movement = "left"
	}
	g.track += 2
	dur := time.Duration((2 + 4*g.rng.Float64()) * float64(time.Second))
	return &events.NearMiss{
		Header: events.NewHeader(events.KindNearMiss, s.id, camera, at),
		TrackA: g.track - 1, ClassA: veh, TrackB: g.track, ClassB: ped,
		Start: at.Add(-dur / 2), End: at.Add(dur / 2),
		MinTTCS: ttc, PETS: pet, MaxDRACMPS2: drac,
		MinDistanceM: clamp(0.5+2*g.rng.Float64(), 0, 5),
		SpeedAMPS:    speedA, SpeedBMPS: clamp(1.35+0.3*g.rng.NormFloat64(), 0.3, 6),
		AngleDeg: 60 + 60*g.rng.Float64(), Type: typ, Severity: sev,
		XM: xm, YM: ym,
		Lat: s.lat + ym/111_320, Lng: s.lng + xm/(111_320*math.Cos(s.lat*math.Pi/180)),
		Zone:     "crosswalk-" + []string{"north", "south", "east", "west"}[g.rng.IntN(4)],
		Approach: approaches[g.rng.IntN(4)], Movement: movement,
	}
}

func (g *Generator) health(s *site, camera string, at time.Time) *events.CameraHealth {
	fps := clamp(15+0.5*g.rng.NormFloat64(), 10, 16)
	status := events.CameraOK
	if g.rng.Float64() < 0.01 {
		status = events.CameraDegraded
	}
	p50 := time.Duration((18 + 4*g.rng.Float64()) * float64(time.Millisecond))
	return &events.CameraHealth{
		Header: events.NewHeader(events.KindHealth, s.id, camera, at),
		Status: status, Detector: "yolox-nano", FPSIn: 15, FPSOut: fps,
		FramesIn:    int64(at.Sub(time.Unix(0, 0).UTC()).Seconds()*15) % 1_000_000_000,
		DetectorP50: p50, DetectorP95: p50 * 2, LastFrame: at, ActiveTracks: g.rng.IntN(12),
	}
}

// item is one pending (camera, kind) arrival.
type item struct {
	at           time.Time
	site, camera int
	kind         events.Kind
}

type schedule []*item

func (q schedule) Len() int           { return len(q) }
func (q schedule) Less(i, j int) bool { return q[i].at.Before(q[j].at) }
func (q schedule) Swap(i, j int)      { q[i], q[j] = q[j], q[i] }
func (q *schedule) Push(x any)        { *q = append(*q, x.(*item)) }
func (q *schedule) Pop() any {
	old := *q
	it := old[len(old)-1]
	*q = old[:len(old)-1]
	return it
}
