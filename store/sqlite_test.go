package store_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/intersect-oss/intersect/events"
	"github.com/intersect-oss/intersect/store"
	"github.com/intersect-oss/intersect/store/storetest"
)

func openSQLite(t testing.TB, dir string) store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), "", dir, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("Open SQLite in %s: %v", dir, err)
	}
	return s
}

func TestSQLiteContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s := openSQLite(t, t.TempDir())
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func TestSQLiteReopen(t *testing.T) {
	dir := t.TempDir()
	s := openSQLite(t, dir)
	n := storetest.Synthetic(rand.New(rand.NewPCG(1, 1)), "main-and-5th", "cam-1", time.Now())
	if _, err := s.Write(context.Background(), store.Batch{Events: []events.Event{n}}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = openSQLite(t, dir)
	if got, err := s.NearMiss(context.Background(), n.ID); err != nil || got.ID != n.ID {
		t.Fatalf("after reopen: %v, %v", got, err)
	}
	s.Close()
	if got := sqliteVersions(t, dir); got != "1,2" {
		t.Fatalf("schema_migrations after two opens = %s, want one row each for versions 1 and 2", got)
	}
}

// sqliteVersions reads schema_migrations through a second, plain connection.
func sqliteVersions(t *testing.T, dir string) string {
	t.Helper()
	db := rawSQLite(t, dir)
	defer db.Close()
	rows, err := db.Query("SELECT version FROM schema_migrations ORDER BY version")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var vs []string
	for rows.Next() {
		var v string
		rows.Scan(&v)
		vs = append(vs, v)
	}
	return strings.Join(vs, ",")
}

func TestSQLiteRefusesNewerSchema(t *testing.T) {
	dir := t.TempDir()
	openSQLite(t, dir).Close()
	db := rawSQLite(t, dir)
	if _, err := db.Exec("INSERT INTO schema_migrations (version, name, applied_at) VALUES (99, '0099_future.sql', 0)"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	_, err := store.Open(context.Background(), "", dir, nil)
	if !errors.Is(err, store.ErrSchemaTooNew) || !strings.Contains(err.Error(), "99") {
		t.Fatalf("Open of a newer schema = %v, want ErrSchemaTooNew naming version 99", err)
	}
}

func TestOpenBadInput(t *testing.T) {
	file := filepath.Join(t.TempDir(), "plain-file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, dsn, dir string
		want           string
	}{
		{"unknown scheme", "mysql://u:hunter2@db/x", t.TempDir(), "postgres://"},
		{"bare word", "sqlite", t.TempDir(), "want empty"},
		{"data dir under a file", "", filepath.Join(file, "data"), file},
		{"no data dir", "", "", "data dir is required"},
		{"bad postgres DSN", "postgres://u:hunter2@h:notaport/db", "", "PostgreSQL DSN"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := store.Open(context.Background(), c.dsn, c.dir, nil)
			if !errors.Is(err, store.ErrBadInput) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Open(%q, %q) = %v, want ErrBadInput mentioning %q", c.dsn, c.dir, err, c.want)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Fatalf("error leaks the password: %v", err)
			}
		})
	}
}

func TestOpenPostgresUnreachable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	_, err := store.Open(ctx, "postgres://intersect:hunter2@127.0.0.1:1/citydb?connect_timeout=2", "", nil)
	if err == nil || errors.Is(err, store.ErrBadInput) {
		t.Fatalf("Open of an unreachable PostgreSQL = %v, want a runtime error", err)
	}
	msg := err.Error()
	if !strings.Contains(msg, "127.0.0.1") || !strings.Contains(msg, "citydb") || strings.Contains(msg, "hunter2") {
		t.Fatalf("error %q should name host and database, not the password", msg)
	}
}

func BenchmarkWriteSQLite(b *testing.B) {
	b.Run("nearmiss", func(b *testing.B) {
		s := openSQLite(b, b.TempDir())
		defer s.Close()
		benchWrite(b, s, false)
	})
	for _, raw := range []bool{false, true} {
		b.Run(fmt.Sprintf("mix/raw=%t", raw), func(b *testing.B) {
			s := openSQLite(b, b.TempDir())
			defer s.Close()
			benchWriteMix(b, s, raw)
		})
	}
}

// rawSQLite opens the store's file directly, to tamper with it.
func rawSQLite(t *testing.T, dir string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(dir, store.SQLiteFile))
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func BenchmarkQueriesSQLite(b *testing.B) {
	s := openSQLite(b, b.TempDir())
	defer s.Close()
	benchQueries(b, s)
}

// TestSQLiteAuditLogAppendOnly shows that the audit log refuses changes even
// from outside intersect's code (a plain connection to the file).
func TestSQLiteAuditLogAppendOnly(t *testing.T) {
	dir := t.TempDir()
	s := openSQLite(t, dir)
	if err := s.AppendAudit(context.Background(), store.AuditEntry{Actor: "ops", Action: "token.created", Target: "t1"}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	db := rawSQLite(t, dir)
	defer db.Close()
	for _, q := range []string{"UPDATE audit_log SET actor = 'someone else'", "DELETE FROM audit_log"} {
		if _, err := db.Exec(q); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: err = %v, want the append-only refusal", q, err)
		}
	}
	var actor string
	if err := db.QueryRow("SELECT actor FROM audit_log").Scan(&actor); err != nil || actor != "ops" {
		t.Fatalf("entry after refused changes: %q, %v", actor, err)
	}
}
