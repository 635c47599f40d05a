package store

import (
	"context"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
)

// APIToken is an API bearer token as stored: its secret never is, only the
// SHA-256 of it (Hash, lower-case hex), so a copy of the database grants
// nothing.
type APIToken struct {
	ID      string
	Name    string // who holds it; recorded as the actor of what it does
	Role    string // viewer, analyst, engineer or admin (the api package checks)
	Hash    string // hex SHA-256 of the secret
	Created time.Time
	Revoked time.Time // zero while the token is valid
}

// Validate checks what the store needs: an ID, a name, a role and a
// 64-character hex hash.
func (t *APIToken) Validate() error {
	var errs []string
	if strings.TrimSpace(t.ID) == "" || len(t.ID) > 64 {
		errs = append(errs, "id must be 1..64 characters")
	}
	if strings.TrimSpace(t.Name) == "" || len(t.Name) > 128 {
		errs = append(errs, "name must be 1..128 characters")
	}
	if strings.TrimSpace(t.Role) == "" {
		errs = append(errs, "role is required")
	}
	if b, err := hex.DecodeString(t.Hash); err != nil || len(b) != 32 || strings.ToLower(t.Hash) != t.Hash {
		errs = append(errs, "hash must be 64 lower-case hex characters (SHA-256)")
	}
	if t.Created.IsZero() {
		errs = append(errs, "created is required")
	}
	if len(errs) > 0 {
		return badInput("token %q: %s", t.ID, strings.Join(errs, "; "))
	}
	return nil
}

// AuditEntry is one line of the append-only audit log.
type AuditEntry struct {
	Seq    int64 // assigned by the store, increasing
	At     time.Time
	Actor  string // a token's name, or the source address of a failed login
	Action string // e.g. recommendation.approved, token.created, auth.failure
	Target string // what it was done to (a recommendation or token ID, a site)
	Detail string
}

// AuditQuery selects audit entries, newest first. From is inclusive, To
// exclusive; Before (a Seq, the previous page's AuditPage.Next) pages back.
type AuditQuery struct {
	From, To time.Time
	Action   string
	Before   int64
	Limit    int // default DefaultLimit, at most MaxLimit
}

// AuditPage is one page of the audit log, newest first.
type AuditPage struct {
	Items []AuditEntry
	// Next is the Before of the following page, 0 on the last page.
	Next int64
}

// Limits on audit text, so one entry cannot fill the database.
const (
	maxAuditField  = 256
	maxAuditDetail = 4000
)

// CreateToken implements Store.
func (s *sqlStore) CreateToken(ctx context.Context, t APIToken) error {
	if err := t.Validate(); err != nil {
		return err
	}
	n, err := s.exec(ctx, s.db, `INSERT INTO api_tokens (id, name, role, hash, created) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT DO NOTHING`, t.ID, t.Name, t.Role, t.Hash, s.d.timeV(t.Created.UTC()))
	if err != nil {
		return fmt.Errorf("%s: storing token %s: %w", s.d.name, t.ID, err)
	}
	if n == 0 {
		return fmt.Errorf("token %s: its ID or hash is already stored: %w", t.ID, ErrConflict)
	}
	return nil
}

const tokenCols = "id, name, role, hash, "

func (s *sqlStore) tokenSelect() string {
	return "SELECT " + tokenCols + s.d.tsExpr("created") + ", COALESCE(" + s.d.tsExpr("revoked") + ", 0) FROM api_tokens"
}

func (s *sqlStore) scanTokens(rs rows) ([]APIToken, error) {
	var out []APIToken
	for rs.Next() {
		var t APIToken
		var created, revoked int64
		if err := rs.Scan(&t.ID, &t.Name, &t.Role, &t.Hash, &created, &revoked); err != nil {
			return nil, err
		}
		t.Created = s.d.toTime(created)
		if revoked != 0 {
			t.Revoked = s.d.toTime(revoked)
		}
		out = append(out, t)
	}
	return out, rs.Err()
}

// TokenByHash implements Store.
func (s *sqlStore) TokenByHash(ctx context.Context, hash string) (*APIToken, error) {
	rs, err := s.query(ctx, s.db, s.tokenSelect()+" WHERE hash = ? AND revoked IS NULL", hash)
	if err != nil {
		return nil, fmt.Errorf("%s: looking up a token: %w", s.d.name, err)
	}
	defer rs.Close()
	ts, err := s.scanTokens(rs)
	if err != nil {
		return nil, fmt.Errorf("%s: looking up a token: %w", s.d.name, err)
	}
	if len(ts) == 0 {
		return nil, fmt.Errorf("token: %w", ErrNotFound)
	}
	return &ts[0], nil
}

