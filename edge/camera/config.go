// Package camera reads and checks the edge worker's camera configuration: a
// YAML file listing one or more cameras with their source, detector,
// calibration (image↔ground point pairs), zones and privacy options.
//
// Load validates everything before any camera opens and reports every
// problem at once, each with its path in the file
// ("cameras[1].calibration.points[3]: image point (900,10) outside frame
// 768x576"), so a technician fixes the file in one pass.
package camera

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/intersect-oss/intersect/edge/calib"
	"github.com/intersect-oss/intersect/events"
)

// File is a camera configuration file.
type File struct {
	Cameras []Camera `yaml:"cameras"`

	path string // where it was loaded from; relative paths resolve against its directory
}

// Camera is one camera.
type Camera struct {
	ID     string `yaml:"id"`
	Site   string `yaml:"site"`
	Source string `yaml:"source"` // file path, rtsp:// or http(s):// URL, /dev/videoN or a device index
	// FPS overrides the frame rate the source reports (containers lie: vtest.avi
	// says 10 fps, the scene was shot at 7). 0 means trust the source.
	FPS       float64     `yaml:"fps"`
	Frame     FrameSize   `yaml:"frame"`
	Detector  Detector    `yaml:"detector"`
	Calib     Calibration `yaml:"calibration"`
	Zones     []Zone      `yaml:"zones"`
	Privacy   Privacy     `yaml:"privacy"`
	HealthSec float64     `yaml:"health_interval_s"` // CameraHealth period; default 10 s
	QueueLen  int         `yaml:"queue"`             // frames between capture and detection; default 4
}

// FrameSize is the image size the calibration refers to.
type FrameSize struct {
	Width  int `yaml:"width"`
	Height int `yaml:"height"`
}

// Detector chooses and tunes the detector.
type Detector struct {
	Kind     string `yaml:"kind"`     // "yolox" or "motion"
	Model    string `yaml:"model"`    // ONNX file (yolox)
	Manifest string `yaml:"manifest"` // model manifest (yolox), optional
	// Thresholds are per-class minimum confidences; classes not named use
	// Score (default 0.35).
	Thresholds map[string]float64 `yaml:"thresholds"`
	Score      float64            `yaml:"score"`
	NMS        float64            `yaml:"nms"`     // IoU for non-maximum suppression, default 0.45
	Classes    []string           `yaml:"classes"` // classes to keep; empty keeps all
	// Fallback "motion" lets a yolox camera run the motion detector when
	// its model file is absent (say, before `make models`), with a warning
	// in the log. A model that is present but bad is still an error.
	Fallback string `yaml:"fallback"`
}

// ModelMissing reports whether the camera asks for YOLOX, allows the motion
// fallback, and its model file is absent.
func (d Detector) ModelMissing() bool {
	if d.Kind != "yolox" || d.Fallback != "motion" || d.Model == "" {
		return false
	}
	_, err := os.Stat(d.Model)
	return errors.Is(err, fs.ErrNotExist)
}

// Calibration maps the image to the ground.
type Calibration struct {
	// Origin anchors local metres to WGS84. Required when points are in
	// local metres; when points are given as lat/lng and no origin is set,
	// the first point becomes the origin.
	Origin    *LatLngYAML `yaml:"origin"`
	Points    []CalPoint  `yaml:"points"`
	MaxErrorM float64     `yaml:"max_error_m"` // refuse a fit worse than this (default 0.5 m)
	Force     bool        `yaml:"force"`       // accept a fit over MaxErrorM anyway
}

// LatLngYAML is a WGS84 position.
type LatLngYAML struct {
	Lat float64 `yaml:"lat"`
	Lng float64 `yaml:"lng"`
}

// CalPoint is one surveyed pair. Exactly one of Ground (local metres, x east,
// y north) or LatLng ([lat, lng]) is set.
type CalPoint struct {
	Image  []float64 `yaml:"image"`
	Ground []float64 `yaml:"ground"`
	LatLng []float64 `yaml:"latlng"`
}

// Zone kinds.
const (
	ZoneCrosswalk = "crosswalk"
	ZoneApproach  = "approach"
	ZoneExclusion = "exclusion" // detections whose ground point falls inside are ignored
)

// Zone is a named ground-plane polygon (local metres).
type Zone struct {
	Name     string      `yaml:"name"`
	Kind     string      `yaml:"kind"`
	Approach string      `yaml:"approach"` // NB, SB, EB or WB for approach zones
	Polygon  [][]float64 `yaml:"polygon"`
}

