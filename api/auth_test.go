package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/time/rate"

	"github.com/intersect-oss/intersect/events"
	"github.com/intersect-oss/intersect/store"
)

// minRole is the specification (issue 7) of who may use each route,
// written out rather than read from the route table, so that the table is
// checked against it. "" is public.
var minRole = map[string]string{
	"GET /healthz":                              "",
	"GET /api/v1/openapi.json":                  "",
	"POST /api/v1/session":                      "",
	"DELETE /api/v1/session":                    "",
	"GET /api/v1/session":                       "viewer",
	"GET /api/v1/nearmisses":                    "viewer",
	"GET /api/v1/nearmisses/{id}":               "viewer",
	"GET /api/v1/nearmisses/{id}/snapshot":      "viewer",
	"GET /api/v1/stats":                         "viewer",
	"GET /api/v1/heatmap":                       "viewer",
	"GET /api/v1/sites":                         "viewer",
	"GET /api/v1/sites/{site}/weather":          "viewer",
	"GET /api/v1/sites/{site}/movements":        "viewer",
	"GET /api/v1/cameras/health":                "viewer",
	"GET /api/v1/recommendations":               "viewer",
	"GET /api/v1/recommendations/{id}":          "viewer",
	"GET /api/v1/live":                          "viewer",
	"GET /api/v1/export.csv":                    "analyst",
	"GET /api/v1/export.geojson":                "analyst",
	"POST /api/v1/recommendations/{id}/approve": "engineer",
	"POST /api/v1/recommendations/{id}/reject":  "engineer",
	"POST /api/v1/sites/{site}/weather":         "engineer",
	"GET /api/v1/tokens":                        "admin",
	"POST /api/v1/tokens":                       "admin",
	"DELETE /api/v1/tokens/{id}":                "admin",
	"GET /api/v1/audit":                         "admin",
	"GET /{$}":                                  "",
	"GET /static/":                              "",
}

