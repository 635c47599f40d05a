// Package testenv finds the inputs tests need from outside the repository:
// the team's shared real data (../shared/data) and the PostgreSQL test
// database. Outside CI a missing input skips the test with a message saying
// what to provide; with CI=true it fails, because CI must run every test.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"

	"github.com/jackc/pgx/v5"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// CI reports whether the tests run under CI (CI=true).
func CI() bool { return os.Getenv("CI") == "true" }

// RepoRoot returns the module root (the directory holding go.mod).
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// SharedData returns the path of ../shared/data/<parts...> next to the
// repository, skipping the test when it is absent (failing under CI).
func SharedData(tb testing.TB, parts ...string) string {
	tb.Helper()
	base := os.Getenv("INTERSECT_SHARED_DATA")
	if base == "" {
		base = filepath.Join(RepoRoot(), "..", "shared", "data")
	}
	p := filepath.Join(append([]string{base}, parts...)...)
	if _, err := os.Stat(p); err != nil {
		if CI() {
			tb.Fatalf("shared data %s missing under CI: %v", p, err)
		}
		tb.Skipf("shared data %s not present (set INTERSECT_SHARED_DATA or check out ../shared): %v", p, err)
	}
	return p
}

// PostgresDSN returns the DSN of the PostgreSQL test database from
// INTERSECT_TEST_PG. Under CI it defaults to the local test database
// (postgres://postgres@127.0.0.1:5432/test) and never skips; elsewhere an
// unset variable skips the test with a message.
func PostgresDSN(tb testing.TB) string {
	tb.Helper()
	if dsn := os.Getenv("INTERSECT_TEST_PG"); dsn != "" {
		return dsn
	}
	if CI() {
		return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	}
	tb.Skip("PostgreSQL tests skipped: set INTERSECT_TEST_PG=postgres://postgres@127.0.0.1:5432/test?sslmode=disable to run them")
	return ""
}

// FreshPostgres returns a DSN for a new, empty schema in the PostgreSQL test
// database (search_path set to it), dropped when the test ends, so that
// packages testing in parallel never see each other's tables.
func FreshPostgres(tb testing.TB) string {
	tb.Helper()
	dsn := PostgresDSN(tb)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		tb.Fatalf("connecting to PostgreSQL test database %s: %v", dsn, err)
	}
	defer conn.Close(ctx)
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "t_" + hex.EncodeToString(b[:])
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		tb.Fatalf("creating schema %s: %v", schema, err)
	}
	tb.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), dsn)
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		_, _ = c.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
	})
	u, err := url.Parse(dsn)
	if err != nil {
		tb.Fatalf("parsing DSN %s: %v", dsn, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
