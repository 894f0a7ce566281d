// Package dreamrank evaluates robot policies inside learned world models.
//
// The module is layered, and each top-level folder is one layer; a package
// imports only packages of its own layer or of layers below it
// (layers_test.go walks the import graph and fails on an upward import):
//
//  1. foundation/ and scenarios/: error codes, the by-name registry, the NATS
//     connection and embedded server, progress, checkpoints, tensors and
//     BLAS, zarr, video, the episode store, the simulated scenes (PushT, the
//     ground truth, and PushL, on a shared table and rasteriser),
//     statistics; scenarios and seeds.
//  2. worldmodel/, policy/, foresight/: the models, each behind a small
//     interface with backends registered by name.
//  3. evaluator/: judges, imagined rollouts, ranking, agreement, estimators,
//     benchmarks.
//  4. robots/: the fleet protocol, coordinator, robot agents and simulated
//     robots.
//  5. ops/: jobs, queue, server, workers, nightly runs, reports, web UI and
//     the composition root.
//  6. cmd/: the one binary, which only parses flags and calls packages.
package dreamrank
