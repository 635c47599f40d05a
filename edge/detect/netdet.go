package detect

import (
	"fmt"
	"image"
	"math"
	"slices"

	"gocv.io/x/gocv"

	"github.com/intersect-oss/intersect/events"
)

// netDetector runs an ONNX detector through OpenCV DNN: preprocessing as
// the manifest says, one forward pass, layout-specific decoding, per-class
// thresholds and class-aware NMS. Its Mats are allocated once and reused
// while the frame size stays the same.
type netDetector struct {
	md         Model
	net        gocv.Net
	thresholds map[events.Class]float64
	minScore   float64 // lowest threshold of any mapped class: the cheap pre-filter
	nmsIoU     float64
	// classOf maps a model class index to our class; "" drops it.
	classOf []events.Class

	canvas  gocv.Mat // letterbox canvas (input size, pad value) or stretched frame
	convert gocv.Mat // frame converted to BGR when it is gray/BGRA
	blob    gocv.Mat
	lastW   int // frame size the canvas was prepared for
	lastH   int
	dets    []Detection // scratch, reused
}

func newNetDetector(md Model, net gocv.Net, opts Options) *netDetector {
	d := &netDetector{
		md:         md,
		net:        net,
		thresholds: opts.thresholds(md),
		nmsIoU:     md.NMSIoU,
		canvas:     gocv.NewMatWithSize(md.Input.Height, md.Input.Width, gocv.MatTypeCV8UC3),
		convert:    gocv.NewMat(),
		blob:       gocv.NewMat(),
	}
	if opts.NMSIoU > 0 {
		d.nmsIoU = opts.NMSIoU
	}
	if d.nmsIoU == 0 {
		d.nmsIoU = 0.45
	}
	n := md.numClasses()
	d.classOf = make([]events.Class, n)
	d.minScore = 1
	for k, c := range md.ClassMap {
		if k >= 0 && k < n {
			d.classOf[k] = c
			d.minScore = math.Min(d.minScore, d.thresholds[c])
		}
	}
	return d
}

// Name is the manifest name of the model ("yolox-nano").
func (d *netDetector) Name() string { return d.md.Name }

// Close frees the network and the reused Mats.
func (d *netDetector) Close() error {
	d.canvas.Close()
	d.convert.Close()
	d.blob.Close()
	return d.net.Close()
}

// Detect runs the model on one frame.
func (d *netDetector) Detect(frame gocv.Mat) ([]Detection, error) {
	if err := checkFrame(frame); err != nil {
		return nil, fmt.Errorf("%s: %w", d.md.Name, err)
	}
	bgr := bgrView(frame, &d.convert)
	fw, fh := bgr.Cols(), bgr.Rows()
	inW, inH := d.md.Input.Width, d.md.Input.Height

	// toFrame maps input-tensor pixels back to frame pixels.
	var sx, sy float64
	switch d.md.Preprocessing.Resize {
	case ResizeLetterbox:
		r := math.Min(float64(inW)/float64(fw), float64(inH)/float64(fh))
		nw, nh := max(1, int(float64(fw)*r)), max(1, int(float64(fh)*r))
		if fw != d.lastW || fh != d.lastH {
			// The pad area only changes with the frame size; the picture
			// area is overwritten by every resize.
			d.canvas.SetTo(gocv.NewScalar(d.md.Preprocessing.PadValue, d.md.Preprocessing.PadValue, d.md.Preprocessing.PadValue, 0))
			d.lastW, d.lastH = fw, fh
		}
		roi := d.canvas.Region(image.Rect(0, 0, nw, nh))
		gocv.Resize(bgr, &roi, image.Pt(nw, nh), 0, 0, gocv.InterpolationLinear)
		roi.Close()
		sx, sy = 1/r, 1/r
	default: // ResizeStretch
		gocv.Resize(bgr, &d.canvas, image.Pt(inW, inH), 0, 0, gocv.InterpolationArea)
		sx, sy = float64(fw)/float64(inW), float64(fh)/float64(inH)
	}
	gocv.BlobFromImages([]gocv.Mat{d.canvas}, &d.blob, d.md.Preprocessing.Scale, image.Pt(inW, inH),
		gocv.NewScalar(0, 0, 0, 0), d.md.Preprocessing.ChannelOrder == "rgb", false, gocv.MatTypeCV32F)
	d.net.SetInput(d.blob, d.md.Input.Name)
	out := d.net.Forward(d.md.Output.Name)
	defer out.Close()

	if got := out.Size(); !slices.Equal(got, d.md.Output.Shape) {
		return nil, fmt.Errorf("%s: model output has shape %v, manifest says %v for layout %s: wrong model for this manifest entry", d.md.Name, got, d.md.Output.Shape, d.md.Output.Layout)
	}
	if out.Type() != gocv.MatTypeCV32F {
		return nil, fmt.Errorf("%s: model output type %v, want float32", d.md.Name, out.Type())
	}
	data, err := out.DataPtrFloat32()
	if err != nil {
		return nil, fmt.Errorf("%s: reading model output: %w", d.md.Name, err)
	}
	d.dets = d.dets[:0]
	bounds := image.Rect(0, 0, fw, fh)
	emit := func(x0, y0, x1, y1 float64, score float64, c events.Class) {
		// A model outside the manifest's checksum may emit NaN or huge
		// values; converting those to int is undefined, so drop them.
		if !(math.Abs(x0) < 1e6 && math.Abs(y0) < 1e6 && math.Abs(x1) < 1e6 && math.Abs(y1) < 1e6 && score >= 0 && score <= 1) {
			return
		}
		b := image.Rect(int(math.Round(x0*sx)), int(math.Round(y0*sy)), int(math.Round(x1*sx)), int(math.Round(y1*sy))).Intersect(bounds)
		if b.Dx() < 2 || b.Dy() < 2 {
			return
		}
		d.dets = append(d.dets, Detection{Box: b, Score: score, Class: c})
	}
	switch d.md.Output.Layout {
	case LayoutYOLOX:
		d.decodeYOLOX(data, emit)
	case LayoutFastestDet:
		d.decodeFastestDet(data, emit)
	}
	kept := NMS(d.dets, d.nmsIoU)
	res := make([]Detection, len(kept))
	copy(res, kept)
	return res, nil
}

