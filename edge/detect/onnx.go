package detect

import (
	"errors"
	"fmt"
)

// ONNXInfo is what CheckONNX learned from a model file's protobuf structure,
// without OpenCV.
type ONNXInfo struct {
	IRVersion     int64
	Producer      string // producer_name and producer_version, e.g. "pytorch 1.10"
	OpsetVersion  int64  // default-domain opset, 0 when not declared
	Nodes         int
	Inputs        []ONNXTensor // graph inputs that are not initializers
	Outputs       []ONNXTensor
	InitializerCt int
}

// ONNXTensor is a graph input or output: its name and declared shape. A
// dimension of -1 is symbolic (dim_param) or absent.
type ONNXTensor struct {
	Name  string
	Shape []int64
}

// Protobuf wire types.
const (
	wireVarint = 0
	wireI64    = 1
	wireLen    = 2
	wireI32    = 5
)

// pbField is one decoded top-level field of a protobuf message.
type pbField struct {
	num    int
	wire   int
	varint uint64
	bytes  []byte // for wireLen
	offset int    // byte offset of the tag in the walked message
}

var errTruncated = errors.New("truncated")

// readVarint decodes a base-128 varint at b[i:].
func readVarint(b []byte, i int) (uint64, int, error) {
	var v uint64
	for shift := uint(0); shift < 64; shift += 7 {
		if i >= len(b) {
			return 0, i, errTruncated
		}
		c := b[i]
		i++
		v |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return v, i, nil
		}
	}
	return 0, i, errors.New("varint longer than 10 bytes")
}

// walkMessage calls fn for every field of the protobuf message in b. It
// fails on an unknown wire type, a zero field number or a length that runs
// past the end of b: exactly what a truncated or non-protobuf file produces.
func walkMessage(b []byte, fn func(f pbField) error) error {
	for i := 0; i < len(b); {
		start := i
		tag, n, err := readVarint(b, i)
		if err != nil {
			return fmt.Errorf("byte %d: field tag: %w", start, err)
		}
		i = n
		f := pbField{num: int(tag >> 3), wire: int(tag & 7), offset: start}
		if f.num == 0 {
			return fmt.Errorf("byte %d: field number 0 is not valid protobuf", start)
		}
		switch f.wire {
		case wireVarint:
			f.varint, i, err = readVarint(b, i)
			if err != nil {
				return fmt.Errorf("byte %d: field %d varint: %w", start, f.num, err)
			}
		case wireI64:
			if i+8 > len(b) {
				return fmt.Errorf("byte %d: field %d: 8-byte value %w", start, f.num, errTruncated)
			}
			i += 8
		case wireI32:
			if i+4 > len(b) {
				return fmt.Errorf("byte %d: field %d: 4-byte value %w", start, f.num, errTruncated)
			}
			i += 4
		case wireLen:
			var l uint64
			l, i, err = readVarint(b, i)
			if err != nil {
				return fmt.Errorf("byte %d: field %d length: %w", start, f.num, err)
			}
			if l > uint64(len(b)-i) {
				return fmt.Errorf("byte %d: field %d declares %d bytes but only %d remain: %w", start, f.num, l, len(b)-i, errTruncated)
			}
			f.bytes = b[i : i+int(l)]
			i += int(l)
		default:
			return fmt.Errorf("byte %d: field %d has wire type %d, which protobuf does not define", start, f.num, f.wire)
		}
		if err := fn(f); err != nil {
			return err
		}
	}
	return nil
}

