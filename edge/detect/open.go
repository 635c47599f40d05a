package detect

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"

	"gocv.io/x/gocv"
)

// OpenFile opens a model given as a file path or a manifest name, taking
// its checksum, input size and decoding from the built-in manifest entry
// with the same file name (or name): what `--model yolox_nano.onnx` or
// `--model yolox-nano` resolves to. A name is looked for in ./models and in
// models/ next to the executable's directory.
func OpenFile(ctx context.Context, path string, opts Options) (Detector, error) {
	m, err := DefaultManifest()
	if err != nil {
		return nil, err
	}
	md, err := m.ForFile(path)
	if err != nil {
		byName, lerr := m.Lookup(path)
		if lerr != nil {
			return nil, err
		}
		dirs := []string{"models"}
		if exe, err := os.Executable(); err == nil {
			dirs = append(dirs, filepath.Join(filepath.Dir(exe), "..", "models"))
		}
		if md, err = byName.Locate(dirs...); err != nil {
			return nil, err
		}
	}
	return Open(ctx, md, opts)
}

// Open checks md.Path against the manifest entry and loads it into OpenCV
// DNN. Nothing reaches OpenCV until the file has been found to be a regular
// file of the manifest's size and SHA-256 whose bytes walk as a complete
// ONNX protobuf declaring the manifest's input and output tensors (see
// VerifyModelFile): OpenCV aborts the process on anything less.
func Open(ctx context.Context, md Model, opts Options) (Detector, error) {
	if err := md.Validate(); err != nil {
		return nil, err
	}
	if err := opts.validate(); err != nil {
		return nil, err
	}
	data, info, err := VerifyModelFile(ctx, md)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	net, err := gocv.ReadNetFromONNXBytes(data)
	if err != nil {
		return nil, fmt.Errorf("model file %s: loading into OpenCV: %w", md.Path, err)
	}
	if net.Empty() {
		net.Close()
		return nil, fmt.Errorf("model file %s: OpenCV loaded an empty network", md.Path)
	}
	d := newNetDetector(md, net, opts)
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	log.Info("detector loaded", "detector", d.Name(), "file", md.Path, "sha256", md.SHA256,
		"ir_version", info.IRVersion, "opset", info.OpsetVersion, "producer", info.Producer,
		"nodes", info.Nodes, "input", fmt.Sprintf("%dx%d", md.Input.Width, md.Input.Height))
	return d, nil
}

// VerifyModelFile reads md.Path and returns its bytes once they are known
// to be safe to hand to OpenCV, or an error naming the file and what is
// wrong with it: missing, not a regular file, empty or implausibly large, a
// size or SHA-256 other than the manifest's, not a complete ONNX protobuf,
// or input/output tensors other than the manifest's.
func VerifyModelFile(ctx context.Context, md Model) ([]byte, ONNXInfo, error) {
	var info ONNXInfo
	if md.Path == "" {
		return nil, info, fmt.Errorf("model %q: %w", md.Name, errNoPath)
	}
	fail := func(format string, a ...any) ([]byte, ONNXInfo, error) {
		return nil, info, fmt.Errorf("model file %s: %s", md.Path, fmt.Sprintf(format, a...))
	}
	st, err := os.Stat(md.Path)
	if err != nil {
		return nil, info, fmt.Errorf("model file %s: %w (run `make models`)", md.Path, err)
	}
	if !st.Mode().IsRegular() {
		return fail("not a regular file (%s)", st.Mode().Type())
	}
	switch {
	case st.Size() == 0:
		return fail("empty file")
	case st.Size() < 64:
		return fail("%d bytes is too small for a model", st.Size())
	case st.Size() > maxModelBytes:
		return fail("%d bytes is larger than the %d-byte limit", st.Size(), maxModelBytes)
	case md.SizeBytes > 0 && st.Size() != md.SizeBytes:
		return fail("%d bytes, manifest says %d (truncated or a different model)", st.Size(), md.SizeBytes)
	}
	if err := ctx.Err(); err != nil {
		return nil, info, err
	}
	data, err := os.ReadFile(md.Path)
	if err != nil {
		return nil, info, fmt.Errorf("model file %s: %w", md.Path, err)
	}
	// Check the bytes we read, not the file again: what we verify is what
	// OpenCV gets.
	if md.SizeBytes > 0 && int64(len(data)) != md.SizeBytes {
		return fail("read %d bytes, manifest says %d", len(data), md.SizeBytes)
	}
	if md.SHA256 != "" {
		sum := sha256.Sum256(data)
		if got := hex.EncodeToString(sum[:]); got != md.SHA256 {
			return fail("sha256 %s, manifest says %s", got, md.SHA256)
		}
	}
	info, err = CheckONNX(data)
	if err != nil {
		return fail("%v", err)
	}
	if err := checkTensors(md, info); err != nil {
		return fail("%v", err)
	}
	return data, info, nil
}

// checkTensors compares the graph's declared input and output with the
// manifest: OpenCV aborts on an unknown tensor name, and FastestDet aborts
// at any input size but the one it was exported for.
func checkTensors(md Model, info ONNXInfo) error {
	in := info.Inputs[0]
	if md.Input.Name != "" && in.Name != md.Input.Name {
		return fmt.Errorf("input tensor is %q, manifest says %q", in.Name, md.Input.Name)
	}
	if len(in.Shape) != 4 {
		return fmt.Errorf("input tensor %q has shape %v, want [1,3,H,W]", in.Name, in.Shape)
	}
	if in.Shape[1] > 0 && in.Shape[1] != 3 {
		return fmt.Errorf("input tensor %q has %d channels, want 3", in.Name, in.Shape[1])
	}
	if h, w := in.Shape[2], in.Shape[3]; h > 0 && w > 0 && (h != int64(md.Input.Height) || w != int64(md.Input.Width)) {
		return fmt.Errorf("input tensor %q is %dx%d, manifest says %dx%d", in.Name, w, h, md.Input.Width, md.Input.Height)
	}
	var out *ONNXTensor
	for i := range info.Outputs {
		if md.Output.Name == "" || info.Outputs[i].Name == md.Output.Name {
			out = &info.Outputs[i]
			break
		}
	}
	if out == nil {
		var names []string
		for _, o := range info.Outputs {
			names = append(names, o.Name)
		}
		return fmt.Errorf("no output tensor %q (model has %q)", md.Output.Name, names)
	}
	want := make([]int64, len(md.Output.Shape))
	for i, v := range md.Output.Shape {
		want[i] = int64(v)
	}
	if fixed(out.Shape) && !slices.Equal(out.Shape, want) {
		return fmt.Errorf("output tensor %q has shape %v, manifest says %v (wrong model for layout %s)", out.Name, out.Shape, want, md.Output.Layout)
	}
	return nil
}

func fixed(shape []int64) bool {
	if len(shape) == 0 {
		return false
	}
	for _, v := range shape {
		if v <= 0 {
			return false
		}
	}
	return true
}
