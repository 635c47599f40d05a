package accuracy

import (
	"fmt"
	"math"
	"sort"

	"github.com/intersect-oss/intersect/edge/detect"
	"github.com/intersect-oss/intersect/events"
	"github.com/intersect-oss/intersect/samples/twin"
	"github.com/intersect-oss/intersect/tracker"
	"github.com/intersect-oss/intersect/tracker/conflict"
	"github.com/intersect-oss/intersect/tracker/mot"
	"github.com/intersect-oss/intersect/tracker/trajectory"
)

// minIoU is the overlap at which a box matches a true box.
const minIoU = 0.5

// Count is a matched/total tally.
type Count struct{ Matched, Total int }

// Share is Matched/Total, NaN when Total is 0.
func (c Count) Share() float64 {
	if c.Total == 0 {
		return math.NaN()
	}
	return float64(c.Matched) / float64(c.Total)
}

// DetectionReport compares detector boxes with true boxes.
type DetectionReport struct {
	Recall    Count                  // true boxes matched
	Precision Count                  // detections matched
	ClassOK   Count                  // matched detections with the true class
	RecallBy  map[events.Class]Count // by true class
	PrecBy    map[events.Class]Count // by detected class
}

// matchBoxes matches true boxes (rows) to output boxes (columns) one to
// one, the most pairs with IoU ≥ minIoU and among those the best overlap.
func matchBoxes(truth, out []tracker.Box) ([]tracker.Match, error) {
	if len(truth) == 0 || len(out) == 0 {
		return nil, nil
	}
	cost := make([][]float64, len(truth))
	for i, g := range truth {
		cost[i] = make([]float64, len(out))
		for j, o := range out {
			cost[i][j] = 1 - tracker.IoU(g, o)
		}
	}
	return tracker.MatchMaxCardinality(cost, 1-minIoU)
}

func motBox(r mot.Row) tracker.Box { return tracker.Box{X: r.Left, Y: r.Top, W: r.Width, H: r.Height} }

// compareDetections scores dets (by 0-based frame) against the true boxes.
func compareDetections(truth []mot.Row, classOf map[int64]events.Class, dets [][]detect.Detection) (DetectionReport, error) {
	r := DetectionReport{RecallBy: map[events.Class]Count{}, PrecBy: map[events.Class]Count{}}
	frames := framesOf(truth)
	n := max(len(frames), len(dets))
	for f := 0; f < n; f++ {
		var gt []mot.Row
		if f < len(frames) {
			gt = frames[f]
		}
		var ds []detect.Detection
		if f < len(dets) {
			ds = dets[f]
		}
		gb := make([]tracker.Box, len(gt))
		for i, g := range gt {
			gb[i] = motBox(g)
		}
		db := make([]tracker.Box, len(ds))
		for j, d := range ds {
			db[j] = tracker.Box{X: float64(d.Box.Min.X), Y: float64(d.Box.Min.Y), W: float64(d.Box.Dx()), H: float64(d.Box.Dy())}
		}
		ms, err := matchBoxes(gb, db)
		if err != nil {
			return r, fmt.Errorf("accuracy: matching detections of frame %d: %w", f+1, err)
		}
		gotT, gotD := make([]bool, len(gt)), make([]bool, len(ds))
		for _, m := range ms {
			gotT[m.Row], gotD[m.Col] = true, true
			r.ClassOK.Total++
			if ds[m.Col].Class == classOf[gt[m.Row].ID] {
				r.ClassOK.Matched++
			}
		}
		for i, g := range gt {
			c := classOf[g.ID]
			k := r.RecallBy[c]
			k.Total++
			r.Recall.Total++
			if gotT[i] {
				k.Matched++
				r.Recall.Matched++
			}
			r.RecallBy[c] = k
		}
		for j, d := range ds {
			k := r.PrecBy[d.Class]
			k.Total++
			r.Precision.Total++
			if gotD[j] {
				k.Matched++
				r.Precision.Matched++
			}
			r.PrecBy[d.Class] = k
		}
	}
	return r, nil
}

