package detect

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/intersect-oss/intersect/events"
	"github.com/intersect-oss/intersect/models"
)

// Output layouts this package can decode.
const (
	LayoutYOLOX      = "yolox"      // [1, N, 5+classes], grid/stride decoding
	LayoutFastestDet = "fastestdet" // [1, 5+classes, H, W], one box per cell
)

// Resize modes of Preprocessing.
const (
	ResizeLetterbox = "letterbox" // keep aspect, paste top-left on a pad_value canvas
	ResizeStretch   = "stretch"   // plain resize to the input size
)

// Manifest lists the detector models intersect knows (models/manifest.yaml).
type Manifest struct {
	Models []Model `yaml:"models"`
}

// Model is one manifest entry: everything needed to check a model file and
// to turn its output into Detections.
type Model struct {
	Name      string `yaml:"name"`
	File      string `yaml:"file"`
	SHA256    string `yaml:"sha256"`     // hex; empty: not checked
	SizeBytes int64  `yaml:"size_bytes"` // 0: not checked
	SourceURL string `yaml:"source_url"`
	// SharedPath is the file's place under the team's shared data
	// directory, used by fetch.sh and tests.
	SharedPath    string                   `yaml:"shared_path"`
	License       string                   `yaml:"license"`
	Input         ModelInput               `yaml:"input"`
	Preprocessing Preprocessing            `yaml:"preprocessing"`
	Output        ModelOutput              `yaml:"output"`
	ClassMap      map[int]events.Class     `yaml:"class_map"`
	Thresholds    map[events.Class]float64 `yaml:"score_threshold"`
	NMSIoU        float64                  `yaml:"nms_iou"`

	// Path is where the model file is on disk: the manifest's directory
	// joined with File for LoadManifest, empty for DefaultManifest until
	// Locate or ForFile sets it.
	Path string `yaml:"-"`
}

// ModelInput is the network's image input.
type ModelInput struct {
	Name   string `yaml:"name"`
	Width  int    `yaml:"width"`
	Height int    `yaml:"height"`
}

// Preprocessing says how a frame becomes the input tensor.
type Preprocessing struct {
	Resize       string  `yaml:"resize"` // ResizeLetterbox or ResizeStretch
	PadValue     float64 `yaml:"pad_value"`
	ChannelOrder string  `yaml:"channel_order"` // bgr or rgb
	Scale        float64 `yaml:"scale"`         // multiplies every pixel value
}

// ModelOutput is the network's output tensor and how to decode it.
type ModelOutput struct {
	Name    string `yaml:"name"`
	Layout  string `yaml:"layout"` // LayoutYOLOX or LayoutFastestDet
	Shape   []int  `yaml:"shape"`
	Strides []int  `yaml:"strides"` // LayoutYOLOX only
}

// maxModelBytes bounds the model files we are willing to read into memory;
// the detectors meant for a 2-core edge box are a few MB.
const maxModelBytes = 512 << 20

// DefaultManifest returns the manifest built into the binary (package
// models). Its entries have no Path; use Locate or ForFile.
func DefaultManifest() (*Manifest, error) {
	return ParseManifest(models.Manifest(), "models/manifest.yaml (embedded)", "")
}

// LoadManifest reads and validates a manifest file. Each entry's Path is
// the manifest's directory joined with its file name.
func LoadManifest(path string) (*Manifest, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading model manifest: %w", err)
	}
	return ParseManifest(b, path, filepath.Dir(path))
}

// ParseManifest decodes and validates manifest bytes; name is used in
// errors, dir (if not empty) to set each entry's Path.
func ParseManifest(b []byte, name, dir string) (*Manifest, error) {
	var m Manifest
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	var problems []string
	if len(m.Models) == 0 {
		problems = append(problems, "models: empty")
	}
	seen := map[string]bool{}
	for i := range m.Models {
		md := &m.Models[i]
		for _, p := range md.validate() {
			problems = append(problems, fmt.Sprintf("models[%d].%s", i, p))
		}
		if seen[md.Name] {
			problems = append(problems, fmt.Sprintf("models[%d].name: %q listed twice", i, md.Name))
		}
		seen[md.Name] = true
		if dir != "" && md.File != "" {
			md.Path = filepath.Join(dir, md.File)
		}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%s: %s", name, strings.Join(problems, "; "))
	}
	return &m, nil
}

// Validate reports the first problem of a Model built by hand (manifest
// entries are validated at load).
func (md Model) Validate() error {
	if p := md.validate(); len(p) > 0 {
		return fmt.Errorf("model %q: %s", md.Name, strings.Join(p, "; "))
	}
	return nil
}

