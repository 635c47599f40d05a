package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// RetentionPolicy says how long rows are kept; a zero duration keeps them
// forever. Near misses are severity-aware: critical ones are the evidence
// behind safety decisions and are usually kept much longer than the rest.
type RetentionPolicy struct {
	NearMisses         time.Duration // minor and serious near misses
	CriticalNearMisses time.Duration // critical near misses; at least NearMisses
	Tracks             time.Duration // track summaries (exposure counts)
	Health             time.Duration // camera health reports
}

// Validate reports a policy that would delete critical events before the
// others, or a negative duration.
func (p RetentionPolicy) Validate() error {
	for name, d := range map[string]time.Duration{"near misses": p.NearMisses, "critical near misses": p.CriticalNearMisses, "tracks": p.Tracks, "health": p.Health} {
		if d < 0 {
			return badInput("retention for %s is negative (%s)", name, d)
		}
	}
	if p.CriticalNearMisses != 0 && (p.NearMisses == 0 || p.CriticalNearMisses < p.NearMisses) {
		return badInput("critical near misses must be kept at least as long as the others (%s < %s)", p.CriticalNearMisses, p.NearMisses)
	}
	return nil
}

// RetentionResult says what ApplyRetention removed.
type RetentionResult struct {
	NearMisses int64 // rows deleted
	Tracks     int64
	Health     int64
	// PartitionsDropped names the monthly PostgreSQL partitions dropped
	// whole because every row in them was past its retention.
	PartitionsDropped []string
}

// retainer is implemented by both backends.
type retainer interface {
	ApplyRetention(ctx context.Context, p RetentionPolicy, now time.Time) (RetentionResult, error)
}

// ApplyRetention removes what p no longer keeps, as of now. PostgreSQL
// drops whole monthly partitions where it can (instant, no dead tuples) and
// deletes row by row only in the months that straddle a cutoff.
func ApplyRetention(ctx context.Context, s Store, p RetentionPolicy, now time.Time) (RetentionResult, error) {
	if err := p.Validate(); err != nil {
		return RetentionResult{}, err
	}
	r, ok := s.(retainer)
	if !ok {
		return RetentionResult{}, fmt.Errorf("store %T does not support retention", s)
	}
	return r.ApplyRetention(ctx, p, now)
}

// ApplyRetention implements retainer with plain DELETEs.
func (s *sqlStore) ApplyRetention(ctx context.Context, p RetentionPolicy, now time.Time) (RetentionResult, error) {
	var res RetentionResult
	del := func(n *int64, keep time.Duration, sql string) error {
		if keep == 0 {
			return nil
		}
		k, err := s.exec(ctx, s.db, sql, s.d.timeV(now.Add(-keep)))
		if err != nil {
			return fmt.Errorf("%s: retention: %w", s.d.name, err)
		}
		*n += k
		return nil
	}
	if err := del(&res.NearMisses, p.NearMisses, "DELETE FROM near_misses WHERE ts < ? AND severity <> 'critical'"); err != nil {
		return res, err
	}
	if err := del(&res.NearMisses, p.CriticalNearMisses, "DELETE FROM near_misses WHERE ts < ?"); err != nil {
		return res, err
	}
	if err := del(&res.Tracks, p.Tracks, "DELETE FROM track_summaries WHERE ts < ?"); err != nil {
		return res, err
	}
	if err := del(&res.Health, p.Health, "DELETE FROM camera_health WHERE ts < ?"); err != nil {
		return res, err
	}
	return res, nil
}

// ApplyRetention drops the monthly near-miss partitions that end before
// the critical cutoff, then deletes the remaining expired rows.
func (s *pgStore) ApplyRetention(ctx context.Context, p RetentionPolicy, now time.Time) (RetentionResult, error) {
	var dropped []string
	if p.CriticalNearMisses > 0 {
		cutoff := now.Add(-p.CriticalNearMisses)
		rows, err := s.pool.Query(ctx, `
			SELECT c.relname
			FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
			WHERE p.relname = 'near_misses' AND p.relnamespace = current_schema()::regnamespace
			  AND c.relname ~ '^near_misses_[0-9]{6}$'`)
		if err != nil {
			return RetentionResult{}, fmt.Errorf("postgres: listing near_misses partitions: %w", err)
		}
		names, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return RetentionResult{}, fmt.Errorf("postgres: listing near_misses partitions: %w", err)
		}
		for _, name := range names {
			// The name is near_misses_YYYYMM (matched above): the month
			// ends at the start of the next.
			start, err := time.Parse("200601", name[len("near_misses_"):])
			if err != nil || start.AddDate(0, 1, 0).After(cutoff) {
				continue
			}
			if _, err := s.pool.Exec(ctx, "DROP TABLE "+pgx.Identifier{name}.Sanitize()); err != nil {
				return RetentionResult{}, fmt.Errorf("postgres: dropping partition %s: %w", name, err)
			}
			s.partitions.Delete(start)
			dropped = append(dropped, name)
			s.log.Info("retention: dropped near-miss partition", "partition", name)
		}
	}
	res, err := s.sqlStore.ApplyRetention(ctx, p, now)
	res.PartitionsDropped = dropped
	return res, err
}
