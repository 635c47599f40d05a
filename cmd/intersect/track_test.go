package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/intersect-oss/intersect/internal/testenv"
	"github.com/intersect-oss/intersect/tracker/mot"
)

func TestTrackCommand(t *testing.T) {
	dir := testenv.SharedData(t, "mot15")
	out := filepath.Join(t.TempDir(), "tud.txt")
	var stdout, stderr bytes.Buffer
	code := run([]string{"track", "--mot-det", filepath.Join(dir, "det", "TUD-Campus.txt"), "--out", out,
		"--fps", "25", "--gt", filepath.Join(dir, "gt", "TUD-Campus", "gt.txt")}, &stdout, &stderr)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	rows, err := mot.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) < 250 {
		t.Errorf("%d track rows for 321 detections", len(rows))
	}
	// Header and one line of figures; MOTA is the fourth column and must beat
	// SORT's 0.627 on this sequence.
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "HOTA") {
		t.Fatalf("metrics output = %q", stdout.String())
	}
	f := strings.Fields(lines[1])
	if len(f) < 4 {
		t.Fatalf("metrics line %q", lines[1])
	}
	if mota, err := strconv.ParseFloat(f[3], 64); err != nil || mota <= 0.627 {
		t.Errorf("MOTA column in %q not above SORT's 0.627 (%v)", lines[1], err)
	}
}

func TestTrackCommandBadInput(t *testing.T) {
	tmp := t.TempDir()
	bad := filepath.Join(tmp, "bad.txt")
	if err := os.WriteFile(bad, []byte("1,-1,2,3,4,5,0.9\n0,-1,2,3,4,5,0.9\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(tmp, "out.txt")
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"track", "--out", out}, "--mot-det and --out are required"},
		{[]string{"track", "--mot-det", bad, "--out", out}, "bad.txt:2: column 1 (frame)"},
		{[]string{"track", "--mot-det", filepath.Join(tmp, "missing.txt"), "--out", out}, "missing.txt"},
		{[]string{"track", "--mot-det", bad, "--out", out, "--fps", "0"}, "--fps 0"},
		{[]string{"track", "--mot-det", bad, "--out", out, "--class", "horse"}, `unknown class "horse"`},
	}
	for _, tt := range tests {
		var stdout, stderr bytes.Buffer
		if code := run(tt.args, &stdout, &stderr); code != exitUsage || !strings.Contains(stderr.String(), tt.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 mentioning %q", tt.args[1:], code, stderr.String(), tt.want)
		}
	}
}
