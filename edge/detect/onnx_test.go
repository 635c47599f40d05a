package detect

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/intersect-oss/intersect/internal/testenv"
)

func TestCheckONNXSynthetic(t *testing.T) {
	// A minimal ModelProto: ir_version 7, producer "x", graph with one node,
	// input "in" [1,3,8,8] and output "out" [1,2].
	dim := func(v byte) []byte { return []byte{0x0a, 2, 0x08, v} }
	shape := func(dims ...byte) []byte {
		var s []byte
		for _, d := range dims {
			s = append(s, dim(d)...)
		}
		return lenField(2, s)
	}
	valueInfo := func(name string, dims ...byte) []byte {
		tensor := append([]byte{0x08, 1}, shape(dims...)...)          // elem_type, shape
		typ := lenField(1, tensor)                                    // TypeProto.tensor_type
		return append(lenField(1, []byte(name)), lenField(2, typ)...) // name, type
	}
	graph := append(lenField(1, []byte{0x3a, 4, 'R', 'e', 'l', 'u'}), lenField(11, valueInfo("in", 1, 3, 8, 8))...)
	graph = append(graph, lenField(12, valueInfo("out", 1, 2))...)
	model := append([]byte{0x08, 7}, lenField(2, []byte("x"))...)
	model = append(model, lenField(7, graph)...)

	info, err := CheckONNX(model)
	if err != nil {
		t.Fatalf("CheckONNX(valid) = %v", err)
	}
	if info.IRVersion != 7 || info.Nodes != 1 || info.Inputs[0].Name != "in" || len(info.Inputs[0].Shape) != 4 || info.Outputs[0].Shape[1] != 2 {
		t.Errorf("info = %+v", info)
	}

	tests := []struct {
		name string
		b    []byte
		want string
	}{
		{"empty", nil, "empty file"},
		{"text", []byte("this is not a model\n"), "first byte 0x74"},
		{"truncated graph", model[:len(model)-3], "only"},
		{"truncated varint", []byte{0x08, 0x87}, "truncated"},
		{"no graph", []byte{0x08, 7, 0x12, 1, 'x'}, "no graph"},
		{"bad wire type", []byte{0x08, 7, 0x0b}, "wire type 3"},
		{"ir not varint", []byte{0x08, 7, 0x0a, 0}, "ir_version has wire type 2"},
		{"field zero", []byte{0x08, 7, 0x02, 0}, "field number 0"},
		{"no nodes", append([]byte{0x08, 7}, lenField(7, lenField(11, valueInfo("in", 1)))...), "no nodes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := CheckONNX(tt.b)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("CheckONNX = %v, want error containing %q", err, tt.want)
			}
		})
	}
}

// lenField encodes a length-delimited protobuf field (lengths < 128).
func lenField(num int, b []byte) []byte {
	if len(b) > 127 {
		panic("lenField: test payload too long")
	}
	return append([]byte{byte(num<<3 | wireLen), byte(len(b))}, b...)
}

// TestOpenBadModelFiles feeds Open every kind of broken model file. Each
// must be a clear error naming the file; reaching OpenCV with any of them
// would abort the test binary (SIGABRT), so the test finishing at all is
// half the assertion.
func TestOpenBadModelFiles(t *testing.T) {
	real := testenv.SharedData(t, "models", "yolox-nano", "yolox_nano.onnx")
	good, err := os.ReadFile(real)
	if err != nil {
		t.Fatal(err)
	}
	m, err := DefaultManifest()
	if err != nil {
		t.Fatal(err)
	}
	yolox, _ := m.Lookup("yolox-nano")
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	flipped := append([]byte(nil), good...)
	flipped[len(flipped)/2] ^= 0xff

	unchecked := yolox // as if the manifest did not know size and checksum
	unchecked.SHA256, unchecked.SizeBytes = "", 0

	tests := []struct {
		name string
		md   Model
		path string
		want string
	}{
		{"missing", yolox, filepath.Join(dir, "nope.onnx"), "no such file"},
		{"directory", yolox, dir, "not a regular file"},
		{"empty", yolox, write("empty.onnx", nil), "empty file"},
		{"text named .onnx", yolox, write("text.onnx", []byte(strings.Repeat("I am not a neural network.\n", 10))), "manifest says 3660092"},
		{"text named .onnx, no size", unchecked, write("text2.onnx", []byte(strings.Repeat("I am not a neural network.\n", 10))), "not an ONNX model: first byte 0x49"},
		{"truncated", yolox, write("trunc.onnx", good[:len(good)/2]), "1830046 bytes, manifest says 3660092"},
		{"truncated, no size", unchecked, write("trunc2.onnx", good[:len(good)/2]), "not a complete ONNX model"},
		{"truncated by one byte, no size", unchecked, write("trunc3.onnx", good[:len(good)-1]), "not a complete ONNX model"},
		{"checksum", yolox, write("flipped.onnx", flipped), "sha256"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			md := tt.md
			md.Path = tt.path
			d, err := Open(context.Background(), md, Options{})
			if err == nil {
				d.Close()
				t.Fatal("Open succeeded")
			}
			if !strings.Contains(err.Error(), tt.path) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Open error = %q, want one naming %s and containing %q", err, tt.path, tt.want)
			}
		})
	}
}

// TestOpenWrongShapeModel loads FastestDet under a YOLOX entry: the graph's
// declared output [1,85,22,22] is not the manifest's [1,3549,85], and Open
// says so before OpenCV runs it.
func TestOpenWrongShapeModel(t *testing.T) {
	fd := testenv.SharedData(t, "models", "fastestdet", "FastestDet.onnx")
	m, _ := DefaultManifest()
	md, _ := m.Lookup("yolox-nano")
	md.SHA256, md.SizeBytes, md.Path = "", 0, fd
	md.Input = ModelInput{Name: "input.1", Width: 416, Height: 416}
	_, err := Open(context.Background(), md, Options{})
	if err == nil || !strings.Contains(err.Error(), "input tensor \"input.1\" is 352x352, manifest says 416x416") {
		t.Errorf("Open(FastestDet as yolox at 416) = %v", err)
	}
	md.Input = ModelInput{Name: "input.1", Width: 352, Height: 352}
	md.Output.Shape = []int{1, 2541, 85} // 44^2+22^2+11^2, consistent with strides at 352
	md.Output.Name = "758"
	_, err = Open(context.Background(), md, Options{})
	if err == nil || !strings.Contains(err.Error(), "output tensor \"758\" has shape [1 85 22 22], manifest says [1 2541 85]") {
		t.Errorf("Open(FastestDet as yolox) = %v", err)
	}
	md.Output.Name = "output"
	_, err = Open(context.Background(), md, Options{})
	if err == nil || !strings.Contains(err.Error(), "no output tensor \"output\"") {
		t.Errorf("Open(wrong output name) = %v", err)
	}
}

// FuzzCheckONNX: whatever the bytes, CheckONNX returns; it never panics or
// runs past the buffer.
func FuzzCheckONNX(f *testing.F) {
	f.Add([]byte{0x08, 7, 0x3a, 2, 0x0a, 0})
	f.Add([]byte("text"))
	f.Add([]byte{0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Add([]byte{0x08, 7, 0x3a, 0x80, 0x80, 0x80, 0x80, 0x10})
	f.Fuzz(func(t *testing.T, b []byte) {
		info, err := CheckONNX(b)
		if err == nil && (len(info.Inputs) == 0 || len(info.Outputs) == 0 || info.Nodes == 0) {
			t.Errorf("accepted a model without inputs, outputs or nodes: %+v", info)
		}
	})
}
