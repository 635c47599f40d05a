package signals

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"os"
)

// Key files are PEM: the private key as PKCS #8 ("PRIVATE KEY", mode 0600),
// the public key as PKIX ("PUBLIC KEY"), the same formats as
// `openssl genpkey -algorithm ed25519` writes, so operators can check them
// with standard tools.

// KeyID names a public key: the first 8 bytes of its SHA-256, in hex.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:8])
}

// GenerateKeyFiles writes a new key pair. It refuses to overwrite an
// existing private key: replacing it silently would orphan every
// controller that trusts the old public key.
func GenerateKeyFiles(privPath, pubPath string) (ed25519.PublicKey, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating Ed25519 key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("encoding private key: %w", err)
	}
	f, err := os.OpenFile(privPath, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("creating private key file: %w", err)
	}
	if err := pem.Encode(f, &pem.Block{Type: "PRIVATE KEY", Bytes: der}); err != nil {
		f.Close()
		return nil, fmt.Errorf("writing %s: %w", privPath, err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("writing %s: %w", privPath, err)
	}
	pder, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("encoding public key: %w", err)
	}
	if err := os.WriteFile(pubPath, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pder}), 0o644); err != nil {
		return nil, fmt.Errorf("writing public key: %w", err)
	}
	return pub, nil
}

// LoadPrivateKey reads a PEM PKCS #8 Ed25519 private key. The warning is
// non-empty when the file is readable by group or others: the key signs
// what controllers will apply, so it should be 0600.
func LoadPrivateKey(path string) (key ed25519.PrivateKey, warning string, err error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, "", fmt.Errorf("private key: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		warning = fmt.Sprintf("private key %s has mode %04o; it should be 0600 (chmod 600 %s)", path, st.Mode().Perm(), path)
	}
	der, err := readPEM(path, "PRIVATE KEY")
	if err != nil {
		return nil, warning, err
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, warning, fmt.Errorf("private key %s: %w", path, err)
	}
	ek, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, warning, fmt.Errorf("private key %s is a %T, not Ed25519", path, k)
	}
	return ek, warning, nil
}

// LoadPublicKey reads a PEM PKIX Ed25519 public key.
func LoadPublicKey(path string) (ed25519.PublicKey, error) {
	der, err := readPEM(path, "PUBLIC KEY")
	if err != nil {
		return nil, err
	}
	k, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("public key %s: %w", path, err)
	}
	ek, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("public key %s is a %T, not Ed25519", path, k)
	}
	return ek, nil
}

func readPEM(path, typ string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading key: %w", err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("key file %s: no PEM block", path)
	}
	if blk.Type != typ {
		return nil, fmt.Errorf("key file %s holds a %q block, want %q", path, blk.Type, typ)
	}
	return blk.Bytes, nil
}
