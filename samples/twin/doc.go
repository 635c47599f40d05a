// Package twin renders a synthetic four-leg signalised intersection ("the
// twin") seen by a pole-mounted pinhole camera, together with its exact
// ground truth: trajectories on the ground plane (DESIGN.md trajectory CSV),
// the projected image boxes of every visible road user (MOTChallenge), the
// camera's ground homography and configuration, and the conflicts the true
// trajectories imply.
//
// The real sample video has no moving vehicles, so it cannot show a near
// miss; the twin can. `intersect demo` uses it as a second camera and the
// end-to-end accuracy test compares the pipeline's output with its truth.
//
// Layout: camera.go is the pinhole model and homography; path.go and
// motion.go are the geometry (lines and arcs) and speed profiles road users
// follow; script.go is the scene itself (signal plan, background traffic,
// scripted near misses with known TTC/PET); draw.go paints frames with gocv;
// render.go writes the video and the truth files. Everything is deterministic
// from Options.Seed.
package twin
