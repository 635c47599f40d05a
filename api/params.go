package api

import (
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/intersect-oss/intersect/events"
	"github.com/intersect-oss/intersect/store"
)

// paramError names the query parameter that was wrong.
type paramError struct {
	Param string
	Msg   string
}

func (e *paramError) Error() string { return fmt.Sprintf("parameter %q: %s", e.Param, e.Msg) }

// maxParamLen bounds any single parameter value; nothing legitimate is longer.
const maxParamLen = 256

// params reads typed query parameters, remembering the first error.
type params struct {
	v   url.Values
	err *paramError
}

func (p *params) fail(name, format string, a ...any) {
	if p.err == nil {
		p.err = &paramError{Param: name, Msg: fmt.Sprintf(format, a...)}
	}
}

func (p *params) str(name string) string {
	vs := p.v[name]
	if len(vs) == 0 {
		return ""
	}
	if len(vs) > 1 {
		p.fail(name, "given %d times; give it once", len(vs))
		return ""
	}
	if len(vs[0]) > maxParamLen {
		p.fail(name, "longer than %d characters", maxParamLen)
		return ""
	}
	return vs[0]
}

// id reads a site/camera/zone-style identifier ([a-z0-9-]+).
func (p *params) id(name string) string {
	s := p.str(name)
	if s != "" && !events.ValidID(s) {
		p.fail(name, "%q must match [a-z0-9-]+", s)
		return ""
	}
	return s
}

func (p *params) time(name string) time.Time {
	s := p.str(name)
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		p.fail(name, "%q is not an RFC 3339 time (e.g. 2026-11-26T08:00:00Z)", s)
	}
	return t
}

func (p *params) int(name string, lo, hi int) int {
	s := p.str(name)
	if s == "" {
		return 0
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		p.fail(name, "%q must be a whole number from %d to %d", s, lo, hi)
		return 0
	}
	return n
}

func (p *params) seconds(name string) *float64 {
	s := p.str(name)
	if s == "" {
		return nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || v < 0 || v > 3600 {
		p.fail(name, "%q must be a number of seconds from 0 to 3600", s)
		return nil
	}
	return &v
}

// enum reads a comma-separated list whose items must satisfy valid.
func enum[T ~string](p *params, name string, valid func(T) bool, all []T) []T {
	s := p.str(name)
	if s == "" {
		return nil
	}
	var out []T
	for _, part := range strings.Split(s, ",") {
		v := T(strings.TrimSpace(part))
		if !valid(v) {
			p.fail(name, "unknown value %q (want one of %v)", v, all)
			return nil
		}
		out = append(out, v)
	}
	return out
}

// filter reads the near-miss filters shared by list, heatmap, stats and exports.
func (p *params) filter() store.Filter {
	f := store.Filter{
		Site:     p.id("site"),
		Camera:   p.id("camera"),
		From:     p.time("from"),
		To:       p.time("to"),
		Zone:     p.id("zone"),
		Approach: p.str("approach"),
		MaxTTCS:  p.seconds("max_ttc"),
		MaxPETS:  p.seconds("max_pet"),
	}
	f.Types = enum(p, "type", events.ConflictType.Valid, events.ConflictTypes)
	f.Severities = enum(p, "severity", events.Severity.Valid, events.Severities)
	if cs := enum(p, "class", events.Class.Valid, events.Classes); len(cs) > 1 {
		p.fail("class", "give one class")
	} else if len(cs) == 1 {
		f.Class = cs[0]
	}
	if w := p.str("weather"); w != "" {
		if !events.Condition(w).Valid() {
			p.fail("weather", "unknown value %q (want one of %v)", w, events.Conditions)
		}
		f.Weather = w
	}
	switch f.Approach {
	case "", "NB", "SB", "EB", "WB":
	default:
		p.fail("approach", "unknown value %q (want NB, SB, EB or WB)", f.Approach)
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.To.After(f.From) {
		p.fail("to", "must be after from")
	}
	return f
}

func parseNearMissQuery(v url.Values) (store.NearMissQuery, *paramError) {
	p := &params{v: v}
	q := store.NearMissQuery{Filter: p.filter(), Limit: p.int("limit", 1, store.MaxLimit), Cursor: p.str("cursor")}
	return q, p.err
}
