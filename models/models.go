// Package models carries the detector model manifest (manifest.yaml) inside
// the binary, so that edge/detect can check a model file's size and SHA-256
// wherever the binary runs. The model files themselves are fetched by
// fetch.sh (`make models`) and never committed.
package models

import (
	"bytes"
	_ "embed"
)

//go:embed manifest.yaml
var manifest []byte

// Manifest returns a copy of manifest.yaml as shipped with this binary.
func Manifest() []byte { return bytes.Clone(manifest) }
