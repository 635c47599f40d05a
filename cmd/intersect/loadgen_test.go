package main

import (
	"bytes"
	"context"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/intersect-oss/intersect/events/bus"
)

func TestLoadgenCommand(t *testing.T) {
	for _, tc := range []struct {
		args     []string
		contains string
	}{
		{[]string{"loadgen"}, "--nats is required"},
		{[]string{"loadgen", "--nats", "nats://127.0.0.1:1", "--sites", "0"}, "--sites 0"},
		{[]string{"loadgen", "--nats", "nats://127.0.0.1:1", "--rate", "-5"}, "--rate -5"},
		{[]string{"loadgen", "--nats", "nats://127.0.0.1:1", "--duration", "0"}, "needs an end"},
		{[]string{"loadgen", "--nats", "nats://127.0.0.1:1", "--tracks-per-hour", "-1"}, "non-negative"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := run(tc.args, &out, &errb); code != exitUsage {
				t.Errorf("exit %d, want %d; stderr: %s", code, exitUsage, errb.String())
			}
			if !strings.Contains(errb.String(), tc.contains) {
				t.Errorf("stderr does not say %q: %s", tc.contains, errb.String())
			}
		})
	}

	t.Run("publishes", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		srv, err := bus.StartServer(ctx, bus.ServerOptions{DataDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		defer srv.Shutdown()
		var out, errb bytes.Buffer
		code := run([]string{"loadgen", "--nats", srv.ClientURL(), "--sites", "2", "--cameras", "3", "--rate", "0", "--count", "1200", "--by-subject"}, &out, &errb)
		if code != exitOK {
			t.Fatalf("exit %d; stderr: %s", code, errb.String())
		}
		if !strings.Contains(out.String(), "published 1200 events") {
			t.Fatalf("report does not say 1200 events:\n%s", out.String())
		}
		// Per-subject lines add up to the total.
		sum := 0
		for _, m := range regexp.MustCompile(`(?m)^  intersect\.v1\.\S+\s+(\d+)$`).FindAllStringSubmatch(out.String(), -1) {
			n, _ := strconv.Atoi(m[1])
			sum += n
		}
		if sum != 1200 {
			t.Errorf("per-subject counts add up to %d, want 1200:\n%s", sum, out.String())
		}
	})
}
