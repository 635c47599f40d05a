// Package chromium runs headless Chromium for the browser tests (the
// dashboard's in api, the demo's in cmd/intersect): it skips a test when the
// browser is not installed (failing under CI, which must run them), starts it
// with a private profile, and collects what the page reports as problems
// (exceptions, console and log errors) so a test can fail on them.
package chromium

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/intersect-oss/intersect/internal/testenv"
)

// Path is where the tests expect Chromium (Debian's chromium package).
const Path = "/usr/bin/chromium"

// Require skips the test when Chromium is not installed; under CI it fails.
// Call it first, before the test starts anything costly.
func Require(tb testing.TB) {
	tb.Helper()
	if _, err := os.Stat(Path); err != nil {
		if testenv.CI() {
			tb.Fatalf("chromium is required under CI: %v", err)
		}
		tb.Skipf("browser test skipped: %s not installed (apt-get install chromium)", Path)
	}
}

// Options size the window and say what counts as a problem.
type Options struct {
	Width, Height int
	// Warnings counts console and log warnings as problems too, not only
	// errors, failed assertions and exceptions.
	Warnings bool
}

// Start launches Chromium (see Require) and returns the browser context to
// run chromedp actions in, and problems, which returns what the page has
// reported so far. The browser is closed when the test ends. The browser is
// started here, by a first action without a timeout, so callers may put
// deadlines on their own actions.
func Start(tb testing.TB, ctx context.Context, o Options) (bctx context.Context, problems func() []string) {
	tb.Helper()
	Require(tb)
	actx, cancelA := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(Path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(tb.TempDir()), chromedp.WindowSize(o.Width, o.Height))
	tb.Cleanup(cancelA)
	var mu sync.Mutex
	var seen []string
	bctx, cancelB := chromedp.NewContext(actx, chromedp.WithListener(func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch e := ev.(type) {
		case *runtime.EventExceptionThrown:
			seen = append(seen, fmt.Sprintf("exception: %s %+v", e.ExceptionDetails.Text, e.ExceptionDetails.Exception))
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.ConsoleAPICalledTypeError || e.Type == runtime.ConsoleAPICalledTypeAssert ||
				o.Warnings && e.Type == runtime.ConsoleAPICalledTypeWarning {
				var args []string
				for _, a := range e.Args {
					args = append(args, string(a.Value)+a.Description)
				}
				seen = append(seen, fmt.Sprintf("console.%s: %s", e.Type, strings.Join(args, " ")))
			}
		case *cdplog.EventEntryAdded:
			if e.Entry.Level == cdplog.EntryLevelError || o.Warnings && e.Entry.Level == cdplog.EntryLevelWarning {
				seen = append(seen, fmt.Sprintf("log %s: %s %s", e.Entry.Level, e.Entry.Text, e.Entry.URL))
			}
		}
	}))
	tb.Cleanup(cancelB)
	enableLog := chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, cdplog.Enable, cdp.Empty{})
		return err
	})
	if err := chromedp.Do(bctx, enableLog); err != nil {
		tb.Fatalf("starting Chromium: %v", err)
	}
	return bctx, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), seen...)
	}
}
