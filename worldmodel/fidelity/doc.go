// Package fidelity measures how well a world model predicts real PushT
// episodes, next to the copy-last-frame baseline on the same windows.
//
// For each held-out episode, every Stride-th step s (from ContextLen-1 on,
// while s+32 is still a step of the episode) starts a window: the model gets
// the real observations ending at s as context, then the real actions
// s..s+31 in chunks, and its predictions after 1, 8 and 32 actions are
// compared with the real observations s+1, s+8 and s+32:
//
//   - psnr_k: PSNR in dB over all RGB values (peak 255), each frame's PSNR
//     capped at 100 dB (identical frames have infinite PSNR); the mean over
//     windows of the per-frame PSNR.
//   - ssim_k: SSIM with the standard Gaussian window (11x11, sigma 1.5,
//     K1 0.01, K2 0.03, L 255) computed per RGB channel, averaged over the
//     three channels and over the frame minus a 5-pixel border (where the
//     window would leave the frame), then over windows.
//   - agent_err_px_k: distance in table pixels between predicted and real
//     proprioception (the pusher position).
//   - block_err_px_k, block_err_rad_k: the block pose read from the
//     predicted frame (pusht.ReadFrame) against the episode's ground-truth
//     block pose (or, for episodes without ground truth, the pose read from
//     the real frame). Predicted frames whose block cannot be read are left
//     out of these means and counted in block_unreadable_k, the fraction of
//     compared frames that were unreadable; the mean is -1 when no frame
//     was readable.
//   - coverage_err_32: |coverage(read pose) - coverage(true pose)| at the
//     last horizon, the quantity a PushT judge actually scores.
//
// The "block" is the scene's pushed object: for episodes of the PushL scene
// (scenario pushl) the L, read by its colour (pushl.ReadFrame) and scored
// with pushl.Coverage; for all others PushT's T.
//
// All means are plain means over windows. A statistic with nothing to
// measure is -1 (JSON has no NaN). EvaluateWithBaseline adds the copy-last
// baseline's numbers and, per key, whether the model beats it (higher is
// better for PSNR and SSIM, lower for the rest; a -1 never beats).
//
// WriteRolloutVideo writes imagined-beside-real videos for people to judge.
package fidelity
