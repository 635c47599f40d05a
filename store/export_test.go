package store

import (
	"encoding/json"

	"github.com/intersect-oss/intersect/events"
)

// SetPGMultiRow switches a PostgreSQL store to multi-row INSERTs for near
// misses (default: CopyFrom through a staging table), so the benchmark can
// measure both.
func SetPGMultiRow(s Store, on bool) {
	if p, ok := s.(*pgStore); ok {
		if on {
			p.mode = pgMultiRow
		} else {
			p.mode = pgCopy
		}
	}
}

// NearMissRow is the column values the PostgreSQL store copies for n (same
// encoding work as Write), for the bare CopyFrom benchmark.
func NearMissRow(n *events.NearMiss) []any {
	body, _ := json.Marshal(n)
	s := &sqlStore{}
	p := &pgStore{}
	s.d = p.dialect()
	return s.nearMissArgs(&nearMissRow{ev: n, cell: CellKey(LeafCell(n.Lat, n.Lng)), weight: n.Severity.Weight(), body: body})
}
