package ingest_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/intersect-oss/intersect/events/bus"
)

// childServerEnv makes the test binary run an embedded NATS server instead
// of the tests, so a benchmark can measure ingest's memory without the
// server's caches in the same heap.
const childServerEnv = "INTERSECT_INGEST_TEST_NATS_DIR"

func TestMain(m *testing.M) {
	if dir := os.Getenv(childServerEnv); dir != "" {
		os.Exit(runChildServer(dir))
	}
	os.Exit(m.Run())
}

func runChildServer(dir string) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	srv, err := bus.StartServer(ctx, bus.ServerOptions{DataDir: dir})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println(srv.ClientURL())
	<-ctx.Done()
	srv.Shutdown()
	return 0
}

// startChildServer starts a NATS server in a child process and returns its
// client URL; the child is stopped when the test ends.
func startChildServer(tb testing.TB) string {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childServerEnv+"="+tb.TempDir())
	out, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	})
	urls := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(out).ReadString('\n')
		urls <- strings.TrimSpace(line)
	}()
	select {
	case u := <-urls:
		if !strings.HasPrefix(u, "nats://") {
			tb.Fatalf("child NATS server printed %q, want its URL", u)
		}
		return u
	case <-time.After(20 * time.Second):
		tb.Fatal("child NATS server did not start within 20 s")
	}
	return ""
}
