package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// pgWriteMode is how near misses reach PostgreSQL. Both were measured with
// BenchmarkWritePostgres; pgCopy is the default because it was faster.
type pgWriteMode int

const (
	pgCopy     pgWriteMode = iota // CopyFrom (direct, falling back to a staging table on duplicates)
	pgMultiRow                    // one multi-row INSERT … ON CONFLICT DO NOTHING per chunk
)

type pgStore struct {
	*sqlStore
	pool *pgxpool.Pool
	mode pgWriteMode
	// partitions holds the months whose near_misses partition is known to
	// exist, so DDL runs once per month per process.
	partitions sync.Map
}

func openPostgres(ctx context.Context, dsn string, log *slog.Logger) (Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, badInput("PostgreSQL DSN %s: %v", redactDSN(dsn), err)
	}
	where := fmt.Sprintf("PostgreSQL at %s:%d database %q as %q", cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database, cfg.ConnConfig.User)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", where, err)
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.Ping(pctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connecting to %s: %w", where, err)
	}
	if err := migratePostgres(ctx, pool, where); err != nil {
		pool.Close()
		return nil, err
	}
	s := &pgStore{pool: pool, mode: pgCopy}
	s.sqlStore = &sqlStore{db: pgDB{pool}, log: log}
	s.sqlStore.d = s.dialect()
	log.Info("store open", "backend", "postgres", "at", where)
	return s, nil
}

