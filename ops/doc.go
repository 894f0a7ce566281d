// Package ops wires dreamrank together: the server, workers, the embedded or
// external NATS deployment, JetStream storage, the scheduler, reports, the
// HTTP UI and metrics. Machine setup scripts live in ops/setup.
package ops
