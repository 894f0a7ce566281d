// Package validation checks the safety estimators of evaluator/estimate by
// simulation: many repeated experiments, each drawing a small real budget and
// a large imagined budget from a pool of paired (world-model, real) outcomes
// whose true violation rate is known, and reports each estimator's empirical
// coverage, interval width and variance reduction against real-only at the
// same real budget.
//
// A Pool is the population: experiments sample from it with replacement, so
// its mean real outcome is the exact truth and its stratum proportions are
// the exact stratum weights. Any pool plugs in (Load reads one from JSON);
// Synthetic builds a documented synthetic one on the PushT safety scenario's
// critical variables until the world model and the simulator produce real
// pairs.
package validation
