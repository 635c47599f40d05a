package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/intersect-oss/intersect/api"
	"github.com/intersect-oss/intersect/events"
	"github.com/intersect-oss/intersect/events/bus"
	"github.com/intersect-oss/intersect/signals"
	"github.com/intersect-oss/intersect/store"
)

func initCommand() command {
	return command{
		name:    "init",
		summary: "create a deployment: NATS identities and TLS, the advisor's signing key, the first API admin token",
		run:     runInit,
	}
}

// deploymentSpec is what a deployment is created for.
type deploymentSpec struct {
	site        string
	edges       map[string][]string // camera set → cameras
	controllers []string
	hosts       []string
}

// Layout of a deployment directory (the --secrets of every service).
func signingKeyFile(dir string) string { return filepath.Join(dir, "signing", "advisor.key") }
func signingPubFile(dir string) string { return filepath.Join(dir, "signing", "advisor.pub") }
func tokenFile(dir string) string      { return filepath.Join(dir, "api", "tokens.json") }

// rotateTLS issues a new server certificate in the deployment at dir.
// Clients trust the CA, not the certificate, so nothing else changes.
func rotateTLS(e env, dir, hosts string) error {
	if dir == "" {
		return badInput("--out DIR (the deployment) is required with --rotate-tls")
	}
	d := bus.Deployment{Dir: filepath.Join(dir, "nats")}
	if !d.Exists() {
		return badInput("%s holds no deployment (no nats/identities.json)", dir)
	}
	var hs []string
	for _, h := range strings.Split(hosts, ",") {
		if h = strings.TrimSpace(h); h != "" {
			hs = append(hs, h)
		}
	}
	if len(hs) == 0 {
		return badInput("--hosts names no host")
	}
	if err := d.RotateTLS(hs, 365*24*time.Hour); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "New NATS server certificate for %s in %s (valid one year). Restart the NATS server to use it; clients keep trusting ca.pem.\n", strings.Join(hs, ", "), d.ServerCertFile())
	return nil
}

func runInit(ctx context.Context, e env) error {
	fs := newFlags(e, "init", "init --site S --out DIR [--cameras cam-1,cam-2] [--camera-set NAME] [--controllers ctl-1,...] [--hosts 127.0.0.1,localhost]", `
Creates a deployment in DIR, to be given to every service as --secrets DIR
(or copied in part to each box; DIR/README.txt says which file goes where):

  DIR/nats/        NKey identities with least-privilege subject permissions
                   (edge:<site>:<camera-set>, ingest, advisor, api,
                   controller:<site>:<id>), a private CA and the NATS
                   server's TLS certificate for --hosts
  DIR/signing/     the advisor's Ed25519 signing key (advisor.key) and the
                   public key controllers trust (advisor.pub)
  DIR/api/         tokens.json: the first API admin token, as its SHA-256
                   only; serve stores it in its database on start

The admin token itself is printed once on stdout and stored nowhere. Key
material is written 0600. init refuses to overwrite an existing deployment.`)
	site := fs.String("site", "", "site ID (required)")
	out := fs.String("out", "", "directory to create (required)")
	cams := fs.String("cameras", "", "comma-separated camera IDs the edge identity may publish for (none: no edge identity)")
	set := fs.String("camera-set", "all", "name of the edge identity's camera set: edge:<site>:<camera-set>")
	ctls := fs.String("controllers", "", "comma-separated controller IDs, one identity each")
	hosts := fs.String("hosts", "127.0.0.1,localhost", "comma-separated DNS names and IPs of the NATS server (its TLS certificate)")
	rotate := fs.Bool("rotate-tls", false, "in an existing deployment --out, issue a new NATS server certificate for --hosts from its CA (valid one year), then exit; restart the NATS server to use it")
	if err := parse(fs, e.args); err != nil {
		return err
	}
	if *rotate {
		return rotateTLS(e, *out, *hosts)
	}
	switch {
	case !events.ValidID(*site):
		return badInput("--site %q must match [a-z0-9-]+", *site)
	case *out == "":
		return badInput("--out DIR is required")
	case !events.ValidID(*set):
		return badInput("--camera-set %q must match [a-z0-9-]+", *set)
	}
	spec := deploymentSpec{site: *site, edges: map[string][]string{}}
	cameras, err := idList("--cameras", *cams)
	if err != nil {
		return err
	}
	if len(cameras) > 0 {
		spec.edges[*set] = cameras
	} else {
		e.log.Warn("no --cameras: the deployment has no edge identity (an edge may publish only for cameras it names)")
	}
	if spec.controllers, err = idList("--controllers", *ctls); err != nil {
		return err
	}
	for _, h := range strings.Split(*hosts, ",") {
		if h = strings.TrimSpace(h); h != "" {
			spec.hosts = append(spec.hosts, h)
		}
	}
	if len(spec.hosts) == 0 {
		return badInput("--hosts needs at least one name or IP")
	}
	token, err := createDeployment(ctx, *out, spec)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, `Deployment for site %q written to %s (see %s).

API admin token, shown this once and stored only as its SHA-256:

    %s

Keep it in a password manager. Start the API with --secrets %s (it stores
the token's hash in its database), then log in to the dashboard at
http://<host>:8080/#token=<token> or send "Authorization: Bearer <token>".
Create tokens for other people with POST /api/v1/tokens.
`, *site, *out, filepath.Join(*out, "README.txt"), token, *out)
	return nil
}

