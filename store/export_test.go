package store

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
