package api

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/intersect-oss/intersect/store"
)

// Audit actions written by the API.
const (
	AuditApproved       = "recommendation.approved"
	AuditRejected       = "recommendation.rejected"
	AuditTokenCreated   = "token.created"
	AuditTokenRevoked   = "token.revoked"
	AuditSession        = "session.created"
	AuditAuthFailure    = "auth.failure"
	AuditAuthSuppressed = "auth.failure.suppressed"
	AuditWeather        = "weather.set"
)

// DefaultAuthFailuresPerMinute is how many failed authentications per
// source address and minute are written to the audit log one by one; the
// rest of that minute is counted and written as one summary entry, so a
// brute-force attempt cannot flood the log.
const DefaultAuthFailuresPerMinute = 10

// audit appends to the audit log. A failure is logged, not answered: the
// action it records has already happened.
func (s *Server) audit(ctx context.Context, actor, action, target, detail string) {
	e := store.AuditEntry{At: time.Now(), Actor: truncate(actor, 200), Action: action, Target: truncate(target, 200), Detail: truncate(detail, 3000)}
	if err := s.store.AppendAudit(context.WithoutCancel(ctx), e); err != nil {
		s.log.Error("writing the audit log failed", "action", action, "actor", e.Actor, "target", e.Target, "err", err)
	}
}

// failureWindow counts one address's failures in one minute.
type failureWindow struct {
	start      time.Time
	logged     int
	suppressed int
}

// failureLimiter rate-limits the audit entries of failed authentications
// per source address.
type failureLimiter struct {
	mu        sync.Mutex
	perMinute int
	windows   map[string]*failureWindow
}

// suppressedSummary is a finished window with failures left unlogged.
type suppressedSummary struct {
	addr  string
	start time.Time
	count int
}

// record counts a failure from addr at now; it reports whether to log it
// individually, and returns the summaries of finished windows.
func (l *failureLimiter) record(addr string, now time.Time) (bool, []suppressedSummary) {
	l.mu.Lock()
	defer l.mu.Unlock()
	sums := l.flushLocked(now)
	w, ok := l.windows[addr]
	if !ok {
		if len(l.windows) >= maxSessions {
			// Under a flood from many addresses, count rather than log.
			return false, sums
		}
		w = &failureWindow{start: now}
		l.windows[addr] = w
	}
	if w.logged < l.perMinute {
		w.logged++
		return true, sums
	}
	w.suppressed++
	return false, sums
}

// flush returns and forgets the windows that have ended.
func (l *failureLimiter) flush(now time.Time) []suppressedSummary {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.flushLocked(now)
}

func (l *failureLimiter) flushLocked(now time.Time) []suppressedSummary {
	var out []suppressedSummary
	for addr, w := range l.windows {
		if now.Sub(w.start) < time.Minute {
			continue
		}
		if w.suppressed > 0 {
			out = append(out, suppressedSummary{addr: addr, start: w.start, count: w.suppressed})
		}
		delete(l.windows, addr)
	}
	return out
}

func (s *Server) writeSummaries(ctx context.Context, sums []suppressedSummary) {
	for _, sm := range sums {
		s.audit(ctx, sm.addr, AuditAuthSuppressed, "",
			fmt.Sprintf("%d more failed authentications from %s in the minute from %s", sm.count, sm.addr, sm.start.UTC().Format(time.RFC3339)))
	}
}

// authFailed records a failed authentication (never the token).
func (s *Server) authFailed(r *http.Request, why string) {
	addr := remoteHost(r)
	logIt, sums := s.failures.record(addr, time.Now())
	s.writeSummaries(r.Context(), sums)
	if logIt {
		s.log.Warn("authentication failed", "from", addr, "path", r.URL.Path, "reason", why)
		s.audit(r.Context(), addr, AuditAuthFailure, r.Method+" "+r.URL.Path, why)
	}
}

// auditEntryAnswer is one audit entry in JSON.
type auditEntryAnswer struct {
	Seq    int64     `json:"seq"`
	At     time.Time `json:"at"`
	Actor  string    `json:"actor"`
	Action string    `json:"action"`
	Target string    `json:"target"`
	Detail string    `json:"detail"`
}

// parseAuditQuery reads the audit log's filters.
func parseAuditQuery(p *params) store.AuditQuery {
	q := store.AuditQuery{From: p.time("from"), To: p.time("to"), Limit: p.int("limit", 1, store.MaxLimit)}
	if a := p.str("action"); a != "" {
		if len(a) > 64 || !auditActionPattern(a) {
			p.fail("action", "%q is not an audit action (e.g. token.created)", truncate(a, 64))
		}
		q.Action = a
	}
	if c := p.str("cursor"); c != "" {
		v, err := strconv.ParseInt(c, 10, 64)
		if err != nil || v <= 0 {
			p.fail("cursor", "not a cursor this API issued (copy next_cursor from the previous page)")
		}
		q.Before = v
	}
	if !q.From.IsZero() && !q.To.IsZero() && !q.To.After(q.From) {
		p.fail("to", "must be after from")
	}
	return q
}

func auditActionPattern(a string) bool {
	for _, c := range a {
		if (c < 'a' || c > 'z') && c != '.' && c != '_' {
			return false
		}
	}
	return true
}

func (s *Server) listAudit(w http.ResponseWriter, r *http.Request) {
	p := &params{v: r.URL.Query()}
	q := parseAuditQuery(p)
	if perr := p.finish(); perr != nil {
		writeError(w, http.StatusBadRequest, perr.Param, perr.Error())
		return
	}
	// Summaries of finished windows first, so the admin sees them now.
	s.writeSummaries(r.Context(), s.failures.flush(time.Now()))
	page, err := s.store.Audit(r.Context(), q)
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	items := make([]auditEntryAnswer, 0, len(page.Items))
	for _, e := range page.Items {
		items = append(items, auditEntryAnswer(e))
	}
	next := ""
	if page.Next > 0 {
		next = strconv.FormatInt(page.Next, 10)
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items, "next_cursor": next})
}
