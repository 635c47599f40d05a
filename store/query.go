package store

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// sqlBuilder collects a WHERE clause and its arguments. Every value goes in
// as a placeholder; only column names and operators are written into SQL.
type sqlBuilder struct {
	ph    func(n int) string // placeholder for the nth argument (1-based)
	timeV func(time.Time) any
	where []string
	args  []any
}

func (b *sqlBuilder) arg(v any) string {
	b.args = append(b.args, v)
	return b.ph(len(b.args))
}

func (b *sqlBuilder) cond(format string, vals ...any) {
	ps := make([]any, len(vals))
	for i, v := range vals {
		ps[i] = b.arg(v)
	}
	b.where = append(b.where, fmt.Sprintf(format, ps...))
}

func (b *sqlBuilder) in(col string, vals []string) {
	if len(vals) == 0 {
		return
	}
	// Repeats are dropped: a list of 100,000 copies of one valid value must
	// not become 100,000 placeholders.
	seen := make(map[string]bool, len(vals))
	var ps []string
	for _, v := range vals {
		if !seen[v] {
			seen[v] = true
			ps = append(ps, b.arg(v))
		}
	}
	b.where = append(b.where, col+" IN ("+strings.Join(ps, ", ")+")")
}

// clause returns " WHERE …" or "".
func (b *sqlBuilder) clause() string {
	if len(b.where) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(b.where, " AND ")
}

// windowFilter adds site, camera and the time window (as used for exposure).
func (b *sqlBuilder) windowFilter(site, camera string, from, to time.Time) {
	if site != "" {
		b.cond("site = %s", site)
	}
	if camera != "" {
		b.cond("camera = %s", camera)
	}
	if !from.IsZero() {
		b.cond("ts >= %s", b.timeV(from))
	}
	if !to.IsZero() {
		b.cond("ts < %s", b.timeV(to))
	}
}

// filter adds every near-miss filter of f.
func (b *sqlBuilder) filter(f *Filter) {
	b.windowFilter(f.Site, f.Camera, f.From, f.To)
	if len(f.Types) > 0 {
		s := make([]string, len(f.Types))
		for i, t := range f.Types {
			s[i] = string(t)
		}
		b.in("type", s)
	}
	if len(f.Severities) > 0 {
		s := make([]string, len(f.Severities))
		for i, v := range f.Severities {
			s[i] = string(v)
		}
		b.in("severity", s)
	}
	if f.Class != "" {
		c := string(f.Class)
		b.cond("(class_a = %s OR class_b = %s)", c, c)
	}
	if f.Weather != "" {
		b.cond("weather = %s", f.Weather)
	}
	if f.MaxTTCS != nil {
		b.cond("min_ttc_s <= %s", *f.MaxTTCS)
	}
	if f.MaxPETS != nil {
		b.cond("pet_s <= %s", *f.MaxPETS)
	}
	if f.Zone != "" {
		b.cond("zone = %s", f.Zone)
	}
	if f.Approach != "" {
		b.cond("approach = %s", f.Approach)
	}
}

func encodeCursor(c cursor) string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string) (cursor, error) {
	var c cursor
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		err = json.Unmarshal(b, &c)
	}
	if err != nil || c.ID == "" {
		return cursor{}, badInput("cursor %q is not one this store issued", s)
	}
	return c, nil
}

// statsTimeGroup reports whether a grouping is by time (and so gets
// per-group exposure), and its bin width for bin groupings.
func statsTimeGroup(by string) (timeGroup bool, bin time.Duration) {
	switch by {
	case ByBin5:
		return true, 5 * time.Minute
	case ByBin15:
		return true, 15 * time.Minute
	case ByBin30:
		return true, 30 * time.Minute
	case ByBin60:
		return true, 60 * time.Minute
	case ByHour, ByWeekday:
		return true, 0
	}
	return false, 0
}

// statsColumn is the near_misses column of a value grouping.
func statsColumn(by string) (string, bool) {
	switch by {
	case ByWeather:
		return "weather", true
	case ByType:
		return "type", true
	case ByApproach:
		return "approach", true
	case BySeverity:
		return "severity", true
	}
	return "", false
}

func checkStats(q *StatsQuery) error {
	if err := q.Validate(); err != nil {
		return err
	}
	if isTime, _ := statsTimeGroup(q.By); isTime {
		return nil
	}
	if _, ok := statsColumn(q.By); ok {
		return nil
	}
	return badInput("stats grouping %q: want one of %s", q.By, strings.Join(StatsGroupings, ", "))
}

func checkHeatmap(q *HeatmapQuery) error {
	if err := q.Validate(); err != nil {
		return err
	}
	if q.Level < 0 || q.Level > 30 {
		return badInput("S2 level %d out of range 0..30", q.Level)
	}
	return nil
}
