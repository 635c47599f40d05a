package store

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/golang/geo/s2"

	"github.com/intersect-oss/intersect/events"
)

// CellKey is how a leaf S2 cell ID is stored: the uint64 with its top bit
// flipped, as int64, so that signed order is cell order and every parent
// cell is one contiguous range of keys.
func CellKey(id s2.CellID) int64 { return int64(uint64(id) ^ (1 << 63)) }

// CellFromKey inverts CellKey.
func CellFromKey(k int64) s2.CellID { return s2.CellID(uint64(k) ^ (1 << 63)) }

// LeafCell is the leaf S2 cell of a WGS84 point.
func LeafCell(lat, lng float64) s2.CellID {
	return s2.CellIDFromLatLng(s2.LatLngFromDegrees(lat, lng))
}

// parentMask returns the two int64 operands that turn a stored leaf key into
// the key of its level-L parent in SQL: parent = (key & mask) | lsb. Masking
// and setting bits below the top bit commute with the flip, so the
// arithmetic works on stored keys directly.
func parentMask(level int) (mask, lsb int64) {
	l := uint64(1) << (2 * uint(30-level))
	return int64(-l), int64(l)
}

// batch is a Write batch checked, deduplicated and split by kind.
type batch struct {
	nearMisses []nearMissRow
	tracks     []trackRow
	health     []healthRow
	weather    []weatherRow
	recs       []*events.Recommendation
	acks       []*events.Ack
	dead       []DeadLetter
	inBatchDup int
}

type nearMissRow struct {
	ev     *events.NearMiss
	cell   int64
	weight float64
	body   []byte
}

type trackRow struct {
	ev   *events.TrackSummary
	body []byte
}

type healthRow struct {
	ev   *events.CameraHealth
	body []byte
}

type weatherRow struct {
	ev   *events.WeatherObservation
	body []byte
}

// body returns the JSON kept in an event's body column: the bytes the event
// was decoded from when the caller has them, else its encoding.
func body(b *Batch, i int, ev events.Event) ([]byte, error) {
	if i < len(b.Raw) && b.Raw[i] != nil && utf8.Valid(b.Raw[i]) {
		return b.Raw[i], nil
	}
	data, err := json.Marshal(ev)
	if err != nil {
		h := ev.Head()
		return nil, fmt.Errorf("encoding %s %s: %w", h.Kind, h.ID, err)
	}
	return data, nil
}

