package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/intersect-oss/intersect/edge/camera"
)

func calibrateCommand() command {
	return command{
		name:    "calibrate",
		summary: "fit and check camera homographies (reprojection error per point)",
		run:     runCalibrate,
	}
}

func runCalibrate(ctx context.Context, e env) error {
	fs := newFlags(e, "calibrate", "calibrate --config CAM.yaml [--camera ID] [--max-error-m M] [--force]", `
Fits each camera's image→ground homography from the calibration points in the
camera config (exact DLT for 4 points, OpenCV RANSAC for more) and prints,
per point, the image pixel, the surveyed ground point, where the fit puts it
and the error in metres. Exits 2 when a camera's max error exceeds the
threshold (calibration.max_error_m, or --max-error-m) unless forced.`)
	cfgPath := fs.String("config", "", "camera config YAML (required)")
	camID := fs.String("camera", "", "check only this camera (default: all)")
	maxErr := fs.Float64("max-error-m", 0, "max reprojection error in metres (default: the config's max_error_m, else 0.5)")
	force := fs.Bool("force", false, "accept a calibration over the threshold")
	if err := parse(fs, e.args); err != nil {
		return err
	}
	if *cfgPath == "" {
		return badInput("--config is required")
	}
	if *maxErr < 0 {
		return badInput("--max-error-m %v must be positive", *maxErr)
	}
	f, err := camera.Load(*cfgPath)
	if err != nil {
		return configErr(err)
	}
	cams := f.Cameras
	if *camID != "" {
		c, err := f.Camera(*camID)
		if err != nil {
			return badInput("%v", err)
		}
		cams = []camera.Camera{*c}
	}
	var failed []error
	for i := range cams {
		c := &cams[i]
		r, err := c.Fit(*maxErr, *force)
		fmt.Fprintf(e.stdout, "camera %s (site %s), %d points:\n", c.ID, c.Site, len(c.Calib.Points))
		if r != nil {
			fmt.Fprint(e.stdout, r.Table())
			fmt.Fprintf(e.stdout, "homography image→ground (row-major): %v\n", r.H)
		}
		if err != nil {
			fmt.Fprintf(e.stdout, "FAIL: %v\n\n", err)
			failed = append(failed, err)
			continue
		}
		fmt.Fprintf(e.stdout, "ok\n\n")
	}
	if len(failed) > 0 {
		return usageError{errors.Join(failed...)}
	}
	return nil
}

// configErr marks a failure to load the camera config (missing file,
// invalid content) as bad input: exit 2.
func configErr(err error) error {
	return usageError{err}
}
