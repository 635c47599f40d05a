package api

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/intersect-oss/intersect/events"
	"github.com/intersect-oss/intersect/store"
)

func (s *Server) listRecommendations(w http.ResponseWriter, r *http.Request) {
	p := &params{v: r.URL.Query()}
	q := store.RecommendationQuery{
		Site:       p.id("site"),
		Controller: p.id("controller"),
		States:     enum(p, "state", events.State.Valid, events.States),
		Limit:      p.int("limit", 1, store.MaxLimit),
	}
	if perr := p.finish(); perr != nil {
		writeError(w, http.StatusBadRequest, perr.Param, perr.Error())
		return
	}
	recs, err := s.store.Recommendations(r.Context(), q)
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": nonNil(recs)})
}

// transitionAnswer is one state change in JSON.
type transitionAnswer struct {
	From events.State `json:"from"`
	To   events.State `json:"to"`
	By   string       `json:"by"`
	Why  string       `json:"why"`
	At   time.Time    `json:"at"`
}

// recommendationAnswer is a recommendation with its history.
type recommendationAnswer struct {
	Recommendation *events.Recommendation `json:"recommendation"`
	Transitions    []transitionAnswer     `json:"transitions"`
}

func (s *Server) loadRecommendation(w http.ResponseWriter, r *http.Request, id string) (*recommendationAnswer, bool) {
	rec, err := s.store.Recommendation(r.Context(), id)
	if err != nil {
		s.storeError(w, r, err)
		return nil, false
	}
	ts, err := s.store.Transitions(r.Context(), id)
	if err != nil {
		s.storeError(w, r, err)
		return nil, false
	}
	a := &recommendationAnswer{Recommendation: rec, Transitions: make([]transitionAnswer, 0, len(ts))}
	for _, t := range ts {
		a.Transitions = append(a.Transitions, transitionAnswer{From: t.From, To: t.To, By: t.By, Why: t.Why, At: t.At})
	}
	return a, true
}

func (s *Server) getRecommendation(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	if a, ok := s.loadRecommendation(w, r, id); ok {
		writeJSON(w, http.StatusOK, a)
	}
}

// decision is the body of approve and reject.
type decision struct {
	By     string `json:"by"`
	Reason string `json:"reason"`
}

// Bounds on a decision's text: a name and a sentence or two.
const (
	maxByLen     = 128
	maxReasonLen = 2000
)

// checkText rejects empty-looking or control-character text; it is stored
// and shown to other engineers.
func checkText(name, v string, max int, required bool) error {
	if strings.TrimSpace(v) == "" {
		if required {
			return fmt.Errorf("%s is required", name)
		}
		return nil
	}
	if !utf8.ValidString(v) {
		return fmt.Errorf("%s is not valid UTF-8", name)
	}
	if n := utf8.RuneCountInString(v); n > max {
		return fmt.Errorf("%s is %d characters; at most %d", name, n, max)
	}
	for _, c := range v {
		if unicode.IsControl(c) && c != '\n' && c != '\t' {
			return fmt.Errorf("%s contains a control character (%U)", name, c)
		}
	}
	return nil
}

// readDecision reads and checks a decision body, answering the error itself.
func (s *Server) readDecision(w http.ResponseWriter, r *http.Request, needReason bool) (decision, bool) {
	var d decision
	if !s.readBody(w, r, &d, `{"by": "...", "reason": "..."}`) {
		return d, false
	}
	// With a token, the token's name is who decided; "by" is then optional.
	if err := checkText("by", d.By, maxByLen, principalOf(r.Context()).TokenID == ""); err != nil {
		writeError(w, http.StatusBadRequest, "by", err.Error())
		return d, false
	}
	if err := checkText("reason", d.Reason, maxReasonLen, needReason); err != nil {
		msg := err.Error()
		if needReason && strings.TrimSpace(d.Reason) == "" {
			msg = "reason is required to reject a recommendation"
		}
		writeError(w, http.StatusBadRequest, "reason", msg)
		return d, false
	}
	return d, true
}

func (s *Server) approve(w http.ResponseWriter, r *http.Request) { s.decide(w, r, events.Approved) }
func (s *Server) reject(w http.ResponseWriter, r *http.Request)  { s.decide(w, r, events.Rejected) }

// decide records an engineer's approval or rejection of a proposed
// recommendation. The advisor signs approvals it finds in the store; the API
// only records the decision, compare-and-set, so two engineers clicking at
// once cannot both win.
func (s *Server) decide(w http.ResponseWriter, r *http.Request, to events.State) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	d, ok := s.readDecision(w, r, to == events.Rejected)
	if !ok {
		return
	}
	by := decidedBy(principalOf(r.Context()), d.By)
	err := s.store.Transition(r.Context(), id, events.Proposed, to, by, strings.TrimSpace(d.Reason))
	if errors.Is(err, store.ErrConflict) {
		cur := "another state"
		if rec, gerr := s.store.Recommendation(r.Context(), id); gerr == nil {
			cur = string(rec.State)
		}
		writeError(w, http.StatusConflict, "", fmt.Sprintf("recommendation %s is %s, not proposed: someone decided first", id, cur))
		return
	}
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	action := AuditApproved
	if to == events.Rejected {
		action = AuditRejected
	}
	s.audit(r.Context(), by, action, id, strings.TrimSpace(d.Reason))
	s.log.Info("recommendation decided", "id", id, "state", to, "by", by)
	a, ok := s.loadRecommendation(w, r, id)
	if !ok {
		return
	}
	if s.live != nil {
		s.live.Broadcast(a.Recommendation)
	}
	writeJSON(w, http.StatusOK, a)
}

// decidedBy is who a decision is recorded as: the token's name, with the
// name typed into the form after it when that differs (a shared engineer
// token used by several people); without a token (an insecure server),
// the name typed.
func decidedBy(p Principal, typed string) string {
	typed = strings.TrimSpace(typed)
	switch {
	case p.TokenID == "":
		return typed
	case typed == "" || typed == p.Name:
		return p.Name
	}
	return p.Name + " (as " + typed + ")"
}
