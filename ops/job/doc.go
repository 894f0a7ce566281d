// Package job describes evaluation jobs as values: the versioned job spec
// users submit (YAML or JSON), its validation against what this deployment
// knows (zoo arms, policy and world-model backends, scenarios), its expansion
// into rollout tasks, the job record the server keeps, and the aggregation
// of task outcomes into a ranking. Nothing here touches NATS or files; the
// server (ops/server) and workers (ops/worker) move these values around.
package job