// do sends one request with an optional bearer token.
func do(t testing.TB, method, u, token, body string, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// TestRoleMatrix: every route × no token, a bad token, a revoked token and
// each role: 401, 403 or served, exactly as specified.
func TestRoleMatrix(t *testing.T) {
	pub := &storePublisher{}
	f := newFixture(t, Options{Live: NewHub(HubOptions{}), Weather: pub})
	pub.st = f.st
	ctx := context.Background()
	tokens := map[string]string{}
	for _, r := range []Role{RoleViewer, RoleAnalyst, RoleEngineer, RoleAdmin} {
		secret, _, err := IssueToken(ctx, f.st, "matrix-"+r.String(), r)
		if err != nil {
			t.Fatal(err)
		}
		tokens[r.String()] = secret
	}
	revoked, rt, err := IssueToken(ctx, f.st, "matrix-revoked", RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.st.RevokeToken(ctx, rt.ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	// The table and the specification agree, both ways.
	seen := map[string]bool{}
	for _, r := range f.api.table() {
		key := r.Method + " " + r.Pattern
		seen[key] = true
		want, ok := minRole[key]
		if !ok {
			t.Errorf("route %s has no role in the specification", key)
		} else if r.Role.String() != want && !(want == "" && r.Role == rolePublic) {
			t.Errorf("route %s needs %s, specification says %q", key, r.Role, want)
		}
	}
	for key := range minRole {
		if !seen[key] {
			t.Errorf("specified route %s is not served", key)
		}
	}
	level := map[string]int{"": 0, "viewer": 1, "analyst": 2, "engineer": 3, "admin": 4}
	callers := []struct{ name, token string }{
		{"no token", ""}, {"bad token", "not-a-token-" + strings.Repeat("x", 30)}, {"revoked", revoked},
		{"viewer", tokens["viewer"]}, {"analyst", tokens["analyst"]}, {"engineer", tokens["engineer"]}, {"admin", tokens["admin"]},
	}
	for key, want := range minRole {
		method, pattern, _ := strings.Cut(key, " ")
		id := f.recs[1].ID
		if strings.Contains(pattern, "/nearmisses/") {
			id = f.nms[0].ID
		}
		path := strings.NewReplacer("{id}", id, "{site}", "main-and-5th", "{$}", "", "/static/", "/static/app.js").Replace(pattern)
		body := ""
		if method == http.MethodPost {
			body = `{"by":"matrix","reason":"role matrix"}`
		}
		for _, c := range callers {
			resp, b := do(t, method, f.srv.URL+path, c.token, body, nil)
			var e apiError
			_ = json.Unmarshal(b, &e)
			callerLevel, isRole := level[c.name]
			switch {
			case want == "":
				if resp.StatusCode == 401 || resp.StatusCode == 403 {
					t.Errorf("%s by %s: %d on a public route: %s", key, c.name, resp.StatusCode, b)
				}
			case !isRole:
				if resp.StatusCode != 401 || e.Error == "" || resp.Header.Get("WWW-Authenticate") == "" {
					t.Errorf("%s by %s: %d %s, want 401 with a JSON error and WWW-Authenticate", key, c.name, resp.StatusCode, b)
				}
			case callerLevel < level[want]:
				if resp.StatusCode != 403 || !strings.Contains(e.Error, "needs "+want) {
					t.Errorf("%s by %s: %d %s, want 403 naming %s", key, c.name, resp.StatusCode, b, want)
				}
			default:
				if resp.StatusCode == 401 || resp.StatusCode == 403 {
					t.Errorf("%s by %s: %d %s, want it served", key, c.name, resp.StatusCode, b)
				}
			}
		}
	}
}

// TestTokenNeverLogged: the server's log (captured) never holds a token or
// its hash, through logins, bad tokens, token creation and revocation.
func TestTokenNeverLogged(t *testing.T) {
	var buf bytes.Buffer
	var mu sync.Mutex
	log := slog.New(slog.NewTextHandler(&lockedWriter{w: &buf, mu: &mu}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	f := newFixture(t, Options{Log: log})
	var secrets []string
	secrets = append(secrets, f.token)
	// A new token through the API: its secret is in the answer only.
	resp, b := do(t, "POST", f.srv.URL+"/api/v1/tokens", f.token, `{"name":"analyst-1","role":"analyst"}`, nil)
	if resp.StatusCode != 201 {
		t.Fatalf("create token: %d %s", resp.StatusCode, b)
	}
	var created struct {
		Token  tokenAnswer
		Secret string
	}
	if err := json.Unmarshal(b, &created); err != nil || len(created.Secret) != 43 {
		t.Fatalf("create answer %s: %v", b, err)
	}
	if strings.Contains(string(b), HashToken(created.Secret)) {
		t.Fatal("the create answer holds the token's hash")
	}
	secrets = append(secrets, created.Secret)
	// Use it, log in with it, fail with near misses of it, revoke it, use it again.
	do(t, "GET", f.srv.URL+"/api/v1/export.csv", created.Secret, "", nil)
	do(t, "POST", f.srv.URL+"/api/v1/session", "", `{"token":"`+created.Secret+`"}`, nil)
	do(t, "POST", f.srv.URL+"/api/v1/session", "", `{"token":"`+created.Secret+`x"}`, nil)
	do(t, "GET", f.srv.URL+"/api/v1/sites", created.Secret[:40], "", nil)
	do(t, "GET", f.srv.URL+"/api/v1/sites", "", "", map[string]string{"Authorization": "Basic " + created.Secret})
	do(t, "DELETE", f.srv.URL+"/api/v1/tokens/"+created.Token.ID, f.token, "", nil)
	if resp, _ := do(t, "GET", f.srv.URL+"/api/v1/sites", created.Secret, "", nil); resp.StatusCode != 401 {
		t.Fatalf("revoked token: %d, want 401", resp.StatusCode)
	}
	mu.Lock()
	out := buf.String()
	mu.Unlock()
	if !strings.Contains(out, "authentication failed") || !strings.Contains(out, "API token created") {
		t.Fatalf("the log misses the expected lines (so the test proves nothing):\n%s", out)
	}
	for _, s := range secrets {
		for _, leak := range []string{s, s[:20], HashToken(s), HashToken(s)[:20]} {
			if strings.Contains(out, leak) {
				t.Fatalf("log holds a token or its hash (%q):\n%s", leak, out)
			}
		}
	}
	// Nor does the audit log.
	page, err := f.st.Audit(context.Background(), auditAll())
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range page.Items {
		for _, s := range secrets {
			if strings.Contains(fmt.Sprint(e), s[:20]) || strings.Contains(fmt.Sprint(e), HashToken(s)[:20]) {
				t.Fatalf("audit entry %+v holds a token", e)
			}
		}
	}
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// TestSessionCookie: the dashboard's login gives an HttpOnly, SameSite=Strict
// cookie holding no token; it opens the websocket; logout and revocation
// end it; a foreign origin cannot use it to change anything.
func TestSessionCookie(t *testing.T) {
	f := newFixture(t, Options{Live: NewHub(HubOptions{})})
	secret, tok, err := IssueToken(context.Background(), f.st, "dashboard-user", RoleEngineer)
	if err != nil {
		t.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar}
	post := func(path, body string, hdr map[string]string) *http.Response {
		req, _ := http.NewRequest("POST", f.srv.URL+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if resp := post("/api/v1/session", `{"token":"wrong"}`, nil); resp.StatusCode != 401 || len(resp.Cookies()) != 0 {
		t.Fatalf("bad login: %d, cookies %v", resp.StatusCode, resp.Cookies())
	}
	resp := post("/api/v1/session", `{"token":"`+secret+`"}`, nil)
	if resp.StatusCode != 200 || len(resp.Cookies()) != 1 {
		t.Fatalf("login: %d %v", resp.StatusCode, resp.Cookies())
	}
	c := resp.Cookies()[0]
	if c.Name != SessionCookie || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Secure || c.Path != "/" ||
		strings.Contains(c.Value, secret) || c.Value == HashToken(secret) || len(c.Value) < 43 {
		t.Fatalf("cookie %+v: want HttpOnly, SameSite=Strict, an opaque value", c)
	}
	get := func(path string) int {
		resp, err := client.Get(f.srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := get("/api/v1/nearmisses?limit=1"); code != 200 {
		t.Fatalf("with the cookie: %d", code)
	}
	var who sessionAnswer
	r2, _ := client.Get(f.srv.URL + "/api/v1/session")
	_ = json.NewDecoder(r2.Body).Decode(&who)
	r2.Body.Close()
	if who.Name != "dashboard-user" || who.Role != "engineer" {
		t.Fatalf("whoami = %+v", who)
	}
	// Websocket with the cookie (browsers cannot set headers on one).
	u, _ := url.Parse(f.srv.URL)
	hdr := http.Header{"Cookie": {c.Name + "=" + c.Value}}
	ws, wresp, err := websocket.DefaultDialer.Dial("ws://"+u.Host+"/api/v1/live", hdr)
	if err != nil {
		t.Fatalf("websocket with the session cookie: %v (%v)", err, wresp)
	}
	ws.Close()
	// The cookie rides along with a foreign site's request: refused.
	path := "/api/v1/recommendations/" + f.recs[0].ID + "/approve"
	if resp := post(path, `{"reason":"csrf"}`, map[string]string{"Origin": "https://evil.example.com"}); resp.StatusCode != 403 {
		t.Fatalf("cross-origin approve with the cookie: %d, want 403", resp.StatusCode)
	}
	if resp := post(path, `{}`, nil); resp.StatusCode != 200 {
		t.Fatalf("same-origin approve with the cookie: %d", resp.StatusCode)
	}
	// Revoking the token ends its sessions at once.
	if resp, b := do(t, "DELETE", f.srv.URL+"/api/v1/tokens/"+tok.ID, f.token, "", nil); resp.StatusCode != 200 {
		t.Fatalf("revoke: %d %s", resp.StatusCode, b)
	}
	if code := get("/api/v1/nearmisses?limit=1"); code != 401 {
		t.Fatalf("session after revocation: %d, want 401", code)
	}
	if _, _, err := websocket.DefaultDialer.Dial("ws://"+u.Host+"/api/v1/live", hdr); err == nil {
		t.Fatal("websocket opened with a revoked token's session")
	}
	// Logout ends a session too.
	secret2, _, _ := IssueToken(context.Background(), f.st, "other", RoleViewer)
	post("/api/v1/session", `{"token":"`+secret2+`"}`, nil)
	if code := get("/api/v1/sites"); code != 200 {
		t.Fatalf("second login: %d", code)
	}
	req, _ := http.NewRequest("DELETE", f.srv.URL+"/api/v1/session", nil)
	if resp, err := client.Do(req); err != nil || resp.StatusCode != 204 {
		t.Fatalf("logout: %v %v", resp, err)
	}
	if code := get("/api/v1/sites"); code != 401 {
		t.Fatalf("after logout: %d, want 401", code)
	}
}

// TestRateLimit: the expensive routes answer 429 with Retry-After once a
// token's burst is spent; other tokens and cheap routes are unaffected.
func TestRateLimit(t *testing.T) {
	f := newFixture(t, Options{Rate: rate.Every(time.Hour), Burst: 3})
	other, _, _ := IssueToken(context.Background(), f.st, "other", RoleAnalyst)
	for _, path := range []string{"/api/v1/stats?by=hour", "/api/v1/heatmap", "/api/v1/export.csv"} {
		if resp, b := do(t, "GET", f.srv.URL+path, f.token, "", nil); resp.StatusCode != 200 {
			t.Fatalf("%s within the burst: %d %s", path, resp.StatusCode, b)
		}
	}
	resp, b := do(t, "GET", f.srv.URL+"/api/v1/export.geojson", f.token, "", nil)
	var e apiError
	_ = json.Unmarshal(b, &e)
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" || !strings.Contains(e.Error, "rate limit") {
		t.Fatalf("over the burst: %d Retry-After %q %s", resp.StatusCode, resp.Header.Get("Retry-After"), b)
	}
	if resp, _ := do(t, "GET", f.srv.URL+"/api/v1/nearmisses", f.token, "", nil); resp.StatusCode != 200 {
		t.Fatalf("cheap route while limited: %d", resp.StatusCode)
	}
	if resp, _ := do(t, "GET", f.srv.URL+"/api/v1/heatmap", other, "", nil); resp.StatusCode != 200 {
		t.Fatalf("another token while the first is limited: %d", resp.StatusCode)
	}
}

func auditAll() store.AuditQuery { return store.AuditQuery{Limit: 1000} }

// TestAuditOfAuthFailures: failed authentications are audited one by one
// up to the per-minute cap for an address, then counted into one summary.
func TestAuditOfAuthFailures(t *testing.T) {
	f := newFixture(t, Options{AuthFailuresPerMinute: 3})
	for range 8 {
		do(t, "GET", f.srv.URL+"/api/v1/sites", "guess-"+events.NewID(), "", nil)
	}
	count := func(action string) []auditEntryAnswer {
		var page struct{ Items []auditEntryAnswer }
		f.getJSON(t, "/api/v1/audit?action="+action, &page)
		return page.Items
	}
	if got := count(AuditAuthFailure); len(got) != 3 || got[0].Actor != "127.0.0.1" || got[0].Target != "GET /api/v1/sites" {
		t.Fatalf("individual failures audited: %+v, want 3 from 127.0.0.1", got)
	}
	if got := count(AuditAuthSuppressed); len(got) != 0 {
		t.Fatalf("summary before the minute ended: %+v", got)
	}
	// End the window (as a minute passing would) and ask again.
	f.api.failures.mu.Lock()
	for _, w := range f.api.failures.windows {
		w.start = w.start.Add(-time.Minute)
	}
	f.api.failures.mu.Unlock()
	got := count(AuditAuthSuppressed)
	if len(got) != 1 || !strings.HasPrefix(got[0].Detail, "5 more failed authentications from 127.0.0.1") {
		t.Fatalf("summary: %+v, want one saying 5 more", got)
	}
}

// TestTokenManagement: admins create, list and revoke tokens; bad bodies
// are named; the audit log records it; paging works.
func TestTokenManagement(t *testing.T) {
	f := newFixture(t, Options{})
	for _, c := range []struct {
		body, param string
	}{
		{`{"name":"x","role":"superuser"}`, "role"},
		{`{"name":"","role":"viewer"}`, "name"},
		{`{"name":"x\u0000","role":"viewer"}`, "name"},
		{`{"name":"x","role":"viewer","secret":"mine"}`, "secret"},
	} {
		resp, b := do(t, "POST", f.srv.URL+"/api/v1/tokens", f.token, c.body, nil)
		var e apiError
		_ = json.Unmarshal(b, &e)
		if resp.StatusCode != 400 || e.Param != c.param {
			t.Errorf("%s: %d %s, want 400 naming %s", c.body, resp.StatusCode, b, c.param)
		}
	}
	resp, b := do(t, "POST", f.srv.URL+"/api/v1/tokens", f.token, `{"name":"kiosk","role":"viewer"}`, nil)
	if resp.StatusCode != 201 || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("create: %d %s", resp.StatusCode, b)
	}
	var created struct {
		Token  tokenAnswer
		Secret string
	}
	_ = json.Unmarshal(b, &created)
	if resp, _ := do(t, "GET", f.srv.URL+"/api/v1/sites", created.Secret, "", nil); resp.StatusCode != 200 {
		t.Fatalf("new token: %d", resp.StatusCode)
	}
	var list struct{ Items []tokenAnswer }
	f.getJSON(t, "/api/v1/tokens", &list)
	if len(list.Items) != 2 || list.Items[1].Name != "kiosk" || list.Items[1].Revoked != nil {
		t.Fatalf("tokens = %+v", list.Items)
	}
	_, lb := f.get(t, "/api/v1/tokens")
	if strings.Contains(string(lb), HashToken(created.Secret)) || strings.Contains(string(lb), created.Secret) {
		t.Fatal("the token list shows a secret or a hash")
	}
	if resp, _ := do(t, "DELETE", f.srv.URL+"/api/v1/tokens/"+created.Token.ID, f.token, "", nil); resp.StatusCode != 200 {
		t.Fatalf("revoke: %d", resp.StatusCode)
	}
	if resp, _ := do(t, "DELETE", f.srv.URL+"/api/v1/tokens/"+created.Token.ID, f.token, "", nil); resp.StatusCode != 409 {
		t.Fatalf("second revoke: %d, want 409", resp.StatusCode)
	}
	if resp, _ := do(t, "DELETE", f.srv.URL+"/api/v1/tokens/no-such", f.token, "", nil); resp.StatusCode != 404 {
		t.Fatalf("revoke unknown: %d, want 404", resp.StatusCode)
	}
	// Audit: created then revoked, newest first, by the fixture's admin;
	// one entry per page follows the cursor.
	var page struct {
		Items      []auditEntryAnswer
		NextCursor string `json:"next_cursor"`
	}
	f.getJSON(t, "/api/v1/audit?limit=1", &page)
	if len(page.Items) != 1 || page.Items[0].Action != AuditTokenRevoked || page.Items[0].Actor != "fixture-admin" || page.NextCursor == "" {
		t.Fatalf("audit page 1 = %+v", page)
	}
	f.getJSON(t, "/api/v1/audit?limit=1&cursor="+page.NextCursor, &page)
	if len(page.Items) != 1 || page.Items[0].Action != AuditTokenCreated || page.Items[0].Detail != "name=kiosk role=viewer" {
		t.Fatalf("audit page 2 = %+v", page)
	}
	for _, q := range []string{"cursor=abc", "action=DROP%20TABLE", "from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z", "limit=0", "who=me"} {
		if resp, _ := f.get(t, "/api/v1/audit?"+q); resp.StatusCode != 400 {
			t.Errorf("audit?%s: %d, want 400", q, resp.StatusCode)
		}
	}
}

// TestInsecureMode: without credentials an insecure server serves as an
// anonymous admin (decisions then need a typed name); a bad token is still
// refused.
func TestInsecureMode(t *testing.T) {
	f := newFixture(t, Options{Insecure: true})
	if resp, _ := f.get(t, "/api/v1/tokens"); resp.StatusCode != 200 {
		t.Fatalf("insecure, no token: %d", resp.StatusCode)
	}
	if resp, _ := do(t, "GET", f.srv.URL+"/api/v1/sites", "bogus", "", nil); resp.StatusCode != 401 {
		t.Fatalf("insecure, bad token: %d, want 401", resp.StatusCode)
	}
	path := "/api/v1/recommendations/" + f.recs[0].ID + "/approve"
	if code, e, _ := f.post(t, path, "application/json", `{"reason":"x"}`, nil); code != 400 || e.Param != "by" {
		t.Fatalf("insecure decision without by: %d %+v", code, e)
	}
	if code, _, b := f.post(t, path, "application/json", `{"by":"someone"}`, nil); code != 200 || !strings.Contains(string(b), `"by":"someone"`) {
		t.Fatalf("insecure decision: %d %s", code, b)
	}
}
