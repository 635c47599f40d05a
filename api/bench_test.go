package api

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/time/rate"

	"github.com/intersect-oss/intersect/events"
	"github.com/intersect-oss/intersect/internal/testenv"
	"github.com/intersect-oss/intersect/store"
	"github.com/intersect-oss/intersect/store/storetest"
)

// benchRows is how many near misses the PostgreSQL benchmarks seed
// (INTERSECT_BENCH_ROWS overrides the issue's 1,000,000 for quick runs).
func benchRows() int {
	if n, err := strconv.Atoi(os.Getenv("INTERSECT_BENCH_ROWS")); err == nil && n > 0 {
		return n
	}
	return 1_000_000
}

var benchStart = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// BenchmarkPG seeds one fresh PostgreSQL schema (through the store's COPY
// path) and runs the issue's queries on it as sub-benchmarks, so the seed
// is paid once per run.
func BenchmarkPG(b *testing.B) {
	dsn := testenv.FreshPostgres(b) // skips without PostgreSQL
	ctx := context.Background()
	st, err := store.Open(ctx, dsn, b.TempDir(), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	n := benchRows()
	t := time.Now()
	if err := storetest.Seed(ctx, st, n, rand.New(rand.NewPCG(1, 1)), benchStart); err != nil {
		b.Fatal(err)
	}
	b.Logf("seeded %d near misses in %v (%.0f rows/s)", n, time.Since(t).Round(time.Millisecond), float64(n)/time.Since(t).Seconds())
	// Measured with authentication on (a token lookup per request), rate
	// limits off.
	token, _, err := IssueToken(ctx, st, "bench", RoleAnalyst)
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(New(Options{Store: st, Rate: rate.Inf}).Handler())
	defer srv.Close()
	get := func(path string) func(b *testing.B) {
		return func(b *testing.B) {
			for b.Loop() {
				resp, err := authGet(srv.URL+path, token)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					b.Fatalf("%s: %d", path, resp.StatusCode)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/op")
		}
	}
	b.Run("HeatmapOneSiteOneMonth", get("/api/v1/heatmap?site=main-and-5th&from=2026-02-01T00:00:00Z&to=2026-03-01T00:00:00Z"))
	b.Run("FilteredPage", get("/api/v1/nearmisses?site=main-and-5th&severity=critical&type=right-turn-crosswalk&from=2026-02-01T00:00:00Z&limit=100"))
	b.Run("StatsByHour", get("/api/v1/stats?by=hour&site=main-and-5th"))
	b.Run("ExportCSVAll", func(b *testing.B) { benchExport(b, srv.URL, token) })
}

// authGet is a GET with a bearer token.
func authGet(url, token string) (*http.Response, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	return http.DefaultClient.Do(req)
}

// vmHWM is the process's peak resident set (kB) from /proc/self/status.
func vmHWM() float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if rest, ok := strings.CutPrefix(s.Text(), "VmHWM:"); ok {
			v, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 64)
			return v
		}
	}
	return 0
}

func benchExport(b *testing.B, url, token string) {
	before := vmHWM()
	b.ResetTimer()
	var rows int64
	for b.Loop() {
		resp, err := authGet(url+"/api/v1/export.csv", token)
		if err != nil {
			b.Fatal(err)
		}
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			rows++
		}
		resp.Body.Close()
	}
	b.ReportMetric(float64(rows-int64(b.N))/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(vmHWM()/1024, "peakRSS_MB")
	b.ReportMetric(before/1024, "RSS_before_export_MB")
}

// BenchmarkLiveFanout: 1,000 websocket clients on loopback each receive a
// burst of 100 near misses; reports the p99 publish → receive latency.
func BenchmarkLiveFanout(b *testing.B) {
	const clients, burst = 1000, 100
	hub := NewHub(HubOptions{QueueLen: 256})
	defer hub.Close()
	// No store, so no tokens: the fan-out is measured, not authentication.
	srv := httptest.NewServer(New(Options{Store: nil, Live: hub, Insecure: true}).Handler())
	defer srv.Close()
	url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/api/v1/live"
	conns := make([]*websocket.Conn, clients)
	for i := range conns {
		c, _, err := websocket.DefaultDialer.Dial(url, nil)
		if err != nil {
			b.Fatalf("client %d: %v", i, err)
		}
		defer c.Close()
		conns[i] = c
	}
	for hub.Clients() < clients {
		time.Sleep(10 * time.Millisecond)
	}
	rng := rand.New(rand.NewPCG(2, 2))
	var all []time.Duration
	b.ResetTimer()
	for b.Loop() {
		sentAt := make([]time.Time, burst)
		evs := make([]*events.NearMiss, burst)
		for i := range evs {
			evs[i] = storetest.Synthetic(rng, "main-and-5th", "cam-1", benchStart)
			evs[i].Zone = strconv.Itoa(i) // the receivers find the send time by this index
		}
		lat := make([][]time.Duration, clients)
		var wg sync.WaitGroup
		for ci, c := range conns {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range burst {
					_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
					_, msg, err := c.ReadMessage()
					if err != nil {
						return
					}
					// A browser parses the JSON elsewhere; here only the
					// index is needed, so the clients do not starve the
					// server of the two cores.
					k := bytes.Index(msg, []byte(`"zone":"`))
					if k < 0 {
						return
					}
					rest := msg[k+8:]
					i, _ := strconv.Atoi(string(rest[:bytes.IndexByte(rest, '"')]))
					lat[ci] = append(lat[ci], time.Since(sentAt[i]))
				}
			}()
		}
		for i, ev := range evs {
			sentAt[i] = time.Now()
			hub.Broadcast(ev)
		}
		wg.Wait()
		for _, l := range lat {
			all = append(all, l...)
		}
	}
	b.StopTimer()
	if want := clients * burst * b.N; len(all) != want || hub.Dropped() > 0 {
		b.Fatalf("received %d of %d messages, %d clients dropped", len(all), want, hub.Dropped())
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	b.ReportMetric(float64(all[len(all)*99/100].Microseconds())/1000, "p99_ms")
	b.ReportMetric(float64(all[len(all)/2].Microseconds())/1000, "p50_ms")
}