// validate lists every problem, each prefixed by the field's path.
func (md Model) validate() []string {
	var p []string
	add := func(format string, a ...any) { p = append(p, fmt.Sprintf(format, a...)) }
	if md.Name == "" {
		add("name: missing")
	}
	if md.File == "" || strings.ContainsAny(md.File, `/\`) {
		add("file: %q must be a bare file name", md.File)
	}
	if md.SHA256 != "" && !isHex(md.SHA256, 64) {
		add("sha256: %q is not 64 hex digits", md.SHA256)
	}
	if md.SizeBytes < 0 || md.SizeBytes > maxModelBytes {
		add("size_bytes: %d outside 0..%d", md.SizeBytes, maxModelBytes)
	}
	if md.Input.Width < 32 || md.Input.Height < 32 || md.Input.Width > 4096 || md.Input.Height > 4096 {
		add("input: size %dx%d outside 32..4096", md.Input.Width, md.Input.Height)
	}
	switch md.Preprocessing.Resize {
	case ResizeLetterbox, ResizeStretch:
	default:
		add("preprocessing.resize: %q, want %s or %s", md.Preprocessing.Resize, ResizeLetterbox, ResizeStretch)
	}
	switch md.Preprocessing.ChannelOrder {
	case "bgr", "rgb":
	default:
		add("preprocessing.channel_order: %q, want bgr or rgb", md.Preprocessing.ChannelOrder)
	}
	if md.Preprocessing.Scale <= 0 {
		add("preprocessing.scale: %g, want > 0", md.Preprocessing.Scale)
	}
	switch md.Output.Layout {
	case LayoutYOLOX:
		if len(md.Output.Strides) == 0 {
			add("output.strides: missing for layout yolox")
		}
		n := 0
		for _, s := range md.Output.Strides {
			if s <= 0 || md.Input.Width%s != 0 || md.Input.Height%s != 0 {
				add("output.strides: %d does not divide the input %dx%d", s, md.Input.Width, md.Input.Height)
				continue
			}
			n += (md.Input.Width / s) * (md.Input.Height / s)
		}
		if len(md.Output.Shape) != 3 || md.Output.Shape[0] != 1 || md.Output.Shape[1] != n || md.Output.Shape[2] < 6 {
			add("output.shape: %v, want [1, %d, 5+classes] for strides %v at %dx%d", md.Output.Shape, n, md.Output.Strides, md.Input.Width, md.Input.Height)
		}
	case LayoutFastestDet:
		if len(md.Output.Shape) != 4 || md.Output.Shape[0] != 1 || md.Output.Shape[1] < 6 || md.Output.Shape[2] < 1 || md.Output.Shape[3] < 1 {
			add("output.shape: %v, want [1, 5+classes, H, W]", md.Output.Shape)
		}
	default:
		add("output.layout: %q, want %s or %s", md.Output.Layout, LayoutYOLOX, LayoutFastestDet)
	}
	if len(md.ClassMap) == 0 {
		add("class_map: empty")
	}
	classes := md.numClasses()
	for _, k := range sortedKeys(md.ClassMap) {
		if k < 0 || (classes > 0 && k >= classes) {
			add("class_map: index %d outside the model's %d classes", k, classes)
		}
		if !md.ClassMap[k].Valid() {
			add("class_map[%d]: unknown class %q (want one of %v)", k, md.ClassMap[k], events.Classes)
		}
	}
	for c, v := range md.Thresholds {
		if !c.Valid() {
			add("score_threshold: unknown class %q", c)
		}
		if v < 0 || v > 1 {
			add("score_threshold[%s]: %g outside 0..1", c, v)
		}
	}
	if md.NMSIoU < 0 || md.NMSIoU > 1 {
		add("nms_iou: %g outside 0..1", md.NMSIoU)
	}
	return p
}

// numClasses is the number of class scores per prediction, 0 if unknown.
func (md Model) numClasses() int {
	switch md.Output.Layout {
	case LayoutYOLOX:
		if len(md.Output.Shape) == 3 {
			return md.Output.Shape[2] - 5
		}
	case LayoutFastestDet:
		if len(md.Output.Shape) == 4 {
			return md.Output.Shape[1] - 5
		}
	}
	return 0
}

// Lookup returns the entry called name.
func (m *Manifest) Lookup(name string) (Model, error) {
	for _, md := range m.Models {
		if md.Name == name {
			return md, nil
		}
	}
	return Model{}, fmt.Errorf("model %q is not in the manifest (have %s)", name, strings.Join(m.names(), ", "))
}

// ForFile returns the entry whose file name is path's base name, with Path
// set to path: how `--model some/dir/yolox_nano.onnx` finds its checksum
// and decoding.
func (m *Manifest) ForFile(path string) (Model, error) {
	base := filepath.Base(path)
	for _, md := range m.Models {
		if md.File == base {
			md.Path = path
			return md, nil
		}
	}
	return Model{}, fmt.Errorf("model file %s: %q is not a file in the manifest (have %s)", path, base, strings.Join(m.names(), ", "))
}

// Locate returns md with Path set to the first of dir/File that exists.
func (md Model) Locate(dirs ...string) (Model, error) {
	for _, d := range dirs {
		p := filepath.Join(d, md.File)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			md.Path = p
			return md, nil
		}
	}
	return md, fmt.Errorf("model %q: %s not found in %s (run `make models`)", md.Name, md.File, strings.Join(dirs, ", "))
}

func (m *Manifest) names() []string {
	var n []string
	for _, md := range m.Models {
		n = append(n, md.Name)
	}
	return n
}

func isHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func sortedKeys(m map[int]events.Class) []int {
	k := make([]int, 0, len(m))
	for i := range m {
		k = append(k, i)
	}
	sort.Ints(k)
	return k
}

var errNoPath = errors.New("no model file path (set Model.Path, or use LoadManifest, Locate or ForFile)")
