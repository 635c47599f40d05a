package api

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/intersect-oss/intersect/events"
	"github.com/intersect-oss/intersect/store"
)

// nearMissPage is the JSON shape of a page of near misses.
type nearMissPage struct {
	Items      []events.NearMiss `json:"items"`
	NextCursor string            `json:"next_cursor,omitempty"`
}

func (s *Server) listNearMisses(w http.ResponseWriter, r *http.Request) {
	q, perr := parseNearMissQuery(r.URL.Query())
	if perr != nil {
		writeError(w, http.StatusBadRequest, perr.Param, perr.Error())
		return
	}
	page, err := s.store.NearMisses(r.Context(), q)
	if err != nil {
		if errors.Is(err, store.ErrBadInput) && q.Cursor != "" && strings.Contains(err.Error(), "cursor") {
			writeError(w, http.StatusBadRequest, "cursor", "parameter \"cursor\": not a cursor this API issued (copy next_cursor from the previous page)")
			return
		}
		s.storeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, nearMissPage{Items: nonNil(page.Items), NextCursor: page.Next})
}

// eventIDPattern admits the IDs events mint (UUIDv7) and ULIDs, and nothing
// that could be mistaken for a path or a query.
var eventIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`)

// pathID reads the {id} path segment, answering 400 when it cannot be an ID.
func pathID(w http.ResponseWriter, r *http.Request) (string, bool) {
	id := r.PathValue("id")
	if !eventIDPattern.MatchString(id) {
		writeError(w, http.StatusBadRequest, "id", fmt.Sprintf("parameter \"id\": %q is not an event ID (letters, digits, '-' and '_', at most 64)", truncate(id, 80)))
		return "", false
	}
	return id, true
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func (s *Server) getNearMiss(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	nm, err := s.store.NearMiss(r.Context(), id)
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, nm)
}

// jpegMagic starts every JPEG (SOI marker); anything else in the bucket is
// not served as an image.
var jpegMagic = []byte{0xFF, 0xD8, 0xFF}

func (s *Server) getSnapshot(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	nm, err := s.nearMissInFlight(r.Context(), id)
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	if nm.SnapshotKey == "" {
		writeError(w, http.StatusNotFound, "id", "near miss "+id+" has no snapshot")
		return
	}
	if s.snapshots == nil {
		writeError(w, http.StatusServiceUnavailable, "", "snapshots are not available: this server has no connection to the object store")
		return
	}
	img, err := s.snapshots.Get(r.Context(), nm.SnapshotKey)
	switch {
	case errors.Is(err, ErrNoSnapshot):
		writeError(w, http.StatusNotFound, "id", "the snapshot of near miss "+id+" is no longer in the object store")
		return
	case err != nil:
		s.log.Error("reading snapshot", "id", id, "key", nm.SnapshotKey, "err", err)
		writeError(w, http.StatusBadGateway, "", "reading the snapshot from the object store failed; see the server log")
		return
	case !bytes.HasPrefix(img, jpegMagic):
		s.log.Error("snapshot is not a JPEG", "id", id, "key", nm.SnapshotKey, "bytes", len(img))
		writeError(w, http.StatusBadGateway, "", "the stored snapshot of near miss "+id+" is not a JPEG")
		return
	}
	w.Header().Set("Content-Type", "image/jpeg")
	w.Header().Set("Content-Length", strconv.Itoa(len(img)))
	w.Header().Set("X-Content-Type-Options", "nosniff")
	// A snapshot never changes once stored under its event ID.
	w.Header().Set("Cache-Control", "private, max-age=86400, immutable")
	_, _ = w.Write(img)
}

// inFlightWait is how long a request for a near miss born moments ago
// waits for ingest to store it: the live feed delivers an event to the
// browser a little before its batch commits, and the browser asks for the
// snapshot at once.
const inFlightWait = 2 * time.Second

// nearMissInFlight is store.NearMiss, but for an ID minted within the last
// minute (event IDs are UUIDv7, so they carry their birth time) it waits up
// to inFlightWait for the row before answering not found.
func (s *Server) nearMissInFlight(ctx context.Context, id string) (*events.NearMiss, error) {
	deadline := time.Now().Add(inFlightWait)
	for {
		nm, err := s.store.NearMiss(ctx, id)
		if !errors.Is(err, store.ErrNotFound) || !recentID(id) || time.Now().After(deadline) {
			return nm, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// recentID reports whether id is a UUIDv7 minted within the last minute.
func recentID(id string) bool {
	u, err := uuid.Parse(id)
	if err != nil || u.Version() != 7 {
		return false
	}
	sec, nsec := u.Time().UnixTime()
	return time.Since(time.Unix(sec, nsec)) < time.Minute
}

// ObjectStoreSnapshots reads snapshots from a JetStream object store.
type ObjectStoreSnapshots struct {
	Store jetstream.ObjectStore
}

// OpenSnapshots returns the snapshot bucket (events.SnapshotBucket) of js.
func OpenSnapshots(ctx context.Context, js jetstream.JetStream) (*ObjectStoreSnapshots, error) {
	os, err := js.ObjectStore(ctx, events.SnapshotBucket)
	if err != nil {
		return nil, fmt.Errorf("opening object store %s: %w", events.SnapshotBucket, err)
	}
	return &ObjectStoreSnapshots{Store: os}, nil
}

// maxSnapshotBytes guards the server against a bucket entry that is not a
// snapshot at all; a blurred 1080p JPEG is well under this.
const maxSnapshotBytes = 16 << 20

// Get implements SnapshotStore.
func (o *ObjectStoreSnapshots) Get(ctx context.Context, key string) ([]byte, error) {
	info, err := o.Store.GetInfo(ctx, key)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return nil, fmt.Errorf("%s/%s: %w", events.SnapshotBucket, key, ErrNoSnapshot)
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s/%s: %w", events.SnapshotBucket, key, err)
	}
	if info.Size > maxSnapshotBytes {
		return nil, fmt.Errorf("%s/%s is %d bytes, more than a snapshot can be (%d)", events.SnapshotBucket, key, info.Size, maxSnapshotBytes)
	}
	b, err := o.Store.GetBytes(ctx, key)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return nil, fmt.Errorf("%s/%s: %w", events.SnapshotBucket, key, ErrNoSnapshot)
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s/%s: %w", events.SnapshotBucket, key, err)
	}
	return b, nil
}
