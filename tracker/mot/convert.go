package mot

import (
	"github.com/intersect-oss/intersect/events"
	"github.com/intersect-oss/intersect/tracker"
)

// Detections groups detection rows by frame as tracker input: out[k] holds the
// detections of frame k+1, all of class c (MOTChallenge files carry no
// class). Rows must be sorted by frame, as Read returns them.
func Detections(rows []Row, c events.Class) [][]tracker.Detection {
	frames := Frames(rows)
	out := make([][]tracker.Detection, len(frames))
	for k, f := range frames {
		out[k] = make([]tracker.Detection, len(f))
		for i, r := range f {
			out[k][i] = tracker.Detection{
				Box:   tracker.Box{X: r.Left, Y: r.Top, W: r.Width, H: r.Height},
				Score: r.Conf,
				Class: c,
			}
		}
	}
	return out
}

// Results turns an offline tracker run into result rows, frame by frame and
// by ID within a frame; the confidence column is the last matched detection
// score.
func Results(frames []tracker.FrameTracks) []Row {
	var rows []Row
	for _, f := range frames {
		for _, t := range f.Tracks {
			rows = append(rows, Row{Frame: f.Frame, ID: t.ID, Left: t.X, Top: t.Y, Width: t.W, Height: t.H, Conf: t.Score})
		}
	}
	return rows
}