// framesOf groups MOT rows by 0-based frame index (row.Frame − 1).
func framesOf(rows []mot.Row) [][]mot.Row {
	var out [][]mot.Row
	for _, r := range rows {
		f := r.Frame - 1
		for len(out) <= f {
			out = append(out, nil)
		}
		out[f] = append(out[f], r)
	}
	return out
}

// identities says which true road user an output track is.
type identities struct {
	// perFrame[f][outID] is the true ID matched at 0-based frame f.
	perFrame []map[int64]int64
	// whole[outID] is the true ID the track matched in most of its frames.
	whole map[int64]int64
}

func matchIdentities(truth, out []mot.Row) (identities, error) {
	gtF, outF := framesOf(truth), framesOf(out)
	n := max(len(gtF), len(outF))
	ids := identities{perFrame: make([]map[int64]int64, n), whole: map[int64]int64{}}
	votes := map[int64]map[int64]int{}
	for f := 0; f < n; f++ {
		var gt, hy []mot.Row
		if f < len(gtF) {
			gt = gtF[f]
		}
		if f < len(outF) {
			hy = outF[f]
		}
		gb, hb := make([]tracker.Box, len(gt)), make([]tracker.Box, len(hy))
		for i := range gt {
			gb[i] = motBox(gt[i])
		}
		for j := range hy {
			hb[j] = motBox(hy[j])
		}
		ms, err := matchBoxes(gb, hb)
		if err != nil {
			return ids, fmt.Errorf("accuracy: matching tracks of frame %d: %w", f+1, err)
		}
		ids.perFrame[f] = map[int64]int64{}
		for _, m := range ms {
			o, g := hy[m.Col].ID, gt[m.Row].ID
			ids.perFrame[f][o] = g
			if votes[o] == nil {
				votes[o] = map[int64]int{}
			}
			votes[o][g]++
		}
	}
	for o, vs := range votes {
		best, bestN := int64(0), 0
		for g, k := range vs {
			if k > bestN || k == bestN && g < best {
				best, bestN = g, k
			}
		}
		ids.whole[o] = best
	}
	return ids, nil
}

// GroundReport compares ground-plane states of matched tracks.
type GroundReport struct {
	Samples         int
	PositionRMSEM   float64
	SpeedRMSEMPS    float64
	PositionRMSEBy  map[events.Class]float64 // by true class
	SpeedRMSEByMPS  map[events.Class]float64
	SamplesBy       map[events.Class]int
	UnmatchedOutput int // output rows whose track matched no true user in that frame
}

// compareGround compares each output trajectory row with the true state of
// the user its track matched in the same frame.
func compareGround(truth, out []trajectory.Row, ids identities, fps float64) GroundReport {
	type key struct {
		f  int
		id int64
	}
	at := map[key]trajectory.Row{}
	for _, r := range truth {
		at[key{int(math.Round(r.T * fps)), r.TrackID}] = r
	}
	r := GroundReport{PositionRMSEBy: map[events.Class]float64{}, SpeedRMSEByMPS: map[events.Class]float64{}, SamplesBy: map[events.Class]int{}}
	var sp, ss float64
	for _, o := range out {
		f := int(math.Round(o.T * fps))
		var g int64
		ok := false
		if f >= 0 && f < len(ids.perFrame) {
			g, ok = ids.perFrame[f][o.TrackID]
		}
		t, okT := at[key{f, g}]
		if !ok || !okT {
			r.UnmatchedOutput++
			continue
		}
		dp := math.Pow(o.X-t.X, 2) + math.Pow(o.Y-t.Y, 2)
		ds := math.Pow(math.Hypot(o.VX, o.VY)-math.Hypot(t.VX, t.VY), 2)
		sp += dp
		ss += ds
		r.Samples++
		r.PositionRMSEBy[t.Class] += dp
		r.SpeedRMSEByMPS[t.Class] += ds
		r.SamplesBy[t.Class]++
	}
	if r.Samples > 0 {
		r.PositionRMSEM = math.Sqrt(sp / float64(r.Samples))
		r.SpeedRMSEMPS = math.Sqrt(ss / float64(r.Samples))
	}
	for c, n := range r.SamplesBy {
		r.PositionRMSEBy[c] = math.Sqrt(r.PositionRMSEBy[c] / float64(n))
		r.SpeedRMSEByMPS[c] = math.Sqrt(r.SpeedRMSEByMPS[c] / float64(n))
	}
	return r
}

