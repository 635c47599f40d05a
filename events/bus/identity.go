package bus

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/intersect-oss/intersect/events"
)

// Role is what a NATS identity is for. Each role gets exactly the subjects it
// needs, enforced by the server (least privilege), so a compromised edge box
// cannot speak for another site's cameras and a controller cannot read
// another controller's recommendations.
type Role string

const (
	RoleEdge       Role = "edge"
	RoleIngest     Role = "ingest"
	RoleAdvisor    Role = "advisor"
	RoleAPI        Role = "api"
	RoleController Role = "controller"
)

// Identity is one NATS user: a role, its scope and its NKey public key.
type Identity struct {
	Name       string   `json:"name"` // e.g. "edge:demo:all", "controller:demo:ctl-1"
	Role       Role     `json:"role"`
	Site       string   `json:"site,omitempty"`
	Cameras    []string `json:"cameras,omitempty"`    // edge: the cameras it may publish for
	Controller string   `json:"controller,omitempty"` // controller: its ID
	PublicKey  string   `json:"public_key"`           // NKey user public key (U...)
}

// Validate checks the identity's scope.
func (id Identity) Validate() error {
	var errs []error
	if _, err := nkeys.FromPublicKey(id.PublicKey); err != nil || !strings.HasPrefix(id.PublicKey, "U") {
		errs = append(errs, fmt.Errorf("public_key %q is not an NKey user key", id.PublicKey))
	}
	needSite := id.Role == RoleEdge || id.Role == RoleController || id.Role == RoleAdvisor
	if needSite && !events.ValidID(id.Site) {
		errs = append(errs, fmt.Errorf("site %q must match [a-z0-9-]+", id.Site))
	}
	switch id.Role {
	case RoleEdge:
		if len(id.Cameras) == 0 {
			errs = append(errs, errors.New("an edge identity needs at least one camera"))
		}
		for _, c := range id.Cameras {
			if !events.ValidID(c) {
				errs = append(errs, fmt.Errorf("camera %q must match [a-z0-9-]+", c))
			}
		}
	case RoleController:
		if !events.ValidID(id.Controller) {
			errs = append(errs, fmt.Errorf("controller %q must match [a-z0-9-]+", id.Controller))
		}
	case RoleIngest, RoleAdvisor, RoleAPI:
	default:
		errs = append(errs, fmt.Errorf("unknown role %q", id.Role))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("identity %q: %w", id.Name, err)
	}
	return nil
}

// InboxPrefix is the reply-subject prefix a client with this public key
// uses. Each identity gets its own, so no identity can subscribe to the
// replies (JetStream acks, API answers) meant for another.
func InboxPrefix(publicKey string) string {
	return "_I." + strings.ToLower(publicKey[:min(len(publicKey), 20)])
}

// js names a JetStream API subject.
func js(format string, a ...any) string { return "$JS.API." + fmt.Sprintf(format, a...) }

// objStream is the stream behind the snapshot object store.
const objStream = "OBJ_" + events.SnapshotBucket

// ConsumerName is the durable consumer a controller identity may use.
func ConsumerName(site, controller string) string { return "ctl-" + site + "-" + controller }

// AdvisorConsumer is the durable consumer an advisor identity may use: one
// per site, so that advisors of several sites on one server never rewrite
// each other's filter.
func AdvisorConsumer(site string) string { return "advisor-" + site }