// prepare validates every event (a batch with an invalid event is refused
// whole, naming it, since ingest dead-letters invalid messages before they
// get here) and drops repeated IDs.
func prepare(b Batch) (*batch, error) {
	if len(b.Raw) > len(b.Events) {
		return nil, badInput("batch has %d raw bodies for %d events", len(b.Raw), len(b.Events))
	}
	p := &batch{}
	seen := make(map[string]bool, len(b.Events))
	for i, ev := range b.Events {
		if ev == nil {
			return nil, badInput("batch event %d is nil", i)
		}
		if err := ev.Validate(); err != nil {
			return nil, fmt.Errorf("%w: batch event %d: %w", ErrBadInput, i, err)
		}
		h := ev.Head()
		if seen[h.ID] {
			p.inBatchDup++
			continue
		}
		seen[h.ID] = true
		switch e := ev.(type) {
		case *events.NearMiss:
			data, err := body(&b, i, e)
			if err != nil {
				return nil, err
			}
			p.nearMisses = append(p.nearMisses, nearMissRow{ev: e, cell: CellKey(LeafCell(e.Lat, e.Lng)), weight: e.Severity.Weight(), body: data})
		case *events.TrackSummary:
			data, err := body(&b, i, e)
			if err != nil {
				return nil, err
			}
			p.tracks = append(p.tracks, trackRow{ev: e, body: data})
		case *events.CameraHealth:
			data, err := body(&b, i, e)
			if err != nil {
				return nil, err
			}
			p.health = append(p.health, healthRow{ev: e, body: data})
		case *events.WeatherObservation:
			data, err := body(&b, i, e)
			if err != nil {
				return nil, err
			}
			p.weather = append(p.weather, weatherRow{ev: e, body: data})
		case *events.Recommendation:
			p.recs = append(p.recs, e)
		case *events.Ack:
			p.acks = append(p.acks, e)
		default:
			return nil, badInput("batch event %d (%s %s): unsupported type %T", i, h.Kind, h.ID, ev)
		}
	}
	// Rows are written in ID order (and cameras in name order) so that
	// concurrent writers of overlapping batches take row locks in the same
	// order and queue behind each other instead of deadlocking.
	slices.SortFunc(p.nearMisses, func(a, b nearMissRow) int { return strings.Compare(a.ev.ID, b.ev.ID) })
	slices.SortFunc(p.tracks, func(a, b trackRow) int { return strings.Compare(a.ev.ID, b.ev.ID) })
	slices.SortFunc(p.health, func(a, b healthRow) int { return strings.Compare(a.ev.ID, b.ev.ID) })
	slices.SortFunc(p.weather, func(a, b weatherRow) int { return strings.Compare(a.ev.ID, b.ev.ID) })
	sortByID(p.recs)
	sortByID(p.acks)
	for i, d := range b.Dead {
		if d.Reason == "" {
			return nil, badInput("dead letter %d: reason is required", i)
		}
		if d.Key == "" {
			sum := sha256.Sum256(append([]byte(d.Subject+"\x00"), d.Data...))
			d.Key = "sha256:" + hex.EncodeToString(sum[:])
		}
		if d.At.IsZero() {
			d.At = time.Now()
		}
		d.At = d.At.UTC()
		p.dead = append(p.dead, d)
	}
	slices.SortFunc(p.dead, func(a, b DeadLetter) int { return strings.Compare(a.Key, b.Key) })
	return p, nil
}

func sortByID[T events.Event](xs []T) {
	slices.SortFunc(xs, func(a, b T) int { return strings.Compare(a.Head().ID, b.Head().ID) })
}

// sortedCameras returns the counts in (site, camera) order.
func sortedCameras(m map[[2]string]*cameraCounts) []*cameraCounts {
	out := make([]*cameraCounts, 0, len(m))
	for _, c := range m {
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b *cameraCounts) int {
		if c := strings.Compare(a.site, b.site); c != 0 {
			return c
		}
		return strings.Compare(a.camera, b.camera)
	})
	return out
}

// cameraCounts accumulates, per camera, what a write added, to keep the
// cameras table (behind Sites) current without scanning events.
type cameraCounts struct {
	site, camera string
	nearMisses   int64
	tracks       int64
	lastSeen     time.Time
}

func addCamera(m map[[2]string]*cameraCounts, site, camera string, t time.Time, nm, tr int64) {
	k := [2]string{site, camera}
	c := m[k]
	if c == nil {
		c = &cameraCounts{site: site, camera: camera}
		m[k] = c
	}
	c.nearMisses += nm
	c.tracks += tr
	if t.After(c.lastSeen) {
		c.lastSeen = t
	}
}

// ackTransition is the state change an ack causes, if any: controllers only
// receive approved recommendations, so only those move.
func ackTransition(a *events.Ack) (from, to events.State, why string) {
	switch a.Result {
	case events.AckApplied:
		return events.Approved, events.Deployed, fmt.Sprintf("ack %s: applied by controller %s", a.ID, a.Controller)
	default:
		return events.Approved, events.Rejected, fmt.Sprintf("ack %s: rejected by controller %s: %s", a.ID, a.Controller, a.Reason)
	}
}

// redactDSN returns dsn without its password, for error messages.
func redactDSN(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "(unparseable DSN)"
	}
	return u.Redacted()
}

// cursor is the keyset position after the last row of a page.
type cursor struct {
	T  int64  `json:"t"` // the stored time key (SQLite: Unix ns, PostgreSQL: Unix µs)
	ID string `json:"id"`
}
