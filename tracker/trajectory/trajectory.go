// Package trajectory reads and writes the ground-plane trajectory files of
// DESIGN.md (the input of `intersect analyze`, the output of the edge
// worker's track dump), writes the conflicts CSV, and runs the conflict
// engine over a whole file (Analyze).
//
// Reading policy: structural problems (missing or wrong header, wrong field
// count, unparsable numbers, unknown classes, time going backwards within a
// track, speeds that say the file is in pixels) are errors naming the line;
// isolated bad rows (NaN/Inf values, duplicate (t, id) rows, implausible
// speeds) are dropped and counted by reason in the Report, which the caller
// prints. Empty velocities and headings are estimated from positions, empty
// extents are left to the engine's class defaults; the Report says how many.
package trajectory

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/intersect-oss/intersect/events"
	"github.com/intersect-oss/intersect/tracker/conflict"
)

// Header is the trajectory CSV header.
var Header = []string{"t_s", "track_id", "class", "x_m", "y_m", "vx_mps", "vy_mps", "length_m", "width_m", "heading_rad"}

const nFields = 10 // len(Header)

// Row is one road user's state at one time. Length and Width are 0 when the
// file left them empty (the engine then uses its class defaults).
type Row struct {
	T       float64
	TrackID int64
	Class   events.Class
	X, Y    float64
	VX, VY  float64
	Length  float64
	Width   float64
	Heading float64
	line    int
}

// Reasons rows are dropped, and estimates made, as counted in Report.
const (
	DropNonFinite = "NaN or Inf value"
	DropDuplicate = "duplicate (t_s, track_id)"
	DropSpeed     = "implausible speed (> 70 m/s)"

	EstVelocity = "velocity estimated from positions"
	EstHeading  = "heading estimated from velocity"
	EstExtents  = "extents left empty (class defaults)"
)

// maxPlausibleSpeedMPS: no road user at an intersection moves at 70 m/s
// (250 km/h); a file full of such speeds is in pixels.
const maxPlausibleSpeedMPS = 70

// Report says what reading did to the file besides parsing it.
type Report struct {
	File      string               `json:"file"`
	Rows      int                  `json:"rows"`   // rows kept
	Tracks    int                  `json:"tracks"` // distinct track IDs kept
	ByClass   map[events.Class]int `json:"users_by_class"`
	DurationS float64              `json:"duration_s"`
	Dropped   map[string]int       `json:"dropped_rows"`
	Estimated map[string]int       `json:"estimated_rows"`
}