// Privacy options. Blurring people in snapshots is not optional; these
// choose how and what else.
type Privacy struct {
	Snapshots     *bool   `yaml:"snapshots"`    // save a snapshot per near miss (default true)
	Method        string  `yaml:"method"`       // "gaussian" (default) or "pixelate"
	BlurAll       bool    `yaml:"blur_all"`     // blur every detection, vehicles too (plates)
	JPEGQuality   int     `yaml:"jpeg_quality"` // default 80
	PaddingFactor float64 `yaml:"padding"`      // grow boxes by this share before blurring (default 0.15)
}

// Approaches are the approach names DESIGN.md uses.
var Approaches = []string{"NB", "SB", "EB", "WB"}

// Defaults.
const (
	DefaultMaxErrorM   = 0.5
	DefaultScore       = 0.35
	DefaultNMS         = 0.45
	DefaultHealth      = 10 * time.Second
	DefaultQueueLen    = 4
	DefaultJPEGQuality = 80
	DefaultPadding     = 0.15
	// RANSACThresholdM is the inlier distance on the ground for fits with
	// more than 4 points.
	RANSACThresholdM = 0.5
)

// Error lists every problem found in a configuration file.
type Error struct {
	File     string
	Problems []string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s: %d problem(s):\n  %s", e.File, len(e.Problems), strings.Join(e.Problems, "\n  "))
}

// Load reads and validates a camera configuration file.
func Load(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading camera config: %w", err)
	}
	return Parse(path, data)
}

// Parse decodes and validates configuration data; path names the file in
// errors and anchors relative paths.
func Parse(path string, data []byte) (*File, error) {
	var f File
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true) // a misspelt key is an error, not a silent default
	if err := dec.Decode(&f); err != nil {
		return nil, &Error{File: path, Problems: []string{"YAML: " + err.Error()}}
	}
	f.path = path
	if probs := f.validate(); len(probs) > 0 {
		return nil, &Error{File: path, Problems: probs}
	}
	f.applyDefaults()
	return &f, nil
}

// Path is the file the configuration came from.
func (f *File) Path() string { return f.path }

// Camera returns the camera with the given ID.
func (f *File) Camera(id string) (*Camera, error) {
	var ids []string
	for i := range f.Cameras {
		if f.Cameras[i].ID == id {
			return &f.Cameras[i], nil
		}
		ids = append(ids, f.Cameras[i].ID)
	}
	return nil, fmt.Errorf("%s: no camera %q (have %s)", f.path, id, strings.Join(ids, ", "))
}

// Resolve makes a path from the file relative to the file's directory.
func (f *File) Resolve(p string) string {
	if p == "" || filepath.IsAbs(p) || f.path == "" {
		return p
	}
	return filepath.Join(filepath.Dir(f.path), p)
}

func (f *File) applyDefaults() {
	for i := range f.Cameras {
		c := &f.Cameras[i]
		if c.Detector.Score == 0 {
			c.Detector.Score = DefaultScore
		}
		if c.Detector.NMS == 0 {
			c.Detector.NMS = DefaultNMS
		}
		if c.Calib.MaxErrorM == 0 {
			c.Calib.MaxErrorM = DefaultMaxErrorM
		}
		if c.HealthSec == 0 {
			c.HealthSec = DefaultHealth.Seconds()
		}
		if c.QueueLen == 0 {
			c.QueueLen = DefaultQueueLen
		}
		if c.Privacy.Method == "" {
			c.Privacy.Method = "gaussian"
		}
		if c.Privacy.JPEGQuality == 0 {
			c.Privacy.JPEGQuality = DefaultJPEGQuality
		}
		if c.Privacy.PaddingFactor == 0 {
			c.Privacy.PaddingFactor = DefaultPadding
		}
		if c.Privacy.Snapshots == nil {
			t := true
			c.Privacy.Snapshots = &t
		}
		if c.Detector.Kind == "yolox" {
			c.Detector.Model = f.Resolve(c.Detector.Model)
			c.Detector.Manifest = f.Resolve(c.Detector.Manifest)
		}
		if SourceKind(c.Source) == "file" {
			c.Source = f.Resolve(c.Source)
		}
	}
}

// HealthInterval is the CameraHealth period.
func (c *Camera) HealthInterval() time.Duration {
	return time.Duration(c.HealthSec * float64(time.Second))
}

// SourceKind classifies a source string: "url", "device" or "file".
func SourceKind(s string) string {
	switch {
	case strings.Contains(s, "://"):
		return "url"
	case strings.HasPrefix(s, "/dev/video"):
		return "device"
	}
	if _, err := strconv.Atoi(s); err == nil {
		return "device"
	}
	return "file"
}