// CheckONNX walks the bytes of an ONNX ModelProto without OpenCV and
// reports its structure, or an error saying why the bytes are not a
// complete ONNX model. OpenCV's parser aborts the process on such files, so
// this must pass before the bytes are handed to it.
//
// ModelProto: ir_version = 1 (varint), producer_name = 2, producer_version
// = 3, graph = 7, opset_import = 8. GraphProto: node = 1, initializer = 5,
// input = 11, output = 12. ValueInfoProto: name = 1, type = 2; TypeProto:
// tensor_type = 1; Tensor: shape = 2; TensorShapeProto: dim = 1; Dimension:
// dim_value = 1, dim_param = 2.
func CheckONNX(b []byte) (ONNXInfo, error) {
	var info ONNXInfo
	if len(b) == 0 {
		return info, errors.New("empty file")
	}
	// The first field of every exporter's ModelProto is ir_version (tag
	// 0x08). Checking it first turns a text or image file into a clear
	// message rather than a protobuf parse error from somewhere inside.
	if b[0] != 0x08 {
		return info, fmt.Errorf("not an ONNX model: first byte 0x%02x, want 0x08 (ir_version field)", b[0])
	}
	var graph []byte
	var producer, producerVersion string
	seenIR := false
	err := walkMessage(b, func(f pbField) error {
		switch f.num {
		case 1:
			if f.wire != wireVarint {
				return fmt.Errorf("ir_version has wire type %d, want varint", f.wire)
			}
			info.IRVersion, seenIR = int64(f.varint), true
		case 2, 3:
			if f.wire != wireLen {
				return fmt.Errorf("producer field %d has wire type %d, want bytes", f.num, f.wire)
			}
			if f.num == 2 {
				producer = string(f.bytes)
			} else {
				producerVersion = string(f.bytes)
			}
		case 7:
			if f.wire != wireLen {
				return fmt.Errorf("graph has wire type %d, want bytes", f.wire)
			}
			graph = f.bytes
		case 8:
			if f.wire != wireLen {
				return fmt.Errorf("opset_import has wire type %d, want bytes", f.wire)
			}
			var domain string
			var version int64
			if err := walkMessage(f.bytes, func(g pbField) error {
				switch {
				case g.num == 1 && g.wire == wireLen:
					domain = string(g.bytes)
				case g.num == 2 && g.wire == wireVarint:
					version = int64(g.varint)
				}
				return nil
			}); err != nil {
				return fmt.Errorf("opset_import: %w", err)
			}
			if domain == "" || domain == "ai.onnx" {
				info.OpsetVersion = version
			}
		}
		return nil
	})
	if err != nil {
		return info, fmt.Errorf("not a complete ONNX model: %w", err)
	}
	if !seenIR || info.IRVersion <= 0 {
		return info, errors.New("not an ONNX model: no ir_version")
	}
	info.Producer = producer
	if producerVersion != "" {
		info.Producer += " " + producerVersion
	}
	if graph == nil {
		return info, errors.New("not a complete ONNX model: no graph")
	}
	initializers := map[string]bool{}
	var inputs []ONNXTensor
	err = walkMessage(graph, func(f pbField) error {
		switch f.num {
		case 1:
			info.Nodes++
		case 5:
			if f.wire != wireLen {
				return fmt.Errorf("initializer has wire type %d", f.wire)
			}
			info.InitializerCt++
			// TensorProto.name is field 8.
			return walkMessage(f.bytes, func(g pbField) error {
				if g.num == 8 && g.wire == wireLen {
					initializers[string(g.bytes)] = true
				}
				return nil
			})
		case 11, 12:
			if f.wire != wireLen {
				return fmt.Errorf("graph field %d has wire type %d", f.num, f.wire)
			}
			t, err := parseValueInfo(f.bytes)
			if err != nil {
				return fmt.Errorf("graph field %d: %w", f.num, err)
			}
			if f.num == 11 {
				inputs = append(inputs, t)
			} else {
				info.Outputs = append(info.Outputs, t)
			}
		}
		return nil
	})
	if err != nil {
		return info, fmt.Errorf("not a complete ONNX model: graph: %w", err)
	}
	if info.Nodes == 0 {
		return info, errors.New("not a usable ONNX model: graph has no nodes")
	}
	// Before IR 4 initializers were also listed as inputs; the image input
	// is the one that is not.
	for _, in := range inputs {
		if !initializers[in.Name] {
			info.Inputs = append(info.Inputs, in)
		}
	}
	if len(info.Inputs) == 0 || len(info.Outputs) == 0 {
		return info, fmt.Errorf("not a usable ONNX model: %d inputs, %d outputs", len(info.Inputs), len(info.Outputs))
	}
	return info, nil
}

// parseValueInfo decodes a ValueInfoProto's name and tensor shape.
func parseValueInfo(b []byte) (ONNXTensor, error) {
	var t ONNXTensor
	err := walkMessage(b, func(f pbField) error {
		switch {
		case f.num == 1 && f.wire == wireLen:
			t.Name = string(f.bytes)
		case f.num == 2 && f.wire == wireLen: // TypeProto
			return walkMessage(f.bytes, func(g pbField) error {
				if g.num != 1 || g.wire != wireLen { // tensor_type
					return nil
				}
				return walkMessage(g.bytes, func(h pbField) error {
					if h.num != 2 || h.wire != wireLen { // shape
						return nil
					}
					return walkMessage(h.bytes, func(d pbField) error {
						if d.num != 1 || d.wire != wireLen { // dim
							return nil
						}
						v := int64(-1)
						err := walkMessage(d.bytes, func(e pbField) error {
							if e.num == 1 && e.wire == wireVarint {
								v = int64(e.varint)
							}
							return nil
						})
						t.Shape = append(t.Shape, v)
						return err
					})
				})
			})
		}
		return nil
	})
	return t, err
}
