// Package latent is dreamrank's built-in action-conditioned video world
// model for PushT, written with gorgonia and registered as backend
// "builtin" (option "checkpoint").
//
// Each imagined step predicts the agent's next position with a linear head
// fitted by least squares (the pusher is a linear PD system), then a small
// U-Net with a quarter-resolution spatial latent reads the previous frame
// plus disc planes (agent before and after the step, action target) and
// predicts the change of the frame, kept only near the agent (the gate) and
// added to the previous frame. Static parts of the scene are thus copied
// exactly; predicted frames are rounded to bytes, the block's colours in
// the pixels the network changed are pushed towards the palette (Snap, so a
// blurred block does not stay blurred) and fed back.
//
// Train trains it on an episode.Store with multi-step unrolls (curriculum)
// and an optional fine-tuning stage (longer unrolls, extra weight on the
// block's pixels), and writes versioned, checksummed, resumable checkpoints
// (CHECKPOINT.md); Load opens one. IsHeldOut/HeldOut define the evaluation split.
package latent
