// Package api serves intersect over HTTP: the v1 JSON API for engineers and
// analysts, the websocket live feed and the embedded web dashboard. It only
// reads the store (and records engineers' decisions on recommendations); it
// never talks to cameras or controllers.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/intersect-oss/intersect/store"
)

// MaxBodyBytes bounds request bodies; larger ones get 413.
const MaxBodyBytes = 64 << 10

// Server is the HTTP API. Create it with New and serve Handler().
type Server struct {
	store store.Store
	log   *slog.Logger
	mux   *http.ServeMux
	// ready reports whether the pipeline behind the API is healthy; nil
	// means only the store is checked.
	ready func(ctx context.Context) error
}

// Options configures a Server.
type Options struct {
	Store store.Store
	Log   *slog.Logger
	// Ready, if set, is checked by /healthz in addition to the store.
	Ready func(ctx context.Context) error
}

// New returns a Server with every route registered.
func New(o Options) *Server {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	s := &Server{store: o.Store, log: o.Log, mux: http.NewServeMux(), ready: o.Ready}
	s.routes()
	return s
}

// Handler is the root handler.
func (s *Server) Handler() http.Handler { return s.mux }

func (s *Server) routes() {
	s.mux.HandleFunc("GET /healthz", s.healthz)
	s.mux.HandleFunc("GET /api/v1/nearmisses", s.listNearMisses)
	s.mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "", "no such route: "+r.Method+" "+r.URL.Path)
	})
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

// nearMissPage is the JSON shape of a page of near misses.
type nearMissPage struct {
	Items      any    `json:"items"`
	NextCursor string `json:"next_cursor,omitempty"`
}

func (s *Server) listNearMisses(w http.ResponseWriter, r *http.Request) {
	q, perr := parseNearMissQuery(r.URL.Query())
	if perr != nil {
		writeError(w, http.StatusBadRequest, perr.Param, perr.Error())
		return
	}
	page, err := s.store.NearMisses(r.Context(), q)
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, nearMissPage{Items: nonNil(page.Items), NextCursor: page.Next})
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
