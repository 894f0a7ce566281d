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
// With Config.Peer = PeerTorch, the same model also runs in PyTorch CPU
// (foundation/torchpeer runs the embedded script), the peer being chosen
// by the model's backend (peerKinds):
//
//   - builtin (torch_peer.py): the weights are exported by name
//     (latent.Model.Weights), the peer's network is checked against Go's
//     reference graph on the same step inputs (max |difference| within
//     NetTolerance) and a chunk of its full steps (proprio head, agent
//     planes, gate, network, rounding, block snap) against Go's Step
//     (FramesTolerance). Go's side is timed on Run's synthetic episodes.
//   - slots (torch_slots_peer.py): the model is exported as Step reads it
//     (slots.Model.Export: background, sprites, proprio head, effector
//     calibrations, contact fields, outlines, the passive objects' MLPs,
//     the room) and the whole step is computed vectorised over the batch
//     (batched matmuls, grid_sample for the sprites). The agreement case is
//     PushT scenes where the pusher pushes the block and backs off
//     (pushEpisodes), traced through Go's Step (slots.Model.Trace); the
//     peer steps every traced state at once and its poses must be within
//     PosesTolerance and its frames' bytes within SlotsFramesTolerance of
//     Go's. Both sides are then timed on those episodes (Go's best batch
//     is chosen on them too), since the model's cost depends on how often
//     objects are touched.
//
// Go and the peer are timed in alternating rounds at batch 1 and each
// side's best batch (medians, Report.Peer, ratio Go over torch). The peer
// runs on the same number of threads as Go's GOMAXPROCS, under
// torch.inference_mode, after warm-up calls, with the allocator
// torchpeer.Options.Alloc chooses. It does not depend on which Go
// inference path the model runs: it reads weights, and the agreement
// compares against the model's public Step.
// Numbers a run could not measure are -1 (JSON has no NaN).
package bench
