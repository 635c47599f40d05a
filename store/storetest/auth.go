package storetest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/intersect-oss/intersect/store"
)

func tokenHash(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}

// testTokens: create, look up by hash, list, revoke (and what a revoked
// token can no longer do), duplicates and bad tokens refused.
func testTokens(t *testing.T, s store.Store) {
	ctx := context.Background()
	a := store.APIToken{ID: "t-admin", Name: "ops", Role: "admin", Hash: tokenHash("secret-a"), Created: t0}
	v := store.APIToken{ID: "t-viewer", Name: "kiosk", Role: "viewer", Hash: tokenHash("secret-v"), Created: t0.Add(time.Minute)}
	for _, tok := range []store.APIToken{a, v} {
		if err := s.CreateToken(ctx, tok); err != nil {
			t.Fatalf("CreateToken %s: %v", tok.ID, err)
		}
	}
	got, err := s.TokenByHash(ctx, a.Hash)
	if err != nil || got.ID != a.ID || got.Name != "ops" || got.Role != "admin" || !got.Created.Equal(t0) || !got.Revoked.IsZero() {
		t.Fatalf("TokenByHash = %+v, %v; want %+v", got, err, a)
	}
	if _, err := s.TokenByHash(ctx, tokenHash("not issued")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown hash: %v, want ErrNotFound", err)
	}
	dupID := v
	dupID.Hash = tokenHash("other")
	dupHash := v
	dupHash.ID = "t-other"
	for name, tok := range map[string]store.APIToken{"same id": dupID, "same hash": dupHash} {
		if err := s.CreateToken(ctx, tok); !errors.Is(err, store.ErrConflict) {
			t.Errorf("%s: CreateToken = %v, want ErrConflict", name, err)
		}
	}
	bad := []store.APIToken{
		{ID: "", Name: "x", Role: "viewer", Hash: tokenHash("b1"), Created: t0},
		{ID: "b2", Name: " ", Role: "viewer", Hash: tokenHash("b2"), Created: t0},
		{ID: "b3", Name: "x", Role: "viewer", Hash: "secret-in-clear", Created: t0},
		{ID: "b4", Name: "x", Role: "viewer", Hash: tokenHash("b4")[:62], Created: t0},
		{ID: "b5", Name: "x", Role: "", Hash: tokenHash("b5"), Created: t0},
		{ID: "b6", Name: "x", Role: "viewer", Hash: tokenHash("b6")},
	}
	for _, tok := range bad {
		if err := s.CreateToken(ctx, tok); !errors.Is(err, store.ErrBadInput) {
			t.Errorf("CreateToken(%+v) = %v, want ErrBadInput", tok, err)
		}
	}
	revokedAt := t0.Add(time.Hour)
	if err := s.RevokeToken(ctx, v.ID, revokedAt); err != nil {
		t.Fatalf("RevokeToken: %v", err)
	}
	if _, err := s.TokenByHash(ctx, v.Hash); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("revoked token still found: %v", err)
	}
	if err := s.RevokeToken(ctx, v.ID, revokedAt); !errors.Is(err, store.ErrConflict) {
		t.Errorf("second revoke = %v, want ErrConflict", err)
	}
	if err := s.RevokeToken(ctx, "t-nobody", revokedAt); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("revoke unknown = %v, want ErrNotFound", err)
	}
	all, err := s.Tokens(ctx)
	if err != nil || len(all) != 2 {
		t.Fatalf("Tokens = %+v, %v; want 2", all, err)
	}
	if all[0].ID != a.ID || !all[0].Revoked.IsZero() || all[1].ID != v.ID || !all[1].Revoked.Equal(revokedAt) {
		t.Fatalf("Tokens = %+v; want admin valid, viewer revoked at %s", all, revokedAt)
	}
}

// testAudit: append, filter by action and time, page with the cursor,
// refuse bad entries.
func testAudit(t *testing.T, s store.Store) {
	ctx := context.Background()
	actions := []string{"token.created", "recommendation.approved", "auth.failure"}
	for i := range 25 {
		e := store.AuditEntry{At: t0.Add(time.Duration(i) * time.Minute), Actor: fmt.Sprintf("user-%d", i%4),
			Action: actions[i%3], Target: fmt.Sprintf("target-%d", i), Detail: "détail ✓"}
		if err := s.AppendAudit(ctx, e); err != nil {
			t.Fatalf("AppendAudit %d: %v", i, err)
		}
	}
	// Newest first, all of them over pages of 7, seq strictly decreasing.
	var seen []store.AuditEntry
	q := store.AuditQuery{Limit: 7}
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("audit pagination does not end")
		}
		p, err := s.Audit(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		seen = append(seen, p.Items...)
		if p.Next == 0 {
			break
		}
		q.Before = p.Next
	}
	if len(seen) != 25 {
		t.Fatalf("paged %d entries, want 25", len(seen))
	}
	for i, e := range seen {
		want := 24 - i
		if e.Target != fmt.Sprintf("target-%d", want) || !e.At.Equal(t0.Add(time.Duration(want)*time.Minute)) || e.Detail != "détail ✓" {
			t.Fatalf("entry %d = %+v, want target-%d", i, e, want)
		}
		if i > 0 && e.Seq >= seen[i-1].Seq {
			t.Fatalf("seq not decreasing at %d: %d after %d", i, e.Seq, seen[i-1].Seq)
		}
	}
	// Action and [from, to) together: approvals at minutes 1, 4, ..., 22; of
	// those, [5, 14) holds 7, 10, 13.
	p, err := s.Audit(ctx, store.AuditQuery{Action: "recommendation.approved", From: t0.Add(5 * time.Minute), To: t0.Add(14 * time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range p.Items {
		got = append(got, e.Target)
	}
	if fmt.Sprint(got) != "[target-13 target-10 target-7]" || p.Next != 0 {
		t.Fatalf("filtered audit = %v (next %d)", got, p.Next)
	}
	for name, e := range map[string]store.AuditEntry{
		"no actor":    {Action: "x"},
		"no action":   {Actor: "x"},
		"huge detail": {Actor: "x", Action: "y", Detail: string(make([]byte, 5000))},
	} {
		if err := s.AppendAudit(ctx, e); !errors.Is(err, store.ErrBadInput) {
			t.Errorf("%s: AppendAudit = %v, want ErrBadInput", name, err)
		}
	}
	for name, q := range map[string]store.AuditQuery{
		"to before from": {From: t0, To: t0.Add(-time.Second)},
		"limit":          {Limit: store.MaxLimit + 1},
		"cursor":         {Before: -3},
	} {
		if _, err := s.Audit(ctx, q); !errors.Is(err, store.ErrBadInput) {
			t.Errorf("%s: Audit = %v, want ErrBadInput", name, err)
		}
	}
}
