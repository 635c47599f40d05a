package store

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/intersect-oss/intersect/events"
)

// The two backends share this implementation; they differ in the driver
// (database/sql for SQLite, a pgx pool for PostgreSQL), in how times are
// stored, and in how bulk rows are written. Those differences live in
// dialect. SQL is written with ? placeholders and rebound per dialect.

// rows is what both drivers' result sets have in common.
type rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

// execer runs statements on a database or inside a transaction.
type execer interface {
	Query(ctx context.Context, sql string, args ...any) (rows, error)
	Exec(ctx context.Context, sql string, args ...any) (int64, error)
}

type txn interface {
	execer
	Commit(ctx context.Context) error
	Rollback(ctx context.Context) error
}

type database interface {
	execer
	Begin(ctx context.Context) (txn, error)
	Close() error
}

// dialect holds what differs between the backends.
type dialect struct {
	name string
	// rebind turns ? placeholders into the driver's form.
	rebind func(sql string) string
	// timeV converts a time argument to the stored form.
	timeV func(time.Time) any
	// tsExpr selects a time column as an int64 key; toTime inverts it.
	tsExpr func(col string) string
	toTime func(int64) time.Time
	// analyze refreshes statistics of the event tables.
	analyze string
	// greatest is the two-argument maximum function.
	greatest string
	// insertMany runs one INSERT … ON CONFLICT DO NOTHING per row and
	// reports which rows were inserted.
	insertMany func(ctx context.Context, tx txn, sql string, args [][]any) ([]bool, error)
	// writeNearMisses stores near-miss rows and reports which were new.
	writeNearMisses func(ctx context.Context, tx txn, rs []nearMissRow) ([]bool, error)
	// writeRows stores the bulk event rows (track summaries, health) of
	// table: rows[i] holds the values of cols, whose first is the event ID.
	// Rows whose ID is already stored are skipped; it reports which rows
	// were new.
	writeRows func(ctx context.Context, tx txn, table string, cols []string, rows [][]any) ([]bool, error)
	// retryable reports whether a failed write transaction may succeed
	// if run again (deadlock, lock timeout).
	retryable func(error) bool
	// beforeWrite runs outside the write transaction (partition DDL).
	beforeWrite func(ctx context.Context, p *batch) error
	// groupExpr is the SQL expression of a time grouping on column ts,
	// adding its arguments to b; it yields an integer.
	groupExpr func(b *sqlBuilder, by string, tz *time.Location) (string, error)
}

type sqlStore struct {
	db  database
	d   dialect
	log *slog.Logger
}

func (s *sqlStore) builder() *sqlBuilder {
	return &sqlBuilder{ph: func(int) string { return "?" }, timeV: s.d.timeV}
}

func (s *sqlStore) query(ctx context.Context, q execer, sql string, args ...any) (rows, error) {
	return q.Query(ctx, s.d.rebind(sql), args...)
}

func (s *sqlStore) exec(ctx context.Context, q execer, sql string, args ...any) (int64, error) {
	return q.Exec(ctx, s.d.rebind(sql), args...)
}

func (s *sqlStore) Close() error { return s.db.Close() }

var (
	trackCols  = []string{"id", "site", "camera", "ts", "class", "approach", "movement", "crosswalk", "body"}
	healthCols = []string{"id", "site", "camera", "ts", "status", "body"}
)

const (
	nearMissCols = "id, site, camera, ts, type, severity, weight, class_a, class_b, min_ttc_s, pet_s, max_drac_mps2, min_distance_m, weather, zone, approach, movement, lat, lng, cell, body"
	nearMissNCol = 21
)

func (s *sqlStore) nearMissArgs(r *nearMissRow) []any {
	e := r.ev
	return []any{e.ID, e.Site, e.Camera, s.d.timeV(e.Time), string(e.Type), string(e.Severity), r.weight,
		string(e.ClassA), string(e.ClassB), e.MinTTCS, e.PETS, e.MaxDRACMPS2, e.MinDistanceM,
		e.Weather, e.Zone, e.Approach, e.Movement, e.Lat, e.Lng, r.cell, string(r.body)}
}

// writeAttempts bounds the retries of a batch that lost a deadlock or a
// lock wait to a concurrent writer (another ingest instance writing an
// overlapping redelivery); the whole transaction is simply run again.
const writeAttempts = 4

// Analyze refreshes the planner's statistics (and, on PostgreSQL, the
// visibility map that index-only scans need). Call it after a bulk load;
// autovacuum does it eventually, but until then PostgreSQL plans queries on
// new partitions blind.
func (s *sqlStore) Analyze(ctx context.Context) error {
	if _, err := s.db.Exec(ctx, s.d.analyze); err != nil {
		return fmt.Errorf("%s: analyze: %w", s.d.name, err)
	}
	return nil
}

