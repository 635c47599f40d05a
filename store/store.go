// Package store keeps everything intersect has seen (near misses, track
// summaries, camera health, weather, signal recommendations and their acks,
// and dead letters) and the API's tokens and audit log behind one small
// interface with two backends: an embedded SQLite file (the default, for one box) and PostgreSQL (for a city).
// Both apply the plain SQL migrations embedded under migrations/ when opened,
// both are idempotent on event ID, and both pass the same contract suite in
// store/storetest. Aggregations (heatmaps by S2 cell, stats by time bin) run
// in the database, never by loading rows into Go.
package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/intersect-oss/intersect/events"
)

// Errors callers branch on. Wrapped errors keep these in their chain.
var (
	// ErrBadInput marks an error caused by the caller's input (an unknown
	// DSN form, an unwritable data dir, an invalid filter or event) rather
	// than by the database: CLIs exit 2 on it, APIs answer 400.
	ErrBadInput = errors.New("bad input")
	// ErrNotFound is returned when a requested record does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict is returned by Transition when the recommendation is not in
	// the expected state (someone else moved it first).
	ErrConflict = errors.New("state conflict")
	// ErrSchemaTooNew is returned by Open when the database was migrated by a
	// newer intersect than this one.
	ErrSchemaTooNew = errors.New("database schema is newer than this binary")
)

// badInput wraps a message so that errors.Is(err, ErrBadInput) holds.
func badInput(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrBadInput, fmt.Sprintf(format, a...))
}

// Store is what the rest of intersect needs from a database. Every method
// takes a context and is safe for concurrent use.
type Store interface {
	// Write stores a batch in one transaction. Events whose ID is already
	// stored (or repeated in the batch) are skipped and counted as
	// duplicates, so a redelivered batch is harmless.
	Write(ctx context.Context, b Batch) (WriteResult, error)

	// NearMisses returns one page of near misses, newest first.
	NearMisses(ctx context.Context, q NearMissQuery) (NearMissPage, error)
	// NearMiss returns one near miss by ID, or ErrNotFound.
	NearMiss(ctx context.Context, id string) (*events.NearMiss, error)
	// ExportNearMisses calls fn for every near miss matching q (ignoring
	// Limit and Cursor), newest first, streaming from the database. An error
	// from fn stops the export and is returned.
	ExportNearMisses(ctx context.Context, q NearMissQuery, fn func(*events.NearMiss) error) error
	// Heatmap counts near misses per S2 cell at q.Level.
	Heatmap(ctx context.Context, q HeatmapQuery) ([]HeatCell, error)
	// Stats counts near misses per group, with exposure.
	Stats(ctx context.Context, q StatsQuery) (StatsResult, error)

	// TrackSummaries lists track summaries, newest first.
	TrackSummaries(ctx context.Context, q TrackQuery) ([]events.TrackSummary, error)
	// Exposure counts tracks at a site in [from, to) by class, approach and
	// movement.
	Exposure(ctx context.Context, site string, from, to time.Time) ([]ExposureCount, error)
	// LatestHealth returns the latest health report of every camera.
	LatestHealth(ctx context.Context) ([]events.CameraHealth, error)
	// LatestWeather returns the latest observation at site, or ErrNotFound.
	LatestWeather(ctx context.Context, site string) (*events.WeatherObservation, error)
	// Sites lists the sites and cameras seen, with counts.
	Sites(ctx context.Context) ([]Site, error)
	// DeadLetters returns the most recent dead letters, newest first.
	DeadLetters(ctx context.Context, limit int) ([]DeadLetter, error)

	// Recommendations lists recommendations, newest first.
	Recommendations(ctx context.Context, q RecommendationQuery) ([]events.Recommendation, error)
	// Recommendation returns one recommendation (its State is the stored
	// state), or ErrNotFound.
	Recommendation(ctx context.Context, id string) (*events.Recommendation, error)
	// Transition moves a recommendation from one state to another if and
	// only if it is currently in from (ErrConflict otherwise), recording
	// who did it and why.
	Transition(ctx context.Context, id string, from, to events.State, by, why string) error
	// Transitions returns a recommendation's state history, oldest first.
	Transitions(ctx context.Context, id string) ([]Transition, error)
	// UpdateRecommendation replaces the stored body of a recommendation (a
	// re-signed or approved copy) keeping its ID; the state is changed only
	// by Transition. ErrNotFound if it was never stored.
	UpdateRecommendation(ctx context.Context, rec *events.Recommendation) error

	// CreateToken stores an API token (its hash, never its secret);
	// ErrConflict if its ID or hash is already stored.
	CreateToken(ctx context.Context, t APIToken) error
	// TokenByHash returns the unrevoked token whose secret hashes to hash
	// (hex SHA-256), or ErrNotFound.
	TokenByHash(ctx context.Context, hash string) (*APIToken, error)
	// Tokens lists every token, revoked ones included, oldest first.
	Tokens(ctx context.Context) ([]APIToken, error)
	// RevokeToken marks a token revoked at at: ErrNotFound if unknown,
	// ErrConflict if already revoked.
	RevokeToken(ctx context.Context, id string, at time.Time) error
	// AppendAudit adds an entry to the append-only audit log. There is no
	// way to change or remove one.
	AppendAudit(ctx context.Context, e AuditEntry) error
	// Audit returns a page of the audit log, newest first.
	Audit(ctx context.Context, q AuditQuery) (AuditPage, error)

	Close() error
}

