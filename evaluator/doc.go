// Package evaluator turns imagined episodes into decisions: it runs policies
// inside a world model, judges each imagined episode, ranks policies with
// confidence intervals, measures agreement with real outcomes, and combines
// a few real episodes with many imagined ones into control-variate estimates.
//
// Subpackages: estimate (the estimators and budget allocation, pure),
// safety (the keep-out-zone evaluation loop), validation (repeated
// experiments that check the estimators' coverage and variance reduction;
// validation/simpool builds pools from simulator episodes).
package evaluator