// best returns the index and value of the largest class score.
func best(scores []float32) (int, float32) {
	bi, bv := 0, scores[0]
	for i, v := range scores[1:] {
		if v > bv {
			bi, bv = i+1, v
		}
	}
	return bi, bv
}

// decodeYOLOX decodes [1, N, 5+C] rows in grid order (stride 8 cells row
// by row, then 16, then 32): cx = (tx+gx)*s, w = exp(tw)*s, score =
// obj*cls (both already sigmoided by the export).
func (d *netDetector) decodeYOLOX(data []float32, emit func(x0, y0, x1, y1, score float64, c events.Class)) {
	cols := d.md.Output.Shape[2]
	min := float32(d.minScore)
	i := 0
	for _, s := range d.md.Output.Strides {
		gw, gh := d.md.Input.Width/s, d.md.Input.Height/s
		fs := float64(s)
		for gy := 0; gy < gh; gy++ {
			for gx := 0; gx < gw; gx++ {
				row := data[i*cols : (i+1)*cols]
				i++
				obj := row[4]
				if obj < min { // cls <= 1, so score <= obj
					continue
				}
				k, cls := best(row[5:])
				c := d.classOf[k]
				score := float64(obj * cls)
				if c == "" || score < d.thresholds[c] {
					continue
				}
				cx := (float64(row[0]) + float64(gx)) * fs
				cy := (float64(row[1]) + float64(gy)) * fs
				w := math.Exp(float64(row[2])) * fs
				h := math.Exp(float64(row[3])) * fs
				emit(cx-w/2, cy-h/2, cx+w/2, cy+h/2, score, c)
			}
		}
	}
}

// decodeFastestDet decodes [1, 5+C, H, W] channel-major cells: obj at
// channel 0, tanh offsets at 1-2, sigmoid sizes (relative to the input) at
// 3-4, class scores from 5; score = obj^0.6 * cls^0.4.
func (d *netDetector) decodeFastestDet(data []float32, emit func(x0, y0, x1, y1, score float64, c events.Class)) {
	ch, gh, gw := d.md.Output.Shape[1], d.md.Output.Shape[2], d.md.Output.Shape[3]
	plane := gh * gw
	inW, inH := float64(d.md.Input.Width), float64(d.md.Input.Height)
	scores := make([]float32, ch-5)
	for gy := 0; gy < gh; gy++ {
		for gx := 0; gx < gw; gx++ {
			cell := gy*gw + gx
			obj := float64(data[cell])
			// score <= obj^0.6, so this pre-filter never drops a keeper.
			if math.Pow(obj, 0.6) < d.minScore {
				continue
			}
			for k := range scores {
				scores[k] = data[(5+k)*plane+cell]
			}
			k, cls := best(scores)
			c := d.classOf[k]
			score := math.Pow(obj, 0.6) * math.Pow(float64(cls), 0.4)
			if c == "" || score < d.thresholds[c] {
				continue
			}
			cx := (float64(gx) + math.Tanh(float64(data[1*plane+cell]))) / float64(gw) * inW
			cy := (float64(gy) + math.Tanh(float64(data[2*plane+cell]))) / float64(gh) * inH
			w := sigmoid(float64(data[3*plane+cell])) * inW
			h := sigmoid(float64(data[4*plane+cell])) * inH
			emit(cx-w/2, cy-h/2, cx+w/2, cy+h/2, score, c)
		}
	}
}

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }
