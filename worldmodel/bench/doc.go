// Package bench measures how fast a world model imagines, and how that
// compares with what the machine can do.
//
// Run measures steady-state imagined frames per second (frames of all
// episodes of a batch, per second of Rollout.Step time; Start is not timed)
// at batch 1 and at larger batches, each after warm-up calls, in rollouts
// restarted every MaxRolloutSteps steps like policy evaluations are. When
// the model implements worldmodel.FLOPsCounter, frames per second times
// FLOPs per step is the achieved GFLOP/s, reported beside the fp32 sgemm
// peak that OpenBLAS reaches on this machine in the same run (the best of
// the 512^2 and 2048^2 measurements, each taken before and after the
// model's, so a peak depressed by other work on a shared machine does not
// flatter the model) and the percentage of that peak.
// When the model implements worldmodel.Referencer, its reference
// implementation (the built-in model's gorgonia graph) is measured in the
// same run at batch 1, a few small batches and the model's best batch, as
// the baseline the speed-ups are relative to: the machine is shared, so
// only numbers taken together compare.
// Numbers a run could not measure are -1 (JSON has no NaN).
package bench
