package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestTwinCommand(t *testing.T) {
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	if code := run([]string{"twin", "--out", out, "--duration", "2s", "--seed", "4"}, &stdout, &stderr); code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	for _, f := range []string{"scene.avi", "truth.csv", "truth.mot.txt", "camera.yaml", "truth_conflicts.csv", "truth_scripted.csv"} {
		if st, err := os.Stat(filepath.Join(out, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	if !strings.Contains(stdout.String(), "frames           30") {
		t.Errorf("stdout does not report 30 frames:\n%s", stdout.String())
	}
}

func TestTwinCommandBadInput(t *testing.T) {
	out := t.TempDir()
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"twin"}, "--out is required"},
		{[]string{"twin", "--out", out, "--fps", "0"}, "--fps 0"},
		{[]string{"twin", "--out", out, "--duration", "10ms"}, "--duration 10ms"},
		{[]string{"twin", "--out", out, "--size", "wide"}, `--size "wide"`},
		{[]string{"twin", "--out", out, "--size", "961x540"}, "--size 961x540"},
		{[]string{"twin", "--out", out, "--seed", "-1"}, "invalid value"},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(tt.args, &stdout, &stderr); code != exitUsage || !strings.Contains(stderr.String(), tt.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 mentioning %q", tt.args[1:], code, stderr.String(), tt.want)
		}
	}
}
