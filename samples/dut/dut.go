// Package dut converts the DUT drone trajectories (Yang et al., "Top-view
// trajectories: a pedestrian dataset of vehicle-crowd interaction from
// controlled experiments and crowded campus", IEEE IV 2019) into intersect's
// trajectory CSV, so `intersect analyze` can run on real pedestrian–vehicle
// interactions. The DUT files are not part of the repository; see
// ../shared/data/trajectories/dut/README.txt.
//
// DUT positions are in metres in the drone image's axes (x right, y down);
// the converter flips y (and the vehicles' heading and the y velocities) so
// the output is in intersect's right-handed ground frame, where a left turn
// is counter-clockwise. Pedestrian and vehicle IDs are separate sequences in
// DUT; vehicle IDs are offset by VehicleIDOffset.
package dut

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/intersect-oss/intersect/events"
	"github.com/intersect-oss/intersect/tracker/trajectory"
)

// FPS is the DUT videos' frame rate.
const FPS = 23.98

// VehicleIDOffset is added to DUT vehicle IDs (vehicle 12 becomes 1000012).
const VehicleIDOffset = 1_000_000

// Extents from the DUT README (vehicles are not measured there): a typical
// car 4.5 m × 1.8 m, a pedestrian about 0.5 m.
const (
	carLengthM, carWidthM = 4.5, 1.8
	pedSizeM              = 0.5
)

var (
	pedHeader = []string{"id", "frame", "label", "x_est", "y_est", "vx_est", "vy_est"}
	vehHeader = []string{"id", "frame", "label", "x_est", "y_est", "psi_est", "vel_est"}
)

// Convert reads a DUT pedestrian file and vehicle file and writes one
// trajectory CSV, rows sorted by time then track ID; t = frame / fps.
func Convert(pedCSV, vehCSV io.Reader, w io.Writer, fps float64) error {
	if !(fps > 0) || math.IsInf(fps, 0) {
		return fmt.Errorf("dut: fps %v must be positive", fps)
	}
	var rows []trajectory.Row
	err := readDUT(pedCSV, "pedestrian file", pedHeader, "ped", func(id int64, frame int, v [4]float64) {
		rows = append(rows, trajectory.Row{T: float64(frame) / fps, TrackID: id, Class: events.Pedestrian,
			X: v[0], Y: -v[1], VX: v[2], VY: -v[3], Length: pedSizeM, Width: pedSizeM, Heading: math.NaN()})
	})
	if err != nil {
		return err
	}
	err = readDUT(vehCSV, "vehicle file", vehHeader, "veh", func(id int64, frame int, v [4]float64) {
		psi, speed := -v[2], v[3]
		rows = append(rows, trajectory.Row{T: float64(frame) / fps, TrackID: id + VehicleIDOffset, Class: events.Car,
			X: v[0], Y: -v[1], VX: speed * math.Cos(psi), VY: speed * math.Sin(psi),
			Length: carLengthM, Width: carWidthM, Heading: psi})
	})
	if err != nil {
		return err
	}
	sort.SliceStable(rows, func(i, j int) bool {
		if rows[i].T != rows[j].T {
			return rows[i].T < rows[j].T
		}
		return rows[i].TrackID < rows[j].TrackID
	})
	return trajectory.Write(w, rows)
}

func readDUT(r io.Reader, what string, header []string, label string, emit func(id int64, frame int, v [4]float64)) error {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	head, err := cr.Read()
	if err != nil {
		return fmt.Errorf("dut %s: reading header: %w", what, err)
	}
	if strings.Join(head, ",") != strings.Join(header, ",") {
		return fmt.Errorf("dut %s:1: header %q, want %q", what, strings.Join(head, ","), strings.Join(header, ","))
	}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("dut %s: %w", what, err)
		}
		line, _ := cr.FieldPos(0)
		if len(rec) != len(header) {
			return fmt.Errorf("dut %s:%d: %d fields, want %d", what, line, len(rec), len(header))
		}
		id, err := strconv.ParseInt(rec[0], 10, 64)
		if err != nil || id < 0 || id >= VehicleIDOffset {
			return fmt.Errorf("dut %s:%d: id %q is not an integer in [0, %d)", what, line, rec[0], VehicleIDOffset)
		}
		frame, err := strconv.Atoi(rec[1])
		if err != nil || frame < 0 {
			return fmt.Errorf("dut %s:%d: frame %q is not a non-negative integer", what, line, rec[1])
		}
		if rec[2] != label {
			return fmt.Errorf("dut %s:%d: label %q, want %q", what, line, rec[2], label)
		}
		var v [4]float64
		for i := range v {
			if v[i], err = strconv.ParseFloat(rec[3+i], 64); err != nil {
				return fmt.Errorf("dut %s:%d: field %s: %q is not a number", what, line, header[3+i], rec[3+i])
			}
		}
		emit(id, frame, v)
	}
}
