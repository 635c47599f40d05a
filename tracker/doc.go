// Package tracker follows road users through a camera's frames and onto the
// ground. It is pure Go (no OpenCV) so that the same code runs in the edge
// worker, in offline analysis and in benchmarks.
//
// What lives here:
//
//   - Tracker: a ByteTrack-style multi-object tracker. Call Update once per
//     frame with that frame's detections; it returns the confirmed tracks that
//     were matched in that frame, with stable IDs.
//   - Box, Detection, Track: image-space boxes in pixels (left, top, width,
//     height) and what the tracker knows about each road user.
//   - Hungarian, MatchMaxWeight, MatchMaxCardinality: an exact O(n³)
//     rectangular assignment solver and the two gated matchings built on it
//     (tracking uses the first, the MOT metrics the second).
//   - Homography and GroundFilter: the camera's image→ground mapping and a
//     per-track constant-velocity Kalman filter in metres, which yields
//     GroundState (position, velocity, speed, heading, extents by class).
//
// MOTChallenge file IO lives in tracker/mot and the CLEAR-MOT, Identity and
// HOTA metrics in tracker/motmetrics.
package tracker
