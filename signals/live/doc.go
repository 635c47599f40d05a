// Package live runs the signal-timing advisor and the reference controller
// agent against NATS JetStream and the store; the pure rules, envelope and
// controller checks live in package signals, this package only feeds them
// and carries their output.
//
//   - Advisor (advisor.go) consumes its site's near misses, track summaries
//     and weather (durable consumer "advisor" on the events stream), keeps a
//     bounded sliding window of them (history.go), re-evaluates on a schedule
//     and at once when the weather changes, publishes new signed
//     recommendations, retires weather-driven ones when the weather changes
//     (and proposes the rollback of deployed ones, rollback.go), and signs
//     the approvals engineers record through the API, republishing the
//     signed copy for the controller.
//   - Controller (controller.go) is the controller agent: a durable pull
//     consumer on its own recommendation subject that runs
//     signals.Controller.Handle on each message, prints the NTCIP sets it
//     applies and publishes the acknowledgement.
//
// Both take an existing jetstream.JetStream so that `intersect demo` can run
// them in-process beside ingest and the API.
package live