// Tokens implements Store.
func (s *sqlStore) Tokens(ctx context.Context) ([]APIToken, error) {
	rs, err := s.query(ctx, s.db, s.tokenSelect()+" ORDER BY created, id")
	if err != nil {
		return nil, fmt.Errorf("%s: listing tokens: %w", s.d.name, err)
	}
	defer rs.Close()
	ts, err := s.scanTokens(rs)
	if err != nil {
		return nil, fmt.Errorf("%s: listing tokens: %w", s.d.name, err)
	}
	return ts, nil
}

// RevokeToken implements Store.
func (s *sqlStore) RevokeToken(ctx context.Context, id string, at time.Time) error {
	n, err := s.exec(ctx, s.db, "UPDATE api_tokens SET revoked = ? WHERE id = ? AND revoked IS NULL", s.d.timeV(at.UTC()), id)
	if err != nil {
		return fmt.Errorf("%s: revoking token %s: %w", s.d.name, id, err)
	}
	if n > 0 {
		return nil
	}
	ts, err := s.Tokens(ctx)
	if err != nil {
		return err
	}
	for _, t := range ts {
		if t.ID == id {
			return fmt.Errorf("token %s was already revoked at %s: %w", id, t.Revoked.Format(time.RFC3339), ErrConflict)
		}
	}
	return fmt.Errorf("token %s: %w", id, ErrNotFound)
}

// AppendAudit implements Store.
func (s *sqlStore) AppendAudit(ctx context.Context, e AuditEntry) error {
	switch {
	case strings.TrimSpace(e.Actor) == "" || strings.TrimSpace(e.Action) == "":
		return badInput("audit entry: actor and action are required")
	case len(e.Actor) > maxAuditField || len(e.Action) > maxAuditField || len(e.Target) > maxAuditField:
		return badInput("audit entry: actor, action and target are at most %d bytes", maxAuditField)
	case len(e.Detail) > maxAuditDetail:
		return badInput("audit entry: detail is at most %d bytes", maxAuditDetail)
	}
	if e.At.IsZero() {
		e.At = time.Now()
	}
	_, err := s.exec(ctx, s.db, "INSERT INTO audit_log (at, actor, action, target, detail) VALUES (?, ?, ?, ?, ?)",
		s.d.timeV(e.At.UTC()), e.Actor, e.Action, e.Target, e.Detail)
	if err != nil {
		return fmt.Errorf("%s: appending to the audit log (%s by %s): %w", s.d.name, e.Action, e.Actor, err)
	}
	return nil
}

// Audit implements Store.
func (s *sqlStore) Audit(ctx context.Context, q AuditQuery) (AuditPage, error) {
	n, err := limit(q.Limit)
	if err != nil {
		return AuditPage{}, err
	}
	if !q.From.IsZero() && !q.To.IsZero() && !q.To.After(q.From) {
		return AuditPage{}, badInput("audit: to %s is not after from %s", q.To.Format(time.RFC3339), q.From.Format(time.RFC3339))
	}
	if q.Before < 0 {
		return AuditPage{}, badInput("audit: cursor %d is negative", q.Before)
	}
	b := s.builder()
	if !q.From.IsZero() {
		b.cond("at >= %s", s.d.timeV(q.From.UTC()))
	}
	if !q.To.IsZero() {
		b.cond("at < %s", s.d.timeV(q.To.UTC()))
	}
	if q.Action != "" {
		b.cond("action = %s", q.Action)
	}
	if q.Before > 0 {
		b.cond("seq < %s", q.Before)
	}
	// One more row than asked tells whether there is a next page.
	rs, err := s.query(ctx, s.db, "SELECT seq, "+s.d.tsExpr("at")+", actor, action, target, detail FROM audit_log"+
		b.clause()+" ORDER BY seq DESC LIMIT "+b.arg(n+1), b.args...)
	if err != nil {
		return AuditPage{}, fmt.Errorf("%s: reading the audit log: %w", s.d.name, err)
	}
	defer rs.Close()
	var p AuditPage
	for rs.Next() {
		var e AuditEntry
		var at int64
		if err := rs.Scan(&e.Seq, &at, &e.Actor, &e.Action, &e.Target, &e.Detail); err != nil {
			return AuditPage{}, fmt.Errorf("%s: reading the audit log: %w", s.d.name, err)
		}
		e.At = s.d.toTime(at)
		p.Items = append(p.Items, e)
	}
	if err := rs.Err(); err != nil {
		return AuditPage{}, fmt.Errorf("%s: reading the audit log: %w", s.d.name, err)
	}
	if len(p.Items) > n {
		p.Items = p.Items[:n]
		p.Next = p.Items[n-1].Seq
	}
	return p, nil
}
