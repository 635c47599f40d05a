package trajectory

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/intersect-oss/intersect/events"
	"github.com/intersect-oss/intersect/tracker/conflict"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

const head = "t_s,track_id,class,x_m,y_m,vx_mps,vy_mps,length_m,width_m,heading_rad\n"

func TestReadErrors(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", "empty file"},
		{"missing header", "0,1,car,0,0,1,0,4.5,1.8,0\n", "in.csv:1: missing header"},
		{"wrong header", "t,id,class,x,y\n0,1,car,0,0\n", "in.csv:1: header"},
		{"field count", head + "0,1,car,0,0,1,0,4.5,1.8\n", "in.csv:2: 9 fields, want 10"},
		{"unknown class", head + "0,1,car,0,0,1,0,,,0\n0.1,2,horse,0,0,1,0,,,0\n", `in.csv:3: field class: unknown class "horse"`},
		{"not a number", head + "0,1,car,zero,0,1,0,,,0\n", `in.csv:2: field x_m: "zero" is not a number`},
		{"empty position", head + "0,1,car,,0,1,0,,,0\n", "in.csv:2: field x_m is empty"},
		{"bad id", head + "0,1.5,car,0,0,1,0,,,0\n", `in.csv:2: field track_id: "1.5" is not an integer`},
		{"time backwards", head + "0,1,car,0,0,1,0,,,0\n0.2,1,car,0.2,0,1,0,,,0\n0.1,1,car,0.1,0,1,0,,,0\n",
			"in.csv:4: track 1 goes back in time: t_s 0.1 after 0.2 on line 3"},
		{"half extents", head + "0,1,car,0,0,1,0,4.5,,0\n", "in.csv:2: length_m and width_m must both be positive or both empty"},
		{"pixels", head + "0,1,car,100,200,300,0,,,0\n0.1,1,car,130,200,300,0,,,0\n0.2,1,car,160,200,300,0,,,0\n",
			"looks like pixels, not metres"},
		{"pixels estimated", head + "0,1,car,100,200,,,,,\n0.1,1,car,130,200,,,,,\n0.2,1,car,160,200,,,,,\n",
			"3 of 3 rows move faster than 70 m/s (line 2: 300 m/s)"},
		{"only NaN", head + "0,1,car,NaN,0,1,0,,,0\n", "no usable rows"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := Read(strings.NewReader(tt.in), "in.csv")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestReadDropsAndEstimates(t *testing.T) {
	in := head +
		"0,1,pedestrian,0,0,,,,,\n" +
		"0,2,car,10,0,-5,0,4.5,1.8,3.14159\n" +
		"0.5,1,pedestrian,0.5,0,,,,,\n" +
		"0.5,1,pedestrian,0.7,0,,,,,\n" + // duplicate (0.5, 1)
		"0.5,2,car,7.5,0,-5,0,4.5,1.8,3.14159\n" +
		"1,1,pedestrian,1,0.5,,,,,\n" +
		"1,2,car,Inf,0,-5,0,4.5,1.8,3.14159\n" + // Inf
		"1.5,2,car,2.5,0,500,0,4.5,1.8,3.14159\n" + // tracking spike
		"2,2,car,0,0,-5,0,4.5,1.8,NaN\n" + // NaN
		"2,3,bus,50,50,0,0,,,\n" // stopped all along: heading defaults to 0
	rows, rep, err := Read(strings.NewReader(in), "in.csv")
	if err != nil {
		t.Fatal(err)
	}
	wantDropped := map[string]int{DropDuplicate: 1, DropNonFinite: 2, DropSpeed: 1}
	if len(rep.Dropped) != len(wantDropped) {
		t.Errorf("dropped %v, want %v", rep.Dropped, wantDropped)
	}
	for k, v := range wantDropped {
		if rep.Dropped[k] != v {
			t.Errorf("dropped[%s] = %d, want %d", k, rep.Dropped[k], v)
		}
	}
	if rep.Estimated[EstVelocity] != 3 || rep.Estimated[EstHeading] != 4 || rep.Estimated[EstExtents] != 4 {
		t.Errorf("estimated %v", rep.Estimated)
	}
	if rep.Rows != 6 || rep.Tracks != 3 || rep.ByClass[events.Pedestrian] != 1 || rep.ByClass[events.Car] != 1 || rep.ByClass[events.Bus] != 1 || rep.DurationS != 2 {
		t.Errorf("report %+v", rep)
	}
	// Sorted by time, then ID.
	order := []struct {
		t  float64
		id int64
	}{{0, 1}, {0, 2}, {0.5, 1}, {0.5, 2}, {1, 1}, {2, 3}}
	for i, o := range order {
		if rows[i].T != o.t || rows[i].TrackID != o.id {
			t.Fatalf("row %d is (%v, %d), want (%v, %d)", i, rows[i].T, rows[i].TrackID, o.t, o.id)
		}
	}
	// Pedestrian velocity by central differences: at t=0.5, (1−0)/1 and (0.5−0)/1.
	p := rows[2]
	if p.VX != 1 || p.VY != 0.5 || math.Abs(p.Heading-math.Atan2(0.5, 1)) > 1e-12 {
		t.Errorf("estimated pedestrian state %+v", p)
	}
	if rows[0].VX != 1 || rows[0].VY != 0 || rows[0].Heading != 0 { // forward difference at the start
		t.Errorf("first pedestrian row %+v", rows[0])
	}
	if got := rep.Lines(); strings.Join(got, "|") != "dropped 2 rows: NaN or Inf value|dropped 1 rows: duplicate (t_s, track_id)|dropped 1 rows: implausible speed (> 70 m/s)|4 rows: extents left empty (class defaults)|4 rows: heading estimated from velocity|3 rows: velocity estimated from positions" {
		t.Errorf("lines %q", got)
	}
}

func TestWriteReadRoundTrip(t *testing.T) {
	rows := []Row{
		{T: 0, TrackID: 4, Class: events.Bicycle, X: 1.25, Y: -3.5, VX: 4, VY: 0.1, Length: 1.8, Width: 0.6, Heading: 0.025},
		{T: 1.0 / 23.98, TrackID: 4, Class: events.Bicycle, X: 1.4168, Y: -3.4958, VX: 4, VY: 0.1, Heading: 0.025},
	}
	var buf bytes.Buffer
	if err := Write(&buf, rows); err != nil {
		t.Fatal(err)
	}
	got, rep, err := Read(&buf, "rt.csv")
	if err != nil {
		t.Fatal(err)
	}
	for i := range rows {
		got[i].line = 0
		if got[i] != rows[i] {
			t.Errorf("row %d: got %+v, want %+v", i, got[i], rows[i])
		}
	}
	if rep.Estimated[EstExtents] != 1 || rep.Estimated[EstVelocity] != 0 {
		t.Errorf("estimated %v", rep.Estimated)
	}
}

func TestFrames(t *testing.T) {
	rows := []Row{{T: 0, TrackID: 1}, {T: 0, TrackID: 2}, {T: 0.1, TrackID: 2}, {T: 0.2, TrackID: 1}, {T: 0.2, TrackID: 2}}
	fs := Frames(rows)
	if len(fs) != 3 || len(fs[0]) != 2 || len(fs[1]) != 1 || len(fs[2]) != 2 {
		t.Fatalf("frames %v", fs)
	}
	if fs[2][0].Frames != 2 || fs[2][1].Frames != 3 {
		t.Errorf("ages %d %d, want 2 3", fs[2][0].Frames, fs[2][1].Frames)
	}
}

// TestAnalyzeGolden runs the engine on a small scene (testdata/crossing.csv:
// a car eastbound at 10 m/s and a pedestrian crossing its path, PET
// 0.983 s as in the conflict package's perpendicular test; in another lane
// a car at 10 m/s closing on a leader at 5 m/s until it slows at t=2: TTC
// at t=1.9 is (centre gap 20 − 5·1.9 − 4.5)/5 = 1.2 s, DRAC 5/(2·1.2)) and
// compares conflicts.csv with the golden file.
func TestAnalyzeGolden(t *testing.T) {
	dir := t.TempDir()
	s, encs, err := Analyze(context.Background(), filepath.Join("testdata", "crossing.csv"), dir, conflict.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, "conflicts.csv"))
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "crossing.conflicts.csv")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("conflicts.csv differs from %s:\n got:\n%s\nwant:\n%s", golden, got, want)
	}
	if len(encs) != 2 || s.NearMisses != 2 || s.NearMissesBySeverity[events.Serious] != 1 || s.NearMissesBySeverity[events.Minor] != 1 ||
		s.NearMissesByType[events.RearEnd] != 1 || s.UsersByClass[events.Car] != 3 || s.Frames != 91 {
		t.Errorf("summary %+v", s)
	}
	var js map[string]any
	b, err := os.ReadFile(filepath.Join(dir, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &js); err != nil {
		t.Fatalf("summary.json: %v", err)
	}
	for _, k := range []string{"users_by_class", "near_misses_by_type", "near_misses_by_severity", "suppressed_share", "dropped_rows", "processing_s"} {
		if _, ok := js[k]; !ok {
			t.Errorf("summary.json lacks %q", k)
		}
	}
	_, _, err = Analyze(context.Background(), filepath.Join("testdata", "missing.csv"), dir, conflict.DefaultConfig())
	var ie *InputError
	if !errors.As(err, &ie) {
		t.Errorf("missing input: %v, want an InputError", err)
	}
}
