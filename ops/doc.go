// Package ops wires dreamrank together: the server, workers, the embedded or
// external NATS deployment, JetStream storage, the scheduler, reports, the
// HTTP UI and metrics. ops/deploy is the composition root that assembles a
// deployment from one Config; ops/backends links every world-model, policy
// and judge backend. Machine setup scripts live in ops/setup.
package ops
