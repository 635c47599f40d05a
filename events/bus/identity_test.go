package bus

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/intersect-oss/intersect/events"
)

// secureServer creates a deployment with one identity per role and starts
// an embedded server that enforces it.
func secureServer(t *testing.T) (Deployment, *Server) {
	t.Helper()
	d := Deployment{Dir: t.TempDir() + "/nats"}
	_, err := d.Create([]Identity{
		{Name: "edge:site-a:cams", Role: RoleEdge, Site: "site-a", Cameras: []string{"cam-1"}},
		{Name: "edge:site-b:cams", Role: RoleEdge, Site: "site-b", Cameras: []string{"cam-1"}},
		{Name: "ingest", Role: RoleIngest},
		{Name: "controller:site-a:ctl-1", Role: RoleController, Site: "site-a", Controller: "ctl-1"},
		{Name: "controller:site-a:ctl-2", Role: RoleController, Site: "site-a", Controller: "ctl-2"},
	}, []string{"127.0.0.1", "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	if loose := d.LoosePermissions(); len(loose) > 0 {
		t.Fatalf("fresh deployment has loose key files: %v", loose)
	}
	srv, err := StartServer(context.Background(), ServerOptions{DataDir: t.TempDir(), Configure: d.ConfigureServer()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	return d, srv
}

// connectAs connects with the named identity and records async permission
// errors on the returned channel.
func connectAs(t *testing.T, d Deployment, srv *Server, name string) (*nats.Conn, chan error) {
	t.Helper()
	opts, err := d.Credentials(name).Options(quiet())
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 16)
	opts = append(opts, nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		select {
		case errc <- err:
		default:
		}
	}))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	nc, err := Connect(ctx, srv.ClientURL(), name, quiet(), opts...)
	if err != nil {
		t.Fatalf("connecting as %s: %v", name, err)
	}
	t.Cleanup(nc.Close)
	return nc, errc
}

func TestLeastPrivilege(t *testing.T) {
	d, srv := secureServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	// Ingest declares the streams (edge identities may not).
	inc, _ := connectAs(t, d, srv, "ingest")
	ijs, _ := jetstream.New(inc)
	if err := EnsureStreams(ctx, ijs, 1); err != nil {
		t.Fatalf("ingest declaring streams: %v", err)
	}

	t.Run("no credentials cannot connect", func(t *testing.T) {
		nc, err := nats.Connect(srv.ClientURL(), nats.RootCAs(d.CAFile()), nats.Timeout(2*time.Second))
		if err == nil {
			nc.Close()
			t.Fatal("anonymous client connected")
		}
		if !strings.Contains(strings.ToLower(err.Error()), "authorization") {
			t.Fatalf("anonymous connect error = %v, want an authorization violation", err)
		}
	})

	t.Run("edge publishes for its own cameras only", func(t *testing.T) {
		nc, _ := connectAs(t, d, srv, "edge:site-a:cams")
		ejs, _ := jetstream.New(nc)
		own := &events.CameraHealth{Header: events.NewHeader(events.KindHealth, "site-a", "cam-1", time.Now()), Status: events.CameraOK}
		if _, err := Publish(ctx, ejs, own); err != nil {
			t.Fatalf("edge publishing its own health: %v", err)
		}
		other := &events.CameraHealth{Header: events.NewHeader(events.KindHealth, "site-b", "cam-1", time.Now()), Status: events.CameraOK}
		pctx, pcancel := context.WithTimeout(ctx, 2*time.Second)
		defer pcancel()
		if _, err := Publish(pctx, ejs, other); err == nil {
			t.Fatal("edge of site-a published for site-b")
		}
		st, _ := ijs.Stream(ctx, events.EventsStream)
		info, _ := st.Info(ctx)
		if info.State.Msgs != 1 {
			t.Fatalf("events stream holds %d messages, want only site-a's 1", info.State.Msgs)
		}
	})

	t.Run("controller reads only its own recommendations", func(t *testing.T) {
		nc, errc := connectAs(t, d, srv, "controller:site-a:ctl-1")
		if _, err := nc.SubscribeSync(events.RecommendationSubject("site-a", "ctl-2")); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-errc:
			if !errors.Is(err, nats.ErrPermissionViolation) && !strings.Contains(strings.ToLower(err.Error()), "permissions violation") {
				t.Fatalf("unexpected error %v", err)
			}
		case <-time.After(3 * time.Second):
			t.Fatal("subscribing to another controller's subject was not rejected")
		}
		cjs, _ := jetstream.New(nc)
		if _, err := cjs.CreateOrUpdateConsumer(ctx, events.RecommendationsStream, jetstream.ConsumerConfig{
			Durable: ConsumerName("site-a", "ctl-1"), FilterSubject: events.RecommendationSubject("site-a", "ctl-1"), AckPolicy: jetstream.AckExplicitPolicy,
		}); err != nil {
			t.Fatalf("controller creating its own consumer: %v", err)
		}
		cctx, ccancel := context.WithTimeout(ctx, 2*time.Second)
		defer ccancel()
		if _, err := cjs.CreateOrUpdateConsumer(cctx, events.RecommendationsStream, jetstream.ConsumerConfig{
			Durable: ConsumerName("site-a", "ctl-1"), FilterSubject: events.RecommendationSubject("site-a", "ctl-2"), AckPolicy: jetstream.AckExplicitPolicy,
		}); err == nil {
			t.Fatal("controller created a consumer on another controller's recommendations")
		}
	})
}

func TestKeyFileModeWarning(t *testing.T) {
	d, _ := secureServer(t)
	seed := d.SeedFile("ingest")
	if err := os.Chmod(seed, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := CheckKeyFileMode(seed); !errors.Is(err, ErrKeyFileMode) {
		t.Fatalf("CheckKeyFileMode(0644) = %v", err)
	}
	if n := len(d.LoosePermissions()); n != 1 {
		t.Fatalf("LoosePermissions found %d files, want 1", n)
	}
}

func TestCreateRefusesOverwrite(t *testing.T) {
	d, _ := secureServer(t)
	if _, err := d.Create([]Identity{{Name: "ingest", Role: RoleIngest}}, nil); err == nil {
		t.Fatal("Create overwrote an existing deployment")
	}
}
