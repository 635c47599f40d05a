package outbox

import (
	"bytes"
	"context"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/intersect-oss/intersect/events"
)

// SnapshotSubject marks an outbox entry that is a snapshot JPEG for the
// object store rather than a message: snapshots ride the same outbox so that
// they too survive an outage, and they are uploaded before the near miss
// that references them (the near miss is put after its snapshot).
const SnapshotSubject = "_snapshot"

// KindSnapshot is the outbox kind of snapshot entries. Under the cap policy
// it is treated like a near miss (never dropped before HardCap).
const KindSnapshot events.Kind = "snapshot"

// JetStream publishes to a JetStream server: messages with Nats-Msg-Id set
// to the event ID (the stream drops retries), snapshots into the
// events.SnapshotBucket object store keyed by event ID.
type JetStream struct {
	JS jetstream.JetStream
}

// Publish implements Publisher; it returns after the PubAck (or the object
// store's confirmation).
func (j JetStream) Publish(ctx context.Context, subject, msgID string, data []byte) error {
	if subject == SnapshotSubject {
		obs, err := j.JS.ObjectStore(ctx, events.SnapshotBucket)
		if err != nil {
			return fmt.Errorf("opening object store %s: %w", events.SnapshotBucket, err)
		}
		if _, err := obs.Put(ctx, jetstream.ObjectMeta{Name: msgID, Description: "near-miss snapshot, people blurred"}, bytes.NewReader(data)); err != nil {
			return fmt.Errorf("storing snapshot %s: %w", msgID, err)
		}
		return nil
	}
	if _, err := j.JS.Publish(ctx, subject, data, jetstream.WithMsgID(msgID)); err != nil {
		return err
	}
	return nil
}