// Lines renders the drops and estimates for people, e.g. "dropped 3 rows:
// NaN or Inf value", in a stable order.
func (r *Report) Lines() []string {
	var out []string
	for _, k := range sortedKeys(r.Dropped) {
		out = append(out, fmt.Sprintf("dropped %d rows: %s", r.Dropped[k], k))
	}
	for _, k := range sortedKeys(r.Estimated) {
		out = append(out, fmt.Sprintf("%d rows: %s", r.Estimated[k], k))
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// Read parses a trajectory CSV; name is used in errors ("name:line: ...").
// Rows come back sorted by time, then track ID.
func Read(r io.Reader, name string) ([]Row, *Report, error) {
	rep := &Report{File: name, ByClass: map[events.Class]int{}, Dropped: map[string]int{}, Estimated: map[string]int{}}
	cr := csv.NewReader(bufio.NewReader(r))
	cr.FieldsPerRecord = -1 // we check the count ourselves, naming the line
	cr.ReuseRecord = true
	head, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, nil, fmt.Errorf("%s: empty file: want the header %s", name, strings.Join(Header, ","))
	}
	if err != nil {
		return nil, nil, fmt.Errorf("%s: reading header: %w", name, err)
	}
	if len(head) > 0 {
		head[0] = strings.TrimPrefix(head[0], "\ufeff")
	}
	if !equalHeader(head) {
		if _, err := strconv.ParseFloat(strings.TrimSpace(head[0]), 64); err == nil {
			return nil, nil, fmt.Errorf("%s:1: missing header: want %s first", name, strings.Join(Header, ","))
		}
		return nil, nil, fmt.Errorf("%s:1: header %q, want %s", name, strings.Join(head, ","), strings.Join(Header, ","))
	}

	type key struct {
		t  float64
		id int64
	}
	seen := map[key]bool{}
	last := map[int64]Row{} // previous kept row of each track
	var rows []Row
	var missV, missH, missE []bool
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			// FieldPos panics after a parse error; csv.ParseError
			// already names the line.
			return nil, nil, fmt.Errorf("%s: %w", name, err)
		}
		line, _ := cr.FieldPos(0)
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		if len(rec) != len(Header) {
			return nil, nil, fmt.Errorf("%s:%d: %d fields, want %d (%s)", name, line, len(rec), len(Header), strings.Join(Header, ","))
		}
		row := Row{line: line}
		num := func(i int, optional bool) (float64, bool, error) {
			s := strings.TrimSpace(rec[i])
			if s == "" {
				if optional {
					return 0, true, nil
				}
				return 0, false, fmt.Errorf("%s:%d: field %s is empty", name, line, Header[i])
			}
			v, err := strconv.ParseFloat(s, 64)
			if err != nil {
				return 0, false, fmt.Errorf("%s:%d: field %s: %q is not a number", name, line, Header[i], s)
			}
			return v, false, nil
		}
		var empty [nFields]bool
		var vals [nFields]float64
		for i := range Header {
			if i == 1 || i == 2 {
				continue
			}
			v, e, err := num(i, i >= 5)
			if err != nil {
				return nil, nil, err
			}
			vals[i], empty[i] = v, e
		}
		id, err := strconv.ParseInt(strings.TrimSpace(rec[1]), 10, 64)
		if err != nil {
			return nil, nil, fmt.Errorf("%s:%d: field track_id: %q is not an integer", name, line, rec[1])
		}
		cls, err := events.ParseClass(strings.TrimSpace(rec[2]))
		if err != nil {
			return nil, nil, fmt.Errorf("%s:%d: field class: %w", name, line, err)
		}
		finite := true
		for i, v := range vals {
			if !empty[i] && (math.IsNaN(v) || math.IsInf(v, 0)) {
				finite = false
			}
		}
		if !finite {
			rep.Dropped[DropNonFinite]++
			continue
		}
		row.T, row.TrackID, row.Class = vals[0], id, cls
		row.X, row.Y, row.VX, row.VY = vals[3], vals[4], vals[5], vals[6]
		row.Length, row.Width, row.Heading = vals[7], vals[8], vals[9]
		k := key{row.T, id}
		if seen[k] {
			rep.Dropped[DropDuplicate]++
			continue
		}
		if prev, ok := last[id]; ok && row.T < prev.T {
			return nil, nil, fmt.Errorf("%s:%d: track %d goes back in time: t_s %v after %v on line %d", name, line, id, row.T, prev.T, prev.line)
		}
		if (empty[7] != empty[8]) || (!empty[7] && (row.Length <= 0 || row.Width <= 0)) {
			return nil, nil, fmt.Errorf("%s:%d: length_m and width_m must both be positive or both empty", name, line)
		}
		seen[k] = true
		last[id] = row
		rows = append(rows, row)
		missV = append(missV, empty[5] || empty[6])
		missH = append(missH, empty[9])
		missE = append(missE, empty[7])
	}
	if len(rows) == 0 {
		return nil, nil, fmt.Errorf("%s: no usable rows", name)
	}

	// Estimates, track by track in time order.
	byTrack := map[int64][]int{}
	for i := range rows {
		byTrack[rows[i].TrackID] = append(byTrack[rows[i].TrackID], i)
	}
	for _, idx := range byTrack {
		estimate(rows, idx, missV, missH, rep)
	}
	for i := range rows {
		if missE[i] {
			rep.Estimated[EstExtents]++
		}
	}

	// Units: a file whose users mostly move faster than any road user is
	// in pixels (or pixels per frame); a few such rows are tracking spikes.
	var fast []int
	for i := range rows {
		if math.Hypot(rows[i].VX, rows[i].VY) > maxPlausibleSpeedMPS {
			fast = append(fast, i)
		}
	}
	if len(fast) > 0 && len(fast)*2 >= len(rows) {
		r := rows[fast[0]]
		return nil, nil, fmt.Errorf("%s: %d of %d rows move faster than %d m/s (line %d: %.0f m/s): looks like pixels, not metres",
			name, len(fast), len(rows), maxPlausibleSpeedMPS, r.line, math.Hypot(r.VX, r.VY))
	}
	if len(fast) > 0 {
		drop := map[int]bool{}
		for _, i := range fast {
			drop[i] = true
		}
		kept := rows[:0]
		for i, r := range rows {
			if !drop[i] {
				kept = append(kept, r)
			}
		}
		rows = kept
		rep.Dropped[DropSpeed] += len(fast)
	}

	sort.SliceStable(rows, func(i, j int) bool {
		if rows[i].T != rows[j].T {
			return rows[i].T < rows[j].T
		}
		return rows[i].TrackID < rows[j].TrackID
	})
	ids := map[int64]events.Class{}
	for _, r := range rows {
		ids[r.TrackID] = r.Class
	}
	for _, c := range ids {
		rep.ByClass[c]++
	}
	rep.Rows, rep.Tracks = len(rows), len(ids)
	if len(rows) > 0 {
		rep.DurationS = rows[len(rows)-1].T - rows[0].T
	}
	return rows, rep, nil
}

