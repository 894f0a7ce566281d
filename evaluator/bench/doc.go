// Package bench is the headline agreement benchmark: it runs every arm of
// the policy zoo over the same PushT seeds in the simulator (ground truth)
// and inside a world model (imagined, judged from predicted frames), then
// reports per-arm true and predicted success with intervals, the agreement
// of the two rankings (Pearson with a bootstrap interval, MMRV, Spearman,
// Kendall, paired episode agreement), the judge's accuracy on real frames
// measured in the same run, and the wall time of each side.
package bench
