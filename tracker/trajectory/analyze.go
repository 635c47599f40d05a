package trajectory

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/intersect-oss/intersect/events"
	"github.com/intersect-oss/intersect/tracker/conflict"
)

// ConflictHeader is the conflicts CSV header (DESIGN.md).
var ConflictHeader = []string{"id", "track_a", "class_a", "track_b", "class_b", "start_s", "end_s",
	"min_ttc_s", "t_min_ttc_s", "pet_s", "max_drac_mps2", "min_distance_m", "speed_a_mps", "speed_b_mps",
	"angle_deg", "type", "severity", "x_m", "y_m"}

// WriteConflicts writes encounters as the conflicts CSV; undefined measures
// are empty cells.
func WriteConflicts(w io.Writer, encs []conflict.Encounter) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(ConflictHeader); err != nil {
		return fmt.Errorf("writing conflicts header: %w", err)
	}
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', 3, 64) }
	opt := func(p *float64) string {
		if p == nil {
			return ""
		}
		return f(*p)
	}
	for _, e := range encs {
		rec := []string{
			strconv.FormatInt(e.ID, 10),
			strconv.FormatInt(e.TrackA, 10), string(e.ClassA),
			strconv.FormatInt(e.TrackB, 10), string(e.ClassB),
			f(e.StartS), f(e.EndS),
			opt(e.MinTTCS), opt(e.TMinTTCS), opt(e.PETS), opt(e.MaxDRACMPS2),
			f(e.MinDistanceM), f(e.SpeedAMPS), f(e.SpeedBMPS), f(e.AngleDeg),
			string(e.Type), string(e.Severity), f(e.XM), f(e.YM),
		}
		if err := cw.Write(rec); err != nil {
			return fmt.Errorf("writing conflict %d: %w", e.ID, err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("writing conflicts CSV: %w", err)
	}
	return nil
}

// Summary is DIR/summary.json of `intersect analyze`.
type Summary struct {
	Input                string                      `json:"input"`
	Rows                 int                         `json:"rows"`
	DurationS            float64                     `json:"duration_s"`
	Frames               int                         `json:"frames"`
	UsersByClass         map[events.Class]int        `json:"users_by_class"`
	Encounters           int                         `json:"encounters"` // near misses + interactions
	NearMisses           int                         `json:"near_misses"`
	NearMissesByType     map[events.ConflictType]int `json:"near_misses_by_type"`
	NearMissesBySeverity map[events.Severity]int     `json:"near_misses_by_severity"`
	InteractionsByType   map[events.ConflictType]int `json:"interactions_by_type"`
	NearMissesByMovement map[string]int              `json:"near_misses_by_movement,omitempty"`
	DRACFlagged          int                         `json:"drac_flagged"`
	Candidates           int64                       `json:"candidates"`
	Suppressed           map[string]int64            `json:"suppressed"`
	SuppressedShare      float64                     `json:"suppressed_share"`
	DroppedRows          map[string]int              `json:"dropped_rows"`
	EstimatedRows        map[string]int              `json:"estimated_rows"`
	Engine               conflict.Stats              `json:"engine"`
	ProcessingS          float64                     `json:"processing_s"`
	FramesPerS           float64                     `json:"frames_per_s"`
}

// Analyze runs the conflict engine over the trajectory file at inPath and
// writes outDir/conflicts.csv and outDir/summary.json. Read errors are
// returned as *InputError so callers can tell bad input from failures.
func Analyze(ctx context.Context, inPath, outDir string, cfg conflict.Config) (*Summary, []conflict.Encounter, error) {
	began := time.Now()
	f, err := os.Open(inPath)
	if err != nil {
		return nil, nil, &InputError{fmt.Errorf("opening trajectories: %w", err)}
	}
	defer f.Close()
	rows, rep, err := Read(f, inPath)
	if err != nil {
		return nil, nil, &InputError{err}
	}
	frames := Frames(rows)
	eng := conflict.NewEngine(cfg)
	var encs []conflict.Encounter
	for i, fr := range frames {
		if i%256 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, nil, fmt.Errorf("analyzing %s: %w", inPath, err)
			}
		}
		encs = append(encs, eng.Step(fr)...)
	}
	encs = append(encs, eng.Flush()...)

	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return nil, nil, fmt.Errorf("creating output directory: %w", err)
	}
	if err := writeFile(filepath.Join(outDir, "conflicts.csv"), func(w io.Writer) error { return WriteConflicts(w, encs) }); err != nil {
		return nil, nil, err
	}
	st := eng.Stats()
	s := &Summary{
		Input: inPath, Rows: rep.Rows, DurationS: rep.DurationS, Frames: len(frames), UsersByClass: rep.ByClass,
		Encounters: len(encs), NearMissesByType: map[events.ConflictType]int{}, NearMissesBySeverity: map[events.Severity]int{},
		InteractionsByType: map[events.ConflictType]int{}, NearMissesByMovement: map[string]int{},
		Candidates: st.Candidates, Suppressed: st.Suppressed, SuppressedShare: st.SuppressedShare(),
		DroppedRows: rep.Dropped, EstimatedRows: rep.Estimated, Engine: st,
	}
	for _, e := range encs {
		if e.DRACFlagged {
			s.DRACFlagged++
		}
		if !e.NearMiss() {
			s.InteractionsByType[e.Type]++
			continue
		}
		s.NearMisses++
		s.NearMissesByType[e.Type]++
		s.NearMissesBySeverity[e.Severity]++
		if e.Movement != "" {
			s.NearMissesByMovement[e.Movement]++
		}
	}
	s.ProcessingS = time.Since(began).Seconds()
	if s.ProcessingS > 0 {
		s.FramesPerS = float64(len(frames)) / s.ProcessingS
	}
	err = writeFile(filepath.Join(outDir, "summary.json"), func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(s)
	})
	if err != nil {
		return nil, nil, err
	}
	return s, encs, nil
}

// InputError marks a problem with the input file rather than a failure.
type InputError struct{ Err error }

func (e *InputError) Error() string { return e.Err.Error() }
func (e *InputError) Unwrap() error { return e.Err }

func writeFile(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("creating %s: %w", path, err)
	}
	if err := write(f); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("closing %s: %w", path, err)
	}
	return nil
}