// DeviceIndex returns the V4L2 index of a device source.
func DeviceIndex(s string) (int, error) {
	return strconv.Atoi(strings.TrimPrefix(s, "/dev/video"))
}

// Projection is the camera's local-metres↔WGS84 projection.
func (c *Camera) Projection() calib.Projection {
	if c.Calib.Origin != nil {
		return calib.Projection{Origin: calib.LatLng{Lat: c.Calib.Origin.Lat, Lng: c.Calib.Origin.Lng}}
	}
	for _, p := range c.Calib.Points {
		if len(p.LatLng) == 2 {
			return calib.Projection{Origin: calib.LatLng{Lat: p.LatLng[0], Lng: p.LatLng[1]}}
		}
	}
	return calib.Projection{}
}

// Pairs returns the calibration's point pairs with the ground in local
// metres (lat/lng points projected around the origin).
func (c *Camera) Pairs() []calib.Pair {
	proj := c.Projection()
	out := make([]calib.Pair, 0, len(c.Calib.Points))
	for _, p := range c.Calib.Points {
		if len(p.Image) != 2 {
			continue
		}
		pair := calib.Pair{Image: calib.Point{X: p.Image[0], Y: p.Image[1]}}
		switch {
		case len(p.Ground) == 2:
			pair.Ground = calib.Point{X: p.Ground[0], Y: p.Ground[1]}
		case len(p.LatLng) == 2:
			x, y := proj.ToLocal(calib.LatLng{Lat: p.LatLng[0], Lng: p.LatLng[1]})
			pair.Ground = calib.Point{X: x, Y: y}
		default:
			continue
		}
		out = append(out, pair)
	}
	return out
}

// Fit fits the camera's homography and applies its error threshold; force
// (from the command line) overrides the threshold like calibration.force.
// The report is returned even when the threshold fails, so it can be shown.
func (c *Camera) Fit(maxErrorM float64, force bool) (*calib.Report, error) {
	if maxErrorM <= 0 {
		maxErrorM = c.Calib.MaxErrorM
	}
	if maxErrorM <= 0 {
		maxErrorM = DefaultMaxErrorM
	}
	// RANSAC's inlier threshold is fixed rather than the acceptance
	// threshold: a tight acceptance limit must judge the best fit, not
	// make RANSAC fit a subset and disown the rest.
	r, err := calib.Fit(c.Pairs(), RANSACThresholdM)
	if err != nil {
		return nil, fmt.Errorf("camera %s: fitting homography: %w", c.ID, err)
	}
	if r.MaxM > maxErrorM && !force && !c.Calib.Force {
		return r, &CalibrationError{Camera: c.ID, MaxM: r.MaxM, LimitM: maxErrorM}
	}
	return r, nil
}

// CalibrationError says a fit exceeded the allowed reprojection error.
type CalibrationError struct {
	Camera       string
	MaxM, LimitM float64
}

func (e *CalibrationError) Error() string {
	return fmt.Sprintf("camera %s: calibration max reprojection error %.3f m exceeds %.3f m (fix the points, raise max_error_m, or force)", e.Camera, e.MaxM, e.LimitM)
}

// IsConfigError reports whether err is a configuration problem (exit 2).
func IsConfigError(err error) bool {
	var ce *Error
	var ke *CalibrationError
	return errors.As(err, &ce) || errors.As(err, &ke)
}

// validate returns every problem, each prefixed with its path.
func (f *File) validate() []string {
	var probs []string
	add := func(path, format string, a ...any) {
		probs = append(probs, path+": "+fmt.Sprintf(format, a...))
	}
	if len(f.Cameras) == 0 {
		add("cameras", "no cameras configured")
	}
	seen := map[string]int{}
	for i := range f.Cameras {
		c := &f.Cameras[i]
		p := fmt.Sprintf("cameras[%d]", i)
		if !events.ValidID(c.ID) {
			add(p+".id", "%q must match [a-z0-9-]+", c.ID)
		} else if j, dup := seen[c.Site+"/"+c.ID]; dup {
			add(p+".id", "duplicate camera id %q (also cameras[%d])", c.ID, j)
		} else {
			seen[c.Site+"/"+c.ID] = i
		}
		if !events.ValidID(c.Site) {
			add(p+".site", "%q must match [a-z0-9-]+", c.Site)
		}
		if c.Source == "" {
			add(p+".source", "required (file path, rtsp:// or http:// URL, /dev/videoN or device index)")
		} else if SourceKind(c.Source) == "device" {
			if n, err := DeviceIndex(c.Source); err != nil || n < 0 {
				add(p+".source", "device %q: want /dev/videoN or a non-negative index", c.Source)
			}
		}
		if c.FPS < 0 || c.FPS > 240 || math.IsNaN(c.FPS) {
			add(p+".fps", "%v out of range (0 = from the source, else 0 < fps ≤ 240)", c.FPS)
		}
		if c.HealthSec < 0 {
			add(p+".health_interval_s", "%v must not be negative", c.HealthSec)
		}
		if c.QueueLen < 0 || c.QueueLen > 256 {
			add(p+".queue", "%d out of range 1..256", c.QueueLen)
		}
		if c.Frame.Width <= 0 || c.Frame.Height <= 0 || c.Frame.Width > 10000 || c.Frame.Height > 10000 {
			add(p+".frame", "width and height are required (the image size the calibration refers to), got %dx%d", c.Frame.Width, c.Frame.Height)
		}
		probs = append(probs, c.validateDetector(p+".detector", f)...)
		probs = append(probs, c.validateCalibration(p+".calibration")...)
		probs = append(probs, validateZones(p+".zones", c.Zones)...)
		probs = append(probs, validatePrivacy(p+".privacy", c.Privacy)...)
	}
	return probs
}

