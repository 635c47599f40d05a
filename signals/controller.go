package signals

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"time"

	"github.com/intersect-oss/intersect/events"
)

// Controller is the reference controller agent's core: a simulated signal
// controller (its NTCIP objects as OID → value) that accepts only
// recommendations it can prove came from the advisor, were approved by an
// engineer, are meant for it, are still valid, and keep its timing inside
// the envelope. It never trusts the network: every check runs here again,
// whatever the advisor already checked.
type Controller struct {
	ID      string
	Trusted ed25519.PublicKey
	Plan    *Plan              // the controller's own timing database: envelope and starting values
	State   map[string]float64 // NTCIP OID → value, in the object's unit
	applied map[string]bool
}

// NewController returns a controller holding plan's values.
func NewController(id string, trusted ed25519.PublicKey, plan *Plan) (*Controller, error) {
	if !events.ValidID(id) {
		return nil, fmt.Errorf("controller ID %q must match [a-z0-9-]+", id)
	}
	if len(trusted) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("controller %s: trusted key has %d bytes, want %d", id, len(trusted), ed25519.PublicKeySize)
	}
	if plan.Controller != id {
		return nil, fmt.Errorf("controller %s: the timing plan is for controller %q", id, plan.Controller)
	}
	return &Controller{ID: id, Trusted: trusted, Plan: plan, State: plan.ControllerState(), applied: map[string]bool{}}, nil
}

// Outcome is what the controller did with one recommendation.
type Outcome struct {
	// Ignored is true for a validly signed recommendation that is not yet
	// approved: nothing to do and nothing to acknowledge until it is.
	Ignored bool
	// Sets are the NTCIP sets made, in order (empty unless applied).
	Sets []events.Change
	// Ack is the acknowledgement to publish (nil when Ignored).
	Ack *events.Ack
}

// Handle checks r and applies it when every check passes.
func (c *Controller) Handle(r *events.Recommendation, now time.Time) Outcome {
	reject := func(format string, a ...any) Outcome {
		return Outcome{Ack: c.ack(r, now, events.AckRejected, fmt.Sprintf(format, a...), nil)}
	}
	if err := r.Validate(); err != nil {
		return reject("invalid record: %v", err)
	}
	if r.Target.Controller != c.ID {
		return reject("addressed to controller %q, this is %q", r.Target.Controller, c.ID)
	}
	if err := r.Verify(c.Trusted); err != nil {
		switch {
		case len(r.Signature) == 0:
			return reject("unsigned")
		case errors.Is(err, events.ErrBadSignature):
			return reject("signature does not verify with the trusted key (tampered or signed by another key): %v", err)
		}
		return reject("signature check failed: %v", err)
	}
	if r.Approval == nil {
		if r.State == events.Approved {
			return reject("state says approved but there is no signed approval")
		}
		return Outcome{Ignored: true}
	}
	if now.Before(r.ValidFrom) {
		return reject("not valid before %s", r.ValidFrom.Format(time.RFC3339))
	}
	if !now.Before(r.ValidUntil) {
		return reject("expired at %s", r.ValidUntil.Format(time.RFC3339))
	}
	if c.applied[r.ID] {
		return reject("already applied (replay)")
	}
	if err := c.Plan.CheckEnvelope(r, c.State); err != nil {
		return reject("%v", err)
	}
	sets := make([]events.Change, len(r.Changes))
	for i, ch := range r.Changes {
		c.State[ch.OID] = ch.Proposed
		sets[i] = ch
	}
	c.applied[r.ID] = true
	return Outcome{Sets: sets, Ack: c.ack(r, now, events.AckApplied, "", sets)}
}

func (c *Controller) ack(r *events.Recommendation, now time.Time, res events.AckResult, reason string, applied []events.Change) *events.Ack {
	site := r.Site
	if !events.ValidID(site) {
		site = c.Plan.Site
	}
	id := r.ID
	if id == "" {
		id = "unknown"
	}
	digest, _ := r.Digest() // a record that cannot be marshalled gets no digest, and moves nothing
	return &events.Ack{
		Header:     events.NewHeader(events.KindAck, site, "", now),
		Controller: c.ID, RecommendationID: id, Digest: digest, Result: res, Reason: reason, Applied: applied,
	}
}
