// Package evaluator turns imagined episodes into decisions: it runs policies
// inside a world model, judges each imagined episode, ranks policies with
// confidence intervals, measures agreement with real outcomes, and combines
// a few real episodes with many imagined ones into control-variate estimates.
//
// Subpackages, one concept each:
//   - judge: the Judge interface and registry, the PushT vision judge, and
//     measurement against simulator ground truth; judge/remote serves and
//     dials judges over NATS (a VLM judge plugs in there);
//   - ranking: per-arm success rates and mean max rewards with intervals,
//     P(arm i beats arm j), rank intervals (pure);
//   - agreement: Pearson with a bootstrap interval, MMRV, Spearman, Kendall,
//     paired episode agreement between predicted and real outcomes (pure);
//   - imagine: policies rolled out inside a world model from real first
//     frames, judged as frames are predicted; bench: the headline
//     agreement benchmark;
//   - estimate: the safety estimators and budget allocation (pure); safety:
//     the keep-out-zone evaluation loop; validation: repeated experiments
//     that check the estimators' coverage and variance reduction
//     (validation/simpool builds pools from simulator episodes).
package evaluator