// Write implements Store.
func (s *sqlStore) Write(ctx context.Context, b Batch) (WriteResult, error) {
	p, err := prepare(b)
	if err != nil {
		return WriteResult{}, err
	}
	if s.d.beforeWrite != nil {
		if err := s.d.beforeWrite(ctx, p); err != nil {
			return WriteResult{}, err
		}
	}
	for attempt := 1; ; attempt++ {
		res, err := s.write(ctx, p, len(b.Events))
		if err == nil || attempt == writeAttempts || s.d.retryable == nil || !s.d.retryable(err) || ctx.Err() != nil {
			return res, err
		}
		s.log.Warn("retrying batch after a conflict with a concurrent writer", "attempt", attempt, "err", err)
		select {
		case <-ctx.Done():
			return WriteResult{}, ctx.Err()
		case <-time.After(time.Duration(attempt*attempt) * 10 * time.Millisecond):
		}
	}
}

func (s *sqlStore) write(ctx context.Context, p *batch, nEvents int) (WriteResult, error) {
	res := WriteResult{Duplicates: p.inBatchDup}
	tx, err := s.db.Begin(ctx)
	if err != nil {
		return WriteResult{}, fmt.Errorf("%s: starting write transaction: %w", s.d.name, err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	cams := map[[2]string]*cameraCounts{}
	count := func(ins []bool, onNew func(i int)) {
		for i, ok := range ins {
			if ok {
				res.Inserted++
				if onNew != nil {
					onNew(i)
				}
			} else {
				res.Duplicates++
			}
		}
	}

	if len(p.nearMisses) > 0 {
		ins, err := s.d.writeNearMisses(ctx, tx, p.nearMisses)
		if err != nil {
			return WriteResult{}, fmt.Errorf("%s: writing %d near misses: %w", s.d.name, len(p.nearMisses), err)
		}
		count(ins, func(i int) {
			e := p.nearMisses[i].ev
			addCamera(cams, e.Site, e.Camera, e.Time, 1, 0)
		})
	}
	if len(p.tracks) > 0 {
		args := make([][]any, len(p.tracks))
		for i, r := range p.tracks {
			e := r.ev
			args[i] = []any{e.ID, e.Site, e.Camera, s.d.timeV(e.Time), string(e.Class), e.Approach, e.Movement, e.Crosswalk, string(r.body)}
		}
		ins, err := s.d.writeRows(ctx, tx, "track_summaries", trackCols, args)
		if err != nil {
			return WriteResult{}, fmt.Errorf("%s: writing %d track summaries: %w", s.d.name, len(p.tracks), err)
		}
		count(ins, func(i int) {
			e := p.tracks[i].ev
			addCamera(cams, e.Site, e.Camera, e.Time, 0, 1)
		})
	}
	if len(p.health) > 0 {
		args := make([][]any, len(p.health))
		for i, r := range p.health {
			e := r.ev
			args[i] = []any{e.ID, e.Site, e.Camera, s.d.timeV(e.Time), string(e.Status), string(r.body)}
		}
		ins, err := s.d.writeRows(ctx, tx, "camera_health", healthCols, args)
		if err != nil {
			return WriteResult{}, fmt.Errorf("%s: writing %d health reports: %w", s.d.name, len(p.health), err)
		}
		count(ins, func(i int) {
			e := p.health[i].ev
			addCamera(cams, e.Site, e.Camera, e.Time, 0, 0)
		})
	}
	if len(p.weather) > 0 {
		args := make([][]any, len(p.weather))
		for i, r := range p.weather {
			e := r.ev
			args[i] = []any{e.ID, e.Site, s.d.timeV(e.Time), string(e.Condition), string(r.body)}
		}
		ins, err := s.d.insertMany(ctx, tx, `INSERT INTO weather (id, site, ts, condition, body)
			VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`, args)
		if err != nil {
			return WriteResult{}, fmt.Errorf("%s: writing %d weather observations: %w", s.d.name, len(p.weather), err)
		}
		count(ins, nil)
	}
	// Recommendations before acks, so a batch holding both works.
	for _, r := range p.recs {
		body, err := json.Marshal(r)
		if err != nil {
			return WriteResult{}, fmt.Errorf("encoding recommendation %s: %w", r.ID, err)
		}
		n, err := s.exec(ctx, tx, `INSERT INTO recommendations (id, site, controller, ts, rule, state, body, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
			r.ID, r.Site, r.Target.Controller, s.d.timeV(r.Time), r.Rule, string(r.State), string(body), s.d.timeV(r.Time))
		if err != nil {
			return WriteResult{}, fmt.Errorf("%s: writing recommendation %s: %w", s.d.name, r.ID, err)
		}
		if n == 0 {
			res.Duplicates++
			continue
		}
		res.Inserted++
		by := "advisor"
		if r.KeyID != "" {
			by = "advisor:" + r.KeyID
		}
		if err := s.recordTransition(ctx, tx, r.ID, "", r.State, by, "stored ("+r.Rule+")", r.Time); err != nil {
			return WriteResult{}, err
		}
	}
	for _, a := range p.acks {
		body, err := json.Marshal(a)
		if err != nil {
			return WriteResult{}, fmt.Errorf("encoding ack %s: %w", a.ID, err)
		}
		n, err := s.exec(ctx, tx, `INSERT INTO acks (id, site, controller, recommendation_id, ts, result, reason, body)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
			a.ID, a.Site, a.Controller, a.RecommendationID, s.d.timeV(a.Time), string(a.Result), a.Reason, string(body))
		if err != nil {
			return WriteResult{}, fmt.Errorf("%s: writing ack %s: %w", s.d.name, a.ID, err)
		}
		if n == 0 {
			res.Duplicates++
			continue
		}
		res.Inserted++
		from, to, why := ackTransition(a)
		if ok, err := s.ackMatches(ctx, tx, a); err != nil {
			return WriteResult{}, err
		} else if !ok {
			// The controller checked other content than the stored record
			// (a forged or stale copy): keep the ack as evidence, move
			// nothing, or a forgery could veto a genuine recommendation.
			s.log.Warn("ack is about different content than the stored recommendation; state unchanged",
				"ack", a.ID, "recommendation", a.RecommendationID, "result", a.Result)
			continue
		}
		moved, err := s.exec(ctx, tx, `UPDATE recommendations SET state = ?, updated_at = ? WHERE id = ? AND state = ?`,
			string(to), s.d.timeV(a.Time), a.RecommendationID, string(from))
		if err != nil {
			return WriteResult{}, fmt.Errorf("%s: applying ack %s to recommendation %s: %w", s.d.name, a.ID, a.RecommendationID, err)
		}
		if moved == 0 {
			// Stored, but it moves nothing: the recommendation is unknown
			// here or no longer approved. The ack row keeps the evidence.
			s.log.Warn("ack does not match an approved recommendation", "ack", a.ID, "recommendation", a.RecommendationID, "result", a.Result)
			continue
		}
		if err := s.recordTransition(ctx, tx, a.RecommendationID, from, to, "controller:"+a.Controller, why, a.Time); err != nil {
			return WriteResult{}, err
		}
		res.Transitions++
	}
	if len(p.dead) > 0 {
		args := make([][]any, len(p.dead))
		for i, d := range p.dead {
			data := d.Data
			if data == nil {
				data = []byte{}
			}
			args[i] = []any{d.Key, d.Subject, data, d.Reason, s.d.timeV(d.At)}
		}
		ins, err := s.d.insertMany(ctx, tx, `INSERT INTO dead_letters (key, subject, data, reason, at)
			VALUES (?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING`, args)
		if err != nil {
			return WriteResult{}, fmt.Errorf("%s: writing %d dead letters: %w", s.d.name, len(p.dead), err)
		}
		for _, ok := range ins {
			if ok {
				res.Dead++
			}
		}
	}
	if len(cams) > 0 {
		// One statement per camera, sent together (a pgx batch is one round
		// trip): a realistic batch touches dozens of cameras.
		cs := sortedCameras(cams)
		args := make([][]any, len(cs))
		for i, c := range cs {
			args[i] = []any{c.site, c.camera, c.nearMisses, c.tracks, s.d.timeV(c.lastSeen)}
		}
		_, err := s.d.insertMany(ctx, tx, `INSERT INTO cameras (site, camera, near_misses, tracks, last_seen) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (site, camera) DO UPDATE SET near_misses = cameras.near_misses + excluded.near_misses,
			tracks = cameras.tracks + excluded.tracks, last_seen = `+s.d.greatest+`(cameras.last_seen, excluded.last_seen)`, args)
		if err != nil {
			return WriteResult{}, fmt.Errorf("%s: updating %d cameras' counts: %w", s.d.name, len(cs), err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return WriteResult{}, fmt.Errorf("%s: committing batch of %d events: %w", s.d.name, nEvents, err)
	}
	return res, nil
}

func (s *sqlStore) recordTransition(ctx context.Context, q execer, id string, from, to events.State, by, why string, at time.Time) error {
	_, err := s.exec(ctx, q, `INSERT INTO recommendation_transitions (recommendation_id, from_state, to_state, by_whom, why, at)
		VALUES (?, ?, ?, ?, ?, ?)`, id, string(from), string(to), by, why, s.d.timeV(at.UTC()))
	if err != nil {
		return fmt.Errorf("%s: recording transition of recommendation %s %s→%s: %w", s.d.name, id, from, to, err)
	}
	return nil
}

// NearMisses implements Store.
func (s *sqlStore) NearMisses(ctx context.Context, q NearMissQuery) (NearMissPage, error) {
	if err := q.Validate(); err != nil {
		return NearMissPage{}, err
	}
	n, err := limit(q.Limit)
	if err != nil {
		return NearMissPage{}, err
	}
	b := s.builder()
	b.filter(&q.Filter)
	if q.Cursor != "" {
		c, err := decodeCursor(q.Cursor)
		if err != nil {
			return NearMissPage{}, err
		}
		b.cond("(ts < %s OR (ts = %s AND id < %s))", s.d.timeV(s.d.toTime(c.T)), s.d.timeV(s.d.toTime(c.T)), c.ID)
	}
	sql := "SELECT " + s.d.tsExpr("ts") + ", id, body FROM near_misses" + b.clause() +
		" ORDER BY ts DESC, id DESC LIMIT " + b.arg(n+1)
	rs, err := s.query(ctx, s.db, sql, b.args...)
	if err != nil {
		return NearMissPage{}, fmt.Errorf("%s: querying near misses: %w", s.d.name, err)
	}
	defer rs.Close()
	var page NearMissPage
	var last cursor
	for rs.Next() {
		var c cursor
		var body []byte
		if err := rs.Scan(&c.T, &c.ID, &body); err != nil {
			return NearMissPage{}, fmt.Errorf("%s: reading near miss: %w", s.d.name, err)
		}
		if len(page.Items) == n {
			page.Next = encodeCursor(last)
			break
		}
		var nm events.NearMiss
		if err := json.Unmarshal(body, &nm); err != nil {
			return NearMissPage{}, fmt.Errorf("%s: decoding stored near miss %s: %w", s.d.name, c.ID, err)
		}
		page.Items = append(page.Items, nm)
		last = c
	}
	if err := rs.Err(); err != nil {
		return NearMissPage{}, fmt.Errorf("%s: querying near misses: %w", s.d.name, err)
	}
	return page, nil
}

// NearMiss implements Store.
func (s *sqlStore) NearMiss(ctx context.Context, id string) (*events.NearMiss, error) {
	var nm events.NearMiss
	if err := s.one(ctx, &nm, "near miss "+id, "SELECT body FROM near_misses WHERE id = ?", id); err != nil {
		return nil, err
	}
	return &nm, nil
}

// one decodes the body of the single row a query returns, or ErrNotFound.
func (s *sqlStore) one(ctx context.Context, dst any, what, sql string, args ...any) error {
	rs, err := s.query(ctx, s.db, sql, args...)
	if err != nil {
		return fmt.Errorf("%s: reading %s: %w", s.d.name, what, err)
	}
	defer rs.Close()
	if !rs.Next() {
		if err := rs.Err(); err != nil {
			return fmt.Errorf("%s: reading %s: %w", s.d.name, what, err)
		}
		return fmt.Errorf("%s: %w", what, ErrNotFound)
	}
	var body []byte
	if err := rs.Scan(&body); err != nil {
		return fmt.Errorf("%s: reading %s: %w", s.d.name, what, err)
	}
	if err := json.Unmarshal(body, dst); err != nil {
		return fmt.Errorf("%s: decoding stored %s: %w", s.d.name, what, err)
	}
	return nil
}

// ExportNearMisses implements Store.
func (s *sqlStore) ExportNearMisses(ctx context.Context, q NearMissQuery, fn func(*events.NearMiss) error) error {
	if err := q.Validate(); err != nil {
		return err
	}
	b := s.builder()
	b.filter(&q.Filter)
	rs, err := s.query(ctx, s.db, "SELECT body FROM near_misses"+b.clause()+" ORDER BY ts DESC, id DESC", b.args...)
	if err != nil {
		return fmt.Errorf("%s: exporting near misses: %w", s.d.name, err)
	}
	defer rs.Close()
	var body []byte
	for rs.Next() {
		if err := rs.Scan(&body); err != nil {
			return fmt.Errorf("%s: exporting near misses: %w", s.d.name, err)
		}
		var nm events.NearMiss
		if err := json.Unmarshal(body, &nm); err != nil {
			return fmt.Errorf("%s: decoding stored near miss: %w", s.d.name, err)
		}
		if err := fn(&nm); err != nil {
			return err
		}
	}
	if err := rs.Err(); err != nil {
		return fmt.Errorf("%s: exporting near misses: %w", s.d.name, err)
	}
	return nil
}

// Heatmap implements Store. The parent cell of every row is computed in SQL
// from the stored leaf key, so only one row per cell leaves the database.
func (s *sqlStore) Heatmap(ctx context.Context, q HeatmapQuery) ([]HeatCell, error) {
	if err := checkHeatmap(&q); err != nil {
		return nil, err
	}
	mask, lsb := parentMask(q.Level)
	b := s.builder()
	pc := "((cell & " + b.arg(mask) + ") | " + b.arg(lsb) + ")"
	b.filter(&q.Filter)
	sql := "SELECT " + pc + " AS pc, COUNT(*), SUM(weight)," +
		" SUM(CASE WHEN severity = 'critical' THEN 1 ELSE 0 END)," +
		" SUM(CASE WHEN severity = 'serious' THEN 1 ELSE 0 END)," +
		" SUM(CASE WHEN severity = 'minor' THEN 1 ELSE 0 END)" +
		" FROM near_misses" + b.clause() + " GROUP BY pc ORDER BY pc"
	rs, err := s.query(ctx, s.db, sql, b.args...)
	if err != nil {
		return nil, fmt.Errorf("%s: heatmap at level %d: %w", s.d.name, q.Level, err)
	}
	defer rs.Close()
	var cells []HeatCell
	for rs.Next() {
		var key int64
		var c HeatCell
		if err := rs.Scan(&key, &c.Count, &c.Score, &c.Critical, &c.Serious, &c.Minor); err != nil {
			return nil, fmt.Errorf("%s: reading heatmap: %w", s.d.name, err)
		}
		id := CellFromKey(key)
		c.Cell, c.Token, c.Level = uint64(id), id.ToToken(), q.Level
		cells = append(cells, c)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("%s: heatmap at level %d: %w", s.d.name, q.Level, err)
	}
	return cells, nil
}

// Stats implements Store.
func (s *sqlStore) Stats(ctx context.Context, q StatsQuery) (StatsResult, error) {
	if err := checkStats(&q); err != nil {
		return StatsResult{}, err
	}
	tz := q.TZ
	if tz == nil {
		tz = time.UTC
	}
	res := StatsResult{By: q.By}
	isTime, bin := statsTimeGroup(q.By)
	b := s.builder()
	var key string
	if isTime {
		expr, err := s.d.groupExpr(b, q.By, tz)
		if err != nil {
			return StatsResult{}, err
		}
		key = "CAST(" + expr + " AS BIGINT)"
	} else {
		col, _ := statsColumn(q.By)
		key = col
	}
	b.filter(&q.Filter)
	sql := "SELECT " + key + " AS k, COUNT(*), SUM(weight) FROM near_misses" + b.clause() + " GROUP BY k ORDER BY k"
	rs, err := s.query(ctx, s.db, sql, b.args...)
	if err != nil {
		return StatsResult{}, fmt.Errorf("%s: stats by %s: %w", s.d.name, q.By, err)
	}
	index := map[string]int{}
	for rs.Next() {
		var g StatsGroup
		if isTime {
			var k int64
			if err := rs.Scan(&k, &g.Count, &g.Score); err != nil {
				rs.Close()
				return StatsResult{}, fmt.Errorf("%s: reading stats: %w", s.d.name, err)
			}
			g.Key, g.Start = s.statsKey(k, bin, tz)
		} else if err := rs.Scan(&g.Key, &g.Count, &g.Score); err != nil {
			rs.Close()
			return StatsResult{}, fmt.Errorf("%s: reading stats: %w", s.d.name, err)
		}
		index[g.Key] = len(res.Groups)
		res.Groups = append(res.Groups, g)
	}
	err = rs.Err()
	rs.Close()
	if err != nil {
		return StatsResult{}, fmt.Errorf("%s: stats by %s: %w", s.d.name, q.By, err)
	}

	exp := exposureSums
	// Totals over the whole window.
	tb := s.builder()
	tb.windowFilter(q.Site, q.Camera, q.From, q.To)
	rs, err = s.query(ctx, s.db, "SELECT "+exp+" FROM track_summaries"+tb.clause(), tb.args...)
	if err != nil {
		return StatsResult{}, fmt.Errorf("%s: exposure: %w", s.d.name, err)
	}
	for rs.Next() {
		var p, v, c *int64
		if err := rs.Scan(&p, &v, &c); err != nil {
			rs.Close()
			return StatsResult{}, fmt.Errorf("%s: reading exposure: %w", s.d.name, err)
		}
		res.Pedestrians, res.Vehicles, res.Cyclists = deref(p), deref(v), deref(c)
	}
	err = rs.Err()
	rs.Close()
	if err != nil {
		return StatsResult{}, fmt.Errorf("%s: exposure: %w", s.d.name, err)
	}
	if !isTime {
		return res, nil
	}
	// Per-group exposure: the same time grouping over track summaries. Groups
	// with tracks but no near misses are kept (a zero rate is a rate).
	gb := s.builder()
	expr, err := s.d.groupExpr(gb, q.By, tz)
	if err != nil {
		return StatsResult{}, err
	}
	gb.windowFilter(q.Site, q.Camera, q.From, q.To)
	sql = "SELECT CAST(" + expr + " AS BIGINT) AS k, " + exp + " FROM track_summaries" + gb.clause() + " GROUP BY k ORDER BY k"
	rs, err = s.query(ctx, s.db, sql, gb.args...)
	if err != nil {
		return StatsResult{}, fmt.Errorf("%s: exposure by %s: %w", s.d.name, q.By, err)
	}
	defer rs.Close()
	for rs.Next() {
		var k int64
		var p, v, c *int64
		if err := rs.Scan(&k, &p, &v, &c); err != nil {
			return StatsResult{}, fmt.Errorf("%s: reading exposure: %w", s.d.name, err)
		}
		key, start := s.statsKey(k, bin, tz)
		i, ok := index[key]
		if !ok {
			i = len(res.Groups)
			index[key] = i
			res.Groups = append(res.Groups, StatsGroup{Key: key, Start: start})
		}
		res.Groups[i].Pedestrians, res.Groups[i].Vehicles = deref(p), deref(v)
	}
	if err := rs.Err(); err != nil {
		return StatsResult{}, fmt.Errorf("%s: exposure by %s: %w", s.d.name, q.By, err)
	}
	sortGroups(res.Groups, bin > 0)
	return res, nil
}

const exposureSums = "SUM(CASE WHEN class = 'pedestrian' THEN 1 ELSE 0 END)," +
	" SUM(CASE WHEN class IN ('car', 'bus', 'truck', 'motorcycle') THEN 1 ELSE 0 END)," +
	" SUM(CASE WHEN class = 'bicycle' THEN 1 ELSE 0 END)"

func deref(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}

// statsKey names a time group: bins by their start in tz, hours and
// weekdays by their number.
func (s *sqlStore) statsKey(k int64, bin time.Duration, tz *time.Location) (string, time.Time) {
	if bin == 0 {
		return strconv.FormatInt(k, 10), time.Time{}
	}
	t := s.d.toTime(k).In(tz)
	return t.Format(time.RFC3339), t
}

func sortGroups(gs []StatsGroup, byStart bool) {
	less := func(a, b StatsGroup) bool {
		if byStart {
			return a.Start.Before(b.Start)
		}
		ai, _ := strconv.Atoi(a.Key)
		bi, _ := strconv.Atoi(b.Key)
		return ai < bi
	}
	for i := 1; i < len(gs); i++ {
		for j := i; j > 0 && less(gs[j], gs[j-1]); j-- {
			gs[j], gs[j-1] = gs[j-1], gs[j]
		}
	}
}

// TrackSummaries implements Store.
func (s *sqlStore) TrackSummaries(ctx context.Context, q TrackQuery) ([]events.TrackSummary, error) {
	if q.Class != "" && !q.Class.Valid() {
		return nil, badInput("unknown class %q", q.Class)
	}
	n, err := limit(q.Limit)
	if err != nil {
		return nil, err
	}
	b := s.builder()
	b.windowFilter(q.Site, q.Camera, q.From, q.To)
	if q.Class != "" {
		b.cond("class = %s", string(q.Class))
	}
	rs, err := s.query(ctx, s.db, "SELECT body FROM track_summaries"+b.clause()+" ORDER BY ts DESC, id DESC LIMIT "+b.arg(n), b.args...)
	if err != nil {
		return nil, fmt.Errorf("%s: querying track summaries: %w", s.d.name, err)
	}
	return collect[events.TrackSummary](rs, s.d.name+": track summaries")
}

// collect decodes the body column of every row.
func collect[T any](rs rows, what string) ([]T, error) {
	defer rs.Close()
	var out []T
	for rs.Next() {
		var body []byte
		if err := rs.Scan(&body); err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		var v T
		if err := json.Unmarshal(body, &v); err != nil {
			return nil, fmt.Errorf("%s: decoding stored row: %w", what, err)
		}
		out = append(out, v)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}

// Exposure implements Store.
func (s *sqlStore) Exposure(ctx context.Context, site string, from, to time.Time) ([]ExposureCount, error) {
	b := s.builder()
	b.windowFilter(site, "", from, to)
	rs, err := s.query(ctx, s.db, "SELECT class, approach, movement, COUNT(*) FROM track_summaries"+b.clause()+
		" GROUP BY class, approach, movement ORDER BY class, approach, movement", b.args...)
	if err != nil {
		return nil, fmt.Errorf("%s: exposure at %s: %w", s.d.name, site, err)
	}
	defer rs.Close()
	var out []ExposureCount
	for rs.Next() {
		var c ExposureCount
		var class string
		if err := rs.Scan(&class, &c.Approach, &c.Movement, &c.Tracks); err != nil {
			return nil, fmt.Errorf("%s: reading exposure: %w", s.d.name, err)
		}
		c.Class = events.Class(class)
		out = append(out, c)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("%s: exposure at %s: %w", s.d.name, site, err)
	}
	return out, nil
}

// LatestHealth implements Store.
func (s *sqlStore) LatestHealth(ctx context.Context) ([]events.CameraHealth, error) {
	// One index probe per known camera, rather than a window over the
	// whole (ever-growing) health history.
	rs, err := s.query(ctx, s.db, `SELECT (SELECT h.body FROM camera_health h WHERE h.site = c.site AND h.camera = c.camera
		ORDER BY h.ts DESC, h.id DESC LIMIT 1) FROM cameras c ORDER BY c.site, c.camera`)
	if err != nil {
		return nil, fmt.Errorf("%s: latest camera health: %w", s.d.name, err)
	}
	defer rs.Close()
	var out []events.CameraHealth
	for rs.Next() {
		var body []byte
		if err := rs.Scan(&body); err != nil {
			return nil, fmt.Errorf("%s: reading latest camera health: %w", s.d.name, err)
		}
		if body == nil {
			continue // a camera seen only through its events so far
		}
		var h events.CameraHealth
		if err := json.Unmarshal(body, &h); err != nil {
			return nil, fmt.Errorf("%s: decoding stored camera health: %w", s.d.name, err)
		}
		out = append(out, h)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("%s: latest camera health: %w", s.d.name, err)
	}
	return out, nil
}

// LatestWeather implements Store.
func (s *sqlStore) LatestWeather(ctx context.Context, site string) (*events.WeatherObservation, error) {
	var w events.WeatherObservation
	if err := s.one(ctx, &w, "weather at "+site, "SELECT body FROM weather WHERE site = ? ORDER BY ts DESC, id DESC LIMIT 1", site); err != nil {
		return nil, err
	}
	return &w, nil
}

// Sites implements Store.
func (s *sqlStore) Sites(ctx context.Context) ([]Site, error) {
	rs, err := s.query(ctx, s.db, "SELECT site, camera, near_misses, tracks, "+s.d.tsExpr("last_seen")+" FROM cameras ORDER BY site, camera")
	if err != nil {
		return nil, fmt.Errorf("%s: listing sites: %w", s.d.name, err)
	}
	defer rs.Close()
	var out []Site
	for rs.Next() {
		var site string
		var c Camera
		var last int64
		if err := rs.Scan(&site, &c.Camera, &c.NearMisses, &c.Tracks, &last); err != nil {
			return nil, fmt.Errorf("%s: reading sites: %w", s.d.name, err)
		}
		c.LastSeen = s.d.toTime(last)
		if len(out) == 0 || out[len(out)-1].Site != site {
			out = append(out, Site{Site: site})
		}
		st := &out[len(out)-1]
		st.Cameras = append(st.Cameras, c)
		st.NearMisses += c.NearMisses
		st.Tracks += c.Tracks
		if c.LastSeen.After(st.LastSeen) {
			st.LastSeen = c.LastSeen
		}
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("%s: listing sites: %w", s.d.name, err)
	}
	return out, nil
}

// DeadLetters implements Store.
func (s *sqlStore) DeadLetters(ctx context.Context, n int) ([]DeadLetter, error) {
	n, err := limit(n)
	if err != nil {
		return nil, err
	}
	rs, err := s.query(ctx, s.db, "SELECT key, subject, data, reason, "+s.d.tsExpr("at")+" FROM dead_letters ORDER BY seq DESC LIMIT ?", n)
	if err != nil {
		return nil, fmt.Errorf("%s: listing dead letters: %w", s.d.name, err)
	}
	defer rs.Close()
	var out []DeadLetter
	for rs.Next() {
		var d DeadLetter
		var at int64
		if err := rs.Scan(&d.Key, &d.Subject, &d.Data, &d.Reason, &at); err != nil {
			return nil, fmt.Errorf("%s: reading dead letters: %w", s.d.name, err)
		}
		d.At = s.d.toTime(at)
		out = append(out, d)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("%s: listing dead letters: %w", s.d.name, err)
	}
	return out, nil
}

// Recommendations implements Store.
func (s *sqlStore) Recommendations(ctx context.Context, q RecommendationQuery) ([]events.Recommendation, error) {
	n, err := limit(q.Limit)
	if err != nil {
		return nil, err
	}
	b := s.builder()
	if q.Site != "" {
		b.cond("site = %s", q.Site)
	}
	if q.Controller != "" {
		b.cond("controller = %s", q.Controller)
	}
	if len(q.States) > 0 {
		st := make([]string, len(q.States))
		for i, v := range q.States {
			if !v.Valid() {
				return nil, badInput("unknown recommendation state %q", v)
			}
			st[i] = string(v)
		}
		b.in("state", st)
	}
	rs, err := s.query(ctx, s.db, "SELECT state, body FROM recommendations"+b.clause()+" ORDER BY ts DESC, id DESC LIMIT "+b.arg(n), b.args...)
	if err != nil {
		return nil, fmt.Errorf("%s: listing recommendations: %w", s.d.name, err)
	}
	defer rs.Close()
	var out []events.Recommendation
	for rs.Next() {
		r, err := scanRecommendation(rs)
		if err != nil {
			return nil, fmt.Errorf("%s: reading recommendations: %w", s.d.name, err)
		}
		out = append(out, *r)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("%s: listing recommendations: %w", s.d.name, err)
	}
	return out, nil
}

// scanRecommendation reads (state, body); the state column is the truth,
// the body's state is what it was when last written.
func scanRecommendation(rs rows) (*events.Recommendation, error) {
	var state string
	var body []byte
	if err := rs.Scan(&state, &body); err != nil {
		return nil, err
	}
	var r events.Recommendation
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("decoding stored recommendation: %w", err)
	}
	r.State = events.State(state)
	return &r, nil
}

// Recommendation implements Store.
func (s *sqlStore) Recommendation(ctx context.Context, id string) (*events.Recommendation, error) {
	rs, err := s.query(ctx, s.db, "SELECT state, body FROM recommendations WHERE id = ?", id)
	if err != nil {
		return nil, fmt.Errorf("%s: reading recommendation %s: %w", s.d.name, id, err)
	}
	defer rs.Close()
	if !rs.Next() {
		if err := rs.Err(); err != nil {
			return nil, fmt.Errorf("%s: reading recommendation %s: %w", s.d.name, id, err)
		}
		return nil, fmt.Errorf("recommendation %s: %w", id, ErrNotFound)
	}
	r, err := scanRecommendation(rs)
	if err != nil {
		return nil, fmt.Errorf("%s: reading recommendation %s: %w", s.d.name, id, err)
	}
	return r, nil
}

// ackMatches reports whether the ack's digest is the digest of the stored
// recommendation it names. An unknown recommendation matches nothing.
func (s *sqlStore) ackMatches(ctx context.Context, tx execer, a *events.Ack) (bool, error) {
	rs, err := s.query(ctx, tx, "SELECT state, body FROM recommendations WHERE id = ?", a.RecommendationID)
	if err != nil {
		return false, fmt.Errorf("%s: reading recommendation %s for ack %s: %w", s.d.name, a.RecommendationID, a.ID, err)
	}
	defer rs.Close()
	if !rs.Next() {
		return false, rs.Err()
	}
	r, err := scanRecommendation(rs)
	if err != nil {
		return false, fmt.Errorf("%s: reading recommendation %s for ack %s: %w", s.d.name, a.RecommendationID, a.ID, err)
	}
	d, err := r.Digest()
	if err != nil {
		return false, err
	}
	return a.Digest != "" && a.Digest == d, nil
}

// Transition implements Store.
func (s *sqlStore) Transition(ctx context.Context, id string, from, to events.State, by, why string) error {
	if !from.Valid() || !to.Valid() {
		return badInput("transition %q → %q: want states from %v", from, to, events.States)
	}
	if strings.TrimSpace(by) == "" {
		return badInput("transition of recommendation %s: who made it (by) is required", id)
	}
	tx, err := s.db.Begin(ctx)
	if err != nil {
		return fmt.Errorf("%s: starting transition of %s: %w", s.d.name, id, err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	now := time.Now().UTC()
	n, err := s.exec(ctx, tx, "UPDATE recommendations SET state = ?, updated_at = ? WHERE id = ? AND state = ?", string(to), s.d.timeV(now), id, string(from))
	if err != nil {
		return fmt.Errorf("%s: moving recommendation %s %s→%s: %w", s.d.name, id, from, to, err)
	}
	if n == 0 {
		rs, err := s.query(ctx, tx, "SELECT state FROM recommendations WHERE id = ?", id)
		if err != nil {
			return fmt.Errorf("%s: reading recommendation %s: %w", s.d.name, id, err)
		}
		defer rs.Close()
		if !rs.Next() {
			return fmt.Errorf("recommendation %s: %w", id, ErrNotFound)
		}
		var cur string
		_ = rs.Scan(&cur)
		return fmt.Errorf("recommendation %s is %s, not %s: %w", id, cur, from, ErrConflict)
	}
	if err := s.recordTransition(ctx, tx, id, from, to, by, why, now); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("%s: committing transition of %s: %w", s.d.name, id, err)
	}
	return nil
}

// Transitions implements Store.
func (s *sqlStore) Transitions(ctx context.Context, id string) ([]Transition, error) {
	rs, err := s.query(ctx, s.db, "SELECT from_state, to_state, by_whom, why, "+s.d.tsExpr("at")+
		" FROM recommendation_transitions WHERE recommendation_id = ? ORDER BY seq", id)
	if err != nil {
		return nil, fmt.Errorf("%s: transitions of %s: %w", s.d.name, id, err)
	}
	defer rs.Close()
	var out []Transition
	for rs.Next() {
		t := Transition{RecommendationID: id}
		var from, to string
		var at int64
		if err := rs.Scan(&from, &to, &t.By, &t.Why, &at); err != nil {
			return nil, fmt.Errorf("%s: reading transitions of %s: %w", s.d.name, id, err)
		}
		t.From, t.To, t.At = events.State(from), events.State(to), s.d.toTime(at)
		out = append(out, t)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("%s: transitions of %s: %w", s.d.name, id, err)
	}
	return out, nil
}

// UpdateRecommendation implements Store.
func (s *sqlStore) UpdateRecommendation(ctx context.Context, rec *events.Recommendation) error {
	if err := rec.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrBadInput, err)
	}
	body, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encoding recommendation %s: %w", rec.ID, err)
	}
	n, err := s.exec(ctx, s.db, "UPDATE recommendations SET body = ?, updated_at = ? WHERE id = ?", string(body), s.d.timeV(time.Now().UTC()), rec.ID)
	if err != nil {
		return fmt.Errorf("%s: updating recommendation %s: %w", s.d.name, rec.ID, err)
	}
	if n == 0 {
		return fmt.Errorf("recommendation %s: %w", rec.ID, ErrNotFound)
	}
	return nil
}