func (c *Camera) validateDetector(p string, f *File) []string {
	var probs []string
	add := func(path, format string, a ...any) {
		probs = append(probs, path+": "+fmt.Sprintf(format, a...))
	}
	d := c.Detector
	switch d.Kind {
	case "motion":
		if d.Model != "" {
			add(p+".model", "the motion detector takes no model (kind: yolox to use one)")
		}
	case "yolox":
		if d.Model == "" {
			add(p+".model", "required for kind yolox")
		} else if st, err := os.Stat(f.Resolve(d.Model)); err != nil {
			if !(d.Fallback == "motion" && errors.Is(err, fs.ErrNotExist)) {
				add(p+".model", "%v", err)
			}
		} else if st.IsDir() {
			add(p+".model", "%s is a directory", f.Resolve(d.Model))
		}
	case "":
		add(p+".kind", "required: yolox or motion")
	default:
		add(p+".kind", "unknown detector %q (want yolox or motion)", d.Kind)
	}
	if d.Fallback != "" && d.Fallback != "motion" {
		add(p+".fallback", "unknown fallback %q (want motion or nothing)", d.Fallback)
	}
	classes := make([]string, 0, len(d.Thresholds))
	for k := range d.Thresholds {
		classes = append(classes, k)
	}
	sort.Strings(classes)
	for _, k := range classes {
		if !events.Class(k).Valid() {
			add(p+".thresholds."+k, "unknown class %q (want one of %v)", k, events.Classes)
		}
		if v := d.Thresholds[k]; v <= 0 || v >= 1 || math.IsNaN(v) {
			add(p+".thresholds."+k, "%v must be in (0,1)", v)
		}
	}
	for i, k := range d.Classes {
		if !events.Class(k).Valid() {
			add(fmt.Sprintf("%s.classes[%d]", p, i), "unknown class %q (want one of %v)", k, events.Classes)
		}
	}
	if d.Score < 0 || d.Score >= 1 {
		add(p+".score", "%v must be in (0,1)", d.Score)
	}
	if d.NMS < 0 || d.NMS >= 1 {
		add(p+".nms", "%v must be in (0,1)", d.NMS)
	}
	return probs
}

