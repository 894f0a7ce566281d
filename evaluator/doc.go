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
//     paired episode agreement between predicted and real outcomes (pure).
package evaluator
