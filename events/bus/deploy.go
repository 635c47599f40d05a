package bus

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"
)

// Deployment is the NATS half of what `intersect init` writes: one NKey
// identity per role and instance, a private CA and a server certificate.
// Layout under Dir:
//
//	identities.json          public: names, roles, scopes, public keys
//	<identity>.nk            NKey seed of each identity (0600)
//	ca.pem, ca-key.pem       the private CA (key 0600)
//	server.pem, server-key.pem  the server certificate for Hosts (key 0600)
type Deployment struct {
	Dir string
}

// IdentitiesFile, CAFile, ServerCertFile and ServerKeyFile name the files.
func (d Deployment) IdentitiesFile() string { return filepath.Join(d.Dir, "identities.json") }
func (d Deployment) CAFile() string         { return filepath.Join(d.Dir, "ca.pem") }
func (d Deployment) caKeyFile() string      { return filepath.Join(d.Dir, "ca-key.pem") }
func (d Deployment) ServerCertFile() string { return filepath.Join(d.Dir, "server.pem") }
func (d Deployment) ServerKeyFile() string  { return filepath.Join(d.Dir, "server-key.pem") }

// SeedFile is the seed file of the named identity.
func (d Deployment) SeedFile(name string) string {
	return filepath.Join(d.Dir, strings.NewReplacer(":", "-", "/", "-").Replace(name)+".nk")
}

// Credentials returns the client credentials of the named identity.
func (d Deployment) Credentials(name string) Credentials {
	return Credentials{SeedFile: d.SeedFile(name), CAFile: d.CAFile()}
}

// Exists reports whether Dir already holds a deployment.
func (d Deployment) Exists() bool {
	_, err := os.Stat(d.IdentitiesFile())
	return err == nil
}

// Create generates identities (their PublicKey is filled in), seeds, CA and
// server certificate for hosts. It refuses to overwrite an existing
// deployment: rotating keys is a deliberate act (RotateTLS for the TLS half).
func (d Deployment) Create(ids []Identity, hosts []string) ([]Identity, error) {
	if d.Exists() {
		return nil, fmt.Errorf("%s already holds a deployment; move it away or rotate instead", d.Dir)
	}
	if err := os.MkdirAll(d.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating %s: %w", d.Dir, err)
	}
	out := make([]Identity, 0, len(ids))
	for _, id := range ids {
		kp, err := nkeys.CreateUser()
		if err != nil {
			return nil, fmt.Errorf("generating NKey for %s: %w", id.Name, err)
		}
		raw, _ := kp.Seed()
		seed := append([]byte(nil), raw...) // Wipe zeroes the key pair's own copy
		id.PublicKey, _ = kp.PublicKey()
		kp.Wipe()
		if err := id.Validate(); err != nil {
			return nil, err
		}
		// The decorated form is what NATS tools and nats.go read.
		decorated, err := jwt.DecorateSeed(seed)
		if err != nil {
			return nil, fmt.Errorf("encoding NKey seed for %s: %w", id.Name, err)
		}
		if err := writeSecret(d.SeedFile(id.Name), decorated); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	b, _ := json.MarshalIndent(out, "", "  ")
	if err := os.WriteFile(d.IdentitiesFile(), append(b, '\n'), 0o644); err != nil {
		return nil, fmt.Errorf("writing %s: %w", d.IdentitiesFile(), err)
	}
	if err := d.writeCA(); err != nil {
		return nil, err
	}
	if err := d.RotateTLS(hosts, 365*24*time.Hour); err != nil {
		return nil, err
	}
	return out, nil
}

func (d Deployment) writeCA() error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("generating CA key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "intersect deployment CA", Organization: []string{"intersect"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(10 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return fmt.Errorf("creating CA certificate: %w", err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	if err := writeSecret(d.caKeyFile(), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})); err != nil {
		return err
	}
	return os.WriteFile(d.CAFile(), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
}

// RotateTLS issues a new server certificate for hosts (DNS names or IPs)
// from the deployment's CA. Clients keep trusting the CA, so a rotation is
// invisible to them; restart the server to load the new certificate.
func (d Deployment) RotateTLS(hosts []string, validity time.Duration) error {
	caPair, err := tls.LoadX509KeyPair(d.CAFile(), d.caKeyFile())
	if err != nil {
		return fmt.Errorf("loading CA from %s: %w", d.Dir, err)
	}
	caCert, err := x509.ParseCertificate(caPair.Certificate[0])
	if err != nil {
		return fmt.Errorf("parsing CA certificate: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("generating server key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: "intersect NATS server"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(validity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caPair.PrivateKey)
	if err != nil {
		return fmt.Errorf("issuing server certificate: %w", err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	if err := writeSecret(d.ServerKeyFile(), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})); err != nil {
		return err
	}
	return os.WriteFile(d.ServerCertFile(), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
}

// ConfigureServer returns a ServerOptions.Configure function that loads the
// deployment: NKey users with their permissions (no anonymous access) and
// TLS with the deployment's certificate.
func (d Deployment) ConfigureServer() func(*server.Options) error {
	return func(o *server.Options) error {
		ids, err := LoadIdentities(d.IdentitiesFile())
		if err != nil {
			return err
		}
		users, err := NkeyUsers(ids)
		if err != nil {
			return err
		}
		tc, err := server.GenTLSConfig(&server.TLSConfigOpts{CertFile: d.ServerCertFile(), KeyFile: d.ServerKeyFile()})
		if err != nil {
			return fmt.Errorf("TLS for NATS from %s: %w", d.Dir, err)
		}
		o.Nkeys = users
		o.TLS = true
		o.TLSConfig = tc
		o.TLSTimeout = 2
		return nil
	}
}

// LoosePermissions lists the deployment's key files that others can read,
// for the caller to warn about.
func (d Deployment) LoosePermissions() []error {
	files := []string{d.ServerKeyFile(), d.caKeyFile()}
	if ids, err := LoadIdentities(d.IdentitiesFile()); err == nil {
		for _, id := range ids {
			files = append(files, d.SeedFile(id.Name))
		}
	}
	var errs []error
	for _, f := range files {
		if err := CheckKeyFileMode(f); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	return n
}

// writeSecret writes key material with mode 0600.
func writeSecret(path string, data []byte) error {
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return os.Chmod(path, 0o600)
}
