// Package privacy turns a frame into a snapshot that can leave the edge box:
// every person box (and optionally every detection) is blurred beyond
// recognition before the JPEG is encoded. Raw frames never leave; only the
// bytes Snapshot returns do.
package privacy

import (
	"errors"
	"fmt"
	"image"

	"gocv.io/x/gocv"
)

// Method is how regions are obscured.
type Method string

const (
	Gaussian Method = "gaussian" // strong Gaussian blur (kernel ≈ the box size)
	Pixelate Method = "pixelate" // 8×8-block mosaic, edges softened
)

// Options configure Snapshot.
type Options struct {
	Method      Method
	JPEGQuality int     // 1..100 [80]
	Padding     float64 // grow each box by this share of its size on every side [0.15]
}

// Snapshot blurs boxes in a copy of frame and encodes it as JPEG. frame is
// not modified. Boxes are clipped to the frame; empty ones are skipped.
func Snapshot(frame gocv.Mat, boxes []image.Rectangle, o Options) ([]byte, error) {
	if frame.Empty() || frame.Type() != gocv.MatTypeCV8UC3 {
		return nil, errors.New("snapshot: need a non-empty 8-bit BGR frame")
	}
	img := frame.Clone()
	defer img.Close()
	if err := Obscure(&img, boxes, o); err != nil {
		return nil, err
	}
	q := o.JPEGQuality
	if q <= 0 || q > 100 {
		q = 80
	}
	buf, err := gocv.IMEncodeWithParams(gocv.JPEGFileExt, img, []int{gocv.IMWriteJpegQuality, q})
	if err != nil {
		return nil, fmt.Errorf("snapshot: encoding JPEG: %w", err)
	}
	defer buf.Close()
	return append([]byte(nil), buf.GetBytes()...), nil
}

// Obscure blurs or pixelates each box of img in place.
func Obscure(img *gocv.Mat, boxes []image.Rectangle, o Options) error {
	bounds := image.Rect(0, 0, img.Cols(), img.Rows())
	pad := o.Padding
	if pad <= 0 {
		pad = 0.15
	}
	for _, b := range boxes {
		dx, dy := int(float64(b.Dx())*pad), int(float64(b.Dy())*pad)
		r := image.Rect(b.Min.X-dx, b.Min.Y-dy, b.Max.X+dx, b.Max.Y+dy).Intersect(bounds)
		if r.Dx() < 2 || r.Dy() < 2 {
			continue
		}
		roi := img.Region(r)
		switch o.Method {
		case Pixelate:
			pixelate(&roi)
		default:
			// Kernel about half the box's larger side (odd), sigma large:
			// faces and clothing texture are gone, the silhouette stays.
			k := max(r.Dx(), r.Dy())/2 | 1
			k = max(k, 15)
			gocv.GaussianBlur(roi, &roi, image.Pt(k, k), float64(k)/2, float64(k)/2, gocv.BorderReplicate)
		}
		roi.Close()
	}
	return nil
}

func pixelate(roi *gocv.Mat) {
	w, h := roi.Cols(), roi.Rows()
	small := gocv.NewMat()
	defer small.Close()
	gocv.Resize(*roi, &small, image.Pt(max(1, w/8), max(1, h/8)), 0, 0, gocv.InterpolationArea)
	gocv.Resize(small, roi, image.Pt(w, h), 0, 0, gocv.InterpolationNearestNeighbor)
	// Soften the block edges: a hard mosaic edge is itself high-frequency
	// detail, and the mosaic would otherwise keep hair/clothing boundaries.
	k := max(w/8, h/8, 3) | 1
	gocv.GaussianBlur(*roi, roi, image.Pt(k, k), 0, 0, gocv.BorderReplicate)
}
