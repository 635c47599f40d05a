package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

// TestMain lets the test binary act as the intersect binary when
// INTERSECT_RUN_MAIN=1, so process-level tests (SIGKILL, exit codes) run the
// real command without a separate build.
func TestMain(m *testing.M) {
	if os.Getenv("INTERSECT_RUN_MAIN") == "1" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

func TestUsageAndExitCodes(t *testing.T) {
	cases := []struct {
		args     []string
		code     int
		contains string
	}{
		{nil, exitUsage, "Usage: intersect"},
		{[]string{"--help"}, exitOK, "Commands:"},
		{[]string{"teleport"}, exitUsage, `unknown command "teleport"`},
		{[]string{"serve", "--no-such-flag"}, exitUsage, "flag provided but not defined"},
		{[]string{"serve", "--help"}, exitOK, "Usage: intersect serve"},
		{[]string{"ingest", "stray"}, exitUsage, `unexpected argument "stray"`},
		{[]string{"serve", "--addr", "127.0.0.1:0", "--db", "mysql://x", "--data-dir", "DATADIR"}, exitUsage, "database DSN"},
		{[]string{"ingest", "--data-dir", "/proc/intersect-cannot-write"}, exitUsage, "data dir /proc/intersect-cannot-write"},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			args := append([]string(nil), tc.args...)
			for i, a := range args {
				if a == "DATADIR" {
					args[i] = t.TempDir()
				}
			}
			var out, errb bytes.Buffer
			code := run(args, &out, &errb)
			if code != tc.code {
				t.Errorf("exit code %d, want %d; stderr: %s", code, tc.code, errb.String())
			}
			if all := out.String() + errb.String(); !strings.Contains(all, tc.contains) {
				t.Errorf("output does not contain %q:\n%s", tc.contains, all)
			}
		})
	}
}
