package twin

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"gocv.io/x/gocv"

	"github.com/intersect-oss/intersect/tracker"
	"github.com/intersect-oss/intersect/tracker/conflict"
	"github.com/intersect-oss/intersect/tracker/trajectory"
)

// Output file names inside Options.OutDir.
const (
	VideoFile     = "scene.avi"
	TruthFile     = "truth.csv"           // DESIGN.md trajectory CSV
	MOTFile       = "truth.mot.txt"       // MOTChallenge boxes of visible road users
	CameraFile    = "camera.yaml"         // edge camera configuration (twin-1)
	ConflictsFile = "truth_conflicts.csv" // the engine on the true trajectories
	ScriptedFile  = "truth_scripted.csv"  // the planned encounters and their measures
	StampFile     = "twin.version"        // what was rendered (Stamp), written last
)

// SceneVersion names the scene's script, camera and renderer: bump it when
// a change alters what is drawn or its truth, so that a render cached from
// an earlier version (the demo's) is made again.
const SceneVersion = 2

// Stamp says what Render(opt) draws; a render is complete and current when
// its StampFile holds exactly this.
func Stamp(opt Options) (string, error) {
	if err := opt.defaults(); err != nil {
		return "", err
	}
	return fmt.Sprintf("intersect twin scene v%d seed %d duration %s fps %g size %dx%d\n",
		SceneVersion, opt.Seed, opt.Duration, opt.FPS, opt.Width, opt.Height), nil
}

// Options choose what to render. Zero values take the defaults.
type Options struct {
	Seed     uint64
	Duration time.Duration // default 60 s
	FPS      float64       // default 15
	Width    int           // default 960
	Height   int           // default 540
	OutDir   string        // required
	Log      *slog.Logger  // progress; nil: silent
}

func (o *Options) defaults() error {
	if o.Duration == 0 {
		o.Duration = 60 * time.Second
	}
	if o.FPS == 0 {
		o.FPS = 15
	}
	if o.Width == 0 && o.Height == 0 {
		o.Width, o.Height = 960, 540
	}
	switch {
	case o.OutDir == "":
		return errors.New("twin: output directory required")
	case o.Duration < time.Second || o.Duration > time.Hour:
		return fmt.Errorf("twin: duration %v out of range [1s, 1h]", o.Duration)
	case !(o.FPS >= 1 && o.FPS <= 60):
		return fmt.Errorf("twin: fps %v out of range [1, 60]", o.FPS)
	case o.Width < 320 || o.Height < 180 || o.Width > 3840 || o.Height > 2160 || o.Width%2 != 0 || o.Height%2 != 0:
		return fmt.Errorf("twin: image size %dx%d: want even sizes within 320x180..3840x2160", o.Width, o.Height)
	}
	return nil
}

// Result says what Render wrote.
type Result struct {
	Dir        string
	Files      []string // paths written, in the order above
	Frames     int
	Agents     int
	Scripted   []Scripted
	Encounters []conflict.Encounter // the engine on the true trajectories
	Homography tracker.Homography   // image → ground, row-major
	FramesPerS float64              // render speed (wall clock; not part of any output)
}

// frameRenderer holds what every frame reuses.
type frameRenderer struct {
	p         *painter
	bg, frame gocv.Mat
	lit       gocv.Mat
	noisePos  []gocv.Mat
	noiseNeg  []gocv.Mat
	rng       *rand.Rand
	width     int
	height    int
}

const noisePatterns = 6

func newFrameRenderer(cam Camera, seed uint64) (*frameRenderer, error) {
	r := &frameRenderer{
		p: newPainter(cam), width: cam.Width, height: cam.Height,
		bg:    gocv.NewMatWithSize(cam.Height, cam.Width, gocv.MatTypeCV8UC3),
		frame: gocv.NewMat(), lit: gocv.NewMat(),
		rng: rand.New(rand.NewPCG(seed, 0x5eed)),
	}
	r.p.drawBackground(&r.bg)
	// Sensor noise: a few fixed patterns of small noise (a sum of four
	// 2-bit uniforms, σ ≈ 2.2 levels), cycled pseudo-randomly: cheaper than
	// fresh noise per frame and as good for a background subtractor, which
	// models per-pixel variance.
	n := cam.Width * cam.Height * 3
	for k := 0; k < noisePatterns; k++ {
		pos, neg := make([]byte, n), make([]byte, n)
		var bits uint64
		for i := range pos {
			if i%8 == 0 {
				bits = r.rng.Uint64()
			}
			x := bits >> (8 * (i % 8))
			v := int(x&3) + int(x>>2&3) - int(x>>4&3) - int(x>>6&3)
			if v > 0 {
				pos[i] = byte(v)
			} else {
				neg[i] = byte(-v)
			}
		}
		mp, err := gocv.NewMatFromBytes(cam.Height, cam.Width, gocv.MatTypeCV8UC3, pos)
		if err != nil {
			r.Close()
			return nil, fmt.Errorf("twin: noise pattern: %w", err)
		}
		mn, err := gocv.NewMatFromBytes(cam.Height, cam.Width, gocv.MatTypeCV8UC3, neg)
		if err != nil {
			mp.Close()
			r.Close()
			return nil, fmt.Errorf("twin: noise pattern: %w", err)
		}
		r.noisePos, r.noiseNeg = append(r.noisePos, mp), append(r.noiseNeg, mn)
	}
	return r, nil
}

