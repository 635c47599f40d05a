package events

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// State is where a recommendation is in its life.
type State string

const (
	Proposed   State = "proposed"
	Approved   State = "approved"
	Deployed   State = "deployed"
	Evaluated  State = "evaluated"
	Rejected   State = "rejected"
	RolledBack State = "rolled-back"
	Expired    State = "expired"
)

// States lists every valid state.
var States = []State{Proposed, Approved, Deployed, Evaluated, Rejected, RolledBack, Expired}

// Valid reports whether s is one of States.
func (s State) Valid() bool {
	for _, k := range States {
		if s == k {
			return true
		}
	}
	return false
}

// Target says what a recommendation would change.
type Target struct {
	Controller string `json:"controller"`
	Phase      int    `json:"phase"`
	Plan       string `json:"plan"`
	Window     string `json:"window"` // time-of-day window, e.g. "weekday 07:00-09:00 America/Denver"
}

// Change is one controller object set, named as NTCIP 1202 names it.
type Change struct {
	Object   string  `json:"object"` // e.g. "phaseWalk"
	OID      string  `json:"oid"`    // e.g. "1.3.6.1.4.1.1206.4.2.1.1.2.1.2.4"
	Unit     string  `json:"unit"`   // "s", "0.1s", "bool"
	Current  float64 `json:"current"`
	Proposed float64 `json:"proposed"`
}

// Rate is a count over exposure with a confidence interval.
type Rate struct {
	Name     string  `json:"name"` // what is counted, e.g. "right-turn vs pedestrian conflicts per 1000 crossing pedestrians"
	Count    int     `json:"count"`
	Exposure float64 `json:"exposure"`
	Value    float64 `json:"value"`
	CILow    float64 `json:"ci_low"`
	CIHigh   float64 `json:"ci_high"`
	CILevel  float64 `json:"ci_level"` // e.g. 0.95
}

// Evidence is what a recommendation rests on.
type Evidence struct {
	EventIDs []string          `json:"event_ids,omitempty"`
	Rates    []Rate            `json:"rates,omitempty"`
	Inputs   map[string]string `json:"inputs,omitempty"` // e.g. crossing length, walking speed p15, weather
	From     time.Time         `json:"from"`
	To       time.Time         `json:"to"`
}

// Effect is the expected effect of a change and where that figure comes from.
type Effect struct {
	Description string   `json:"description"`
	CMF         *float64 `json:"cmf,omitempty"`
	Source      string   `json:"source"`
}

// Recommendation is a bounded, explained, signed timing suggestion. The
// advisor signs the content (everything but State and Signature); the
// approval is a separate signed statement so that a controller can check
// both the suggestion and that an engineer approved it.
type Recommendation struct {
	Header
	Rule       string    `json:"rule"` // lpi, ped-clearance, yellow, red-clearance, cycle, no-rtor, tod-plan
	Target     Target    `json:"target"`
	Changes    []Change  `json:"changes"`
	Rationale  string    `json:"rationale"`
	Evidence   Evidence  `json:"evidence"`
	Effect     Effect    `json:"expected_effect"`
	ValidFrom  time.Time `json:"valid_from"`
	ValidUntil time.Time `json:"valid_until"`
	Rollback   []Change  `json:"rollback"`
	State      State     `json:"state"`
	KeyID      string    `json:"key_id,omitempty"`
	Signature  []byte    `json:"signature,omitempty"`
	// Approval, when present, is the advisor's signed statement that an
	// engineer approved this recommendation.
	Approval *Approval `json:"approval,omitempty"`
}

// Approval records who approved a recommendation, signed by the advisor.
type Approval struct {
	By        string    `json:"by"`
	At        time.Time `json:"at"`
	Reason    string    `json:"reason,omitempty"`
	Signature []byte    `json:"signature"`
}

// Validate reports every reason a consumer could not use r. It does not
// check the signature: that needs the trusted key (Verify).
func (r *Recommendation) Validate() error {
	var c checker
	if r.Rule == "" {
		c.failf("rule is required")
	}
	if !ValidID(r.Target.Controller) {
		c.failf("target.controller %q must match [a-z0-9-]+", r.Target.Controller)
	}
	if r.Target.Phase < 0 || r.Target.Phase > 255 {
		c.failf("target.phase %d out of range 0..255", r.Target.Phase)
	}
	if len(r.Changes) == 0 {
		c.failf("changes are required")
	}
	for i, ch := range r.Changes {
		if ch.Object == "" || ch.OID == "" {
			c.failf("changes[%d]: object and oid are required", i)
		}
		c.finite(fmt.Sprintf("changes[%d].current", i), ch.Current, false)
		c.finite(fmt.Sprintf("changes[%d].proposed", i), ch.Proposed, false)
	}
	if r.Rationale == "" {
		c.failf("rationale is required")
	}
	if r.ValidFrom.IsZero() || r.ValidUntil.IsZero() || !r.ValidUntil.After(r.ValidFrom) {
		c.failf("validity window %s..%s is empty", r.ValidFrom.Format(time.RFC3339), r.ValidUntil.Format(time.RFC3339))
	}
	if !r.State.Valid() {
		c.failf("unknown state %q", r.State)
	}
	return c.err(&r.Header, KindRecommendation, false)
}

