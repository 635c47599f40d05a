package tracker

import "github.com/intersect-oss/intersect/events"

// Box is an axis-aligned image box in pixels: left, top, width, height, as
// in MOTChallenge files.
type Box struct {
	X, Y, W, H float64
}

// Center returns the box centre in pixels.
func (b Box) Center() (cx, cy float64) { return b.X + b.W/2, b.Y + b.H/2 }

// BottomCenter returns the middle of the bottom edge, where a road user
// touches the ground; this is the point projected through the homography.
func (b Box) BottomCenter() (px, py float64) { return b.X + b.W/2, b.Y + b.H }

// Area returns W·H (0 for degenerate boxes).
func (b Box) Area() float64 {
	if b.W <= 0 || b.H <= 0 {
		return 0
	}
	return b.W * b.H
}

// IoU returns the intersection over union of a and b, in [0, 1]. Boxes are
// continuous (no +1 pixel convention), as in py-motmetrics and TrackEval.
func IoU(a, b Box) float64 {
	iw := min(a.X+a.W, b.X+b.W) - max(a.X, b.X)
	ih := min(a.Y+a.H, b.Y+b.H) - max(a.Y, b.Y)
	if iw <= 0 || ih <= 0 {
		return 0
	}
	inter := iw * ih
	union := a.Area() + b.Area() - inter
	if union <= 0 {
		return 0
	}
	return inter / union
}

// Detection is one detector output in one frame.
type Detection struct {
	Box
	Score float64      // detector confidence in [0, 1]
	Class events.Class // road-user class; tracks never change class
}