// ConflictReport compares the pipeline's encounters with the truth's.
type ConflictReport struct {
	NearMissRecall Count // true near misses matched by an output near miss
	// ObservableRecall is NearMissRecall over the true near misses whose
	// two users are both in view (in truth.mot.txt) at the conflict time:
	// a camera cannot measure a TTC to a car that has not entered its
	// picture yet.
	ObservableRecall  Count
	NearMissPrecision Count // output near misses matched to a true near miss
	EncounterRecall   Count // true encounters (near misses and interactions) matched
	EncounterPrec     Count // output encounters matched
	TypeOK            Count // matched near-miss pairs typed as the truth types them
	TTCErrS           Errors
	PETErrS           Errors
	Pairs             []ConflictPair // every true near miss and every output near miss
}

// Errors summarises absolute errors.
type Errors struct {
	N           int
	Median, P90 float64 // NaN when N is 0
	Max         float64
	values      []float64
}

func (e *Errors) add(v float64) { e.values = append(e.values, math.Abs(v)) }

func (e *Errors) finish() {
	e.N = len(e.values)
	sort.Float64s(e.values)
	e.Median, e.P90 = quantile(e.values, 0.5), quantile(e.values, 0.9)
	e.Max = math.NaN()
	if e.N > 0 {
		e.Max = e.values[e.N-1]
	}
}

// quantile of sorted values by linear interpolation between order
// statistics (Hyndman & Fan type 7, as NumPy's default); NaN when empty.
func quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return math.NaN()
	}
	h := q * float64(len(sorted)-1)
	lo := int(math.Floor(h))
	if lo+1 >= len(sorted) {
		return sorted[len(sorted)-1]
	}
	return sorted[lo] + (h-float64(lo))*(sorted[lo+1]-sorted[lo])
}

// ConflictPair is a true near miss and/or an output near miss, with the
// encounter it matched on the other side (nil when none).
type ConflictPair struct {
	Scripted   string // the twin's scripted encounter with the same true users, if any
	Observable bool   // a true near miss whose users are both in view at its conflict time
	Truth      *conflict.Encounter
	Output     *conflict.Encounter
}

type tpair struct{ a, b int64 }

func mkPair(a, b int64) tpair {
	if a > b {
		a, b = b, a
	}
	return tpair{a, b}
}

// resolver says which true user output track id was between t0 and t1 (s).
type resolver func(id int64, t0, t1 float64) (int64, bool)

// during resolves a track by the true user it matched most often in the
// frames of [t0, t1], and by its whole-track identity when it matched none
// there: a track that switched from one person to another is, for an
// encounter, the person it followed during the encounter.
func (ids identities) during(fps float64) resolver {
	return func(id int64, t0, t1 float64) (int64, bool) {
		votes := map[int64]int{}
		for f := max(0, int(math.Floor(t0*fps))); f <= int(math.Ceil(t1*fps)) && f < len(ids.perFrame); f++ {
			if g, ok := ids.perFrame[f][id]; ok {
				votes[g]++
			}
		}
		best, bestN := int64(0), 0
		for g, n := range votes {
			if n > bestN || n == bestN && g < best {
				best, bestN = g, n
			}
		}
		if bestN > 0 {
			return best, true
		}
		g, ok := ids.whole[id]
		return g, ok
	}
}

// wholeTrack resolves a track by its whole-track identity only.
func wholeTrack(whole map[int64]int64) resolver {
	return func(id int64, _, _ float64) (int64, bool) { g, ok := whole[id]; return g, ok }
}

