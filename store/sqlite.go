package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// SQLiteFile is the name of the SQLite database inside the data dir.
const SQLiteFile = "intersect.db"

func openSQLite(ctx context.Context, dataDir string, log *slog.Logger) (Store, error) {
	if dataDir == "" {
		return nil, badInput("data dir is required for the SQLite store (or give a postgres:// DSN)")
	}
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return nil, badInput("data dir %s cannot be created: %v", dataDir, err)
	}
	probe, err := os.CreateTemp(dataDir, ".write-probe-*")
	if err != nil {
		return nil, badInput("data dir %s is not writable: %v", dataDir, err)
	}
	probe.Close()
	os.Remove(probe.Name())
	if err := registerSQLiteFuncs(); err != nil {
		return nil, err
	}
	path := filepath.Join(dataDir, SQLiteFile)
	// WAL lets readers run beside the one writer; busy_timeout makes a
	// second writer wait instead of failing; _txlock=immediate takes the
	// write lock at BEGIN so two writers never deadlock upgrading.
	dsn := path + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("opening SQLite %s: %w", path, err)
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("opening SQLite %s: %w", path, err)
	}
	sdb := &sqliteDB{db: db}
	if err := migrateSQLite(ctx, sdb, path); err != nil {
		db.Close()
		return nil, err
	}
	log.Info("store open", "backend", "sqlite", "path", path)
	return &sqlStore{db: sdb, d: sqliteDialect(), log: log}, nil
}

