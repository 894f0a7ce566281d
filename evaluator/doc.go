// Package evaluator turns imagined episodes into decisions: it runs policies
// inside a world model, judges each imagined episode, ranks policies with
// confidence intervals, measures agreement with real outcomes, and combines
// a few real episodes with many imagined ones into control-variate estimates.
package evaluator