func migratePostgres(ctx context.Context, pool *pgxpool.Pool, where string) error {
	ms, err := loadMigrations("postgres")
	if err != nil {
		return err
	}
	tx, err := pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("migrating %s: %w", where, err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	// Several processes may start at once; one migrates, the others wait
	// and then find nothing to do.
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(7170126)"); err != nil {
		return fmt.Errorf("migrating %s: taking the migration lock: %w", where, err)
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())`); err != nil {
		return fmt.Errorf("migrating %s: %w", where, err)
	}
	var current int
	if err := tx.QueryRow(ctx, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations").Scan(&current); err != nil {
		return fmt.Errorf("migrating %s: reading schema version: %w", where, err)
	}
	due, err := pending(ms, current, where)
	if err != nil {
		return err
	}
	for _, m := range due {
		if _, err := tx.Exec(ctx, m.sql); err != nil {
			return fmt.Errorf("migrating %s: applying %s: %w", where, m.name, err)
		}
		if _, err := tx.Exec(ctx, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", m.version, m.name); err != nil {
			return fmt.Errorf("migrating %s: recording %s: %w", where, m.name, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("migrating %s: %w", where, err)
	}
	return nil
}

func (s *pgStore) dialect() dialect {
	d := dialect{
		name:     "postgres",
		rebind:   rebindDollar,
		timeV:    func(t time.Time) any { return t.UTC() },
		tsExpr:   func(col string) string { return "(EXTRACT(EPOCH FROM " + col + ") * 1000000)::BIGINT" },
		toTime:   func(us int64) time.Time { return time.UnixMicro(us).UTC() },
		greatest: "GREATEST",
		analyze:  "VACUUM (ANALYZE) near_misses, track_summaries",
	}
	d.insertMany = pgInsertMany
	d.writeNearMisses = s.writeNearMisses
	d.writeRows = func(ctx context.Context, tx txn, table string, cols []string, rows [][]any) ([]bool, error) {
		ids := make([]string, len(rows))
		for i, r := range rows {
			ids[i] = r[0].(string)
		}
		got, err := copyRows(ctx, tx.(pgTx).tx, table, cols, ids, func(i int) []any { return rows[i] })
		if err != nil {
			return nil, err
		}
		return insertedOf(ids, got), nil
	}
	d.beforeWrite = s.ensurePartitions
	d.retryable = func(err error) bool {
		var pgErr *pgconn.PgError
		// deadlock_detected, serialization_failure
		return errors.As(err, &pgErr) && (pgErr.Code == "40P01" || pgErr.Code == "40001")
	}
	d.groupExpr = func(b *sqlBuilder, by string, tz *time.Location) (string, error) {
		name := tz.String()
		if name == "Local" {
			return "", badInput("time zone: name an IANA zone (e.g. America/Denver), not Local")
		}
		switch by {
		case ByHour:
			return "EXTRACT(HOUR FROM ts AT TIME ZONE " + b.arg(name) + ")", nil
		case ByWeekday:
			return "EXTRACT(DOW FROM ts AT TIME ZONE " + b.arg(name) + ")", nil
		}
		_, bin := statsTimeGroup(by)
		// Bin the local wall-clock time, then turn the bin start back into
		// an instant; the key is Unix µs like every other time key.
		// Arguments are added in the order their ? appears (rebindDollar
		// numbers them by position).
		bs := "date_bin(" + b.arg(fmt.Sprintf("%d minutes", int(bin/time.Minute))) + "::interval, ts AT TIME ZONE "
		bs += b.arg(name) + ", TIMESTAMP '2001-01-01') AT TIME ZONE "
		bs += b.arg(name)
		return "EXTRACT(EPOCH FROM " + bs + ") * 1000000", nil
	}
	return d
}

// rebindDollar turns ? placeholders into $1, $2, … (the store's SQL has no
// ? in literals).
func rebindDollar(q string) string {
	if !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// month returns the first instant of t's month, in UTC.
func month(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
}

// ensurePartitions creates the monthly near_misses partitions a batch needs.
// It runs outside the write transaction: DDL on the parent table locks it,
// and a partition created once serves every later batch.
func (s *pgStore) ensurePartitions(ctx context.Context, p *batch) error {
	for _, r := range p.nearMisses {
		m := month(r.ev.Time)
		if _, ok := s.partitions.Load(m); ok {
			continue
		}
		if err := s.createPartition(ctx, m); err != nil {
			return err
		}
		s.partitions.Store(m, true)
	}
	return nil
}

func (s *pgStore) createPartition(ctx context.Context, m time.Time) error {
	name := fmt.Sprintf("near_misses_%04d%02d", m.Year(), int(m.Month()))
	next := m.AddDate(0, 1, 0)
	// Bounds are formatted from a time.Time, never from input text.
	ddl := fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s PARTITION OF near_misses FOR VALUES FROM ('%s') TO ('%s')",
		name, m.Format("2006-01-02 15:04:05Z07:00"), next.Format("2006-01-02 15:04:05Z07:00"))
	for attempt := 0; ; attempt++ {
		_, err := s.pool.Exec(ctx, ddl)
		if err == nil {
			return nil
		}
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) {
			switch pgErr.Code {
			case "42P07", "23505":
				// Another writer created it at the same moment.
				if attempt == 0 {
					continue
				}
				return nil
			case "23514":
				// Rows of this month already sit in the DEFAULT partition;
				// they stay there (still correct, just not pruned).
				s.log.Warn("near_misses partition not created: the default partition holds rows of that month", "partition", name, "err", err)
				return nil
			}
		}
		return fmt.Errorf("postgres: creating partition %s: %w", name, err)
	}
}

// writeNearMisses stores near misses by the configured mode.
func (s *pgStore) writeNearMisses(ctx context.Context, tx txn, rs []nearMissRow) ([]bool, error) {
	ptx := tx.(pgTx).tx
	ids := make([]string, len(rs))
	for i := range rs {
		ids[i] = rs[i].ev.ID
	}
	var got []string
	var err error
	if s.mode == pgMultiRow {
		got, err = s.multiRowNearMisses(ctx, ptx, rs)
	} else {
		got, err = copyRows(ctx, ptx, "near_misses", nearMissColList, ids, func(i int) []any { return s.nearMissArgs(&rs[i]) })
	}
	if err != nil {
		return nil, err
	}
	return insertedOf(ids, got), nil
}

// insertedOf reports, for each of ids, whether it is among the inserted.
func insertedOf(ids, inserted []string) []bool {
	ins := make([]bool, len(ids))
	if len(inserted) == len(ids) {
		// Everything was new (the normal case): no need to match.
		for i := range ins {
			ins[i] = true
		}
		return ins
	}
	got := make(map[string]bool, len(inserted))
	for _, id := range inserted {
		got[id] = true
	}
	for i, id := range ids {
		ins[i] = got[id]
	}
	return ins
}

var nearMissColList = strings.Split(strings.ReplaceAll(nearMissCols, " ", ""), ",")

// copyRows writes rows (row(i) gives the values of cols for ids[i]) into
// table and returns the IDs it inserted. It first copies them straight into
// the table under a savepoint: a batch of new events (the normal case) is
// then written once, in one COPY. If any row is already stored, COPY fails
// with a unique violation; the savepoint undoes it and the rows go through a
// staging table and INSERT … ON CONFLICT DO NOTHING, which skips the
// duplicates. The table's unique keys must all be on the event ID.
func copyRows(ctx context.Context, tx pgx.Tx, table string, cols, ids []string, row func(i int) []any) ([]string, error) {
	if _, err := tx.Exec(ctx, "SAVEPOINT direct_copy"); err != nil {
		return nil, err
	}
	_, err := tx.CopyFrom(ctx, pgx.Identifier{table}, cols, copySource(len(ids), row))
	if err == nil {
		if _, err := tx.Exec(ctx, "RELEASE SAVEPOINT direct_copy"); err != nil {
			return nil, err
		}
		return ids, nil
	}
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "23505" {
		return nil, fmt.Errorf("copying into %s: %w", table, err)
	}
	if _, err := tx.Exec(ctx, "ROLLBACK TO SAVEPOINT direct_copy"); err != nil {
		return nil, err
	}
	return stageRows(ctx, tx, table, cols, len(ids), row)
}

func copySource(n int, row func(i int) []any) pgx.CopyFromSource {
	i := 0
	return pgx.CopyFromFunc(func() ([]any, error) {
		if i == n {
			return nil, nil
		}
		a := row(i)
		i++
		return a, nil
	})
}

// stageRows copies rows into a per-connection temporary table (emptied at
// every commit) and inserts the new ones from there. Table names come from
// the store's code, never from input.
func stageRows(ctx context.Context, tx pgx.Tx, table string, cols []string, n int, row func(i int) []any) ([]string, error) {
	stage := table + "_stage"
	if _, err := tx.Exec(ctx, "CREATE TEMP TABLE IF NOT EXISTS "+stage+
		" (LIKE "+table+" INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"); err != nil {
		return nil, fmt.Errorf("creating staging table %s: %w", stage, err)
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{stage}, cols, copySource(n, row)); err != nil {
		return nil, fmt.Errorf("copying into staging table %s: %w", stage, err)
	}
	cl := strings.Join(cols, ", ")
	rows, err := tx.Query(ctx, "INSERT INTO "+table+" ("+cl+") SELECT "+cl+" FROM "+stage+" ON CONFLICT DO NOTHING RETURNING id")
	if err != nil {
		return nil, fmt.Errorf("inserting new rows from %s: %w", stage, err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("inserting new rows from %s: %w", stage, err)
	}
	return ids, nil
}

func (s *pgStore) multiRowNearMisses(ctx context.Context, tx pgx.Tx, rs []nearMissRow) ([]string, error) {
	const chunk = 65535 / nearMissNCol
	var ids []string
	for start := 0; start < len(rs); start += chunk {
		end := min(start+chunk, len(rs))
		var b strings.Builder
		b.WriteString("INSERT INTO near_misses (" + nearMissCols + ") VALUES ")
		args := make([]any, 0, (end-start)*nearMissNCol)
		for i := start; i < end; i++ {
			if i > start {
				b.WriteString(", ")
			}
			b.WriteByte('(')
			for c := 0; c < nearMissNCol; c++ {
				if c > 0 {
					b.WriteString(", ")
				}
				b.WriteByte('$')
				b.WriteString(strconv.Itoa(len(args) + c + 1))
			}
			b.WriteByte(')')
			args = append(args, s.nearMissArgs(&rs[i])...)
		}
		b.WriteString(" ON CONFLICT DO NOTHING RETURNING id")
		rows, err := tx.Query(ctx, b.String(), args...)
		if err != nil {
			return nil, err
		}
		got, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return nil, err
		}
		ids = append(ids, got...)
	}
	return ids, nil
}

// pgInsertMany sends every row's INSERT in one round trip (pgx batch).
func pgInsertMany(ctx context.Context, tx txn, query string, args [][]any) ([]bool, error) {
	ptx := tx.(pgTx).tx
	query = rebindDollar(query)
	var b pgx.Batch
	for _, a := range args {
		b.Queue(query, a...)
	}
	br := ptx.SendBatch(ctx, &b)
	ins := make([]bool, len(args))
	for i := range args {
		tag, err := br.Exec()
		if err != nil {
			br.Close()
			return nil, err
		}
		ins[i] = tag.RowsAffected() > 0
	}
	return ins, br.Close()
}

// pgDB adapts a pgx pool to the store's execer.
type pgDB struct{ pool *pgxpool.Pool }

type pgRows struct{ pgx.Rows }

func (r pgRows) Close() { r.Rows.Close() }

func (d pgDB) Query(ctx context.Context, q string, args ...any) (rows, error) {
	r, err := d.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return pgRows{r}, nil
}

func (d pgDB) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	tag, err := d.pool.Exec(ctx, q, args...)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

func (d pgDB) Begin(ctx context.Context) (txn, error) {
	tx, err := d.pool.Begin(ctx)
	if err != nil {
		return nil, err
	}
	return pgTx{tx}, nil
}

func (d pgDB) Close() error { d.pool.Close(); return nil }

type pgTx struct{ tx pgx.Tx }

func (t pgTx) Query(ctx context.Context, q string, args ...any) (rows, error) {
	r, err := t.tx.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return pgRows{r}, nil
}

func (t pgTx) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	tag, err := t.tx.Exec(ctx, q, args...)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

func (t pgTx) Commit(ctx context.Context) error { return t.tx.Commit(ctx) }

func (t pgTx) Rollback(ctx context.Context) error { return t.tx.Rollback(ctx) }