// idList parses a comma-separated list of IDs.
func idList(flagName, s string) ([]string, error) {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v == "" {
			continue
		}
		if !events.ValidID(v) {
			return nil, badInput("%s: %q must match [a-z0-9-]+", flagName, v)
		}
		out = append(out, v)
	}
	return out, nil
}

// createDeployment writes a deployment into dir and returns the admin
// token's secret. It refuses to touch an existing deployment.
func createDeployment(ctx context.Context, dir string, spec deploymentSpec) (string, error) {
	for _, p := range []string{filepath.Join(dir, "nats", "identities.json"), signingKeyFile(dir), tokenFile(dir)} {
		if _, err := os.Stat(p); err == nil {
			return "", badInput("%s already holds a deployment (%s exists); move it away, or rotate as %s explains", dir, p, filepath.Join(dir, "README.txt"))
		}
	}
	for _, sub := range []string{"nats", "signing", "api"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			return "", badInput("cannot create %s: %v", filepath.Join(dir, sub), err)
		}
	}
	ids := []bus.Identity{
		{Name: string(bus.RoleIngest), Role: bus.RoleIngest},
		{Name: string(bus.RoleAdvisor), Role: bus.RoleAdvisor, Site: spec.site},
		{Name: string(bus.RoleAPI), Role: bus.RoleAPI},
	}
	for set, cams := range spec.edges {
		ids = append(ids, bus.Identity{Name: edgeIdentity(spec.site, set), Role: bus.RoleEdge, Site: spec.site, Cameras: cams})
	}
	for _, ctl := range spec.controllers {
		ids = append(ids, bus.Identity{Name: controllerIdentity(spec.site, ctl), Role: bus.RoleController, Site: spec.site, Controller: ctl})
	}
	d := bus.Deployment{Dir: filepath.Join(dir, "nats")}
	if _, err := d.Create(ids, spec.hosts); err != nil {
		return "", err
	}
	if _, err := signals.GenerateKeyFiles(signingKeyFile(dir), signingPubFile(dir)); err != nil {
		return "", err
	}
	secret, hash, err := api.NewToken()
	if err != nil {
		return "", err
	}
	admin := store.APIToken{ID: events.NewID(), Name: "admin", Role: api.RoleAdmin.String(), Hash: hash, Created: time.Now().UTC().Truncate(time.Microsecond)}
	if err := api.WriteTokenFile(tokenFile(dir), []store.APIToken{admin}); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "README.txt"), []byte(deploymentReadme(dir, spec, ids)), 0o644); err != nil {
		return "", fmt.Errorf("writing %s: %w", filepath.Join(dir, "README.txt"), err)
	}
	return secret, nil
}

func edgeIdentity(site, set string) string       { return "edge:" + site + ":" + set }
func controllerIdentity(site, ctl string) string { return "controller:" + site + ":" + ctl }

func deploymentReadme(dir string, spec deploymentSpec, ids []bus.Identity) string {
	d := bus.Deployment{Dir: filepath.Join(dir, "nats")}
	var b strings.Builder
	fmt.Fprintf(&b, "intersect deployment for site %s, created %s.\n\n", spec.site, time.Now().UTC().Format(time.RFC3339))
	b.WriteString(`Every service takes --secrets DIR (this directory) and then uses only the
files it needs. On separate boxes, copy only those files (keep the layout):

  NATS server (the box running an embedded server, e.g. ingest):
      nats/identities.json, nats/server.pem, nats/server-key.pem
  every NATS client: nats/ca.pem and its own seed:
`)
	for _, id := range ids {
		fmt.Fprintf(&b, "      %-28s %s\n", id.Name, filepath.Base(d.SeedFile(id.Name)))
	}
	b.WriteString(`  advisor:      signing/advisor.key (signs recommendations; nowhere else)
  controllers:  signing/advisor.pub (what they trust)
  API (serve):  api/tokens.json (token hashes, seeded into the database)
  Keep nats/ca-key.pem offline: it is only needed to rotate the TLS
  certificate.

Files ending in .nk or -key.pem and advisor.key are secrets (mode 0600);
services warn when they are readable by others.

Rotation:
  TLS:     intersect init --rotate-tls --out DIR [--hosts a,b] issues a new
           server certificate from the CA (yearly, or when the hosts change);
           restart the NATS server; clients keep trusting ca.pem.
  Tokens:  create a new one (POST /api/v1/tokens as admin), then revoke the old
           (DELETE /api/v1/tokens/{id}); both are in the audit log. The token
           init printed is the first admin; revoke it once you have your own.
  NKeys:   re-run init for a new deployment (new identities), roll it out to
           every box, restart the server last.
  Signing: a new advisor key means every controller must trust the new
           advisor.pub; roll it out before switching the advisor.
`)
	return b.String()
}
