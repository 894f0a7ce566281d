// Package fleet is the coordinator side of the robot fleet and the robot
// agent protocol's types (robots/PROTOCOL.md): subjects, messages and their
// parsers; per-robot credentials and permissions; and the Coordinator,
// which registers robots, tracks their heartbeats, queues episode requests
// on JetStream, assigns them fairly to capable idle robots, reassigns them
// when a robot goes silent or overruns, receives the uploaded episode logs
// into the object store and the episode store, and records each requested
// episode's result exactly once.
//
// Callers request episodes with a Client (Request, then Results or Wait);
// `dreamrank serve` runs the Coordinator (Start, Stop). The package knows
// nothing of jobs or the web UI: ops/fleetlink adapts it to both.
package fleet
