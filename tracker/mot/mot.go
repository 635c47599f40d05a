// Package mot reads and writes MOTChallenge text files: detections,
// ground truth and tracker results, one box per line as
// frame,id,left,top,width,height,conf[,x,y,z] with 1-based frames (DESIGN.md).
// Malformed lines are errors naming the file and line, never panics.
package mot

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
)

// Row is one line of a MOTChallenge file. ID is -1 for detections.
type Row struct {
	Frame                    int
	ID                       int64
	Left, Top, Width, Height float64
	Conf                     float64
}

// ReadFile reads a MOTChallenge file; see Read.
func ReadFile(path string) ([]Row, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Read(f, path)
}

// Read parses MOTChallenge rows from r. name is used in errors
// ("name:line: ..."). Lines need 7 to 10 comma-separated numeric columns
// (spaces around values and blank lines are tolerated); the frame must be an
// integer ≥ 1, the ID an integer, width and height finite and ≥ 0. Rows are
// returned sorted by frame (stable), as the tracker and metrics expect.
func Read(r io.Reader, name string) ([]Row, error) {
	var rows []Row
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	line := 0
	sorted := true
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" {
			continue
		}
		row, err := parseLine(text)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, line, err)
		}
		if n := len(rows); n > 0 && rows[n-1].Frame > row.Frame {
			sorted = false
		}
		rows = append(rows, row)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s:%d: %w", name, line+1, err)
	}
	if !sorted {
		sort.SliceStable(rows, func(i, j int) bool { return rows[i].Frame < rows[j].Frame })
	}
	return rows, nil
}

var columns = [...]string{"frame", "id", "left", "top", "width", "height", "conf"}

func parseLine(text string) (Row, error) {
	fields := strings.Split(text, ",")
	if len(fields) < 7 || len(fields) > 10 {
		return Row{}, fmt.Errorf("%d columns, want 7 to 10 (frame,id,left,top,width,height,conf[,x,y,z])", len(fields))
	}
	var v [7]float64
	for i := range v {
		s := strings.TrimSpace(fields[i])
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return Row{}, fmt.Errorf("column %d (%s): %q is not a finite number", i+1, columns[i], s)
		}
		v[i] = f
	}
	for i := 7; i < len(fields); i++ {
		s := strings.TrimSpace(fields[i])
		if _, err := strconv.ParseFloat(s, 64); err != nil {
			return Row{}, fmt.Errorf("column %d: %q is not a number", i+1, s)
		}
	}
	if v[0] != math.Trunc(v[0]) || v[0] < 1 || v[0] > math.MaxInt32 {
		return Row{}, fmt.Errorf("column 1 (frame): %v, want an integer ≥ 1 (frames are 1-based)", v[0])
	}
	if v[1] != math.Trunc(v[1]) || math.Abs(v[1]) > 1<<53 {
		return Row{}, fmt.Errorf("column 2 (id): %v, want an integer (-1 for detections)", v[1])
	}
	if v[4] < 0 || v[5] < 0 {
		return Row{}, fmt.Errorf("negative box size %vx%v (width, height must be ≥ 0)", v[4], v[5])
	}
	return Row{Frame: int(v[0]), ID: int64(v[1]), Left: v[2], Top: v[3], Width: v[4], Height: v[5], Conf: v[6]}, nil
}

// Write writes rows in MOTChallenge result format
// (frame,id,left,top,width,height,conf,-1,-1,-1): coordinates rounded to
// 1/1000 pixel and confidence to 6 decimals, in their shortest form.
func Write(w io.Writer, rows []Row) error {
	bw := bufio.NewWriter(w)
	for _, r := range rows {
		if _, err := fmt.Fprintf(bw, "%d,%d,%s,%s,%s,%s,%s,-1,-1,-1\n", r.Frame, r.ID,
			num(r.Left, 3), num(r.Top, 3), num(r.Width, 3), num(r.Height, 3), num(r.Conf, 6)); err != nil {
			return err
		}
	}
	return bw.Flush()
}

func num(f float64, decimals int) string {
	p := math.Pow10(decimals)
	r := math.Round(f*p) / p
	if r == 0 {
		r = 0 // no "-0"
	}
	return strconv.FormatFloat(r, 'f', -1, 64)
}

// Frames groups rows by frame: out[k] holds the rows of frame k+1, for k up to
// the last frame seen (frames without rows are empty). Rows must be sorted by
// frame, as Read returns them.
func Frames(rows []Row) [][]Row {
	if len(rows) == 0 {
		return nil
	}
	last := 0
	for _, r := range rows {
		last = max(last, r.Frame)
	}
	out := make([][]Row, last)
	for i := 0; i < len(rows); {
		j := i
		for j < len(rows) && rows[j].Frame == rows[i].Frame {
			j++
		}
		out[rows[i].Frame-1] = rows[i:j:j]
		i = j
	}
	return out
}
