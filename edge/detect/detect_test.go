package detect

import (
	"image"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/intersect-oss/intersect/events"
	"github.com/intersect-oss/intersect/internal/testenv"
)

func TestIoU(t *testing.T) {
	tests := []struct {
		a, b image.Rectangle
		want float64
	}{
		{image.Rect(0, 0, 10, 10), image.Rect(0, 0, 10, 10), 1},
		{image.Rect(0, 0, 10, 10), image.Rect(5, 0, 15, 10), 50.0 / 150},
		{image.Rect(0, 0, 10, 10), image.Rect(10, 10, 20, 20), 0},
		{image.Rect(0, 0, 10, 10), image.Rect(2, 2, 4, 4), 4.0 / 100},
		{image.Rect(0, 0, 0, 0), image.Rect(0, 0, 10, 10), 0},
	}
	for _, tt := range tests {
		if got := IoU(tt.a, tt.b); math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("IoU(%v, %v) = %g, want %g", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestNMS(t *testing.T) {
	p := func(x int, s float64, c events.Class) Detection {
		return Detection{Box: image.Rect(x, 0, x+10, 20), Score: s, Class: c}
	}
	tests := []struct {
		name string
		in   []Detection
		iou  float64
		want []Detection
	}{
		{"empty", nil, 0.45, nil},
		{"overlap same class keeps best", []Detection{p(0, 0.5, events.Pedestrian), p(1, 0.9, events.Pedestrian)}, 0.45, []Detection{p(1, 0.9, events.Pedestrian)}},
		{"overlap other class keeps both", []Detection{p(0, 0.5, events.Car), p(1, 0.9, events.Pedestrian)}, 0.45, []Detection{p(1, 0.9, events.Pedestrian), p(0, 0.5, events.Car)}},
		{"cyclist keeps person and bicycle", []Detection{p(0, 0.5, events.Bicycle), p(1, 0.9, events.Pedestrian)}, 0.45, []Detection{p(1, 0.9, events.Pedestrian), p(0, 0.5, events.Bicycle)}},
		{"one van as truck and car", []Detection{p(0, 0.6, events.Car), p(1, 0.75, events.Truck)}, 0.45, []Detection{p(1, 0.75, events.Truck)}},
		{"apart keeps both", []Detection{p(0, 0.5, events.Pedestrian), p(30, 0.9, events.Pedestrian)}, 0.45, []Detection{p(30, 0.9, events.Pedestrian), p(0, 0.5, events.Pedestrian)}},
		// IoU of boxes shifted by 6 of 10 px is 4/16 = 0.25.
		{"below threshold keeps both", []Detection{p(0, 0.8, events.Pedestrian), p(6, 0.7, events.Pedestrian)}, 0.3, []Detection{p(0, 0.8, events.Pedestrian), p(6, 0.7, events.Pedestrian)}},
		{"above threshold drops", []Detection{p(0, 0.8, events.Pedestrian), p(6, 0.7, events.Pedestrian)}, 0.2, []Detection{p(0, 0.8, events.Pedestrian)}},
		{"chain", []Detection{p(0, 0.9, events.Pedestrian), p(2, 0.8, events.Pedestrian), p(3, 0.7, events.Pedestrian), p(40, 0.6, events.Pedestrian)}, 0.45, []Detection{p(0, 0.9, events.Pedestrian), p(40, 0.6, events.Pedestrian)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := NMS(append([]Detection(nil), tt.in...), tt.iou)
			if len(got) != len(tt.want) {
				t.Fatalf("NMS kept %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("NMS[%d] = %v, want %v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestDefaultManifest(t *testing.T) {
	m, err := DefaultManifest()
	if err != nil {
		t.Fatal(err)
	}
	y, err := m.Lookup("yolox-nano")
	if err != nil {
		t.Fatal(err)
	}
	if y.Input.Width != 416 || y.Output.Shape[1] != 3549 || y.Output.Shape[2] != 85 || y.Preprocessing.PadValue != 114 {
		t.Errorf("yolox-nano entry = %+v, want 416 input, [1 3549 85] output, pad 114", y)
	}
	if y.ClassMap[0] != events.Pedestrian || y.ClassMap[7] != events.Truck || y.ClassMap[4] != "" {
		t.Errorf("yolox-nano class map = %v", y.ClassMap)
	}
	if !strings.Contains(y.SourceURL, "3d4f1119d0694200671c08069ecb847aa0d8495a") {
		t.Errorf("source URL %s not pinned to the README's commit", y.SourceURL)
	}
	if _, err := m.Lookup("yolov9"); err == nil || !strings.Contains(err.Error(), "yolox-nano") {
		t.Errorf("Lookup(unknown) error = %v, want one listing the known models", err)
	}
	f, err := m.ForFile("/somewhere/FastestDet.onnx")
	if err != nil || f.Name != "fastestdet" || f.Path != "/somewhere/FastestDet.onnx" {
		t.Errorf("ForFile = %+v, %v", f, err)
	}
	// The embedded manifest is the one in models/.
	disk, err := LoadManifest(testenv.RepoRoot() + "/models/manifest.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(disk.Models) != len(m.Models) || disk.Models[0].Path != testenv.RepoRoot()+"/models/yolox_nano.onnx" {
		t.Errorf("LoadManifest = %+v", disk.Models)
	}
}

func TestParseManifestErrors(t *testing.T) {
	good, err := os.ReadFile(testenv.RepoRoot() + "/models/manifest.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, from, to, want string
	}{
		{"unknown field", "    nms_iou: 0.45\n", "    nms_iou: 0.45\n    colour: red\n", "field colour not found"},
		{"bad class", "0: pedestrian, 1: bicycle, 2: car", "0: walker, 1: bicycle, 2: car", "models[0].class_map[0]: unknown class \"walker\""},
		{"bad sha", "sha256: 695e75", "sha256: zz5e75", "models[0].sha256"},
		{"shape vs strides", "shape: [1, 3549, 85]", "shape: [1, 3548, 85]", "models[0].output.shape: [1 3548 85], want [1, 3549, 5+classes]"},
		{"layout", "layout: fastestdet", "layout: ssd", "models[1].output.layout: \"ssd\""},
		{"class index", "5: bus, 7: truck}\n    score_threshold: {pedestrian: 0.65", "5: bus, 90: truck}\n    score_threshold: {pedestrian: 0.65", "models[1].class_map: index 90 outside the model's 80 classes"},
		{"threshold", "score_threshold: {pedestrian: 0.35", "score_threshold: {pedestrian: 1.35", "score_threshold[pedestrian]: 1.35 outside 0..1"},
		{"path in file", "file: yolox_nano.onnx", "file: ../yolox_nano.onnx", "models[0].file"},
		{"duplicate", "name: fastestdet", "name: yolox-nano", "models[1].name: \"yolox-nano\" listed twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := strings.Replace(string(good), tt.from, tt.to, 1)
			if b == string(good) {
				t.Fatalf("test edit %q not found in manifest", tt.from)
			}
			_, err := ParseManifest([]byte(b), "m.yaml", "")
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "m.yaml") {
				t.Errorf("error = %v, want one starting m.yaml containing %q", err, tt.want)
			}
		})
	}
}

func TestOptionsThresholds(t *testing.T) {
	md := Model{Thresholds: map[events.Class]float64{events.Pedestrian: 0.35, events.Car: 0.4}}
	tests := []struct {
		name string
		opts Options
		want map[events.Class]float64
	}{
		{"manifest, 0.3 for unlisted", Options{}, map[events.Class]float64{events.Pedestrian: 0.35, events.Car: 0.4, events.Bicycle: 0.3, events.Bus: 0.3}},
		{"min score replaces manifest", Options{MinScore: 0.5}, map[events.Class]float64{events.Pedestrian: 0.5, events.Car: 0.5, events.Truck: 0.5}},
		{"per class wins", Options{MinScore: 0.5, Thresholds: map[events.Class]float64{events.Car: 0.6}}, map[events.Class]float64{events.Pedestrian: 0.5, events.Car: 0.6, events.Motorcycle: 0.5}},
		{"per class over manifest", Options{Thresholds: map[events.Class]float64{events.Pedestrian: 0.2}}, map[events.Class]float64{events.Pedestrian: 0.2, events.Car: 0.4}},
	}
	for _, tt := range tests {
		got := tt.opts.thresholds(md)
		for c, v := range tt.want {
			if got[c] != v {
				t.Errorf("%s: threshold[%s] = %g, want %g", tt.name, c, got[c], v)
			}
		}
	}
	if err := (Options{Thresholds: map[events.Class]float64{"walker": 0.3}}).validate(); err == nil {
		t.Error("unknown class in thresholds accepted")
	}
}
