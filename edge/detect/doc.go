// Package detect finds road users in camera frames. It holds the two
// detectors the edge worker can run and everything needed to load them safely:
//
//   - YOLOX (netdet.go): a COCO ONNX model (YOLOX-nano by default) run through
//     OpenCV DNN, with letterboxing, grid/stride decoding, per-class score
//     thresholds and class-aware non-maximum suppression. COCO person,
//     bicycle, car, motorcycle, bus and truck map to events classes; every
//     other COCO class is dropped.
//   - FastestDet (netdet.go, same code path): a smaller, faster, less
//     accurate COCO model with a single 22x22 output grid.
//   - Motion (motion.go): the fallback when no model is configured or
//     available: MOG2 background subtraction, morphology and contours, with
//     classes guessed from the ground-plane footprint (or pixel shape).
//
// Models are described by a manifest (models/manifest.yaml, embedded in the
// binary through package models): file name, SHA-256, size, input size,
// preprocessing, output layout and class map (manifest.go; Open and
// OpenFile in open.go). OpenCV aborts the whole process (SIGABRT) on a
// missing, truncated or non-ONNX model, so Open checks the file's
// existence, size, checksum and ONNX protobuf structure (onnx.go) in Go
// before any byte reaches C++.
//
// OpenCV DNN uses every core by default; OPENCV_FOR_THREADS_NUM=1 in the
// environment limits it (gocv v0.31 has no setNumThreads).
//
// Every Detector takes BGR frames as gocv reads them and returns boxes in
// that frame's pixel coordinates. A Detector is not safe for concurrent use:
// the worker owns one per camera.
package detect