func (r *frameRenderer) Close() {
	r.bg.Close()
	r.frame.Close()
	r.lit.Close()
	for i := range r.noisePos {
		r.noisePos[i].Close()
		r.noiseNeg[i].Close()
	}
}

// gain is the slow global lighting change (passing clouds): a few percent.
func gain(tS float64) float64 {
	return 1 + 0.04*math.Sin(2*math.Pi*tS/19) + 0.015*math.Sin(2*math.Pi*tS/6.1+1)
}

// render paints the frame at tS into dst (r.lit when nil) and returns the
// road users drawn.
func (r *frameRenderer) render(agents []*Agent, tS float64, dst *gocv.Mat) []drawn {
	if dst == nil {
		dst = &r.lit
	}
	r.bg.CopyTo(&r.frame)
	d := r.p.drawAgents(&r.frame, agents, tS)
	r.frame.ConvertToWithParams(dst, gocv.MatTypeCV8UC3, float32(gain(tS)), 0)
	k := r.rng.IntN(noisePatterns)
	gocv.Add(*dst, r.noisePos[k], dst)
	gocv.Subtract(*dst, r.noiseNeg[k], dst)
	return d
}

// Frame renders the scene at time tS (for tests and previews); the caller
// closes the Mat.
func (sc *Scene) Frame(tS float64) (gocv.Mat, error) {
	r, err := newFrameRenderer(sc.Camera, 1)
	if err != nil {
		return gocv.NewMat(), err
	}
	defer r.Close()
	r.render(sc.Agents, tS, nil)
	return r.lit.Clone(), nil
}

// visibleBox clips a drawn box to the image and keeps it when at least
// half of it is inside (occlusion by other road users is not considered).
func visibleBox(b image.Rectangle, w, h int) (image.Rectangle, bool) {
	if b.Empty() {
		return b, false
	}
	c := b.Intersect(image.Rect(0, 0, w, h))
	if c.Empty() || c.Dx()*c.Dy() < 16 || 2*c.Dx()*c.Dy() < b.Dx()*b.Dy() {
		return c, false
	}
	return c, true
}

// Render scripts the scene and writes the video and its ground truth to
// opt.OutDir.
func Render(ctx context.Context, opt Options) (*Result, error) {
	if err := opt.defaults(); err != nil {
		return nil, err
	}
	log := opt.Log
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	cam := DefaultCamera(opt.Width, opt.Height)
	sc, err := NewScene(opt.Seed, opt.Duration.Seconds(), cam)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(opt.OutDir, 0o755); err != nil {
		return nil, fmt.Errorf("twin: creating output directory: %w", err)
	}
	res := &Result{Dir: opt.OutDir, Agents: len(sc.Agents), Scripted: sc.Scripted, Homography: sc.Homography()}
	file := func(name string) string {
		p := filepath.Join(opt.OutDir, name)
		res.Files = append(res.Files, p)
		return p
	}

	fr, err := newFrameRenderer(cam, opt.Seed)
	if err != nil {
		return nil, err
	}
	defer fr.Close()
	videoPath := file(VideoFile)
	vw, err := gocv.VideoWriterFile(videoPath, "MJPG", opt.FPS, opt.Width, opt.Height, true)
	if err != nil {
		return nil, fmt.Errorf("twin: opening %s: %w", videoPath, err)
	}
	if !vw.IsOpened() {
		vw.Close()
		return nil, fmt.Errorf("twin: OpenCV could not open %s for MJPG writing", videoPath)
	}
	defer vw.Close()

	// Encoding is most of the cost: it runs on its own goroutine while the
	// next frames are drawn, through a small pool of frame buffers.
	n := int(math.Round(opt.Duration.Seconds() * opt.FPS))
	const buffers = 3
	free, full := make(chan *gocv.Mat, buffers), make(chan *gocv.Mat, buffers)
	for i := 0; i < buffers; i++ {
		m := gocv.NewMat()
		defer m.Close()
		free <- &m
	}
	writeErr := make(chan error, 1)
	go func() {
		var err error
		for m := range full {
			if err == nil {
				err = vw.Write(*m)
			}
			free <- m
		}
		writeErr <- err
	}()
	var mot []byte
	began, lastLog := time.Now(), time.Now()
	var renderErr error
	for i := 0; i < n && renderErr == nil; i++ {
		if err := ctx.Err(); err != nil {
			renderErr = fmt.Errorf("twin: rendering %s: %w", videoPath, err)
			break
		}
		t := float64(i) / opt.FPS
		m := <-free
		drawnNow := fr.render(sc.Agents, t, m)
		full <- m
		for _, d := range sortedByID(drawnNow) {
			if b, ok := visibleBox(d.box, opt.Width, opt.Height); ok {
				mot = fmt.Appendf(mot, "%d,%d,%d,%d,%d,%d,1,-1,-1,-1\n", i+1, d.agent.ID, b.Min.X, b.Min.Y, b.Dx(), b.Dy())
			}
		}
		if time.Since(lastLog) > 2*time.Second {
			lastLog = time.Now()
			log.Info("rendering twin", "frame", i+1, "of", n, "fps", math.Round(float64(i+1)/time.Since(began).Seconds()))
		}
	}
	close(full)
	if err := <-writeErr; err != nil && renderErr == nil {
		renderErr = fmt.Errorf("twin: writing %s: %w", videoPath, err)
	}
	if renderErr != nil {
		return nil, renderErr
	}
	res.Frames = n
	res.FramesPerS = float64(n) / time.Since(began).Seconds()
	if err := vw.Close(); err != nil {
		return nil, fmt.Errorf("twin: closing %s: %w", videoPath, err)
	}

	rows := sc.Truth(opt.FPS)
	if err := writeFile(file(TruthFile), func(w io.Writer) error { return trajectory.Write(w, rows) }); err != nil {
		return nil, err
	}
	if err := writeFile(file(MOTFile), func(w io.Writer) error { _, err := w.Write(mot); return err }); err != nil {
		return nil, err
	}
	if err := writeCameraConfig(file(CameraFile), VideoFile, cam, opt.FPS); err != nil {
		return nil, err
	}
	res.Encounters = Conflicts(rows)
	if err := writeFile(file(ConflictsFile), func(w io.Writer) error { return trajectory.WriteConflicts(w, res.Encounters) }); err != nil {
		return nil, err
	}
	if err := writeFile(file(ScriptedFile), func(w io.Writer) error { return writeScripted(w, sc.Scripted) }); err != nil {
		return nil, err
	}
	stamp, _ := Stamp(opt) // opt passed defaults above
	if err := writeFile(file(StampFile), func(w io.Writer) error { _, err := io.WriteString(w, stamp); return err }); err != nil {
		return nil, err
	}
	log.Info("twin rendered", "dir", opt.OutDir, "frames", n, "agents", len(sc.Agents),
		"encounters", len(res.Encounters), "fps", math.Round(res.FramesPerS))
	return res, nil
}

