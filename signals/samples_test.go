package signals

import (
	"path/filepath"
	"testing"

	"github.com/intersect-oss/intersect/internal/testenv"
)

// TestSamplePlansLoad keeps the shipped timing plans valid: the demo reads
// them at start and would refuse to run on a broken one.
func TestSamplePlansLoad(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(testenv.RepoRoot(), "samples", "plans", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no sample plans found: %v", err)
	}
	for _, f := range files {
		if _, err := LoadPlan(f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}
