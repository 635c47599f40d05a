package api

import (
	"fmt"
	"math"
	"net/url"
	"regexp"
	"sort"
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
	v    url.Values
	err  *paramError
	read map[string]bool
}

func (p *params) fail(name, format string, a ...any) {
	if p.err == nil {
		p.err = &paramError{Param: name, Msg: fmt.Sprintf(format, a...)}
	}
}

func (p *params) str(name string) string {
	if p.read == nil {
		p.read = map[string]bool{}
	}
	p.read[name] = true
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

// finish reports the first error, or else the first parameter the handler
// never read: a misspelt filter must not silently widen a query.
func (p *params) finish() *paramError {
	if p.err != nil {
		return p.err
	}
	names := make([]string, 0, len(p.v))
	for name := range p.v {
		if !p.read[name] {
			names = append(names, name)
		}
	}
	if len(names) > 0 {
		sort.Strings(names)
		read := make([]string, 0, len(p.read))
		for name := range p.read {
			read = append(read, name)
		}
		sort.Strings(read)
		if names[0] == "" {
			// "?=x" or "?a=1&&=2": name the problem, not an empty name.
			return &paramError{Param: "query", Msg: fmt.Sprintf("a parameter has no name (this route takes %s)", strings.Join(read, ", "))}
		}
		return &paramError{Param: truncate(names[0], 64), Msg: fmt.Sprintf("unknown parameter (this route takes %s)", strings.Join(read, ", "))}
	}
	return nil
}

func (p *params) float(name string, lo, hi float64) (float64, bool) {
	s := p.str(name)
	if s == "" {
		return 0, false
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || v < lo || v > hi {
		p.fail(name, "%q must be a number from %g to %g", s, lo, hi)
		return 0, false
	}
	return v, true
}

// cursorPattern is the base64url alphabet the store's cursors use.
var cursorPattern = regexp.MustCompile(`^[A-Za-z0-9_-]*$`)

// tzPattern admits IANA zone names (Europe/Paris, America/Argentina/Buenos_Aires, UTC, Etc/GMT+5).
var tzPattern = regexp.MustCompile(`^[A-Za-z][A-Za-z_]*(/[A-Za-z0-9_+-]+){0,2}$`)

func (p *params) zone(name string) *time.Location {
	s := p.str(name)
	if s == "" {
		return nil
	}
	if !tzPattern.MatchString(s) {
		p.fail(name, "%q is not an IANA time zone name (e.g. America/Denver)", s)
		return nil
	}
	loc, err := time.LoadLocation(s)
	if err != nil {
		p.fail(name, "unknown time zone %q", s)
		return nil
	}
	return loc
}

// oneOf reads a single value that must be one of all; def when absent.
func (p *params) oneOf(name, def string, all []string) string {
	s := p.str(name)
	if s == "" {
		return def
	}
	for _, a := range all {
		if s == a {
			return s
		}
	}
	p.fail(name, "unknown value %q (want one of %s)", s, strings.Join(all, ", "))
	return def
}

func parseNearMissQuery(v url.Values) (store.NearMissQuery, *paramError) {
	p := &params{v: v}
	q := store.NearMissQuery{Filter: p.filter(), Limit: p.int("limit", 1, store.MaxLimit), Cursor: p.str("cursor")}
	if !cursorPattern.MatchString(q.Cursor) {
		p.fail("cursor", "not a cursor this API issued (copy next_cursor from the previous page)")
	}
	return q, p.finish()
}
