package mot

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
)

func TestReadErrorsNameFileAndLine(t *testing.T) {
	tests := []struct {
		name, input, want string
	}{
		{"too few columns", "1,-1,2,3,4,5,0.9\n1,-1,2,3,4,5\n", "det.txt:2: 6 columns"},
		{"too many columns", "1,-1,2,3,4,5,0.9,-1,-1,-1,7\n", "det.txt:1: 11 columns"},
		{"non-numeric", "1,-1,2,x3,4,5,0.9\n", `det.txt:1: column 4 (top): "x3"`},
		{"NaN", "1,-1,2,3,NaN,5,0.9\n", "det.txt:1: column 5 (width)"},
		{"frame zero", "0,-1,2,3,4,5,0.9\n", "det.txt:1: column 1 (frame): 0, want an integer ≥ 1"},
		{"fractional frame", "1.5,-1,2,3,4,5,0.9\n", "det.txt:1: column 1 (frame)"},
		{"fractional id", "1,2.5,2,3,4,5,0.9\n", "det.txt:1: column 2 (id)"},
		{"negative size", "\n1,-1,2,3,4,-5,0.9\n", "det.txt:2: negative box size"},
		{"bad trailing column", "1,-1,2,3,4,5,0.9,-1,z\n", "det.txt:1: column 9"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Read(strings.NewReader(tt.input), "det.txt")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Read error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestReadSortsAndRoundTrips(t *testing.T) {
	in := "2,7,10.5,20,30,40,1,-1,-1,-1\n 1, 3, 1,2,3,4, 0.5 \n\n1,4,5,6,7,8,0.25,-1,-1\n"
	rows, err := Read(strings.NewReader(in), "gt.txt")
	if err != nil {
		t.Fatal(err)
	}
	want := []Row{
		{Frame: 1, ID: 3, Left: 1, Top: 2, Width: 3, Height: 4, Conf: 0.5},
		{Frame: 1, ID: 4, Left: 5, Top: 6, Width: 7, Height: 8, Conf: 0.25},
		{Frame: 2, ID: 7, Left: 10.5, Top: 20, Width: 30, Height: 40, Conf: 1},
	}
	if !reflect.DeepEqual(rows, want) {
		t.Fatalf("Read = %+v, want %+v", rows, want)
	}
	var buf bytes.Buffer
	if err := Write(&buf, rows); err != nil {
		t.Fatal(err)
	}
	if got, wantText := buf.String(), "1,3,1,2,3,4,0.5,-1,-1,-1\n1,4,5,6,7,8,0.25,-1,-1,-1\n2,7,10.5,20,30,40,1,-1,-1,-1\n"; got != wantText {
		t.Errorf("Write = %q, want %q", got, wantText)
	}
	back, err := Read(&buf, "out.txt")
	if err != nil || !reflect.DeepEqual(back, want) {
		t.Errorf("round trip = %+v, %v", back, err)
	}
	frames := Frames(rows)
	if len(frames) != 2 || len(frames[0]) != 2 || len(frames[1]) != 1 || frames[1][0].ID != 7 {
		t.Errorf("Frames = %+v", frames)
	}
}

func TestWriteRounds(t *testing.T) {
	var buf bytes.Buffer
	if err := Write(&buf, []Row{{Frame: 3, ID: 9, Left: 281.9309999999999, Top: -0.0001, Width: 1.23456, Height: 2, Conf: 0.99778412}}); err != nil {
		t.Fatal(err)
	}
	if got, want := buf.String(), "3,9,281.931,0,1.235,2,0.997784,-1,-1,-1\n"; got != want {
		t.Errorf("Write = %q, want %q", got, want)
	}
}

func TestFramesKeepsGaps(t *testing.T) {
	frames := Frames([]Row{{Frame: 3, ID: 1}})
	if len(frames) != 3 || len(frames[0]) != 0 || len(frames[1]) != 0 || len(frames[2]) != 1 {
		t.Errorf("Frames with gap = %+v", frames)
	}
}
