package trajectory

import (
	"bytes"
	"math"
	"testing"
)

const fuzzHeader = "t_s,track_id,class,x_m,y_m,vx_mps,vy_mps,length_m,width_m,heading_rad\n"

// FuzzRead: arbitrary input never panics; accepted rows are finite, of a
// known class, and in time order within each track.
func FuzzRead(f *testing.F) {
	f.Add([]byte(fuzzHeader + "0,1,car,0,0,10,0,4.5,1.8,0\n0.1,1,car,1,0,,,,,\n"))
	f.Add([]byte(fuzzHeader + "0,2,pedestrian,5,5,,,,,\n0,2,pedestrian,5,5,,,,,\n"))
	f.Add([]byte(fuzzHeader + "0,3,horse,0,0,,,,,\n"))
	f.Add([]byte("t,id\n1,2\n"))
	f.Add([]byte(fuzzHeader + "0,4,car,NaN,0,,,,,\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rows, _, err := Read(bytes.NewReader(data), "fuzz.csv")
		if err != nil {
			return
		}
		last := map[int64]float64{}
		for _, r := range rows {
			for _, v := range []float64{r.T, r.X, r.Y, r.VX, r.VY, r.Length, r.Width, r.Heading} {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					t.Fatalf("accepted non-finite value in %+v", r)
				}
			}
			if !r.Class.Valid() {
				t.Fatalf("accepted class %q", r.Class)
			}
			if prev, ok := last[r.TrackID]; ok && r.T <= prev {
				t.Fatalf("track %d not in time order: %v after %v", r.TrackID, r.T, prev)
			}
			last[r.TrackID] = r.T
		}
	})
}
