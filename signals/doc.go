// Package signals is the signal-timing advisor: it turns near misses, track
// summaries (exposure, walking speeds), the intersection's timing plan, the
// weather and the time of day into bounded, explained, signed timing
// recommendations (events.Recommendation), and it holds the reference
// controller agent's core that verifies and applies them.
//
// Where things live:
//
//   - plan.go: the timing plan YAML (LoadPlan) and its validation.
//   - timing.go: the textbook formulas (MUTCD pedestrian timing, ITE
//     yellow and red clearance, Webster cycle and splits) and the weather
//     factors they use.
//   - poisson.go: counts over exposure with exact Poisson intervals.
//   - rules.go: one function per rule (LPI, pedestrian clearance, clearance
//     intervals, cycle, no right turn on red), each citing its source.
//   - envelope.go: the safety envelope every recommendation must sit in.
//   - ntcip.go: NTCIP 1202 object names and OIDs.
//   - advisor.go: Advisor, the pure core used by the what-if mode and the
//     live service.
//   - controller.go: Controller, the pure core of the controller agent.
//   - keys.go: Ed25519 key files.
//
// Nothing here talks to NATS or a store; cmd/intersect wires it up.
package signals
