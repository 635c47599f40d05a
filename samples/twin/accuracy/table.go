package accuracy

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/intersect-oss/intersect/events"
	"github.com/intersect-oss/intersect/tracker/conflict"
)

// Table is the report as a readable text table.
func (r *Report) Table() string {
	var b strings.Builder
	pct := func(c Count) string {
		if c.Total == 0 {
			return "     -"
		}
		return fmt.Sprintf("%5.1f%% (%d/%d)", 100*c.Share(), c.Matched, c.Total)
	}
	num := func(v float64, unit string) string {
		if math.IsNaN(v) {
			return "-"
		}
		return fmt.Sprintf("%.3f %s", v, unit)
	}
	fmt.Fprintf(&b, "end-to-end accuracy: twin seed %d, %.0f s, %d frames, detector %s, %.0f frames/s\n",
		r.Seed, r.DurationS, r.Frames, r.Detector, r.ProcessingFPS)
	d := r.Detection
	fmt.Fprintf(&b, "detection (IoU ≥ 0.5)   recall %s  precision %s  class correct %s\n", pct(d.Recall), pct(d.Precision), pct(d.ClassOK))
	var classes []events.Class
	seen := map[events.Class]bool{}
	for c := range d.RecallBy {
		seen[c] = true
	}
	for c := range d.PrecBy {
		seen[c] = true
	}
	for c := range seen {
		classes = append(classes, c)
	}
	sort.Slice(classes, func(i, j int) bool { return classes[i] < classes[j] })
	for _, c := range classes {
		fmt.Fprintf(&b, "  %-12s          recall %s  precision %s\n", c, pct(d.RecallBy[c]), pct(d.PrecBy[c]))
	}
	m := r.MOT
	fmt.Fprintf(&b, "tracking                MOTA %.3f  IDF1 %.3f  HOTA %.3f  IDsw %d  FP %d  FN %d  (true IDs %d)\n",
		m.MOTA, m.IDF1, m.HOTA, m.IDSw, m.FP, m.FN, m.GTIDs)
	g := r.Ground
	fmt.Fprintf(&b, "ground plane            position RMSE %s  speed RMSE %s  (%d samples; %d output rows unmatched)\n",
		num(g.PositionRMSEM, "m"), num(g.SpeedRMSEMPS, "m/s"), g.Samples, g.UnmatchedOutput)
	var gc []events.Class
	for c := range g.SamplesBy {
		gc = append(gc, c)
	}
	sort.Slice(gc, func(i, j int) bool { return gc[i] < gc[j] })
	for _, c := range gc {
		fmt.Fprintf(&b, "  %-12s          position RMSE %s  speed RMSE %s  (%d)\n", c,
			num(g.PositionRMSEBy[c], "m"), num(g.SpeedRMSEByMPS[c], "m/s"), g.SamplesBy[c])
	}
	fmt.Fprintf(&b, "vehicle movements       correct %s  (%d summaries of vehicles that drove 10 m had none)\n", pct(r.Movements.Correct), r.Movements.Missing)
	c := r.Conflicts
	fmt.Fprintf(&b, "near misses             recall %s  precision %s  type correct %s\n", pct(c.NearMissRecall), pct(c.NearMissPrecision), pct(c.TypeOK))
	fmt.Fprintf(&b, "  in view at conflict   recall %s\n", pct(c.ObservableRecall))
	fmt.Fprintf(&b, "all encounters          recall %s  precision %s\n", pct(c.EncounterRecall), pct(c.EncounterPrec))
	fmt.Fprintf(&b, "TTC abs error           median %s  p90 %s  (n %d)\n", num(c.TTCErrS.Median, "s"), num(c.TTCErrS.P90, "s"), c.TTCErrS.N)
	fmt.Fprintf(&b, "PET abs error           median %s  p90 %s  (n %d)\n", num(c.PETErrS.Median, "s"), num(c.PETErrS.P90, "s"), c.PETErrS.N)
	fmt.Fprintf(&b, "  %-34s %-44s %-44s\n", "scripted", "truth (t, TTC, PET, type)", "output (t, TTC, PET, type)")
	for _, p := range c.Pairs {
		name := p.Scripted
		if name == "" {
			name = "-"
		}
		if p.Truth != nil && p.Truth.NearMiss() && !p.Observable {
			name += " (out of view)"
		}
		fmt.Fprintf(&b, "  %-34s %-44s %-44s\n", name, encString(p.Truth), encString(p.Output))
	}
	return b.String()
}

func encString(e *conflict.Encounter) string {
	if e == nil {
		return "none"
	}
	f := func(p *float64) string {
		if p == nil {
			return "-"
		}
		return fmt.Sprintf("%.2f", *p)
	}
	sev := string(e.Severity)
	if sev == "" {
		sev = "interaction"
	}
	return fmt.Sprintf("%5.1fs %4s %4s %s %s", e.TimeS, f(e.MinTTCS), f(e.PETS), e.Type, sev)
}
