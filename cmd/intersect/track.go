package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"text/tabwriter"

	"github.com/intersect-oss/intersect/events"
	"github.com/intersect-oss/intersect/tracker"
	"github.com/intersect-oss/intersect/tracker/mot"
	"github.com/intersect-oss/intersect/tracker/motmetrics"
)

func trackCommand() command {
	return command{
		name:    "track",
		summary: "tracker on MOTChallenge detections, MOTChallenge tracks out (and metrics with --gt)",
		run:     runTrack,
	}
}

func runTrack(ctx context.Context, e env) error {
	fset := newFlags(e, "track", "track --mot-det DET.txt --out OUT.txt [--fps F] [--gt GT.txt]", `
Runs the multi-object tracker (ByteTrack-style: Kalman filter, two-stage
Hungarian association) over a MOTChallenge detection file
(frame,id,left,top,width,height,conf,...) and writes the tracks in
MOTChallenge format. By default the run is offline: a track's first,
tentative frames are reported once it is confirmed and gaps of up to
--max-gap frames are interpolated; --online reports exactly what the live
edge worker would. With --gt, prints CLEAR MOT, Identity and HOTA measures
against that ground truth.`)
	det := fset.String("mot-det", "", "MOTChallenge detection file (required)")
	out := fset.String("out", "", "where to write the tracks, MOTChallenge format (required)")
	fps := fset.Float64("fps", 30, "frame rate of the sequence; sets how long a lost track is kept (3 s)")
	gt := fset.String("gt", "", "MOTChallenge ground-truth file: print metrics against it")
	class := fset.String("class", string(events.Pedestrian), "road-user class of every detection (MOT files carry none)")
	online := fset.Bool("online", false, "no offline post-processing (no backfill, no interpolation)")
	maxGap := fset.Int("max-gap", tracker.DefaultOfflineOptions().MaxGap, "longest gap, in frames, filled by interpolation offline (0: none)")
	if err := parse(fset, e.args); err != nil {
		return err
	}
	if *det == "" || *out == "" {
		return badInput("--mot-det and --out are required (see --help)")
	}
	if !(*fps > 0) || math.IsInf(*fps, 0) {
		return badInput("--fps %v: want a positive frame rate", *fps)
	}
	if *maxGap < 0 {
		return badInput("--max-gap %d: want ≥ 0", *maxGap)
	}
	c, err := events.ParseClass(*class)
	if err != nil {
		return badInput("--class: %v", err)
	}
	rows, err := readMOT(*det)
	if err != nil {
		return err
	}
	var truth []mot.Row
	if *gt != "" {
		if truth, err = readMOT(*gt); err != nil {
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	opt := tracker.DefaultOfflineOptions()
	opt.MaxGap = *maxGap
	if *online {
		opt = tracker.OfflineOptions{}
	}
	frames := mot.Detections(rows, c)
	results := mot.Results(tracker.TrackSequence(frames, tracker.ConfigForFPS(*fps), opt))
	if err := writeMOT(*out, results); err != nil {
		return err
	}
	e.log.Info("tracked", "detections", *det, "frames", len(frames), "boxes_in", len(rows), "boxes_out", len(results), "out", *out)
	if truth == nil {
		return nil
	}
	r, err := motmetrics.Evaluate(truth, results)
	if err != nil {
		return fmt.Errorf("scoring %s against %s: %w", *out, *gt, err)
	}
	w := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "HOTA\tDetA\tAssA\tMOTA\tMOTP\tIDF1\tIDP\tIDR\tRecall\tPrecision\tGT\tMT\tPT\tML\tFP\tFN\tIDsw\tFM")
	fmt.Fprintf(w, "%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\n",
		r.HOTA, r.DetA, r.AssA, r.MOTA, r.MOTP, r.IDF1, r.IDP, r.IDR, r.Recall, r.Precision,
		r.GTIDs, r.MT, r.PT, r.ML, r.FP, r.FN, r.IDSw, r.Frag)
	return w.Flush()
}

// readMOT reads a MOTChallenge file; a missing or malformed file is bad input.
func readMOT(path string) ([]mot.Row, error) {
	rows, err := mot.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, badInput("%v", err)
	}
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("reading %s: %w", path, err)
		}
		return nil, badInput("%v", err) // parse errors name file:line
	}
	return rows, nil
}

func writeMOT(path string, rows []mot.Row) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("creating %s: %w", path, err)
	}
	if err := mot.Write(f, rows); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
