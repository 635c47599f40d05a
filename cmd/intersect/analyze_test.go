package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestAnalyzeTrajectories(t *testing.T) {
	in := filepath.Join("..", "..", "tracker", "trajectory", "testdata", "crossing.csv")
	out := filepath.Join(t.TempDir(), "out")
	var stdout, stderr bytes.Buffer
	if code := run([]string{"analyze", "--trajectories", in, "--out", out}, &stdout, &stderr); code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	got, err := os.ReadFile(filepath.Join(out, "conflicts.csv"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(filepath.Join("..", "..", "tracker", "trajectory", "testdata", "crossing.conflicts.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("conflicts.csv:\n%s\nwant:\n%s", got, want)
	}
	var s struct {
		NearMisses int            `json:"near_misses"`
		Estimated  map[string]int `json:"estimated_rows"`
	}
	b, err := os.ReadFile(filepath.Join(out, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &s); err != nil || s.NearMisses != 2 {
		t.Errorf("summary.json: %v, near misses %d", err, s.NearMisses)
	}
	for _, w := range []string{"2 encounters, 2 near misses (minor 1, serious 1;", "91 rows: velocity estimated from positions"} {
		if !strings.Contains(stdout.String(), w) {
			t.Errorf("stdout lacks %q:\n%s", w, stdout.String())
		}
	}

	// A stricter config: PET near misses only at ≤ 0.5 s turns the
	// pedestrian's 0.98 s PET into an interaction.
	cfg := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(cfg, []byte("near_miss_pet_s: 0.5\ncritical_s: 0.2\nserious_s: 0.4\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout.Reset()
	if code := run([]string{"analyze", "--trajectories", in, "--out", out, "--config", cfg}, &stdout, &stderr); code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if !strings.Contains(stdout.String(), "2 encounters, 1 near misses") {
		t.Errorf("with config: %s", stdout.String())
	}
}

func TestAnalyzeBadInput(t *testing.T) {
	tmp := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(tmp, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	head := "t_s,track_id,class,x_m,y_m,vx_mps,vy_mps,length_m,width_m,heading_rad\n"
	horse := write("horse.csv", head+"0,1,horse,0,0,,,,,\n")
	noHeader := write("nohead.csv", "0,1,car,0,0,1,0,,,0\n")
	good := write("good.csv", head+"0,1,car,0,0,1,0,,,0\n")
	badCfg := write("bad.yaml", "horizon_secs: 4\n")
	out := filepath.Join(tmp, "out")
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"analyze", "--trajectories", good}, "--out is required"},
		{[]string{"analyze", "--out", out}, "nothing to analyze"},
		{[]string{"analyze", "--trajectories", horse, "--out", out}, `horse.csv:2: field class: unknown class "horse"`},
		{[]string{"analyze", "--trajectories", noHeader, "--out", out}, "nohead.csv:1: missing header"},
		{[]string{"analyze", "--trajectories", filepath.Join(tmp, "missing.csv"), "--out", out}, "missing.csv"},
		{[]string{"analyze", "--trajectories", good, "--out", out, "--config", badCfg}, "field horizon_secs not found"},
		{[]string{"analyze", "--bogus"}, "flag provided but not defined"},
	}
	for _, tt := range tests {
		var stdout, stderr bytes.Buffer
		if code := run(tt.args, &stdout, &stderr); code != exitUsage || !strings.Contains(stderr.String(), tt.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 with %q", tt.args, code, stderr.String(), tt.want)
		}
	}
}
