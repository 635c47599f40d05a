package live

import (
	"sort"
	"time"

	"github.com/intersect-oss/intersect/events"
	"github.com/intersect-oss/intersect/signals"
)

// history is the advisor's sliding window of the events its rules read.
// Memory is bounded twice: by age (the window) and by count (the newest
// max events of each kind are kept), so a flood of events cannot grow the
// advisor without limit. It is not safe for concurrent use; Advisor guards
// it.
type history struct {
	window time.Duration
	max    int
	seen   map[string]time.Time // event ID → event time, for dedupe
	nms    []*events.NearMiss
	tracks []*events.TrackSummary
	// vehicles counts vehicle track summaries by clock hour, approach and
	// movement (the cycle rule's observed flows): counts, not summaries,
	// since vehicles are most of the tracks. vseen dedupes them.
	vehicles map[signals.VehicleCount]int
	vseen    map[string]time.Time
	// dropped counts events evicted by the count bound (not by age): when
	// it grows, the window holds less than it says and rates are low.
	dropped int
}

func newHistory(window time.Duration, max int) *history {
	return &history{window: window, max: max, seen: map[string]time.Time{},
		vehicles: map[signals.VehicleCount]int{}, vseen: map[string]time.Time{}}
}

// add keeps ev if it is one the rules read, is inside the window at now and
// was not seen before. It reports whether ev was kept.
func (h *history) add(ev events.Event, now time.Time) bool {
	hd := ev.Head()
	if _, dup := h.seen[hd.ID]; dup || hd.Time.Before(now.Add(-h.window)) {
		return false
	}
	switch e := ev.(type) {
	case *events.NearMiss:
		h.nms = append(h.nms, e)
	case *events.TrackSummary:
		if !e.Class.Vulnerable() && e.Approach != "" && e.Movement != "" {
			if _, dup := h.vseen[hd.ID]; dup {
				return false
			}
			h.vseen[hd.ID] = hd.Time
			h.vehicles[signals.VehicleCount{Hour: signals.HourOf(hd.Time), Approach: e.Approach, Movement: e.Movement}]++
			return true
		}
		// Crossing pedestrians are kept whole (exposure and walking
		// speeds); other tracks are not read.
		if e.Class != events.Pedestrian || e.Crosswalk == "" {
			return false
		}
		h.tracks = append(h.tracks, e)
	default:
		return false
	}
	h.seen[hd.ID] = hd.Time
	return true
}

// prune drops what has left the window and enforces the count bound,
// keeping the newest.
func (h *history) prune(now time.Time) {
	from := now.Add(-h.window)
	h.nms = pruneSlice(h.nms, from, h.max, h.seen, &h.dropped)
	h.tracks = pruneSlice(h.tracks, from, h.max, h.seen, &h.dropped)
	for k := range h.vehicles {
		if k.Hour.Add(time.Hour).Before(from) {
			delete(h.vehicles, k)
		}
	}
	for id, t := range h.vseen {
		if t.Before(from) {
			delete(h.vseen, id)
		}
	}
	if h.max > 0 && len(h.vseen) > h.max {
		// The dedupe memory is bounded too: forget the oldest IDs (their
		// counts stay; only a redelivery that old could count twice).
		ts := make([]time.Time, 0, len(h.vseen))
		for _, t := range h.vseen {
			ts = append(ts, t)
		}
		sort.Slice(ts, func(i, j int) bool { return ts[i].Before(ts[j]) })
		cut := ts[len(ts)-h.max]
		for id, t := range h.vseen {
			if t.Before(cut) {
				delete(h.vseen, id)
			}
		}
	}
}

func pruneSlice[T events.Event](xs []T, from time.Time, max int, seen map[string]time.Time, dropped *int) []T {
	kept := xs[:0]
	for _, x := range xs {
		if x.Head().Time.Before(from) {
			delete(seen, x.Head().ID)
			continue
		}
		kept = append(kept, x)
	}
	var zero T
	for i := len(kept); i < len(xs); i++ {
		xs[i] = zero // let the collector have them
	}
	if max > 0 && len(kept) > max {
		sort.SliceStable(kept, func(i, j int) bool { return kept[i].Head().Time.Before(kept[j].Head().Time) })
		n := len(kept) - max
		for _, x := range kept[:n] {
			delete(seen, x.Head().ID)
		}
		*dropped += n
		// A fresh array, so the evicted events can be collected.
		kept = append([]T(nil), kept[n:]...)
	}
	return kept
}

// snapshot returns copies of the slices, safe to hand to an evaluation
// while new events keep arriving.
func (h *history) snapshot() ([]*events.NearMiss, []*events.TrackSummary, []signals.VehicleCount) {
	counts := make([]signals.VehicleCount, 0, len(h.vehicles))
	for k, n := range h.vehicles {
		k.Vehicles = n
		counts = append(counts, k)
	}
	return append([]*events.NearMiss(nil), h.nms...), append([]*events.TrackSummary(nil), h.tracks...), counts
}