// Batch is what Write stores in one transaction.
type Batch struct {
	Events []events.Event
	// Raw optionally holds, for Events[i], the JSON it was decoded from
	// (Raw[i]); the store keeps it verbatim as the row's body instead of
	// encoding the event again, which ingest profiles showed as a cost
	// worth avoiding. Leave an entry nil when there are no such bytes or
	// when the event was changed after decoding (e.g. weather stamped on a
	// near miss): the store then encodes the event. Raw may be shorter
	// than Events (missing entries count as nil), never longer. Bytes that
	// are not valid UTF-8 are ignored, since PostgreSQL would refuse them.
	Raw  [][]byte
	Dead []DeadLetter
}

// WriteResult says what a Write did.
type WriteResult struct {
	Inserted    int // events newly stored
	Duplicates  int // events skipped because their ID was already stored or repeated
	Dead        int // dead letters newly stored
	Transitions int // recommendation state changes caused by acks
}

// DeadLetter is a message that could not be used, kept with the reason.
type DeadLetter struct {
	// Key identifies the message for idempotence (e.g. the JetStream
	// Nats-Msg-Id or stream sequence). When empty, a hash of subject and
	// data is used, so a redelivered bad message is stored once.
	Key     string    `json:"key"`
	Subject string    `json:"subject"`
	Data    []byte    `json:"data"`
	Reason  string    `json:"reason"`
	At      time.Time `json:"at"`
}

// Filter is the set of near-miss filters shared by queries, heatmaps and
// stats. Zero values mean "any". From is inclusive, To exclusive.
type Filter struct {
	Site       string
	Camera     string
	From, To   time.Time
	Types      []events.ConflictType
	Severities []events.Severity
	Class      events.Class // either side of the encounter
	Weather    string
	MaxTTCS    *float64 // min_ttc_s ≤ this (events without TTC excluded)
	MaxPETS    *float64 // pet_s ≤ this (events without PET excluded)
	Zone       string
	Approach   string
}

