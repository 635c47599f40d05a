package api

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/intersect-oss/intersect/events"
	"github.com/intersect-oss/intersect/store"
)

// Role is what an API token may do. Each role includes the ones below it:
// viewers read, analysts also export, engineers also decide on
// recommendations and set the weather, admins also manage tokens and read
// the audit log.
type Role int

// Roles, lowest first. rolePublic marks routes that need no token.
const (
	rolePublic Role = iota
	RoleViewer
	RoleAnalyst
	RoleEngineer
	RoleAdmin
)

var roleNames = map[Role]string{RoleViewer: "viewer", RoleAnalyst: "analyst", RoleEngineer: "engineer", RoleAdmin: "admin"}

func (r Role) String() string {
	if n, ok := roleNames[r]; ok {
		return n
	}
	return "public"
}

// ParseRole reads a role name (viewer, analyst, engineer, admin).
func ParseRole(s string) (Role, error) {
	for r, n := range roleNames {
		if n == s {
			return r, nil
		}
	}
	return rolePublic, fmt.Errorf("unknown role %q (want viewer, analyst, engineer or admin)", s)
}

// tokenBytes is the entropy of a token: 256 bits, so its SHA-256 needs no
// salt or slow hash (nobody can guess or brute-force the preimage).
const tokenBytes = 32

// maxTokenLen bounds what is hashed: a real token is 43 characters.
const maxTokenLen = 128

// NewToken returns a fresh random token (base64url, 43 characters) and its
// hash, the only form ever stored.
func NewToken() (secret, hash string, err error) {
	b := make([]byte, tokenBytes)
	if _, err := rand.Read(b); err != nil {
		return "", "", fmt.Errorf("generating a token: %w", err)
	}
	secret = base64.RawURLEncoding.EncodeToString(b)
	return secret, HashToken(secret), nil
}

// HashToken is the stored form of a token: hex SHA-256.
func HashToken(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}

// IssueToken creates and stores a token for name with role and returns its
// secret, which is shown once and never stored.
func IssueToken(ctx context.Context, st store.Store, name string, role Role) (string, store.APIToken, error) {
	if _, ok := roleNames[role]; !ok {
		return "", store.APIToken{}, fmt.Errorf("issuing a token for %q: no such role", name)
	}
	secret, hash, err := NewToken()
	if err != nil {
		return "", store.APIToken{}, err
	}
	t := store.APIToken{ID: events.NewID(), Name: name, Role: role.String(), Hash: hash, Created: time.Now().UTC().Truncate(time.Microsecond)}
	if err := st.CreateToken(ctx, t); err != nil {
		return "", store.APIToken{}, fmt.Errorf("storing the token for %q: %w", name, err)
	}
	return secret, t, nil
}

// HasAdmin reports whether the store holds a valid admin token: the API
// refuses to start without one unless told it runs insecure.
func HasAdmin(ctx context.Context, st store.Store) (bool, error) {
	ts, err := st.Tokens(ctx)
	if err != nil {
		return false, err
	}
	for _, t := range ts {
		if t.Role == RoleAdmin.String() && t.Revoked.IsZero() {
			return true, nil
		}
	}
	return false, nil
}

// tokenFileEntry is one token of a token file (written by `intersect
// init`): the hash only.
type tokenFileEntry struct {
	ID      string    `json:"id"`
	Name    string    `json:"name"`
	Role    string    `json:"role"`
	SHA256  string    `json:"sha256"`
	Created time.Time `json:"created"`
}

// WriteTokenFile writes tokens (their hashes, never secrets) to path, mode
// 0600, refusing to replace an existing file.
func WriteTokenFile(path string, tokens []store.APIToken) error {
	out := make([]tokenFileEntry, 0, len(tokens))
	for _, t := range tokens {
		out = append(out, tokenFileEntry{ID: t.ID, Name: t.Name, Role: t.Role, SHA256: t.Hash, Created: t.Created})
	}
	b, _ := json.MarshalIndent(out, "", "  ")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("writing token file: %w", err)
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return f.Close()
}