// Conflicts runs the conflict engine, configured with the twin's zones, on
// time-sorted true trajectories.
func Conflicts(rows []trajectory.Row) []conflict.Encounter {
	cfg := conflict.DefaultConfig()
	cfg.Zones = engineZones()
	eng := conflict.NewEngine(cfg)
	var encs []conflict.Encounter
	for _, f := range trajectory.Frames(rows) {
		encs = append(encs, eng.Step(f)...)
	}
	return append(encs, eng.Flush()...)
}

func sortedByID(ds []drawn) []drawn {
	out := append([]drawn(nil), ds...)
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].agent.ID < out[j-1].agent.ID; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

func round(v float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(v*p)/p + 0 // + 0 turns −0 into 0 in the files
}

func writeScripted(w io.Writer, ss []Scripted) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintln(bw, "name,measure,value_s,at_s,vehicle_track,pedestrian_track,type,near_miss")
	for _, s := range ss {
		fmt.Fprintf(bw, "%s,%s,%s,%s,%d,%d,%s,%t\n", s.Name, s.Measure, strconv.FormatFloat(s.ValueS, 'f', -1, 64),
			strconv.FormatFloat(round(s.AtS, 6), 'f', -1, 64), s.Vehicle, s.Ped, s.Type, s.NearMiss)
	}
	return bw.Flush()
}

// writeFile writes a file through a buffered writer and reports the path on
// failure.
func writeFile(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("twin: %w", err)
	}
	bw := bufio.NewWriter(f)
	if err := write(bw); err != nil {
		f.Close()
		return fmt.Errorf("twin: writing %s: %w", path, err)
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("twin: writing %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("twin: closing %s: %w", path, err)
	}
	return nil
}

// Truth returns the true state of every road user present at each frame
// time i/fps within the scene's duration, time-sorted, rounded to 1 µm.
func (sc *Scene) Truth(fps float64) []trajectory.Row {
	var rows []trajectory.Row
	n := int(math.Round(sc.DurationS * fps))
	for i := 0; i < n; i++ {
		t := float64(i) / fps
		for _, a := range sc.Agents {
			if !a.Active(t) {
				continue
			}
			st := a.StateAt(t)
			rows = append(rows, trajectory.Row{T: round(t, 6), TrackID: int64(a.ID), Class: a.Class,
				X: round(st.XM, 6), Y: round(st.YM, 6), VX: round(st.VXMPS, 6), VY: round(st.VYMPS, 6),
				Length: a.LengthM, Width: a.WidthM, Heading: round(st.HeadingRad, 6)})
		}
	}
	return rows
}
