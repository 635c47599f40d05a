package api

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/intersect-oss/intersect/store"
)

// Authentication. Every route but /healthz, the OpenAPI document, the
// dashboard's assets and the login itself needs a token, sent as
// "Authorization: Bearer <token>" or, for browsers, through a session
// cookie obtained from POST /api/v1/session (browsers cannot set headers on
// websockets, and a cookie keeps the token out of JavaScript's reach after
// login).
//
// The session cookie holds an opaque random session ID, not the token: a
// stolen cookie is worth at most SessionTTL on this server, logging out
// really ends it, and the token itself is never written into the browser's
// cookie jar. The price is that sessions live in memory: after a restart
// the dashboard asks for the token again.

// Principal is who a request acts as.
type Principal struct {
	TokenID string
	Name    string
	Role    Role
}

type principalKey struct{}

func principalOf(ctx context.Context) Principal {
	p, _ := ctx.Value(principalKey{}).(Principal)
	return p
}

// SessionCookie is the name of the dashboard's session cookie.
const SessionCookie = "intersect_session"

// SessionTTL is how long a browser session lasts.
const SessionTTL = 12 * time.Hour

// maxSessions bounds the in-memory session table.
const maxSessions = 10000

type session struct {
	tokenID   string
	tokenHash string
	expires   time.Time
}

// authError is why a request could not be authenticated; its text is
// safe to show (it never contains the token).
type authError struct{ msg string }

func (e *authError) Error() string { return e.msg }

// guard wraps a route's handler with its role check.
func (s *Server) guard(rt route) http.HandlerFunc {
	if rt.Role == rolePublic {
		return rt.handler
	}
	return func(w http.ResponseWriter, r *http.Request) {
		p, viaCookie, err := s.authenticate(r)
		if err != nil {
			var ae *authError
			if !errors.As(err, &ae) {
				s.log.Error("authenticating a request failed", "path", r.URL.Path, "err", err)
				writeError(w, http.StatusInternalServerError, "", "internal error; see the server log")
				return
			}
			s.authFailed(r, ae.msg)
			w.Header().Set("WWW-Authenticate", `Bearer realm="intersect"`)
			writeError(w, http.StatusUnauthorized, "Authorization", ae.msg)
			return
		}
		if p.Role < rt.Role {
			writeError(w, http.StatusForbidden, "", "token "+p.Name+" has role "+p.Role.String()+"; "+r.Method+" "+rt.Pattern+" needs "+rt.Role.String())
			return
		}
		// A cookie rides along with any request the browser makes, so a
		// cookie-authenticated change must come from an allowed origin.
		if viaCookie && r.Method != http.MethodGet && !s.originAllowed(r) {
			writeError(w, http.StatusForbidden, "Origin", "requests from origin "+truncate(r.Header.Get("Origin"), 100)+" are not allowed")
			return
		}
		if rt.Expensive && !s.allowRate(w, p) {
			return
		}
		rt.handler(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, p)))
	}
}

// authenticate finds who r acts as: a bearer token, else a session cookie,
// else (only when the server runs insecure) an anonymous admin.
func (s *Server) authenticate(r *http.Request) (Principal, bool, error) {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, tok, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
			return Principal{}, false, &authError{"the Authorization header must be \"Bearer <token>\""}
		}
		p, err := s.tokenPrincipal(r.Context(), HashToken(strings.TrimSpace(tok)), len(strings.TrimSpace(tok)))
		return p, false, err
	}
	if c, err := r.Cookie(SessionCookie); err == nil && c.Value != "" {
		sess, ok := s.session(c.Value)
		if !ok {
			return Principal{}, true, &authError{"session expired or unknown; log in again with your token"}
		}
		p, err := s.tokenPrincipal(r.Context(), sess.tokenHash, tokenBytes)
		return p, true, err
	}
	if s.insecure {
		return Principal{Name: "anonymous", Role: RoleAdmin}, false, nil
	}
	return Principal{}, false, &authError{"authentication required: send \"Authorization: Bearer <token>\" or log in on the dashboard"}
}

// tokenPrincipal looks up a token by the hash of its secret. The lookup key
// is a SHA-256, so the time the database takes to find it tells an attacker
// nothing about the secret; the stored hash is still compared in constant
// time before it is trusted.
func (s *Server) tokenPrincipal(ctx context.Context, hash string, secretLen int) (Principal, error) {
	if secretLen > maxTokenLen {
		return Principal{}, &authError{"invalid or revoked token"}
	}
	t, err := s.store.TokenByHash(ctx, hash)
	if errors.Is(err, store.ErrNotFound) {
		return Principal{}, &authError{"invalid or revoked token"}
	}
	if err != nil {
		return Principal{}, err
	}
	if subtle.ConstantTimeCompare([]byte(t.Hash), []byte(hash)) != 1 || !t.Revoked.IsZero() {
		return Principal{}, &authError{"invalid or revoked token"}
	}
	role, err := ParseRole(t.Role)
	if err != nil {
		return Principal{}, &authError{"token " + t.ID + " has an unknown role; ask an admin to reissue it"}
	}
	return Principal{TokenID: t.ID, Name: t.Name, Role: role}, nil
}

// sessionKey is how a session ID is kept in memory: hashed, so a memory
// dump of the table does not hand out live sessions either.
func sessionKey(id string) [32]byte { return sha256.Sum256([]byte(id)) }