// Permissions returns the server-side permissions of id.
func Permissions(id Identity) *server.Permissions {
	var pub, sub []string
	inbox := InboxPrefix(id.PublicKey) + ".>"
	sub = append(sub, inbox)
	// Durable pull consumers: create/update (with or without a filter in
	// the subject), info, next, ack.
	consumer := func(stream, name string) {
		pub = append(pub,
			js("CONSUMER.CREATE.%s.%s", stream, name),
			js("CONSUMER.CREATE.%s.%s.>", stream, name),
			js("CONSUMER.DURABLE.CREATE.%s.%s", stream, name),
			js("CONSUMER.INFO.%s.%s", stream, name),
			js("CONSUMER.MSG.NEXT.%s.%s", stream, name),
			fmt.Sprintf("$JS.ACK.%s.%s.>", stream, name),
		)
	}
	declare := func() {
		for _, s := range []string{events.EventsStream, events.RecommendationsStream, objStream} {
			pub = append(pub, js("STREAM.CREATE.%s", s), js("STREAM.UPDATE.%s", s), js("STREAM.INFO.%s", s))
		}
	}
	switch id.Role {
	case RoleEdge:
		for _, c := range id.Cameras {
			pub = append(pub, fmt.Sprintf("%s.%s.%s.>", events.Prefix, id.Site, c))
		}
		// Snapshots: write chunks and metadata to the object store, and
		// the lookups a put makes. Reading other objects is not allowed.
		pub = append(pub,
			js("STREAM.INFO.%s", events.EventsStream),
			js("STREAM.INFO.%s", objStream),
			js("STREAM.PURGE.%s", objStream),
			js("STREAM.MSG.GET.%s", objStream),
			js("DIRECT.GET.%s.>", objStream),
			"$O."+events.SnapshotBucket+".C.>",
			"$O."+events.SnapshotBucket+".M.>",
		)
	case RoleIngest:
		declare()
		consumer(events.EventsStream, "ingest")
		consumer(events.RecommendationsStream, "ingest")
	case RoleAdvisor:
		declare()
		consumer(events.EventsStream, AdvisorConsumer(id.Site))
		consumer(events.RecommendationsStream, AdvisorConsumer(id.Site))
		pub = append(pub,
			events.RecommendationSubject(id.Site, "*"),
			events.WeatherSubject(id.Site),
		)
	case RoleAPI:
		// The live feed is a plain subscription; history comes from the store.
		sub = append(sub,
			events.Prefix+".*.*."+string(events.KindNearMiss),
			events.Prefix+".*.*."+string(events.KindHealth),
			events.Prefix+".*.signal.*."+string(events.KindRecommendation),
		)
		// Snapshots are read through ordered (ephemeral) consumers.
		pub = append(pub,
			js("STREAM.INFO.%s", objStream),
			js("STREAM.MSG.GET.%s", objStream),
			js("DIRECT.GET.%s.>", objStream),
			js("CONSUMER.CREATE.%s.>", objStream),
			js("CONSUMER.DELETE.%s.>", objStream),
		)
		sub = append(sub, "_INBOX.>") // ordered consumers deliver to generated inboxes
	case RoleController:
		name := ConsumerName(id.Site, id.Controller)
		own := events.RecommendationSubject(id.Site, id.Controller)
		// Only the filtered create form: the filter in the API subject is
		// the controller's own subject, so it cannot widen its consumer.
		pub = append(pub,
			js("CONSUMER.CREATE.%s.%s.%s", events.RecommendationsStream, name, own),
			js("CONSUMER.INFO.%s.%s", events.RecommendationsStream, name),
			js("CONSUMER.MSG.NEXT.%s.%s", events.RecommendationsStream, name),
			fmt.Sprintf("$JS.ACK.%s.%s.>", events.RecommendationsStream, name),
			js("STREAM.INFO.%s", events.RecommendationsStream),
			events.AckSubject(id.Site, id.Controller),
		)
		sub = append(sub, own)
	}
	return &server.Permissions{
		Publish:   &server.SubjectPermission{Allow: pub},
		Subscribe: &server.SubjectPermission{Allow: sub},
	}
}

// NkeyUsers returns the server's user list for identities.
func NkeyUsers(ids []Identity) ([]*server.NkeyUser, error) {
	users := make([]*server.NkeyUser, 0, len(ids))
	seen := map[string]string{}
	for _, id := range ids {
		if err := id.Validate(); err != nil {
			return nil, err
		}
		if other, dup := seen[id.PublicKey]; dup {
			return nil, fmt.Errorf("identities %q and %q share a public key", other, id.Name)
		}
		seen[id.PublicKey] = id.Name
		users = append(users, &server.NkeyUser{Nkey: id.PublicKey, Permissions: Permissions(id)})
	}
	return users, nil
}

// LoadIdentities reads an identities file written by `intersect init`.
func LoadIdentities(path string) ([]Identity, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading identities %s: %w", path, err)
	}
	var ids []Identity
	if err := json.Unmarshal(b, &ids); err != nil {
		return nil, fmt.Errorf("parsing identities %s: %w", path, err)
	}
	for _, id := range ids {
		if err := id.Validate(); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	return ids, nil
}

// Credentials is how a client proves who it is: its NKey seed file, and the
// CA that signed the server's certificate when TLS is on.
type Credentials struct {
	SeedFile string
	CAFile   string
}

// Options returns the nats.Options that authenticate with c: the NKey
// signature, the identity's own inbox prefix and the trusted CA. A seed file
// readable by others is used, with a warning on log.
func (c Credentials) Options(log *slog.Logger) ([]nats.Option, error) {
	var opts []nats.Option
	if c.SeedFile != "" {
		if err := CheckKeyFileMode(c.SeedFile); err != nil {
			if !errors.Is(err, ErrKeyFileMode) {
				return nil, err
			}
			log.Warn("key material is readable by others", "err", err)
		}
		opt, err := nats.NkeyOptionFromSeed(c.SeedFile)
		if err != nil {
			return nil, fmt.Errorf("reading NKey seed %s: %w", c.SeedFile, err)
		}
		seed, err := os.ReadFile(c.SeedFile)
		if err != nil {
			return nil, fmt.Errorf("reading NKey seed %s: %w", c.SeedFile, err)
		}
		kp, err := nkeys.ParseDecoratedNKey(seed)
		if err != nil {
			return nil, fmt.Errorf("NKey seed %s: %w", c.SeedFile, err)
		}
		pub, _ := kp.PublicKey()
		kp.Wipe()
		opts = append(opts, opt, nats.CustomInboxPrefix(InboxPrefix(pub)))
	}
	if c.CAFile != "" {
		opts = append(opts, nats.RootCAs(c.CAFile))
	}
	return opts, nil
}

// ErrKeyFileMode is returned for key material readable by others.
var ErrKeyFileMode = errors.New("key file is readable by group or others")

// CheckKeyFileMode reports (ErrKeyFileMode) key material whose permissions
// are looser than 0600: a seed readable by other local users is a leak.
func CheckKeyFileMode(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("key file %s: %w", path, err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("%s has mode %04o, want 0600 (chmod 600 %s): %w", path, fi.Mode().Perm(), path, ErrKeyFileMode)
	}
	return nil
}