// SeedTokenFile stores the tokens of a token file that the store does not
// hold yet, and returns how many it added. Tokens already there (by ID or
// hash) are left alone, so a token revoked through the API stays revoked
// across restarts.
func SeedTokenFile(ctx context.Context, st store.Store, path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("reading token file: %w", err)
	}
	var entries []tokenFileEntry
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&entries); err != nil {
		return 0, fmt.Errorf("token file %s: %w", path, err)
	}
	added := 0
	for i, e := range entries {
		if _, err := ParseRole(e.Role); err != nil {
			return added, fmt.Errorf("token file %s: entry %d (%s): %w", path, i+1, e.ID, err)
		}
		err := st.CreateToken(ctx, store.APIToken{ID: e.ID, Name: e.Name, Role: e.Role, Hash: e.SHA256, Created: e.Created})
		switch {
		case err == nil:
			added++
		case errors.Is(err, store.ErrConflict):
		default:
			return added, fmt.Errorf("token file %s: entry %d: %w", path, i+1, err)
		}
	}
	return added, nil
}

// tokenAnswer is a token as the API shows it: never the hash.
type tokenAnswer struct {
	ID      string     `json:"id"`
	Name    string     `json:"name"`
	Role    string     `json:"role"`
	Created time.Time  `json:"created"`
	Revoked *time.Time `json:"revoked"`
}

func answerToken(t store.APIToken) tokenAnswer {
	a := tokenAnswer{ID: t.ID, Name: t.Name, Role: t.Role, Created: t.Created}
	if !t.Revoked.IsZero() {
		a.Revoked = &t.Revoked
	}
	return a
}

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request) {
	p := &params{v: r.URL.Query()}
	if perr := p.finish(); perr != nil {
		writeError(w, http.StatusBadRequest, perr.Param, perr.Error())
		return
	}
	ts, err := s.store.Tokens(r.Context())
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	items := make([]tokenAnswer, 0, len(ts))
	for _, t := range ts {
		items = append(items, answerToken(t))
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items})
}

// newTokenBody is the body of POST /api/v1/tokens.
type newTokenBody struct {
	Name string `json:"name"`
	Role string `json:"role"`
}

func (s *Server) createToken(w http.ResponseWriter, r *http.Request) {
	var b newTokenBody
	if !s.readBody(w, r, &b, `{"name": "...", "role": "viewer|analyst|engineer|admin"}`) {
		return
	}
	b.Name = strings.TrimSpace(b.Name)
	if err := checkText("name", b.Name, maxByLen, true); err != nil {
		writeError(w, http.StatusBadRequest, "name", err.Error())
		return
	}
	role, err := ParseRole(b.Role)
	if err != nil {
		writeError(w, http.StatusBadRequest, "role", err.Error())
		return
	}
	secret, t, err := IssueToken(r.Context(), s.store, b.Name, role)
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	actor := principalOf(r.Context()).Name
	s.audit(r.Context(), actor, AuditTokenCreated, t.ID, "name="+t.Name+" role="+t.Role)
	s.log.Info("API token created", "id", t.ID, "name", t.Name, "role", t.Role, "by", actor)
	// The secret is in this answer and nowhere else, ever.
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, map[string]any{"token": answerToken(t), "secret": secret})
}

func (s *Server) revokeToken(w http.ResponseWriter, r *http.Request) {
	if !s.originAllowed(r) {
		writeError(w, http.StatusForbidden, "Origin", "requests from origin "+truncate(r.Header.Get("Origin"), 100)+" are not allowed")
		return
	}
	id := r.PathValue("id")
	if id == "" || len(id) > 64 {
		writeError(w, http.StatusBadRequest, "id", "token id must be 1..64 characters")
		return
	}
	if err := s.store.RevokeToken(r.Context(), id, time.Now()); err != nil {
		s.storeError(w, r, err)
		return
	}
	actor := principalOf(r.Context()).Name
	s.dropSessionsOf(id)
	s.audit(r.Context(), actor, AuditTokenRevoked, id, "")
	s.log.Info("API token revoked", "id", id, "by", actor)
	ts, err := s.store.Tokens(r.Context())
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	for _, t := range ts {
		if t.ID == id {
			writeJSON(w, http.StatusOK, map[string]any{"token": answerToken(t)})
			return
		}
	}
	writeError(w, http.StatusNotFound, "", "not found")
}
