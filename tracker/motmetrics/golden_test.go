package motmetrics

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/intersect-oss/intersect/internal/testenv"
	"github.com/intersect-oss/intersect/tracker/mot"
)

// TestGoldenCEMTUDCampus pins the CLEAR and Identity measures to the values
// the MOTChallenge devkit and py-motmetrics print for the CEM tracker on
// TUD-Campus (mot15/README.txt).
func TestGoldenCEMTUDCampus(t *testing.T) {
	dir := testenv.SharedData(t, "mot15", "gt", "TUD-Campus")
	gt, err := mot.ReadFile(filepath.Join(dir, "gt.txt"))
	if err != nil {
		t.Fatal(err)
	}
	hyp, err := mot.ReadFile(filepath.Join(dir, "tracker_CEM_test.txt"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := Evaluate(gt, hyp)
	if err != nil {
		t.Fatal(err)
	}
	floats := []struct {
		name      string
		got, want float64
	}{
		{"IDF1", r.IDF1, 0.557659}, {"IDP", r.IDP, 0.729730}, {"IDR", r.IDR, 0.451253},
		{"Recall", r.Recall, 0.582173}, {"Precision", r.Precision, 0.941441},
		{"MOTA", r.MOTA, 0.526462}, {"MOTP", r.MOTP, 0.277201},
	}
	for _, f := range floats {
		if math.Abs(f.got-f.want) > 0.001 {
			t.Errorf("%s = %.6f, want %.6f ± 0.001", f.name, f.got, f.want)
		}
	}
	ints := []struct {
		name      string
		got, want int
	}{
		{"GT", r.GTIDs, 8}, {"MT", r.MT, 1}, {"PT", r.PT, 6}, {"ML", r.ML, 1},
		{"FP", r.FP, 13}, {"FN", r.FN, 150}, {"IDsw", r.IDSw, 7}, {"FM", r.Frag, 7},
	}
	for _, f := range ints {
		if f.got != f.want {
			t.Errorf("%s = %d, want %d", f.name, f.got, f.want)
		}
	}
	t.Logf("CEM TUD-Campus: HOTA %.4f DetA %.4f AssA %.4f LocA %.4f", r.HOTA, r.DetA, r.AssA, r.LocA)
}
