package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestIngestFlagsRejectBadInput(t *testing.T) {
	for _, tc := range []struct {
		args     []string
		contains string
	}{
		{[]string{"--writers", "0"}, "--writers 0"},
		{[]string{"--batch", "1000", "--max-ack-pending", "10"}, "smaller than --batch"},
		{[]string{"--max-ack-pending", "-1"}, "must not be negative"},
		{[]string{"--replicas", "7"}, "--replicas 7"},
		{[]string{"--edge-sites", "good,Bad_Site"}, `site "Bad_Site"`},
		{[]string{"--retain-critical", "24h"}, "critical near misses must be kept at least as long"},
		{[]string{"--retain-health", "-1h"}, "negative"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var out, errb bytes.Buffer
			args := append([]string{"ingest", "--data-dir", t.TempDir()}, tc.args...)
			if code := run(args, &out, &errb); code != exitUsage {
				t.Errorf("exit %d, want %d; stderr: %s", code, exitUsage, errb.String())
			}
			if !strings.Contains(errb.String(), tc.contains) {
				t.Errorf("stderr does not say %q: %s", tc.contains, errb.String())
			}
		})
	}
}
