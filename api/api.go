// Package api serves intersect over HTTP: the v1 JSON API for engineers and
// analysts, the websocket live feed and the embedded web dashboard. It only
// reads the store (and records engineers' decisions on recommendations); it
// never talks to cameras or controllers.
//
// Every route is declared once, in routes.go, with the lowest role allowed
// to use it; the same table registers the handlers and is checked against
// the hand-written OpenAPI document (openapi.json) by the tests, so the two
// cannot drift apart. Authentication (bearer tokens, browser sessions, rate
// limits) is in auth.go, token management in tokens.go, the audit log in
// audit.go.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/time/rate"

	"github.com/intersect-oss/intersect/store"
)

// MaxBodyBytes bounds request bodies; larger ones get 413.
const MaxBodyBytes = 64 << 10

// SnapshotStore returns the JPEG stored under a near miss's snapshot key. In
// production it is the JetStream object store bucket events.SnapshotBucket
// (see ObjectStoreSnapshots); it returns an error wrapping ErrNoSnapshot when
// the key is absent.
type SnapshotStore interface {
	Get(ctx context.Context, key string) ([]byte, error)
}

// ErrNoSnapshot is wrapped by SnapshotStore.Get when the key is absent.
var ErrNoSnapshot = errors.New("snapshot not found")

// Server is the HTTP API. Create it with New and serve Handler().
type Server struct {
	store     store.Store
	log       *slog.Logger
	mux       *http.ServeMux
	snapshots SnapshotStore
	live      *Hub
	weather   WeatherPublisher
	origins   map[string]bool
	// ready reports whether the pipeline behind the API is healthy; nil
	// means only the store is checked.
	ready         func(ctx context.Context) error
	insecure      bool
	secureCookies bool
	failures      *failureLimiter
	sessionState
}

// Options configures a Server.
type Options struct {
	Store store.Store
	Log   *slog.Logger
	// Ready, if set, is checked by /healthz in addition to the store.
	Ready func(ctx context.Context) error
	// Snapshots serves /api/v1/nearmisses/{id}/snapshot; nil answers 503.
	Snapshots SnapshotStore
	// Live is the hub behind /api/v1/live; nil answers 503 (no live feed).
	// Feed it with Hub.Feed. Approvals and rejections made through the API
	// are pushed to it too.
	Live *Hub
	// Weather publishes the dashboard's manual weather observations; nil
	// answers 503 on POST /api/v1/sites/{site}/weather.
	Weather WeatherPublisher
	// AllowedOrigins lists extra browser origins (scheme://host[:port])
	// allowed to open the websocket and to POST; the API's own origin is
	// always allowed.
	AllowedOrigins []string
	// Insecure serves requests without credentials as an anonymous admin.
	// Only for tests and `--insecure`; tokens are still checked when sent.
	Insecure bool
	// SecureCookies marks the session cookie Secure (set it when a TLS
	// proxy is in front; requests over TLS get it anyway).
	SecureCookies bool
	// Rate and Burst limit each token on the expensive routes (exports,
	// heatmap, stats); zero takes DefaultRate and DefaultBurst.
	Rate  rate.Limit
	Burst int
	// AuthFailuresPerMinute bounds the audit entries of failed logins per
	// source address; zero takes DefaultAuthFailuresPerMinute.
	AuthFailuresPerMinute int
}

// New returns a Server with every route registered.
func New(o Options) *Server {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Rate <= 0 {
		o.Rate = DefaultRate
	}
	if o.Burst <= 0 {
		o.Burst = DefaultBurst
	}
	if o.AuthFailuresPerMinute <= 0 {
		o.AuthFailuresPerMinute = DefaultAuthFailuresPerMinute
	}
	s := &Server{
		store: o.Store, log: o.Log, mux: http.NewServeMux(), ready: o.Ready,
		snapshots: o.Snapshots, live: o.Live, weather: o.Weather, origins: map[string]bool{},
		insecure: o.Insecure, secureCookies: o.SecureCookies,
		failures: &failureLimiter{perMinute: o.AuthFailuresPerMinute, windows: map[string]*failureWindow{}},
	}
	s.sessions, s.limiters, s.rate, s.burst = map[[32]byte]session{}, map[string]*rate.Limiter{}, o.Rate, o.Burst
	for _, origin := range o.AllowedOrigins {
		s.origins[strings.TrimRight(strings.ToLower(origin), "/")] = true
	}
	s.routes()
	return s
}

// Handler is the root handler.
func (s *Server) Handler() http.Handler { return s.mux }

func (s *Server) routes() {
	for _, rt := range s.table() {
		s.mux.HandleFunc(rt.Method+" "+rt.Pattern, s.guard(rt))
	}
	// Everything else is a JSON 404 (or 405 when the path exists with
	// another method), never the mux's plain-text answers.
	s.mux.HandleFunc("/", s.notFound)
}

// notFound answers unknown routes. A known path with the wrong method gets
// 405 with an Allow header, as the mux would, but in JSON.
func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodDelete} {
		probe := &http.Request{Method: m, URL: &url.URL{Path: r.URL.Path}, Host: r.Host}
		if _, pattern := s.mux.Handler(probe); pattern != "/" && pattern != "" {
			allow = append(allow, m)
		}
	}
	if len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		writeError(w, http.StatusMethodNotAllowed, "", "method "+r.Method+" not allowed on "+r.URL.Path+"; use "+strings.Join(allow, " or "))
		return
	}
	writeError(w, http.StatusNotFound, "", "no such route: "+r.Method+" "+r.URL.Path)
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	status := map[string]string{"status": "ok"}
	code := http.StatusOK
	if _, err := s.store.DeadLetters(ctx, 1); err != nil {
		status["status"], status["store"] = "unavailable", err.Error()
		code = http.StatusServiceUnavailable
	} else if s.ready != nil {
		if err := s.ready(ctx); err != nil {
			status["status"], status["pipeline"] = "degraded", err.Error()
			code = http.StatusServiceUnavailable
		}
	}
	writeJSON(w, code, status)
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// storeError maps a store error to an HTTP answer without leaking internals.
func (s *Server) storeError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, store.ErrBadInput):
		writeError(w, http.StatusBadRequest, "", err.Error())
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, "", "not found")
	case errors.Is(err, store.ErrConflict):
		writeError(w, http.StatusConflict, "", err.Error())
	case errors.Is(err, context.Canceled):
		// The client went away; nothing to answer.
	default:
		s.log.Error("store query failed", "path", r.URL.Path, "err", err)
		writeError(w, http.StatusInternalServerError, "", "internal error; see the server log")
	}
}

// apiError is the JSON body of every error answer.
type apiError struct {
	Error string `json:"error"`
	Param string `json:"param,omitempty"`
}

func writeError(w http.ResponseWriter, code int, param, msg string) {
	writeJSON(w, code, apiError{Error: msg, Param: param})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// originAllowed reports whether a browser request may act on the API: no
// Origin header (not a browser, or a same-origin GET), the API's own origin,
// or one of Options.AllowedOrigins.
func (s *Server) originAllowed(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	if strings.EqualFold(u.Host, r.Host) {
		return true
	}
	return s.origins[strings.TrimRight(strings.ToLower(origin), "/")]
}
