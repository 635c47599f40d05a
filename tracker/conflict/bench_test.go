package conflict

import (
	"fmt"
	"math"
	"math/rand/v2"
	"syscall"
	"testing"
	"time"

	"github.com/intersect-oss/intersect/events"
)

// scene is a synthetic intersection area of 120 m × 120 m at 24 fps: a
// third of the users are cars on four approaches at 8–14 m/s, the rest
// pedestrians walking at 1–1.8 m/s in random directions; everyone wraps
// around the area, so the number of simultaneous users stays n.
type scene struct {
	users []sceneUser
	fps   float64
}

type sceneUser struct {
	id             int64
	class          events.Class
	x0, y0, vx, vy float64
}

const sceneSizeM = 120

func newScene(n int, seed uint64) *scene {
	r := rand.New(rand.NewPCG(seed, 1))
	s := &scene{fps: 24}
	for i := range n {
		u := sceneUser{id: int64(i + 1), x0: r.Float64() * sceneSizeM, y0: r.Float64() * sceneSizeM}
		if i%3 == 0 {
			u.class = events.Car
			v := 8 + 6*r.Float64()
			dir := r.IntN(4)
			u.vx, u.vy = v*math.Cos(float64(dir)*math.Pi/2), v*math.Sin(float64(dir)*math.Pi/2)
		} else {
			u.class = events.Pedestrian
			v, h := 1+0.8*r.Float64(), r.Float64()*2*math.Pi
			u.vx, u.vy = v*math.Cos(h), v*math.Sin(h)
		}
		s.users = append(s.users, u)
	}
	return s
}

func (s *scene) frame(k int, obs []Observation) []Observation {
	t := float64(k) / s.fps
	obs = obs[:0]
	for _, u := range s.users {
		obs = append(obs, Observation{T: t, TrackID: u.id, Class: u.class,
			X: math.Mod(u.x0+u.vx*t, sceneSizeM), Y: math.Mod(u.y0+u.vy*t, sceneSizeM),
			VX: u.vx, VY: u.vy, Heading: math.Atan2(u.vy, u.vx), Frames: k + 100})
	}
	return obs
}

// BenchmarkEngine reports frames/s (wall and per CPU-second) and CPU ns per
// examined pair (all the step's work divided by the pairs within the search
// radius) for 10, 100 and 400 simultaneous users. Run with -cpu 1.
func BenchmarkEngine(b *testing.B) {
	for _, n := range []int{10, 100, 400} {
		b.Run(fmt.Sprintf("users=%d", n), func(b *testing.B) {
			s := newScene(n, 42)
			e := NewEngine(DefaultConfig())
			var obs []Observation
			for k := range 240 { // warm up: histories and path index filled
				obs = s.frame(k, obs)
				e.Step(obs)
			}
			pairs0 := e.Stats().PairsExamined
			encs := 0
			b.ResetTimer()
			cpu0 := cpuTime()
			for i := 0; i < b.N; i++ {
				obs = s.frame(240+i, obs)
				encs += len(e.Step(obs))
			}
			b.StopTimer()
			cpu := (cpuTime() - cpu0).Seconds()
			pairs := e.Stats().PairsExamined - pairs0
			sec := b.Elapsed().Seconds()
			b.ReportMetric(float64(b.N)/sec, "frames/s")
			// The machine is shared: frames per CPU-second of this process
			// is the one-core figure when wall time includes waiting.
			if cpu > 0 {
				b.ReportMetric(float64(b.N)/cpu, "frames/cpu-s")
			}
			if pairs > 0 {
				b.ReportMetric(cpu*1e9/float64(pairs), "cpu-ns/pair")
				b.ReportMetric(float64(pairs)/float64(b.N), "pairs/frame")
			}
			b.ReportMetric(float64(encs)/float64(b.N)*s.fps*60, "encounters/min")
		})
	}
}

// cpuTime is the process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