// matchEncounters matches output encounters to true ones (see the package
// comment); it returns, per true encounter, the index of its output match
// or −1, and the same per output encounter.
func matchEncounters(truth, out []conflict.Encounter, who resolver) (tm, om []int) {
	type cand struct {
		i, j int
		dt   float64
	}
	var cs []cand
	byPair := map[tpair][]int{}
	for i, g := range truth {
		k := mkPair(g.TrackA, g.TrackB)
		byPair[k] = append(byPair[k], i)
	}
	for j, o := range out {
		a, okA := who(o.TrackA, o.StartS-MatchToleranceS, o.EndS+MatchToleranceS)
		b, okB := who(o.TrackB, o.StartS-MatchToleranceS, o.EndS+MatchToleranceS)
		if !okA || !okB || a == b {
			continue
		}
		for _, i := range byPair[mkPair(a, b)] {
			g := truth[i]
			if o.StartS-MatchToleranceS <= g.EndS && g.StartS <= o.EndS+MatchToleranceS {
				cs = append(cs, cand{i, j, math.Abs(o.TimeS - g.TimeS)})
			}
		}
	}
	sort.SliceStable(cs, func(x, y int) bool { return cs[x].dt < cs[y].dt })
	tm, om = fill(len(truth)), fill(len(out))
	for _, c := range cs {
		if tm[c.i] < 0 && om[c.j] < 0 {
			tm[c.i], om[c.j] = c.j, c.i
		}
	}
	return tm, om
}

func fill(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = -1
	}
	return s
}

// compareConflicts compares output encounters with true ones; visible
// says whether a true user is in the picture at a time (nil: always).
func compareConflicts(truth, out []conflict.Encounter, who resolver, scripted []twin.Scripted, visible func(id int64, tS float64) bool) ConflictReport {
	var r ConflictReport
	tm, om := matchEncounters(truth, out, who)
	names := map[tpair]string{}
	for _, s := range scripted {
		names[mkPair(int64(s.Vehicle), int64(s.Ped))] = s.Name
	}
	for i := range truth {
		g := &truth[i]
		r.EncounterRecall.Total++
		if tm[i] >= 0 {
			r.EncounterRecall.Matched++
			o := &out[tm[i]]
			if g.MinTTCS != nil && o.MinTTCS != nil {
				r.TTCErrS.add(*o.MinTTCS - *g.MinTTCS)
			}
			if g.PETS != nil && o.PETS != nil {
				r.PETErrS.add(*o.PETS - *g.PETS)
			}
		}
		if !g.NearMiss() {
			continue
		}
		p := ConflictPair{Scripted: names[mkPair(g.TrackA, g.TrackB)], Truth: g}
		p.Observable = visible == nil || visible(g.TrackA, g.TimeS) && visible(g.TrackB, g.TimeS)
		r.NearMissRecall.Total++
		if p.Observable {
			r.ObservableRecall.Total++
		}
		if j := tm[i]; j >= 0 {
			p.Output = &out[j]
			if out[j].NearMiss() {
				r.NearMissRecall.Matched++
				if p.Observable {
					r.ObservableRecall.Matched++
				}
				r.TypeOK.Total++
				if out[j].Type == g.Type {
					r.TypeOK.Matched++
				}
			}
		}
		r.Pairs = append(r.Pairs, p)
	}
	for j := range out {
		o := &out[j]
		r.EncounterPrec.Total++
		if om[j] >= 0 {
			r.EncounterPrec.Matched++
		}
		if !o.NearMiss() {
			continue
		}
		r.NearMissPrecision.Total++
		if i := om[j]; i >= 0 && truth[i].NearMiss() {
			r.NearMissPrecision.Matched++
			continue // listed with its true near miss
		}
		p := ConflictPair{Output: o}
		if i := om[j]; i >= 0 {
			p.Truth = &truth[i]
			p.Scripted = names[mkPair(truth[i].TrackA, truth[i].TrackB)]
		}
		r.Pairs = append(r.Pairs, p)
	}
	r.TTCErrS.finish()
	r.PETErrS.finish()
	return r
}