func (s *Server) session(id string) (session, bool) {
	if len(id) > maxTokenLen {
		return session{}, false
	}
	s.sessMu.Lock()
	defer s.sessMu.Unlock()
	k := sessionKey(id)
	sess, ok := s.sessions[k]
	if ok && time.Now().After(sess.expires) {
		delete(s.sessions, k)
		return session{}, false
	}
	return sess, ok
}

func (s *Server) newSession(t *store.APIToken) (string, time.Time, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", time.Time{}, err
	}
	id := base64.RawURLEncoding.EncodeToString(b)
	now := time.Now()
	s.sessMu.Lock()
	defer s.sessMu.Unlock()
	if len(s.sessions) >= maxSessions {
		for k, v := range s.sessions {
			if now.After(v.expires) {
				delete(s.sessions, k)
			}
		}
		if len(s.sessions) >= maxSessions {
			return "", time.Time{}, errors.New("too many open sessions")
		}
	}
	exp := now.Add(SessionTTL)
	s.sessions[sessionKey(id)] = session{tokenID: t.ID, tokenHash: t.Hash, expires: exp}
	return id, exp, nil
}

// dropSessionsOf ends the sessions opened with a (revoked) token.
func (s *Server) dropSessionsOf(tokenID string) {
	s.sessMu.Lock()
	defer s.sessMu.Unlock()
	for k, v := range s.sessions {
		if v.tokenID == tokenID {
			delete(s.sessions, k)
		}
	}
}

// loginBody is the body of POST /api/v1/session.
type loginBody struct {
	Token string `json:"token"`
}

// sessionAnswer says who a session is.
type sessionAnswer struct {
	Name    string     `json:"name"`
	Role    string     `json:"role"`
	Expires *time.Time `json:"expires,omitempty"`
}

// login exchanges a token for a session cookie.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	var b loginBody
	if !s.readBody(w, r, &b, `{"token": "..."}`) {
		return
	}
	tok := strings.TrimSpace(b.Token)
	if tok == "" {
		writeError(w, http.StatusBadRequest, "token", "token is required")
		return
	}
	hash := HashToken(tok)
	p, err := s.tokenPrincipal(r.Context(), hash, len(tok))
	var ae *authError
	if errors.As(err, &ae) {
		s.authFailed(r, "login: "+ae.msg)
		writeError(w, http.StatusUnauthorized, "token", ae.msg)
		return
	}
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	id, exp, err := s.newSession(&store.APIToken{ID: p.TokenID, Hash: hash})
	if err != nil {
		s.log.Error("opening a session failed", "err", err)
		writeError(w, http.StatusServiceUnavailable, "", "cannot open a session now; try again later")
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: SessionCookie, Value: id, Path: "/", Expires: exp, MaxAge: int(SessionTTL / time.Second),
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: s.secureCookies || r.TLS != nil,
	})
	s.audit(r.Context(), p.Name, AuditSession, p.TokenID, "from "+remoteHost(r))
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, sessionAnswer{Name: p.Name, Role: p.Role.String(), Expires: &exp})
}

// whoami says who the request acts as (the dashboard shows it and hides
// the buttons the role may not use).
func (s *Server) whoami(w http.ResponseWriter, r *http.Request) {
	p := principalOf(r.Context())
	writeJSON(w, http.StatusOK, sessionAnswer{Name: p.Name, Role: p.Role.String()})
}

// logout ends the browser's session.
func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	if !s.originAllowed(r) {
		writeError(w, http.StatusForbidden, "Origin", "requests from origin "+truncate(r.Header.Get("Origin"), 100)+" are not allowed")
		return
	}
	if c, err := r.Cookie(SessionCookie); err == nil && len(c.Value) <= maxTokenLen {
		s.sessMu.Lock()
		delete(s.sessions, sessionKey(c.Value))
		s.sessMu.Unlock()
	}
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: s.secureCookies || r.TLS != nil})
	w.WriteHeader(http.StatusNoContent)
}

// Rate limits on expensive routes (exports, heatmap, stats), per token:
// one engineer's script cannot starve the dashboard of everyone else.
const (
	DefaultRate  = rate.Limit(5) // requests per second, sustained
	DefaultBurst = 20
)

func (s *Server) allowRate(w http.ResponseWriter, p Principal) bool {
	key := p.TokenID
	if key == "" {
		key = "anonymous"
	}
	s.rateMu.Lock()
	lim, ok := s.limiters[key]
	if !ok {
		lim = rate.NewLimiter(s.rate, s.burst)
		s.limiters[key] = lim
	}
	s.rateMu.Unlock()
	res := lim.Reserve()
	if res.OK() && res.Delay() == 0 {
		return true
	}
	wait := res.Delay()
	res.Cancel()
	if !res.OK() || wait <= 0 {
		wait = time.Second
	}
	w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
	writeError(w, http.StatusTooManyRequests, "", "rate limit of "+strconv.FormatFloat(float64(s.rate), 'g', 3, 64)+
		" requests/s (burst "+strconv.Itoa(s.burst)+") on exports, heatmap and stats exceeded for token "+p.Name+"; retry later")
	return false
}

// remoteHost is the request's source address without the port. Proxies'
// X-Forwarded-For is not trusted: anyone can write it.
func remoteHost(r *http.Request) string {
	if h, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return h
	}
	return r.RemoteAddr
}

// sessionState is the Server's session and rate-limit state.
type sessionState struct {
	sessMu   sync.Mutex
	sessions map[[32]byte]session
	rateMu   sync.Mutex
	limiters map[string]*rate.Limiter
	rate     rate.Limit
	burst    int
}
