// Package storetest is the contract every store backend must meet: Run
// executes the same cases against any store.Store, and Seed bulk-loads
// synthetic near misses for benchmarks (e.g. the API's queries on
// 1,000,000 rows).
package storetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	_ "time/tzdata" // the stats cases need America/Denver wherever they run

	"github.com/intersect-oss/intersect/events"
	"github.com/intersect-oss/intersect/store"
)

// Sites and cameras the synthetic events are spread over.
var (
	SynthSites   = []string{"main-and-5th", "state-and-400s", "900e-and-21s"}
	SynthCameras = []string{"cam-1", "cam-2"}
	// SynthCentre is the point synthetic conflicts scatter around (Salt
	// Lake City); they fall within about ±55 m of it.
	SynthCentre = [2]float64{40.7608, -111.8910}
)

var (
	zones      = []string{"crosswalk-north", "crosswalk-south", "crosswalk-east", "crosswalk-west", ""}
	approaches = []string{"NB", "SB", "EB", "WB", ""}
	movements  = []string{"right", "left", "through"}
	weathers   = []string{"dry", "wet", "snow", ""}
	vehicles   = []events.Class{events.Car, events.Car, events.Car, events.Bus, events.Truck, events.Motorcycle}
)

func f64(v float64) *float64 { return &v }

// Synthetic returns a valid, plausible near miss at time t, drawn from rng.
// About one in five has no TTC (PET only) and one in five no PET; DRAC is
// present about half the time.
func Synthetic(rng *rand.Rand, site, camera string, t time.Time) *events.NearMiss {
	t = t.UTC()
	n := &events.NearMiss{
		Header: events.NewHeader(events.KindNearMiss, site, camera, t),
		TrackA: rng.Int64N(100000) + 1, ClassA: vehicles[rng.IntN(len(vehicles))],
		ClassB:       events.Pedestrian,
		Start:        t.Add(-time.Duration(1+rng.IntN(4000)) * time.Millisecond),
		End:          t.Add(time.Duration(1+rng.IntN(3000)) * time.Millisecond),
		MinDistanceM: rng.Float64() * 4, SpeedAMPS: 2 + rng.Float64()*12, SpeedBMPS: 0.8 + rng.Float64()*1.2,
		AngleDeg: rng.Float64() * 180,
		Type:     events.ConflictTypes[rng.IntN(6)],
		XM:       rng.Float64()*40 - 20, YM: rng.Float64()*40 - 20,
		Lat:      SynthCentre[0] + (rng.Float64()-0.5)*0.001,
		Lng:      SynthCentre[1] + (rng.Float64()-0.5)*0.0013,
		Zone:     zones[rng.IntN(len(zones))],
		Approach: approaches[rng.IntN(len(approaches))],
		Movement: movements[rng.IntN(len(movements))],
		Weather:  weathers[rng.IntN(len(weathers))],
	}
	n.TrackB = n.TrackA + 1 + rng.Int64N(50)
	if rng.IntN(8) == 0 {
		n.ClassB = events.Bicycle
	}
	if rng.IntN(5) != 0 {
		n.MinTTCS = f64(rng.Float64() * 1.5)
	}
	if n.MinTTCS == nil || rng.IntN(4) != 0 {
		n.PETS = f64(rng.Float64() * 2)
	}
	if rng.IntN(2) == 0 {
		n.MaxDRACMPS2 = f64(rng.Float64() * 8)
	}
	m := 99.0
	if n.MinTTCS != nil {
		m = *n.MinTTCS
	}
	if n.PETS != nil && *n.PETS < m {
		m = *n.PETS
	}
	switch {
	case m <= 0.5:
		n.Severity = events.Critical
	case m <= 1.0:
		n.Severity = events.Serious
	default:
		n.Severity = events.Minor
	}
	return n
}

// Seed writes n synthetic near misses, spread over the sites, cameras and
// the 90 days after start, in batches of 1,000. It is the bulk loader for
// query benchmarks.
func Seed(ctx context.Context, s store.Store, n int, rng *rand.Rand, start time.Time) error {
	const batchSize = 1000
	span := int64(90 * 24 * time.Hour)
	for done := 0; done < n; {
		k := min(batchSize, n-done)
		b := store.Batch{Events: make([]events.Event, k)}
		for i := range k {
			site := SynthSites[rng.IntN(len(SynthSites))]
			cam := SynthCameras[rng.IntN(len(SynthCameras))]
			b.Events[i] = Synthetic(rng, site, cam, start.Add(time.Duration(rng.Int64N(span))))
		}
		if _, err := s.Write(ctx, b); err != nil {
			return fmt.Errorf("seeding near misses %d..%d: %w", done, done+k, err)
		}
		done += k
	}
	// Refresh planner statistics, as autovacuum would have by the time a
	// real database holds this much.
	if a, ok := s.(interface{ Analyze(context.Context) error }); ok {
		return a.Analyze(ctx)
	}
	return nil
}