func equalHeader(h []string) bool {
	if len(h) != len(Header) {
		return false
	}
	for i := range h {
		if strings.TrimSpace(h[i]) != Header[i] {
			return false
		}
	}
	return true
}

// estimate fills missing velocities (central differences of positions) and
// headings (direction of travel; kept from the neighbouring row while the
// user is nearly stopped, when the direction is noise) of one track.
func estimate(rows []Row, idx []int, missV, missH []bool, rep *Report) {
	for k, i := range idx {
		if !missV[i] {
			continue
		}
		a, b := idx[max(k-1, 0)], idx[min(k+1, len(idx)-1)]
		if dt := rows[b].T - rows[a].T; dt > 0 {
			rows[i].VX = (rows[b].X - rows[a].X) / dt
			rows[i].VY = (rows[b].Y - rows[a].Y) / dt
		}
		rep.Estimated[EstVelocity]++
	}
	const movingMPS = 0.3
	prev := math.NaN()
	var pending []int // rows waiting for the first moving heading
	for _, i := range idx {
		if !missH[i] {
			prev = rows[i].Heading
			continue
		}
		rep.Estimated[EstHeading]++
		switch {
		case math.Hypot(rows[i].VX, rows[i].VY) > movingMPS:
			rows[i].Heading = math.Atan2(rows[i].VY, rows[i].VX)
		case !math.IsNaN(prev):
			rows[i].Heading = prev
		default:
			pending = append(pending, i)
			continue
		}
		prev = rows[i].Heading
		for _, j := range pending {
			rows[j].Heading = prev
		}
		pending = pending[:0]
	}
	// A track that never moves keeps heading 0 for its pending rows.
}

// Write writes rows as a trajectory CSV. Zero extents and NaN velocities or
// headings are written as empty cells (unknown: the reader estimates them).
func Write(w io.Writer, rows []Row) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(Header); err != nil {
		return fmt.Errorf("writing trajectory header: %w", err)
	}
	rec := make([]string, len(Header))
	for _, r := range rows {
		rec[0] = ftoa(r.T)
		rec[1] = strconv.FormatInt(r.TrackID, 10)
		rec[2] = string(r.Class)
		rec[3], rec[4], rec[5], rec[6] = ftoa(r.X), ftoa(r.Y), optFtoa(r.VX), optFtoa(r.VY)
		rec[7], rec[8] = "", ""
		if r.Length > 0 && r.Width > 0 {
			rec[7], rec[8] = ftoa(r.Length), ftoa(r.Width)
		}
		rec[9] = optFtoa(r.Heading)
		if err := cw.Write(rec); err != nil {
			return fmt.Errorf("writing trajectory row: %w", err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("writing trajectory CSV: %w", err)
	}
	return nil
}

func ftoa(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// optFtoa writes NaN (unknown) as an empty cell, for the reader to estimate.
func optFtoa(v float64) string {
	if math.IsNaN(v) {
		return ""
	}
	return ftoa(v)
}

// Frames groups time-sorted rows (as Read returns them) into the engine's
// per-instant observations, with each track's age in frames.
func Frames(rows []Row) [][]conflict.Observation {
	var out [][]conflict.Observation
	age := map[int64]int{}
	for i := 0; i < len(rows); {
		j := i
		for j < len(rows) && rows[j].T == rows[i].T {
			j++
		}
		f := make([]conflict.Observation, 0, j-i)
		for _, r := range rows[i:j] {
			age[r.TrackID]++
			f = append(f, conflict.Observation{T: r.T, TrackID: r.TrackID, Class: r.Class, X: r.X, Y: r.Y,
				VX: r.VX, VY: r.VY, Length: r.Length, Width: r.Width, Heading: r.Heading, Frames: age[r.TrackID]})
		}
		out = append(out, f)
		i = j
	}
	return out
}