func (c *Camera) validateCalibration(p string) []string {
	var probs []string
	add := func(path, format string, a ...any) {
		probs = append(probs, path+": "+fmt.Sprintf(format, a...))
	}
	cal := c.Calib
	if cal.Origin != nil {
		if !(calib.LatLng{Lat: cal.Origin.Lat, Lng: cal.Origin.Lng}).Valid() {
			add(p+".origin", "lat %v, lng %v out of range", cal.Origin.Lat, cal.Origin.Lng)
		}
	}
	if cal.MaxErrorM < 0 {
		add(p+".max_error_m", "%v must be positive", cal.MaxErrorM)
	}
	if len(cal.Points) < 4 {
		add(p+".points", "need at least 4 image↔ground pairs, have %d", len(cal.Points))
	}
	usesMetres := false
	var img, gnd []calib.Point
	okAll := true
	for i, pt := range cal.Points {
		pp := fmt.Sprintf("%s.points[%d]", p, i)
		if len(pt.Image) != 2 {
			add(pp+".image", "want [x, y] in pixels, got %v", pt.Image)
			okAll = false
		} else if !finite(pt.Image...) {
			add(pp+".image", "non-finite coordinate %v", pt.Image)
			okAll = false
		} else if c.Frame.Width > 0 && c.Frame.Height > 0 &&
			(pt.Image[0] < 0 || pt.Image[1] < 0 || pt.Image[0] > float64(c.Frame.Width) || pt.Image[1] > float64(c.Frame.Height)) {
			add(pp, "image point (%g,%g) outside frame %dx%d", pt.Image[0], pt.Image[1], c.Frame.Width, c.Frame.Height)
			okAll = false
		}
		switch {
		case len(pt.Ground) > 0 && len(pt.LatLng) > 0:
			add(pp, "give ground or latlng, not both")
			okAll = false
		case len(pt.Ground) > 0:
			usesMetres = true
			if len(pt.Ground) != 2 || !finite(pt.Ground...) {
				add(pp+".ground", "want [x_m, y_m], got %v", pt.Ground)
				okAll = false
			}
		case len(pt.LatLng) > 0:
			if len(pt.LatLng) != 2 || !(calib.LatLng{Lat: pt.LatLng[0], Lng: pt.LatLng[1]}).Valid() {
				add(pp+".latlng", "want [lat, lng] in degrees, got %v", pt.LatLng)
				okAll = false
			}
		default:
			add(pp, "needs ground [x_m, y_m] or latlng [lat, lng]")
			okAll = false
		}
	}
	if usesMetres && cal.Origin == nil {
		add(p+".origin", "required when points are in local metres (the WGS84 position of ground (0,0))")
	}
	if okAll && len(cal.Points) >= 4 {
		for _, pr := range c.Pairs() {
			img = append(img, pr.Image)
			gnd = append(gnd, pr.Ground)
		}
		if ok, tri := calib.GeneralPosition(img); !ok {
			add(p+".points", "image points are degenerate: points %d, %d and %d are collinear and no 4 points are in general position", tri[0], tri[1], tri[2])
		}
		if ok, tri := calib.GeneralPosition(gnd); !ok {
			add(p+".points", "ground points are degenerate: points %d, %d and %d are collinear and no 4 points are in general position", tri[0], tri[1], tri[2])
		}
	}
	return probs
}

func validateZones(p string, zones []Zone) []string {
	var probs []string
	add := func(path, format string, a ...any) {
		probs = append(probs, path+": "+fmt.Sprintf(format, a...))
	}
	names := map[string]int{}
	for i, z := range zones {
		zp := fmt.Sprintf("%s[%d]", p, i)
		if z.Name == "" {
			add(zp+".name", "required")
		} else if j, dup := names[z.Name]; dup {
			add(zp+".name", "duplicate zone name %q (also %s[%d])", z.Name, p, j)
		} else {
			names[z.Name] = i
		}
		switch z.Kind {
		case ZoneCrosswalk, ZoneExclusion:
			if z.Approach != "" {
				add(zp+".approach", "only approach zones have an approach")
			}
		case ZoneApproach:
			if !contains(Approaches, z.Approach) {
				add(zp+".approach", "%q: want one of NB, SB, EB, WB", z.Approach)
			}
		default:
			add(zp+".kind", "unknown zone kind %q (want crosswalk, approach or exclusion)", z.Kind)
		}
		poly := make([]calib.Point, 0, len(z.Polygon))
		ok := true
		for j, v := range z.Polygon {
			if len(v) != 2 || !finite(v...) {
				add(fmt.Sprintf("%s.polygon[%d]", zp, j), "want [x_m, y_m], got %v", v)
				ok = false
				continue
			}
			poly = append(poly, calib.Point{X: v[0], Y: v[1]})
		}
		if len(z.Polygon) < 3 {
			add(zp+".polygon", "needs at least 3 vertices, has %d", len(z.Polygon))
		} else if ok {
			if err := SimplePolygon(poly); err != nil {
				add(zp+".polygon", "%v", err)
			}
		}
	}
	return probs
}

func validatePrivacy(p string, pr Privacy) []string {
	var probs []string
	switch pr.Method {
	case "", "gaussian", "pixelate":
	default:
		probs = append(probs, fmt.Sprintf("%s.method: unknown %q (want gaussian or pixelate)", p, pr.Method))
	}
	if pr.JPEGQuality < 0 || pr.JPEGQuality > 100 {
		probs = append(probs, fmt.Sprintf("%s.jpeg_quality: %d out of range 1..100", p, pr.JPEGQuality))
	}
	if pr.PaddingFactor < 0 || pr.PaddingFactor > 1 {
		probs = append(probs, fmt.Sprintf("%s.padding: %v out of range 0..1", p, pr.PaddingFactor))
	}
	return probs
}

func finite(vs ...float64) bool {
	for _, v := range vs {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return false
		}
	}
	return true
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
