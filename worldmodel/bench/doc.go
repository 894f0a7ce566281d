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
// With Config.Peer = PeerTorch (the built-in model only), the same network
// also runs in PyTorch CPU (torch_peer.py, embedded; foundation/torchpeer
// runs it): the weights are exported by name (latent.Model.Weights), the
// peer's network is checked against Go's reference graph on the same step
// inputs (max |difference| within NetTolerance) and a chunk of its full
// steps (proprio head, agent planes, gate, network, rounding, block snap)
// against Go's Step (FramesTolerance); then Go and the peer are timed in
// alternating rounds at batch 1 and each side's best batch (medians,
// Report.Peer, ratio Go over torch). The peer runs on the same number of
// threads as Go's GOMAXPROCS, under torch.inference_mode, after warm-up
// calls, with the allocator torchpeer.Options.Alloc chooses. It does not
// depend on which Go inference path the model runs: it reads weights, and
// the agreement compares against the model's public Step.
// Numbers a run could not measure are -1 (JSON has no NaN).
package bench
