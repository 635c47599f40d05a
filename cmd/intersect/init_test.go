package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/intersect-oss/intersect/events"
	"github.com/intersect-oss/intersect/events/bus"
)

// runInitCmd runs `intersect init` in-process and returns its output.
func runInitCmd(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(append([]string{"init"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

var tokenLine = regexp.MustCompile(`(?m)^\s+([A-Za-z0-9_-]{43})\s*$`)

func TestInitWritesADeployment(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "deploy")
	code, out, errs := runInitCmd(t, "--site", "main-and-5th", "--out", dir, "--cameras", "cam-1,cam-2", "--controllers", "ctl-1")
	if code != exitOK {
		t.Fatalf("init exit %d: %s", code, errs)
	}
	m := tokenLine.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no admin token printed:\n%s", out)
	}
	token := m[1]
	// Key material is 0600; the token is stored only as its SHA-256.
	for _, f := range []string{"nats/ingest.nk", "nats/api.nk", "nats/advisor.nk", "nats/edge-main-and-5th-all.nk",
		"nats/controller-main-and-5th-ctl-1.nk", "nats/ca-key.pem", "nats/server-key.pem", "signing/advisor.key", "api/tokens.json"} {
		fi, err := os.Stat(filepath.Join(dir, f))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %04o, want 0600", f, fi.Mode().Perm())
		}
	}
	tokens, _ := os.ReadFile(filepath.Join(dir, "api", "tokens.json"))
	sum := sha256.Sum256([]byte(token))
	if !bytes.Contains(tokens, []byte(hex.EncodeToString(sum[:]))) || bytes.Contains(tokens, []byte(token)) {
		t.Fatalf("tokens.json must hold the token's hash and never the token:\n%s", tokens)
	}
	if code, _, errs := runInitCmd(t, "--site", "main-and-5th", "--out", dir); code != exitUsage || !strings.Contains(errs, "already") {
		t.Fatalf("second init over the same dir: exit %d, %s", code, errs)
	}

	// Rotation: a new server certificate for new hosts, still from the CA.
	if code, _, errs := runInitCmd(t, "--rotate-tls", "--out", dir, "--hosts", "127.0.0.1,nats.example.org"); code != exitOK {
		t.Fatalf("rotate: exit %d, %s", code, errs)
	}
	caPEM, _ := os.ReadFile(filepath.Join(dir, "nats", "ca.pem"))
	certPEM, _ := os.ReadFile(filepath.Join(dir, "nats", "server.pem"))
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		t.Fatal("ca.pem holds no certificate")
	}
	blk, _ := pem.Decode(certPEM)
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: pool, DNSName: "nats.example.org"}); err != nil {
		t.Fatalf("rotated certificate does not verify for the new host against the CA: %v", err)
	}
}

// TestInitDeploymentEndToEnd runs the services as separate processes with
// the files `intersect init` wrote: a NATS server enforcing the identities,
// `intersect ingest` and `intersect serve` each connecting as itself, an
// edge identity publishing, and the API answering the admin token.
func TestInitDeploymentEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("process test; skipped with -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := filepath.Join(t.TempDir(), "deploy")
	code, out, errs := runInitCmd(t, "--site", "main-and-5th", "--out", dir, "--cameras", "cam-1")
	if code != exitOK {
		t.Fatalf("init: %s", errs)
	}
	token := tokenLine.FindStringSubmatch(out)[1]
	d := bus.Deployment{Dir: filepath.Join(dir, "nats")}
	srv, err := bus.StartServer(ctx, bus.ServerOptions{DataDir: t.TempDir(), Configure: d.ConfigureServer()})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	url := strings.Replace(srv.ClientURL(), "nats://", "tls://", 1)

	data := t.TempDir()
	start := func(args ...string) (*exec.Cmd, *bufio.Scanner) {
		cmd := exec.Command(os.Args[0], args...)
		cmd.Env = append(os.Environ(), "INTERSECT_RUN_MAIN=1")
		stderr, _ := cmd.StderrPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Signal(syscall.SIGTERM); _ = cmd.Wait() })
		return cmd, bufio.NewScanner(stderr)
	}
	_, ingestLog := start("ingest", "--nats", url, "--secrets", dir, "--data-dir", data)
	var ingestOut syncWriter
	var ingestLines strings.Builder
	ingestOut.w = &ingestLines
	go func() {
		for ingestLog.Scan() {
			fmt.Fprintln(&ingestOut, ingestLog.Text())
		}
	}()
	_, serveLog := start("serve", "--nats", url, "--secrets", dir, "--data-dir", data, "--addr", "127.0.0.1:0")
	apiURL := make(chan string, 1)
	var serveOut syncWriter
	var serveLines strings.Builder
	serveOut.w = &serveLines
	go func() {
		re := regexp.MustCompile(`url=(http://[^ ]+?)/? `)
		for serveLog.Scan() {
			fmt.Fprintln(&serveOut, serveLog.Text())
			if m := re.FindStringSubmatch(serveLog.Text() + " "); m != nil {
				apiURL <- m[1]
			}
		}
	}()

	// The edge publishes with its own identity, as `intersect edge` would.
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	opts, err := d.Credentials("edge:main-and-5th:all").Options(log)
	if err != nil {
		t.Fatal(err)
	}
	nc, err := bus.Connect(ctx, url, "edge", log, opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ttc := 0.9
	nm := &events.NearMiss{
		Header: events.NewHeader(events.KindNearMiss, "main-and-5th", "cam-1", time.Now()),
		TrackA: 1, ClassA: events.Car, TrackB: 2, ClassB: events.Pedestrian, Start: time.Now(), End: time.Now(),
		MinTTCS: &ttc, Type: events.RightTurnCrosswalk, Severity: events.Serious, Lat: 40.76, Lng: -111.89,
	}
	deadline := time.Now().Add(60 * time.Second)
	for { // ingest declares the streams once it is up
		pctx, pcancel := context.WithTimeout(ctx, 2*time.Second)
		_, err := bus.Publish(pctx, js, nm)
		pcancel()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the edge identity could not publish: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	var base string
	select {
	case base = <-apiURL:
	case <-time.After(60 * time.Second):
		serveOut.mu.Lock()
		defer serveOut.mu.Unlock()
		ingestOut.mu.Lock()
		defer ingestOut.mu.Unlock()
		t.Fatalf("serve did not log its URL:\n%s\ningest:\n%s", serveLines.String(), ingestLines.String())
	}
	get := func(tok string) (int, []byte) {
		req, _ := http.NewRequestWithContext(ctx, "GET", base+"/api/v1/nearmisses?site=main-and-5th", nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	if code, _ := get(""); code != http.StatusUnauthorized {
		t.Fatalf("API without a token answered %d, want 401", code)
	}
	for {
		code, body := get(token)
		var page struct {
			Items []events.NearMiss `json:"items"`
		}
		_ = json.Unmarshal(body, &page)
		if code == http.StatusOK && len(page.Items) == 1 && page.Items[0].ID == nm.ID {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the edge's near miss never reached the API: %d %s", code, body)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
