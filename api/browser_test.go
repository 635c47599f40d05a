package api

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/intersect-oss/intersect/events"
	"github.com/intersect-oss/intersect/events/bus/bustest"
	"github.com/intersect-oss/intersect/internal/testenv"
	"github.com/intersect-oss/intersect/internal/testenv/chromium"
	"github.com/intersect-oss/intersect/store/storetest"
)

// testJPEG is a small real JPEG standing in for a blurred snapshot.
func testJPEG(t testing.TB, seed int) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 160, 100))
	for y := 0; y < 100; y++ {
		for x := 0; x < 160; x++ {
			img.Set(x, y, color.RGBA{uint8(60 + x/2 + seed*20), uint8(80 + y), uint8(120 + seed*30), 255})
		}
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 80}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// artifactDir is where test artifacts (the screenshot) go.
func artifactDir() string {
	if d := os.Getenv("INTERSECT_ARTIFACTS"); d != "" {
		return d
	}
	return filepath.Join(testenv.RepoRoot(), "out", "screenshots")
}

// TestDashboardInChromium drives the real dashboard in headless Chromium:
// no console errors, a near miss published on NATS shows up in the list
// within 2 s, the heatmap has cells, a filter changes the list, and
// approving a recommendation changes its state.
func TestDashboardInChromium(t *testing.T) {
	chromium.Require(t)
	nb := bustest.Start(t)
	nc, js := nb.NC, nb.JS
	ctx := context.Background()
	snaps, err := OpenSnapshots(ctx, js)
	if err != nil {
		t.Fatal(err)
	}
	hub := NewHub(HubOptions{})
	fctx, cancelFeed := context.WithCancel(ctx)
	fed := make(chan error, 1)
	go func() { fed <- hub.Feed(fctx, nc) }()
	defer func() { cancelFeed(); <-fed; hub.Close() }()
	f := newFixture(t, Options{Live: hub, Snapshots: snaps})
	// The newest few events carry snapshots, as the edge would store them.
	rng := rand.New(rand.NewPCG(11, 12))
	for i := range 4 {
		n := storetest.Synthetic(rng, "main-and-5th", "cam-1", t0.Add(10*time.Hour+time.Duration(i)*time.Minute))
		n.SnapshotKey = n.ID + ".jpg"
		if _, err := snaps.Store.PutBytes(ctx, n.SnapshotKey, testJPEG(t, i)); err != nil {
			t.Fatal(err)
		}
		if _, err := f.st.Write(ctx, storeBatch(n)); err != nil {
			t.Fatal(err)
		}
		f.nms = append(f.nms, n)
	}

	bctx, problems := chromium.Start(t, ctx, chromium.Options{Width: 1400, Height: 1500, Warnings: true})
	count := func(sel string) int {
		n, err := chromedp.Run(bctx, chromedp.Evaluate[int](fmt.Sprintf(`document.querySelectorAll(%q).length`, sel)))
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	waitJS := func(what, expr string, within time.Duration) {
		t.Helper()
		deadline := time.Now().Add(within)
		for {
			ok, err := chromedp.Run(bctx, chromedp.Evaluate[bool](expr))
			if err != nil {
				t.Fatal(err)
			}
			if ok {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within %v", what, within)
			}
			time.Sleep(25 * time.Millisecond)
		}
	}

	// Log in as the demo does: an engineer token in the URL fragment.
	token, _, err := IssueToken(ctx, f.st, "browser-engineer", RoleEngineer)
	if err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(bctx, chromedp.Navigate(f.srv.URL+"/#token="+token)); err != nil {
		t.Fatal(err)
	}
	waitJS("dashboard ready", `document.body.dataset.ready === 'true'`, 20*time.Second)
	// The token left the address bar and is out of JavaScript's reach (the
	// session cookie is HttpOnly and holds an opaque ID).
	waitJS("logged in", `location.hash === '' && document.cookie === '' && document.querySelector('#who').textContent === 'browser-engineer (engineer)'`, 2*time.Second)
	waitJS("live feed connected", `document.querySelector('#live-status').classList.contains('on')`, 5*time.Second)
	if n := count(".heat-cell"); n == 0 {
		t.Fatal("the heatmap rendered no cells")
	}
	if n := count("#events li[data-id]"); n != 50 {
		t.Fatalf("event list has %d items, want the first page of 50", n)
	}
	waitJS("thumbnails loaded", `[...document.querySelectorAll('#events img.thumb')].length === 4 &&
		[...document.querySelectorAll('#events img.thumb')].every(i => i.complete && i.naturalWidth === 160)`, 5*time.Second)

	// Live: a near miss published on NATS appears within 2 s.
	live := storetest.Synthetic(rng, "main-and-5th", "cam-1", t0.Add(24*time.Hour))
	start := time.Now()
	if err := nc.Publish(events.Subject(live), mustEncode(t, live)); err != nil {
		t.Fatal(err)
	}
	waitJS("the published near miss in the list", fmt.Sprintf(`document.querySelector('#events li:first-child')?.dataset.id === %q`, live.ID), 2*time.Second)
	t.Logf("NATS publish → dashboard list: %v", time.Since(start))

	// Filter: one site only.
	want := map[string]bool{}
	for _, n := range f.nms {
		if n.Site == "state-and-400s" {
			want[n.ID] = true
		}
	}
	if _, err := chromedp.Run(bctx, chromedp.Evaluate[chromedp.Void](`(() => { const s = document.querySelector('#f-site'); s.value = 'state-and-400s'; s.dispatchEvent(new Event('change', {bubbles: true})); })()`)); err != nil {
		t.Fatal(err)
	}
	waitJS("the list filtered to one site", fmt.Sprintf(`document.querySelectorAll('#events li[data-id]').length === %d`, len(want)), 5*time.Second)
	shown, err := chromedp.Run(bctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('#events li[data-id]')].map(li => li.dataset.id)`))
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range shown {
		if !want[id] {
			t.Fatalf("filtered list shows %s from another site", id)
		}
	}
	if _, err := chromedp.Run(bctx, chromedp.Evaluate[chromedp.Void](`(() => { const s = document.querySelector('#f-site'); s.value = ''; s.dispatchEvent(new Event('change', {bubbles: true})); })()`)); err != nil {
		t.Fatal(err)
	}
	waitJS("the list back to all sites", `document.querySelectorAll('#events li[data-id]').length === 50`, 5*time.Second)

	// Approve the first recommendation through its button.
	recID := f.recs[1].ID // newest first in the panel
	sel := fmt.Sprintf(`.rec[data-id=%q] button.approve`, recID)
	if err := chromedp.Do(bctx,
		chromedp.SendKeys(chromedp.CSS("#engineer"), "browser test engineer"),
		chromedp.Click(chromedp.CSS(sel))); err != nil {
		t.Fatal(err)
	}
	waitJS("the recommendation approved", fmt.Sprintf(`!!document.querySelector('.rec[data-id=%q] .state-approved')`, recID), 5*time.Second)
	got, err := f.st.Recommendation(ctx, recID)
	if err != nil || got.State != events.Approved {
		t.Fatalf("stored state after clicking approve: %v %v", got, err)
	}

	// Screenshot (after the approval, so it shows both states).
	png, err := chromedp.Run(bctx, chromedp.FullScreenshot(100) /* 100 = PNG */)
	if err != nil {
		t.Fatal(err)
	}
	dir := artifactDir()
	if err := os.MkdirAll(dir, 0o755); err == nil {
		p := filepath.Join(dir, "dashboard.png")
		if err := os.WriteFile(p, png, 0o644); err != nil {
			t.Errorf("saving screenshot: %v", err)
		} else {
			t.Logf("screenshot: %s", p)
		}
	}
	// docs/dashboard.png (the README's) comes from the demo's browser
	// test in cmd/intersect, which shows real pipeline output.
	if p := problems(); len(p) > 0 {
		t.Fatalf("the page logged problems:\n%s", strings.Join(p, "\n"))
	}
}

func mustEncode(t testing.TB, ev events.Event) []byte {
	t.Helper()
	b, err := events.Encode(ev)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
