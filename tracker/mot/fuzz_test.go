package mot

import (
	"bytes"
	"math"
	"testing"
)

// FuzzRead: arbitrary input never panics; accepted rows are well formed and
// survive a write/read round trip.
func FuzzRead(f *testing.F) {
	f.Add([]byte("1,-1,10.5,20,30,60,0.9,-1,-1,-1\n2,3,0,0,1,1,1,-1,-1,-1\n"))
	f.Add([]byte("1,1,1,1,1,1\n"))
	f.Add([]byte("0,1,1,1,1,1,1,-1,-1,-1\n"))
	f.Add([]byte("1,1,NaN,1,1,1,1,-1,-1,-1\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rows, err := Read(bytes.NewReader(data), "fuzz.txt")
		if err != nil {
			return
		}
		for _, r := range rows {
			for _, v := range []float64{r.Left, r.Top, r.Width, r.Height, r.Conf} {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					t.Fatalf("accepted non-finite value in %+v", r)
				}
			}
			if r.Frame < 1 || r.Width < 0 || r.Height < 0 {
				t.Fatalf("accepted invalid row %+v", r)
			}
		}
		var buf bytes.Buffer
		if err := Write(&buf, rows); err != nil {
			t.Fatal(err)
		}
		back, err := Read(&buf, "again.txt")
		if err != nil {
			t.Fatalf("written rows do not read back: %v\n%s", err, buf.String())
		}
		if len(back) != len(rows) {
			t.Fatalf("round trip: %d rows, want %d", len(back), len(rows))
		}
	})
}
