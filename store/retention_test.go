package store_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/intersect-oss/intersect/events"
	"github.com/intersect-oss/intersect/internal/testenv"
	"github.com/intersect-oss/intersect/store"
	"github.com/intersect-oss/intersect/store/storetest"
)

// TestRetention keeps critical near misses longer than the rest, and on
// PostgreSQL drops whole monthly partitions once every row in them expired.
func TestRetention(t *testing.T) {
	backends := []struct {
		name string
		open func(t *testing.T) store.Store
	}{
		{"sqlite", func(t *testing.T) store.Store { return openSQLite(t, t.TempDir()) }},
		{"postgres", func(t *testing.T) store.Store { return openPG(t, testenv.FreshPostgres(t)) }},
	}
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			ctx := context.Background()
			s := be.open(t)
			defer s.Close()
			now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
			rng := rand.New(rand.NewPCG(3, 4))
			// One critical and one minor near miss, a track summary and a
			// health report on the 15th of each of the last six months.
			var evs []events.Event
			for m := 0; m < 6; m++ {
				at := time.Date(2026, time.Month(11-m), 15, 8, 0, 0, 0, time.UTC)
				crit := storetest.Synthetic(rng, "main-and-5th", "cam-1", at)
				crit.Severity = events.Critical
				minor := storetest.Synthetic(rng, "main-and-5th", "cam-1", at.Add(time.Hour))
				minor.Severity = events.Minor
				tr := &events.TrackSummary{Header: events.NewHeader(events.KindTrack, "main-and-5th", "cam-1", at), Track: int64(m), Class: events.Pedestrian, Start: at, End: at, Frames: 10}
				h := &events.CameraHealth{Header: events.NewHeader(events.KindHealth, "main-and-5th", "cam-1", at), Status: events.CameraOK}
				evs = append(evs, crit, minor, tr, h)
			}
			if _, err := s.Write(ctx, store.Batch{Events: evs}); err != nil {
				t.Fatal(err)
			}
			// Minor/serious kept ~2 months, critical ~4, tracks 3, health 1.
			p := store.RetentionPolicy{NearMisses: 60 * 24 * time.Hour, CriticalNearMisses: 120 * 24 * time.Hour, Tracks: 90 * 24 * time.Hour, Health: 30 * 24 * time.Hour}
			res, err := store.ApplyRetention(ctx, s, p, now)
			if err != nil {
				t.Fatal(err)
			}
			page, err := s.NearMisses(ctx, store.NearMissQuery{Limit: 100})
			if err != nil {
				t.Fatal(err)
			}
			var crit, minor int
			for _, n := range page.Items {
				age := now.Sub(n.Time)
				switch {
				case n.Severity == events.Critical && age > p.CriticalNearMisses, n.Severity != events.Critical && age > p.NearMisses:
					t.Errorf("%s near miss of %s kept past its retention", n.Severity, n.Time.Format("2006-01-02"))
				case n.Severity == events.Critical:
					crit++
				default:
					minor++
				}
			}
			// Months 11, 10, 9 and 8 (15th): critical within 120 days; minor
			// within 60 days: 11 and 10.
			if crit != 4 || minor != 2 {
				t.Fatalf("kept %d critical and %d minor near misses, want 4 and 2 (result %+v)", crit, minor, res)
			}
			tracks, _ := s.TrackSummaries(ctx, store.TrackQuery{Limit: 100})
			if len(tracks) != 3 || res.Tracks != 3 || res.Health != 5 {
				t.Fatalf("tracks kept %d (deleted %d), health deleted %d; want 3, 3, 5", len(tracks), res.Tracks, res.Health)
			}
			if be.name == "postgres" {
				// Only June 2026 ends before the critical cutoff (2026-07-29);
				// July straddles it and keeps its partition (rows deleted).
				want := []string{"near_misses_202606"}
				got := slices.Sorted(slices.Values(res.PartitionsDropped))
				if !slices.Equal(got, want) {
					t.Fatalf("dropped partitions %v, want %v", got, want)
				}
				// A later write into a dropped month recreates its partition.
				late := storetest.Synthetic(rng, "main-and-5th", "cam-1", time.Date(2026, 6, 20, 0, 0, 0, 0, time.UTC))
				if _, err := s.Write(ctx, store.Batch{Events: []events.Event{late}}); err != nil {
					t.Fatalf("writing into a dropped month: %v", err)
				}
			}
			if _, err := store.ApplyRetention(ctx, s, store.RetentionPolicy{NearMisses: 90 * 24 * time.Hour, CriticalNearMisses: time.Hour}, now); !errors.Is(err, store.ErrBadInput) {
				t.Fatalf("a policy deleting critical events first = %v, want ErrBadInput", err)
			}
		})
	}
}