// SigningBytes is the canonical content the advisor signs: the JSON of the
// record with State, Signature and Approval cleared. Go's encoding/json
// writes struct fields in declaration order and map keys sorted, so the
// bytes are the same wherever they are computed from the same record.
func (r *Recommendation) SigningBytes() ([]byte, error) {
	cp := *r
	cp.State = ""
	cp.Signature = nil
	cp.Approval = nil
	return json.Marshal(&cp)
}

// Digest is the hex SHA-256 of SigningBytes: it names the exact content of
// a recommendation. Controllers put it in their Ack so that an ack for a
// tampered copy cannot change the state of the genuine record.
func (r *Recommendation) Digest() (string, error) {
	b, err := r.SigningBytes()
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// approvalBytes is what an Approval's signature covers: the recommendation's
// own signature (binding the approval to that exact content) and the approval
// fields.
func (r *Recommendation) approvalBytes() ([]byte, error) {
	if r.Approval == nil {
		return nil, errors.New("no approval")
	}
	return json.Marshal(struct {
		Rec    string    `json:"rec"`
		Sig    []byte    `json:"sig"`
		By     string    `json:"by"`
		At     time.Time `json:"at"`
		Reason string    `json:"reason"`
	}{r.ID, r.Signature, r.Approval.By, r.Approval.At.UTC(), r.Approval.Reason})
}

// Sign signs r's content with key.
func (r *Recommendation) Sign(key ed25519.PrivateKey, keyID string) error {
	r.KeyID = keyID
	b, err := r.SigningBytes()
	if err != nil {
		return fmt.Errorf("signing recommendation %s: %w", r.ID, err)
	}
	r.Signature = ed25519.Sign(key, b)
	return nil
}

// Approve attaches an approval signed with key (the advisor's key) and sets
// State to Approved.
func (r *Recommendation) Approve(key ed25519.PrivateKey, by, reason string, at time.Time) error {
	r.Approval = &Approval{By: by, At: at.UTC(), Reason: reason}
	b, err := r.approvalBytes()
	if err != nil {
		return err
	}
	r.Approval.Signature = ed25519.Sign(key, b)
	r.State = Approved
	return nil
}

// ErrBadSignature is returned by Verify when a signature does not match.
var ErrBadSignature = errors.New("signature does not verify")

// Verify checks r's content signature, and its approval signature when
// present, against the trusted public key.
func (r *Recommendation) Verify(pub ed25519.PublicKey) error {
	if len(r.Signature) == 0 {
		return fmt.Errorf("recommendation %s is unsigned: %w", r.ID, ErrBadSignature)
	}
	b, err := r.SigningBytes()
	if err != nil {
		return err
	}
	if !ed25519.Verify(pub, b, r.Signature) {
		return fmt.Errorf("recommendation %s content: %w", r.ID, ErrBadSignature)
	}
	if r.Approval != nil {
		ab, err := r.approvalBytes()
		if err != nil {
			return err
		}
		if !ed25519.Verify(pub, ab, r.Approval.Signature) {
			return fmt.Errorf("recommendation %s approval: %w", r.ID, ErrBadSignature)
		}
	}
	return nil
}

// AckResult is a controller's answer to a recommendation.
type AckResult string

const (
	AckApplied  AckResult = "applied"
	AckRejected AckResult = "rejected"
)

// Ack is a controller agent's acknowledgement of one recommendation.
type Ack struct {
	Header
	Controller       string `json:"controller"`
	RecommendationID string `json:"recommendation_id"`
	// Digest is the Digest of the recommendation content the controller
	// checked. The store moves a recommendation's state only when it
	// matches the stored record, so acks about forged copies change nothing.
	Digest  string    `json:"digest,omitempty"`
	Result  AckResult `json:"result"`
	Reason  string    `json:"reason,omitempty"`
	Applied []Change  `json:"applied,omitempty"`
}

// Validate reports every reason a consumer could not use a.
func (a *Ack) Validate() error {
	var c checker
	if !ValidID(a.Controller) {
		c.failf("controller %q must match [a-z0-9-]+", a.Controller)
	}
	if a.RecommendationID == "" {
		c.failf("recommendation_id is required")
	}
	if a.Result != AckApplied && a.Result != AckRejected {
		c.failf("unknown result %q", a.Result)
	}
	if a.Result == AckRejected && a.Reason == "" {
		c.failf("a rejection needs a reason")
	}
	return c.err(&a.Header, KindAck, false)
}
