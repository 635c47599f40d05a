package store_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/intersect-oss/intersect/events"
	"github.com/intersect-oss/intersect/internal/testenv"
	"github.com/intersect-oss/intersect/store"
	"github.com/intersect-oss/intersect/store/storetest"
)

func openPG(t testing.TB, dsn string) store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), dsn, "", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("Open PostgreSQL: %v", err)
	}
	return s
}

func TestPostgresContract(t *testing.T) {
	testenv.PostgresDSN(t) // skip early, with the message, when PostgreSQL is not configured
	storetest.Run(t, func(t *testing.T) store.Store {
		s := openPG(t, testenv.FreshPostgres(t))
		t.Cleanup(func() { s.Close() })
		return s
	})
}

// TestPostgresContractMultiRow runs the write-heavy cases through the
// multi-row INSERT path too, which the benchmark compares with CopyFrom.
func TestPostgresContractMultiRow(t *testing.T) {
	testenv.PostgresDSN(t)
	storetest.Run(t, func(t *testing.T) store.Store {
		s := openPG(t, testenv.FreshPostgres(t))
		store.SetPGMultiRow(s, true)
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func pgConn(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

func TestPostgresMonthlyPartitions(t *testing.T) {
	dsn := testenv.FreshPostgres(t)
	s := openPG(t, dsn)
	defer s.Close()
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(5, 5))
	// Four months, written in one batch, with an event on each month's
	// first and last instant.
	var evs []events.Event
	months := []time.Time{
		time.Date(2025, 11, 1, 0, 0, 0, 0, time.UTC), time.Date(2025, 12, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC),
	}
	for _, m := range months {
		evs = append(evs,
			storetest.Synthetic(rng, "main-and-5th", "cam-1", m),
			storetest.Synthetic(rng, "main-and-5th", "cam-1", m.AddDate(0, 1, 0).Add(-time.Microsecond)),
			storetest.Synthetic(rng, "main-and-5th", "cam-1", m.Add(14*24*time.Hour)))
	}
	res, err := s.Write(ctx, store.Batch{Events: evs})
	if err != nil || res.Inserted != len(evs) {
		t.Fatalf("Write: %+v, %v", res, err)
	}
	if res, _ := s.Write(ctx, store.Batch{Events: evs}); res.Duplicates != len(evs) {
		t.Fatalf("rewrite across partitions: %+v, want all duplicates", res)
	}
	c := pgConn(t, dsn)
	rows, err := c.Query(ctx, `SELECT child.relname, (SELECT count(*) FROM near_misses n WHERE n.tableoid = child.oid)
		FROM pg_inherits JOIN pg_class parent ON parent.oid = inhparent JOIN pg_class child ON child.oid = inhrelid
		WHERE parent.relname = 'near_misses' AND parent.relnamespace = to_regnamespace(current_schema())::oid ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for rows.Next() {
		var name string
		var n int64
		if err := rows.Scan(&name, &n); err != nil {
			t.Fatal(err)
		}
		got[name] = n
	}
	if rows.Err() != nil {
		t.Fatal(rows.Err())
	}
	want := map[string]int64{"near_misses_default": 0, "near_misses_202511": 3, "near_misses_202512": 3, "near_misses_202601": 3, "near_misses_202602": 3}
	if len(got) != len(want) {
		t.Fatalf("partitions = %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("partitions = %v, want %v", got, want)
		}
	}
	// Queries span partitions and keep their order.
	p, err := s.NearMisses(ctx, store.NearMissQuery{Filter: store.Filter{From: months[1], To: months[3]}, Limit: 4})
	if err != nil || len(p.Items) != 4 || p.Next == "" || !p.Items[0].Time.Equal(months[3].Add(-time.Microsecond)) {
		t.Fatalf("query across partitions: %d items, %v", len(p.Items), err)
	}
	// A second store (another process) finds the partitions already there.
	s2 := openPG(t, dsn)
	defer s2.Close()
	if _, err := s2.Write(ctx, store.Batch{Events: []events.Event{storetest.Synthetic(rng, "main-and-5th", "cam-1", months[2].Add(time.Hour))}}); err != nil {
		t.Fatalf("second writer: %v", err)
	}
}

func TestPostgresReopenAndNewerSchema(t *testing.T) {
	dsn := testenv.FreshPostgres(t)
	ctx := context.Background()
	s := openPG(t, dsn)
	n := storetest.Synthetic(rand.New(rand.NewPCG(1, 1)), "main-and-5th", "cam-1", time.Now())
	if _, err := s.Write(ctx, store.Batch{Events: []events.Event{n}}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = openPG(t, dsn)
	if got, err := s.NearMiss(ctx, n.ID); err != nil || got.ID != n.ID {
		t.Fatalf("after reopen: %v", err)
	}
	s.Close()
	c := pgConn(t, dsn)
	var versions string
	if err := c.QueryRow(ctx, "SELECT string_agg(version::text, ',' ORDER BY version) FROM schema_migrations").Scan(&versions); err != nil || versions != "1,2" {
		t.Fatalf("schema_migrations = %q (%v), want one row each for versions 1 and 2", versions, err)
	}
	if _, err := c.Exec(ctx, "INSERT INTO schema_migrations (version, name) VALUES (42, '0042_future.sql')"); err != nil {
		t.Fatal(err)
	}
	_, err := store.Open(ctx, dsn, "", nil)
	if !errors.Is(err, store.ErrSchemaTooNew) || !strings.Contains(err.Error(), "42") {
		t.Fatalf("Open of a newer schema = %v, want ErrSchemaTooNew naming 42", err)
	}
}

func BenchmarkWritePostgres(b *testing.B) {
	for _, mode := range []struct {
		name              string
		multiRow, overlap bool
	}{{"copy", false, false}, {"multirow", true, false}, {"copy-redelivered", false, true}, {"multirow-redelivered", true, true}} {
		b.Run(mode.name, func(b *testing.B) {
			s := openPG(b, testenv.FreshPostgres(b))
			defer s.Close()
			store.SetPGMultiRow(s, mode.multiRow)
			benchWrite(b, s, mode.overlap)
		})
	}
	for _, raw := range []bool{false, true} {
		b.Run(fmt.Sprintf("mix/raw=%t", raw), func(b *testing.B) {
			s := openPG(b, testenv.FreshPostgres(b))
			defer s.Close()
			benchWriteMix(b, s, raw)
		})
	}
}

// BenchmarkBareCopyPostgres is the floor Write is compared with: the same
// rows CopyFrom'd straight into a plain table, no dedupe, no staging.
func BenchmarkBareCopyPostgres(b *testing.B) {
	dsn := testenv.FreshPostgres(b)
	ctx := context.Background()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, `CREATE TABLE bare (id TEXT, site TEXT, camera TEXT, ts TIMESTAMPTZ, type TEXT, severity TEXT, weight FLOAT8,
		class_a TEXT, class_b TEXT, min_ttc_s FLOAT8, pet_s FLOAT8, max_drac_mps2 FLOAT8, min_distance_m FLOAT8, weather TEXT, zone TEXT,
		approach TEXT, movement TEXT, lat FLOAT8, lng FLOAT8, cell BIGINT, body JSONB)`); err != nil {
		b.Fatal(err)
	}
	cols := strings.Split("id,site,camera,ts,type,severity,weight,class_a,class_b,min_ttc_s,pet_s,max_drac_mps2,min_distance_m,weather,zone,approach,movement,lat,lng,cell,body", ",")
	batches := benchBatches(b.N)
	b.ResetTimer()
	for i := range b.N {
		src := make([][]any, len(batches[i]))
		for j, ev := range batches[i] {
			src[j] = store.NearMissRow(ev.(*events.NearMiss))
		}
		if _, err := c.CopyFrom(ctx, pgx.Identifier{"bare"}, cols, pgx.CopyFromRows(src)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*benchBatch)/b.Elapsed().Seconds(), "bare-copy-events/s")
}

func BenchmarkQueriesPostgres(b *testing.B) {
	s := openPG(b, testenv.FreshPostgres(b))
	defer s.Close()
	benchQueries(b, s)
}

// TestPostgresAuditLogAppendOnly shows that the audit log refuses changes
// even from outside intersect's code (a plain connection).
func TestPostgresAuditLogAppendOnly(t *testing.T) {
	dsn := testenv.FreshPostgres(t)
	ctx := context.Background()
	s := openPG(t, dsn)
	if err := s.AppendAudit(ctx, store.AuditEntry{Actor: "ops", Action: "token.created", Target: "t1"}); err != nil {
		t.Fatal(err)
	}
	c := pgConn(t, dsn)
	for _, q := range []string{"UPDATE audit_log SET actor = 'someone else'", "DELETE FROM audit_log", "TRUNCATE audit_log"} {
		if _, err := c.Exec(ctx, q); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: err = %v, want the append-only refusal", q, err)
		}
	}
	var actor string
	if err := c.QueryRow(ctx, "SELECT actor FROM audit_log").Scan(&actor); err != nil || actor != "ops" {
		t.Fatalf("entry after refused changes: %q, %v", actor, err)
	}
}
