// Package estimate turns paired real and world-model outcomes into failure-rate
// estimates with honest confidence intervals (docs/references.md section 3).
//
// Every estimator is a pure function: outcomes in, Result out. Randomness
// (fold splits, bootstrap resamples) comes from Options.Seed, so the same
// inputs give the same result.
//
//   - RealOnly: the mean of the real outcomes, the baseline.
//   - ControlVariate: PPI++ with the world model's predicted outcome as the
//     control variate, mu = mean(f - b g) + b mean(g'), with the
//     variance-optimal b = k/(k+n) Cov(g,f)/Var(g) fitted by 2-fold
//     cross-fitting (the b applied to one half of the real episodes is fitted
//     on the other half, which removes the O(1/n) bias of in-sample fitting
//     and keeps the variance formula honest).
//   - Stratified: sparse control variates. Strata are a function of the
//     scenario's critical variables only (the Strata interface never sees an
//     outcome); within each stratum the coefficients of several world-model
//     features come from a cross-fitted multiple linear regression, and the
//     stratum estimates are combined with the caller's stratum weights.
//   - TwoPhase: a two-phase (double-sampling) stratified design and its
//     estimator. The imagined sample is phase one; it is cut into strata by
//     a score of what the world model predicted (ScoreStrata), and real
//     episodes are run on initial conditions of that sample chosen at random
//     within strata, Neyman-allocated in rounds, so they go where the
//     world model is least sure. The estimate Σ w_h ȳ_h is unbiased whatever
//     the world model; its quality only sets the width. Strata depend on
//     imagined outcomes, fixed before any real episode of the design runs,
//     never on real ones.
//
// Intervals: with at least SmallSample real episodes an estimator uses the
// CLT interval (estimate ± z·SE); below that a percentile bootstrap of the
// whole estimator (cross-fitting included), or the exact Clopper-Pearson
// interval for the real-only mean of binary outcomes. Result.Interval says
// which. Degenerate inputs (constant outcomes, constant features, tiny
// strata) have the explicit behaviour documented on each function.
//
// Allocate spends a real-episode budget over arms and strata, Neyman-style,
// from the residual variances observed so far; calling it once per round
// gives an adaptive design.
package estimate
