package tracker

import "slices"

// FrameTracks is the output of one frame of an offline run.
type FrameTracks struct {
	Frame  int // 1-based
	Tracks []Track
}

// OfflineOptions are post-processing steps that need the whole sequence, so
// they apply to offline runs (intersect track, analysis of recordings) and
// not to the live edge worker.
type OfflineOptions struct {
	// Backfill also reports a track's boxes from before it was confirmed
	// (its tentative frames), once it is: the first frames of every road
	// user are otherwise lost to the MinHits wait.
	Backfill bool
	// MaxGap, when > 0, fills gaps of up to MaxGap frames in a track by
	// linear interpolation between the boxes on either side, as ByteTrack's
	// and OC-SORT's offline interpolation do: a road user hidden for a few
	// frames did not vanish.
	MaxGap int
}

// TrackSequence runs a fresh tracker with cfg over frames (frames[k] holds the
// detections of frame k+1) and returns, for each frame, the tracks to report,
// in ascending ID order.
func TrackSequence(frames [][]Detection, cfg Config, opt OfflineOptions) []FrameTracks {
	t := New(cfg)
	out := make([]FrameTracks, len(frames))
	confirmed := map[int64]bool{}
	pending := map[int64][]FrameTracks{} // tentative boxes, per track, until confirmed
	for k, dets := range frames {
		out[k].Frame = k + 1
		out[k].Tracks = t.Update(dets)
		for _, tr := range out[k].Tracks {
			if !confirmed[tr.ID] {
				confirmed[tr.ID] = true
				if opt.Backfill {
					for _, p := range pending[tr.ID] {
						out[p.Frame-1].Tracks = append(out[p.Frame-1].Tracks, p.Tracks...)
					}
				}
				delete(pending, tr.ID)
			}
		}
		if opt.Backfill {
			for _, tr := range t.Tracks() {
				if tr.State == Tentative && tr.TimeSinceUpdate == 0 {
					pending[tr.ID] = append(pending[tr.ID], FrameTracks{k + 1, []Track{tr}})
				}
			}
			// Forget tracks that died tentative.
			for id := range pending {
				if !t.alive(id) {
					delete(pending, id)
				}
			}
		}
	}
	if opt.MaxGap > 0 {
		interpolate(out, opt.MaxGap)
	}
	for k := range out {
		slices.SortFunc(out[k].Tracks, func(a, b Track) int { return int(a.ID - b.ID) })
	}
	return out
}

func (t *Tracker) alive(id int64) bool {
	_, ok := slices.BinarySearchFunc(t.tracks, id, func(tr *track, id int64) int { return int(tr.ID - id) })
	return ok
}

// interpolate fills gaps of at most maxGap frames in each track linearly.
func interpolate(out []FrameTracks, maxGap int) {
	last := map[int64]int{} // track ID → index of the last frame it was reported
	for k := range out {
		for _, tr := range out[k].Tracks {
			if p, ok := last[tr.ID]; ok && k-p > 1 && k-p-1 <= maxGap {
				var prev Track
				for _, q := range out[p].Tracks {
					if q.ID == tr.ID {
						prev = q
					}
				}
				for g := p + 1; g < k; g++ {
					f := float64(g-p) / float64(k-p)
					mid := prev
					mid.Box = Box{
						X: prev.X + f*(tr.X-prev.X), Y: prev.Y + f*(tr.Y-prev.Y),
						W: prev.W + f*(tr.W-prev.W), H: prev.H + f*(tr.H-prev.H),
					}
					mid.TimeSinceUpdate = g - p
					mid.State = Lost
					out[g].Tracks = append(out[g].Tracks, mid)
				}
			}
			last[tr.ID] = k
		}
	}
}

// DefaultOfflineOptions returns the post-processing used by intersect track
// and the MOT15 benchmark: backfill on, gaps of up to 20 frames interpolated.
func DefaultOfflineOptions() OfflineOptions { return OfflineOptions{Backfill: true, MaxGap: 20} }
