package tracker_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"text/tabwriter"

	"github.com/intersect-oss/intersect/events"
	"github.com/intersect-oss/intersect/internal/testenv"
	"github.com/intersect-oss/intersect/tracker"
	"github.com/intersect-oss/intersect/tracker/mot"
	"github.com/intersect-oss/intersect/tracker/motmetrics"
)

// The 11 MOT15 train sequences with public detections (mot15/README.txt),
// and their frame rates.
var mot15 = []struct {
	name string
	fps  float64
}{
	{"ADL-Rundle-6", 30}, {"ADL-Rundle-8", 30}, {"ETH-Bahnhof", 14}, {"ETH-Pedcross2", 14},
	{"ETH-Sunnyday", 14}, {"KITTI-13", 10}, {"KITTI-17", 10}, {"PETS09-S2L1", 7},
	{"TUD-Campus", 25}, {"TUD-Stadtmitte", 25}, {"Venice-2", 30},
}

// withGT are the sequences whose ground truth is in mot15/gt: "combined"
// below means over these two only.
var withGT = []string{"TUD-Campus", "PETS09-S2L1"}

type sequence struct {
	name string
	fps  float64
	dets [][]tracker.Detection
	gt   []mot.Row // nil without ground truth
}

func loadMOT15(tb testing.TB) []sequence {
	tb.Helper()
	dir := testenv.SharedData(tb, "mot15")
	var seqs []sequence
	for _, s := range mot15 {
		rows, err := mot.ReadFile(filepath.Join(dir, "det", s.name+".txt"))
		if err != nil {
			tb.Fatal(err)
		}
		seq := sequence{name: s.name, fps: s.fps, dets: mot.Detections(rows, events.Pedestrian)}
		if gt, err := mot.ReadFile(filepath.Join(dir, "gt", s.name, "gt.txt")); err == nil {
			seq.gt = gt
		} else if !os.IsNotExist(err) {
			tb.Fatal(err)
		}
		seqs = append(seqs, seq)
	}
	return seqs
}

// score runs the offline tracker on every sequence with ground truth and
// returns the per-sequence results, in withGT order, and the combined one.
func score(tb testing.TB, seqs []sequence, cfg func(fps float64) tracker.Config, opt tracker.OfflineOptions) (map[string]motmetrics.Result, motmetrics.Result) {
	per := map[string]motmetrics.Result{}
	var all []motmetrics.Result
	for _, s := range seqs {
		if s.gt == nil {
			continue
		}
		res := mot.Results(tracker.TrackSequence(s.dets, cfg(s.fps), opt))
		r, err := motmetrics.Evaluate(s.gt, res)
		if err != nil {
			tb.Fatal(err)
		}
		per[s.name] = r
		all = append(all, r)
	}
	return per, motmetrics.Combine(all...)
}

// TestBeatsSORT is a quality floor: on the two MOT15 sequences with ground
// truth, the offline tracker with its defaults must beat SORT's MOTA and IDF1
// (mot15/README.txt: TUD-Campus 62.67 / 60.65, PETS09-S2L1 60.30 / 34.50).
func TestBeatsSORT(t *testing.T) {
	per, combined := score(t, loadMOT15(t), tracker.ConfigForFPS, tracker.DefaultOfflineOptions())
	sort := map[string][2]float64{"TUD-Campus": {0.6267, 0.6065}, "PETS09-S2L1": {0.6030, 0.3450}}
	for name, floor := range sort {
		r := per[name]
		if r.MOTA <= floor[0] || r.IDF1 <= floor[1] {
			t.Errorf("%s: MOTA %.4f IDF1 %.4f, SORT has %.4f / %.4f", name, r.MOTA, r.IDF1, floor[0], floor[1])
		}
	}
	t.Logf("combined: HOTA %.4f MOTA %.4f IDF1 %.4f IDsw %d", combined.HOTA, combined.MOTA, combined.IDF1, combined.IDSw)
}

var printOnce sync.Once

// BenchmarkMOT15 runs the offline tracker over all 11 sequences per
// iteration and prints, once, the scores where ground truth exists.
func BenchmarkMOT15(b *testing.B) {
	seqs := loadMOT15(b)
	cfg, opt := tracker.ConfigForFPS, tracker.DefaultOfflineOptions()
	frames := 0
	for _, s := range seqs {
		frames += len(s.dets)
	}
	b.ResetTimer()
	for b.Loop() {
		for _, s := range seqs {
			tracker.TrackSequence(s.dets, cfg(s.fps), opt)
		}
	}
	b.ReportMetric(float64(frames*b.N)/b.Elapsed().Seconds(), "frames/s")
	b.StopTimer()
	per, combined := score(b, seqs, cfg, opt)
	printOnce.Do(func() {
		var sb strings.Builder
		w := tabwriter.NewWriter(&sb, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(w, "sequence\tframes\tHOTA\tMOTA\tIDF1\tIDsw\tFP\tFN\tMT\tML\tFrag\t")
		// Only TUD-Campus and PETS09-S2L1 have ground truth in mot15/gt; the
		// others are tracked (and timed) but cannot be scored.
		for _, s := range seqs {
			r, ok := per[s.name]
			if !ok {
				fmt.Fprintf(w, "%s\t%d\t-\t-\t-\t-\t-\t-\t-\t-\t-\t\n", s.name, len(s.dets))
				continue
			}
			fmt.Fprintf(w, "%s\t%d\t%.2f\t%.2f\t%.2f\t%d\t%d\t%d\t%d\t%d\t%d\t\n", s.name, r.Frames,
				100*r.HOTA, 100*r.MOTA, 100*r.IDF1, r.IDSw, r.FP, r.FN, r.MT, r.ML, r.Frag)
		}
		c := combined
		fmt.Fprintf(w, "combined (%s only)\t%d\t%.2f\t%.2f\t%.2f\t%d\t%d\t%d\t%d\t%d\t%d\t\n", strings.Join(withGT, "+"), c.Frames,
			100*c.HOTA, 100*c.MOTA, 100*c.IDF1, c.IDSw, c.FP, c.FN, c.MT, c.ML, c.Frag)
		w.Flush()
		fmt.Print("\nMOT15 public detections, intersect tracker (defaults, offline backfill + interpolation; - = no ground truth):\n" + sb.String())
	})
}

// BenchmarkTrackerAssociation measures the online tracker alone (no
// post-processing, no file IO) over the 11 detection files, on one core.
func BenchmarkTrackerAssociation(b *testing.B) {
	seqs := loadMOT15(b)
	frames := 0
	for _, s := range seqs {
		frames += len(s.dets)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		for _, s := range seqs {
			t := tracker.New(tracker.ConfigForFPS(s.fps))
			for _, d := range s.dets {
				t.Update(d)
			}
		}
	}
	b.ReportMetric(float64(frames*b.N)/b.Elapsed().Seconds(), "frames/s")
}
