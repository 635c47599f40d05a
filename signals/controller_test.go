package signals

import (
	"crypto/ed25519"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/intersect-oss/intersect/events"
)

// approvedLPI returns an LPI recommendation for the demo plan, signed and
// approved with priv.
func approvedLPI(t *testing.T, p *Plan, priv ed25519.PrivateKey) *events.Recommendation {
	t.Helper()
	a := &Advisor{Plan: p, Key: priv, KeyID: "k"}
	var nms []*events.NearMiss
	for i := 0; i < 12; i++ {
		nms = append(nms, nearMiss(evalAt.Add(-time.Duration(i)*time.Hour), events.RightTurnCrosswalk, "SB", "crosswalk-west"))
	}
	res, err := a.Evaluate(Input{At: evalAt, NearMisses: nms, Tracks: crossings(evalAt, "crosswalk-west", 400, normalWalkers)})
	if err != nil {
		t.Fatal(err)
	}
	r := byRule(res.Recommendations, RuleLPI, 2)
	if r == nil {
		t.Fatalf("no LPI: %+v", res.Skipped)
	}
	if err := r.Approve(priv, "engineer@city", "checked video", evalAt.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	return r
}

func TestControllerAppliesApproved(t *testing.T) {
	p := demoPlan(t)
	pub, priv, _ := ed25519.GenerateKey(nil)
	c, err := NewController("ctl-1", pub, p)
	if err != nil {
		t.Fatal(err)
	}
	r := approvedLPI(t, p, priv)
	now := evalAt.Add(time.Hour)
	out := c.Handle(r, now)
	if out.Ack == nil || out.Ack.Result != events.AckApplied {
		t.Fatalf("ack = %+v", out.Ack)
	}
	if err := out.Ack.Validate(); err != nil {
		t.Fatalf("ack invalid: %v", err)
	}
	oid := p.lpiOID(2)
	if len(out.Sets) != 1 || out.Sets[0].OID != oid || c.State[oid] != 4 {
		t.Fatalf("sets %+v, state %v", out.Sets, c.State[oid])
	}
	// Replaying the same record is refused.
	if again := c.Handle(r, now); again.Ack.Result != events.AckRejected || !strings.Contains(again.Ack.Reason, "replay") {
		t.Errorf("replay: %+v", again.Ack)
	}
	// Unapproved but genuine: ignored, not rejected.
	r2 := approvedLPI(t, p, priv)
	r2.Approval, r2.State = nil, events.Proposed
	if out := c.Handle(r2, now); !out.Ignored || out.Ack != nil {
		t.Errorf("unapproved: %+v", out)
	}
}

func TestControllerRejects(t *testing.T) {
	p := demoPlan(t)
	pub, priv, _ := ed25519.GenerateKey(nil)
	_, otherPriv, _ := ed25519.GenerateKey(nil)
	now := evalAt.Add(time.Hour)
	cases := []struct {
		name string
		mut  func(r *events.Recommendation)
		want string
	}{
		{"unsigned", func(r *events.Recommendation) { r.Signature = nil }, "unsigned"},
		{"tampered value", func(r *events.Recommendation) { r.Changes[0].Proposed = 7 }, "does not verify"},
		{"tampered approval", func(r *events.Recommendation) { r.Approval.By = "mallory" }, "does not verify"},
		{"signed by another key", func(r *events.Recommendation) {
			_ = r.Sign(otherPriv, "x")
			_ = r.Approve(otherPriv, "e", "", evalAt)
		}, "does not verify"},
		{"claims approval", func(r *events.Recommendation) { r.Approval = nil; r.State = events.Approved }, "no signed approval"},
		{"other controller", func(r *events.Recommendation) {
			r.Target.Controller = "ctl-2"
			_ = r.Sign(priv, "k")
			_ = r.Approve(priv, "e", "", evalAt)
		}, `addressed to controller "ctl-2"`},
		{"expired", func(r *events.Recommendation) {
			r.ValidUntil = now.Add(-time.Second)
			_ = r.Sign(priv, "k")
			_ = r.Approve(priv, "e", "", evalAt)
		}, "expired"},
		{"not yet valid", func(r *events.Recommendation) {
			r.ValidFrom = now.Add(time.Hour)
			_ = r.Sign(priv, "k")
			_ = r.Approve(priv, "e", "", evalAt)
		}, "not valid before"},
		{"out of bounds though signed", func(r *events.Recommendation) {
			r.Changes[0].Proposed = 9 // LPI above 7 s
			r.Rollback = reversed(r.Changes)
			_ = r.Sign(priv, "k")
			_ = r.Approve(priv, "e", "", evalAt)
		}, "above the maximum"},
		{"invalid record", func(r *events.Recommendation) { r.Changes = nil }, "invalid record"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := NewController("ctl-1", pub, p)
			if err != nil {
				t.Fatal(err)
			}
			before := c.State[p.lpiOID(2)]
			r := approvedLPI(t, p, priv)
			tc.mut(r)
			out := c.Handle(r, now)
			if out.Ack == nil || out.Ack.Result != events.AckRejected || !strings.Contains(out.Ack.Reason, tc.want) {
				t.Fatalf("ack = %+v, want rejection containing %q", out.Ack, tc.want)
			}
			if err := out.Ack.Validate(); err != nil {
				t.Errorf("ack invalid: %v", err)
			}
			if len(out.Sets) != 0 || c.State[p.lpiOID(2)] != before {
				t.Errorf("rejected recommendation changed state: %+v", out.Sets)
			}
		})
	}
}

func TestKeyFiles(t *testing.T) {
	dir := t.TempDir()
	priv, pub := filepath.Join(dir, "advisor.key"), filepath.Join(dir, "advisor.pub")
	want, err := GenerateKeyFiles(priv, pub)
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(priv); st.Mode().Perm() != 0o600 {
		t.Errorf("private key mode %04o", st.Mode().Perm())
	}
	k, warn, err := LoadPrivateKey(priv)
	if err != nil || warn != "" {
		t.Fatalf("load: %v %q", err, warn)
	}
	got, err := LoadPublicKey(pub)
	if err != nil || !got.Equal(want) || !k.Public().(ed25519.PublicKey).Equal(want) {
		t.Fatalf("public key round trip: %v", err)
	}
	if len(KeyID(got)) != 16 {
		t.Errorf("key ID %q", KeyID(got))
	}
	if _, err := GenerateKeyFiles(priv, pub); err == nil {
		t.Error("overwrote an existing private key")
	}
	_ = os.Chmod(priv, 0o644)
	if _, warn, _ := LoadPrivateKey(priv); !strings.Contains(warn, "0644") {
		t.Errorf("no warning for a world-readable key: %q", warn)
	}
	if _, err := LoadPublicKey(priv); err == nil || !strings.Contains(err.Error(), `"PRIVATE KEY" block`) {
		t.Errorf("public key from a private key file: %v", err)
	}
	bad := filepath.Join(dir, "bad")
	_ = os.WriteFile(bad, []byte("nope"), 0o600)
	if _, _, err := LoadPrivateKey(bad); err == nil || !strings.Contains(err.Error(), "no PEM block") {
		t.Errorf("garbage key: %v", err)
	}
}