// Validate reports a filter the store cannot run, as ErrBadInput.
func (f *Filter) Validate() error {
	var errs []string
	for _, t := range f.Types {
		if !t.Valid() {
			errs = append(errs, fmt.Sprintf("unknown type %q", t))
		}
	}
	for _, s := range f.Severities {
		if !s.Valid() {
			errs = append(errs, fmt.Sprintf("unknown severity %q", s))
		}
	}
	if f.Class != "" && !f.Class.Valid() {
		errs = append(errs, fmt.Sprintf("unknown class %q", f.Class))
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.To.After(f.From) {
		errs = append(errs, fmt.Sprintf("to %s is not after from %s", f.To.Format(time.RFC3339), f.From.Format(time.RFC3339)))
	}
	for name, v := range map[string]*float64{"max TTC": f.MaxTTCS, "max PET": f.MaxPETS} {
		if v != nil && (*v != *v || *v < 0) {
			errs = append(errs, fmt.Sprintf("%s %v must be a non-negative number", name, *v))
		}
	}
	if len(errs) > 0 {
		return badInput("filter: %s", strings.Join(errs, "; "))
	}
	return nil
}

// Query limits.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// NearMissQuery selects a page of near misses.
type NearMissQuery struct {
	Filter
	Limit  int    // default DefaultLimit, at most MaxLimit
	Cursor string // NearMissPage.Next of the previous page; empty for the first
}

// NearMissPage is one page of near misses, newest first.
type NearMissPage struct {
	Items []events.NearMiss
	// Next is the cursor of the following page, empty on the last page.
	Next string
}

// HeatmapQuery selects near misses and the S2 level to aggregate them at.
type HeatmapQuery struct {
	Filter
	Level int // S2 level 0..30
}

// HeatCell is the aggregate of the near misses inside one S2 cell.
type HeatCell struct {
	Cell  uint64 // s2.CellID
	Token string // s2.CellID.ToToken()
	Level int
	Count int64
	// Score is the severity-weighted count (events.Severity.Weight).
	Score    float64
	Critical int64
	Serious  int64
	Minor    int64
}

// Stats groupings.
const (
	ByBin5     = "bin5"
	ByBin15    = "bin15"
	ByBin30    = "bin30"
	ByBin60    = "bin60"
	ByHour     = "hour"
	ByWeekday  = "weekday"
	ByWeather  = "weather"
	ByType     = "type"
	ByApproach = "approach"
	BySeverity = "severity"
)

// StatsGroupings lists every valid StatsQuery.By.
var StatsGroupings = []string{ByBin5, ByBin15, ByBin30, ByBin60, ByHour, ByWeekday, ByWeather, ByType, ByApproach, BySeverity}

// StatsQuery counts near misses matching the filter per group.
type StatsQuery struct {
	Filter
	By string
	// TZ is the time zone for bins, hours and weekdays (default UTC).
	TZ *time.Location
}

// StatsGroup is one group of a Stats answer.
type StatsGroup struct {
	// Key is the group: the bin start (RFC 3339 in the query's zone), the
	// hour "0".."23", the weekday "0" (Sunday).."6", or the column's value
	// ("" when unknown).
	Key   string
	Start time.Time // bin start, for bin groupings
	Count int64
	Score float64 // severity-weighted count
	// Exposure within the group: tracks seen, for time groupings (bins,
	// hours, weekdays); zero for the others, whose exposure is the total.
	Pedestrians int64
	Vehicles    int64
}

// StatsResult is the answer to a StatsQuery.
type StatsResult struct {
	By     string
	Groups []StatsGroup
	// Exposure over the whole filter window (site, camera, from, to).
	Pedestrians int64
	Vehicles    int64
	Cyclists    int64
}

// TrackQuery selects track summaries.
type TrackQuery struct {
	Site, Camera string
	From, To     time.Time
	Class        events.Class
	Limit        int // default DefaultLimit, at most MaxLimit
}

// ExposureCount is how many tracks of a class passed on one movement.
type ExposureCount struct {
	Class    events.Class
	Approach string
	Movement string
	Tracks   int64
}

// Site is a site and its cameras, as seen in the events.
type Site struct {
	Site       string
	NearMisses int64
	Tracks     int64
	LastSeen   time.Time
	Cameras    []Camera
}

// Camera is one camera of a site, as seen in the events.
type Camera struct {
	Camera     string
	NearMisses int64
	Tracks     int64
	LastSeen   time.Time
}

// RecommendationQuery selects recommendations.
type RecommendationQuery struct {
	Site       string
	Controller string
	States     []events.State
	Limit      int // default DefaultLimit, at most MaxLimit
}

// Transition is one state change of a recommendation.
type Transition struct {
	RecommendationID string
	From, To         events.State // From is "" when the recommendation was stored
	By, Why          string
	At               time.Time
}

// limit applies the default and the cap.
func limit(n int) (int, error) {
	switch {
	case n == 0:
		return DefaultLimit, nil
	case n < 0 || n > MaxLimit:
		return 0, badInput("limit %d out of range 1..%d", n, MaxLimit)
	}
	return n, nil
}

// Open opens the store named by dsn: "" for the SQLite file
// <dataDir>/intersect.db, postgres:// or postgresql:// for PostgreSQL. It
// applies pending migrations before returning.
func Open(ctx context.Context, dsn, dataDir string, log *slog.Logger) (Store, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	switch {
	case dsn == "":
		return openSQLite(ctx, dataDir, log)
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		return openPostgres(ctx, dsn, log)
	}
	return nil, badInput("database DSN %q: want empty (SQLite under the data dir) or postgres://… / postgresql://…", redactDSN(dsn))
}
