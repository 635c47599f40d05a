package main

import (
	"bufio"
	"bytes"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/intersect-oss/intersect/edge/camera"
	"github.com/intersect-oss/intersect/internal/testenv"
)

// TestSampleIsUpToDate regenerates vtest.yaml from the PETS calibration and
// compares it with the committed file (run the command in the package doc
// to refresh it).
func TestSampleIsUpToDate(t *testing.T) {
	xmlPath := testenv.SharedData(t, "pets09-s2l1", "View_001_calibration.xml")
	cam, err := LoadTsai(xmlPath)
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	if err := Write(&got, cam, "../video/vtest.avi", "../../models/yolox_nano.onnx"); err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("../vtest.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), want) {
		t.Errorf("samples/cameras/vtest.yaml is stale; regenerate it:\n%s", got.String())
	}
}

// TestTsaiRoundTrip checks the model's two directions agree over the frame.
func TestTsaiRoundTrip(t *testing.T) {
	cam, err := LoadTsai(testenv.SharedData(t, "pets09-s2l1", "View_001_calibration.xml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, px := range [][2]float64{{0, 576}, {768, 576}, {384, 288}, {50, 200}, {700, 150}} {
		x, y, ok := cam.ImageToGround(px[0], px[1])
		if !ok {
			t.Fatalf("%v: no ground", px)
		}
		u, v, _ := cam.WorldToImage(x, y, 0)
		if math.Hypot(u-px[0], v-px[1]) > 0.01 {
			t.Errorf("%v → (%.0f,%.0f) mm → (%.3f,%.3f)", px, x, y, u, v)
		}
	}
}

// TestSampleCalibrationIsPlausible fits the sample's homography and checks
// it against the real scene: the fit is within the sample's own 0.5 m bound,
// and the ground-truth pedestrians of PETS09-S2L1, seen through it, walk at
// human speeds (a wrong model or a unit slip gives speeds off by 10× or
// more).
func TestSampleCalibrationIsPlausible(t *testing.T) {
	testenv.SharedData(t, "pets09-s2l1", "vtest.avi")
	f, err := camera.Load("../vtest.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c := &f.Cameras[0]
	r, err := c.Fit(0, false)
	if err != nil {
		t.Fatalf("%v\n%s", err, r.Table())
	}
	t.Logf("sample calibration:\n%s", r.Table())

	gt, err := os.Open(testenv.SharedData(t, "pets09-s2l1", "gt_mot_PETS09-S2L1.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer gt.Close()
	type foot struct{ x, y float64 }
	tracks := map[int]map[int]foot{}
	sc := bufio.NewScanner(gt)
	for sc.Scan() {
		v := strings.Split(sc.Text(), ",")
		if len(v) < 6 {
			continue
		}
		fr, _ := strconv.Atoi(v[0])
		id, _ := strconv.Atoi(v[1])
		l, _ := strconv.ParseFloat(v[2], 64)
		tp, _ := strconv.ParseFloat(v[3], 64)
		w, _ := strconv.ParseFloat(v[4], 64)
		h, _ := strconv.ParseFloat(v[5], 64)
		gx, gy, ok := r.H.Project(l+w/2, tp+h)
		if !ok {
			continue
		}
		if tracks[id] == nil {
			tracks[id] = map[int]foot{}
		}
		tracks[id][fr] = foot{gx, gy}
	}
	var speeds []float64
	for _, tr := range tracks {
		for fr, a := range tr {
			if b, ok := tr[fr+7]; ok && fr%7 == 0 { // 7 frames = 1 s at 7 fps
				speeds = append(speeds, math.Hypot(b.x-a.x, b.y-a.y))
			}
		}
	}
	sort.Float64s(speeds)
	med := speeds[len(speeds)/2]
	t.Logf("ground-truth pedestrians: median speed %.2f m/s over %d one-second spans", med, len(speeds))
	if med < 0.7 || med > 2.0 {
		t.Errorf("median pedestrian speed %.2f m/s is not a walking speed: calibration is off", med)
	}
}

func TestMain(m *testing.M) {
	// Tests read ../vtest.yaml relative to this directory.
	if _, err := os.Stat(filepath.Join("..", "vtest.yaml")); err != nil {
		panic(err)
	}
	os.Exit(m.Run())
}
