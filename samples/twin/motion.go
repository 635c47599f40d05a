package twin

import (
	"fmt"
	"math"
)

// phase is a stretch of constant acceleration.
type phase struct {
	t0, s0, v0, a, dur float64
}

func (f phase) at(t float64) (s, v float64) {
	dt := t - f.t0
	return f.s0 + f.v0*dt + 0.5*f.a*dt*dt, f.v0 + f.a*dt
}

// motion is a road user's speed profile along its path: s(t) and v(t) are
// piecewise quadratic/linear, so velocities in the truth are analytic.
type motion struct {
	phases []phase
}

func (m motion) start() float64 { return m.phases[0].t0 }
func (m motion) end() float64 {
	f := m.phases[len(m.phases)-1]
	return f.t0 + f.dur
}

// at returns arc length and speed at time t (clamped to the profile).
func (m motion) at(t float64) (s, v float64) {
	i := len(m.phases) - 1
	for i > 0 && m.phases[i].t0 > t {
		i--
	}
	f := m.phases[i]
	t = math.Max(f.t0, math.Min(t, f.t0+f.dur))
	return f.at(t)
}

// timeAt returns the first time the profile reaches arc length s.
func (m motion) timeAt(s float64) (float64, bool) {
	for _, f := range m.phases {
		s1, _ := f.at(f.t0 + f.dur)
		if s1 < s-1e-9 {
			continue
		}
		ds := s - f.s0
		if ds <= 0 {
			return f.t0, true
		}
		if math.Abs(f.a) < 1e-12 {
			if f.v0 <= 0 {
				continue
			}
			return f.t0 + ds/f.v0, true
		}
		disc := f.v0*f.v0 + 2*f.a*ds
		if disc < 0 {
			disc = 0
		}
		return f.t0 + (-f.v0+math.Sqrt(disc))/f.a, true
	}
	return 0, false
}

// profile builds a motion step by step. Errors (an impossible request) are
// kept and reported once by finish, so scripts read as plain sequences.
type profile struct {
	m       motion
	t, s, v float64
	err     error
}

func newProfile(t0, v0 float64) *profile { return &profile{t: t0, v: v0} }

func (p *profile) add(a, dur float64) {
	if dur <= 1e-12 {
		return
	}
	p.m.phases = append(p.m.phases, phase{t0: p.t, s0: p.s, v0: p.v, a: a, dur: dur})
	p.s, p.v = p.m.phases[len(p.m.phases)-1].at(p.t + dur)
	if math.Abs(p.v) < 1e-9 {
		p.v = 0
	}
	p.t += dur
}

func (p *profile) fail(format string, a ...any) {
	if p.err == nil {
		p.err = fmt.Errorf(format, a...)
	}
}

// cruiseTo keeps the current speed until arc length s.
func (p *profile) cruiseTo(s float64) *profile {
	if s < p.s-1e-9 {
		p.fail("cruise to %.2f m: already at %.2f m", s, p.s)
	} else if s > p.s && p.v <= 0 {
		p.fail("cruise to %.2f m at zero speed", s)
	} else if s > p.s {
		p.add(0, (s-p.s)/p.v)
	}
	return p
}

// cruiseFor keeps the current speed for dur seconds (waits if stopped).
func (p *profile) cruiseFor(dur float64) *profile { p.add(0, dur); return p }

// waitUntil stands still until absolute time t.
func (p *profile) waitUntil(t float64) *profile {
	if p.v != 0 {
		p.fail("wait at %.2f m while moving at %.2f m/s", p.s, p.v)
	}
	if t > p.t {
		p.add(0, t-p.t)
	}
	return p
}

// speedTo changes speed to v at |a| m/s².
func (p *profile) speedTo(v, a float64) *profile {
	a = math.Abs(a)
	if v < p.v {
		a = -a
	}
	if v != p.v {
		p.add(a, (v-p.v)/a)
	}
	p.v = v
	return p
}

// speedAt cruises, then changes speed at |a| so that it is v exactly on
// reaching arc length s (a stop when v = 0).
func (p *profile) speedAt(s, v, a float64) *profile {
	a = math.Abs(a)
	dist := math.Abs(v*v-p.v*p.v) / (2 * a)
	if p.s+dist > s+1e-9 {
		p.fail("reach %.2f m/s by %.2f m: needs %.2f m from %.2f m", v, s, dist, p.s)
		return p
	}
	return p.cruiseTo(s-dist).speedTo(v, a)
}

// anchor shifts everything built so far in time so that arc length s is
// reached at absolute time t; scripts build a manoeuvre, then pin its key
// moment (a brake onset, an entry into the conflict area) to the clock.
//
// A profile that has not reached s yet cruises on to it first.
func (p *profile) anchor(s, t float64) *profile {
	if p.s < s && p.v > 0 {
		p.cruiseTo(s)
	}
	ts, ok := p.m.timeAt(s)
	if !ok {
		p.fail("anchor at %.2f m: the profile only reaches %.2f m", s, p.s)
		return p
	}
	dt := t - ts
	for i := range p.m.phases {
		p.m.phases[i].t0 += dt
	}
	p.t += dt
	return p
}

// finish cruises to the end of a path of length totalM and returns the
// motion.
func (p *profile) finish(totalM float64) (motion, error) {
	if p.s < totalM {
		if p.v <= 0 {
			p.fail("stopped at %.2f m before the end of the path (%.2f m)", p.s, totalM)
		} else {
			p.cruiseTo(totalM)
		}
	}
	if p.err == nil && len(p.m.phases) == 0 {
		p.err = fmt.Errorf("empty profile")
	}
	return p.m, p.err
}