func migrateSQLite(ctx context.Context, db *sqliteDB, path string) error {
	ms, err := loadMigrations("sqlite")
	if err != nil {
		return err
	}
	tx, err := db.Begin(ctx)
	if err != nil {
		return fmt.Errorf("migrating SQLite %s: %w", path, err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("migrating SQLite %s: %w", path, err)
	}
	var current int
	rs, err := tx.Query(ctx, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations")
	if err != nil {
		return fmt.Errorf("migrating SQLite %s: reading schema version: %w", path, err)
	}
	for rs.Next() {
		if err := rs.Scan(&current); err != nil {
			rs.Close()
			return fmt.Errorf("migrating SQLite %s: reading schema version: %w", path, err)
		}
	}
	rs.Close()
	due, err := pending(ms, current, "SQLite "+path)
	if err != nil {
		return err
	}
	for _, m := range due {
		if _, err := tx.Exec(ctx, m.sql); err != nil {
			return fmt.Errorf("migrating SQLite %s: applying %s: %w", path, m.name, err)
		}
		if _, err := tx.Exec(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)", m.version, m.name, time.Now().UnixNano()); err != nil {
			return fmt.Errorf("migrating SQLite %s: recording %s: %w", path, m.name, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("migrating SQLite %s: %w", path, err)
	}
	return nil
}

func sqliteDialect() dialect {
	d := dialect{
		name:     "sqlite",
		rebind:   func(s string) string { return s },
		timeV:    func(t time.Time) any { return t.UnixNano() },
		tsExpr:   func(col string) string { return col },
		toTime:   func(ns int64) time.Time { return time.Unix(0, ns).UTC() },
		greatest: "max",
		analyze:  "ANALYZE",
	}
	d.insertMany = sqliteInsertMany
	d.retryable = func(err error) bool {
		// SQLITE_BUSY after busy_timeout: another process held the write
		// lock for longer than that.
		var se *sqlite.Error
		return errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_BUSY
	}
	d.writeNearMisses = func(ctx context.Context, tx txn, rs []nearMissRow) ([]bool, error) {
		args := make([][]any, len(rs))
		s := &sqlStore{d: d}
		for i := range rs {
			args[i] = s.nearMissArgs(&rs[i])
		}
		return sqliteInsertMany(ctx, tx, "INSERT INTO near_misses ("+nearMissCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING", args)
	}
	d.writeRows = func(ctx context.Context, tx txn, table string, cols []string, rows [][]any) ([]bool, error) {
		return sqliteInsertMany(ctx, tx, "INSERT INTO "+table+" ("+strings.Join(cols, ", ")+") VALUES (?"+
			strings.Repeat(", ?", len(cols)-1)+") ON CONFLICT (id) DO NOTHING", rows)
	}
	d.groupExpr = func(b *sqlBuilder, by string, tz *time.Location) (string, error) {
		name := tz.String()
		switch by {
		case ByHour:
			return "intersect_local(ts, " + b.arg(name) + ", 'hour')", nil
		case ByWeekday:
			return "intersect_local(ts, " + b.arg(name) + ", 'weekday')", nil
		}
		_, bin := statsTimeGroup(by)
		return "intersect_bin(ts, " + b.arg(name) + ", " + b.arg(int64(bin/time.Minute)) + ")", nil
	}
	return d
}

// sqliteInsertMany prepares the statement once and runs it per row.
func sqliteInsertMany(ctx context.Context, tx txn, query string, args [][]any) ([]bool, error) {
	stmt, err := tx.(*sqliteTx).tx.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	defer stmt.Close()
	ins := make([]bool, len(args))
	for i, a := range args {
		r, err := stmt.ExecContext(ctx, a...)
		if err != nil {
			return nil, err
		}
		n, err := r.RowsAffected()
		if err != nil {
			return nil, err
		}
		ins[i] = n > 0
	}
	return ins, nil
}

// SQLite has no time zone database, so local hours, weekdays and bins come
// from Go functions registered with the driver. They run inside SQLite, per
// row, during the GROUP BY.
var (
	sqliteFuncsOnce sync.Once
	sqliteFuncsErr  error
	zones           sync.Map // zone name → *time.Location; LoadLocation reads tzdata from disk
)

func loadZone(name string) (*time.Location, error) {
	if l, ok := zones.Load(name); ok {
		return l.(*time.Location), nil
	}
	l, err := time.LoadLocation(name)
	if err != nil {
		return nil, err
	}
	zones.Store(name, l)
	return l, nil
}

func registerSQLiteFuncs() error {
	sqliteFuncsOnce.Do(func() {
		localArgs := func(args []driver.Value) (time.Time, error) {
			ns, ok1 := args[0].(int64)
			name, ok2 := args[1].(string)
			if !ok1 || !ok2 {
				return time.Time{}, errors.New("intersect time function: want (integer ns, text zone, …)")
			}
			loc, err := loadZone(name)
			if err != nil {
				return time.Time{}, err
			}
			return time.Unix(0, ns).In(loc), nil
		}
		sqliteFuncsErr = sqlite.RegisterDeterministicScalarFunction("intersect_local", 3, func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
			t, err := localArgs(args)
			if err != nil {
				return nil, err
			}
			switch args[2] {
			case "hour":
				return int64(t.Hour()), nil
			case "weekday":
				return int64(t.Weekday()), nil
			}
			return nil, fmt.Errorf("intersect_local: unknown part %v", args[2])
		})
		if sqliteFuncsErr != nil {
			return
		}
		sqliteFuncsErr = sqlite.RegisterDeterministicScalarFunction("intersect_bin", 3, func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
			t, err := localArgs(args)
			if err != nil {
				return nil, err
			}
			mins, ok := args[2].(int64)
			if !ok || mins <= 0 || mins > 60 {
				return nil, fmt.Errorf("intersect_bin: bin %v minutes out of range", args[2])
			}
			// Bins align on the local wall clock, as PostgreSQL's date_bin
			// on a local timestamp does.
			m := int64(t.Minute()) / mins * mins
			return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), int(m), 0, 0, t.Location()).UnixNano(), nil
		})
	})
	if sqliteFuncsErr != nil {
		return fmt.Errorf("registering SQLite functions: %w", sqliteFuncsErr)
	}
	return nil
}

// sqliteDB adapts database/sql to the store's execer.
type sqliteDB struct{ db *sql.DB }

type sqlRows struct{ *sql.Rows }

func (r sqlRows) Close() { r.Rows.Close() }

func (d *sqliteDB) Query(ctx context.Context, q string, args ...any) (rows, error) {
	r, err := d.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return sqlRows{r}, nil
}

func (d *sqliteDB) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	r, err := d.db.ExecContext(ctx, q, args...)
	if err != nil {
		return 0, err
	}
	return r.RowsAffected()
}

func (d *sqliteDB) Begin(ctx context.Context) (txn, error) {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	return &sqliteTx{tx: tx}, nil
}

func (d *sqliteDB) Close() error { return d.db.Close() }

type sqliteTx struct{ tx *sql.Tx }

func (t *sqliteTx) Query(ctx context.Context, q string, args ...any) (rows, error) {
	r, err := t.tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return sqlRows{r}, nil
}

func (t *sqliteTx) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	r, err := t.tx.ExecContext(ctx, q, args...)
	if err != nil {
		return 0, err
	}
	return r.RowsAffected()
}

func (t *sqliteTx) Commit(context.Context) error { return t.tx.Commit() }

func (t *sqliteTx) Rollback(context.Context) error { return t.tx.Rollback() }
