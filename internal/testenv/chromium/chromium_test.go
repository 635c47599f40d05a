package chromium

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// A page that warns, errors and throws: errors and exceptions are always
// problems, warnings only when asked for.
func TestProblems(t *testing.T) {
	const page = `data:text/html,<script>console.warn("w-1"); console.error("e-1"); throw new Error("x-1");</script>`
	for _, tc := range []struct {
		warnings bool
		want     []string
		notWant  []string
	}{
		{false, []string{"console.error", "e-1", "exception", "x-1"}, []string{"console.warning"}},
		{true, []string{"console.warning", "w-1", "e-1", "x-1"}, nil},
	} {
		bctx, problems := Start(t, context.Background(), Options{Width: 400, Height: 300, Warnings: tc.warnings})
		if err := chromedp.Do(bctx, chromedp.Navigate(page)); err != nil {
			t.Fatal(err)
		}
		var got string
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if got = strings.Join(problems(), "\n"); strings.Contains(got, "x-1") && strings.Contains(got, "e-1") {
				break
			}
		}
		for _, w := range tc.want {
			if !strings.Contains(got, w) {
				t.Errorf("warnings=%v: problems lack %q:\n%s", tc.warnings, w, got)
			}
		}
		for _, w := range tc.notWant {
			if strings.Contains(got, w) {
				t.Errorf("warnings=%v: problems include %q:\n%s", tc.warnings, w, got)
			}
		}
	}
}
